"""Multi-trip routes: a truck may go back to its depot to reload within its shift (PyVRP
reload depots), so fewer trucks serve the same stops; the independent checker verifies each trip."""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_routing_solver import P, matrices_for, run

from plugins.delivery_routing.routing.feasibility import check_plan
from plugins.delivery_routing.routing.plan import InfeasibleProblem
from plugins.delivery_routing.routing.problem import (
    Depot,
    RoutingProblem,
    Shipment,
    Stop,
    TimeWindow,
    VehicleType,
)
from plugins.delivery_routing.routing.solver import diagnose


def county(max_reloads: int, trucks: int = 4) -> RoutingProblem:
    depot = Depot("D", "仓库", P(0, 0), TimeWindow(0, 10_000))
    stops = [Stop(f"S{i}", f"站{i}", P(100 * (i % 2 * 2 - 1), 100 * (i // 2 + 1)), 800, service_s=10) for i in range(4)]
    vt = VehicleType("5t", 1000, trucks, "D", fixed_cost=1000.0, cost_per_km=1.0, max_reloads=max_reloads)
    return RoutingProblem([depot], [vt], stops)


def test_reloads_let_one_truck_serve_what_needed_four() -> None:
    single = run(county(0))
    assert len(single.routes) == 4 and all(r.trips == 1 for r in single.routes)
    multi = run(county(3))
    assert len(multi.routes) == 1  # fixed cost 1000 per truck: one truck, four trips
    route = multi.routes[0]
    assert route.trips == 4 and [v.kind for v in route.visits].count("reload") == 3
    assert route.start_load_kg == 800 and route.max_load_kg <= 1000
    reloads = [v for v in route.visits if v.kind == "reload"]
    assert all(v.ref == "D" and v.amount_kg == 800 for v in reloads)
    assert multi.cost < single.cost
    assert check_plan(county(3), multi, matrices_for(county(3))) == []


def test_checker_rejects_more_reloads_than_allowed_and_wrong_trip_loads() -> None:
    problem = county(3)
    plan = run(problem)
    limited = county(1)
    codes = {v.code for v in check_plan(limited, plan, matrices_for(limited))}
    assert "too_many_reloads" in codes
    first = next(v for v in plan.routes[0].visits if v.kind == "reload")
    first.amount_kg = first.load_after_kg = 1000
    assert "load_mismatch" in {v.code for v in check_plan(problem, plan, matrices_for(problem))}


def test_reloads_end_within_the_shift_and_diagnosis_counts_trips() -> None:
    # The shift only leaves time for two trips: with 3 reloads allowed but 4 × 800 kg to carry and
    # one truck, the fleet still cannot do it; diagnose() counts at most 4 trips of 1000 kg.
    short = county(3, trucks=1)
    short = replace(short, vehicle_types=[replace(short.vehicle_types[0], shift=TimeWindow(0, 900))])
    with pytest.raises(InfeasibleProblem):
        run(short)
    too_much = county(1, trucks=1)  # 2 trips × 1000 kg < 3200 kg
    codes = {r.code for r in diagnose(too_much, matrices_for(too_much))}
    assert "fleet_capacity_exceeded" in codes
    assert "fleet_capacity_exceeded" not in {r.code for r in diagnose(county(3, 1), matrices_for(county(3, 1)))}


def test_produce_shipments_are_picked_and_dropped_within_one_trip() -> None:
    base = county(3, trucks=1)
    produce = Shipment("P1", "菜", origin_depot="D", destination=P(0, 300), weight_kg=300,
                       delivery_window=TimeWindow(0, 10_000), pickup_service_s=5, delivery_service_s=5)
    problem = replace(base, shipments=[produce])
    plan = run(problem, seconds=1.0)
    assert check_plan(problem, plan, matrices_for(problem)) == []
    assert plan.routes[0].trips >= 4


# --- Django layer: vehicles with reloads, saved trips, pages, route sheet, GraphQL -------------


@pytest.mark.django_db
def test_a_truck_with_reloads_serves_both_stations_in_two_trips(operator, gql, loads_plugin, warehouse, geo_stations, trucks):
    from django.test import Client
    from routing_fixtures import DAY, po_load

    from plugins.delivery_routing import services
    from plugins.delivery_routing.models import DeliveryPlan, PlanVisit

    a, b = geo_stations
    a.address = "双阳区太平镇太平村 1 号"
    a.save()
    loads_plugin.extend(
        [po_load(warehouse, a, 4000, "routing_test_loads:po:1"), po_load(warehouse, b, 3000, "routing_test_loads:po:2")]
    )
    truck = trucks[0]
    one_trip = services.plan_deliveries(services.create_plan(operator, DAY, vehicle_ids=[truck.pk], time_limit_s=0.5))
    assert one_trip.status == DeliveryPlan.Status.INFEASIBLE  # 7 t on one 5 t truck, one trip
    assert "fleet_capacity_exceeded" in {p["code"] for p in one_trip.problems}

    truck.max_reloads = 1
    truck.save()
    plan = services.plan_deliveries(services.create_plan(operator, DAY, vehicle_ids=[truck.pk], time_limit_s=0.5))
    assert plan.status == DeliveryPlan.Status.DRAFT, plan.problems
    route = plan.routes.get()
    kinds = list(route.visits.order_by("sequence").values_list("kind", "trip"))
    assert kinds == [("delivery", 1), ("reload", 2), ("delivery", 2)]
    reload = route.visits.get(kind=PlanVisit.Kind.RELOAD)
    assert reload.stop is None and reload.place == warehouse.name and reload.amount_kg in (3000, 4000)
    assert plan.stops.filter(eta_s__isnull=True).count() == 0

    client = Client()
    client.force_login(operator)
    page = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert "回仓装货" in page and "2 趟" in page
    context = services.route_sheet_context(route)
    assert context["trips"] == 2 and context["total_kg"] == 7000
    assert any(row["address"] == a.address for row in context["rows"])
    pdf = client.get(f"/p/routing/plan/{plan.pk}/route/{route.pk}/sheet.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    body = gql(operator)(
        f'{{ deliveryPlan(id: "{plan.pk}") {{ routes {{ trips visits {{ kind trip place stop {{ id }} }} }} }} }}'
    )
    gql_route = body["data"]["deliveryPlan"]["routes"][0]
    assert gql_route["trips"] == 2
    assert [v["kind"] for v in gql_route["visits"]].count("reload") == 1
    assert next(v for v in gql_route["visits"] if v["kind"] == "reload")["stop"] is None

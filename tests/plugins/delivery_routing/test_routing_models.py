"""Planning service end to end on the real database: loads from a plugin, solve, lock/move,
re-optimise, publish (SMS + route sheets)."""

from __future__ import annotations

from datetime import time
from io import BytesIO

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from pypdf import PdfReader
from routing_fixtures import DAY, FAST, po_load

from marketplace.core.models import Notification
from plugins.delivery_routing import services
from plugins.delivery_routing.models import DeliveryPlan, Depot, PlanStop, PlanVisit
from plugins.delivery_routing.routing.distances import build_matrices, cache_key
from plugins.delivery_routing.routing.feasibility import check_plan
from plugins.delivery_routing.routing.problem import expand
from plugins.delivery_routing.tasks import solve_plan

pytestmark = pytest.mark.django_db


def make_plan(user, **kw) -> DeliveryPlan:
    plan = services.create_plan(user, DAY, time_limit_s=FAST, **kw)
    return services.plan_deliveries(plan)


def test_loads_from_plugin_become_stops_and_a_checked_plan(operator, standard_loads, trucks, depot, geo_stations):
    a, b = geo_stations
    plan = make_plan(operator)
    assert plan.status == DeliveryPlan.Status.DRAFT, plan.problems
    stops = {s.ref: s for s in plan.stops.all()}
    assert set(stops) == {"routing_test_loads:po:1", "routing_test_loads:po:2", "routing_test_loads:produce:1"}
    po = stops["routing_test_loads:po:1"]
    # warehouse with its own trucks → delivery from the depot, window = station opening hours
    assert po.kind == PlanStop.Kind.DELIVERY and po.depot == depot and po.station == a
    assert (po.window_start_s, po.window_end_s) == (8 * 3600, 17 * 3600)
    assert po.lines == [["复合肥 15-15-15 40kg", 30]]
    assert stops["routing_test_loads:po:2"].window == "09:00–16:00"
    # produce from a collection point → pickup-and-delivery pair, depot created from the request
    produce = stops["routing_test_loads:produce:1"]
    assert produce.kind == PlanStop.Kind.SHIPMENT
    assert produce.depot.kind == Depot.Kind.COLLECTION_POINT and produce.depot.external_ref == "collection_point:7"
    for stop in stops.values():
        assert stop.eta_s is not None and stop.window_start_s <= stop.eta_s <= stop.window_end_s
    pickup = PlanVisit.objects.get(stop=produce, kind="pickup")
    dropoff = PlanVisit.objects.get(stop=produce, kind="dropoff")
    assert pickup.route_id == dropoff.route_id and pickup.sequence < dropoff.sequence
    # the saved plan is what the independent checker accepts
    problem, _ = services.build_problem(plan)
    assert plan.routes.count() >= 1
    assert sum(r.start_load_kg for r in plan.routes.all()) == 2000
    assert plan.cost is not None and plan.distance_m > 0


def test_matrix_is_cached_in_django_cache(operator, standard_loads, trucks, settings):
    cache.clear()
    plan = make_plan(operator)
    problem, _ = services.build_problem(plan)
    key = cache_key(expand(problem).points, services.matrix_provider())
    assert cache.get(key) is not None
    settings.ROUTING_DETOUR_FACTOR = 2.0  # another factor → another key, longer distances
    provider = services.matrix_provider()
    assert "detour=2.0" in provider.fingerprint()
    assert cache.get(cache_key(expand(problem).points, provider)) is None


def test_osrm_without_url_is_a_configuration_error(settings):
    settings.ROUTING_MATRIX_PROVIDER = "osrm"
    settings.ROUTING_MATRIX_URL = ""
    with pytest.raises(ValueError, match="ROUTING_MATRIX_URL"):
        services.matrix_provider()
    settings.ROUTING_MATRIX_URL = "http://127.0.0.1:5000"
    assert services.matrix_provider().fingerprint().startswith("osrm:")


def test_without_the_loads_plugin_only_direct_stops_are_planned(operator, trucks, depot, geo_stations):
    a, _ = geo_stations
    plan = services.create_plan(
        operator, DAY, time_limit_s=FAST, stops=[services.StopInput(depot=depot, station=a, weight_kg=300)]
    )
    assert [s.source for s in plan.stops.all()] == ["manual"]
    plan = services.request_solve(plan, operator)  # queues the Celery task (eager in tests)
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_status == DeliveryPlan.Job.DONE
    assert solve_plan.delay(plan.pk).get() == DeliveryPlan.Status.DRAFT  # redelivered: not re-run
    assert plan.stops.get().eta_s is not None


def test_unreachable_window_is_explained_and_no_partial_plan_is_saved(
    operator, loads_plugin, warehouse, trucks, geo_stations
):
    a, b = geo_stations
    b.opens_at, b.closes_at = time(5, 0), time(5, 30)  # the warehouse only opens at 07:00
    b.save()
    loads_plugin.extend([po_load(warehouse, a, 500, "po:a"), po_load(warehouse, b, 500, "po:b")])
    plan = make_plan(operator)
    assert plan.status == DeliveryPlan.Status.INFEASIBLE
    assert plan.routes.count() == 0 and not plan.stops.exclude(eta_s=None).exists()
    bad = plan.stops.get(ref="po:b")
    codes = {(p["stop"], p["code"]) for p in plan.problems}
    assert (bad.pk, "time_window_unreachable") in codes
    assert any(b.name in p["message"] for p in plan.problems)
    assert not any(p["stop"] == plan.stops.get(ref="po:a").pk for p in plan.problems)


def test_station_closed_on_plan_day_is_explained(operator, loads_plugin, warehouse, trucks, geo_stations):
    a, _ = geo_stations
    a.open_weekdays = "13567"  # not on Tuesdays
    a.save()
    loads_plugin.append(po_load(warehouse, a, 500, "po:a"))
    plan = make_plan(operator)
    assert plan.status == DeliveryPlan.Status.INFEASIBLE
    assert [p["code"] for p in plan.problems] == ["station_closed"]


def test_published_loads_are_not_planned_twice(operator, standard_loads, trucks):
    first = make_plan(operator)
    services.publish_plan(first, operator)
    second = services.create_plan(operator, DAY, time_limit_s=FAST)
    assert second.stops.count() == 0


def test_move_locks_the_stop_and_reoptimise_keeps_it(operator, standard_loads, trucks):
    plan = make_plan(operator)
    stop = plan.stops.get(ref="routing_test_loads:po:1")
    current = stop.route.vehicle
    other = next(t for t in trucks if t != current)
    services.move_stop(stop, other)
    plan.refresh_from_db()
    stop.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.DRAFT
    assert stop.locked_vehicle == other and stop.route.vehicle == other
    for seed in (2, 3):
        services.plan_deliveries(plan, seed=seed)
        stop.refresh_from_db()
        assert stop.route.vehicle == other
        assert set(PlanVisit.objects.filter(stop=stop).values_list("route__vehicle", flat=True)) == {other.pk}
    # lock to the current vehicle, unlock again
    services.lock_stop(stop, False)
    stop.refresh_from_db()
    assert stop.locked_vehicle is None
    b_stop = plan.stops.get(ref="routing_test_loads:po:2")
    services.lock_stop(b_stop, True)
    b_stop.refresh_from_db()
    assert b_stop.locked_vehicle == b_stop.route.vehicle


def test_infeasible_move_is_refused_and_changes_nothing(operator, standard_loads, trucks, short_shift_truck):
    plan = make_plan(operator)
    assert plan.status == DeliveryPlan.Status.DRAFT
    stop = plan.stops.get(ref="routing_test_loads:po:1")
    before = list(PlanVisit.objects.filter(route__plan=plan).values_list("pk", flat=True))
    with pytest.raises(services.PlanInfeasible) as err:
        services.move_stop(stop, short_shift_truck)
    assert any(p["stop"] == stop.pk for p in err.value.problems)
    stop.refresh_from_db()
    plan.refresh_from_db()
    assert stop.locked_vehicle is None and plan.status == DeliveryPlan.Status.DRAFT
    assert list(PlanVisit.objects.filter(route__plan=plan).values_list("pk", flat=True)) == before


def test_move_validation(operator, standard_loads, trucks, depot):
    from plugins.delivery_routing.models import Vehicle

    plan = make_plan(operator)
    small = Vehicle.objects.create(name="小车", home_depot=depot, capacity_kg=500)
    stop = plan.stops.get(ref="routing_test_loads:po:1")
    with pytest.raises(ValidationError):  # not in the plan
        services.move_stop(stop, small)
    plan.vehicles.add(small)
    with pytest.raises(ValidationError, match="载重"):
        services.move_stop(stop, small)


def test_publish_sends_eta_sms_once_and_route_sheets(operator, standard_loads, trucks, geo_stations):
    a, b = geo_stations
    plan = make_plan(operator)
    services.publish_plan(plan, operator)
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.PUBLISHED and plan.published_by == operator
    stop_a = plan.stops.get(station=a)
    note = Notification.objects.get(recipient=a.phone)
    assert stop_a.eta in note.text and "1200 kg" in note.text
    assert note.dedupe_key == f"routing:plan:{plan.pk}:stop:{stop_a.pk}:eta"
    assert Notification.objects.filter(recipient=b.phone).count() == 1
    drivers = Notification.objects.filter(recipient__in=[t.driver_phone for t in trucks])
    assert drivers.count() == plan.routes.count() and "路线单" in drivers.first().text
    with pytest.raises(ValidationError):
        services.publish_plan(plan, operator)
    with pytest.raises(ValidationError):
        services.plan_deliveries(plan)
    assert Notification.objects.filter(recipient__in=[a.phone, b.phone]).count() == 2

    route = plan.routes.first()
    assert services.route_from_token(services.route_sheet_token(route)) == route
    assert services.route_from_token("garbage") is None
    pdf = services.route_sheet_pdf(route)
    assert pdf.startswith(b"%PDF")
    text = "".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())  # table cells wrap
    assert "配送路线单" in text and "签收" in text and route.vehicle.plate in text
    for visit in route.visits.all():
        assert visit.place in text


def test_supplier_dispatches_only_its_own_partner(
    supplier_user, other_dispatcher, standard_loads, trucks, staff_a
):
    plan = services.create_plan(supplier_user, DAY, time_limit_s=FAST)
    assert plan.partner_id is not None
    # the collection point belongs to nobody → not in a supplier's plan
    assert set(plan.stops.values_list("ref", flat=True)) == {"routing_test_loads:po:1", "routing_test_loads:po:2"}
    with pytest.raises(PermissionDenied):
        services.create_plan(staff_a, DAY)
    with pytest.raises(ValidationError):  # no vehicles of its own
        services.create_plan(other_dispatcher, DAY)


def test_checker_guards_the_saved_plan(operator, standard_loads, trucks):
    plan = make_plan(operator)
    problem, _ = services.build_problem(plan)
    matrices = build_matrices(expand(problem).points, services.matrix_provider())
    from plugins.delivery_routing.routing.solver import solve

    core_plan = solve(problem, time_limit_s=FAST, seed=1, matrices=matrices)
    assert check_plan(problem, core_plan, matrices) == []
    core_plan.routes[0].visits.pop()  # drop a visit → the checker notices the missed stop
    assert {v.code for v in check_plan(problem, core_plan, matrices)} & {"not_served", "wrong_amount", "load_mismatch"}

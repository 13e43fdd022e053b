"""Solver tests on small planar instances with hand-checkable answers."""

from __future__ import annotations

import pytest

from plugins.delivery_routing.routing.distances import EuclideanProvider, Matrices, build_matrices
from plugins.delivery_routing.routing.plan import InfeasibleProblem, Plan
from plugins.delivery_routing.routing.problem import (
    Depot,
    Point,
    RoutingProblem,
    Shipment,
    Stop,
    TimeWindow,
    VehicleType,
    expand,
    split_amount,
)
from plugins.delivery_routing.routing.solver import diagnose, solve

# Planar units: 1 unit = 1 metre, speed 1 m/s → duration (s) == distance (m).
EUCLID = EuclideanProvider(speed=1.0)
SECONDS = 0.5


def P(x: float, y: float) -> Point:
    return Point.xy(x, y)


def matrices_for(problem: RoutingProblem) -> Matrices:
    return build_matrices(expand(problem).points, EUCLID)


def run(problem: RoutingProblem, seconds: float = SECONDS, seed: int = 1) -> Plan:
    return solve(problem, time_limit_s=seconds, seed=seed, provider=EUCLID)


def test_known_optimum_two_routes_on_a_line() -> None:
    # Stops at ±10 and ±20 on the y axis, truck capacity 2 → optimum: two out-and-back
    # routes of length 40 each (total 80) with one truck per side.
    depot = Depot("D", "depot", P(0, 0))
    stops = [Stop(f"S{y}", f"s{y}", P(0, y), 1) for y in (10, 20, -10, -20)]
    vt = VehicleType("t", capacity_kg=2, num_available=4, home_depot="D", cost_per_km=1000.0)
    plan = run(RoutingProblem([depot], [vt], stops))
    assert plan.distance_m == 80
    assert len(plan.routes) == 2
    assert plan.cost == pytest.approx(80.0)  # 1000 yuan/km × 0.08 km
    sides = sorted(sorted(v.ref for v in r.visits) for r in plan.routes)
    assert sides == [["S-10", "S-20"], ["S10", "S20"]]


def test_known_optimum_square_tour() -> None:
    depot = Depot("D", "depot", P(0, 0))
    stops = [Stop("A", "a", P(0, 100), 1), Stop("B", "b", P(100, 100), 1), Stop("C", "c", P(100, 0), 1)]
    vt = VehicleType("t", 10, 2, "D", fixed_cost=50.0, cost_per_km=1.0)
    plan = run(RoutingProblem([depot], [vt], stops))
    assert len(plan.routes) == 1  # fixed cost makes a single route optimal
    assert plan.distance_m == 400
    assert [v.ref for v in plan.routes[0].visits] in (["A", "B", "C"], ["C", "B", "A"])


def test_time_windows_force_order_and_are_respected() -> None:
    depot = Depot("D", "depot", P(0, 0), TimeWindow(0, 10_000))
    # Geometry alone prefers A first (A is nearer); B's window closes too early for that.
    stops = [
        Stop("A", "a", P(10, 0), 1, TimeWindow(300, 400), service_s=20),
        Stop("B", "b", P(100, 0), 1, TimeWindow(0, 150), service_s=30),
    ]
    vt = VehicleType("t", 10, 1, "D")
    problem = RoutingProblem([depot], [vt], stops)
    plan = run(problem)
    (route,) = plan.routes
    assert [v.ref for v in route.visits] == ["B", "A"]
    windows = {s.id: s.time_window for s in stops}
    for v in route.visits:
        assert windows[v.ref].start <= v.start_s <= windows[v.ref].end
        assert v.arrival_s <= v.start_s
        assert v.departure_s == v.start_s + v.service_s
    assert route.visits[1].start_s == 300  # waits for A to open


def test_split_loads_are_merged_per_original_stop() -> None:
    assert split_amount(25, 10) == [10, 10, 5]
    assert split_amount(20, 10) == [10, 10]
    assert split_amount(7, 10) == [7]
    depot = Depot("D", "depot", P(0, 0))
    stops = [Stop("BIG", "big", P(50, 0), 25, service_s=60), Stop("S", "small", P(55, 5), 4)]
    vt = VehicleType("t", 10, 4, "D", fixed_cost=10.0)
    problem = RoutingProblem([depot], [vt], stops)
    assert [t.amount_kg for t in expand(problem).deliveries if t.ref == "BIG"] == [10, 10, 5]
    plan = run(problem)
    assert plan.delivered_by_stop() == {"BIG": 25, "S": 4}
    assert len(plan.routes) == 3  # 29 kg needs at least 3 trucks of 10 kg
    assert all(r.max_load_kg <= 10 for r in plan.routes)
    visits = plan.visits_by_stop()["BIG"]
    assert sum(kg for _, _, kg in visits) == 25
    assert len({ri for ri, _, _ in visits}) == len(visits)  # one merged visit per route


def test_two_depots_two_vehicle_types_and_source_depot() -> None:
    west = Depot("W", "west warehouse", P(0, 0))
    east = Depot("E", "east warehouse", P(1000, 0))
    stops = [
        Stop("w1", "w1", P(10, 10), 400),
        Stop("w2", "w2", P(-10, 10), 400),
        Stop("e1", "e1", P(990, 10), 900),
        Stop("e2", "e2", P(1010, 10), 900),
        # Near the west depot, but its goods are only in the east warehouse.
        Stop("tied", "tied", P(20, 0), 100, source_depot="E"),
    ]
    fleet = [
        VehicleType("small@W", 1000, 2, "W", fixed_cost=10.0, cost_per_km=1.0),
        VehicleType("big@E", 2000, 2, "E", fixed_cost=20.0, cost_per_km=2.0),
    ]
    problem = RoutingProblem([west, east], fleet, stops)
    plan = run(problem, seconds=1.0)
    where = {v.ref: r.depot_id for r in plan.routes for v in r.visits}
    assert where == {"w1": "W", "w2": "W", "e1": "E", "e2": "E", "tied": "E"}
    assert {r.vehicle_type for r in plan.routes} == {"small@W", "big@E"}
    for r in plan.routes:
        assert r.vehicle_type.endswith("@" + r.depot_id)


def test_produce_shipment_pickup_precedes_delivery() -> None:
    warehouse = Depot("W", "warehouse", P(0, 0))
    coop = Depot("C", "collection point", P(0, 200))
    problem = RoutingProblem(
        [warehouse, coop],
        [VehicleType("t", 1000, 2, "W")],
        [Stop("S", "station", P(0, 100), 300)],
        [Shipment("corn", "corn", "C", P(0, 400), 800, delivery_window=TimeWindow(0, 5000))],
    )
    plan = run(problem)
    seq = [(v.kind, v.ref) for r in plan.routes for v in r.visits]
    assert ("pickup", "corn") in seq and ("dropoff", "corn") in seq
    (route,) = [r for r in plan.routes if any(v.ref == "corn" for v in r.visits)]
    kinds = [v.kind for v in route.visits if v.ref == "corn"]
    assert kinds == ["pickup", "dropoff"]
    pickup = next(v for v in route.visits if v.kind == "pickup")
    assert pickup.loc == expand(problem).depot_loc["C"]
    assert max(v.load_after_kg for v in route.visits) <= 1000


def test_diagnose_names_unreachable_stop() -> None:
    depot = Depot("D", "depot", P(0, 0), TimeWindow(0, 100_000))
    stops = [
        Stop("ok", "fine", P(100, 0), 1, TimeWindow(0, 10_000)),
        Stop("far", "远站", P(5000, 0), 1, TimeWindow(0, 1000)),  # 5000 s away, window closes at 1000
    ]
    problem = RoutingProblem([depot], [VehicleType("t", 10, 2, "D", shift=TimeWindow(0, 100_000))], stops)
    reasons = diagnose(problem, matrices_for(problem))
    assert [(r.stop_id, r.code) for r in reasons] == [("far", "time_window_unreachable")]
    assert "远站" in reasons[0].message
    with pytest.raises(InfeasibleProblem) as err:
        run(problem)
    assert err.value.stop_ids() == {"far"}


def test_diagnose_cannot_return_and_max_duration() -> None:
    depot = Depot("D", "depot", P(0, 0), TimeWindow(0, 3000))
    stops = [
        Stop("ok", "ok", P(1000, 0), 1, TimeWindow(0, 1500), service_s=300),  # 2300 s round trip
        Stop("long", "long", P(1400, 0), 1, TimeWindow(0, 2000)),  # back at 2800 but 2800 s > 2500 s
        Stop("noret", "noret", P(0, 1600), 1),  # back at 3200 > depot closing 3000
    ]
    vt = VehicleType("t", 10, 3, "D", max_route_duration_s=2500)
    problem = RoutingProblem([depot], [vt], stops)
    codes = {r.stop_id: r.code for r in diagnose(problem, matrices_for(problem))}
    assert codes == {"long": "exceeds_max_route_duration", "noret": "cannot_return_in_shift"}


def test_diagnose_fleet_capacity_and_source_depot_without_trucks() -> None:
    a, b = Depot("A", "仓库A", P(0, 0)), Depot("B", "仓库B", P(100, 0))
    stops = [
        Stop("s1", "s1", P(10, 0), 15_000),
        Stop("s2", "s2", P(20, 0), 6_000),
        Stop("s3", "s3", P(30, 0), 500, source_depot="B"),
    ]
    problem = RoutingProblem([a, b], [VehicleType("5t", 5000, 3, "A")], stops)
    reasons = diagnose(problem, matrices_for(problem))
    pairs = {(r.stop_id, r.code) for r in reasons}
    assert ("s3", "no_vehicle_for_source_depot") in pairs
    assert (None, "fleet_capacity_exceeded") in pairs  # 21.5 t > 15 t
    # s2 alone fits the fleet, s1 (15 t) equals it exactly → only the total is flagged
    assert ("s1", "load_exceeds_fleet") not in pairs
    with pytest.raises(InfeasibleProblem) as err:
        run(problem)
    assert "s3" in err.value.stop_ids()
    assert "fleet_capacity_exceeded" in err.value.codes()


def test_solver_level_infeasibility_is_explained_not_partial() -> None:
    # Each stop is reachable on its own, but one truck cannot serve both windows.
    depot = Depot("D", "depot", P(0, 0))
    stops = [
        Stop("x", "x", P(500, 0), 1, TimeWindow(500, 600)),
        Stop("y", "y", P(-500, 0), 1, TimeWindow(500, 600)),
    ]
    problem = RoutingProblem([depot], [VehicleType("t", 10, 1, "D")], stops)
    assert diagnose(problem, matrices_for(problem)) == []
    with pytest.raises(InfeasibleProblem) as err:
        run(problem)
    assert err.value.stop_ids() & {"x", "y"}
    assert err.value.codes() & {"not_planned", "time_window_conflict"}


def test_invalid_input_is_reported() -> None:
    problem = RoutingProblem(
        [Depot("D", "d", P(0, 0))], [VehicleType("t", 10, 1, "NOPE")], [Stop("s", "s", P(1, 1), 1)]
    )
    with pytest.raises(InfeasibleProblem) as err:
        run(problem)
    assert err.value.codes() == {"invalid_input"}

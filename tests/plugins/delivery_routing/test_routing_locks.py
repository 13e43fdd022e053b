"""Routing core: dispatcher locks (a stop or shipment may only be served by given vehicle types)."""

from __future__ import annotations

from plugins.delivery_routing.routing.distances import EuclideanProvider, build_matrices
from plugins.delivery_routing.routing.feasibility import check_plan
from plugins.delivery_routing.routing.plan import InfeasibleProblem
from plugins.delivery_routing.routing.problem import (
    Depot,
    Point,
    RoutingProblem,
    Shipment,
    Stop,
    TimeWindow,
    VehicleType,
    expand,
)
from plugins.delivery_routing.routing.solver import solve

EUCLID = EuclideanProvider(speed=1.0)


def problem(lock_a=None, lock_ship=None, cap_b=10) -> RoutingProblem:
    depot = Depot("D", "depot", Point.xy(0, 0))
    north = VehicleType("north", 10, 1, "D", fixed_cost=1.0)
    south = VehicleType("south", cap_b, 1, "D", fixed_cost=1.0)
    stops = [
        Stop("A", "a", Point.xy(0, 100), 4, vehicle_types=lock_a),
        Stop("B", "b", Point.xy(0, 110), 4),
        Stop("C", "c", Point.xy(0, -100), 4),
    ]
    ships = [
        Shipment("P", "p", "D", Point.xy(10, -110), 1, delivery_window=TimeWindow(0, 10_000), vehicle_types=lock_ship)
    ]
    return RoutingProblem([depot], [north, south], stops, ships)


def vehicle_of(plan, ref: str) -> str:
    return next(r.vehicle_type for r in plan.routes for v in r.visits if v.ref == ref)


def test_lock_moves_a_stop_to_the_far_vehicle_and_the_checker_verifies_it() -> None:
    free = solve(problem(), time_limit_s=0.3, seed=1, provider=EUCLID)
    assert vehicle_of(free, "A") == vehicle_of(free, "B")  # geography keeps A with B
    target = "south" if vehicle_of(free, "A") == "north" else "north"
    locked_problem = problem(lock_a=frozenset({target}), lock_ship=frozenset({"north"}))
    plan = solve(locked_problem, time_limit_s=0.3, seed=1, provider=EUCLID)
    assert vehicle_of(plan, "A") == target and vehicle_of(plan, "P") == "north"
    # the checker refuses the unlocked plan for the locked problem (A on the wrong truck)
    matrices = build_matrices(expand(locked_problem).points, EUCLID)
    assert check_plan(locked_problem, plan, matrices) == []
    violations = check_plan(locked_problem, free, matrices)
    assert any(v.code == "wrong_vehicle" and v.ref == "A" for v in violations)

def test_impossible_locks_are_explained() -> None:
    p = problem(lock_a=frozenset({"south"}), cap_b=3)  # south carries 3 kg, A needs 4 kg
    try:
        solve(p, time_limit_s=0.3, seed=1, provider=EUCLID)
    except InfeasibleProblem as exc:
        assert "A" in exc.stop_ids()
        assert exc.codes() & {"load_exceeds_fleet", "locked_capacity_exceeded"}
    else:  # pragma: no cover - a plan here would be a bug
        raise AssertionError("a 4 kg stop locked to a 3 kg truck must be infeasible")
    p = problem(lock_a=frozenset({"ghost"}))
    try:
        solve(p, time_limit_s=0.3, seed=1, provider=EUCLID)
    except InfeasibleProblem as exc:
        assert exc.codes() == {"invalid_input"}
    else:  # pragma: no cover
        raise AssertionError("unknown locked vehicle type must be rejected")

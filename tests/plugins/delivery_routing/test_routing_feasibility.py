"""The independent checker must accept solver plans and catch broken ones."""

from __future__ import annotations

import copy

import pytest

from plugins.delivery_routing.routing.distances import EuclideanProvider, Matrices, build_matrices
from plugins.delivery_routing.routing.feasibility import check_plan
from plugins.delivery_routing.routing.plan import Plan
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


def P(x: float, y: float) -> Point:
    return Point.xy(x, y)


@pytest.fixture(scope="module")
def solved() -> tuple[RoutingProblem, Plan, Matrices]:
    depot = Depot("D", "depot", P(0, 0), TimeWindow(0, 20_000))
    coop = Depot("C", "coop", P(0, -300), TimeWindow(0, 20_000))
    stops = [
        Stop("a", "a", P(100, 0), 6, TimeWindow(0, 5000), service_s=60),
        Stop("b", "b", P(100, 100), 5, TimeWindow(0, 5000), service_s=60),
        Stop("c", "c", P(-100, 100), 7, TimeWindow(0, 5000), service_s=60),
        Stop("d", "d", P(-100, -50), 4, TimeWindow(0, 5000), service_s=60),
    ]
    shipment = Shipment("p", "produce", "C", P(300, -300), 3, delivery_window=TimeWindow(0, 8000))
    vt = VehicleType("t", 12, 3, "D", fixed_cost=5.0, cost_per_km=2.0)
    problem = RoutingProblem([depot, coop], [vt], stops, [shipment])
    matrices = build_matrices(expand(problem).points, EUCLID)
    plan = solve(problem, time_limit_s=0.5, seed=3, matrices=matrices)
    return problem, plan, matrices


def codes(problem: RoutingProblem, plan: Plan, matrices: Matrices) -> set[str]:
    return {v.code for v in check_plan(problem, plan, matrices)}


def test_solver_plan_is_accepted(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    assert check_plan(problem, plan, matrices) == []
    assert sum(len(r.visits) for r in plan.routes) >= 6


def test_missed_stop_is_caught(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    broken = copy.deepcopy(plan)
    route = next(r for r in broken.routes if any(v.kind == "delivery" for v in r.visits))
    victim = next(v for v in route.visits if v.kind == "delivery")
    route.visits.remove(victim)
    violations = check_plan(problem, broken, matrices)
    assert any(v.code == "not_served" and v.ref == victim.ref for v in violations)


def test_over_capacity_is_caught(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    broken = copy.deepcopy(plan)
    # Put every delivery on the first route (38 kg ≫ 12 kg capacity).
    target = broken.routes[0]
    for r in broken.routes[1:]:
        target.visits.extend(v for v in r.visits if v.kind == "delivery")
        r.visits[:] = [v for v in r.visits if v.kind != "delivery"]
    target.start_load_kg = sum(v.amount_kg for v in target.visits if v.kind == "delivery")
    assert "over_capacity" in codes(problem, broken, matrices)
    # The same plan against a fleet of smaller trucks is also over capacity.
    small = copy.deepcopy(problem)
    small.vehicle_types = [VehicleType("t", 5, 3, "D", fixed_cost=5.0, cost_per_km=2.0)]
    assert "over_capacity" in codes(small, plan, matrices)


def test_late_arrival_is_caught(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    broken = copy.deepcopy(plan)
    route = next(r for r in broken.routes if any(v.kind == "delivery" for v in r.visits))
    route.start_s += 6000  # leave the depot after every station window closed
    found = codes(problem, broken, matrices)
    assert "late_arrival" in found
    # Narrowing a stop's window below the planned arrival is caught too.
    served = next(v for r in plan.routes for v in r.visits if v.kind == "delivery")
    tight = copy.deepcopy(problem)
    tight.stops = [
        Stop(s.id, s.name, s.location, s.demand_kg, TimeWindow(0, served.start_s - 1), s.service_s)
        if s.id == served.ref
        else s
        for s in problem.stops
    ]
    violations = check_plan(tight, plan, matrices)
    assert any(v.code == "late_arrival" and v.ref == served.ref for v in violations)


def test_delivery_before_pickup_is_caught(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    broken = copy.deepcopy(plan)
    route = next(r for r in broken.routes if any(v.ref == "p" for v in r.visits))
    i = next(k for k, v in enumerate(route.visits) if v.kind == "pickup")
    j = next(k for k, v in enumerate(route.visits) if v.kind == "dropoff")
    route.visits[i], route.visits[j] = route.visits[j], route.visits[i]
    assert "delivery_before_pickup" in codes(problem, broken, matrices)


def test_wrong_depot_duplicate_and_distance_tampering(solved: tuple[RoutingProblem, Plan, Matrices]) -> None:
    problem, plan, matrices = solved
    broken = copy.deepcopy(plan)
    broken.routes[0].depot_id = "C"  # truck type is based at D
    broken.routes[0].distance_m -= 1
    dup = copy.deepcopy(plan)
    first = next(v for r in dup.routes for v in r.visits if v.kind == "delivery")
    dup.routes[0].visits.append(copy.deepcopy(first))
    found = codes(problem, broken, matrices)
    assert {"wrong_depot", "distance_mismatch"} <= found
    assert "wrong_amount" in codes(problem, dup, matrices)

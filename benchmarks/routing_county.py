"""Generated county instance: 300 village stations around 长春市双阳区.

Deterministic (seeded) instance:

* 300 stations within ~30 km of 双阳区 (43.52 N, 125.66 E); loads from campaign
  orders (bags of 25/40/50 kg × quantity), a few above 10 t (split loads);
* 3 depots: two supplier warehouses and one cooperative collection point;
  25 % of stations' goods sit at one specific supplier warehouse;
* station hours 08:00–17:00, 20 % narrower (08:00–11:00, 13:00–16:30, 09:00–12:00);
  service 10 min + 1 min per 100 kg;
* two truck types per depot: 5 t (fixed ¥260, ¥2.6/km) and 10 t (fixed ¥420,
  ¥3.9/km), shift 06:30–18:30, max 10 h per route;
* optional produce shipments (pickup-and-delivery) from the collection point
  to buyers in 长春 city.

Haversine distances × 1.3 detour at 40 km/h.

Multi-trip: the instance is solved twice with the same budget and seed — once with one trip per
truck, once with every truck allowed ``--reloads`` returns to its depot to reload within its
shift (PyVRP reload depots) — and trucks used and cost are printed for both.  Usage::

    uv run python benchmarks/routing_county.py [--seconds 30] [--seed 1] [--shipments 8] [--reloads 2]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.delivery_routing.routing.distances import HaversineProvider, build_matrices  # noqa: E402
from plugins.delivery_routing.routing.feasibility import check_plan  # noqa: E402
from plugins.delivery_routing.routing.problem import (  # noqa: E402
    Depot,
    Point,
    RoutingProblem,
    Shipment,
    Stop,
    TimeWindow,
    VehicleType,
    expand,
)
from plugins.delivery_routing.routing.solver import solve  # noqa: E402

CENTER = Point(43.52, 125.66)


def offset(p: Point, north_km: float, east_km: float) -> Point:
    dlat = north_km / 111.195
    dlon = east_km / (111.195 * math.cos(math.radians(p.lat)))
    return Point(round(p.lat + dlat, 6), round(p.lon + dlon, 6))


def county_problem(num_stations: int = 300, seed: int = 20240601, shipments: int = 8) -> RoutingProblem:
    rng = random.Random(seed)
    depots = [
        Depot("W-SY", "双阳农资配送中心", offset(CENTER, 0.5, -1.0), TimeWindow.parse("06:00", "19:00")),
        Depot("W-NE", "奢岭供销仓库", offset(CENTER, 14.0, 12.0), TimeWindow.parse("06:00", "19:00")),
        Depot("C-SW", "鹿乡合作社收购点", offset(CENTER, -12.0, -13.0), TimeWindow.parse("06:00", "19:00")),
    ]
    shift = TimeWindow.parse("06:30", "18:30")
    vehicles: list[VehicleType] = []
    for d, (n5, n10) in zip(depots, [(10, 8), (8, 6), (6, 5)], strict=True):
        vehicles.append(
            VehicleType(f"5t@{d.id}", 5000, n5, d.id, 260.0, 2.6, shift=shift, max_route_duration_s=10 * 3600)
        )
        vehicles.append(
            VehicleType(
                f"10t@{d.id}", 10000, n10, d.id, 420.0, 3.9, shift=shift, max_route_duration_s=10 * 3600
            )
        )

    narrow = [("08:00", "11:00"), ("13:00", "16:30"), ("09:00", "12:00")]
    stops: list[Stop] = []
    for i in range(num_stations):
        r = 30.0 * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        loc = offset(CENTER, r * math.sin(a), r * math.cos(a))
        bags = rng.choice([25, 40, 50])
        qty = int(rng.lognormvariate(math.log(18), 0.7))
        demand = max(bags, bags * qty)
        if rng.random() < 0.02:
            demand = rng.randint(11_000, 16_000)  # a big consolidated order → split load
        tw = (
            TimeWindow.parse(*rng.choice(narrow))
            if rng.random() < 0.2
            else TimeWindow.parse("08:00", "17:00")
        )
        source = rng.choice(["W-SY", "W-NE"]) if rng.random() < 0.25 else None
        stops.append(
            Stop(
                id=f"ST{i + 1:03d}",
                name=f"益农信息社{i + 1:03d}",
                location=loc,
                demand_kg=demand,
                time_window=tw,
                service_s=600 + 60 * (demand // 100) if demand < 6000 else 600 + 3600,
                source_depot=source,
            )
        )
    city = Point(43.8868, 125.3245)  # 长春市区
    ships = [
        Shipment(
            id=f"PR{k + 1:02d}",
            name=f"鲜食玉米→长春买家{k + 1}",
            origin_depot="C-SW",
            destination=offset(city, rng.uniform(-6, 6), rng.uniform(-6, 6)),
            weight_kg=rng.choice([800, 1200, 2000, 3000]),
            pickup_window=TimeWindow.parse("07:00", "12:00"),
            delivery_window=TimeWindow.parse("09:00", "17:00"),
            pickup_service_s=1200,
            delivery_service_s=900,
        )
        for k in range(shipments)
    ]
    return RoutingProblem(depots, vehicles, stops, ships, name="shuangyang-county")


def with_reloads(problem: RoutingProblem, reloads: int) -> RoutingProblem:
    return replace(problem, vehicle_types=[replace(vt, max_reloads=reloads) for vt in problem.vehicle_types])


def run(problem: RoutingProblem, seconds: float, seed: int, label: str) -> tuple[bool, float, int, float]:
    """Solve and print one variant; returns (feasible, wall s, trucks, cost)."""
    t0 = time.perf_counter()
    ex = expand(problem)
    matrices = build_matrices(ex.points, HaversineProvider(1.3, 40.0))
    budget = max(1.0, seconds - (time.perf_counter() - t0) - 1.0)  # leave room for build + check
    plan = solve(problem, time_limit_s=budget, seed=seed, matrices=matrices)
    violations = check_plan(problem, plan, matrices)
    wall = time.perf_counter() - t0
    by_type = Counter(r.vehicle_type.split("@")[0] for r in plan.routes)
    by_depot = Counter(r.depot_id for r in plan.routes)
    trips = sum(r.trips for r in plan.routes)
    print(f"\n== {label}")
    print(f"solver budget {budget:.1f} s, seed {seed}; wall time {wall:.1f} s (incl. matrices + checks)")
    print(f"feasible (independent checker): {not violations}  violations: {len(violations)}")
    print(
        f"cost ¥{plan.cost:,.2f}   distance {plan.distance_m / 1000:,.1f} km   trucks {len(plan.routes)}   trips {trips}"
    )
    print("trucks used by type: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_type.items())))
    print("trucks used by depot: " + ", ".join(f"{k}: {v}" for k, v in sorted(by_depot.items())))
    util = sum(r.max_load_kg for r in plan.routes) / sum(
        next(v.capacity_kg for v in problem.vehicle_types if v.name == r.vehicle_type) for r in plan.routes
    )
    print(f"mean peak load / capacity: {100 * util:.1f} %")
    return not violations, wall, len(plan.routes), plan.cost


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="solver budget per variant (wall clock for each run is checked too)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stations", type=int, default=300)
    ap.add_argument("--shipments", type=int, default=8)
    ap.add_argument(
        "--reloads", type=int, default=2, help="reloads per truck in the multi-trip variant (0: skip it)"
    )
    args = ap.parse_args(argv)

    problem = county_problem(args.stations, shipments=args.shipments)
    ex = expand(problem)
    demand = sum(s.demand_kg for s in problem.stops)
    split = sum(1 for s in problem.stops if len([t for t in ex.deliveries if t.ref == s.id]) > 1)
    print(
        f"instance: {problem.name}: {len(problem.stops)} stations, {len(problem.depots)} depots, "
        f"{len(problem.shipments)} produce shipments, {demand / 1000:.1f} t to deliver, {split} split stops; "
        f"{sum(vt.num_available for vt in problem.vehicle_types)} trucks available"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before solving")
    results = [run(problem, args.seconds, args.seed, "one trip per truck")]
    if args.reloads > 0:
        label = f"multi-trip: up to {args.reloads} reloads per truck within its shift"
        results.append(run(with_reloads(problem, args.reloads), args.seconds, args.seed, label))
        (_, _, t0, c0), (_, _, t1, c1) = results
        print(
            f"\nwith reloads: trucks {t0} → {t1} ({t1 - t0:+d}), cost ¥{c0:,.2f} → ¥{c1:,.2f} ({c1 - c0:+,.2f})"
        )
    ok = all(feasible and wall <= args.seconds + 5 for feasible, wall, _, _ in results)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Gap to best-known solutions: our PyVRP-based solver vs OR-Tools routing.

Usage::

    uv run --group bench python benchmarks/routing_bks.py [DATA_DIR] [--seconds 10] [--seed 1]

DATA_DIR defaults to ``$ROUTING_DATA_DIR`` or ``../shared/data/routing``
(relative to the repository root).  Every ``*.vrp`` with a matching ``.sol``
(last line ``Cost N``) is solved.

Fairness: both solvers get the same wall-clock budget per instance, the same
integer distance matrix (Euclidean rounded to the nearest integer — the X
set's convention) and an unbounded fleet (one vehicle per client, as in
PyVRP's VRPLIB reader; the X instances' "k" is only a lower bound, e.g. the
X-n101-k25 BKS uses 26 routes).  OR-Tools runs PATH_CHEAPEST_ARC +
GUIDED_LOCAL_SEARCH; ``--ortools-vehicles`` can cap its fleet instead.
Both costs are recomputed from the returned routes by the same function.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugins.delivery_routing.routing.vrplib_io import (  # noqa: E402
    Instance,
    check_routes,
    read_instance,
    route_cost,
    solve_instance,
)


def bks_of(sol_path: Path) -> int | None:
    for line in reversed(sol_path.read_text().splitlines()):
        if line.strip().lower().startswith("cost"):
            return round(float(line.split()[1]))
    return None


def solve_ortools(inst: Instance, seconds: float, vehicles: int) -> tuple[list[list[int]], bool]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    depot = inst.depots[0]
    dist = inst.distance
    n = dist.shape[0]
    manager = pywrapcp.RoutingIndexManager(n, vehicles, depot)
    routing = pywrapcp.RoutingModel(manager)
    dist_list = dist.tolist()
    demand = inst.demand

    def transit(i: int, j: int) -> int:
        return dist_list[manager.IndexToNode(i)][manager.IndexToNode(j)]

    cb = routing.RegisterTransitCallback(transit)
    routing.SetArcCostEvaluatorOfAllVehicles(cb)

    def dem(i: int) -> int:
        return demand[manager.IndexToNode(i)]

    dcb = routing.RegisterUnaryTransitCallback(dem)
    routing.AddDimensionWithVehicleCapacity(dcb, 0, [inst.capacity] * vehicles, True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    sol = routing.SolveWithParameters(params)
    if sol is None:
        return [], False
    routes: list[list[int]] = []
    for v in range(vehicles):
        idx = routing.Start(v)
        route: list[int] = []
        while not routing.IsEnd(idx):
            node = manager.IndexToNode(idx)
            if node != depot:
                route.append(node)
            idx = sol.Value(routing.NextVar(idx))
        if route:
            routes.append(route)
    return routes, True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "data_dir",
        nargs="?",
        default=os.environ.get("ROUTING_DATA_DIR", str(ROOT / ".." / "shared" / "data" / "routing")),
    )
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("ROUTING_BENCH_SECONDS", 10)))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ortools-vehicles", choices=["unbounded", "k"], default="unbounded")
    ap.add_argument("--no-ortools", action="store_true")
    args = ap.parse_args(argv)

    data = Path(args.data_dir).resolve()
    files = sorted(p for p in data.glob("*.vrp") if p.with_suffix(".sol").exists())
    if not files:
        print(f"no *.vrp with .sol in {data}", file=sys.stderr)
        return 2
    rows: list[tuple[str, int, int, float, int | None, float | None, bool, bool]] = []
    print(f"data: {data}  budget: {args.seconds:g} s/instance/solver  seed: {args.seed}", flush=True)
    for path in files:
        bks = bks_of(path.with_suffix(".sol"))
        assert bks is not None, path
        inst = read_instance(path)
        t0 = time.perf_counter()
        ours = solve_instance(path, args.seconds, args.seed)
        t_ours = time.perf_counter() - t0
        ours_cost = int(ours["cost"])
        ours_gap = 100 * (ours_cost - bks) / bks
        ort_cost: int | None = None
        ort_gap: float | None = None
        ort_ok = False
        if not args.no_ortools:
            k = int(path.stem.rsplit("-k", 1)[1]) if "-k" in path.stem else len(inst.clients)
            vehicles = len(inst.clients) if args.ortools_vehicles == "unbounded" else k
            t0 = time.perf_counter()
            routes, ok = solve_ortools(inst, args.seconds, vehicles)
            t_ort = time.perf_counter() - t0
            ort_ok = ok and not check_routes(inst, routes)
            if ort_ok:
                ort_cost = route_cost(inst, routes)
                ort_gap = 100 * (ort_cost - bks) / bks
            print(
                f"  {path.stem}: ours {ours_cost} ({t_ours:.1f}s)  ortools {ort_cost} ({t_ort:.1f}s)",
                flush=True,
            )
        rows.append((path.stem, bks, ours_cost, ours_gap, ort_cost, ort_gap, bool(ours["feasible"]), ort_ok))

    print()
    print("| instance | BKS | ours | gap % | OR-Tools | gap % | ours better |")
    print("|---|---:|---:|---:|---:|---:|:---:|")
    for name, bks, oc, og, rc, rg, of, _rf in rows:
        rc_s = str(rc) if rc is not None else "—"
        rg_s = f"{rg:.2f}" if rg is not None else "—"
        better = "yes" if rc is None or oc < rc else "no"
        flag = "" if of else " (INFEASIBLE)"
        print(f"| {name} | {bks} | {oc}{flag} | {og:.2f} | {rc_s} | {rg_s} | {better} |")
    mean_ours = sum(r[3] for r in rows) / len(rows)
    ort_gaps = [r[5] for r in rows if r[5] is not None]
    mean_ort = sum(ort_gaps) / len(ort_gaps) if ort_gaps else math.nan
    print(f"| **mean** | | | **{mean_ours:.2f}** | | **{mean_ort:.2f}** | |")
    all_feasible = all(r[6] for r in rows)
    beats = all(r[4] is None or r[2] < r[4] for r in rows)
    print(
        f"\nours all feasible: {all_feasible}; mean gap ≤ 1 %: {mean_ours <= 1.0}; better than OR-Tools everywhere: {beats}"
    )
    return 0 if all_feasible else 1


if __name__ == "__main__":
    raise SystemExit(main())

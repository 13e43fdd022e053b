"""Gap to best-known solutions: PyVRP as the plugin configures it vs OR-Tools routing.

"ours" is PyVRP (``pyvrp.solve`` with its default parameters, one seed, wall-clock budget) as
called by the plugin's ``vrplib_io.solve_instance`` — the same call as ``manage.py routes solve``.
It is not our own algorithm; the plugin's domain model and two-phase search (``solver.solve``)
are not exercised here (see ``routing_county.py`` for that).

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
GUIDED_LOCAL_SEARCH with the matrix and demands registered as native arrays
(``RegisterTransitMatrix`` / ``RegisterUnaryTransitVector``: no Python callback
per arc); ``--ortools-vehicles`` can cap its fleet instead.  Both costs are
recomputed from the returned routes by the same function.  A solver that returns
no solution or an infeasible one has *failed* on that instance: it is reported as
such and never counted as the other solver's win.
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
    # Native arrays: OR-Tools reads them in C++ (no Python call per arc or per node).
    cb = routing.RegisterTransitMatrix(dist.astype(int).tolist())
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    dcb = routing.RegisterUnaryTransitVector([int(d) for d in inst.demand])
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
    print(
        f"data: {data}  budget: {args.seconds:g} s/instance/solver  seed: {args.seed}  "
        f"load average at start: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
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

    import platform
    from importlib.metadata import version

    print()
    print(
        f"conditions: ours = PyVRP {version('pyvrp')} (pyvrp.solve defaults via vrplib_io.solve_instance); "
        f"OR-Tools {_ortools_version()} PATH_CHEAPEST_ARC + GUIDED_LOCAL_SEARCH, fleet {args.ortools_vehicles}; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; Python {platform.python_version()}"
    )
    print("| instance | BKS | ours | gap % | OR-Tools | gap % | result |")
    print("|---|---:|---:|---:|---:|---:|---|")
    wins = losses = ties = ort_failed = ours_failed = 0
    for name, bks, oc, og, rc, rg, of, rf in rows:
        rc_s = str(rc) if rc is not None else "no solution"
        rg_s = f"{rg:.2f}" if rg is not None else "—"
        if not of:
            result, ours_failed = "ours infeasible", ours_failed + 1
        elif args.no_ortools:
            result = "—"
        elif not rf:
            result, ort_failed = "OR-Tools failed", ort_failed + 1
        elif oc < rc:
            result, wins = "ours lower", wins + 1
        elif oc > rc:
            result, losses = "OR-Tools lower", losses + 1
        else:
            result, ties = "equal", ties + 1
        oc_s = f"{oc}" if of else f"{oc} (INFEASIBLE)"
        print(f"| {name} | {bks} | {oc_s} | {og:.2f} | {rc_s} | {rg_s} | {result} |")
    feasible_gaps = [r[3] for r in rows if r[6]]
    mean_ours = sum(feasible_gaps) / len(feasible_gaps) if feasible_gaps else math.nan
    ort_gaps = [r[5] for r in rows if r[5] is not None]
    mean_ort = sum(ort_gaps) / len(ort_gaps) if ort_gaps else math.nan
    print(f"| **mean (solved only)** | | | **{mean_ours:.2f}** | | **{mean_ort:.2f}** | |")
    both = [r for r in rows if r[6] and r[7]]
    both_ours = sum(r[3] for r in both) / len(both) if both else math.nan
    both_ort = sum(r[5] for r in both) / len(both) if both else math.nan
    print(
        f"\ninstances: {len(rows)}; ours feasible on {len(rows) - ours_failed}; "
        f"OR-Tools solved {sum(1 for r in rows if r[7])} (failed {ort_failed}); where both solved ({len(both)}): ours lower {wins}, "
        f"OR-Tools lower {losses}, equal {ties}; mean gap there ours {both_ours:.2f} %, OR-Tools {both_ort:.2f} %"
    )
    return 0 if ours_failed == 0 else 1


def _ortools_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ortools")
    except PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    raise SystemExit(main())

"""Standard VRPLIB / Solomon instances: read with ``vrplib``, solve with PyVRP.

Rounding conventions (``rounding``):

* ``"round"`` – distances rounded to the nearest integer (CVRPLIB X set;
  default for VRPLIB files);
* ``"trunc"`` – truncated to an integer;
* ``"dimacs"`` – ×10 and truncated, cost reported ÷10 (DIMACS/Solomon
  convention; default for Solomon files);
* ``"exact"`` – ×1000 and rounded, cost reported ÷1000.

Time windows and service times are scaled like distances (travel time =
distance).  The reported cost is recomputed independently from the routes
with the same rounded matrix; ``feasible`` is an independent check of
capacity, time windows, fleet size and "every client exactly once".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyvrp
import vrplib
from pyvrp.stop import MaxRuntime

IntMatrix = npt.NDArray[np.int64]

ROUNDING: dict[str, tuple[Callable[[np.ndarray], np.ndarray], int]] = {
    "round": (lambda a: np.rint(a), 1),
    "trunc": (lambda a: np.trunc(a), 1),
    "dimacs": (lambda a: np.trunc(10 * a), 10),
    "exact": (lambda a: np.rint(1000 * a), 1000),
}


class InstanceError(ValueError):
    """The instance file is missing or cannot be understood."""


@dataclass(slots=True)
class Instance:
    """A single-commodity (C)VRP(TW) instance in solver units."""

    name: str
    distance: IntMatrix  # node × node, depot(s) first as in the file
    depots: list[int]  # node indices of depots
    clients: list[int]  # node indices of clients (VRPLIB numbering)
    demand: list[int]  # per node
    capacity: int
    num_vehicles: int
    tw_early: list[int]  # per node
    tw_late: list[int]
    service: list[int]
    scale: int
    has_time_windows: bool


def _detect_format(path: Path) -> str:
    head = path.read_text(errors="replace")[:4000].upper()
    if "CUST NO." in head or ("VEHICLE" in head and "NUMBER" in head and ":" not in head.split("\n", 1)[0]):
        return "solomon"
    return "vrplib"


def read_instance(path: str | Path, rounding: str | None = None) -> Instance:
    path = Path(path)
    if not path.is_file():
        raise InstanceError(f"instance file not found: {path}")
    fmt = _detect_format(path)
    try:
        raw: dict[str, Any] = vrplib.read_instance(path, instance_format=fmt)
    except Exception as exc:  # vrplib raises assorted errors on malformed input
        raise InstanceError(f"cannot read {path.name} as a {fmt.upper()} instance: {exc}") from exc
    rounding = rounding or ("dimacs" if fmt == "solomon" else "round")
    if rounding not in ROUNDING:
        raise InstanceError(f"unknown rounding {rounding!r}; use one of {sorted(ROUNDING)}")
    func, scale = ROUNDING[rounding]

    if "edge_weight" not in raw or "demand" not in raw or "capacity" not in raw:
        raise InstanceError(f"{path.name}: needs edge weights (or coordinates), DEMAND_SECTION and CAPACITY")
    weights = np.asarray(raw["edge_weight"], dtype=float)
    if (
        fmt == "vrplib"
        and "node_coord" in raw
        and str(raw.get("edge_weight_type", "EUC_2D")).upper() == "EUC_2D"
    ):
        xy = np.asarray(raw["node_coord"], dtype=float)
        weights = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    n = weights.shape[0]
    if weights.shape != (n, n) or n < 2:
        raise InstanceError(f"{path.name}: malformed distance data (shape {weights.shape})")
    distance = func(weights).astype(np.int64)
    np.fill_diagonal(distance, 0)

    depots = [int(d) for d in np.atleast_1d(raw.get("depot", np.array([0])))]
    clients = [i for i in range(n) if i not in depots]
    demand = [int(v) for v in np.asarray(raw["demand"]).reshape(-1)[:n]]
    if len(demand) != n:
        raise InstanceError(f"{path.name}: DEMAND_SECTION has {len(demand)} entries for {n} nodes")
    capacity = int(np.asarray(raw["capacity"]).reshape(-1)[0])
    has_tw = "time_window" in raw
    if has_tw:
        tw = np.asarray(raw["time_window"], dtype=float)
        tw_early = [int(v) for v in func(tw[:, 0])]
        tw_late = [int(v) for v in func(tw[:, 1])]
    else:
        tw_early, tw_late = [0] * n, [int(np.iinfo(np.int64).max)] * n
    if "service_time" in raw:
        st = np.asarray(raw["service_time"], dtype=float).reshape(-1)
        service = [int(v) for v in (func(st) if st.size == n else func(np.full(n, st[0])))]
    else:
        service = [0] * n
    vehicles = int(raw.get("vehicles", len(clients)))
    return Instance(
        name=str(raw.get("name", path.stem)),
        distance=distance,
        depots=depots,
        clients=clients,
        demand=demand,
        capacity=capacity,
        num_vehicles=vehicles,
        tw_early=tw_early,
        tw_late=tw_late,
        service=service,
        scale=scale,
        has_time_windows=has_tw,
    )


def to_problem_data(inst: Instance) -> pyvrp.ProblemData:
    # PyVRP wants depots first; VRPLIB files put them first too, but remap anyway.
    order = inst.depots + inst.clients
    dist = inst.distance[np.ix_(order, order)]
    locations = [pyvrp.Location(x=0.0, y=0.0) for _ in order]
    depots = [
        pyvrp.Depot(i, tw_early=inst.tw_early[node], tw_late=inst.tw_late[node])
        for i, node in enumerate(inst.depots)
    ]
    clients = [
        pyvrp.Client(
            len(inst.depots) + i,
            delivery=[inst.demand[node]],
            service_duration=inst.service[node],
            tw_early=inst.tw_early[node],
            tw_late=inst.tw_late[node],
        )
        for i, node in enumerate(inst.clients)
    ]
    per_depot = max(1, inst.num_vehicles // len(inst.depots))
    vehicle_types = [
        pyvrp.VehicleType(
            num_available=per_depot,
            capacity=[inst.capacity],
            start_depot=d,
            end_depot=d,
            tw_early=inst.tw_early[node],
            tw_late=inst.tw_late[node],
        )
        for d, node in enumerate(inst.depots)
    ]
    return pyvrp.ProblemData(locations, clients, depots, vehicle_types, [dist], [dist.copy()])


def route_cost(inst: Instance, routes: list[list[int]]) -> int:
    """Sum of rounded edge lengths; routes in VRPLIB node numbers, depot excluded."""
    depot = inst.depots[0]
    total = 0
    for r in routes:
        path = [depot, *r, depot]
        total += sum(int(inst.distance[a, b]) for a, b in zip(path, path[1:], strict=False))
    return total


def check_routes(inst: Instance, routes: list[list[int]]) -> list[str]:
    """Independent check; returns human-readable violations (empty = feasible)."""
    problems: list[str] = []
    if len(inst.depots) != 1:
        problems.append("independent check supports single-depot instances only")
        return problems
    depot = inst.depots[0]
    seen = [c for r in routes for c in r]
    missing = set(inst.clients) - set(seen)
    if missing:
        problems.append(f"{len(missing)} clients not visited, e.g. {sorted(missing)[:5]}")
    if len(seen) != len(set(seen)):
        problems.append("some client is visited more than once")
    if set(seen) - set(inst.clients):
        problems.append("route visits a node that is not a client")
    if len([r for r in routes if r]) > inst.num_vehicles:
        problems.append(f"{len(routes)} routes > {inst.num_vehicles} vehicles")
    for k, r in enumerate(routes):
        load = sum(inst.demand[c] for c in r)
        if load > inst.capacity:
            problems.append(f"route {k + 1}: load {load} > capacity {inst.capacity}")
        if inst.has_time_windows:
            t, prev = inst.tw_early[depot], depot
            for c in r:
                t = max(t + int(inst.distance[prev, c]), inst.tw_early[c])
                if t > inst.tw_late[c]:
                    problems.append(f"route {k + 1}: client {c} served at {t} > {inst.tw_late[c]}")
                t += inst.service[c]
                prev = c
            if t + int(inst.distance[prev, depot]) > inst.tw_late[depot]:
                problems.append(f"route {k + 1}: returns after the depot closes")
    return problems


def solve_instance(
    path: str | Path, seconds: float, seed: int = 0, rounding: str | None = None
) -> dict[str, Any]:
    """Solve a VRPLIB/Solomon file; returns ``{"cost", "routes", "feasible"}``."""
    if not seconds > 0:
        raise ValueError("seconds must be positive")
    inst = read_instance(path, rounding)
    data = to_problem_data(inst)
    result = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=seed, collect_stats=False)
    best = result.best
    routes = [[inst.clients[a.idx] for a in r.schedule() if a.is_client()] for r in best.routes()]
    routes = [r for r in routes if r]
    cost_units = route_cost(inst, routes)
    feasible = bool(best.is_feasible() and best.is_complete()) and not check_routes(inst, routes)
    cost: int | float = cost_units if inst.scale == 1 else cost_units / inst.scale
    return {"cost": cost, "routes": routes, "feasible": feasible}

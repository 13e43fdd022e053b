"""Build a PyVRP model from a :class:`RoutingProblem`, solve it, return a checked Plan.

Integer units inside PyVRP: metres, seconds, kilograms and cost units of
1/``COST_SCALE`` yuan.  Flow of :func:`solve`:

1. structural validation and :func:`diagnose` (necessary conditions; raises
   :class:`InfeasibleProblem` naming stops and reasons);
2. PyVRP iterated local search under ``MaxRuntime(time_limit_s)`` and a seed;
3. if the best solution is infeasible or incomplete → :class:`InfeasibleProblem`
   (never a silent partial plan);
4. conversion to a typed :class:`Plan` (split chunks merged back per stop);
5. the independent checker (:mod:`.feasibility`) must accept the plan, else
   :class:`PlanRejected`.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

from .distances import DistanceProvider, Matrices, MatrixCache, build_matrices
from .feasibility import check_plan
from .plan import InfeasibleProblem, Plan, PlannedRoute, PlanRejected, Reason, Visit
from .problem import (
    Depot,
    ExpandedProblem,
    RoutingProblem,
    Stop,
    Task,
    TimeWindow,
    VehicleType,
    eligible_vehicle_types,
    expand,
    fmt_hm,
    total_fleet_capacity,
)

logger = logging.getLogger(__name__)

COST_SCALE = 100_000  # solver cost units per yuan (¥2.6/km → 260 units per metre)
# Penalty caps (per kg of excess load / per second of time warp).  PyVRP's
# default cap (1e5 units = ¥1 here) gives the best plans on realistic data
# (county benchmark: ~3 % cheaper than a 1e7+ cap), but when fixed costs dwarf
# everything else (¥10 fixed cost on 100 m routes) the search may keep two
# overloaded trucks instead of a third.  So we solve in two phases: 70 % of the
# budget with the default cap, then the remaining 30 % warm-started from the
# best solution — with the same cap if it is feasible, otherwise with the cap
# raised to the largest fixed cost so that feasibility wins.
DEFAULT_MAX_PENALTY = 100_000.0
FIRST_PHASE_SHARE = 0.7
FORBIDDEN = 10_000_000  # metres / seconds on edges a vehicle may not use
INT_MAX = int(np.iinfo(np.int64).max)
MAX_RELOADS_UNSET = int(np.iinfo(np.uint64).max)  # PyVRP default: unconstrained (no reload depots anyway)


# --------------------------------------------------------------------------
# Diagnosis
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    loc: int
    window: TimeWindow
    service_s: int


def _vehicle_hours(vt: VehicleType, depot: Depot) -> tuple[int, int]:
    return max(vt.shift.start, depot.time_window.start), min(vt.shift.end, depot.time_window.end)


def _trip_stage(
    vt: VehicleType, depot: Depot, depot_loc: int, steps: Sequence[_Step], dur: np.ndarray
) -> tuple[int, int]:
    """How far a dedicated out-and-back trip gets: 3 = fine, 2 = too long for
    max duration, 1 = cannot return in time, 0 = a window cannot be reached.
    Returns (stage, earliest service start at the first failing step / return)."""
    open_s, close_s = _vehicle_hours(vt, depot)
    if open_s > close_s:
        return 0, open_s
    t, prev = open_s, depot_loc
    for step in steps:
        start = max(t + int(dur[prev, step.loc]), step.window.start)
        if start > step.window.end:
            return 0, start
        t, prev = start + step.service_s, step.loc
    end = t + int(dur[prev, depot_loc])
    if end > close_s:
        return 1, end
    if vt.max_route_duration_s is not None:
        locs = [depot_loc, *(s.loc for s in steps), depot_loc]
        minimal = sum(int(dur[a, b]) for a, b in zip(locs, locs[1:], strict=False))
        minimal += sum(s.service_s for s in steps)
        if minimal > vt.max_route_duration_s:
            return 2, minimal
    return 3, end


def _reach_reason(
    ref: str,
    label: str,
    window: TimeWindow,
    candidates: list[tuple[VehicleType, int, int]],
    problem: RoutingProblem,
) -> Reason | None:
    if any(stage == 3 for _, stage, _ in candidates):
        return None
    stage = max(s for _, s, _ in candidates)
    best = [c for c in candidates if c[1] == stage]
    vt, _, when = min(best, key=lambda c: c[2])
    depot = problem.depot(vt.home_depot)
    if stage == 0:
        return Reason(
            ref,
            "time_window_unreachable",
            f"{label}的时间窗 {window} 内没有车辆能够到达：最快由{depot.name}的{vt.name}出发，"
            f"也要 {fmt_hm(when)} 才能开始服务。",
            f"earliest service start {fmt_hm(when)} is after the window {window}",
        )
    if stage == 1:
        return Reason(
            ref,
            "cannot_return_in_shift",
            f"{label}可以按时到达，但车辆无法在班次/仓库关门前返回：最早 {fmt_hm(when)} 才能回到{depot.name}。",
            f"earliest return {fmt_hm(when)} after shift end",
        )
    return Reason(
        ref,
        "exceeds_max_route_duration",
        f"{label}往返（含服务）至少需要 {when // 60} 分钟，超过所有可用车型的最长线路时长。",
        f"minimal out-and-back {when}s exceeds max route duration",
    )


def diagnose(problem: RoutingProblem, matrices: Matrices, ex: ExpandedProblem | None = None) -> list[Reason]:
    """Explain why a request is certainly infeasible (empty list: no obvious reason).

    These are necessary conditions checked per stop with a dedicated truck
    (out-and-back), plus fleet-wide capacity; passing them does not guarantee
    that the whole plan fits, which the solver then decides.
    """
    reasons: list[Reason] = [
        Reason(None, "invalid_input", f"输入数据有误：{e}", e) for e in problem.validate()
    ]
    if reasons:
        return reasons
    ex = ex or expand(problem)
    dur = matrices.duration_s
    usable = eligible_vehicle_types(problem, None)
    if not usable and (problem.stops or problem.shipments):
        return [Reason(None, "no_vehicles", "没有任何可用车辆（数量或载重为 0）。", "fleet is empty")]

    for stop in problem.stops:
        label = f"站点「{stop.name}」"
        if not stop.time_window.is_valid:
            reasons.append(
                Reason(stop.id, "invalid_time_window", f"{label}的时间窗 {stop.time_window} 无效。")
            )
            continue
        if stop.demand_kg == 0:
            continue
        eligible = eligible_vehicle_types(problem, stop.source_depot, stop.vehicle_types)
        if not eligible and stop.vehicle_types is not None:
            reasons.append(
                Reason(
                    stop.id,
                    "locked_vehicle_unusable",
                    f"{label}被锁定到的车辆无法装运这批货（车辆不在货物所在仓库、停用或载重为 0）。",
                    f"locked to {sorted(stop.vehicle_types)}, none eligible for {stop.source_depot}",
                )
            )
            continue
        if not eligible:
            where = problem.depot(stop.source_depot).name if stop.source_depot else "任何仓库"
            reasons.append(
                Reason(
                    stop.id,
                    "no_vehicle_for_source_depot",
                    f"{label}的货物在{where}，但该仓库没有可用车辆，无法装运任何一批货。",
                    f"no vehicle type based at {stop.source_depot}",
                )
            )
            continue
        cap = total_fleet_capacity(eligible)
        if stop.demand_kg > cap:
            reasons.append(
                Reason(
                    stop.id,
                    "load_exceeds_fleet",
                    f"{label}需要 {stop.demand_kg} kg，超过可用车队的总载重 {cap} kg。",
                    f"demand {stop.demand_kg} kg > eligible fleet capacity {cap} kg",
                )
            )
        step = [_Step(ex.stop_loc[stop.id], stop.time_window, stop.service_s)]
        candidates = [
            (vt, *_trip_stage(vt, problem.depot(vt.home_depot), ex.depot_loc[vt.home_depot], step, dur))
            for vt in eligible
        ]
        if (reason := _reach_reason(stop.id, label, stop.time_window, candidates, problem)) is not None:
            reasons.append(reason)

    for sh in problem.shipments:
        label = f"农产品运单「{sh.name}」"
        origin = problem.depot(sh.origin_depot)
        pickup_window = sh.pickup_window or origin.time_window
        if not (pickup_window.is_valid and sh.delivery_window.is_valid):
            reasons.append(Reason(sh.id, "invalid_time_window", f"{label}的取货或送达时间窗无效。"))
            continue
        steps = [
            _Step(ex.depot_loc[origin.id], pickup_window, sh.pickup_service_s),
            _Step(ex.shipment_dest_loc[sh.id], sh.delivery_window, sh.delivery_service_s),
        ]
        carriers = eligible_vehicle_types(problem, None, sh.vehicle_types)
        if not carriers:
            reasons.append(
                Reason(
                    sh.id,
                    "locked_vehicle_unusable",
                    f"{label}被锁定到的车辆不可用（载重为 0 或数量为 0）。",
                    f"locked to {sorted(sh.vehicle_types or ())}, none usable",
                )
            )
            continue
        candidates = [
            (vt, *_trip_stage(vt, problem.depot(vt.home_depot), ex.depot_loc[vt.home_depot], steps, dur))
            for vt in carriers
        ]
        if (reason := _reach_reason(sh.id, label, sh.delivery_window, candidates, problem)) is not None:
            reasons.append(reason)

    # Fleet-wide: every delivery is loaded at the depot, on as many trips as each truck may make.
    total_demand = sum(s.demand_kg for s in problem.stops)
    total_cap = total_fleet_capacity(usable)
    if total_demand > total_cap:
        reasons.append(
            Reason(
                None,
                "fleet_capacity_exceeded",
                f"所有站点合计需配送 {total_demand} kg，超过整个车队一天能运的 {total_cap} kg"
                f"（{'含回仓装货的趟次' if any(vt.max_reloads for vt in usable) else '每车每天一趟'}）。",
                f"total demand {total_demand} kg > fleet capacity {total_cap} kg",
            )
        )
    # Dispatcher locks: stops (and shipments) locked to the same vehicles must fit into them.
    locked: dict[frozenset[str], list[tuple[str, str, int]]] = {}
    for item in [*problem.stops, *problem.shipments]:
        if item.vehicle_types is not None:
            kg = item.demand_kg if isinstance(item, Stop) else item.weight_kg
            locked.setdefault(item.vehicle_types, []).append((item.id, item.name, kg))
    for group, items in locked.items():
        have = total_fleet_capacity(eligible_vehicle_types(problem, None, group))
        need = sum(kg for _, _, kg in items)
        if len(items) > 1 and 0 < have < need:
            for ident, name, _ in items:
                reasons.append(
                    Reason(
                        ident,
                        "locked_capacity_exceeded",
                        f"锁定到同一车辆的货物合计 {need} kg，超过该车辆载重 {have} kg，「{name}」无法全部装下。",
                        f"locked group {sorted(group)}: {need} kg > {have} kg",
                    )
                )
    for depot in problem.depots:
        tied = [s for s in problem.stops if s.source_depot == depot.id]
        need = sum(s.demand_kg for s in tied)
        have = total_fleet_capacity(eligible_vehicle_types(problem, depot.id))
        if tied and 0 < have < need:
            for s in tied:
                reasons.append(
                    Reason(
                        s.id,
                        "source_depot_capacity_exceeded",
                        f"{depot.name}需发出 {need} kg，但驻该仓库车辆总载重仅 {have} kg，站点「{s.name}」可能无法全部配送。",
                        f"{depot.id}: demand {need} kg > based fleet capacity {have} kg",
                    )
                )
    return reasons


# --------------------------------------------------------------------------
# PyVRP model
# --------------------------------------------------------------------------


def _clip(v: int) -> int:
    return min(max(v, 0), INT_MAX)


@dataclass(slots=True)
class _Built:
    data: pyvrp.ProblemData
    vehicle_types: list[VehicleType]  # PyVRP vehicle type index → domain type


def build_problem_data(ex: ExpandedProblem, matrices: Matrices) -> _Built:
    problem = ex.problem
    locations = [pyvrp.Location(x=p.lon, y=p.lat) for p in ex.points]
    depot_index = {d.id: i for i, d in enumerate(problem.depots)}
    depots = [
        pyvrp.Depot(ex.depot_loc[d.id], tw_early=d.time_window.start, tw_late=d.time_window.end, name=d.id)
        for d in problem.depots
    ]
    clients = [
        pyvrp.Client(
            t.loc,
            delivery=[t.amount_kg],
            service_duration=t.service_s,
            tw_early=t.window.start,
            tw_late=t.window.end,
            name=f"{t.ref}#{t.chunk}",
        )
        for t in ex.deliveries
    ]
    shipments = [
        pyvrp.Shipment(
            t.pickup_loc,
            t.loc,
            pickup_tw_early=t.pickup_window.start,
            pickup_tw_late=t.pickup_window.end,
            pickup_service_duration=t.pickup_service_s,
            delivery_tw_early=t.window.start,
            delivery_tw_late=t.window.end,
            delivery_service_duration=t.service_s,
            amount=[t.amount_kg],
            name=f"{t.ref}#{t.chunk}",
        )
        for t in ex.shipments
    ]

    # Restrictions (goods tied to one warehouse, dispatcher locks to a vehicle) are routing
    # profiles: each vehicle type gets a matrix in which edges into the locations it may not
    # serve are forbidden.  Types with the same forbidden set share one profile.
    restricted = any(
        t.allowed_depots is not None or t.allowed_vehicles is not None
        for t in [*ex.deliveries, *ex.shipments]
    )
    profile_of: dict[str, int] = {}
    dist_mats: list[np.ndarray] = []
    dur_mats: list[np.ndarray] = []
    base_d = matrices.distance_m.astype(np.int64)
    base_t = matrices.duration_s.astype(np.int64)
    if not restricted:
        dist_mats, dur_mats = [base_d], [base_t]
    else:
        by_forbidden: dict[tuple[int, ...], int] = {}
        for vt in problem.vehicle_types:
            forbidden = tuple(
                sorted(
                    {
                        t.loc
                        for t in ex.deliveries
                        if (t.allowed_depots is not None and vt.home_depot not in t.allowed_depots)
                        or (t.allowed_vehicles is not None and vt.name not in t.allowed_vehicles)
                    }
                    | {
                        t.loc
                        for t in ex.shipments
                        if t.allowed_vehicles is not None and vt.name not in t.allowed_vehicles
                    }
                )
            )
            if forbidden not in by_forbidden:
                d, t_ = base_d.copy(), base_t.copy()
                idx = list(forbidden)
                d[idx, :] = FORBIDDEN
                d[:, idx] = FORBIDDEN
                t_[idx, :] = FORBIDDEN
                t_[:, idx] = FORBIDDEN
                np.fill_diagonal(d, 0)
                np.fill_diagonal(t_, 0)
                by_forbidden[forbidden] = len(dist_mats)
                dist_mats.append(d)
                dur_mats.append(t_)
            profile_of[vt.name] = by_forbidden[forbidden]

    vts: list[pyvrp.VehicleType] = []
    domain_vts: list[VehicleType] = []
    for vt in problem.vehicle_types:
        if vt.num_available <= 0:
            continue
        depot = problem.depot(vt.home_depot)
        open_s, close_s = _vehicle_hours(vt, depot)
        if open_s > close_s:
            continue
        vts.append(
            pyvrp.VehicleType(
                num_available=vt.num_available,
                capacity=[vt.capacity_kg],
                start_depot=depot_index[depot.id],
                end_depot=depot_index[depot.id],
                fixed_cost=round(vt.fixed_cost * COST_SCALE),
                tw_early=open_s,
                tw_late=close_s,
                shift_duration=_clip(vt.max_route_duration_s)
                if vt.max_route_duration_s is not None
                else INT_MAX,
                unit_distance_cost=round(vt.cost_per_km * COST_SCALE / 1000),
                unit_duration_cost=round(vt.cost_per_hour * COST_SCALE / 3600),
                profile=profile_of.get(vt.name, 0),
                reload_depots=[depot_index[depot.id]] if vt.max_reloads > 0 else [],
                max_reloads=vt.max_reloads if vt.max_reloads > 0 else MAX_RELOADS_UNSET,
                name=vt.name,
            )
        )
        domain_vts.append(vt)
    data = pyvrp.ProblemData(
        locations=locations,
        clients=clients,
        depots=depots,
        vehicle_types=vts,
        distance_matrices=dist_mats,
        duration_matrices=dur_mats,
        shipments=shipments,
    )
    return _Built(data, domain_vts)


# --------------------------------------------------------------------------
# Solution → Plan
# --------------------------------------------------------------------------


def _task_label(problem: RoutingProblem, t: Task) -> str:
    if t.kind == "delivery":
        return next(s.name for s in problem.stops if s.id == t.ref)
    return next(s.name for s in problem.shipments if s.id == t.ref)


def _solution_reasons(ex: ExpandedProblem, sol: pyvrp.Solution) -> list[Reason]:
    reasons: list[Reason] = []
    seen: set[tuple[str, str]] = set()

    def add(t: Task, code: str, zh: str, en: str) -> None:
        if (t.ref, code) not in seen:
            seen.add((t.ref, code))
            reasons.append(Reason(t.ref, code, f"「{_task_label(ex.problem, t)}」{zh}", en))

    for act in sol.unplanned():
        task = ex.deliveries[act.idx] if act.is_client() else ex.shipments[act.idx]
        add(
            task,
            "not_planned",
            "在求解时限内未能被任何车辆安排（车辆数量、载重或时间窗过紧）。",
            "left unplanned by the solver",
        )
    for route in sol.routes():
        if route.is_feasible():
            continue
        for act in route.schedule():
            if act.is_depot():
                continue
            task = ex.deliveries[act.idx] if act.is_client() else ex.shipments[act.idx]
            if route.has_time_warp() and act.time_warp > 0:
                add(
                    task,
                    "time_window_conflict",
                    "所在线路无法在时间窗内完成服务，现有车队无法同时满足各站时间窗。",
                    "time warp",
                )
            if route.has_excess_load():
                add(
                    task, "capacity_conflict", "所在线路超载，现有车队容量不足以装下全部货物。", "excess load"
                )
        if route.has_excess_distance():
            reasons.append(Reason(None, "distance_conflict", "有线路超出最大里程。", "excess distance"))
    if not reasons:
        reasons.append(
            Reason(
                None,
                "solver_infeasible",
                "求解器未找到满足全部约束的方案，请增加车辆或放宽时间窗。",
                "no feasible solution",
            )
        )
    return reasons


def _to_plan(
    ex: ExpandedProblem, built: _Built, sol: pyvrp.Solution, seconds: float, provider: str, seed: int
) -> Plan:
    problem = ex.problem
    names = {s.id: s.name for s in problem.stops} | {s.id: s.name for s in problem.shipments}
    routes: list[PlannedRoute] = []
    for rt in sol.routes():
        vt = built.vehicle_types[rt.vehicle_type()]
        visits: list[Visit] = []
        schedule = rt.schedule()
        # Deliveries are loaded at the depot at the start of each trip (start, then each reload).
        trip_load: dict[int, int] = defaultdict(int)
        for a in schedule:
            if a.is_client():
                trip_load[a.trip] += ex.deliveries[a.idx].amount_kg
        first_trip = min((a.trip for a in schedule), default=0)
        start_load = trip_load[first_trip]
        load = start_load
        depot_loc = ex.depot_loc[vt.home_depot]
        for i, act in enumerate(schedule):
            if act.is_depot():
                if 0 < i < len(schedule) - 1:  # a reload between two trips
                    nxt = schedule[i + 1].trip
                    load = trip_load[nxt]
                    visits.append(
                        Visit(
                            kind="reload",
                            ref=vt.home_depot,
                            name=problem.depot(vt.home_depot).name,
                            loc=depot_loc,
                            amount_kg=load,
                            chunks=(),
                            arrival_s=act.start_time - act.wait_duration,
                            start_s=act.start_time,
                            departure_s=act.end_time,
                            service_s=act.end_time - act.start_time,
                            load_after_kg=load,
                        )
                    )
                continue
            if act.is_client():
                task = ex.deliveries[act.idx]
                kind, loc, service = "delivery", task.loc, task.service_s
                load -= task.amount_kg
            elif act.is_pickup():
                task = ex.shipments[act.idx]
                kind, loc, service = "pickup", task.pickup_loc, task.pickup_service_s
                load += task.amount_kg
            else:
                task = ex.shipments[act.idx]
                kind, loc, service = "dropoff", task.loc, task.service_s
                load -= task.amount_kg
            arrival = act.start_time - act.wait_duration
            prev = visits[-1] if visits else None
            if prev is not None and prev.kind == kind and prev.ref == task.ref and prev.loc == loc:
                # consecutive split chunks of the same stop → one visit
                prev.amount_kg += task.amount_kg
                prev.chunks = (*prev.chunks, task.chunk)
                prev.service_s += service
                prev.departure_s = act.end_time
                prev.load_after_kg = load
                continue
            visits.append(
                Visit(
                    kind=kind,
                    ref=task.ref,
                    name=names[task.ref],
                    loc=loc,
                    amount_kg=task.amount_kg,
                    chunks=(task.chunk,),
                    arrival_s=arrival,
                    start_s=act.start_time,
                    departure_s=act.end_time,
                    service_s=service,
                    load_after_kg=load,
                )
            )
        distance, duration = int(rt.distance()), int(rt.duration())
        cost = vt.fixed_cost + distance / 1000 * vt.cost_per_km + duration / 3600 * vt.cost_per_hour
        routes.append(
            PlannedRoute(
                vehicle_type=vt.name,
                depot_id=vt.home_depot,
                start_s=int(rt.start_time()),
                end_s=int(rt.end_time()),
                start_load_kg=start_load,
                distance_m=distance,
                duration_s=duration,
                cost=cost,
                visits=visits,
            )
        )
    return Plan(
        routes=routes,
        cost=sum(r.cost for r in routes),
        distance_m=sum(r.distance_m for r in routes),
        duration_s=sum(r.duration_s for r in routes),
        solve_time_s=seconds,
        matrix_provider=provider,
        seed=seed,
    )


def _solve_params(data: pyvrp.ProblemData, strict: bool) -> pyvrp.SolveParams:
    cap = DEFAULT_MAX_PENALTY
    if strict:
        cap = max([cap] + [float(vt.fixed_cost) for vt in data.vehicle_types()])
        cap = max(cap, 1_000.0 * max(vt.unit_distance_cost for vt in data.vehicle_types()))
    return pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=min(cap, 1e10)))


def _run_pyvrp(data: pyvrp.ProblemData, time_limit_s: float, seed: int) -> pyvrp.Solution:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = pyvrp.solve(
            data,
            stop=MaxRuntime(time_limit_s * FIRST_PHASE_SHARE),
            seed=seed,
            collect_stats=False,
            params=_solve_params(data, strict=False),
        ).best
        ok = first.is_feasible() and first.is_complete()
        second = pyvrp.solve(
            data,
            stop=MaxRuntime(time_limit_s * (1 - FIRST_PHASE_SHARE)),
            seed=seed + 1,
            collect_stats=False,
            params=_solve_params(data, strict=not ok),
            initial_solution=first,
        ).best
    for w in caught:
        logger.info("PyVRP: %s", str(w.message).strip())
    if ok and not (second.is_feasible() and second.is_complete()):
        return first
    if ok and second.distance_cost() + second.fixed_vehicle_cost() + second.duration_cost() > (
        first.distance_cost() + first.fixed_vehicle_cost() + first.duration_cost()
    ):
        return first
    return second


def solve(
    problem: RoutingProblem,
    time_limit_s: float = 10.0,
    seed: int = 0,
    provider: DistanceProvider | None = None,
    cache: MatrixCache | None = None,
    matrices: Matrices | None = None,
) -> Plan:
    """Solve ``problem``; raise :class:`InfeasibleProblem` rather than return a partial plan."""
    if time_limit_s <= 0:
        raise ValueError("time_limit_s must be positive")
    errors = problem.validate()
    if errors:
        raise InfeasibleProblem([Reason(None, "invalid_input", f"输入数据有误：{e}", e) for e in errors])
    ex = expand(problem)
    if matrices is None:
        matrices = build_matrices(ex.points, provider, cache)
    if matrices.distance_m.shape != (len(ex.points), len(ex.points)):
        raise ValueError("matrices do not match the problem's locations")
    reasons = diagnose(problem, matrices, ex)
    if reasons:
        raise InfeasibleProblem(reasons)

    started = time.perf_counter()
    if not ex.deliveries and not ex.shipments:
        plan = Plan([], 0.0, 0, 0, 0.0, matrices.provider, seed)
    else:
        built = build_problem_data(ex, matrices)
        best = _run_pyvrp(built.data, time_limit_s, seed)
        if not best.is_feasible() or not best.is_complete():
            raise InfeasibleProblem(_solution_reasons(ex, best))
        plan = _to_plan(ex, built, best, time.perf_counter() - started, matrices.provider, seed)
    violations = check_plan(problem, plan, matrices)
    if violations:
        raise PlanRejected(violations)
    return plan

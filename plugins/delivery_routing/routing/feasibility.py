"""Independent feasibility checker.

Recomputes everything from the domain problem, the plan's visit sequences and
the distance/duration matrices.  It deliberately does not use PyVRP objects
or numbers reported by the solver (reported figures are *compared* against
the recomputed ones, never trusted).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from .distances import Matrices
from .plan import Plan, Violation
from .problem import RoutingProblem, TimeWindow, expand


def _window(a: TimeWindow, b: TimeWindow) -> tuple[int, int]:
    return max(a.start, b.start), min(a.end, b.end)


def check_plan(problem: RoutingProblem, plan: Plan, matrices: Matrices) -> list[Violation]:
    """Return every violated constraint; an empty list means the plan is feasible."""
    out: list[Violation] = []
    ex = expand(problem)  # only for the location numbering (depots, stops, destinations)
    dist = matrices.distance_m
    dur = matrices.duration_s
    n = len(ex.points)
    if dist.shape != (n, n):
        return [Violation("matrix_mismatch", f"matrix is {dist.shape}, problem has {n} locations")]

    vtypes = {vt.name: vt for vt in problem.vehicle_types}
    depots = {d.id: d for d in problem.depots}
    stops = {s.id: s for s in problem.stops}
    shipments = {s.id: s for s in problem.shipments}

    used = Counter(r.vehicle_type for r in plan.routes)
    for name, count in used.items():
        if name not in vtypes:
            out.append(Violation("unknown_vehicle_type", f"vehicle type {name!r} not in the problem"))
        elif count > vtypes[name].num_available:
            out.append(
                Violation(
                    "too_many_vehicles",
                    f"{count} routes use {name!r} but only {vtypes[name].num_available} are available",
                )
            )

    delivered: dict[str, int] = defaultdict(int)
    picked: dict[str, int] = defaultdict(int)
    dropped: dict[str, int] = defaultdict(int)
    shipment_route: dict[str, set[int]] = defaultdict(set)
    total_cost = 0.0
    total_dist = 0

    for ri, route in enumerate(plan.routes):
        vt = vtypes.get(route.vehicle_type)
        depot = depots.get(route.depot_id)
        if vt is None or depot is None:
            out.append(Violation("unknown_depot_or_vehicle", "route references unknown depot/vehicle", ri))
            continue
        if vt.home_depot != depot.id:
            out.append(
                Violation(
                    "wrong_depot", f"{vt.name} is based at {vt.home_depot}, route starts at {depot.id}", ri
                )
            )
        if not any(v.kind != "reload" for v in route.visits):
            out.append(Violation("empty_route", "route has no visits", ri))
        depot_loc = ex.depot_loc[depot.id]
        open_s, close_s = _window(vt.shift, depot.time_window)

        # --- load ------------------------------------------------------------
        # Deliveries are loaded at the depot at the start of each trip (departure, then reloads).
        trip_loads = [0]
        for v in route.visits:
            if v.kind == "reload":
                trip_loads.append(0)
            elif v.kind == "delivery":
                trip_loads[-1] += v.amount_kg
        reloads = len(trip_loads) - 1
        if reloads > vt.max_reloads:
            out.append(
                Violation("too_many_reloads", f"{reloads} reloads, {vt.name} may reload {vt.max_reloads}", ri)
            )
        trip = 0
        start_load = trip_loads[0]
        if start_load != route.start_load_kg:
            out.append(
                Violation(
                    "load_mismatch", f"start load {route.start_load_kg} kg, visits need {start_load} kg", ri
                )
            )
        if start_load > vt.capacity_kg:
            out.append(
                Violation(
                    "over_capacity", f"leaves depot with {start_load} kg > capacity {vt.capacity_kg} kg", ri
                )
            )
        load = start_load
        on_board: dict[str, int] = defaultdict(int)

        # --- time --------------------------------------------------------------
        t = route.start_s
        if t < open_s:
            out.append(Violation("early_departure", f"departs {t}s before shift/depot opening {open_s}s", ri))
        prev = depot_loc
        route_dist = 0

        for v in route.visits:
            if v.kind == "reload":
                trip += 1
                if v.ref != depot.id or v.loc != depot_loc:
                    out.append(Violation("wrong_location", "reload away from the home depot", ri, v.ref))
                if load != sum(on_board.values()):
                    out.append(
                        Violation(
                            "reload_with_goods", f"reloads with {load} kg of deliveries still on board", ri
                        )
                    )
                if any(kg > 0 for kg in on_board.values()):
                    out.append(Violation("shipment_across_reload", "produce on board while reloading", ri))
                arrival = t + int(dur[prev, depot_loc])
                route_dist += int(dist[prev, depot_loc])
                start = max(arrival, depot.time_window.start, v.start_s)
                if v.start_s < max(arrival, depot.time_window.start):
                    out.append(
                        Violation("schedule_inconsistent", f"reload at {v.start_s}s, earliest {start}s", ri)
                    )
                if start > close_s:
                    out.append(Violation("late_arrival", f"reload at {start}s after closing {close_s}s", ri))
                t, prev = start + v.service_s, depot_loc
                load = trip_loads[trip] if trip < len(trip_loads) else 0
                if load > vt.capacity_kg:
                    out.append(
                        Violation(
                            "over_capacity",
                            f"trip {trip + 1} leaves with {load} kg > {vt.capacity_kg} kg",
                            ri,
                        )
                    )
                if v.amount_kg != load or v.load_after_kg != load:
                    out.append(
                        Violation(
                            "load_mismatch", f"reload says {v.amount_kg} kg, next trip needs {load}", ri
                        )
                    )
                continue
            # location must be the one of the referenced stop / shipment
            if v.kind == "delivery":
                stop = stops.get(v.ref)
                if stop is None:
                    out.append(Violation("unknown_stop", "visit to an unknown stop", ri, v.ref))
                    continue
                want_loc, window, min_service = ex.stop_loc[stop.id], stop.time_window, stop.service_s
                if stop.vehicle_types is not None and vt.name not in stop.vehicle_types:
                    out.append(
                        Violation(
                            "wrong_vehicle",
                            f"stop is locked to {sorted(stop.vehicle_types)}, served by {vt.name}",
                            ri,
                            v.ref,
                        )
                    )
                if stop.source_depot is not None and stop.source_depot != depot.id:
                    out.append(
                        Violation(
                            "wrong_source_depot",
                            f"goods are at {stop.source_depot}, truck comes from {depot.id}",
                            ri,
                            v.ref,
                        )
                    )
            else:
                sh = shipments.get(v.ref)
                if sh is None:
                    out.append(Violation("unknown_shipment", "visit for an unknown shipment", ri, v.ref))
                    continue
                shipment_route[sh.id].add(ri)
                if sh.vehicle_types is not None and vt.name not in sh.vehicle_types and v.kind == "pickup":
                    out.append(
                        Violation(
                            "wrong_vehicle",
                            f"shipment is locked to {sorted(sh.vehicle_types)}, carried by {vt.name}",
                            ri,
                            v.ref,
                        )
                    )
                if v.kind == "pickup":
                    origin = depots[sh.origin_depot]
                    want_loc = ex.depot_loc[origin.id]
                    window = sh.pickup_window or origin.time_window
                    min_service = sh.pickup_service_s
                else:
                    want_loc, window, min_service = (
                        ex.shipment_dest_loc[sh.id],
                        sh.delivery_window,
                        sh.delivery_service_s,
                    )
            if v.loc != want_loc:
                out.append(
                    Violation("wrong_location", f"visit at location {v.loc}, expected {want_loc}", ri, v.ref)
                )
            if v.amount_kg <= 0:
                out.append(Violation("non_positive_amount", f"amount {v.amount_kg} kg", ri, v.ref))
            if v.service_s < min_service:
                out.append(
                    Violation("short_service", f"service {v.service_s}s < required {min_service}s", ri, v.ref)
                )

            arrival = t + int(dur[prev, want_loc])
            route_dist += int(dist[prev, want_loc])
            start = max(arrival, window.start)
            if v.start_s > start:  # the plan may wait longer than needed; it may not start earlier
                start = v.start_s
            if v.start_s < start:
                out.append(
                    Violation(
                        "schedule_inconsistent",
                        f"plan starts service at {v.start_s}s but the earliest possible start is {start}s",
                        ri,
                        v.ref,
                    )
                )
            if start > window.end:
                out.append(
                    Violation(
                        "late_arrival",
                        f"service starts {start}s after the window closes ({window})",
                        ri,
                        v.ref,
                    )
                )
            t = start + v.service_s
            prev = want_loc

            if v.kind == "delivery":
                delivered[v.ref] += v.amount_kg
                load -= v.amount_kg
            elif v.kind == "pickup":
                picked[v.ref] += v.amount_kg
                on_board[v.ref] += v.amount_kg
                load += v.amount_kg
            else:
                if on_board[v.ref] < v.amount_kg:
                    out.append(
                        Violation(
                            "delivery_before_pickup",
                            f"drops {v.amount_kg} kg with only {on_board[v.ref]} kg picked up on this route",
                            ri,
                            v.ref,
                        )
                    )
                on_board[v.ref] -= v.amount_kg
                dropped[v.ref] += v.amount_kg
                load -= v.amount_kg
            if load > vt.capacity_kg:
                out.append(
                    Violation("over_capacity", f"load {load} kg > capacity {vt.capacity_kg} kg", ri, v.ref)
                )
            if load < 0:
                out.append(Violation("negative_load", f"load {load} kg", ri, v.ref))
            if v.load_after_kg != load:
                out.append(
                    Violation(
                        "load_mismatch", f"plan says {v.load_after_kg} kg, recomputed {load}", ri, v.ref
                    )
                )

        for ref, kg in on_board.items():
            if kg > 0:
                out.append(
                    Violation("pickup_not_delivered", f"{kg} kg picked up but never dropped off", ri, ref)
                )
        end = t + int(dur[prev, depot_loc])
        route_dist += int(dist[prev, depot_loc])
        if end > close_s:
            out.append(
                Violation("late_return", f"returns at {end}s after shift/depot closing {close_s}s", ri)
            )
        if route.end_s < end:
            out.append(
                Violation("schedule_inconsistent", f"plan returns at {route.end_s}s, earliest {end}s", ri)
            )
        duration = max(end, route.end_s) - route.start_s
        if vt.max_route_duration_s is not None and duration > vt.max_route_duration_s:
            out.append(
                Violation(
                    "max_duration_exceeded", f"route lasts {duration}s > {vt.max_route_duration_s}s", ri
                )
            )
        if route_dist != route.distance_m:
            out.append(
                Violation("distance_mismatch", f"plan says {route.distance_m} m, recomputed {route_dist}", ri)
            )
        if route.visits:
            cost = vt.fixed_cost + route_dist / 1000 * vt.cost_per_km + duration / 3600 * vt.cost_per_hour
            total_cost += cost
            if abs(cost - route.cost) > 0.01 + 1e-6 * cost:
                out.append(
                    Violation("cost_mismatch", f"plan says {route.cost:.2f}, recomputed {cost:.2f}", ri)
                )
        total_dist += route_dist

    # --- every stop / shipment served exactly ----------------------------------
    for stop in problem.stops:
        got = delivered.get(stop.id, 0)
        if got != stop.demand_kg:
            code = "not_served" if got == 0 else "wrong_amount"
            out.append(Violation(code, f"delivered {got} kg of {stop.demand_kg} kg", None, stop.id))
    for sid in delivered.keys() - stops.keys():
        out.append(Violation("unknown_stop", "delivery to a stop not in the problem", None, sid))
    for sh in problem.shipments:
        if picked.get(sh.id, 0) != sh.weight_kg or dropped.get(sh.id, 0) != sh.weight_kg:
            code = "not_served" if not picked.get(sh.id) and not dropped.get(sh.id) else "wrong_amount"
            out.append(
                Violation(
                    code,
                    f"picked {picked.get(sh.id, 0)} kg, dropped {dropped.get(sh.id, 0)} kg of {sh.weight_kg} kg",
                    None,
                    sh.id,
                )
            )
    if total_dist != plan.distance_m:
        out.append(
            Violation("distance_mismatch", f"plan total {plan.distance_m} m, recomputed {total_dist} m")
        )
    if abs(total_cost - plan.cost) > 0.01 * max(1, len(plan.routes)) + 1e-6 * total_cost:
        out.append(Violation("cost_mismatch", f"plan total {plan.cost:.2f}, recomputed {total_cost:.2f}"))
    return out

"""Delivery planning business logic: views, GraphQL and the Celery task call these.

Flow: :func:`create_plan` (vehicles + stops from ``delivery_requests()`` and/or given stops) →
:func:`plan_deliveries` (solve, independent check, save routes — or store explanations) →
:func:`lock_stop` / :func:`move_stop` / :func:`plan_deliveries` again (locks kept) →
:func:`publish_plan` (ETAs to stations by SMS, route sheets for drivers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from oscar.core.loading import get_model

from marketplace.core import jobs
from marketplace.core.extensions import DeliveryRequest, delivery_requests
from marketplace.core.sms import send_sms
from marketplace.stations.models import Station

from . import access
from .models import DeliveryPlan, Depot, PlanRoute, PlanStop, PlanVisit, Vehicle
from .routing.distances import MatrixError, build_matrices, provider_from_config
from .routing.feasibility import check_plan
from .routing.plan import InfeasibleProblem, Plan, PlanRejected, Reason
from .routing.problem import (
    DAY_END,
    Point,
    RoutingProblem,
    Shipment,
    Stop,
    TimeWindow,
    VehicleType,
    expand,
    fmt_hm,
)
from .routing.problem import (
    Depot as CoreDepot,
)
from .routing.solver import diagnose, solve

logger = logging.getLogger(__name__)

ROUTE_SHEET_SALT = "delivery_routing.route-sheet"


class PlanInfeasible(ValidationError):
    """A dispatcher action would make the plan infeasible; carries the explanations.

    A ValidationError (code ``infeasible`` on ``vehicle_id``), so GraphQL's BaseMutation reports it
    as typed errors like any other validation failure."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        super().__init__({"vehicle_id": [ValidationError(p["message"], code="infeasible") for p in problems]})


# --- settings → distance provider -----------------------------------------------------------


def matrix_provider():
    backend = getattr(settings, "ROUTING_MATRIX_PROVIDER", "haversine") or "haversine"
    if backend == "haversine":
        return provider_from_config(
            {
                "backend": "haversine",
                "detour_factor": float(getattr(settings, "ROUTING_DETOUR_FACTOR", 1.3)),
                "speed_kmh": float(getattr(settings, "ROUTING_AVERAGE_SPEED_KMH", 40.0)),
            }
        )
    url = getattr(settings, "ROUTING_MATRIX_URL", "")
    if not url:
        raise ValueError(f"ROUTING_MATRIX_PROVIDER={backend} needs ROUTING_MATRIX_URL")
    return provider_from_config({"backend": backend, "base_url": url})


def _seconds(t) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def max_solve_seconds(user: Any) -> float:
    """The longest solve this user may ask for (operators more than supplier/cooperative users)."""
    if access.permissions.is_operator(user):
        return float(getattr(settings, "ROUTING_MAX_SOLVE_SECONDS_OPERATOR", 120.0))
    return float(getattr(settings, "ROUTING_MAX_SOLVE_SECONDS_PARTNER", 30.0))


def solve_budget(user: Any, time_limit_s: float | None) -> float:
    """The time budget of a solve: the default, or the one asked for if within the role's cap."""
    cap = max_solve_seconds(user)
    if time_limit_s is None:
        return min(float(getattr(settings, "ROUTING_SOLVE_SECONDS", 10.0)), cap)
    budget = float(time_limit_s)
    if not (math.isfinite(budget) and 0 < budget <= cap):
        raise ValidationError(
            {
                "time_limit_seconds": ValidationError(
                    gettext("求解时限须大于 0 且不超过 %(cap)s 秒") % {"cap": f"{cap:g}"}, code="invalid"
                )
            }
        )
    return budget


# --- depots and stops -----------------------------------------------------------------------


def depot_for_request(req: DeliveryRequest) -> Depot:
    """The depot a request's goods leave from; created (and linked to the warehouse) on first use."""
    ref = f"{req.origin_kind}:{req.origin_id}"
    depot = Depot.objects.filter(external_ref=ref).first()
    if depot is not None:
        return depot
    warehouse = partner = None
    if req.origin_kind == "warehouse":
        Warehouse = get_model("partner", "Warehouse")
        warehouse = Warehouse.objects.filter(pk=req.origin_id).select_related("partner").first()
        if warehouse is not None and Depot.objects.filter(warehouse=warehouse).exists():
            return Depot.objects.get(warehouse=warehouse)
        partner = warehouse.partner if warehouse is not None else None
    kind = Depot.Kind.COLLECTION_POINT if req.origin_kind == "collection_point" else Depot.Kind.WAREHOUSE
    return Depot.objects.create(
        name=req.origin_name,
        kind=kind,
        external_ref=ref,
        warehouse=warehouse,
        partner=partner,
        latitude=Decimal(str(round(req.origin_lat, 6))),
        longitude=Decimal(str(round(req.origin_lon, 6))),
    )


def save_depot(user: Any, depot: Depot) -> Depot:
    """Create or update a depot the user dispatches for (operators: any; partners: their own)."""
    if not access.is_dispatcher(user):
        raise PermissionDenied(gettext("只有调度员可以管理仓库"))
    if depot.pk is not None and not access.depots_for(user).filter(pk=depot.pk).exists():
        raise PermissionDenied(gettext("无权修改该仓库"))
    if not access.permissions.is_operator(user):
        if (
            depot.partner_id is None
            or not access.dispatch_partners(user).filter(pk=depot.partner_id).exists()
        ):
            raise PermissionDenied(gettext("只能管理本单位的仓库"))
        if depot.kind == Depot.Kind.PLATFORM:
            raise PermissionDenied(gettext("只有平台可以设立平台配送中心"))
    depot.full_clean()
    depot.save()
    return depot


def warehouses_without_depot(user: Any) -> list[Any]:
    """The dispatcher's own partner warehouses (with a map pin) that are no depot yet: a supplier
    who added a warehouse in its centre starts dispatching from it with one click. Partner users
    only (operators see every partner and add platform depots by hand)."""
    if access.permissions.is_operator(user) or not access.is_dispatcher(user):
        return []
    Warehouse = get_model("partner", "Warehouse")
    linked = Depot.objects.filter(warehouse__isnull=False).values("warehouse_id")
    refs = Depot.objects.filter(external_ref__startswith="warehouse:").values_list("external_ref", flat=True)
    rows = (
        Warehouse.objects.filter(partner__in=access.dispatch_partners(user), is_active=True)
        .exclude(pk__in=linked)
        .exclude(latitude__isnull=True)
        .exclude(longitude__isnull=True)
        .order_by("name", "pk")
    )
    taken = set(refs)
    return [w for w in rows if f"warehouse:{w.pk}" not in taken]


def depot_from_warehouse(user: Any, warehouse_id: int) -> Depot:
    """Make one of the dispatcher's warehouses a depot (linked, so its purchase orders' loads are
    carried by its own trucks); the existing depot if it is one already."""
    Warehouse = get_model("partner", "Warehouse")
    warehouse = (
        Warehouse.objects.filter(pk=warehouse_id, partner__in=access.dispatch_partners(user))
        .select_related("partner")
        .first()
    )
    if warehouse is None:
        raise PermissionDenied(gettext("只能管理本单位的仓库"))
    existing = (
        Depot.objects.filter(warehouse=warehouse).first()
        or Depot.objects.filter(external_ref=f"warehouse:{warehouse.pk}").first()
    )
    if existing is not None:
        return existing
    if warehouse.latitude is None or warehouse.longitude is None:
        raise ValidationError(gettext("该仓库还没有地图位置，请先在供应商中心标注"), code="invalid")
    return save_depot(
        user,
        Depot(
            name=warehouse.name,
            kind=Depot.Kind.WAREHOUSE,
            partner=warehouse.partner,
            warehouse=warehouse,
            external_ref=f"warehouse:{warehouse.pk}",
            address=getattr(warehouse, "address", "") or "",
            latitude=warehouse.latitude,
            longitude=warehouse.longitude,
        ),
    )


def save_vehicle(user: Any, vehicle: Vehicle) -> Vehicle:
    """Create or update a vehicle based at a depot the user dispatches for."""
    if not access.is_dispatcher(user):
        raise PermissionDenied(gettext("只有调度员可以管理车辆"))
    if vehicle.pk is not None and not access.vehicles_for(user).filter(pk=vehicle.pk).exists():
        raise PermissionDenied(gettext("无权修改该车辆"))
    if not access.depots_for(user).filter(pk=vehicle.home_depot_id).exists():
        raise PermissionDenied(gettext("只能把车辆放在本单位的仓库"))
    vehicle.full_clean()
    vehicle.save()
    return vehicle


@dataclass
class StopInput:
    """A stop entered by the dispatcher directly (not from a plugin's delivery request)."""

    depot: Depot
    weight_kg: int
    station: Station | None = None
    name: str = ""
    latitude: float | None = None
    longitude: float | None = None
    service_minutes: int = 15
    window_start_s: int | None = None
    window_end_s: int | None = None
    contact: str = ""
    lines: Sequence[tuple[str, int]] = ()
    ref: str = ""


def _station_window(station: Station | None) -> tuple[int, int]:
    if station is None:
        return 0, DAY_END
    return _seconds(station.opens_at), _seconds(station.closes_at)


def _stop_kind(depot: Depot, vehicles: Sequence[Vehicle]) -> str:
    """Goods in a warehouse with its own trucks are loaded at departure (delivery); anything else
    — a collection point, a warehouse without trucks — is a pickup-and-delivery pair."""
    if depot.kind != Depot.Kind.COLLECTION_POINT and any(v.home_depot_id == depot.pk for v in vehicles):
        return PlanStop.Kind.DELIVERY
    return PlanStop.Kind.SHIPMENT


def _published_refs() -> set[str]:
    return set(
        PlanStop.objects.filter(plan__status=DeliveryPlan.Status.PUBLISHED).values_list("ref", flat=True)
    )


def create_plan(
    user: Any,
    day: date,
    *,
    name: str = "",
    vehicle_ids: Iterable[int] | None = None,
    partner: Any = None,
    include_requests: bool = True,
    stops: Sequence[StopInput] = (),
    time_limit_s: float | None = None,
    seed: int = 1,
) -> DeliveryPlan:
    """A new plan in status ``solving`` with its vehicles and stops (not solved yet).

    Supplier dispatchers plan only for their own partner: its depots' vehicles and the requests
    whose goods leave from its depots.  Requests already in a published plan are skipped.
    """
    if not access.is_dispatcher(user):
        raise PermissionDenied(gettext("只有调度员可以创建配送计划"))
    if partner is None and not access.permissions.is_operator(user):
        partner = access.dispatch_partners(user).first()
    if partner is not None and not access.dispatch_partners(user).filter(pk=partner.pk).exists():
        raise PermissionDenied(gettext("无权为该供应商排线"))
    vehicles_qs = access.vehicles_for(user).filter(is_active=True, home_depot__is_active=True)
    if partner is not None:
        vehicles_qs = vehicles_qs.filter(home_depot__partner=partner)
    if vehicle_ids is not None:
        ids = {int(v) for v in vehicle_ids}
        vehicles_qs = vehicles_qs.filter(pk__in=ids)
        if vehicles_qs.count() != len(ids):
            raise ValidationError(
                {"vehicle_ids": ValidationError(gettext("车辆不存在或无权使用"), code="not_found")}
            )
    vehicles = list(vehicles_qs.select_related("home_depot"))
    if not vehicles:
        raise ValidationError({"vehicle_ids": ValidationError(gettext("没有可用车辆"), code="required")})
    budget = solve_budget(user, time_limit_s)

    plan = DeliveryPlan.objects.create(
        name=name, date=day, partner=partner, created_by=user, time_limit_s=budget, seed=seed
    )
    plan.vehicles.set(vehicles)

    published = _published_refs()
    used: set[str] = set()
    if include_requests:
        for req in delivery_requests(ready_by=day):
            if req.ref in published or req.ref in used:
                continue
            depot = depot_for_request(req)
            if partner is not None and depot.partner_id != partner.pk:
                continue
            station = None
            if req.destination_kind == "station":
                station = Station.objects.filter(pk=req.destination_id).first()
            start, end = _station_window(station)
            if req.window_start is not None:
                start = _seconds(req.window_start)
            if req.window_end is not None:
                end = _seconds(req.window_end)
            PlanStop.objects.create(
                plan=plan,
                kind=_stop_kind(depot, vehicles),
                ref=req.ref,
                source=req.source,
                depot=depot,
                station=station,
                name=req.destination_name,
                latitude=Decimal(str(round(req.destination_lat, 6))),
                longitude=Decimal(str(round(req.destination_lon, 6))),
                weight_kg=math.ceil(req.weight_kg),
                window_start_s=start,
                window_end_s=end,
                service_minutes=req.service_minutes,
                contact=req.contact,
                address=station.address if station is not None else "",
                lines=[list(line) for line in req.lines],
            )
            used.add(req.ref)
    for i, item in enumerate(stops, start=1):
        add_stop(plan, item, vehicles=vehicles, default_ref=f"manual:{plan.pk}:{i}")
    return plan


def add_stop(
    plan: DeliveryPlan, item: StopInput, vehicles: Sequence[Vehicle] | None = None, default_ref: str = ""
) -> PlanStop:
    if item.weight_kg <= 0:
        raise ValidationError({"weight_kg": ValidationError(gettext("重量必须大于 0"), code="invalid")})
    if plan.partner_id is not None and item.depot.partner_id != plan.partner_id:
        raise PermissionDenied(gettext("发货仓库不属于该供应商"))
    station = item.station
    lat = item.latitude if item.latitude is not None else (station.latitude if station else None)
    lon = item.longitude if item.longitude is not None else (station.longitude if station else None)
    if lat is None or lon is None:
        raise ValidationError({"station_id": ValidationError(gettext("需要站点或坐标"), code="required")})
    start, end = _station_window(station)
    start = item.window_start_s if item.window_start_s is not None else start
    end = item.window_end_s if item.window_end_s is not None else end
    if end < start:
        raise ValidationError({"window_end": ValidationError(gettext("时间窗结束早于开始"), code="invalid")})
    vehicles = vehicles if vehicles is not None else list(plan.vehicles.all())
    return PlanStop.objects.create(
        plan=plan,
        kind=_stop_kind(item.depot, vehicles),
        ref=item.ref or default_ref or f"manual:{plan.pk}:{PlanStop.objects.filter(plan=plan).count() + 1}",
        source="manual",
        depot=item.depot,
        station=station,
        name=item.name or (station.name if station else "送货点"),
        latitude=Decimal(str(lat)),
        longitude=Decimal(str(lon)),
        weight_kg=item.weight_kg,
        window_start_s=start,
        window_end_s=end,
        service_minutes=item.service_minutes,
        contact=item.contact or (station.phone if station else ""),
        address=station.address if station else "",
        lines=[list(line) for line in item.lines],
    )


# --- problem building and solving -----------------------------------------------------------


def _point(lat, lon) -> Point:
    return Point(float(lat), float(lon))


def build_problem(plan: DeliveryPlan) -> tuple[RoutingProblem, list[Reason]]:
    """The routing-core problem for a plan, plus reasons found before solving (closed stations)."""
    vehicles = list(plan.vehicles.select_related("home_depot").order_by("pk"))
    stops = list(plan.stops.select_related("depot", "station").order_by("pk"))
    depots: dict[int, Depot] = {v.home_depot_id: v.home_depot for v in vehicles}
    for s in stops:
        depots.setdefault(s.depot_id, s.depot)
    core_depots = [
        CoreDepot(
            f"D{d.pk}",
            d.name,
            _point(d.latitude, d.longitude),
            TimeWindow(_seconds(d.opens_at), _seconds(d.closes_at)),
        )
        for d in sorted(depots.values(), key=lambda d: d.pk)
    ]
    types = [
        VehicleType(
            name=f"V{v.pk}",
            capacity_kg=v.capacity_kg,
            num_available=1,
            home_depot=f"D{v.home_depot_id}",
            fixed_cost=float(v.fixed_cost),
            cost_per_km=float(v.cost_per_km),
            shift=TimeWindow(_seconds(v.shift_start), _seconds(v.shift_end)),
            max_route_duration_s=v.max_route_minutes * 60 if v.max_route_minutes else None,
            max_reloads=v.max_reloads,
        )
        for v in vehicles
    ]
    vehicle_ids = {v.pk for v in vehicles}
    core_stops: list[Stop] = []
    shipments: list[Shipment] = []
    reasons: list[Reason] = []
    weekday = str(plan.date.isoweekday())
    for s in stops:
        lock = None
        if s.locked_vehicle_id is not None:
            lock = (
                frozenset({f"V{s.locked_vehicle_id}"}) if s.locked_vehicle_id in vehicle_ids else frozenset()
            )
        window = TimeWindow(s.window_start_s, s.window_end_s)
        service = s.service_minutes * 60
        if s.station is not None and weekday not in s.station.open_weekdays:
            reasons.append(
                Reason(
                    f"S{s.pk}",
                    "station_closed",
                    f"站点「{s.name}」{plan.date:%m月%d日}不营业（营业日 {s.station.open_weekdays}）。",
                    "station closed on the plan date",
                )
            )
        if lock == frozenset():
            reasons.append(
                Reason(f"S{s.pk}", "locked_vehicle_unusable", f"「{s.name}」锁定的车辆不在本计划中。", "")
            )
            lock = None
        if s.kind == PlanStop.Kind.DELIVERY:
            core_stops.append(
                Stop(
                    f"S{s.pk}",
                    s.name,
                    _point(s.latitude, s.longitude),
                    s.weight_kg,
                    window,
                    service,
                    source_depot=f"D{s.depot_id}",
                    vehicle_types=lock,
                )
            )
        else:
            shipments.append(
                Shipment(
                    f"S{s.pk}",
                    s.name,
                    origin_depot=f"D{s.depot_id}",
                    destination=_point(s.latitude, s.longitude),
                    weight_kg=s.weight_kg,
                    delivery_window=window,
                    pickup_service_s=service,
                    delivery_service_s=service,
                    vehicle_types=lock,
                )
            )
    problem = RoutingProblem(core_depots, types, core_stops, shipments, name=f"plan-{plan.pk}")
    return problem, reasons


def _problems(plan: DeliveryPlan, reasons: Iterable[Reason]) -> list[dict[str, Any]]:
    names = dict(plan.stops.values_list("pk", "name"))
    out = []
    for r in reasons:
        pk = int(r.stop_id[1:]) if r.stop_id and r.stop_id.startswith("S") else None
        out.append(
            {
                "stop": pk,
                "stop_name": names.get(pk, ""),
                "code": r.code,
                "message": r.message,
                "detail": r.detail,
            }
        )
    return out


def _clear_solution(plan: DeliveryPlan) -> None:
    plan.stops.update(route=None, eta_s=None)
    plan.routes.all().delete()
    plan.cost = plan.distance_m = plan.duration_s = None


def _save_solution(plan: DeliveryPlan, result: Plan) -> None:
    _clear_solution(plan)
    stops = {f"S{s.pk}": s for s in plan.stops.all()}
    for number, route in enumerate(result.routes, start=1):
        vehicle_id = int(route.vehicle_type[1:])
        row = PlanRoute.objects.create(
            plan=plan,
            number=number,
            vehicle_id=vehicle_id,
            depot_id=int(route.depot_id[1:]),
            start_s=route.start_s,
            end_s=route.end_s,
            start_load_kg=route.start_load_kg,
            distance_m=route.distance_m,
            duration_s=route.duration_s,
            cost=Decimal(str(round(route.cost, 2))),
        )
        visits = []
        trip = 1
        for seq, v in enumerate(route.visits, start=1):
            if v.kind == "reload":
                trip += 1
            stop = stops[v.ref] if v.kind != "reload" else None
            visits.append(
                PlanVisit(
                    route=row,
                    stop=stop,
                    trip=trip,
                    sequence=seq,
                    kind=v.kind,
                    amount_kg=v.amount_kg,
                    arrival_s=v.arrival_s,
                    start_s=v.start_s,
                    departure_s=v.departure_s,
                    load_after_kg=v.load_after_kg,
                )
            )
            if (
                stop is not None
                and v.kind in ("delivery", "dropoff")
                and (stop.eta_s is None or v.start_s < stop.eta_s)
            ):
                stop.eta_s, stop.route = v.start_s, row
        PlanVisit.objects.bulk_create(visits)
    PlanStop.objects.bulk_update(list(stops.values()), ["eta_s", "route"])
    plan.cost = Decimal(str(round(result.cost, 2)))
    plan.distance_m = result.distance_m
    plan.duration_s = result.duration_s
    plan.matrix_provider = result.matrix_provider


def plan_deliveries(
    plan: DeliveryPlan | int,
    *,
    time_limit_s: float | None = None,
    seed: int | None = None,
    raise_infeasible: bool = False,
) -> DeliveryPlan:
    """Solve a plan (locked stops stay on their vehicle) and save the result.

    Every solver plan is re-checked by the independent feasibility checker before it is saved.
    An infeasible request is saved as status ``infeasible`` with ``problems`` naming the stops and
    the reasons (or raised as :class:`PlanInfeasible` with ``raise_infeasible``); routes are then
    cleared — never a partial plan.
    """
    if not isinstance(plan, DeliveryPlan):
        plan = DeliveryPlan.objects.get(pk=plan)
    if plan.status == DeliveryPlan.Status.PUBLISHED:
        raise ValidationError(gettext("已发布的计划不能重新排线"), code="invalid_state")
    budget = float(time_limit_s or plan.time_limit_s)
    seed = plan.seed if seed is None else seed
    problem, pre_reasons = build_problem(plan)
    provider = matrix_provider()
    status, problems, result = DeliveryPlan.Status.DRAFT, [], None
    try:
        matrices = build_matrices(expand(problem).points, provider, cache)
        if pre_reasons:
            raise InfeasibleProblem(pre_reasons + diagnose(problem, matrices))
        result = solve(problem, time_limit_s=budget, seed=seed, matrices=matrices)
        violations = check_plan(problem, result, matrices)
        if violations:  # solve() checks too; this is the gate in front of the database
            raise PlanRejected(violations)
    except InfeasibleProblem as exc:
        status, problems = DeliveryPlan.Status.INFEASIBLE, _problems(plan, exc.reasons)
    except PlanRejected as exc:
        logger.error("delivery plan %s rejected by the checker: %s", plan.pk, exc)
        status = DeliveryPlan.Status.FAILED
        problems = [
            {
                "stop": None,
                "stop_name": "",
                "code": "plan_rejected",
                "message": "方案未通过可行性校验。",
                "detail": str(v),
            }
            for v in exc.violations
        ]
    except MatrixError as exc:
        status = DeliveryPlan.Status.FAILED
        problems = [
            {
                "stop": None,
                "stop_name": "",
                "code": "matrix_error",
                "message": "路网距离服务不可用。",
                "detail": str(exc),
            }
        ]
    if raise_infeasible and status != DeliveryPlan.Status.DRAFT:
        raise PlanInfeasible(problems)
    with transaction.atomic():
        if result is not None:
            _save_solution(plan, result)
        else:
            _clear_solution(plan)
        plan.status, plan.problems, plan.solved_at = status, problems, timezone.now()
        plan.job_status = (
            DeliveryPlan.Job.DONE if status != DeliveryPlan.Status.FAILED else DeliveryPlan.Job.FAILED
        )
        # Every field but the heartbeat, which the solve's heartbeat thread owns.
        plan.save(
            update_fields=[
                f.name for f in plan._meta.concrete_fields if f.name not in ("id", "job_heartbeat_at")
            ]
        )
    return plan


def request_solve(plan: DeliveryPlan, user: Any = None, time_limit_s: float | None = None) -> DeliveryPlan:
    """Queue a (re-)solve of a plan as a background task; the plan shows ``job_status`` queued →
    running → done/failed and ``status`` solving until the task saves the result.

    ``time_limit_s`` (if given) is checked against the user's cap and stored as the plan's budget.
    With a broker the Celery task is queued after the commit; without one it runs in a thread of
    this process after the commit (``ROUTING_SOLVE_IN_THREAD``), or at once inside the request
    when that is off (tests).
    """
    with transaction.atomic():
        plan = DeliveryPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.is_solving and not plan.job_stale:
            raise ValidationError(gettext("计划正在求解，请稍候"), code="invalid_state")
        if plan.status == DeliveryPlan.Status.PUBLISHED:
            raise ValidationError(gettext("已发布的计划不能重新排线"), code="invalid_state")
        fields = ["status"]
        if time_limit_s is not None:
            plan.time_limit_s = solve_budget(user, time_limit_s)
            fields.append("time_limit_s")
        plan.status = DeliveryPlan.Status.SOLVING
        plan.save(update_fields=[*fields, *jobs.mark_queued(plan)])
        _enqueue(plan.pk)
    plan.refresh_from_db()
    return plan


def _enqueue(plan_id: int) -> None:
    from .tasks import solve_plan

    jobs.enqueue(DeliveryPlan, solve_plan, plan_id)


def run_solve_job(plan_id: int) -> str:
    """The body of the Celery task: claim a queued plan (once), solve it, record the outcome.

    While it solves, a heartbeat thread touches ``job_heartbeat_at``; if this process dies, the
    heartbeat stops and :func:`resume_stale_solves` queues the plan again."""
    if not jobs.claim(DeliveryPlan, plan_id):  # already run (a redelivered task) or the plan is gone
        return DeliveryPlan.objects.filter(pk=plan_id).values_list("status", flat=True).first() or ""
    with jobs.heartbeat(DeliveryPlan, plan_id):
        try:
            return plan_deliveries(plan_id).status
        except Exception:
            logger.exception("delivery plan %s: solve failed", plan_id)
            _fail_job(plan_id, "solver_error", "求解出错，请重新排线或联系平台。")
            return DeliveryPlan.Status.FAILED


def _fail_job(plan_id: int, code: str, message: str) -> None:
    jobs.fail(
        DeliveryPlan,
        plan_id,
        status=DeliveryPlan.Status.FAILED,
        solved_at=timezone.now(),
        problems=[{"stop": None, "stop_name": "", "code": code, "message": message, "detail": ""}],
    )


#: A solve that lost its process this many times is given up (it may be what kills the process).
MAX_SOLVE_ATTEMPTS = 3


def resume_stale_solves(plans: Iterable[DeliveryPlan] | None = None) -> list[int]:
    """Queue again every solve whose process died (see ``JobFields.job_stale``): a restart of
    the web process that solved in a thread, a killed worker, a task lost by the broker.

    Called by the periodic task every minute, and by the plan page and its status poll for their
    plan, so a dispatcher waiting on the page sees the solve resume within seconds. A solve that
    already lost its process ``MAX_SOLVE_ATTEMPTS`` times is marked failed instead. Returns the
    ids of the plans queued again."""
    return jobs.resume_stale(
        DeliveryPlan,
        plans,
        requeue=_enqueue,
        give_up=lambda plan: _fail_job(
            plan.pk, "solver_interrupted", "求解进程多次中断，请缩短求解时限后重新排线，或联系平台。"
        ),
        max_attempts=MAX_SOLVE_ATTEMPTS,
    )


def solve_progress(plan: DeliveryPlan) -> dict[str, Any]:
    """What the plan page polls: status, job state, seconds used of the budget."""
    elapsed = plan.job_elapsed_s
    return {
        "id": plan.pk,
        "status": plan.status,
        "status_label": plan.get_status_display(),
        "job_status": plan.job_status,
        "job_label": plan.get_job_status_display() if plan.job_status else "",
        "solving": plan.is_solving,
        "elapsed_s": round(elapsed, 1),
        "budget_s": plan.time_limit_s,
        "percent": min(99, int(100 * elapsed / plan.time_limit_s)) if plan.time_limit_s else 0,
        "note": resumed_note(plan),
    }


def resumed_note(plan: DeliveryPlan) -> str:
    """What the progress card says when the solve was resumed after its process died."""
    if not plan.job_resumed:
        return ""
    attempt = plan.job_attempts + (1 if plan.job_status == DeliveryPlan.Job.QUEUED else 0)
    return gettext("上次求解的进程已中断，已自动重新开始（第 %(n)s 次）") % {"n": attempt}


# --- dispatcher actions ---------------------------------------------------------------------


def _editable(plan: DeliveryPlan) -> None:
    if not plan.is_editable:
        raise ValidationError(gettext("计划已发布或正在求解，不能修改"), code="invalid_state")


def lock_stop(stop: PlanStop, locked: bool = True) -> PlanStop:
    """Lock a stop to the vehicle that serves it now (or unlock it)."""
    _editable(stop.plan)
    if not locked:
        stop.locked_vehicle = None
    else:
        vehicles = set(
            PlanVisit.objects.filter(stop=stop).values_list("route__vehicle_id", flat=True).distinct()
        )
        if not vehicles:
            raise ValidationError(
                {"stop_id": ValidationError(gettext("该站点尚未排入线路"), code="invalid_state")}
            )
        if len(vehicles) > 1:
            raise ValidationError(
                {
                    "stop_id": ValidationError(
                        gettext("该站点由多辆车分批配送，不能锁定到一辆车"), code="invalid"
                    )
                }
            )
        stop.locked_vehicle_id = vehicles.pop()
    stop.save(update_fields=["locked_vehicle"])
    return stop


def move_stop(stop: PlanStop, vehicle: Vehicle, reoptimise: bool = True) -> PlanStop:
    """Move a stop to another vehicle's route (locking it there) and re-optimise the rest.

    Raises :class:`PlanInfeasible` (and changes nothing, the caller's transaction rolls back)
    when the move makes the plan infeasible.
    """
    plan = stop.plan
    _editable(plan)
    if not plan.vehicles.filter(pk=vehicle.pk).exists():
        raise ValidationError({"vehicle_id": ValidationError(gettext("该车辆不在本计划中"), code="invalid")})
    if stop.kind == PlanStop.Kind.DELIVERY and vehicle.home_depot_id != stop.depot_id:
        raise ValidationError(
            {
                "vehicle_id": ValidationError(
                    gettext("货物在%(depot)s，该车辆不从这里出发") % {"depot": stop.depot.name},
                    code="invalid",
                )
            }
        )
    if vehicle.capacity_kg < stop.weight_kg:
        raise ValidationError(
            {
                "vehicle_id": ValidationError(
                    gettext("车辆载重 %(capacity)s kg 小于货重 %(weight)s kg")
                    % {"capacity": vehicle.capacity_kg, "weight": stop.weight_kg},
                    code="invalid",
                )
            }
        )
    with transaction.atomic():
        stop.locked_vehicle = vehicle
        stop.save(update_fields=["locked_vehicle"])
        if reoptimise:  # at once (the move is refused if infeasible), on a short budget
            budget = min(plan.time_limit_s, float(getattr(settings, "ROUTING_MOVE_SOLVE_SECONDS", 3.0)))
            plan_deliveries(plan, time_limit_s=budget, raise_infeasible=True)
    stop.refresh_from_db()
    return stop


@transaction.atomic
def publish_plan(plan: DeliveryPlan, user: Any) -> DeliveryPlan:
    """Publish a draft: stations get their ETA by SMS (deduplicated), drivers their route sheet."""
    plan = DeliveryPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != DeliveryPlan.Status.DRAFT:
        raise ValidationError(gettext("只有可行的草稿计划可以发布"), code="invalid_state")
    if not plan.routes.exists():
        raise ValidationError(gettext("计划中没有线路"), code="invalid_state")
    refs = list(plan.stops.values_list("ref", flat=True))
    clash = (
        PlanStop.objects.filter(plan__status=DeliveryPlan.Status.PUBLISHED, ref__in=refs)
        .exclude(plan=plan)
        .values_list("name", flat=True)
    )
    if clash:
        raise ValidationError(
            gettext("以下货物已在其他已发布计划中：%(names)s") % {"names": gettext("、").join(clash)},
            code="invalid_state",
        )
    plan.status = DeliveryPlan.Status.PUBLISHED
    plan.published_at, plan.published_by = timezone.now(), user
    plan.save(update_fields=["status", "published_at", "published_by"])

    routes = list(plan.routes.select_related("vehicle", "depot"))
    for stop in plan.stops.select_related("station", "route__vehicle").exclude(station=None):
        if not stop.station.phone or stop.eta_s is None:
            continue
        vehicle = stop.route.vehicle if stop.route else None
        driver = (
            f"，司机{vehicle.driver_name} {vehicle.driver_phone}" if vehicle and vehicle.driver_name else ""
        )
        text = (
            f"【益农直采】{stop.station.name}：{plan.date:%m月%d日}送货 {stop.weight_kg} kg，"
            f"预计 {fmt_hm(stop.eta_s)} 到达（时间窗 {stop.window}），车辆 {vehicle.plate if vehicle else ''}{driver}。"
        )
        send_sms(stop.station.phone, text, dedupe_key=f"routing:plan:{plan.pk}:stop:{stop.pk}:eta")
    for route in routes:
        if not route.vehicle.driver_phone:
            continue
        n = route.visits.exclude(kind=PlanVisit.Kind.RELOAD).count()
        trips = route.visits.filter(kind=PlanVisit.Kind.RELOAD).count() + 1
        text = (
            f"【益农直采】{plan.date:%m月%d日}线路{route.number}：{route.start} 从{route.depot.name}出发，"
            f"共 {n} 站{f'（{trips} 趟，中途回仓装货）' if trips > 1 else ''}。路线单：{route_sheet_url(route)}"
        )
        send_sms(
            route.vehicle.driver_phone, text, dedupe_key=f"routing:plan:{plan.pk}:route:{route.pk}:driver"
        )
    return plan


# --- route sheets -------------------------------------------------------------------------------


def route_sheet_token(route: PlanRoute) -> str:
    return signing.dumps({"route": route.pk}, salt=ROUTE_SHEET_SALT)


def route_from_token(token: str, max_age_days: int = 14) -> PlanRoute | None:
    try:
        data = signing.loads(token, salt=ROUTE_SHEET_SALT, max_age=max_age_days * 86400)
    except signing.BadSignature:
        return None
    return PlanRoute.objects.filter(pk=data.get("route"), plan__status=DeliveryPlan.Status.PUBLISHED).first()


def route_sheet_url(route: PlanRoute) -> str:
    """Link a driver can open without an account (signed, published plans only)."""
    path = reverse("routing:route-sheet", args=[route.plan_id, route.pk]) + f"?t={route_sheet_token(route)}"
    base = getattr(settings, "ROUTING_PUBLIC_URL", "").rstrip("/")
    return f"{base}{path}"


def route_sheet_context(route: PlanRoute) -> dict[str, Any]:
    visits = list(route.visits.select_related("stop__depot", "stop__station").order_by("sequence"))
    rows = []
    for v in visits:
        stop = v.stop
        if v.kind == PlanVisit.Kind.RELOAD:
            rows.append(
                {
                    "visit": v,
                    "place": route.depot.name,
                    "address": route.depot.address,
                    "window": route.depot.opening_hours,
                    "lines": [],
                    "contact": route.depot.contact_phone,
                }
            )
            continue
        pickup = v.kind == PlanVisit.Kind.PICKUP
        contact = stop.contact or (stop.station.phone if stop.station else "")
        address = stop.address or (stop.station.address if stop.station else "")
        rows.append(
            {
                "visit": v,
                "place": v.place,
                "address": stop.depot.address if pickup else address,
                "window": route.depot.opening_hours if pickup else stop.window,
                "lines": stop.lines,
                "contact": stop.depot.contact_phone if pickup else contact,
            }
        )
    unloads = (PlanVisit.Kind.DELIVERY, PlanVisit.Kind.DROPOFF)
    return {
        "plan": route.plan,
        "route": route,
        "vehicle": route.vehicle,
        "depot": route.depot,
        "rows": rows,
        "trips": max((v.trip for v in visits), default=1),
        "total_kg": sum(v.amount_kg for v in visits if v.kind in unloads),
        "generated_at": timezone.localtime(),
    }


def route_sheet_pdf(route: PlanRoute) -> bytes:
    from marketplace.core.documents import render_pdf

    return render_pdf("delivery_routing/route_sheet.html", route_sheet_context(route))


def upcoming_station_stops(user: Any):
    today = timezone.localdate()
    return (
        access.station_stops_for(user)
        .filter(plan__date__gte=today)
        .select_related("plan", "station", "route__vehicle", "depot")
        .order_by("plan__date", "eta_s", "pk")
    )

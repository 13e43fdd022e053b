"""GraphQL API of the delivery planner, contributed through the plugin hooks.

Queries: ``deliveryPlans``, ``deliveryPlan(id)``, ``stationDeliveries``.  Mutations: ``planCreate``,
``stopLock``, ``stopMove``, ``planReoptimise``, ``planPublish`` — each returns
``errors { field code message }`` (the core ``ErrorCode``; ``INFEASIBLE`` when a change cannot be planned).
"""

from __future__ import annotations

from typing import Any

import graphene
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext

from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.core.types import page, page_args
from marketplace.stations.models import Station

from . import access, services
from .mapsvg import render_plan_svg
from .models import DeliveryPlan, PlanRoute, PlanStop, PlanVisit
from .routing.problem import fmt_hm

# --- types ------------------------------------------------------------------------------------


class DepotType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(required=True)
    latitude = graphene.Float(required=True)
    longitude = graphene.Float(required=True)
    opening_hours = graphene.String(required=True)

    class Meta:
        name = "RoutingDepot"


class VehicleType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    plate = graphene.String(required=True)
    capacity_kg = graphene.Int(required=True)
    driver_name = graphene.String(required=True)

    class Meta:
        name = "RoutingVehicle"


class StopType(graphene.ObjectType):
    id = graphene.ID(required=True)
    ref = graphene.String(required=True)
    kind = graphene.String(
        required=True, description="delivery (from the truck's depot) or shipment (pickup-and-delivery)."
    )
    name = graphene.String(required=True)
    station_id = graphene.ID()
    depot = graphene.Field(DepotType, required=True)
    weight_kg = graphene.Int(required=True)
    window_start = graphene.String(required=True)
    window_end = graphene.String(required=True)
    service_minutes = graphene.Int(required=True)
    eta = graphene.String(description="Planned service start HH:MM; null until planned.")
    eta_at = graphene.DateTime()
    route_number = graphene.Int()
    locked_vehicle = graphene.Field(VehicleType)
    lines = graphene.List(graphene.NonNull(graphene.String), required=True)

    class Meta:
        name = "DeliveryStop"

    @staticmethod
    def resolve_window_start(stop, info):
        return fmt_hm(stop.window_start_s)

    @staticmethod
    def resolve_window_end(stop, info):
        return fmt_hm(stop.window_end_s)

    @staticmethod
    def resolve_eta(stop, info):
        return stop.eta or None

    @staticmethod
    def resolve_eta_at(stop, info):
        return stop.eta_at

    @staticmethod
    def resolve_route_number(stop, info):
        return stop.route.number if stop.route_id else None

    @staticmethod
    def resolve_lines(stop, info):
        return [f"{d} ×{q}" for d, q in stop.lines]


class VisitType(graphene.ObjectType):
    sequence = graphene.Int(required=True)
    kind = graphene.String(required=True, description="delivery, pickup or dropoff")
    stop = graphene.Field(StopType, required=True)
    place = graphene.String(required=True)
    amount_kg = graphene.Int(required=True)
    arrival = graphene.String(required=True)
    service_start = graphene.String(required=True)
    departure = graphene.String(required=True)
    load_after_kg = graphene.Int(required=True)

    class Meta:
        name = "DeliveryVisit"

    @staticmethod
    def resolve_service_start(visit, info):
        return visit.start


class RouteType(graphene.ObjectType):
    id = graphene.ID(required=True)
    number = graphene.Int(required=True)
    vehicle = graphene.Field(VehicleType, required=True)
    depot = graphene.Field(DepotType, required=True)
    start = graphene.String(required=True)
    end = graphene.String(required=True)
    start_load_kg = graphene.Int(required=True)
    distance_km = graphene.Float(required=True)
    cost = graphene.Decimal(required=True)
    visits = graphene.List(graphene.NonNull(VisitType), required=True)
    route_sheet_url = graphene.String(required=True, description="PDF route sheet (dispatcher session).")

    class Meta:
        name = "DeliveryRoute"

    @staticmethod
    def resolve_distance_km(route, info):
        return round(route.distance_m / 1000, 2)

    @staticmethod
    def resolve_visits(route, info):
        return route.visits.all()

    @staticmethod
    def resolve_route_sheet_url(route, info):
        from django.urls import reverse

        return reverse("routing:route-sheet", args=[route.plan_id, route.pk])


class PlanProblemType(graphene.ObjectType):
    stop_id = graphene.ID()
    stop_name = graphene.String(required=True)
    code = graphene.String(required=True)
    message = graphene.String(required=True)

    class Meta:
        name = "DeliveryPlanProblem"


class PlanType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    date = graphene.Date(required=True)
    status = graphene.String(required=True, description="solving, draft, infeasible, failed, published")
    status_label = graphene.String(required=True)
    cost = graphene.Decimal()
    distance_km = graphene.Float()
    partner_id = graphene.ID()
    routes = graphene.List(graphene.NonNull(RouteType), required=True)
    stops = graphene.List(graphene.NonNull(StopType), required=True)
    problems = graphene.List(
        graphene.NonNull(PlanProblemType),
        required=True,
        description="Why the plan is infeasible (stops and reasons).",
    )
    map_svg = graphene.String(required=True, description="Server-rendered SVG map (no online tiles).")
    published_at = graphene.DateTime()

    class Meta:
        name = "DeliveryPlan"

    @staticmethod
    def resolve_name(plan, info):
        return str(plan)

    @staticmethod
    def resolve_status_label(plan, info):
        return plan.get_status_display()

    @staticmethod
    def resolve_distance_km(plan, info):
        return None if plan.distance_m is None else round(plan.distance_m / 1000, 2)

    @staticmethod
    def resolve_routes(plan, info):
        return plan.routes.all()

    @staticmethod
    def resolve_stops(plan, info):
        return plan.stops.all()

    @staticmethod
    def resolve_problems(plan, info):
        return [
            PlanProblemType(
                stop_id=p.get("stop"), stop_name=p.get("stop_name", ""), code=p["code"], message=p["message"]
            )
            for p in plan.problems
        ]

    @staticmethod
    def resolve_map_svg(plan, info):
        return render_plan_svg(plan)


class PlanPage(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(PlanType), required=True)
    total_count = graphene.Int(required=True)

    class Meta:
        name = "DeliveryPlanPage"


STOP_RELATED = ("depot", "locked_vehicle", "route", "plan")


def plan_queryset(user):
    stops = PlanStop.objects.select_related(*STOP_RELATED).order_by("pk")
    visits = PlanVisit.objects.select_related(
        "stop__depot", "stop__locked_vehicle", "stop__route", "stop__plan"
    )
    routes = PlanRoute.objects.select_related("vehicle", "depot").prefetch_related(
        Prefetch("visits", queryset=visits.order_by("sequence"))
    )
    return access.plans_for(user).prefetch_related(
        Prefetch("routes", queryset=routes.order_by("number")), Prefetch("stops", queryset=stops)
    )


class RoutingQueries(graphene.ObjectType):
    delivery_plans = graphene.Field(PlanPage, required=True, status=graphene.String(), **page_args())
    delivery_plan = graphene.Field(PlanType, id=graphene.ID(required=True))
    station_deliveries = graphene.List(
        graphene.NonNull(StopType), required=True, description="Published upcoming deliveries to my stations."
    )

    @staticmethod
    def resolve_delivery_plans(root, info, status=None, first=None, offset=None):
        qs = plan_queryset(info.context.user).order_by("-date", "-pk")
        if status:
            qs = qs.filter(status=status)
        items, total = page(qs, first, offset)
        return PlanPage(items=items, total_count=total)

    @staticmethod
    def resolve_delivery_plan(root, info, id):
        return plan_queryset(info.context.user).filter(pk=id).first()

    @staticmethod
    def resolve_station_deliveries(root, info):
        return services.upcoming_station_stops(info.context.user).select_related("locked_vehicle")[:100]


# --- mutations --------------------------------------------------------------------------------


class StopInputType(graphene.InputObjectType):
    station_id = graphene.ID(required=True)
    depot_id = graphene.ID(required=True)
    weight_kg = graphene.Int(required=True)
    service_minutes = graphene.Int()
    lines = graphene.List(graphene.NonNull(graphene.String))

    class Meta:
        name = "DeliveryStopInput"


class PlanCreateInput(graphene.InputObjectType):
    date = graphene.Date(required=True)
    name = graphene.String()
    vehicle_ids = graphene.List(graphene.NonNull(graphene.ID), description="Default: all my active vehicles.")
    include_requests = graphene.Boolean(description="Take loads from delivery_requests() (default true).")
    stops = graphene.List(graphene.NonNull(StopInputType), description="Stops entered directly.")
    time_limit_seconds = graphene.Float()
    seed = graphene.Int()

    class Meta:
        name = "DeliveryPlanCreateInput"


def _my_plan(info, plan_id) -> DeliveryPlan:
    user = info.context.user
    return access.plans_for(user).select_for_update().get(pk=plan_id)


def _my_stop(info, stop_id) -> PlanStop:
    user = info.context.user
    return PlanStop.objects.select_related("plan", "depot").get(pk=stop_id, plan__in=access.plans_for(user))


class PlanCreate(BaseMutation):
    """Create a plan from the waiting loads (and/or given stops) and solve it within its time budget."""

    class Meta:
        permissions = (access.DISPATCH,)

    class Arguments:
        input = PlanCreateInput(required=True)

    plan = graphene.Field(PlanType)

    @classmethod
    def perform(cls, info, input) -> dict[str, Any]:
        user = info.context.user
        stops = []
        for item in input.get("stops") or []:
            station = Station.objects.filter(pk=item["station_id"], is_active=True).first()
            if station is None:
                raise ValidationError({"stops": ValidationError(gettext("站点不存在"), code="not_found")})
            depot = access.depots_for(user).filter(pk=item["depot_id"]).first()
            if depot is None:
                raise ValidationError(
                    {"stops": ValidationError(gettext("仓库不存在或无权使用"), code="not_found")}
                )
            lines = [(text, 1) for text in item.get("lines") or []]
            stops.append(
                services.StopInput(
                    depot=depot,
                    station=station,
                    weight_kg=item["weight_kg"],
                    service_minutes=item.get("service_minutes") or 15,
                    lines=lines,
                )
            )
        plan = services.create_plan(
            user,
            input["date"],
            name=input.get("name") or "",
            vehicle_ids=input.get("vehicle_ids"),
            include_requests=input.get("include_requests", True) is not False,
            stops=stops,
            time_limit_s=input.get("time_limit_seconds"),
            seed=input.get("seed") or 1,
        )
        services.schedule_solve(plan)
        return {"plan": plan_queryset(user).get(pk=plan.pk)}


class StopLock(BaseMutation):
    """Lock a stop to the vehicle serving it now (``locked: false`` unlocks it)."""

    class Meta:
        permissions = (access.DISPATCH,)

    class Arguments:
        stop_id = graphene.ID(required=True)
        locked = graphene.Boolean(default_value=True)

    stop = graphene.Field(StopType)

    @classmethod
    def perform(cls, info, stop_id, locked=True) -> dict[str, Any]:
        stop = _my_stop(info, stop_id)
        return {"stop": services.lock_stop(stop, locked)}


class StopMove(BaseMutation):
    """Move a stop to another vehicle (locked there) and re-optimise the rest; refused with
    ``INFEASIBLE`` errors (plan unchanged) when that cannot be done."""

    class Meta:
        permissions = (access.DISPATCH,)

    class Arguments:
        stop_id = graphene.ID(required=True)
        vehicle_id = graphene.ID(required=True)
        reoptimise = graphene.Boolean(default_value=True)

    plan = graphene.Field(PlanType)

    @classmethod
    def perform(cls, info, stop_id, vehicle_id, reoptimise=True) -> dict[str, Any]:
        stop = _my_stop(info, stop_id)
        vehicle = stop.plan.vehicles.filter(pk=vehicle_id).first()
        if vehicle is None:
            raise ValidationError(
                {"vehicle_id": ValidationError(gettext("该车辆不在本计划中"), code="not_found")}
            )
        services.move_stop(stop, vehicle, reoptimise)
        return {"plan": plan_queryset(info.context.user).get(pk=stop.plan_id)}


class PlanReoptimise(BaseMutation):
    """Re-solve a draft/infeasible plan keeping locked stops on their vehicles."""

    class Meta:
        permissions = (access.DISPATCH,)

    class Arguments:
        id = graphene.ID(required=True)
        time_limit_seconds = graphene.Float()

    plan = graphene.Field(PlanType)

    @classmethod
    def perform(cls, info, id, time_limit_seconds=None) -> dict[str, Any]:
        plan = _my_plan(info, id)
        if not plan.is_editable:
            raise ValidationError(gettext("计划已发布或正在求解，不能重新排线"), code="invalid_state")
        services.plan_deliveries(plan, time_limit_s=time_limit_seconds)
        return {"plan": plan_queryset(info.context.user).get(pk=plan.pk)}


class PlanPublish(BaseMutation):
    """Publish a feasible draft: stations get their ETA by SMS, drivers their route sheets."""

    class Meta:
        permissions = (access.DISPATCH,)

    class Arguments:
        id = graphene.ID(required=True)

    plan = graphene.Field(PlanType)

    @classmethod
    def perform(cls, info, id) -> dict[str, Any]:
        plan = _my_plan(info, id)
        services.publish_plan(plan, info.context.user)
        return {"plan": plan_queryset(info.context.user).get(pk=plan.pk)}


class RoutingMutations(graphene.ObjectType):
    plan_create = PlanCreate.Field()
    stop_lock = StopLock.Field()
    stop_move = StopMove.Field()
    plan_reoptimise = PlanReoptimise.Field()
    plan_publish = PlanPublish.Field()

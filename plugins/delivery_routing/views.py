"""Dispatcher and station pages (mobile-first). Thin: services and access do the work."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from marketplace.accounts.models import Role
from marketplace.core.permissions import check, permission_required

from . import access, services
from .forms import DepotForm, VehicleForm
from .mapsvg import plan_map_context, route_colour
from .models import DeliveryPlan, Depot, PlanRoute, PlanStop, PlanVisit, Vehicle


def _plan(request: HttpRequest, pk: int) -> DeliveryPlan:
    check(request.user, (access.DISPATCH,))
    return get_object_or_404(access.plans_for(request.user), pk=pk)


def _errors(exc: ValidationError) -> str:
    return gettext("；").join(exc.messages)


@permission_required(access.DISPATCH)
def plans(request: HttpRequest) -> HttpResponse:
    qs = access.plans_for(request.user).select_related("partner").order_by("-date", "-pk")[:50]
    vehicles = access.vehicles_for(request.user).filter(is_active=True).select_related("home_depot")
    tomorrow = timezone.localdate() + timedelta(days=1)
    return render(
        request,
        "delivery_routing/plans.html",
        {
            "plans": qs,
            "vehicles": vehicles,
            "tomorrow": tomorrow,
            "default_seconds": services.solve_budget(request.user, None),
            "max_seconds": services.max_solve_seconds(request.user),
        },
    )


@permission_required(access.DISPATCH)
@require_POST
def plan_create(request: HttpRequest) -> HttpResponse:
    try:
        day = date.fromisoformat(request.POST.get("date", ""))
    except ValueError:
        messages.error(request, gettext("请选择配送日期"))
        return redirect("routing:plans")
    vehicle_ids = request.POST.getlist("vehicles") or None
    seconds = request.POST.get("time_limit_seconds", "").strip()
    try:
        try:
            time_limit = float(seconds) if seconds else None
        except ValueError:
            raise ValidationError(gettext("求解时限须为数字（秒）"), code="invalid") from None
        plan = services.create_plan(
            request.user,
            day,
            name=request.POST.get("name", "").strip(),
            vehicle_ids=vehicle_ids,
            time_limit_s=time_limit,
        )
        services.request_solve(plan, request.user)
    except ValidationError as exc:
        messages.error(request, _errors(exc))
        return redirect("routing:plans")
    return redirect("routing:plan", pk=plan.pk)


@permission_required(access.DISPATCH)
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    if services.resume_stale_solves([plan]):
        plan.refresh_from_db()
    routes = list(plan.routes.select_related("vehicle", "depot").order_by("number"))
    visits = PlanVisit.objects.filter(route__plan=plan).select_related("stop").order_by("sequence")
    by_route: dict[int, list[PlanVisit]] = {}
    for v in visits:
        by_route.setdefault(v.route_id, []).append(v)
    route_rows = [
        {
            "route": r,
            "colour": route_colour(r.number),
            "visits": by_route.get(r.pk, []),
            "trips": max((v.trip for v in by_route.get(r.pk, [])), default=1),
        }
        for r in routes
    ]
    stops = plan.stops.select_related("station", "depot", "locked_vehicle", "route__vehicle").order_by(
        "route__number", "eta_s", "pk"
    )
    return render(
        request,
        "delivery_routing/plan_detail.html",
        {
            "plan": plan,
            "route_rows": route_rows,
            "stops": stops,
            "vehicles": plan.vehicles.select_related("home_depot").order_by("pk"),
            "map": plan_map_context(plan),
            "progress": services.solve_progress(plan),
        },
    )


@permission_required(access.DISPATCH)
def plan_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the plan page while the solve runs; a solve whose process died is queued again."""
    plan = _plan(request, pk)
    if services.resume_stale_solves([plan]):
        plan.refresh_from_db()
    return JsonResponse(services.solve_progress(plan))


@permission_required(access.DISPATCH)
def plan_map(request: HttpRequest, pk: int) -> HttpResponse:
    return HttpResponse(plan_map_context(_plan(request, pk))["svg"], content_type="image/svg+xml")


@permission_required(access.DISPATCH)
@require_POST
def plan_reoptimise(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    try:
        plan = services.request_solve(plan, request.user)
        if not plan.is_solving:  # solved inside the request (no background worker configured)
            messages.success(
                request, gettext("已重新优化：%(status)s") % {"status": plan.get_status_display()}
            )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("routing:plan", pk=pk)


@permission_required(access.DISPATCH)
@require_POST
def plan_publish(request: HttpRequest, pk: int) -> HttpResponse:
    plan = _plan(request, pk)
    try:
        services.publish_plan(plan, request.user)
        messages.success(request, gettext("计划已发布，站点已收到预计到达时间短信"))
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("routing:plan", pk=pk)


def _stop(request: HttpRequest, pk: int, stop_id: int) -> PlanStop:
    plan = _plan(request, pk)
    return get_object_or_404(plan.stops.select_related("plan", "depot"), pk=stop_id)


@permission_required(access.DISPATCH)
@require_POST
def stop_lock(request: HttpRequest, pk: int, stop_id: int) -> HttpResponse:
    stop = _stop(request, pk, stop_id)
    try:
        services.lock_stop(stop, locked=request.POST.get("locked", "1") == "1")
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("routing:plan", pk=pk)


@permission_required(access.DISPATCH)
@require_POST
def stop_move(request: HttpRequest, pk: int, stop_id: int) -> HttpResponse:
    stop = _stop(request, pk, stop_id)
    vehicle = stop.plan.vehicles.filter(pk=request.POST.get("vehicle") or 0).first()
    if vehicle is None:
        messages.error(request, gettext("请选择车辆"))
        return redirect("routing:plan", pk=pk)
    try:
        services.move_stop(stop, vehicle)
        messages.success(
            request,
            gettext("「%(stop)s」已移到 %(vehicle)s，其余站点已重新优化")
            % {"stop": stop.name, "vehicle": vehicle},
        )
    except services.PlanInfeasible as exc:
        messages.error(
            request,
            gettext("无法移动：%(problems)s")
            % {"problems": gettext("；").join(p["message"] for p in exc.problems)},
        )
    except ValidationError as exc:
        messages.error(request, _errors(exc))
    return redirect("routing:plan", pk=pk)


def route_sheet(request: HttpRequest, pk: int, route_id: int) -> HttpResponse:
    """Dispatchers (logged in) or drivers holding the signed link from their SMS."""
    token = request.GET.get("t")
    route: PlanRoute | None
    if token:
        route = services.route_from_token(token)
        if route is None or route.pk != route_id or route.plan_id != pk:
            raise Http404
    else:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        plan = _plan(request, pk)
        route = get_object_or_404(plan.routes.all(), pk=route_id)
    route = PlanRoute.objects.select_related("plan", "vehicle", "depot").get(pk=route.pk)
    response = HttpResponse(services.route_sheet_pdf(route), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="route-{route.plan_id}-{route.number}.pdf"'
    return response


@permission_required()
def station_deliveries(request: HttpRequest) -> HttpResponse:
    stops = services.upcoming_station_stops(request.user)[:100]
    return render(request, "delivery_routing/station_deliveries.html", {"stops": stops})


# --- depots and vehicles ------------------------------------------------------------------------


@permission_required(access.DISPATCH)
def fleet(request: HttpRequest) -> HttpResponse:
    if request.method == "POST" and request.POST.get("warehouse", "").isdigit():
        try:
            depot = services.depot_from_warehouse(request.user, int(request.POST["warehouse"]))
        except ValidationError as exc:
            messages.error(request, _errors(exc))
            return redirect("routing:fleet")
        messages.success(request, gettext("仓库已用作发车仓库，请添加车辆"))
        return redirect(f"{reverse('routing:vehicle-new')}?depot={depot.pk}")
    depots = list(access.depots_for(request.user).select_related("partner").order_by("name", "pk"))
    vehicles = access.vehicles_for(request.user).order_by("name", "pk")
    by_depot: dict[int, list[Vehicle]] = {}
    for v in vehicles:
        by_depot.setdefault(v.home_depot_id, []).append(v)
    rows = [{"depot": d, "vehicles": by_depot.get(d.pk, [])} for d in depots]
    return render(
        request,
        "delivery_routing/fleet.html",
        {"rows": rows, "warehouses": services.warehouses_without_depot(request.user)},
    )


def _form_page(request: HttpRequest, form, title: str, save, done_message: str) -> HttpResponse:
    if request.method == "POST" and form.is_valid():
        try:
            save(form.save(commit=False))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, done_message)
            return redirect("routing:fleet")
    return render(request, "delivery_routing/fleet_form.html", {"form": form, "title": title})


@permission_required(access.DISPATCH)
def depot_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    depot = get_object_or_404(access.depots_for(request.user), pk=pk) if pk else None
    initial = {}
    if depot is None:
        initial = {"partner": access.dispatch_partners(request.user).order_by("pk").first()}
        if request.user.role == Role.COOPERATIVE:
            initial["kind"] = Depot.Kind.COLLECTION_POINT
    form = DepotForm(request.POST or None, instance=depot, initial=initial, user=request.user)
    title = gettext("编辑仓库") if depot else gettext("添加仓库/集货点")
    return _form_page(
        request, form, title, lambda d: services.save_depot(request.user, d), gettext("仓库已保存")
    )


@permission_required(access.DISPATCH)
def vehicle_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    vehicle = get_object_or_404(access.vehicles_for(request.user), pk=pk) if pk else None
    initial = {}
    if vehicle is None and request.GET.get("depot"):
        initial["home_depot"] = access.depots_for(request.user).filter(pk=request.GET["depot"]).first()
    form = VehicleForm(request.POST or None, instance=vehicle, initial=initial, user=request.user)
    title = gettext("编辑车辆") if vehicle else gettext("添加车辆")
    return _form_page(
        request, form, title, lambda v: services.save_vehicle(request.user, v), gettext("车辆已保存")
    )

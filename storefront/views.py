"""Storefront views: thin; permissions and business rules live in marketplace.core / services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.core.extensions import collect
from marketplace.core.permissions import permission_required
from marketplace.stations import services

from .forms import HouseholdForm

PAGE_SIZE = 30


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "storefront/landing.html")
    user = request.user
    context: dict = {"role": user.role}
    if user.role in (Role.STATION_STAFF, Role.AGRONOMIST, Role.COUNTY_STAFF) or permissions.is_operator(user):
        stations = permissions.stations_for(user).select_related("village__township", "county")
        context["stations"] = stations[:20]
        context["station_count"] = stations.count()
        context["household_count"] = permissions.households_for(user).filter(is_active=True).count()
    if user.role == Role.FARMER:
        context["household"] = permissions.households_for(user).select_related("station").first()
    if user.role in (Role.SUPPLIER, Role.COOPERATIVE):
        context["partners"] = permissions.partners_for(user)
    context["recent_orders"] = (
        permissions.orders_for(user).select_related("station", "household").order_by("-date_placed")[:5]
    )
    panels = sorted(collect("home_panels", request), key=lambda p: p.order)
    context["panels"] = panels
    return render(request, "storefront/home.html", context)


@permission_required()
def households(request: HttpRequest) -> HttpResponse:
    user = request.user
    qs = permissions.households_for(user).filter(is_active=True).select_related("village", "station")
    station_id = request.GET.get("station")
    if station_id and station_id.isdigit():
        qs = qs.filter(station_id=station_id)
    q = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "")
    page = Paginator(services.search_households(qs, q, sort), PAGE_SIZE).get_page(request.GET.get("page"))
    stations = permissions.stations_for(user).order_by("code")
    return render(
        request,
        "storefront/households.html",
        {
            "page": page,
            "q": q,
            "sort": sort if sort in services.HOUSEHOLD_SORTS else "name",
            "sorts": [(key, _(label)) for key, (label, _o) in services.HOUSEHOLD_SORTS.items()],
            "stations": stations[:200],
            "station_id": station_id,
            "can_register": permissions.managed_stations(user).exists(),
        },
    )


@permission_required()
def household_create(request: HttpRequest) -> HttpResponse:
    user = request.user
    stations = permissions.managed_stations(user).select_related("village__township__county")
    if not stations.exists():
        raise Http404(_("您没有可管理的站点"))
    requested = request.POST.get("station") or request.GET.get("station")
    if requested:
        station = stations.filter(pk=requested).first() if requested.isdigit() else None
        if station is None:
            raise Http404(_("只能为本站点登记农户"))
    elif stations.count() == 1:
        station = stations.first()
    else:
        return render(request, "storefront/choose_station.html", {"stations": stations})
    form = HouseholdForm(request.POST or None, station=station)
    if request.method == "POST" and form.is_valid():
        try:
            household = services.register_household(user, station, form.service_data())
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("已登记农户 %(name)s") % {"name": household.name})
            return redirect("storefront:household", pk=household.pk)
    return render(request, "storefront/household_form.html", {"form": form, "station": station})


@permission_required()
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    household = get_object_or_404(
        permissions.households_for(user).select_related("station", "village"), pk=pk
    )
    can_manage = permissions.can_manage_household(user, household)
    orders = permissions.orders_for(user).filter(household=household).order_by("-date_placed")[:20]
    credit_account = None
    if permissions.credit_stations(user).filter(pk=household.station_id).exists():
        from marketplace.payments.credit import credit_account as account_of

        credit_account = account_of(household)
    panels = sorted(collect("household_panels", request, household), key=lambda p: p.order)
    return render(
        request,
        "storefront/household_detail.html",
        {
            "household": household,
            "can_manage": can_manage,
            "orders": orders,
            "credit": credit_account,
            "panels": panels,
        },
    )


@permission_required()
def orders(request: HttpRequest) -> HttpResponse:
    from marketplace.apps.order import statuses

    qs = permissions.orders_for(request.user).select_related("station", "household").order_by("-date_placed")
    status = request.GET.get("status", "")
    if status in statuses.ORDER_STATUS_PIPELINE:
        qs = qs.filter(status=status)
    else:
        status = ""
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "storefront/orders.html",
        {"page": page, "status": status, "statuses": list(statuses.ORDER_STATUS_PIPELINE)},
    )


@permission_required()
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = get_object_or_404(
        permissions.orders_for(request.user).select_related("station", "household").prefetch_related("lines"),
        number=number,
    )
    return render(
        request, "storefront/order_detail.html", {"order": order, **_direct_actions(request.user, order)}
    )


def _direct_actions(user: Any, order: Any) -> dict[str, Any]:
    """What the user may do next with a station direct order (the services check it again)."""
    from marketplace.apps.order import direct, statuses

    found = direct.DirectOrder.objects.filter(order_id=order.pk).first()
    if found is None:
        return {}
    station = bool(order.station_id) and permissions.can_manage_station(user, order.station_id)
    return {
        "direct_order": found,
        "can_ship": order.status == statuses.ORDERED and direct.can_ship(user, order),
        "can_receive": station and order.status in (statuses.ORDERED, statuses.SHIPPED),
        "can_hand_out": station and order.status == statuses.AT_STATION,
        "can_refund": station and order.status == statuses.ORDERED,
        "pickup_code": direct.pickup_code_for(user, order),
    }

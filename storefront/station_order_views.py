"""Station direct orders in the storefront: pick a household, fill its basket with sellable stock,
check out with cash or credit; the order page's supplier / station actions. Thin: the rules live in
:mod:`marketplace.apps.order.direct`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.apps.order import direct
from marketplace.core import permissions
from marketplace.core.permissions import permission_required
from marketplace.stations import services as station_services

PAGE_SIZE = 20


def _messages(exc: ValidationError) -> str:
    return "; ".join(exc.messages)


@permission_required(permissions.STATION_STAFF)
def pick_household(request: HttpRequest) -> HttpResponse:
    """Whom is this order for? Search the households the staff member orders for; open baskets first."""
    q = request.GET.get("q", "").strip()
    product = request.GET.get("product", "")
    qs = (
        permissions.managed_households(request.user)
        .filter(is_active=True)
        .select_related("village", "station")
    )
    households = list(station_services.search_households(qs, q, "name")[:PAGE_SIZE])
    return render(
        request,
        "storefront/station_orders/pick.html",
        {
            "q": q,
            "product": product if product.isdigit() else "",
            "households": households,
            "baskets": direct.open_baskets(request.user),
        },
    )


def _products(request: HttpRequest, q: str, product_id: str) -> list[dict[str, Any]]:
    """Search results for the basket page: sellable products with the record the strategy picks."""
    from marketplace.graphql.catalogue.schema import products_in_order
    from marketplace.search.services import SearchParams, search

    ids: list[int] = []
    if product_id.isdigit():
        ids.append(int(product_id))
    if q:
        try:
            ids += [i for i in search(SearchParams(query=q, in_stock=True, first=10)).ids if i not in ids]
        except ValidationError:
            pass
    if not ids:
        return []
    strategy = direct.strategy_for(request.user)
    out = []
    for product in products_in_order(ids):
        record = strategy.select_stockrecord(product)
        if record is None:
            continue
        info = strategy.fetch_for_product(product, stockrecord=record)
        out.append(
            {
                "product": product,
                "record": record,
                "price": info.price.incl_tax if info.price.exists else None,
                "available": max(record.net_stock_level or 0, 0),
            }
        )
    return out


@permission_required(permissions.STATION_STAFF)
def basket(request: HttpRequest, household_id: int) -> HttpResponse:
    try:
        household = direct.acting_household(request.user, household_id)
    except ValidationError as exc:
        raise PermissionDenied(_messages(exc)) from None
    q = request.GET.get("q", "").strip()[:64]
    view = direct.basket_view(request.user, household)
    credit = None
    if permissions.credit_stations(request.user).filter(pk=household.station_id).exists():
        from marketplace.payments.credit import credit_account

        credit = credit_account(household)
    groups = [
        {
            "partner": partner,
            "lines": [ln for ln in view.lines if ln.stockrecord.partner_id == partner.pk],
        }
        for partner in view.suppliers
    ]
    for group in groups:
        group["total"] = sum((ln.line_price_incl_tax or 0) for ln in group["lines"])
    return render(
        request,
        "storefront/station_orders/basket.html",
        {
            "household": household,
            "view": view,
            "groups": groups,
            "q": q,
            "results": _products(request, q, request.GET.get("product", "")),
            "methods": direct.method_labels(),
            "credit": credit,
            "checkout_key": uuid.uuid4().hex,
        },
    )


def _back(household_id: int, **params: str) -> HttpResponse:
    url = reverse("storefront:station-basket", args=[household_id])
    params = {k: v for k, v in params.items() if v}
    return redirect(f"{url}?{urlencode(params)}" if params else url)


@require_POST
@permission_required(permissions.STATION_STAFF)
def basket_add(request: HttpRequest, household_id: int) -> HttpResponse:
    try:
        household = direct.acting_household(request.user, household_id)
        line = direct.add_to_basket(
            request.user,
            household,
            request.POST.get("product"),
            request.POST.get("quantity"),
            request.POST.get("stockrecord") or None,
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("已加入购物篮：%(title)s") % {"title": line.product.get_title()})
    return _back(household_id, q=request.POST.get("q", ""))


@require_POST
@permission_required(permissions.STATION_STAFF)
def basket_remove(request: HttpRequest, household_id: int) -> HttpResponse:
    try:
        household = direct.acting_household(request.user, household_id)
        direct.remove_line(request.user, household, request.POST.get("line"), request.POST.get("quantity"))
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    return _back(household_id)


@require_POST
@permission_required(permissions.STATION_STAFF)
def checkout(request: HttpRequest, household_id: int) -> HttpResponse:
    try:
        household = direct.acting_household(request.user, household_id)
        order = direct.checkout(
            request.user,
            household,
            request.POST.get("method", ""),
            request.POST.get("checkout_key", ""),
            partner_id=request.POST.get("partner") or None,
            expected_total=request.POST.get("expected_total") or None,
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return _back(household_id)
    code = order.direct.pickup_code
    messages.success(
        request,
        _("已下单 %(number)s。请把取货码 %(code)s 告诉农户，到货后凭码取货。")
        % {"number": order.number, "code": code},
    )
    return redirect("storefront:order", number=order.number)


@require_POST
@permission_required()
def order_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    """Supplier: ship. Station: receive, hand out (pickup code), refund before shipping."""
    order = get_object_or_404(permissions.orders_for(request.user), number=number)
    try:
        if action == "ship":
            direct.mark_shipped(request.user, order)
            messages.success(request, _("已标记发货"))
        elif action == "receive":
            direct.receive(request.user, order)
            messages.success(request, _("已确认到站，已短信通知农户取货"))
        elif action == "hand-out":
            direct.hand_out(request.user, order, request.POST.get("code", ""))
            messages.success(request, _("已发放给农户"))
        elif action == "refund":
            direct.refund(request.user, order, request.POST.get("reason", ""))
            messages.success(request, _("已退款"))
        else:
            raise PermissionDenied(_("无权操作"))
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    return redirect("storefront:order", number=number)

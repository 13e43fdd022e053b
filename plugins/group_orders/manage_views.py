"""Supplier and operator pages of a group-buy season: campaign create / edit / preview / submit,
the supplier centre (campaigns, consolidated purchase orders, shipping, sales), the operator's
campaign review queue, manual close, station commissions with payout runs, and the province →
county → station overview. Thin: services.py / reports.py do the work, access.py decides."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.core import charts, permissions
from marketplace.core.money import format_cny
from marketplace.core.permissions import OPERATOR, PARTNER, permission_required
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentMethod
from marketplace.stations.models import County

from . import access, reports, services
from .forms import TIER_ROWS, CampaignForm, initial_for
from .models import Campaign, CampaignStatus, DeliveryStatus, StationDelivery


def _messages(exc: ValidationError) -> str:
    return _("；").join(exc.messages)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _apply(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            field = _snake(name)
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def _supplier_partner(request: HttpRequest) -> Any:
    from marketplace.apps.partner.services import acting_partner

    partner = acting_partner(request.user, request.POST.get("partner", request.GET.get("partner")))
    if partner is None:
        raise Http404(_("您没有关联的供应商"))
    return partner


def _products(user: Any, partner: Any) -> list[tuple[int, str, Any]]:
    return [
        (r.product_id, f"{r.product.title} ({r.partner_sku})", r.price)
        for r in permissions.stockrecords_for(user)
        .filter(partner=partner)
        .select_related("product")
        .order_by("product__title")[:300]
    ]


# --- Supplier: campaigns ---------------------------------------------------------------------------


@permission_required(PARTNER, OPERATOR)
def supplier_home(request: HttpRequest) -> HttpResponse:
    partner = _supplier_partner(request)
    return render(
        request,
        "group_orders/supplier/home.html",
        {
            "partner": partner,
            "campaigns": reports.supplier_campaigns(request.user, partner)[:100],
            "purchase_orders": reports.supplier_purchase_orders(request.user, partner)[:20],
        },
    )


def _campaign_form(request: HttpRequest, partner: Any, campaign: Campaign | None) -> HttpResponse:
    products = _products(request.user, partner)
    initial = initial_for(campaign) if campaign else {}
    form = CampaignForm(request.POST or None, initial=initial, products=products)
    if request.method == "POST" and form.is_valid():
        try:
            if campaign is None:
                campaign = services.create_campaign(
                    request.user, partner=partner, submit=False, **form.service_kwargs()
                )
            else:
                campaign = services.update_campaign(request.user, campaign, **form.service_kwargs())
        except ValidationError as exc:
            _apply(form, exc)
        else:
            messages.success(request, _("已保存草稿，请预览后提交审核"))
            return redirect("group-buy:campaign-preview", pk=campaign.pk)
    return render(
        request,
        "group_orders/supplier/campaign_form.html",
        {
            "partner": partner,
            "form": form,
            "campaign": campaign,
            "products": products,
            "item_rows": form.item_rows,
            "tier_range": range(TIER_ROWS),
        },
    )


@permission_required(PARTNER, OPERATOR)
def campaign_new(request: HttpRequest) -> HttpResponse:
    return _campaign_form(request, _supplier_partner(request), None)


@permission_required(PARTNER, OPERATOR)
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(access.managed_campaigns(request.user).select_related("partner"), pk=pk)
    if campaign.status not in services.EDITABLE_STATUSES:
        messages.error(request, _("只有草稿可以修改"))
        return redirect("group-buy:campaign-preview", pk=pk)
    return _campaign_form(request, campaign.partner, campaign)


@permission_required(PARTNER, OPERATOR)
def campaign_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """What a station will see, for the supplier (and operators reviewing it)."""
    campaign = get_object_or_404(
        access.managed_campaigns(request.user)
        .select_related("partner")
        .prefetch_related("items__product", "items__tiers", "stations", "counties"),
        pk=pk,
    )
    return render(
        request,
        "group_orders/supplier/campaign_preview.html",
        {
            "campaign": campaign,
            "progress": services.campaign_progress(campaign),
            "can_edit": campaign.status in services.EDITABLE_STATUSES,
            "is_operator": permissions.is_operator(request.user),
            "close": services.close_status(campaign),
        },
    )


@permission_required(PARTNER, OPERATOR)
@require_POST
def campaign_submit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(access.managed_campaigns(request.user), pk=pk)
    try:
        services.submit_campaign(request.user, campaign)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("已提交审核"))
    return redirect("group-buy:campaign-preview", pk=pk)


# --- Supplier: purchase orders, shipping, sales -------------------------------------------------------


@permission_required(PARTNER, OPERATOR)
def supplier_orders(request: HttpRequest) -> HttpResponse:
    partner = _supplier_partner(request)
    return render(
        request,
        "group_orders/supplier/orders.html",
        {
            "partner": partner,
            "purchase_orders": reports.supplier_purchase_orders(request.user, partner)[:100],
        },
    )


@permission_required(PARTNER, OPERATOR)
def supplier_po(request: HttpRequest, pk: int) -> HttpResponse:
    po = get_object_or_404(
        access.purchase_orders_for(request.user).select_related("campaign", "warehouse", "partner"), pk=pk
    )
    deliveries = (
        po.deliveries.select_related("station")
        .prefetch_related("lines__item__product")
        .order_by("station__code")
    )
    return render(
        request,
        "group_orders/supplier/po.html",
        {"po": po, "deliveries": deliveries, "partner": po.partner},
    )


@permission_required(PARTNER, OPERATOR)
@require_POST
def delivery_ship(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(
        access.deliveries_for(request.user).select_related("purchase_order__partner", "station"), pk=pk
    )
    try:
        services.mark_shipped(request.user, delivery)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("已登记发往 %(station)s") % {"station": delivery.station.name})
    return redirect("group-buy:supplier-po", pk=delivery.purchase_order_id)


@permission_required(PARTNER, OPERATOR)
@require_POST
def po_ship_all(request: HttpRequest, pk: int) -> HttpResponse:
    po = get_object_or_404(access.purchase_orders_for(request.user).select_related("partner"), pk=pk)
    pending = StationDelivery.objects.filter(purchase_order=po, status=DeliveryStatus.PENDING).select_related(
        "purchase_order__partner", "station"
    )
    n = 0
    for delivery in pending:
        services.mark_shipped(request.user, delivery)
        n += 1
    messages.success(request, _("已登记发货 %(n)s 个站点") % {"n": n})
    return redirect("group-buy:supplier-po", pk=pk)


@permission_required(PARTNER, OPERATOR)
def supplier_sales(request: HttpRequest) -> HttpResponse:
    partner = _supplier_partner(request)
    sales = reports.supplier_sales(request.user, partner)
    chart = charts.bar_chart(
        [
            charts.Bar(r["campaign"].title[:16], r["sales"], format_cny(r["sales"]))
            for r in sales["rows"]
            if r["sales"]
        ][:10],
        _("各团购销售额"),
    )
    return render(request, "group_orders/supplier/sales.html", {"partner": partner, "chart": chart, **sales})


# --- Operator: campaign review queue and manual close ------------------------------------------------


@permission_required(OPERATOR)
def review_queue(request: HttpRequest) -> HttpResponse:
    pending = (
        Campaign.objects.filter(status=CampaignStatus.PENDING)
        .select_related("partner")
        .prefetch_related("items__product", "items__tiers")
        .order_by("cutoff_at")
    )
    closable = (
        Campaign.objects.filter(status__in=(CampaignStatus.OPEN, CampaignStatus.CLOSING))
        .select_related("partner")
        .order_by("cutoff_at")[:50]
    )
    return render(
        request,
        "group_orders/operator/review.html",
        {"pending": pending[:100], "closable": closable},
    )


@permission_required(OPERATOR)
@require_POST
def campaign_review(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.review_campaign(
            request.user,
            campaign,
            note=request.POST.get("note", ""),
            decision=request.POST.get("decision", ""),
        )
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return redirect("group-buy:campaign-preview", pk=pk)
    campaign.refresh_from_db()
    messages.success(
        request,
        _("%(title)s：%(status)s") % {"title": campaign.title, "status": campaign.get_status_display()},
    )
    return redirect("group-buy:review")


@permission_required(OPERATOR)
@require_POST
def campaign_close(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=pk)
    try:
        services.request_close(request.user, campaign)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("已开始结算，页面显示结算进度"))
    return redirect("group-buy:campaign-preview", pk=pk)


# --- Operator: station commissions and payout runs -------------------------------------------------


@permission_required(OPERATOR)
def payouts(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            result = payments.run_commission_payouts(request.user, request.POST.get("run", ""))
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(
                request,
                _("支付批次 %(ref)s：%(n)s 个站点，共 %(total)s")
                % {"ref": result["reference"], "n": result["stations"], "total": format_cny(result["total"])},
            )
        return redirect("group-buy:payouts")
    rows = reports.station_commissions(request.user)
    total = sum((r["balance"] for r in rows), payments.money(0))
    return render(
        request,
        "group_orders/operator/payouts.html",
        {
            "rows": rows[:500],
            "count": len(rows),
            "total": total,
            "runs": payments.payout_runs(),
            "run": uuid.uuid4().hex[:12],
        },
    )


# --- Operator (and county staff): province → county → station overview --------------------------------


OVERVIEW_ROWS = 50
OVERVIEW_CAMPAIGNS = 10


@permission_required(OPERATOR, access.VIEW_OVERVIEW)
def overview(request: HttpRequest) -> HttpResponse:
    county_id = request.GET.get("county")
    try:
        data = reports.overview(request.user, int(county_id) if county_id and county_id.isdigit() else None)
    except County.DoesNotExist as exc:
        raise Http404(_("没有这个县区")) from exc
    labels = dict(PaymentMethod.choices)
    totals = data["totals"]
    money_chart = charts.bar_chart(
        [
            charts.Bar(str(labels[m]), totals.collected.get(m, 0), format_cny(totals.collected.get(m, 0)))
            for m, _l in data["methods"]
        ],
        _("按支付方式收款"),
    )
    pledge_chart = charts.bar_chart(
        [
            charts.Bar(r.label[:14], r.pledged_quantity, str(r.pledged_quantity))
            for r in data["rows"]
            if r.pledged_quantity
        ][:15],
        _("认购数量"),
    )
    # The table pages by OVERVIEW_ROWS (a county has hundreds of stations), the open campaigns by
    # OVERVIEW_CAMPAIGNS; the totals and charts above stay those of the whole province / county.
    rows = Paginator(data["rows"], OVERVIEW_ROWS).get_page(request.GET.get("page"))
    campaigns = Paginator(data["campaigns"], OVERVIEW_CAMPAIGNS).get_page(request.GET.get("cpage"))
    return render(
        request,
        "group_orders/operator/overview.html",
        {
            **data,
            "rows": rows,
            "campaigns": [{"campaign": c, "progress": services.campaign_progress(c)} for c in campaigns],
            "campaign_page": campaigns,
            "money_chart": money_chart,
            "pledge_chart": pledge_chart,
            "method_labels": labels,
        },
    )

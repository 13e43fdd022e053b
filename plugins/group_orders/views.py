"""Storefront pages for station staff (mobile-first) and farmers. Thin: services do the work."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.core import permissions
from marketplace.core.money import format_cny
from marketplace.core.permissions import permission_required
from marketplace.payments import services as payments
from marketplace.payments.models import CommissionStatement, PaymentMethod
from marketplace.stations.models import Station

from . import access, closing, documents, online, services
from .models import CampaignItem, DeliveryStatus, Pickup, PledgeStatus


def _messages(exc: ValidationError) -> str:
    return _("；").join(exc.messages)


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@permission_required()
def campaigns(request: HttpRequest) -> HttpResponse:
    qs = (
        access.campaigns_for(request.user)
        .select_related("partner")
        .prefetch_related("items__product", "items__tiers")
        .order_by("-cutoff_at")[:50]
    )
    rows = [{"campaign": c, "progress": services.campaign_progress(c)} for c in qs]
    return render(request, "group_orders/campaigns.html", {"rows": rows})


@permission_required()
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    campaign = get_object_or_404(
        access.campaigns_for(user)
        .select_related("partner")
        .prefetch_related("items__product", "items__tiers"),
        pk=pk,
    )
    households = permissions.managed_households(user).filter(is_active=True).select_related("station")
    eligible_stations = access.eligible_for_stations(type(campaign).objects.filter(pk=pk), []).exists()
    can_pledge = campaign.is_open()
    my_stations = permissions.managed_stations(user).order_by("code")
    is_staff = my_stations.exists()
    # Online payment: a farmer paying for their own household, when Stripe.js can be configured.
    online = (
        bool(settings.STRIPE_PUBLISHABLE_KEY) and not is_staff and services.household_of(user) is not None
    )
    context = {
        "campaign": campaign,
        "progress": services.campaign_progress(campaign),
        "can_pledge": can_pledge,
        "households": households.order_by("name")[:300] if can_pledge else [],
        "is_staff": is_staff,
        "my_stations": my_stations[:50],
        "open_to_all": eligible_stations,
        "methods": [m for m in PaymentMethod.choices if online or m[0] != PaymentMethod.STRIPE],
        "online_payment": online,
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY if online else "",
        "stripe_js_url": settings.STRIPE_JS_URL,
        "pledges": access.pledges_for(user)
        .filter(campaign=campaign)
        .exclude(status=PledgeStatus.CANCELLED)
        .select_related("household", "item__product")
        .order_by("-pk")[:50],
        "pickups": access.pickups_for(user).filter(campaign=campaign).select_related("household")[:50],
        "purchase_orders": access.purchase_orders_for(user)
        .filter(campaign=campaign)
        .select_related("partner"),
        "deliveries": access.deliveries_for(user).filter(campaign=campaign).select_related("station")[:50],
        "idempotency_key": uuid.uuid4().hex,
    }
    return render(request, "group_orders/campaign_detail.html", context)


@permission_required()
def campaign_progress(request: HttpRequest, pk: int) -> JsonResponse:
    """The progress widget, polled by campaign pages (live-progress.js) while the campaign is open."""
    campaign = get_object_or_404(
        access.campaigns_for(request.user).prefetch_related("items__product", "items__tiers"), pk=pk
    )
    progress = services.campaign_progress(campaign)
    html = render_to_string("group_orders/_progress.html", {"progress": progress}, request=request)
    return JsonResponse(
        {
            "open": progress["is_open"],
            "status": progress["status"],
            "total_quantity": progress["total_quantity"],
            "seconds_left": progress["seconds_left"],
            "html": html,
        }
    )


@permission_required()
@require_POST
def pledge_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    campaign = get_object_or_404(access.campaigns_for(user), pk=pk)
    item = get_object_or_404(
        CampaignItem.objects.select_related("campaign", "product"),
        pk=request.POST.get("item"),
        campaign=campaign,
    )
    household = get_object_or_404(permissions.managed_households(user), pk=request.POST.get("household") or 0)
    key = request.POST.get("idempotency_key", "") or uuid.uuid4().hex
    try:
        quantity = int(request.POST.get("quantity", "0"))
        result = online.start_pledge(
            user,
            item,
            household,
            quantity,
            request.POST.get("payment_method", ""),
            stripe_payment_method=request.POST.get("stripe_payment_method", ""),
            stripe_token=request.POST.get("stripe_token", ""),
            online_type=request.POST.get("online_type", "card"),
            return_url=request.build_absolute_uri(reverse("group-buy:pledge-payment", args=[key])),
            idempotency_key=key,
        )
    except ValueError:
        messages.error(request, _("数量须为整数"))
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        if result.needs_action:
            return _payment_action(request, key, result)
        messages.success(
            request,
            _("已为 %(household)s 认购 %(product)s × %(quantity)s")
            % {"household": household.name, "product": item.product.title, "quantity": quantity},
        )
    return redirect("group-buy:campaign", pk=pk)


def _payment_action(request: HttpRequest, key: str, result: online.PledgeResult) -> HttpResponse:
    """The payer still has to act: Alipay's page, or our page with the QR code / 3-D Secure step."""
    action = result.next_action or {}
    if action.get("type") == "redirect" and action.get("url"):
        return redirect(action["url"])
    return redirect("group-buy:pledge-payment", key=key)


@permission_required()
def pledge_payment(request: HttpRequest, key: str) -> HttpResponse:
    """Finish an online pledge payment (3-D Secure done, QR code scanned, back from Alipay): shows
    what is still to do, or completes the pledge. Only the user who started the payment gets here."""
    payment = online.pending_payment(request.user, key)
    if payment is None:
        raise Http404(_("没有这笔支付"))
    campaign_id = (payment.purpose or {}).get("campaign")
    try:
        result = online.complete_online_pledge(request.user, payment)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
        return (
            redirect("group-buy:campaign", pk=campaign_id) if campaign_id else redirect("group-buy:campaigns")
        )
    if result.pledge is not None:
        pledge = result.pledge
        messages.success(
            request,
            _("已为 %(household)s 认购 %(product)s × %(quantity)s")
            % {
                "household": pledge.household.name,
                "product": pledge.item.product.title,
                "quantity": pledge.quantity,
            },
        )
        return redirect("group-buy:campaign", pk=pledge.campaign_id)
    return render(
        request,
        "group_orders/pledge_payment.html",
        {
            "payment": payment,
            "campaign_id": campaign_id,
            "action": result.next_action or {},
            "client_secret": result.client_secret,
            "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
        },
    )


@permission_required()
@require_POST
def pledge_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    pledge = get_object_or_404(access.pledges_for(request.user).select_related("household"), pk=pk)
    try:
        services.cancel_pledge(request.user, pledge)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        messages.success(request, _("认购已撤销"))
    return redirect("group-buy:campaign", pk=pledge.campaign_id)


def _managed_station(request: HttpRequest, station_id: int) -> Station:
    return get_object_or_404(permissions.managed_stations(request.user), pk=station_id)


@permission_required()
def station_pledges(request: HttpRequest, pk: int, station_id: int) -> HttpResponse:
    station = _managed_station(request, station_id)
    campaign = get_object_or_404(access.campaigns_for(request.user), pk=pk)
    rows = services.households_summary(services.station_pledges(request.user, campaign, station))
    unpaid = services.lapsed_pledges(request.user, station, campaign)
    return render(
        request,
        "group_orders/station_pledges.html",
        {"campaign": campaign, "station": station, "rows": rows, "unpaid": unpaid},
    )


@permission_required(permissions.STATION_STAFF)
@require_POST
def pledge_take_cash(request: HttpRequest, pk: int) -> HttpResponse:
    """A pledge whose card authorisation lapsed at the close: the station takes cash instead and the
    household gets its order and pickup code (closing.take_cash; a double click books once)."""
    pledge = get_object_or_404(access.pledges_for(request.user), pk=pk)
    if not permissions.can_manage_station(request.user, pledge.station_id):
        raise Http404
    try:
        pickup = closing.take_cash(request.user, pledge.pk)
    except ValidationError as exc:
        messages.error(request, _messages(exc))
    else:
        pledge.refresh_from_db()
        messages.success(
            request,
            _("已收取现金 %(amount)s，订单 %(order)s 已生成，取货码已短信通知农户")
            % {"amount": format_cny(pledge.final_amount), "order": pickup.order.number},
        )
    return redirect("group-buy:station-pledges", pk=pledge.campaign_id, station_id=pledge.station_id)


@permission_required()
def pick_list_pdf(request: HttpRequest, pk: int, station_id: int) -> HttpResponse:
    station = _managed_station(request, station_id)
    campaign = get_object_or_404(access.campaigns_for(request.user), pk=pk)
    context = documents.pick_list_context(
        campaign, station, services.station_pledges(request.user, campaign, station)
    )
    return _pdf(documents.pick_list_pdf(context), f"picklist-{campaign.pk}-{station.code}.pdf")


@permission_required(permissions.STATION_STAFF)
def pickup_verify(request: HttpRequest) -> HttpResponse:
    if not permissions.managed_stations(request.user).exists():
        raise PermissionDenied(_("只有站点信息员可以核销取货"))
    code = request.POST.get("code", "") if request.method == "POST" else ""
    matches: list[Pickup] = []
    if request.method == "POST":
        try:
            matches = services.find_pickups(request.user, code)
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            if len(matches) == 1:
                request.session[f"gb-pickup-{matches[0].pk}"] = code
                return redirect("group-buy:pickup", pk=matches[0].pk)
            if not matches:
                messages.error(request, _("未找到待取货的订单，请核对取货码"))
    return render(request, "group_orders/pickup_verify.html", {"code": code, "matches": matches})


@permission_required()
def pickup_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    pickup = get_object_or_404(
        access.pickups_for(user).select_related("household", "station", "campaign", "order"), pk=pk
    )
    can_hand_out = access.managed_pickups(user).filter(pk=pk).exists()
    if request.method == "POST":
        if not can_hand_out:
            raise PermissionDenied(_("只能在本站点发放货物"))
        quantities = {}
        for key, value in request.POST.items():
            if key.startswith("qty_") and value.strip():
                try:
                    quantities[int(key[4:])] = int(value)
                except ValueError:
                    messages.error(request, _("数量须为整数"))
                    return redirect("group-buy:pickup", pk=pk)
        try:
            services.collect(
                user,
                pickup,
                request.POST.get("code", ""),
                quantities,
                request.POST.get("idempotency_key", ""),
            )
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("已登记取货"))
        return redirect("group-buy:pickup", pk=pk)
    pledges = pickup.campaign.pledges.filter(
        household=pickup.household, status=PledgeStatus.CONFIRMED
    ).select_related("item__product")
    return render(
        request,
        "group_orders/pickup_detail.html",
        {
            "pickup": pickup,
            "pledges": pledges,
            "can_hand_out": can_hand_out,
            "verified_code": request.session.get(f"gb-pickup-{pk}", ""),
            "show_code": not can_hand_out,  # the farmer sees their own code; staff must be told it
            "qr": documents.qr_data_uri(f"GBPICKUP:{pickup.pk}:{pickup.code}") if not can_hand_out else "",
            "idempotency_key": uuid.uuid4().hex,
        },
    )


@permission_required()
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    pickup = get_object_or_404(
        access.pickups_for(request.user).select_related("household", "station", "campaign", "order"), pk=pk
    )
    return _pdf(
        documents.receipt_pdf(documents.receipt_context(pickup)), f"receipt-{pickup.order.number}.pdf"
    )


@permission_required()
def delivery_receive(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(
        access.deliveries_for(request.user)
        .filter(station__in=permissions.managed_stations(request.user))
        .select_related("station", "campaign"),
        pk=pk,
    )
    lines = list(delivery.lines.select_related("item__product"))
    if request.method == "POST":
        try:
            counts = {
                line.item_id: (
                    int(request.POST.get(f"received_{line.item_id}", line.expected)),
                    int(request.POST.get(f"damaged_{line.item_id}", 0) or 0),
                )
                for line in lines
            }
            services.receive_delivery(request.user, delivery, counts, request.POST.get("notes", ""))
        except ValueError:
            messages.error(request, _("数量须为整数"))
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        else:
            messages.success(request, _("已确认收货，已短信通知农户取货"))
            return redirect("group-buy:campaign", pk=delivery.campaign_id)
    return render(
        request,
        "group_orders/delivery_receive.html",
        {"delivery": delivery, "lines": lines, "received": delivery.status == DeliveryStatus.RECEIVED},
    )


@permission_required()
def purchase_order_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    po = get_object_or_404(
        access.purchase_orders_for(request.user).select_related("partner", "warehouse", "campaign"), pk=pk
    )
    return _pdf(documents.purchase_order_pdf(documents.purchase_order_context(po)), f"{po.number}.pdf")


@permission_required()
def cash(request: HttpRequest) -> HttpResponse:
    stations = permissions.managed_stations(request.user).order_by("code")
    station = (
        stations.filter(pk=request.GET.get("station") or request.POST.get("station") or 0).first()
        or stations.first()
    )
    if station is None:
        raise Http404(_("您没有可管理的站点"))
    day = timezone.localdate()
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "reconcile":
                payments.reconcile_cash(
                    request.user,
                    station,
                    day,
                    Decimal(request.POST.get("counted", "")),
                    request.POST.get("notes", ""),
                )
                messages.success(request, _("已保存现金日结"))
            elif action == "payout":
                refund = get_object_or_404(
                    services.pending_cash_refunds(request.user, station), pk=request.POST.get("refund")
                )
                payments.pay_out_cash_refund(request.user, refund)
                messages.success(request, _("已登记退还现金"))
        except (InvalidOperation, ValueError):
            messages.error(request, _("请输入金额"))
        except ValidationError as exc:
            messages.error(request, _messages(exc))
        return redirect(f"{request.path}?station={station.pk}")
    from marketplace.payments.models import CashReconciliation

    return render(
        request,
        "group_orders/cash.html",
        {
            "station": station,
            "stations": stations,
            "day": day,
            "summary": payments.cash_summary(station, day),
            "record": CashReconciliation.objects.filter(station=station, day=day).first(),
            "refunds": services.pending_cash_refunds(request.user, station)[:100],
        },
    )


@permission_required()
def commission(request: HttpRequest) -> HttpResponse:
    stations = permissions.managed_stations(request.user).order_by("code")
    station = stations.filter(pk=request.GET.get("station") or 0).first() or stations.first()
    if station is None:
        raise Http404(_("您没有可管理的站点"))
    month = date.today().replace(day=1)
    payments.commission_statement(station, month)
    return render(
        request,
        "group_orders/commission.html",
        {
            "station": station,
            "stations": stations,
            "balance": payments.commission_balance(station),
            "statements": CommissionStatement.objects.filter(station=station).order_by("-month")[:24],
        },
    )

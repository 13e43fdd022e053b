"""Produce pages: buyers (market, basket, checkout, orders), cooperatives (lots, rounds, packing,
delivery, statement) and the public trace page. Thin: services and trace do the work."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.accounts.backends import SESSION_BACKEND
from marketplace.core import permissions, uploads
from marketplace.core.documents import render_pdf
from marketplace.core.money import format_cny
from marketplace.core.permissions import OPERATOR, STATION_STAFF, permission_required
from marketplace.payments import gateway

from . import services, trace
from .models import Crop, Lot, OrderState, ProduceOrder, Round, SlotKind, StandingOrder, Unit
from .regions import REGIONS

BASKET_KEY = "produce_basket"


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    return exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def cooperative_required(view):
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not services.cooperatives_for(request.user).exists():
            raise PermissionDenied(_("只有合作社成员可以访问"))
        return view(request, *args, **kwargs)

    return wrapped


# --- Buyers: sign-up, market, basket ------------------------------------------------------------


def signup(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            user = services.sign_up_buyer(
                request.POST.get("phone", ""), request.POST.get("password", ""), request.POST.get("name", "")
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            login(request, user, backend=SESSION_BACKEND)
            messages.success(request, _("注册成功，欢迎选购"))
            nxt = request.POST.get("next") or ""
            return redirect(
                nxt if nxt.startswith("/") and not nxt.startswith("//") else reverse("produce:market")
            )
    return render(
        request,
        "produce/signup.html",
        {"errors": errors, "form": request.POST, "next": request.GET.get("next", "")},
    )


def market(request: HttpRequest) -> HttpResponse:
    """农产品: open rounds and their lots, searchable by crop, variety, origin, cooperative."""
    q = (request.GET.get("q") or "").strip()[:64]
    crop = request.GET.get("crop") or ""
    lots = Lot.objects.filter(is_active=True, rounds__in=services.open_rounds()).distinct()
    if q:
        lots = lots.filter(
            Q(variety__icontains=q) | Q(origin_village__icontains=q) | Q(partner__name__icontains=q) | Q(grade__icontains=q)
            | Q(crop__in=[c for c, label in Crop.choices if q in str(label)])
        )  # fmt: skip
    if crop in Crop.values:
        lots = lots.filter(crop=crop)
    lots = lots.select_related("partner").prefetch_related("sale_units", "certifications", "photos")[:60]
    rounds = services.open_rounds().select_related("partner").order_by("cutoff_at")[:20]
    return render(
        request,
        "produce/market.html",
        {"lots": lots, "rounds": rounds, "q": q, "crop": crop, "crops": Crop.choices},
    )


def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lot = get_object_or_404(Lot.objects.select_related("partner"), pk=pk, is_active=True)
    rounds = services.open_rounds().filter(lots=lot)
    return render(
        request, "produce/lot.html", {"lot": lot, "rounds": rounds, "trace_url": trace.digital_link(lot)}
    )


def _basket(request: HttpRequest) -> dict[str, dict[str, int]]:
    return request.session.get(BASKET_KEY) or {}


def round_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = get_object_or_404(Round.objects.select_related("partner"), pk=pk)
    if request.method == "POST":
        if not rnd.is_open:
            messages.error(request, _("本轮次已截单"))
            return redirect("produce:round", pk=pk)
        basket = _basket(request)
        lines = basket.get(str(pk), {})
        for unit in services.units_in_round(rnd):
            raw = request.POST.get(f"qty_{unit.pk}", "").strip()
            if raw == "":
                continue
            try:
                qty = int(raw)
            except ValueError:
                messages.error(request, _("数量须为整数"))
                return redirect("produce:round", pk=pk)
            if qty <= 0:
                lines.pop(str(unit.pk), None)
            else:
                lines[str(unit.pk)] = min(qty, 10000)
        basket[str(pk)] = lines
        request.session[BASKET_KEY] = basket
        return redirect("produce:basket")
    units = list(services.units_in_round(rnd))
    rows = [{"unit": u, "sellable": not services.check_sellable(u.product, 1)} for u in units]
    return render(request, "produce/round.html", {"round": rnd, "rows": rows, "slots": rnd.slots.all()})


def basket(request: HttpRequest) -> HttpResponse:
    groups = []
    for round_id, lines in _basket(request).items():
        rnd = Round.objects.filter(pk=round_id).select_related("partner").first()
        if rnd is None or not lines:
            continue
        units = {u.pk: u for u in services.units_in_round(rnd)}
        rows = []
        for unit_id, qty in lines.items():
            unit = units.get(int(unit_id))
            if unit:
                price = services.unit_price(unit, qty)
                rows.append({"unit": unit, "qty": qty, "price": price, "total": price * qty,
                             "problem": services.check_sellable(unit.product, qty)})  # fmt: skip
        groups.append({"round": rnd, "rows": rows, "total": sum(r["total"] for r in rows)})
    return render(request, "produce/basket.html", {"groups": groups})


@login_required
def checkout(request: HttpRequest, round_id: int) -> HttpResponse:
    rnd = get_object_or_404(Round.objects.select_related("partner"), pk=round_id)
    lines = {int(k): int(v) for k, v in _basket(request).get(str(round_id), {}).items()}
    errors: dict[str, list[str]] = {}
    form = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        address = services.Address(
            **{k: request.POST.get(k, "") for k in services.Address.__dataclass_fields__}
        )
        key = request.POST.get("key") or ""
        try:
            slot_id = int(request.POST.get("slot") or 0)
        except ValueError:
            slot_id = 0
        try:
            result = services.start_checkout(
                request.user, rnd, lines, slot_id, address, request.POST.get("online_type", "card"),
                f"produce:checkout:{request.user.pk}:{key}", token=request.POST.get("stripe_token", ""),
                return_url=request.build_absolute_uri(reverse("produce:pay", kwargs={"key": key})),
            )  # fmt: skip
        except (ValidationError, PermissionDenied) as exc:
            errors = _errors(exc) if isinstance(exc, ValidationError) else {"__all__": [str(exc)]}
        else:
            if result.order is not None:
                _forget_round(request, round_id)
                messages.success(request, _("支付成功，订单已提交"))
                return redirect("produce:order", pk=result.order.pk)
            return redirect("produce:pay", key=key)
    total = Decimal("0")
    rows = []
    units = {u.pk: u for u in services.units_in_round(rnd)}
    for unit_id, qty in lines.items():
        if unit_id in units:
            price = services.unit_price(units[unit_id], qty)
            rows.append({"unit": units[unit_id], "qty": qty, "price": price, "total": price * qty})
            total += price * qty
    return render(
        request,
        "produce/checkout.html",
        {
            "round": rnd, "rows": rows, "total": total, "slots": rnd.slots.all(), "errors": errors, "form": form,
            "key": uuid.uuid4().hex, "regions_json": json.dumps(REGIONS, ensure_ascii=False),
            "regions": REGIONS, "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
            "stripe_js_url": settings.STRIPE_JS_URL,
        },
    )  # fmt: skip


def _forget_round(request: HttpRequest, round_id: int) -> None:
    basket = _basket(request)
    basket.pop(str(round_id), None)
    request.session[BASKET_KEY] = basket


@login_required
def pay(request: HttpRequest, key: str) -> HttpResponse:
    """Pending payment: 3-D Secure (Stripe.js), WeChat Pay QR code, Alipay redirect; then place."""
    full = f"produce:checkout:{request.user.pk}:{key}"
    try:
        result = services.resume_checkout(request.user, full)
    except ValidationError as exc:
        return render(request, "produce/pay.html", {"errors": exc.messages}, status=400)
    if result.order is not None:
        round_id = result.order.round_id
        _forget_round(request, round_id)
        return redirect("produce:order", pk=result.order.pk)
    return render(
        request,
        "produce/pay.html",
        {"action": result.next_action, "client_secret": result.client_secret, "key": key,
         "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY, "stripe_js_url": settings.STRIPE_JS_URL},
    )  # fmt: skip


@login_required
def my_orders(request: HttpRequest) -> HttpResponse:
    orders = services.orders_for_buyer(request.user)[:100]
    return render(request, "produce/my_orders.html", {"orders": orders})


def _my_order(request: HttpRequest, pk: int) -> ProduceOrder:
    po = get_object_or_404(ProduceOrder.objects.select_related("order", "round__partner", "slot"), pk=pk)
    if po.buyer_id != request.user.pk and not permissions.is_operator(request.user):
        raise Http404
    return po


@login_required
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    po = _my_order(request, pk)
    lots = {
        u.product_id: u.lot
        for u in services.SaleUnit.objects.filter(
            product__in=po.order.lines.values("product_id")
        ).select_related("lot")
    }
    lines = [{"line": ln, "lot": lots.get(ln.product_id)} for ln in po.order.lines.all()]
    return render(
        request, "produce/order.html", {"po": po, "lines": lines, "refunds": services.order_refunds(po)}
    )


@login_required
@require_POST
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    po = _my_order(request, pk)
    try:
        services.cancel_order(request.user, po)
        messages.success(request, _("订单已取消，款项将原路退回"))
    except ValidationError as exc:
        messages.error(request, _("；").join(exc.messages))
    except gateway.GatewayError:
        messages.error(request, _("退款暂未成功，请稍后再试"))
    return redirect("produce:order", pk=pk)


@login_required
def order_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    po = _my_order(request, pk)
    pdf = render_pdf("produce/documents/receipt.html", {"po": po, "lines": po.order.lines.all()})
    return _pdf(pdf, f"receipt-{po.order.number}.pdf")


# --- Business buyers: standing orders ---------------------------------------------------------


@login_required
def standing_orders(request: HttpRequest) -> HttpResponse:
    from marketplace.apps.partner.models import PartnerKind, VerificationStatus

    Partner = services.Partner
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        action = request.POST.get("action", "create")
        if action == "create":
            try:
                partner = Partner.objects.get(
                    pk=int(request.POST.get("partner") or 0), kind=PartnerKind.COOPERATIVE
                )
                units = int(request.POST.get("units") or 0)
                address = services.Address(
                    **{k: request.POST.get(k, "") for k in services.Address.__dataclass_fields__}
                )
                services.create_standing_order(
                    request.user, partner, request.POST.get("crop", ""), request.POST.get("pack_kg", ""),
                    units, address, request.POST.get("stripe_token", ""),
                )  # fmt: skip
                messages.success(request, _("周期订单已创建，每轮自动下单"))
                return redirect("produce:standing")
            except (Partner.DoesNotExist, ValueError):
                errors = {"partner": [_("请选择合作社并填写数量")]}
            except (ValidationError, PermissionDenied) as exc:
                errors = _errors(exc) if isinstance(exc, ValidationError) else {"__all__": [str(exc)]}
        else:
            so = get_object_or_404(StandingOrder, pk=request.POST.get("standing"), buyer=request.user)
            if action == "pause":
                so.paused = not so.paused
                so.save(update_fields=["paused"])
            elif action == "skip":
                rnd = get_object_or_404(Round, pk=request.POST.get("round"), partner=so.partner)
                try:
                    services.skip_round(request.user, so, rnd)
                    messages.success(request, _("已跳过本轮"))
                except ValidationError as exc:
                    messages.error(request, _("；").join(exc.messages))
            return redirect("produce:standing")
    mine = (
        StandingOrder.objects.filter(buyer=request.user)
        .select_related("partner")
        .prefetch_related("allocations__round", "skipped_rounds")
    )
    coops = Partner.objects.filter(
        kind=PartnerKind.COOPERATIVE, verification_status=VerificationStatus.APPROVED
    )
    return render(
        request,
        "produce/standing.html",
        {"standing": mine, "coops": coops, "crops": Crop.choices, "errors": errors, "form": request.POST,
         "rounds": services.open_rounds(), "regions": REGIONS, "regions_json": json.dumps(REGIONS, ensure_ascii=False),
         "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY, "stripe_js_url": settings.STRIPE_JS_URL},
    )  # fmt: skip


# --- Public trace page -------------------------------------------------------------------------


def digital_link(request: HttpRequest, gtin: str, lot: str) -> HttpResponse:
    obj = get_object_or_404(Lot.objects.select_related("partner"), gtin=gtin, code=lot)
    return render(request, "produce/trace.html", trace.public_facts(obj))


def trace_code(request: HttpRequest) -> HttpResponse:
    code = (request.GET.get("code") or "").strip()
    obj = Lot.objects.filter(code=code).first() if code else None
    if obj:
        return redirect(trace.digital_link(obj))
    return render(request, "produce/trace_lookup.html", {"code": code, "missing": bool(code)})


# --- Cooperatives ------------------------------------------------------------------------------


@cooperative_required
def coop_home(request: HttpRequest) -> HttpResponse:
    partners = services.cooperatives_for(request.user)
    lots = Lot.objects.filter(partner__in=partners).prefetch_related("sale_units")[:100]
    rounds = Round.objects.filter(partner__in=partners).order_by("-cutoff_at")[:50]
    return render(request, "produce/coop_home.html", {"partners": partners, "lots": lots, "rounds": rounds})


def _partner(request: HttpRequest):
    partners = services.cooperatives_for(request.user)
    pid = request.POST.get("partner") or request.GET.get("partner")
    partner = partners.filter(pk=pid).first() if pid and str(pid).isdigit() else partners.first()
    if partner is None:
        raise PermissionDenied(_("只有合作社成员可以访问"))
    return partner


@cooperative_required
def lot_create(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        p = request.POST
        sale_units = []
        for i in range(3):
            if p.get(f"su{i}_pack_kg"):
                breaks = []
                if p.get(f"su{i}_break_qty") and p.get(f"su{i}_break_price"):
                    breaks = [[p.get(f"su{i}_break_qty"), p.get(f"su{i}_break_price")]]
                sale_units.append({"unit": p.get(f"su{i}_unit"), "pack_kg": p.get(f"su{i}_pack_kg"),
                                   "price": p.get(f"su{i}_price"), "units": p.get(f"su{i}_units"), "breaks": breaks})  # fmt: skip
        certs = []
        if p.get("cert_number"):
            certs = [
                {
                    "kind": p.get("cert_kind"),
                    "number": p.get("cert_number"),
                    "expires_on": p.get("cert_expires_on"),
                }
            ]
        data = services.LotInput(
            code=p.get("code", ""), crop=p.get("crop", ""), variety=p.get("variety", ""), grade=p.get("grade", ""),
            harvest_date=p.get("harvest_date", ""), origin_village=p.get("origin_village", ""),
            latitude=p.get("latitude", ""), longitude=p.get("longitude", ""), quantity_kg=p.get("quantity_kg", ""),
            sale_units=sale_units, certifications=certs, household_ids=p.getlist("households"),
            gtin=p.get("gtin", ""), description=p.get("description", ""),
        )  # fmt: skip
        photos = request.FILES.getlist("photos")[:5]
        try:
            for f in photos:  # real images within UPLOAD_MAX_IMAGE_BYTES (the core upload check)
                uploads.check_upload(f, uploads.IMAGE, field="photos")
            with transaction.atomic():
                lot = services.create_lot(request.user, partner, data)
                for f in photos:
                    lot.photos.create(image=f)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("批次已上架"))
            return redirect("produce:coop-lot", pk=lot.pk)
    return render(
        request,
        "produce/lot_form.html",
        {"partner": partner, "errors": errors, "form": request.POST, "crops": Crop.choices, "units": Unit.choices,
         "cert_kinds": services.CertificationKind.choices, "today": timezone.localdate().isoformat()},
    )  # fmt: skip


@cooperative_required
def lot_import(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    problems: list[services.RowError] = []
    if request.method == "POST" and request.FILES.get("file"):
        f = request.FILES["file"]
        lots, problems = services.import_lots(request.user, partner, f, f.name)
        if not problems:
            messages.success(request, _("已导入 %(n)d 个批次") % {"n": len(lots)})
            return redirect("produce:coop")
    return render(
        request, "produce/lot_import.html", {"problems": problems, "columns": services.IMPORT_COLUMNS}
    )


def _coop_lot(request: HttpRequest, pk: int) -> Lot:
    return get_object_or_404(Lot.objects.filter(partner__in=services.cooperatives_for(request.user)), pk=pk)


@cooperative_required
def coop_lot(request: HttpRequest, pk: int) -> HttpResponse:
    lot = _coop_lot(request, pk)
    if request.method == "POST" and request.POST.get("action") == "growers":
        try:
            services.set_lot_growers(request.user, lot, request.POST.getlist("households"))
            messages.success(request, _("种植农户已保存"))
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        return redirect("produce:coop-lot", pk=lot.pk)
    if request.method == "POST" and request.POST.get("action") == "certificate":
        try:
            qty = Decimal(request.POST.get("quantity_kg") or "0")
            cert = trace.issue_certificate(
                request.user, lot, qty, request.build_absolute_uri(trace.digital_link(lot))
            )
            return redirect(cert.pdf.url) if settings.DEBUG else _pdf(cert.pdf.read(), f"{cert.number}.pdf")
        except (ValidationError, InvalidOperation) as exc:
            messages.error(request, _("；").join(getattr(exc, "messages", [_("数量无效")])))
    return render(
        request,
        "produce/coop_lot.html",
        {"lot": lot, "facts": trace.public_facts(lot), "trace_url": trace.digital_link(lot),
         "certificates": lot.certificates.order_by("-issued_at"),
         "members": [m for m in services.member_rows(lot.partner) if m["household_id"]],
         "growers": set(lot.households.values_list("pk", flat=True))},
    )  # fmt: skip


@cooperative_required
def coop_lot_certificate(request: HttpRequest, pk: int, cert_id: int) -> HttpResponse:
    lot = _coop_lot(request, pk)
    cert = get_object_or_404(lot.certificates, pk=cert_id)
    return _pdf(cert.pdf.read(), f"{cert.number}.pdf")


@cooperative_required
def coop_lot_epcis(request: HttpRequest, pk: int) -> HttpResponse:
    lot = _coop_lot(request, pk)
    doc = trace.epcis_document(lot, request.build_absolute_uri("/p/produce").rstrip("/"))
    response = JsonResponse(doc, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Type"] = "application/ld+json"
    response["Content-Disposition"] = f'attachment; filename="epcis-{lot.code}.jsonld"'
    return response


def _parse_cutoff(raw: str) -> datetime | None:
    value = parse_datetime(raw or "")
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    return value


@cooperative_required
def round_create(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        p = request.POST
        slots = []
        for i in range(3):
            if p.get(f"slot{i}_day"):
                slots.append(
                    {
                        k: p.get(f"slot{i}_{k}", "")
                        for k in ("kind", "day", "start", "end", "place_name", "place_address")
                    }
                )
        try:
            lot_ids = [int(x) for x in p.getlist("lots")]
            rnd = services.open_round(
                request.user, partner, p.get("title", ""), _parse_cutoff(p.get("cutoff_at", "")), lot_ids, slots,
                int(p["collection_point"]) if p.get("collection_point", "").isdigit() else None,
            )  # fmt: skip
        except ValueError:
            errors = {"lots": [_("请选择批次")]}
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("销售轮次已开启"))
            return redirect("produce:coop-round", pk=rnd.pk)
    return render(
        request,
        "produce/round_form.html",
        {"partner": partner, "errors": errors, "form": request.POST,
         "lots": Lot.objects.filter(partner=partner, is_active=True), "kinds": SlotKind.choices,
         "points": partner.warehouses.filter(is_active=True)},
    )  # fmt: skip


def _coop_round(request: HttpRequest, pk: int) -> Round:
    return get_object_or_404(Round.objects.filter(partner__in=services.cooperatives_for(request.user)), pk=pk)


@cooperative_required
def coop_round(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = _coop_round(request, pk)
    if request.method == "POST":
        po = get_object_or_404(rnd.orders, pk=request.POST.get("order"))
        try:
            if request.POST.get("action") == "pack":
                services.mark_packed(request.user, po)
                messages.success(request, _("已打包：%(n)s") % {"n": po.order.number})
            elif request.POST.get("action") == "deliver":
                services.confirm_delivery(request.user, po, request.POST.get("code", ""))
                messages.success(request, _("已签收并结算：%(n)s") % {"n": po.order.number})
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        except gateway.GatewayError:
            messages.error(request, _("支付结算暂未成功，请稍后再试"))
        return redirect("produce:coop-round", pk=pk)
    return render(request, "produce/coop_round.html", {"pack": services.packing_list(rnd), "round": rnd})


@cooperative_required
def packing_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = _coop_round(request, pk)
    return _pdf(
        render_pdf("produce/documents/packing.html", {"pack": services.packing_list(rnd)}),
        f"packing-{pk}.pdf",
    )


@cooperative_required
def labels_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    rnd = _coop_round(request, pk)
    labels = []
    for po in rnd.orders.exclude(state=OrderState.CANCELLED).select_related("order", "slot"):
        for line in po.order.lines.all():
            unit = services.SaleUnit.objects.filter(product_id=line.product_id).select_related("lot").first()
            if unit:
                url = request.build_absolute_uri(trace.digital_link(unit.lot))
                labels.append({"po": po, "line": line, "lot": unit.lot, "qr": trace.qr_svg(url), "url": url})
    return _pdf(
        render_pdf("produce/documents/labels.html", {"labels": labels, "round": rnd}), f"labels-{pk}.pdf"
    )


@cooperative_required
def statement(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    try:
        month = date.fromisoformat((request.GET.get("month") or "") + "-01")
    except ValueError:
        month = timezone.localdate().replace(day=1)
    return render(request, "produce/statement.html", {"s": services.monthly_statement(partner, month)})


# --- Cooperative members: the cooperative asks, the farmer's station confirms ---------------------


@cooperative_required
def coop_members(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            services.request_member(
                request.user, partner, request.POST.get("station", ""), request.POST.get("name", ""),
                request.POST.get("phone", ""),
            )  # fmt: skip
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("已提交，等待农户所在站点确认"))
            return redirect("produce:coop-members")
    return render(
        request,
        "produce/coop_members.html",
        {"partner": partner, "rows": services.member_rows(partner), "errors": errors, "form": request.POST},
    )


@permission_required(STATION_STAFF)
def station_members(request: HttpRequest) -> HttpResponse:
    """Station staff confirm cooperative memberships of their farmers (they know them)."""
    if request.method == "POST":
        member = get_object_or_404(services.member_requests_for(request.user), pk=request.POST.get("member"))
        confirm = request.POST.get("action") == "confirm"
        try:
            services.decide_member(request.user, member, request.POST.get("household", ""), confirm)
            messages.success(request, _("已确认成员") if confirm else _("已拒绝"))
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        return redirect("produce:station-members")
    rows = []
    for m in services.member_requests_for(request.user)[:200]:
        households = services.Household.objects.filter(station_id=m.station_id, is_active=True)
        matching = households.filter(Q(phone=m.phone) | Q(name=m.name))
        rows.append(
            {"m": m, "households": (matching if matching.exists() else households).order_by("name")[:300]}
        )
    return render(request, "produce/station_members.html", {"rows": rows})


# --- Operator: cooperative payouts -------------------------------------------------------------


@permission_required(OPERATOR)
def operator_payouts(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            result = services.run_cooperative_payouts(request.user, request.POST.get("run", ""))
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        else:
            messages.success(
                request,
                _("支付批次 %(ref)s：%(n)s 个合作社，共 %(total)s")
                % {"ref": result["reference"], "n": result["count"], "total": format_cny(result["total"])},
            )
        return redirect("produce:operator-payouts")
    rows = services.cooperatives_owed()
    return render(
        request,
        "produce/operator_payouts.html",
        {"rows": rows[:500], "count": len(rows), "total": sum((r["balance"] for r in rows), Decimal("0.00")),
         "runs": services.cooperative_payout_runs(), "run": uuid.uuid4().hex[:12]},
    )  # fmt: skip


# --- Operator: refunds after delivery ----------------------------------------------------------

REFUND_PAGE_SIZE = 20


@permission_required(OPERATOR)
def operator_refunds(request: HttpRequest) -> HttpResponse:
    """Delivered orders with money left to refund (or, searching by order number, any delivered one)."""
    from django.core.paginator import Paginator

    q = (request.GET.get("q") or "").strip()
    page = Paginator(services.refundable_orders(q), REFUND_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"po": po, "left": services.refundable_amount(po)} for po in page]
    return render(request, "produce/operator_refunds.html", {"page": page, "rows": rows, "q": q})


@permission_required(OPERATOR)
def operator_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """One order: the form (amount, reason, a submission key), a confirmation step, then the refund
    through ``services.refund_order`` — the same call as GraphQL ``produceOrderRefund``."""
    po = get_object_or_404(
        ProduceOrder.objects.select_related("order", "round__partner", "payment", "buyer", "slot"), pk=pk
    )
    form = {
        "amount": request.POST.get("amount", ""),
        "reason": request.POST.get("reason", ""),
        "key": request.POST.get("key") or uuid.uuid4().hex,
    }
    errors: dict[str, list[str]] = {}
    preview = None
    if request.method == "POST":
        step = request.POST.get("step")
        try:
            if step == "confirm":
                po = services.refund_order(request.user, po, form["amount"], form["key"], form["reason"])
                messages.success(
                    request,
                    _("已退款：订单 %(n)s，款项原路退回买家") % {"n": po.order.number},
                )
                return redirect("produce:operator-refund", pk=po.pk)
            if step == "preview":
                preview = services.refund_preview(request.user, po, form["amount"], form["reason"])
        except ValidationError as exc:
            errors = _errors(exc)
    others = [m for name, msgs in errors.items() if name not in ("amount", "reason") for m in msgs]
    return render(
        request,
        "produce/operator_refund.html",
        {"po": po, "left": services.refundable_amount(po), "refunds": services.order_refunds(po),
         "form": form, "errors": errors, "other_errors": others, "preview": preview},
    )  # fmt: skip

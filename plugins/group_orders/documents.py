"""PDF documents (WeasyPrint, Chinese, A4): station pick list, supplier purchase order, household receipt."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import segno
from django.db.models import Sum
from django.utils import timezone

from marketplace.core.documents import render_html, render_pdf

from .models import Campaign, Pickup, PledgeStatus, PurchaseOrder
from .services import households_summary


def qr_data_uri(text: str) -> str:
    """A QR code as a ``data:`` URL for ``<img src>`` (farmer's pickup page, receipt PDF): segno's
    standalone SVG document, with the ``xmlns`` an image needs (inline-HTML SVG without it is a
    broken image once loaded through ``<img>``)."""
    return segno.make(text, error="m").svg_data_uri(scale=3, border=2)


def pick_list_context(campaign: Campaign, station: Any, pledges: Any) -> dict[str, Any]:
    # No pickup codes on the printed list: a household proves it is the owner by telling its code
    # (verified on the pickup page); a list lying on the counter must not hand out everybody's.
    rows = households_summary(pledges)
    items = list(campaign.items.select_related("product"))
    totals = {i.pk: 0 for i in items}
    for row in rows:
        row["by_item"] = [sum(p.quantity for p in row["pledges"] if p.item_id == i.pk) for i in items]
        for i, q in zip(items, row["by_item"], strict=True):
            totals[i.pk] += q
    return {
        "campaign": campaign,
        "station": station,
        "items": items,
        "rows": rows,
        "item_totals": [totals[i.pk] for i in items],
        "amount_total": sum((r["amount"] for r in rows), Decimal("0")),
        "printed_at": timezone.localtime(),
    }


def purchase_order_context(po: PurchaseOrder) -> dict[str, Any]:
    deliveries = (
        po.deliveries.select_related("station__village__township", "station__county")
        .prefetch_related("lines__item__product")
        .order_by("station__county__code", "station__code")
    )
    products = (
        po.deliveries.values("lines__item__product__title", "lines__item__final_unit_price")
        .annotate(q=Sum("lines__expected"), a=Sum("lines__amount"))
        .order_by("lines__item__product__title")
    )
    return {
        "po": po,
        "campaign": po.campaign,
        "deliveries": deliveries,
        "products": products,
        "printed_at": timezone.localtime(),
    }


def receipt_context(pickup: Pickup) -> dict[str, Any]:
    pledges = list(
        pickup.campaign.pledges.filter(household=pickup.household, status=PledgeStatus.CONFIRMED)
        .select_related("item__product", "payment")
        .order_by("item_id")
    )
    return {
        "pickup": pickup,
        "campaign": pickup.campaign,
        "household": pickup.household,
        "station": pickup.station,
        "pledges": pledges,
        "total": sum((p.final_amount or 0 for p in pledges), Decimal("0")),
        "qr": qr_data_uri(f"GBPICKUP:{pickup.pk}:{pickup.code}"),
        "printed_at": timezone.localtime(),
    }


def pick_list_pdf(context: dict[str, Any]) -> bytes:
    return render_pdf("group_orders/documents/pick_list.html", context)


def purchase_order_pdf(context: dict[str, Any]) -> bytes:
    return render_pdf("group_orders/documents/purchase_order.html", context)


def receipt_pdf(context: dict[str, Any]) -> bytes:
    return render_pdf("group_orders/documents/receipt.html", context)


def html(template: str, context: dict[str, Any]) -> str:
    return render_html(f"group_orders/documents/{template}.html", context)

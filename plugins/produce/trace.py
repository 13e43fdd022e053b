"""Traceability: the public trace page's facts, inputs bought by the growers, the pre-harvest-interval
check, the EPCIS 2.0 event export, and the 承诺达标合格证 (commitment certificate) per batch.

The inputs come from the core's Oscar orders of the lot's member households (whatever placed them:
station orders, group-buy closes), never from another plugin. Nothing personal is shown publicly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from oscar.core.loading import get_model

from marketplace.apps.catalogue.product_types import FERTILIZER, PESTICIDE, SEED
from marketplace.core.documents import render_pdf

from .models import CommitmentCertificate, InputApplication, Lot

OrderLine = get_model("order", "Line")
INPUT_TYPES = {FERTILIZER: _("肥料"), SEED: _("种子"), PESTICIDE: _("农药")}


def digital_link(lot: Lot) -> str:
    """GS1 Digital Link path: /01/<GTIN>/10/<lot> under the plugin's mount."""
    return reverse("produce:digital-link", kwargs={"gtin": lot.gtin, "lot": lot.code})


@dataclass(frozen=True)
class InputBought:
    kind: str
    title: str
    registration_no: str
    first_bought: date
    quantity: int


def inputs_bought(lot: Lot) -> list[InputBought]:
    """Fertilizer, seed and pesticide the lot's growers bought on this platform in the season (from
    1 January of the harvest year to the harvest date), one row per product."""
    start = timezone.make_aware(datetime.combine(date(lot.season, 1, 1), time.min))
    end = timezone.make_aware(datetime.combine(lot.harvest_date, time.max))
    lines = (
        OrderLine.objects.filter(
            order__household__in=lot.households.all(),
            order__date_placed__gte=start,
            order__date_placed__lte=end,
            product__product_class__slug__in=list(INPUT_TYPES),
        )
        .exclude(order__status__in=["已取消", "Cancelled"])
        .select_related("product__product_class", "order")
        .prefetch_related("product__attribute_values__attribute")
        .order_by("order__date_placed", "pk")
    )
    rows: dict[int, InputBought] = {}
    for line in lines:
        product = line.product
        attrs = {av.attribute.code: av.value for av in product.attribute_values.all()}
        reg = str(attrs.get("registration_no") or attrs.get("variety_approval_no") or "")
        prev = rows.get(product.pk)
        rows[product.pk] = InputBought(
            kind=str(INPUT_TYPES[product.product_class.slug]),
            title=product.title,
            registration_no=reg,
            first_bought=prev.first_bought if prev else timezone.localtime(line.order.date_placed).date(),
            quantity=(prev.quantity if prev else 0) + line.quantity,
        )
    return list(rows.values())


@dataclass(frozen=True)
class PhiCheck:
    product: str
    applied_on: date
    phi_days: int
    days_before_harvest: int

    @property
    def ok(self) -> bool:
        return self.days_before_harvest >= self.phi_days


def phi_checks(lot: Lot) -> list[PhiCheck]:
    """Pre-harvest interval (安全间隔期): every recorded pesticide application must be at least its
    interval before the harvest date."""
    return [
        PhiCheck(a.product.title, a.applied_on, a.phi_days, (lot.harvest_date - a.applied_on).days)
        for a in InputApplication.objects.filter(lot=lot).select_related("product")
    ]


def record_application(
    user: Any, lot: Lot, product: Any, applied_on: date, phi_days: int
) -> InputApplication:
    from django.core.exceptions import ValidationError

    from .services import require_cooperative

    require_cooperative(user, lot.partner)
    if applied_on > lot.harvest_date:
        raise ValidationError({"applied_on": ValidationError(_("施用日期不能晚于采收日期"), code="invalid")})
    return InputApplication.objects.create(lot=lot, product=product, applied_on=applied_on, phi_days=phi_days)


def public_facts(lot: Lot) -> dict[str, Any]:
    """What anyone scanning the QR code may see: no farmer names, phones or ID numbers."""
    checks = phi_checks(lot)
    return {
        "lot": lot,
        "cooperative": lot.partner.name,
        "grower_count": lot.households.count(),
        "certifications": list(lot.certifications.all()),
        "inputs": inputs_bought(lot),
        "phi": checks,
        "phi_ok": all(c.ok for c in checks),
        "events": list(lot.events.all()),
    }


# --- EPCIS 2.0 ----------------------------------------------------------------------------------

BIZ_STEP = {
    "harvest": "commissioning",
    "packing": "packing",
    "shipping": "shipping",
    "receiving": "receiving",
}


def epc_class(lot: Lot, base: str) -> str:
    return f"{base}/01/{lot.gtin}/10/{lot.code}"


def epcis_document(lot: Lot, base: str = "https://id.example.cn") -> dict[str, Any]:
    """The lot's event log as an EPCIS 2.0 JSON-LD document (ObjectEvents with quantityList)."""
    events = []
    for ev in lot.events.all():
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventTime": timezone.localtime(ev.at).isoformat(),
            "eventTimeZoneOffset": timezone.localtime(ev.at).strftime("%z")[:3]
            + ":"
            + timezone.localtime(ev.at).strftime("%z")[3:],
            "action": "ADD" if ev.kind == "harvest" else "OBSERVE",
            "bizStep": BIZ_STEP[ev.kind],
            "quantityList": [
                {"epcClass": epc_class(lot, base), "quantity": float(ev.quantity_kg or 0), "uom": "KGM"}
            ],
        }
        if ev.latitude is not None and ev.longitude is not None:
            event["readPoint"] = {"id": f"geo:{ev.latitude},{ev.longitude}"}
        if ev.reference and not ev.reference.startswith("harvest:"):
            event["bizTransactionList"] = [
                {"type": "po", "bizTransaction": f"urn:produce:order:{ev.reference}"}
            ]
        events.append(event)
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": timezone.now().isoformat(),
        "epcisBody": {"eventList": events},
    }


# --- 承诺达标合格证 ---------------------------------------------------------------------------------


@transaction.atomic
def issue_certificate(user: Any, lot: Lot, quantity_kg: Decimal, trace_url: str) -> CommitmentCertificate:
    """Issue the commitment certificate PDF for a batch of the lot, archived (≥ 2 years)."""
    from django.core.exceptions import ValidationError

    from .services import require_cooperative

    require_cooperative(user, lot.partner)
    if quantity_kg <= 0 or quantity_kg > lot.quantity_kg:
        raise ValidationError(
            {"quantity_kg": ValidationError(_("数量须大于零且不超过批次数量"), code="invalid")}
        )
    count = CommitmentCertificate.objects.filter(lot=lot).count() + 1
    number = f"{lot.code}-C{count:03d}"
    checks = phi_checks(lot)
    pdf = render_pdf(
        "produce/documents/certificate.html",
        {"lot": lot, "number": number, "quantity_kg": quantity_kg, "issued": timezone.localdate(),
         "qr": qr_svg(trace_url), "trace_url": trace_url, "phi_ok": all(c.ok for c in checks)},
    )  # fmt: skip
    cert = CommitmentCertificate(lot=lot, number=number, quantity_kg=quantity_kg)
    cert.pdf.save(f"{number}.pdf", ContentFile(pdf), save=False)
    cert.save()
    return cert


def qr_svg(data: str) -> str:
    import segno

    return segno.make(data, error="m").svg_inline(scale=3)

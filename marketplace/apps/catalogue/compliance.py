"""Licence compliance: stock whose required licence is missing or expired is not sellable.

* 农药 (pesticide): the selling partner holds a valid 农药经营许可证; restricted-use products need
  one whose scope includes restricted-use pesticides.
* 种子 (seed): the selling partner holds a valid 种子生产经营许可证.
* 化肥 (fertilizer): a valid 肥料登记证 is on file for that product.

``enforce_licences`` recomputes ``StockRecord.compliance_blocked`` in bulk and texts each supplier
once about newly blocked stock (and once per licence about an expiry within 30 days). The bulk
importer applies the same rule (``blocking_reason``) when it inserts stock records, so imported
stock that lacks a licence is blocked from the moment it exists.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.apps.partner.models import LicenceKind, Partner, PartnerLicence, StockRecord
from marketplace.core.sms import send_sms

from .product_types import FERTILIZER, PESTICIDE, SEED

EXPIRY_WARNING_DAYS = 30


def blocking_reason(
    slug: str,
    restricted: bool,
    partner_id: int,
    product_id: int,
    pesticide: dict[int, bool],
    seed: set[int],
    fertilizer_products: set[int],
) -> str:
    if slug == PESTICIDE:
        if partner_id not in pesticide:
            return "缺少有效的农药经营许可证"
        if restricted and not pesticide[partner_id]:
            return "农药经营许可证不含限制使用农药经营范围"
    elif slug == SEED:
        if partner_id not in seed:
            return "缺少有效的种子生产经营许可证"
    elif slug == FERTILIZER:
        if product_id not in fertilizer_products:
            return "缺少有效的肥料登记证"
    return ""


def partner_licences(partner_ids: Iterable[int] | None, today: date) -> tuple[dict[int, bool], set[int]]:
    """Valid partner-level licences: ``({partner_id: restricted_scope}, {seed partner ids})``."""
    valid = PartnerLicence.objects.valid_on(today).filter(
        kind__in=[LicenceKind.PESTICIDE_BUSINESS, LicenceKind.SEED_BUSINESS]
    )
    if partner_ids is not None:
        valid = valid.filter(partner_id__in=list(partner_ids))
    pesticide: dict[int, bool] = {}
    seed: set[int] = set()
    for pid, kind, scope in valid.values_list("partner_id", "kind", "restricted_scope"):
        if kind == LicenceKind.PESTICIDE_BUSINESS:
            pesticide[pid] = pesticide.get(pid, False) or scope
        else:
            seed.add(pid)
    return pesticide, seed


def record_blocking_reason(record: StockRecord, today: date | None = None) -> str:
    """:func:`blocking_reason` for one stock record (any write path: dashboard, pages, services)."""
    product = record.product
    slug = product.product_class.slug if product.product_class_id else ""
    if slug not in (PESTICIDE, SEED, FERTILIZER):
        return ""
    today = today or timezone.localdate()
    pesticide, seed = partner_licences([record.partner_id], today)
    fertilizer = set(
        PartnerLicence.objects.valid_on(today)
        .filter(kind=LicenceKind.FERTILIZER_REGISTRATION, product_id=product.pk)
        .values_list("product_id", flat=True)
    )
    return blocking_reason(
        slug, bool(getattr(product, "restricted_use", False)), record.partner_id, product.pk, pesticide, seed, fertilizer
    )


def check_new_stockrecord(sender: Any, instance: StockRecord, raw: bool = False, **kwargs: Any) -> None:
    """pre_save: a stock record is born blocked when its licence is missing, whoever creates it
    (Oscar's dashboard included), so it is never sellable for a moment without one. The bulk
    importer computes the same reason itself (bulk_create sends no signals)."""
    if raw or not instance._state.adding or not instance.product_id or not instance.partner_id:
        return
    reason = record_blocking_reason(instance)
    instance.compliance_blocked = bool(reason)
    instance.blocked_reason = reason


def notify_new_blocked_stockrecord(sender: Any, instance: StockRecord, created: bool = False, raw: bool = False, **kwargs: Any) -> None:
    """post_save: tell the supplier (once, deduplicated) that the stock it just added is not on sale."""
    if created and not raw and instance.compliance_blocked:
        notify_blocked(instance.partner, [instance.pk])


def recheck_after_change(partner_ids: Iterable[int] | None = None, product_ids: Iterable[int] | None = None) -> None:
    """After a licence or product changed (dashboard, admin, services): re-run the rule on commit."""
    partners = list(partner_ids) if partner_ids is not None else None
    products = list(product_ids) if product_ids is not None else None
    transaction.on_commit(lambda: enforce_licences(partner_ids=partners, product_ids=products, notify=False))


@transaction.atomic
def enforce_licences(
    partner_ids: Iterable[int] | None = None,
    notify: bool = True,
    today: date | None = None,
    product_ids: Iterable[int] | None = None,
) -> dict[str, int]:
    today = today or timezone.localdate()
    records = StockRecord.objects.all()
    if partner_ids is not None:
        partner_ids = list(partner_ids)
        records = records.filter(partner_id__in=partner_ids)
    if product_ids is not None:
        records = records.filter(product_id__in=list(product_ids))
    rows = list(
        records.values_list(
            "pk",
            "partner_id",
            "product_id",
            "product__product_class__slug",
            "product__restricted_use",
            "compliance_blocked",
            "blocked_reason",
        )
    )
    pesticide, seed = partner_licences(partner_ids, today)
    fertilizer = PartnerLicence.objects.valid_on(today).filter(kind=LicenceKind.FERTILIZER_REGISTRATION)
    if product_ids is not None:
        fertilizer = fertilizer.filter(product_id__in=[row[2] for row in rows])
    fertilizer_products = set(fertilizer.values_list("product_id", flat=True))

    to_block: dict[str, list[int]] = defaultdict(list)
    to_unblock: list[int] = []
    newly_blocked: dict[int, list[int]] = defaultdict(list)
    changed_products: set[int] = set()
    for pk, partner_id, product_id, slug, restricted, blocked, old_reason in rows:
        reason = blocking_reason(
            slug or "", restricted, partner_id, product_id, pesticide, seed, fertilizer_products
        )
        if reason and (not blocked or old_reason != reason):
            to_block[reason].append(pk)
            changed_products.add(product_id)
            if not blocked:
                newly_blocked[partner_id].append(pk)
        elif not reason and blocked:
            to_unblock.append(pk)
            changed_products.add(product_id)
    for reason, ids in to_block.items():
        StockRecord.objects.filter(pk__in=ids).update(compliance_blocked=True, blocked_reason=reason)
    if to_unblock:
        StockRecord.objects.filter(pk__in=to_unblock).update(compliance_blocked=False, blocked_reason="")

    sent = 0
    if notify:
        partners = Partner.objects.in_bulk(list(newly_blocked))
        for partner_id, ids in newly_blocked.items():
            if notify_blocked(partners[partner_id], ids):
                sent += 1
        if product_ids is None:  # a product-scoped re-check sends no licence-expiry reminders
            sent += _warn_expiring(today, partner_ids)
    if changed_products:
        from marketplace.search.sync import schedule_product_reindex

        schedule_product_reindex(sorted(changed_products))
    return {
        "blocked": sum(len(v) for v in to_block.values()),
        "unblocked": len(to_unblock),
        "notified": sent,
    }


def notify_blocked(partner: Partner, stockrecord_ids: Iterable[int]) -> bool:
    """Text the supplier once about these newly blocked stock records (deduplicated)."""
    ids = sorted(stockrecord_ids)
    if not ids:
        return False
    digest = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:16]
    text = (
        f"【益农直采】{partner.name}: 您有 {len(ids)} 个商品因资质证照缺失或过期已暂停销售, "
        "请登录供应商后台更新证照。"
    )
    return bool(send_sms(partner.sms_phone, text, dedupe_key=f"licence-block:{partner.pk}:{digest}"))


def _warn_expiring(today: date, partner_ids: Iterable[int] | None) -> int:
    soon = PartnerLicence.objects.filter(
        revoked=False, valid_until__gte=today, valid_until__lte=today + timedelta(days=EXPIRY_WARNING_DAYS)
    ).select_related("partner")
    if partner_ids is not None:
        soon = soon.filter(partner_id__in=list(partner_ids))
    sent = 0
    for licence in soon:
        text = (
            f"【益农直采】{licence.partner.name}: {licence.get_kind_display()} {licence.number} "
            f"将于 {licence.valid_until:%Y-%m-%d} 到期, 到期后相关商品将停售, 请及时续期。"
        )
        key = f"licence-expiring:{licence.pk}:{licence.valid_until:%Y%m%d}"
        if send_sms(licence.partner.sms_phone, text, dedupe_key=key):
            sent += 1
    return sent


def partner_compliance_summary(partner: Any) -> list[dict[str, Any]]:
    """Blocked stock of a partner, for the supplier portal."""
    return list(
        StockRecord.objects.filter(partner=partner, compliance_blocked=True)
        .select_related("product")
        .values("pk", "partner_sku", "product__title", "blocked_reason")
    )

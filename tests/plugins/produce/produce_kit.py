"""Helpers for the produce tests (imported as ``from produce_kit import ...``)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from plugins.produce import services


def lot_input(code: str = "QJ2026-001", units: int = 20, **extra) -> services.LotInput:
    values = dict(
        code=code, crop="rice", variety="稻花香", grade="特级",
        harvest_date=(timezone.localdate() - timedelta(days=10)).isoformat(), origin_village="齐家镇齐家村",
        latitude="43.4710", longitude="125.7390", quantity_kg="1000",
        sale_units=[{"unit": "bag", "pack_kg": "10", "price": "128.00", "units": units, "breaks": [[10, "118.00"]]}],
        certifications=[{"kind": "green", "number": "LB-18-2101", "expires_on": "2030-06-30"}],
    )  # fmt: skip
    values.update(extra)
    return services.LotInput(**values)


ADDRESS = services.Address(
    province="吉林省",
    city="长春市",
    district="朝阳区",
    street="红旗街 100 号",
    contact_name="王女士",
    contact_phone="13800000011",
    invoice_title="王女士",
)


def delivery_slot(rnd):
    return rnd.slots.get(kind="delivery")


def unit_of(lot):
    return lot.sale_units.get()


def stock_of(lot):
    return unit_of(lot).product.stockrecords.get()


def confirmed_member(partner, household):
    """A membership the household's station confirmed (test set-up; the pages are tested in
    test_produce_members)."""
    from plugins.produce.models import CooperativeMember, MembershipStatus

    return CooperativeMember.objects.create(
        partner=partner, station=household.station, household=household, name=household.name,
        phone=household.phone or "13900000000", status=MembershipStatus.CONFIRMED,
    )  # fmt: skip


def delivered_order(buyer, rnd, lot, coop_user, qty: int = 2, key: str = "d1"):
    """A city buyer's card order of ``qty`` units of ``lot``, packed and delivered (the buyer's
    code confirmed): the starting point of refund and money tests. Needs localstripe."""
    from testkit import CARD_PLAIN, stripe_card_token

    po = services.start_checkout(
        buyer, rnd, {unit_of(lot).pk: qty}, delivery_slot(rnd).pk, ADDRESS, "card", key,
        token=stripe_card_token(CARD_PLAIN),
    ).order  # fmt: skip
    services.mark_packed(coop_user, po)
    services.confirm_delivery(coop_user, po, po.delivery_code)
    po.refresh_from_db()
    return po

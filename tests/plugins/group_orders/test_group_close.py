"""Campaign close: retroactive best price, Oscar orders per household, consolidated purchase orders,
payments captured or released — idempotent and crash-safe (real PostgreSQL, localstripe for Stripe)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from oscar.core.loading import get_model

from marketplace.core.models import Notification
from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment, PaymentStatus, Refund, RefundStatus
from marketplace.stations.models import Household
from plugins.group_orders import services
from plugins.group_orders.closing import CloseInterrupted, close_campaign, close_due_campaigns
from plugins.group_orders.models import (
    CampaignStatus,
    CloseStep,
    DeliveryLine,
    Pickup,
    Pledge,
    PledgeStatus,
    PurchaseOrder,
    StationDelivery,
)

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
Line = get_model("order", "Line")
LinePrice = get_model("order", "LinePrice")


def pledge(staff, item, household, qty, method="cash", **kw):
    return services.place_pledge(staff, item, household, qty, method, **kw)


def test_progress_and_pledge_prices(staff_a, item, campaign, households_a):
    p = services.campaign_progress(campaign)
    assert (p["to_minimum"], p["items"][0]["tier_index"], p["items"][0]["to_next_tier"]) == (100, 0, 200)
    first = pledge(staff_a, item, households_a[0], 150)
    assert first.unit_price_at_pledge == Decimal("150.00")
    second = pledge(staff_a, item, households_a[1], 60)  # total 210: tier 1 price
    assert second.unit_price_at_pledge == Decimal("140.00")
    assert second.payment.amount_authorised == Decimal("8400.00")
    campaign.refresh_from_db()
    p = services.campaign_progress(campaign)
    assert (
        p["total_quantity"],
        p["to_minimum"],
        p["items"][0]["tier_index"],
        p["items"][0]["to_next_tier"],
    ) == (
        210,
        0,
        1,
        790,
    )


def test_pledge_rules(
    staff_a, staff_b, item, campaign, households_a, household_b, campaign_factory, fertilizer
):
    with pytest.raises(ValidationError) as err:
        pledge(staff_a, item, households_a[0], 0)
    assert "quantity" in err.value.error_dict
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        pledge(staff_a, item, household_b, 5)  # another station's farmer
    pledge(staff_a, item, households_a[0], 5)
    with pytest.raises(ValidationError) as err:
        pledge(staff_a, item, households_a[0], 5)  # one active pledge per household and product
    assert err.value.error_dict["itemId"][0].code == "unique"
    limited = campaign_factory([fertilizer], title="限购团", per_household_limit=10, max_total_quantity=150)
    it = limited.items.get()
    with pytest.raises(ValidationError) as err:
        pledge(staff_a, it, households_a[1], 11)
    assert err.value.error_dict["quantity"][0].code == "limit_exceeded"
    # Closed to station B: listed stations only.
    only_b = campaign_factory([fertilizer], title="乙站专享", station_ids=[household_b.station_id])
    with pytest.raises(ValidationError):
        pledge(staff_a, only_b.items.get(), households_a[2], 1)
    assert Payment.objects.count() == 1  # refused pledges took no money


def test_cancel_pledge_before_cutoff(staff_a, item, campaign, households_a):
    p = pledge(staff_a, item, households_a[0], 30)
    services.cancel_pledge(staff_a, p)
    campaign.refresh_from_db()
    assert campaign.total_quantity == 0
    assert Refund.objects.get(payment=p.payment).status == RefundStatus.PENDING
    p.refresh_from_db()
    assert p.status == PledgeStatus.CANCELLED


def _setup_success(staff_a, staff_b, item, households_a, make_households, station_b):
    hb = make_households(station_b, 3, "乙户")
    pledge(staff_a, item, households_a[0], 100)  # cash at ¥150
    pledge(staff_a, item, households_a[1], 30, "credit")  # credit, authorised at ¥150
    pledge(staff_b, item, hb[0], 60)
    pledge(staff_b, item, hb[1], 10, "credit")
    return hb


def test_close_success_creates_orders_pos_and_captures(
    staff_a, staff_b, item, campaign, households_a, make_households, station_b, expire
):
    _setup_success(staff_a, staff_b, item, households_a, make_households, station_b)
    expire(campaign)
    done = close_campaign(campaign.pk)
    assert done.status == CampaignStatus.SUCCEEDED and done.total_quantity == 200
    # Retroactive best price: everyone pays tier 1 (≥200 → ¥140).
    assert set(Pledge.objects.values_list("final_unit_price", flat=True)) == {Decimal("140.00")}
    orders = Order.objects.filter(number__startswith=f"GB{campaign.pk}-")
    assert orders.count() == 4
    o = orders.get(household=households_a[0])
    assert (o.total_incl_tax, o.station_id, o.placed_by_id) == (
        Decimal("14000.00"),
        households_a[0].station_id,
        staff_a.pk,
    )
    line = o.lines.get()
    assert (line.quantity, line.unit_price_incl_tax, line.line_price_before_discounts_incl_tax) == (
        100,
        Decimal("140.00"),
        Decimal("15000.00"),
    )
    assert LinePrice.objects.filter(line=line, quantity=100).exists()
    codes = list(Pickup.objects.values_list("code", flat=True))
    assert len(codes) == 4 and all(len(c) == 6 and c.isdigit() for c in codes)
    po = PurchaseOrder.objects.get(campaign=campaign)
    assert (po.total_quantity, po.total_amount) == (200, Decimal("28000.00"))
    assert StationDelivery.objects.filter(purchase_order=po).count() == 2
    assert sum(DeliveryLine.objects.values_list("expected", flat=True)) == 200
    # Cash: captured at the final price, change owed back; credit: receivable at the final price.
    cash = Payment.objects.get(pledge__household=households_a[0])
    assert (cash.status, cash.amount_captured) == (PaymentStatus.CAPTURED, Decimal("14000.00"))
    assert Refund.objects.get(payment=cash).amount == Decimal("1000.00")
    assert pay.balance(pay.household_receivable(households_a[1].pk)) == Decimal("4200.00")
    assert pay.balance(pay.SALES) == Decimal("-28000.00")
    assert (
        Notification.objects.filter(dedupe_key__startswith=f"gb:{campaign.pk}:closed:household").count() == 4
    )
    # Closing again changes nothing.
    before = (
        Order.objects.count(),
        Line.objects.count(),
        LedgerEntry.objects.count(),
        Refund.objects.count(),
    )
    close_campaign(campaign.pk)
    assert (
        Order.objects.count(),
        Line.objects.count(),
        LedgerEntry.objects.count(),
        Refund.objects.count(),
    ) == before


# The set-based statements are PostgreSQL's (CI); on SQLite (embedded default) only the ORM path runs.
ON_POSTGRES = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.mark.parametrize(
    "use_sql",
    [True, False] if ON_POSTGRES else [False],
    ids=["postgres-set-based", "orm"] if ON_POSTGRES else ["orm"],
)
def test_close_is_crash_safe(
    staff_a, staff_b, item, campaign, households_a, make_households, station_b, expire, use_sql
):
    _setup_success(staff_a, staff_b, item, households_a, make_households, station_b)
    expire(campaign)
    # Stop at every possible point (one station per chunk), then finish; the result never changes.
    for steps in range(0, 8):
        try:
            close_campaign(campaign.pk, max_steps=steps, chunk_stations=1, use_sql=use_sql)
        except CloseInterrupted:
            pass
    close_campaign(campaign.pk, chunk_stations=1, use_sql=use_sql)
    assert set(Pledge.objects.values_list("final_unit_price", flat=True)) == {Decimal("140.00")}
    assert sorted(Order.objects.values_list("total_incl_tax", flat=True)) == [
        Decimal("1400.00"),
        Decimal("4200.00"),
        Decimal("8400.00"),
        Decimal("14000.00"),
    ]
    campaign.refresh_from_db()
    assert campaign.status == CampaignStatus.SUCCEEDED
    assert Order.objects.count() == 4 and Line.objects.count() == 4 and LinePrice.objects.count() == 4
    assert Pickup.objects.count() == 4 and PurchaseOrder.objects.count() == 1
    assert LedgerEntry.objects.filter(kind__in=("sale", "credit_sale")).count() == 4
    assert Refund.objects.count() == 2  # the change for the two cash payments, once each
    assert pay.balance(pay.SALES) == Decimal("-28000.00")
    assert CloseStep.objects.filter(campaign=campaign).count() == 3  # 2 station settle chunks, PO


def test_close_failure_releases_everything(staff_a, item, campaign_factory, fertilizer, households_a, expire):
    c = campaign_factory([fertilizer], title="不成团", min_total=1000)
    it = c.items.get()
    cash = pledge(staff_a, it, households_a[0], 10)
    pledge(staff_a, it, households_a[1], 10, "credit")
    assert pay.available_credit(households_a[1]) == Decimal("3500.00")
    expire(c)
    assert close_due_campaigns() == [c.pk]
    c.refresh_from_db()
    assert c.status == CampaignStatus.FAILED
    assert not Order.objects.exists()
    cash.payment.refresh_from_db()
    assert cash.payment.status == PaymentStatus.CANCELLED
    assert Refund.objects.get(payment=cash.payment).amount == Decimal("1500.00")
    assert pay.available_credit(households_a[1]) == Decimal("5000.00")
    assert set(Pledge.objects.filter(campaign=c).values_list("status", flat=True)) == {PledgeStatus.FAILED}
    assert close_campaign(c.pk).status == CampaignStatus.FAILED


def test_cannot_close_before_cutoff_without_force(item, campaign):
    with pytest.raises(ValidationError):
        close_campaign(campaign.pk)
    assert close_campaign(campaign.pk, force=True).status == CampaignStatus.FAILED


@pytest.mark.stripe
def test_online_payments_captured_at_final_price_or_voided(
    stripe_settings, staff_a, item, campaign, campaign_factory, fertilizer, households_a, expire
):
    online = pledge(staff_a, item, households_a[0], 150, "stripe", stripe_payment_method="pm_card_visa")
    pledge(staff_a, item, households_a[1], 60)
    assert online.payment.amount_authorised == Decimal("22500.00")
    failing = campaign_factory([fertilizer], title="不成团在线", min_total=5000)
    lost = pledge(
        staff_a, failing.items.get(), households_a[2], 5, "stripe", stripe_payment_method="pm_card_visa"
    )
    expire(campaign)
    expire(failing)
    close_due_campaigns()
    online.payment.refresh_from_db()
    assert online.payment.amount_captured == Decimal("21000.00")  # 150 × ¥140, less than authorised
    assert gateway.retrieve(online.payment.stripe_payment_intent).status == "succeeded"
    assert gateway.retrieve(lost.payment.stripe_payment_intent).status == "canceled"


def test_restricted_pesticide_needs_licence_and_real_name(
    staff_a, campaign_factory, restricted_pesticide, households_a, station_a, expire
):
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.payments.models import RealNameRecord
    from marketplace.stations.models import StationPesticideLicence

    c = campaign_factory([restricted_pesticide], title="限用农药团购", min_total=5, tiers=())
    it = c.items.get()
    with pytest.raises(ValidationError) as err:
        pledge(staff_a, it, households_a[0], 5)
    assert err.value.error_dict["itemId"][0].code == "licence_required"
    today = timezone.localdate()
    StationPesticideLicence.objects.create(
        station=station_a,
        number="JL-NY-001",
        restricted_scope=True,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=300),
    )
    with pytest.raises(ValidationError) as err:
        pledge(staff_a, it, households_a[0], 5)
    assert err.value.error_dict["householdId"][0].code == "real_name_required"
    Household.objects.filter(pk=households_a[0].pk).update(id_number="220112198001011234")
    households_a[0].refresh_from_db()
    pledge(staff_a, it, households_a[0], 5)
    expire(c)
    close_campaign(c.pk)
    close_campaign(c.pk)
    record = RealNameRecord.objects.get()
    assert (record.id_number, record.quantity, record.buyer_name) == (
        "220112198001011234",
        5,
        households_a[0].name,
    )
    assert (record.retain_until - record.created_at).days >= 730


@pytest.mark.django_db(transaction=True)
def test_close_runs_chunks_on_parallel_connections(
    staff_a, staff_b, item, campaign, households_a, make_households, station_b, expire
):
    """Committed data (no test transaction around it): chunks of a phase run on two connections."""
    _setup_success(staff_a, staff_b, item, households_a, make_households, station_b)
    expire(campaign)
    done = close_campaign(campaign.pk, chunk_stations=1, workers=2)
    assert done.status == CampaignStatus.SUCCEEDED
    assert Order.objects.count() == 4 and Pickup.objects.count() == 4
    assert Refund.objects.count() == 2 and pay.balance(pay.SALES) == Decimal("-28000.00")
    steps = CloseStep.objects.filter(campaign=campaign)
    assert steps.exclude(step__startswith="announce:").count() == 3
    assert steps.filter(step__startswith="announce:settle:").count() == 2  # order_placed, per chunk
    assert (
        Notification.objects.filter(dedupe_key__startswith=f"gb:{campaign.pk}:closed:household").count() == 4
    )
    assert close_campaign(campaign.pk, workers=2).status == CampaignStatus.SUCCEEDED
    assert Order.objects.count() == 4 and LedgerEntry.objects.filter(kind="sale").count() == 2


@pytest.mark.parametrize(
    "use_sql",
    [True, False] if ON_POSTGRES else [False],
    ids=["postgres-set-based", "orm"] if ON_POSTGRES else ["orm"],
)
def test_cancellations_never_raise_a_pledge_above_its_authorised_price(
    staff_a, item, campaign, households_a, expire, use_sql
):
    """A pledge authorised at a better tier keeps that price when later cancellations drop the
    campaign back to a worse tier: the order, the pledge and the capture all agree, nobody pays more
    than authorised and the books show no shortfall."""
    first = pledge(staff_a, item, households_a[0], 150)  # total 150: ¥150
    early = pledge(staff_a, item, households_a[1], 60)  # total 210: tier 1, ¥140
    credit = pledge(staff_a, item, households_a[2], 30, "credit")  # total 240: ¥140
    assert (early.unit_price_at_pledge, credit.unit_price_at_pledge) == (Decimal("140.00"), Decimal("140.00"))
    services.cancel_pledge(staff_a, first)  # total 90: back to tier 0 (¥150)
    again = pledge(staff_a, item, households_a[0], 10)  # total 100; the cancelled pledge freed its slot
    assert again.unit_price_at_pledge == Decimal("150.00")
    expire(campaign)
    done = close_campaign(campaign.pk, use_sql=use_sql)
    assert done.status == CampaignStatus.SUCCEEDED and done.total_quantity == 100
    item.refresh_from_db()
    assert item.final_unit_price == Decimal("150.00")
    by_household = {
        o.household_id: (o.total_incl_tax, o.lines.get().unit_price_incl_tax)
        for o in Order.objects.filter(number__startswith=f"GB{campaign.pk}-")
    }
    assert by_household == {
        households_a[0].pk: (Decimal("1500.00"), Decimal("150.00")),
        households_a[1].pk: (Decimal("8400.00"), Decimal("140.00")),
        households_a[2].pk: (Decimal("4200.00"), Decimal("140.00")),
    }
    for p in (early, credit, again):
        p.refresh_from_db()
        p.payment.refresh_from_db()
        assert p.final_amount == p.payment.amount_authorised == p.payment.amount_captured
    assert not Refund.objects.filter(reason="团购差价退还").exists()
    assert pay.balance(pay.SALES) == Decimal("-14100.00")

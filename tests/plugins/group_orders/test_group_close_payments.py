"""A close that one payment cannot block (issue 11.2) and webhooks as hints (11.3), against
localstripe and the real database: an expired or cancelled card authorisation fails only its own
pledge; captures follow Stripe's real state; a forged event never cancels or over-books."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import stripe
from oscar.core.loading import get_model

from marketplace.core.models import Notification
from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment, PaymentStatus
from plugins.group_orders import services
from plugins.group_orders.closing import CloseInterrupted, close_campaign
from plugins.group_orders.models import CampaignStatus, Pickup, Pledge, PledgeStatus, PurchaseOrder

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]

Order = get_model("order", "Order")


def card(staff, item, household, qty):
    return services.place_pledge(staff, item, household, qty, "stripe", stripe_payment_method="pm_card_visa")


def cash(staff, item, household, qty):
    return services.place_pledge(staff, item, household, qty, "cash")


def _signed(payload: dict, secret: str) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    ts = int(time.time())
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return body, f"t={ts},v1={sig}"


def post_event(client, settings, event_id: str, kind: str, obj: dict):
    body, header = _signed(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}},
        settings.STRIPE_WEBHOOK_SECRET,
    )
    r = client.post(
        "/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert r.status_code == 200
    return r


@pytest.mark.parametrize("use_sql", [True, False], ids=["postgres-set-based", "orm"])
def test_expired_authorisation_fails_only_its_pledge_and_the_close_goes_on(
    stripe_settings, staff_a, station_a, item, campaign, households_a, expire, use_sql
):
    type(station_a).objects.filter(pk=station_a.pk).update(phone="04318880001")
    good = card(staff_a, item, households_a[0], 100)
    lost = card(staff_a, item, households_a[1], 50)
    paid_cash = cash(staff_a, item, households_a[2], 60)
    # Stripe dropped the uncaptured authorisation (as it does after ~7 days): the intent is canceled
    # at Stripe and no webhook reached us.
    gateway.cancel(lost.payment.stripe_payment_intent, "test-expired")
    expire(campaign)
    done = close_campaign(campaign.pk, use_sql=use_sql)
    assert done.status == CampaignStatus.SUCCEEDED and done.close_phase == "done"
    lost.refresh_from_db()
    assert lost.status == PledgeStatus.UNPAID
    assert Payment.objects.get(pk=lost.payment_id).status == PaymentStatus.FAILED
    assert not Order.objects.filter(household=households_a[1]).exists()
    assert not Pickup.objects.filter(household=households_a[1]).exists()
    # Everybody else got an order; the card that could be captured was captured at the final price.
    good.payment.refresh_from_db()
    assert (good.payment.status, good.payment.amount_captured) == (
        PaymentStatus.CAPTURED,
        Decimal("14000.00"),
    )
    assert gateway.retrieve(good.payment.stripe_payment_intent).status == "succeeded"
    assert Order.objects.filter(household__in=[households_a[0], households_a[2]]).count() == 2
    assert Pledge.objects.get(pk=paid_cash.pk).status == PledgeStatus.CONFIRMED
    # The supplier ships only what was paid for.
    assert PurchaseOrder.objects.get(campaign=campaign).total_quantity == 160
    # Household and station are told, and the station may take cash instead.
    told = Notification.objects.get(dedupe_key=f"gb:{campaign.pk}:closed:unpaid:{lost.pk}")
    assert told.recipient == households_a[1].phone and "现金" in told.text
    station_note = Notification.objects.get(dedupe_key=f"gb:{campaign.pk}:closed:unpaid-station:{lost.pk}")
    assert station_note.recipient == "04318880001" and households_a[1].name in station_note.text
    assert not LedgerEntry.objects.filter(payment_id=lost.payment_id).exists()
    # Closing again changes nothing.
    before = (Order.objects.count(), LedgerEntry.objects.count(), Notification.objects.count())
    close_campaign(campaign.pk, use_sql=use_sql)
    assert (Order.objects.count(), LedgerEntry.objects.count(), Notification.objects.count()) == before


def test_captured_card_always_gets_its_order_after_a_crash(
    stripe_settings, staff_a, staff_b, item, campaign, households_a, household_b, expire
):
    """The capture reached Stripe, then the chunk died before commit: the re-run finds the intent
    captured, records it once and makes the order."""
    first = card(staff_a, item, households_a[0], 150)
    card(staff_b, item, household_b, 60)
    expire(campaign)
    with pytest.raises(CloseInterrupted):
        close_campaign(campaign.pk, max_steps=0, chunk_stations=1)
    assert gateway.retrieve(first.payment.stripe_payment_intent).status == "succeeded"  # charged at Stripe
    assert not Order.objects.exists()  # …but the chunk was rolled back
    close_campaign(campaign.pk, chunk_stations=1)
    first.payment.refresh_from_db()
    assert first.payment.status == PaymentStatus.CAPTURED
    assert first.payment.amount_captured == Decimal("21000.00")
    assert Order.objects.filter(household=households_a[0]).count() == 1
    assert LedgerEntry.objects.filter(payment_id=first.payment_id, kind="online_sale").count() == 1
    for payment in Payment.objects.filter(method="stripe"):
        assert (
            payment.status == PaymentStatus.CAPTURED
            and Order.objects.filter(household=payment.household).exists()
        )


def test_forged_canceled_event_does_not_cancel_a_capturable_payment(
    stripe_settings, client, staff_a, item, campaign, households_a, expire
):
    online = card(staff_a, item, households_a[0], 100)
    cash(staff_a, item, households_a[1], 10)
    post_event(
        client,
        stripe_settings,
        "evt_forged_cancel",
        "payment_intent.canceled",
        {"id": online.payment.stripe_payment_intent, "object": "payment_intent", "status": "canceled"},
    )
    online.payment.refresh_from_db()
    assert online.payment.status == PaymentStatus.AUTHORISED  # Stripe still says requires_capture
    expire(campaign)
    close_campaign(campaign.pk)
    online.refresh_from_db()
    online.payment.refresh_from_db()
    assert online.status == PledgeStatus.CONFIRMED
    assert online.payment.amount_captured == Decimal("15000.00")
    assert Order.objects.filter(household=households_a[0]).exists()


def test_real_cancel_event_is_followed_and_the_close_gives_no_order(
    stripe_settings, client, staff_a, item, campaign, households_a, expire
):
    online = card(staff_a, item, households_a[0], 100)
    cash(staff_a, item, households_a[1], 10)
    gateway.cancel(online.payment.stripe_payment_intent, "test-cancel")
    post_event(
        client,
        stripe_settings,
        "evt_real_cancel",
        "payment_intent.canceled",
        {"id": online.payment.stripe_payment_intent, "object": "payment_intent"},
    )
    online.payment.refresh_from_db()
    assert online.payment.status == PaymentStatus.CANCELLED
    expire(campaign)
    close_campaign(campaign.pk)
    online.refresh_from_db()
    assert online.status == PledgeStatus.UNPAID
    assert not Order.objects.filter(household=households_a[0]).exists()
    assert not Pickup.objects.filter(household=households_a[0]).exists()


def test_succeeded_event_books_what_stripe_received_never_the_event_amount(
    stripe_settings, client, staff_a, household_a
):
    payment = pay.authorise_online(staff_a, household_a, Decimal("300"), "GB1", "hint-1", "pm_card_visa")
    forged = {
        "id": payment.stripe_payment_intent,
        "object": "payment_intent",
        "status": "succeeded",
        "amount_received": 999999,
    }
    post_event(client, stripe_settings, "evt_forged_succeeded", "payment_intent.succeeded", forged)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED  # not captured at Stripe: nothing booked
    assert not LedgerEntry.objects.filter(payment=payment).exists()
    # Captured outside our flow for ¥300: the same forged amount books exactly ¥300.
    gateway.capture(payment.stripe_payment_intent, Decimal("300"), "outside-capture")
    post_event(client, stripe_settings, "evt_forged_succeeded_2", "payment_intent.succeeded", forged)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("300.00"))
    assert [e.amount for e in LedgerEntry.objects.filter(payment=payment)] == [Decimal("300.00")]
    assert pay.balance(pay.SALES) == Decimal("-300.00")


def test_card_authorisations_are_renewed_before_stripes_window_ends(
    stripe_settings, staff_a, item, campaign, households_a, expire
):
    from datetime import timedelta

    from django.utils import timezone

    from plugins.group_orders.online import reauthorise_card_pledges

    old = card(staff_a, item, households_a[0], 150)
    fresh = card(staff_a, item, households_a[1], 60)
    first_intent = old.payment.stripe_payment_intent
    Payment.objects.filter(pk=old.payment_id).update(updated_at=timezone.now() - timedelta(days=6, hours=1))
    assert reauthorise_card_pledges() == 1  # only the one near the ~7-day limit
    old.payment.refresh_from_db()
    assert old.payment.stripe_payment_intent != first_intent
    assert gateway.retrieve(first_intent).status == "canceled"
    renewed = gateway.retrieve(old.payment.stripe_payment_intent)
    assert (renewed.status, renewed.amount, renewed.capture_method) == ("requires_capture", 2250000, "manual")
    assert renewed.metadata["payment_key"] == old.payment.idempotency_key
    assert old.payment.status == PaymentStatus.AUTHORISED
    assert pay.authorisation_expires_at(old.payment) > timezone.now() + timedelta(days=6)
    assert reauthorise_card_pledges() == 0  # renewed: nothing to do until it ages again
    expire(campaign)
    close_campaign(campaign.pk)
    old.payment.refresh_from_db()
    assert (old.payment.status, old.payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("21000.00"))
    assert gateway.retrieve(old.payment.stripe_payment_intent).status == "succeeded"
    assert Order.objects.filter(household__in=[households_a[0], households_a[1]]).count() == 2
    assert Payment.objects.get(pk=fresh.payment_id).status == PaymentStatus.CAPTURED

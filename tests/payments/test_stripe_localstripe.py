"""Online payments through Stripe PaymentIntents, against a localstripe server (no internet)."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
import stripe
from django.core.exceptions import ValidationError

from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import PaymentStatus, ProcessedStripeEvent

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def test_authorise_then_capture_less_than_authorised(stripe_settings, staff_a, household_a):
    payment = pay.authorise_online(staff_a, household_a, Decimal("300"), "GB1", "s-1", "pm_card_visa")
    assert payment.status == PaymentStatus.AUTHORISED
    intent = gateway.retrieve(payment.stripe_payment_intent)
    assert (intent.status, intent.amount, intent.capture_method) == ("requires_capture", 30000, "manual")
    # Same idempotency key: no second authorisation.
    assert (
        pay.authorise_online(staff_a, household_a, Decimal("300"), "GB1", "s-1", "pm_card_visa").pk
        == payment.pk
    )
    pay.capture(payment, Decimal("999"))  # never more than authorised
    payment.refresh_from_db()
    assert payment.amount_captured == Decimal("300.00")
    assert gateway.retrieve(payment.stripe_payment_intent).status == "succeeded"
    pay.capture(payment, Decimal("999"))  # repeat: no-op


def test_capture_recovers_after_crash_between_stripe_and_db(stripe_settings, staff_a, household_a):
    payment = pay.authorise_online(staff_a, household_a, Decimal("200"), "GB1", "s-2", "pm_card_visa")
    # The capture reached Stripe but our process died before recording it:
    gateway.capture(payment.stripe_payment_intent, Decimal("180"), "s-2:capture")
    pay.capture(payment, Decimal("180"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED and payment.amount_captured == Decimal("180.00")


def test_void_cancels_the_intent_and_refund_after_capture(stripe_settings, staff_a, household_a):
    p1 = pay.authorise_online(staff_a, household_a, Decimal("50"), "GB1", "s-3", "pm_card_visa")
    pay.void(p1)
    assert gateway.retrieve(p1.stripe_payment_intent).status == "canceled"
    pay.void(p1)  # idempotent
    p2 = pay.authorise_online(staff_a, household_a, Decimal("80"), "GB1", "s-4", "pm_card_visa")
    pay.capture(p2, Decimal("80"))
    refund = pay.refund(p2, Decimal("30"), "s-4:r")
    assert refund.stripe_refund_id.startswith("re_")
    assert pay.refund(p2, Decimal("30"), "s-4:r").pk == refund.pk
    with pytest.raises(ValidationError):
        pay.refund(p2, Decimal("60"), "s-4:r2")


def test_declined_card(stripe_settings, staff_a, household_a):
    client = gateway.client()
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000000000000341", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
        }
    )
    with pytest.raises(ValidationError) as err:
        pay.authorise_online(staff_a, household_a, Decimal("50"), "GB1", "s-5", pm.id)
    assert err.value.error_dict["paymentMethod"][0].code == "payment_failed"


def _signed(payload: dict, secret: str) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    ts = int(time.time())
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return body, f"t={ts},v1={sig}"


def test_webhook_signature_and_idempotency(stripe_settings, client, staff_a, household_a):
    payment = pay.authorise_online(staff_a, household_a, Decimal("40"), "GB1", "s-6", "pm_card_visa")
    gateway.cancel(payment.stripe_payment_intent, "s-6:cancelled-at-stripe")  # the event is a hint only
    event = {
        "id": "evt_test_1",
        "object": "event",
        "type": "payment_intent.canceled",
        "data": {"object": {"id": payment.stripe_payment_intent, "object": "payment_intent"}},
    }
    body, header = _signed(event, "whsec_wrong")
    r = client.post(
        "/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert r.status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED
    body, header = _signed(event, stripe_settings.STRIPE_WEBHOOK_SECRET)
    r = client.post(
        "/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert r.status_code == 200 and r.json() == {"received": True, "duplicate": False}
    r = client.post(
        "/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert r.json()["duplicate"] is True
    assert ProcessedStripeEvent.objects.count() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED

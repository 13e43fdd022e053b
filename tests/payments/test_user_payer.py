"""A payment's payer is a station household OR a user paying for themselves (a city buyer): the
database refuses neither/both; a user's card and prepaid (WeChat Pay / Alipay) payments run the same
core path (authorise, capture, refund, void) with the user's own deposit account. Against localstripe."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from testkit import CARD_PLAIN, make_user, stripe_card_token

from marketplace.accounts.models import Role
from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment, PaymentMethod, PaymentStatus

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


@pytest.fixture
def city_user(db):
    return make_user("13800000077", Role.CITY_BUYER, phone="13800000077")


def _row(**payer) -> Payment:
    return Payment(
        method=PaymentMethod.STRIPE, status=PaymentStatus.AUTHORISED, online_type="card",
        amount_authorised=Decimal("10"), reference="R", idempotency_key=f"k-{len(payer)}-{sorted(payer)}", **payer,
    )  # fmt: skip


def test_exactly_one_payer_is_enforced_by_the_database(household_a, city_user):
    for payer in (
        {},  # nobody
        {"household": household_a, "station_id": household_a.station_id, "payer_user": city_user},  # both
        {"household": household_a},  # a household payment without its station
        {"payer_user": city_user, "station_id": household_a.station_id},  # a user's payment at a station
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            _row(**payer).save()
    _row(payer_user=city_user).save()
    _row(household=household_a, station_id=household_a.station_id).save()
    assert Payment.objects.count() == 2


def test_user_card_payment_authorise_capture_refund(stripe_settings, city_user):
    token = stripe_card_token(CARD_PLAIN)
    payment = pay.authorise_online_for_user(city_user, Decimal("256"), "P-1", "u-1", token=token)
    assert (payment.status, payment.payer_user_id, payment.household_id, payment.station_id) == (
        PaymentStatus.AUTHORISED, city_user.pk, None, None,
    )  # fmt: skip
    intent = gateway.retrieve(payment.stripe_payment_intent)
    assert (intent.status, intent.metadata["buyer"]) == ("requires_capture", str(city_user.pk))
    # The same key again: the same payment, no second authorisation at Stripe.
    assert (
        pay.authorise_online_for_user(city_user, Decimal("256"), "P-1", "u-1", token=token).pk == payment.pk
    )
    assert Payment.objects.count() == 1
    with transaction.atomic():
        pay.capture(payment, Decimal("999"))  # never more than authorised
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("256.00"))
    assert pay.balance(pay.STRIPE_CLEARING) == Decimal("256.00")
    with transaction.atomic():
        pay.refund(payment, Decimal("56"), "u-1:r1", "partial")
        pay.refund(payment, Decimal("56"), "u-1:r1", "partial")  # same key: nothing more
    with pytest.raises(ValidationError), transaction.atomic():
        pay.refund(payment, Decimal("200.01"), "u-1:r2", "more than is left")
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("56.00")
    assert pay.balance(pay.STRIPE_CLEARING) == Decimal("200.00")
    assert (
        LedgerEntry.objects.filter(payment=payment, household__isnull=True, station__isnull=True).count() == 2
    )


def test_user_card_payment_void_cancels_the_authorisation(stripe_settings, city_user):
    payment = pay.authorise_online_for_user(
        city_user, Decimal("30"), "P-2", "u-2", payment_method="pm_card_visa"
    )
    with transaction.atomic():
        pay.void(payment, "cancelled")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert gateway.retrieve(payment.stripe_payment_intent).status == "canceled"
    assert not LedgerEntry.objects.exists()


def test_user_prepaid_payment_is_held_in_the_users_deposit_and_settled(stripe_settings, city_user):
    """WeChat Pay / Alipay for a user: charged in full (a card charged with automatic capture stands in
    at localstripe), held as ``buyer:<id>:deposit``, settled at the final amount by refunding the rest."""
    intent = gateway.client().v1.payment_intents.create(
        params={"amount": 10000, "currency": "cny", "payment_method": "pm_card_visa", "capture_method": "automatic",
                "confirm": True, "metadata": {"buyer": str(city_user.pk), "payment_key": "u-3"}}
    )  # fmt: skip
    payment = Payment.objects.create(
        method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING, online_type="wechat_pay", payer_user=city_user,
        amount_authorised=Decimal("100"), reference="P-3", idempotency_key="u-3", stripe_payment_intent=intent.id,
    )  # fmt: skip
    assert pay.check_pending(payment).state == "ready"
    with transaction.atomic():
        pay.activate_pending(payment)
    deposit = pay.buyer_deposit(city_user.pk)
    assert pay.balance(deposit) == Decimal("-100.00")
    with transaction.atomic():
        pay.capture(payment, Decimal("80"))
    payment.refresh_from_db()
    assert (payment.amount_captured, payment.amount_refunded) == (Decimal("80.00"), Decimal("20.00"))
    assert pay.balance(deposit) == Decimal("0.00") and pay.balance(pay.SALES) == Decimal("-80.00")


def test_household_payments_are_unchanged(stripe_settings, staff_a, household_a):
    payment = pay.authorise_online(staff_a, household_a, Decimal("50"), "GB1", "h-1", "pm_card_visa")
    assert (payment.household_id, payment.station_id, payment.payer_user_id) == (
        household_a.pk, household_a.station_id, None,
    )  # fmt: skip
    assert gateway.retrieve(payment.stripe_payment_intent).metadata["household"] == str(household_a.pk)

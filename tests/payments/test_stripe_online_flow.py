"""Online payments that need the payer (3-D Secure cards; WeChat Pay / Alipay rules), against
localstripe. Pending payments, completion, abandonment, prepaid settlement by refund."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from testkit import CARD_3DS, CARD_3DS_OTHER, CARD_PLAIN, stripe_authenticate, stripe_card_token

from marketplace.payments import gateway
from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment, PaymentMethod, PaymentStatus

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def test_card_token_without_authentication_is_authorised_at_once(stripe_settings, farmer_a, household_a):
    payment = pay.authorise_online(
        farmer_a, household_a, Decimal("120"), "GB1", "t-1", token=stripe_card_token(CARD_PLAIN)
    )
    assert payment.status == PaymentStatus.AUTHORISED
    intent = gateway.retrieve(payment.stripe_payment_intent)
    assert (intent.status, intent.amount, intent.capture_method) == ("requires_capture", 12000, "manual")
    assert intent.metadata["payment_key"] == "t-1"


def test_3ds_card_is_pending_then_usable_after_authentication(
    stripe_settings, localstripe_url, farmer_a, household_a
):
    payment = pay.authorise_online(
        farmer_a, household_a, Decimal("80"), "GB1", "t-2", token=stripe_card_token(CARD_3DS)
    )
    assert payment.status == PaymentStatus.PENDING  # not refused any more
    state = pay.check_pending(payment)
    assert state.state == "action" and state.next_action == {"type": "confirm_card"}
    assert state.client_secret.startswith(payment.stripe_payment_intent + "_secret_")
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent, success=True)
    assert pay.check_pending(payment).state == "ready"
    with transaction.atomic():
        pay.activate_pending(Payment.objects.select_for_update().get(pk=payment.pk))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.AUTHORISED
    pay.capture(payment, Decimal("70"))
    payment.refresh_from_db()
    assert payment.amount_captured == Decimal("70.00")


@pytest.mark.parametrize("card", [CARD_3DS, CARD_3DS_OTHER])
def test_3ds_failure_marks_the_payment_failed_and_cancels_the_intent(
    stripe_settings, localstripe_url, farmer_a, household_a, card
):
    payment = pay.authorise_online(
        farmer_a, household_a, Decimal("80"), "GB1", f"t-3-{card}", token=stripe_card_token(card)
    )
    stripe_authenticate(localstripe_url, payment.stripe_payment_intent, success=False)
    assert pay.check_pending(payment).state == "failed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert gateway.retrieve(payment.stripe_payment_intent).status == "canceled"


def test_declined_token_is_refused(stripe_settings, farmer_a, household_a):
    with pytest.raises(ValidationError) as err:
        pay.authorise_online(
            farmer_a, household_a, Decimal("50"), "GB1", "t-4", token=stripe_card_token("4000000000000341")
        )
    assert err.value.error_dict["paymentMethod"][0].code == "payment_failed"
    assert not Payment.objects.filter(idempotency_key="t-4").exists()


def test_another_household_cannot_be_charged(stripe_settings, farmer_a, household_b):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        pay.authorise_online(
            farmer_a, household_b, Decimal("50"), "GB1", "t-5", token=stripe_card_token(CARD_PLAIN)
        )


def test_abandoned_pending_payment_is_cancelled(stripe_settings, farmer_a, household_a):
    payment = pay.authorise_online(
        farmer_a, household_a, Decimal("80"), "GB1", "t-6", token=stripe_card_token(CARD_3DS)
    )
    assert pay.cancel_abandoned(timedelta(hours=1)) == 0  # too young
    Payment.objects.filter(pk=payment.pk).update(created_at=timezone.now() - timedelta(hours=2))
    assert pay.cancel_abandoned(timedelta(hours=1)) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert gateway.retrieve(payment.stripe_payment_intent).status == "canceled"
    assert pay.cancel_abandoned(timedelta(hours=1)) == 0


def test_wechat_and_alipay_are_created_for_automatic_capture_with_customer_action():
    """What we send Stripe for WeChat Pay / Alipay (localstripe cannot create these intents)."""
    wechat = gateway.intent_params(Decimal("12.5"), "wechat_pay", {"k": "v"})
    assert wechat["capture_method"] == "automatic" and wechat["confirm"] is True
    assert wechat["payment_method_types"] == ["wechat_pay"]
    assert wechat["payment_method_data"] == {"type": "wechat_pay"}
    assert wechat["payment_method_options"] == {"wechat_pay": {"client": "web"}}
    assert wechat["amount"] == 1250 and wechat["currency"] == "cny"
    alipay = gateway.intent_params(Decimal("10"), "alipay", {}, return_url="https://x.example/back")
    assert alipay["capture_method"] == "automatic" and alipay["return_url"] == "https://x.example/back"
    card = gateway.intent_params(Decimal("10"), "card", {}, payment_method="card_1", customer="cus_1")
    assert (card["capture_method"], card["payment_method"], card["customer"]) == ("manual", "card_1", "cus_1")
    assert pay.next_action(
        {
            "status": "requires_action",
            "next_action": {
                "type": "wechat_pay_display_qr_code",
                "wechat_pay_display_qr_code": {
                    "image_data_url": "data:image/png;base64,AA",
                    "data": "weixin://x",
                },
            },
        }
    ) == {"type": "wechat_qr", "qr_image_url": "data:image/png;base64,AA", "qr_data": "weixin://x", "url": ""}
    assert pay.next_action(
        {
            "status": "requires_action",
            "next_action": {
                "type": "alipay_handle_redirect",
                "alipay_handle_redirect": {"url": "https://alipay.example/p"},
            },
        }
    ) == {"type": "redirect", "url": "https://alipay.example/p"}


def _prepaid(household, amount: Decimal, key: str, online_type: str = "wechat_pay") -> Payment:
    """A WeChat Pay payment whose PaymentIntent Stripe reports ``succeeded`` (charged with automatic
    capture). localstripe cannot run a real WeChat Pay intent, so a card charged with automatic
    capture stands in for it at Stripe; our side is the real code path from there on."""
    intent = gateway.client().v1.payment_intents.create(
        params={
            "amount": gateway.to_fen(amount),
            "currency": "cny",
            "payment_method": "pm_card_visa",
            "capture_method": "automatic",
            "confirm": True,
            "metadata": {"household": str(household.pk), "payment_key": key},
        }
    )
    assert intent.status == "succeeded"
    return Payment.objects.create(
        method=PaymentMethod.STRIPE,
        status=PaymentStatus.PENDING,
        online_type=online_type,
        household=household,
        station_id=household.station_id,
        amount_authorised=amount,
        reference="GB1",
        idempotency_key=key,
        stripe_payment_intent=intent.id,
    )


def _refunded_at_stripe(payment: Payment) -> int:
    refunds = gateway.client().v1.refunds.list(params={"payment_intent": payment.stripe_payment_intent})
    return sum(r.amount for r in refunds.data)


@pytest.mark.parametrize("online_type", ["wechat_pay", "alipay"])
def test_prepaid_settlement_refunds_the_difference_and_never_keeps_more(
    stripe_settings, household_a, online_type
):
    payment = _prepaid(household_a, Decimal("300"), f"t-7-{online_type}", online_type)
    assert pay.check_pending(payment).state == "ready"
    with transaction.atomic():
        pay.activate_pending(Payment.objects.select_for_update().get(pk=payment.pk))
    deposit = pay.household_deposit(household_a.pk)
    assert pay.balance(deposit) == Decimal("-300.00")
    with transaction.atomic():
        pay.capture(payment, Decimal("260"))
        pay.capture(payment, Decimal("260"))  # repeat: no second refund
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured, payment.amount_refunded) == (
        PaymentStatus.CAPTURED,
        Decimal("260.00"),
        Decimal("40.00"),
    )
    assert _refunded_at_stripe(payment) == 4000
    assert payment.refunds.get().stripe_refund_id.startswith("re_")
    assert pay.balance(deposit) == Decimal("0.00")
    assert pay.balance(pay.STRIPE_CLEARING) == Decimal("260.00")
    assert pay.balance(pay.SALES) == Decimal("-260.00")
    # A later refund (e.g. goods forfeited) can take back what was kept, not more.
    with transaction.atomic():
        pay.refund(payment, Decimal("260"), f"t-7-{online_type}:forfeit")
        with pytest.raises(ValidationError):
            pay.refund(payment, Decimal("1"), f"t-7-{online_type}:more")
    assert _refunded_at_stripe(payment) == 30000
    assert pay.balance(pay.SALES) == Decimal("0.00") and pay.balance(pay.STRIPE_CLEARING) == Decimal("0.00")


def test_prepaid_void_refunds_everything(stripe_settings, household_a):
    payment = _prepaid(household_a, Decimal("150"), "t-8")
    with transaction.atomic():
        pay.void(payment, "未成团")  # still pending here: charged meanwhile → held, then refunded
        pay.void(payment, "未成团")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == (PaymentStatus.CANCELLED, Decimal("150.00"))
    assert _refunded_at_stripe(payment) == 15000
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("0.00")
    assert pay.balance(pay.STRIPE_CLEARING) == Decimal("0.00")
    assert LedgerEntry.objects.filter(payment=payment, kind="online_prepaid").count() == 1


def test_prepaid_settlement_at_zero_refunds_everything(stripe_settings, household_a):
    payment = _prepaid(household_a, Decimal("90"), "t-9")
    with transaction.atomic():
        pay.activate_pending(Payment.objects.select_for_update().get(pk=payment.pk))
        pay.capture(payment, Decimal("0"))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED and payment.amount_refunded == Decimal("90.00")
    assert _refunded_at_stripe(payment) == 9000

"""Produce money through the core: the order's payment is a core Payment of the buyer; delivery
captures it once; refunds never exceed what was captured and reverse the cooperative's sale and the
commission; payout runs to cooperatives are keyed (a resubmitted run pays nothing twice) and show on
the monthly statement. Against localstripe."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from produce_kit import ADDRESS, delivered_order, delivery_slot, unit_of
from testkit import CARD_PLAIN, stripe_card_token

from marketplace.payments import services as pay
from marketplace.payments.models import LedgerEntry, Payment, PaymentStatus
from plugins.produce import services
from plugins.produce.services import COMMISSION_INCOME, coop_payable

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def _delivered(buyer, rnd, lot, coop_user, qty=2, key="m1"):
    po = delivered_order(buyer, rnd, lot, coop_user, qty, key)
    services.confirm_delivery(coop_user, po, po.delivery_code)  # again: nothing more
    po.refresh_from_db()
    return po


def test_order_payment_is_the_buyers_core_payment(stripe_settings, city_buyer, rnd, lot, coop_user, coop):
    po = _delivered(city_buyer, rnd, lot, coop_user)
    payment = po.payment
    assert (payment.payer_user_id, payment.household_id, payment.reference) == (
        city_buyer.pk,
        None,
        po.order.number,
    )
    assert (payment.status, payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("256.00"))
    assert Payment.objects.count() == 1
    assert LedgerEntry.objects.filter(kind="online_sale").count() == 1  # one capture
    assert pay.balance(pay.STRIPE_CLEARING) == Decimal("256.00") and pay.balance(pay.SALES) == Decimal("0.00")
    assert -pay.balance(coop_payable(coop.pk)) == Decimal("243.20")
    assert -pay.balance(COMMISSION_INCOME) == Decimal("12.80")


def test_refunds_reverse_sale_and_commission_and_never_exceed_the_capture(
    stripe_settings, city_buyer, rnd, lot, coop_user, coop, other_coop_user
):
    po = _delivered(city_buyer, rnd, lot, coop_user)
    with pytest.raises(PermissionDenied):
        services.refund_order(other_coop_user, po, "10", "r0", "破损")
    with pytest.raises(PermissionDenied):
        services.refund_order(city_buyer, po, "10", "r0", "破损")
    services.refund_order(coop_user, po, "100", "r1", "破损")
    services.refund_order(coop_user, po, "100", "r1", "破损")  # resent: nothing more
    po.payment.refresh_from_db()
    assert po.payment.amount_refunded == Decimal("100.00")
    assert -pay.balance(coop_payable(coop.pk)) == Decimal("148.20")  # 243.20 − 100 + 5.00 commission back
    assert -pay.balance(COMMISSION_INCOME) == Decimal("7.80")
    with pytest.raises(ValidationError):
        services.refund_order(coop_user, po, "156.01", "r2", "破损")  # more than is left
    services.refund_order(coop_user, po, "156", "r3", "破损")
    assert pay.balance(coop_payable(coop.pk)) == Decimal("0.00")
    assert pay.balance(COMMISSION_INCOME) == Decimal("0.00")
    assert pay.balance(pay.SALES) == Decimal("0.00") and pay.balance(pay.STRIPE_CLEARING) == Decimal("0.00")
    s = services.monthly_statement(coop, timezone.localdate())
    assert (s["sales"], s["refunds"], s["commission"], s["closing"]) == (
        Decimal("256.00"), Decimal("256.00"), Decimal("0.00"), Decimal("0.00"),
    )  # fmt: skip


def test_cooperative_payout_runs_are_keyed(
    stripe_settings, client, city_buyer, rnd, lot, coop_user, coop, operator, staff_a
):
    po = _delivered(city_buyer, rnd, lot, coop_user)
    for user in (coop_user, staff_a):
        with pytest.raises(PermissionDenied):
            services.run_cooperative_payouts(user, "run-x")
    client.force_login(coop_user)
    assert client.get("/p/produce/operator/payouts/").status_code == 403
    assert client.post("/p/produce/operator/payouts/", {"run": "run-x"}).status_code == 403
    assert not LedgerEntry.objects.filter(kind="produce_payout").exists()
    assert services.cooperatives_owed() == [{"partner": coop, "balance": Decimal("243.20")}]
    client.force_login(operator)
    page = client.get("/p/produce/operator/payouts/").content.decode()
    assert "243.20" in page and coop.name in page
    for _ in range(2):  # the same run sent twice pays once
        assert client.post("/p/produce/operator/payouts/", {"run": "run-1"}).status_code == 302
    assert services.run_cooperative_payouts(operator, "run-1") == {
        "reference": "PAYOUT-run-1", "count": 0, "total": Decimal("0.00"),
    }  # fmt: skip
    assert services.run_cooperative_payouts(operator, "run-2")["count"] == 0  # nothing owed any more
    [entry] = LedgerEntry.objects.filter(kind="produce_payout")
    assert (entry.amount, entry.debit_account, entry.credit_account) == (
        Decimal("243.20"), coop_payable(coop.pk), pay.PLATFORM_BANK,
    )  # fmt: skip
    with pytest.raises(ValidationError):  # never more than owed, even with a fresh key
        pay.pay_out(
            operator, services.COOPERATIVE_PAYABLE, coop.pk, Decimal("0.01"), "produce-payout:manual:1"
        )
    # Station commission runs are separate: the cooperative payout is not one of them.
    assert pay.payout_runs() == []
    assert [r["reference"] for r in services.cooperative_payout_runs()] == ["PAYOUT-run-1"]
    s = services.monthly_statement(coop, timezone.localdate())
    assert (s["payouts"], s["closing"]) == (Decimal("243.20"), Decimal("0.00"))
    client.force_login(coop_user)
    page = client.get("/p/produce/coop/statement/").content.decode()
    assert "货款支付" in page and "PAYOUT-run-1" in page
    # A refund after the payout: the cooperative owes it back (nothing more is paid out).
    services.refund_order(operator, po, "50", "after-payout", "少发一袋")
    assert services.cooperatives_owed() == []


def test_card_authorisation_of_an_undelivered_order_is_renewed(
    stripe_settings, city_buyer, rnd, lot, coop_user
):
    from datetime import timedelta

    from marketplace.payments import gateway

    po = services.start_checkout(
        city_buyer, rnd, {unit_of(lot).pk: 1}, delivery_slot(rnd).pk, ADDRESS, "card", "renew-1",
        token=stripe_card_token(CARD_PLAIN),
    ).order  # fmt: skip
    first = po.payment.stripe_payment_intent
    assert services.reauthorise_due_payments() == 0  # fresh
    Payment.objects.filter(pk=po.payment_id).update(updated_at=timezone.now() - timedelta(days=6, hours=1))
    assert services.reauthorise_due_payments() == 1
    po.payment.refresh_from_db()
    assert po.payment.stripe_payment_intent != first and gateway.retrieve(first).status == "canceled"
    services.mark_packed(coop_user, po)
    services.confirm_delivery(coop_user, po, po.delivery_code)
    po.payment.refresh_from_db()
    assert (po.payment.status, po.payment.amount_captured) == (PaymentStatus.CAPTURED, Decimal("128.00"))

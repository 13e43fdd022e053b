"""Cash, credit (赊销), refunds, the ledger and daily cash reconciliation — against the real database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from marketplace.payments import credit
from marketplace.payments import services as pay
from marketplace.payments.models import (
    LedgerEntry,
    Payment,
    PaymentStatus,
    RealNameRecord,
    Refund,
    RefundStatus,
)

pytestmark = pytest.mark.django_db


def test_cash_payment_is_idempotent_and_posts_to_ledger(staff_a, household_a):
    p1 = pay.record_cash(staff_a, household_a, Decimal("300"), "GB1", "k-cash-1")
    p2 = pay.record_cash(staff_a, household_a, Decimal("300"), "GB1", "k-cash-1")
    assert p1.pk == p2.pk
    assert LedgerEntry.objects.count() == 1
    assert pay.balance(pay.station_cash(household_a.station_id)) == Decimal("300.00")
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("-300.00")


def test_other_station_staff_cannot_take_cash(staff_b, household_a):
    with pytest.raises(PermissionDenied):
        pay.record_cash(staff_b, household_a, Decimal("10"), "GB1", "k-x")
    assert not Payment.objects.exists()


def test_capture_cash_below_authorised_owes_change_and_reconciles(staff_a, household_a, station_a):
    payment = pay.record_cash(staff_a, household_a, Decimal("300"), "GB1", "k-cash-2")
    pay.capture(payment, Decimal("260"))
    pay.capture(payment, Decimal("260"))  # idempotent
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CAPTURED
    assert payment.amount_captured == Decimal("260.00")
    change = Refund.objects.get(payment=payment)
    assert (change.amount, change.status) == (Decimal("40.00"), RefundStatus.PENDING)
    # Sales booked once, deposit still holds the change until it is handed back.
    assert pay.balance(pay.SALES) == Decimal("-260.00")
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("-40.00")
    pay.pay_out_cash_refund(staff_a, change)
    pay.pay_out_cash_refund(staff_a, change)
    assert pay.balance(pay.household_deposit(household_a.pk)) == Decimal("0.00")
    summary = pay.cash_summary(station_a, timezone.localdate())
    assert summary["cash_in"] == Decimal("300.00") and summary["cash_out"] == Decimal("40.00")
    rec = pay.reconcile_cash(staff_a, station_a, timezone.localdate(), Decimal("255"))
    assert rec.expected == Decimal("260.00") and rec.difference == Decimal("-5.00")
    rec = pay.reconcile_cash(staff_a, station_a, timezone.localdate(), Decimal("260"), "recount")
    assert rec.difference == 0


def test_reconcile_refused_for_other_station(staff_b, station_a):
    with pytest.raises(PermissionDenied):
        pay.reconcile_cash(staff_b, station_a, timezone.localdate(), Decimal("0"))


def test_credit_limit_enforced_and_released(staff_a, household_a):
    with pytest.raises(ValidationError) as err:
        pay.authorise_credit(staff_a, household_a, Decimal("10"), "GB1", "c-0")
    assert err.value.error_dict["paymentMethod"][0].code == "limit_exceeded"
    household_a.credit_limit = Decimal("1000")
    household_a.save()
    hold = pay.authorise_credit(staff_a, household_a, Decimal("800"), "GB1", "c-1")
    assert pay.available_credit(household_a) == Decimal("200.00")
    with pytest.raises(ValidationError):
        pay.authorise_credit(staff_a, household_a, Decimal("300"), "GB1", "c-2")
    pay.capture(hold, Decimal("700"))
    assert pay.balance(pay.household_receivable(household_a.pk)) == Decimal("700.00")
    assert pay.available_credit(household_a) == Decimal("300.00")
    first, created = credit.record_repayment(staff_a, household_a, Decimal("700"), "repay-1")
    again, created_again = credit.record_repayment(staff_a, household_a, Decimal("700"), "repay-1")
    assert created and not created_again and again.pk == first.pk  # repeated key is a no-op
    assert LedgerEntry.objects.filter(kind="credit_repayment").count() == 1
    assert pay.available_credit(household_a) == Decimal("1000.00")
    other = pay.authorise_credit(staff_a, household_a, Decimal("500"), "GB1", "c-3")
    pay.void(other)
    assert pay.available_credit(household_a) == Decimal("1000.00")


def test_refund_cannot_exceed_payment(staff_a, household_a):
    payment = pay.record_cash(staff_a, household_a, Decimal("100"), "GB1", "k-r")
    pay.refund(payment, Decimal("60"), "r1")
    with pytest.raises(ValidationError):
        pay.refund(payment, Decimal("60"), "r2")
    assert pay.refund(payment, Decimal("60"), "r1").amount == Decimal("60.00")  # same key: same refund


def test_commission_statement(staff_a, operator, station_a):
    pay.credit_commission(station_a.pk, Decimal("12.50"), "com-1")
    pay.credit_commission(station_a.pk, Decimal("12.50"), "com-1")
    pay.credit_commission(station_a.pk, Decimal("7.50"), "com-2")
    assert pay.commission_balance(station_a) == Decimal("20.00")
    with pytest.raises(PermissionDenied):
        pay.pay_out_commission(staff_a, station_a, Decimal("5"), "po-1")
    pay.pay_out_commission(operator, station_a, Decimal("15"), "po-1")
    st = pay.commission_statement(station_a, timezone.localdate())
    assert (st.opening_balance, st.credited, st.paid_out, st.closing_balance) == (
        Decimal("0.00"),
        Decimal("20.00"),
        Decimal("15.00"),
        Decimal("5.00"),
    )
    assert pay.generate_monthly_statements(timezone.localdate()) == 1


def test_real_name_record_requires_id_and_is_kept(household_a, product_classes):
    from oscar.core.loading import get_model

    Product = get_model("catalogue", "Product")
    product = Product(title="限用农药 甲拌磷", product_class=product_classes["pesticide"])
    product.attr.registration_no = "PD20240001"
    product.attr.active_ingredient = "甲拌磷"
    product.attr.toxicity = "高毒"
    product.attr.restricted_use = True
    product.attr.net_content = "500ml"
    product.save()
    with pytest.raises(ValidationError):
        pay.real_name_record(household_a, product, 2, "GB1", "rn-1")
    household_a.id_number = "220112198001011234"
    household_a.save()
    record = pay.real_name_record(household_a, product, 2, "GB1", "rn-1")
    assert pay.real_name_record(household_a, product, 2, "GB1", "rn-1").pk == record.pk
    assert record.id_number == "220112198001011234"
    assert (record.retain_until - record.created_at).days >= 730
    with pytest.raises(ValidationError):
        record.delete()
    assert RealNameRecord.objects.count() == 1

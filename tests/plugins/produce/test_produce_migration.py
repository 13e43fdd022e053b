"""The data migration keeps existing produce orders: their payment state moves into core Payment rows
(payer: the buyer) and the duplicated fields go. Runs the real migrations back and forth."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from oscar.core.loading import get_model

from marketplace.payments.models import Payment, PaymentStatus
from plugins.produce.models import Checkout, ProduceOrder

BEFORE = [("produce", "0002_core_payment_fields")]


def _leaf() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return [key for key in executor.loader.graph.leaf_nodes() if key[0] == "produce"]


@pytest.mark.django_db(transaction=True)
def test_existing_orders_keep_their_payment_state(coop, city_buyer, rnd):
    Order = get_model("order", "Order")
    orders = [
        Order.objects.create(number=f"MIG-{i}", currency="CNY", total_incl_tax=Decimal("100"),
                             total_excl_tax=Decimal("100"), status="已支付", user=city_buyer)
        for i in range(4)
    ]  # fmt: skip
    slot = rnd.slots.first()
    executor = MigrationExecutor(connection)
    try:
        executor.migrate(BEFORE)
        old = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        OldOrder, OldCheckout = old.get_model("produce", "ProduceOrder"), old.get_model("produce", "Checkout")
        common = dict(round_id=rnd.pk, slot_id=slot.pk, buyer_id=city_buyer.pk, contact_name="王",
                      contact_phone="13800000011", amount=Decimal("100.00"), delivery_code="123456")  # fmt: skip
        states = [  # (payment_state, online_type, captured, refunded)
            ("authorised", "card", "0", "0"),
            ("captured", "card", "100", "0"),
            ("refunded", "card", "100", "40"),  # refunded after delivery
            ("refunded", "wechat_pay", "0", "100"),  # prepaid, refunded on cancellation
        ]
        for i, (state, kind, captured, refunded) in enumerate(states):
            po = OldOrder.objects.create(
                order_id=orders[i].pk, online_type=kind, payment_intent=f"pi_mig_{i}", payment_state=state,
                amount_captured=Decimal(captured), amount_refunded=Decimal(refunded), **common,
            )  # fmt: skip
            if i == 0:
                OldCheckout.objects.create(
                    key="produce:checkout:mig-0", buyer_id=city_buyer.pk, data={"round": rnd.pk},
                    payment_intent="pi_mig_0", online_type="card", amount=Decimal("100.00"), state="placed", order_id=po.pk,
                )  # fmt: skip
        OldCheckout.objects.create(
            key="produce:checkout:mig-pending", buyer_id=city_buyer.pk, data={"round": rnd.pk},
            payment_intent="pi_mig_p", online_type="card", amount=Decimal("50.00"), state="pending",
        )  # fmt: skip
    finally:
        MigrationExecutor(connection).migrate(_leaf())
    got = {
        po.payment.stripe_payment_intent: (
            po.payment.status, po.payment.online_type, po.payment.amount_authorised, po.payment.amount_captured,
            po.payment.amount_refunded, po.payment.payer_user_id, po.payment.household_id, po.payment.reference,
        )
        for po in ProduceOrder.objects.select_related("payment", "order")
    }  # fmt: skip
    d = Decimal
    assert got == {
        "pi_mig_0": ("authorised", "card", d("100"), d("0"), d("0"), city_buyer.pk, None, "MIG-0"),
        "pi_mig_1": ("captured", "card", d("100"), d("100"), d("0"), city_buyer.pk, None, "MIG-1"),
        "pi_mig_2": ("captured", "card", d("100"), d("100"), d("40"), city_buyer.pk, None, "MIG-2"),
        "pi_mig_3": ("cancelled", "wechat_pay", d("100"), d("0"), d("100"), city_buyer.pk, None, "MIG-3"),
    }
    placed = Checkout.objects.get(key="produce:checkout:mig-0")
    assert placed.payment == ProduceOrder.objects.get(order__number="MIG-0").payment
    assert placed.payment.idempotency_key == placed.key
    pending = Checkout.objects.get(key="produce:checkout:mig-pending").payment
    assert (pending.status, pending.amount_authorised) == (PaymentStatus.PENDING, Decimal("50.00"))
    assert Payment.objects.count() == 5

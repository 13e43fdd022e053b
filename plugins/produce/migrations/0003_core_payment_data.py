"""Produce orders and checkouts kept their payment state themselves; it moves into core Payment rows
(payer: the buyer). Ledger entries written before stay as they are (the books do not change)."""

from django.db import migrations

# ProduceOrder.payment_state → core PaymentStatus
ORDER_STATUS = {
    "authorised": "authorised",
    "prepaid": "authorised",
    "captured": "captured",
    "voided": "cancelled",
}
CHECKOUT_STATUS = {"pending": "pending", "failed": "failed", "refused": "cancelled", "placed": "authorised"}


def forward(apps, schema_editor):
    Payment = apps.get_model("payments", "Payment")
    ProduceOrder = apps.get_model("produce", "ProduceOrder")
    Checkout = apps.get_model("produce", "Checkout")
    by_order = {c.order_id: c for c in Checkout.objects.filter(order__isnull=False)}
    for po in ProduceOrder.objects.filter(payment__isnull=True).select_related("order").iterator():
        checkout = by_order.get(po.pk)
        if po.payment_state == "refunded":
            # Refunded after delivery (captured), or a prepaid charge refunded on cancellation.
            status = "captured" if po.amount_captured > 0 else "cancelled"
        else:
            status = ORDER_STATUS.get(po.payment_state, "authorised")
        payment = Payment.objects.create(
            method="stripe",
            status=status,
            online_type=po.online_type,
            payer_user_id=po.buyer_id,
            amount_authorised=po.amount,
            amount_captured=min(po.amount_captured, po.amount),
            amount_refunded=min(po.amount_refunded, po.amount),
            reference=po.order.number,
            idempotency_key=checkout.key if checkout else f"produce:migrated:{po.pk}",
            stripe_payment_intent=po.payment_intent,
            purpose={"kind": "produce_checkout", "checkout": checkout.key if checkout else ""},
        )
        po.payment = payment
        po.save(update_fields=["payment"])
        if checkout:
            checkout.payment = payment
            checkout.save(update_fields=["payment"])
    for checkout in Checkout.objects.filter(payment__isnull=True).iterator():
        checkout.payment = Payment.objects.create(
            method="stripe",
            status=CHECKOUT_STATUS.get(checkout.state, "failed"),
            online_type=checkout.online_type,
            payer_user_id=checkout.buyer_id,
            amount_authorised=checkout.amount,
            reference=f"produce:{checkout.data.get('round', '')}",
            idempotency_key=checkout.key,
            stripe_payment_intent=checkout.payment_intent,
            purpose={"kind": "produce_checkout", "checkout": checkout.key},
        )
        checkout.save(update_fields=["payment"])


class Migration(migrations.Migration):
    dependencies = [("produce", "0002_core_payment_fields")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]

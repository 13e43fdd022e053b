"""Signals of the payments core."""

from __future__ import annotations

from django.dispatch import Signal

#: A pending online payment (``PaymentStatus.PENDING``) reached a state where what it pays for can be
#: completed (card authorised for capture, WeChat Pay / Alipay charged). Sent with ``payment=`` by the
#: Stripe webhook and by :func:`marketplace.payments.services.cancel_abandoned` before giving up on
#: a payment. Receivers check ``payment.purpose["kind"]`` and complete their own payments only;
#: they must be idempotent (a payment may be announced more than once).
online_payment_ready = Signal()

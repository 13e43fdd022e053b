"""Stripe client, configured from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_WEBHOOK_SECRET).

The only module that talks to Stripe. Tests point STRIPE_API_BASE at a localstripe server.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe
from django.conf import settings

#: Our online payment types → Stripe payment_method_types.
ONLINE_TYPES = {"card": "card", "wechat_pay": "wechat_pay", "alipay": "alipay"}


class GatewayError(Exception):
    """Stripe refused or failed; ``declined`` is True for a card decline."""

    def __init__(self, message: str, declined: bool = False) -> None:
        super().__init__(message)
        self.declined = declined


def to_fen(amount: Decimal) -> int:
    return int((Decimal(amount) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(Decimal("0.01"))


def client() -> stripe.StripeClient:
    kwargs: dict[str, Any] = {}
    if settings.STRIPE_API_BASE:
        kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY or "sk_test_unset", **kwargs)


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as exc:
        raise GatewayError(exc.user_message or "银行卡被拒绝", declined=True) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc


def authorise(
    amount: Decimal, payment_method: str, online_type: str, idempotency_key: str, metadata: dict[str, str]
) -> Any:
    """Create and confirm a manual-capture PaymentIntent; returns it (status ``requires_capture``)."""
    params: dict[str, Any] = {
        "amount": to_fen(amount),
        "currency": "cny",
        "payment_method": payment_method,
        "capture_method": "manual",
        "confirm": True,
        "metadata": metadata,
    }
    if online_type != "card":
        params["payment_method_types"] = [ONLINE_TYPES[online_type]]
    return _call(
        client().v1.payment_intents.create, params=params, options={"idempotency_key": idempotency_key}
    )


def retrieve(intent_id: str) -> Any:
    return _call(client().v1.payment_intents.retrieve, intent_id)


def capture(intent_id: str, amount: Decimal, idempotency_key: str) -> Any:
    return _call(
        client().v1.payment_intents.capture,
        intent_id,
        params={"amount_to_capture": to_fen(amount)},
        options={"idempotency_key": idempotency_key},
    )


def cancel(intent_id: str, idempotency_key: str) -> Any:
    return _call(client().v1.payment_intents.cancel, intent_id, options={"idempotency_key": idempotency_key})


def refund(intent_id: str, amount: Decimal, idempotency_key: str) -> Any:
    return _call(
        client().v1.refunds.create,
        params={"payment_intent": intent_id, "amount": to_fen(amount)},
        options={"idempotency_key": idempotency_key},
    )


def construct_event(payload: bytes, signature: str) -> Any:
    """Verify the Stripe-Signature header; raises ValueError / SignatureVerificationError."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)

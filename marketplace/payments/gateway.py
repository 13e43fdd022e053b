"""Stripe client, configured from settings (STRIPE_SECRET_KEY, STRIPE_API_BASE, STRIPE_WEBHOOK_SECRET).

The only module that talks to Stripe. Tests point STRIPE_API_BASE at a localstripe server.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext

from marketplace.core.money import from_fen, to_fen  # noqa: F401  (from_fen re-exported)

#: Our online payment types → Stripe payment_method_types.
ONLINE_TYPES = {"card": "card", "wechat_pay": "wechat_pay", "alipay": "alipay"}


class GatewayError(Exception):
    """Stripe refused or failed; ``declined`` is True for a card decline."""

    def __init__(self, message: str, declined: bool = False) -> None:
        super().__init__(message)
        self.declined = declined


def client() -> stripe.StripeClient:
    kwargs: dict[str, Any] = {}
    if settings.STRIPE_API_BASE:
        kwargs["base_addresses"] = {"api": settings.STRIPE_API_BASE}
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY or "sk_test_unset", **kwargs)


def _call(fn, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as exc:
        raise GatewayError(exc.user_message or gettext("银行卡被拒绝"), declined=True) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc.user_message or exc)) from exc


#: Types Stripe cannot authorise for later capture; they need the payer's action (WeChat Pay QR code,
#: Alipay redirect) and are charged in full at once — settled later by refunding the difference.
AUTOMATIC_CAPTURE_TYPES = frozenset({"wechat_pay", "alipay"})

#: PaymentIntent states that can still be cancelled (nothing charged yet).
CANCELLABLE = frozenset(
    {"requires_payment_method", "requires_confirmation", "requires_action", "requires_capture", "processing"}
)


def intent_params(
    amount: Decimal,
    online_type: str,
    metadata: dict[str, str],
    *,
    payment_method: str = "",
    customer: str = "",
    return_url: str = "",
) -> dict[str, Any]:
    """Parameters of a confirmed PaymentIntent for ``online_type``.

    Cards: manual capture (authorised now, captured at the final amount later); a 3-D Secure card
    ends in ``requires_action`` and the browser finishes it with Stripe.js ``confirmCardPayment``.
    WeChat Pay / Alipay: automatic capture (Stripe has no manual capture for them); the intent ends
    in ``requires_action`` with a QR code (``wechat_pay_display_qr_code``) or a redirect URL.
    """
    params: dict[str, Any] = {
        "amount": to_fen(amount),
        "currency": "cny",
        "confirm": True,
        "metadata": metadata,
        "payment_method_types": [ONLINE_TYPES[online_type]],
    }
    if online_type in AUTOMATIC_CAPTURE_TYPES:
        params["capture_method"] = "automatic"
        params["payment_method_data"] = {"type": online_type}
        if online_type == "wechat_pay":
            params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
        if return_url:
            params["return_url"] = return_url
    else:
        params["capture_method"] = "manual"
        params["payment_method"] = payment_method
        if customer:
            params["customer"] = customer
    return params


def card_from_token(token: str, idempotency_key: str, metadata: dict[str, str]) -> tuple[str, str]:
    """A card tokenised in the browser (Stripe.js ``createToken``) → (customer id, card id).

    The card is saved on a new Customer (``source=tok_…``); a card attached to a customer can be used
    as the ``payment_method`` of a PaymentIntent. Works the same against Stripe and localstripe."""
    customer = _call(
        client().v1.customers.create,
        params={"source": token, "metadata": metadata},
        options={"idempotency_key": f"{idempotency_key}:customer"},
    )
    card = customer.to_dict().get("default_source") or ""
    if not card:
        raise GatewayError(gettext("银行卡信息无效"))
    return customer.id, card


def create_intent(
    amount: Decimal,
    online_type: str,
    idempotency_key: str,
    metadata: dict[str, str],
    *,
    payment_method: str = "",
    token: str = "",
    return_url: str = "",
    customer: str = "",
) -> Any:
    """Create and confirm a PaymentIntent (see :func:`intent_params`); returns it in whatever state
    Stripe left it: ``requires_capture`` (card authorised), ``requires_action`` (3-D Secure, QR code,
    redirect), ``succeeded`` (charged), or ``requires_payment_method`` (declined)."""
    if online_type not in AUTOMATIC_CAPTURE_TYPES and token:
        customer, payment_method = card_from_token(token, idempotency_key, metadata)
    params = intent_params(
        amount, online_type, metadata, payment_method=payment_method, customer=customer, return_url=return_url
    )
    return _call(
        client().v1.payment_intents.create, params=params, options={"idempotency_key": idempotency_key}
    )


def authorise(
    amount: Decimal, payment_method: str, online_type: str, idempotency_key: str, metadata: dict[str, str]
) -> Any:
    """Kept for callers of the one-step API: create and confirm with a PaymentMethod id."""
    return create_intent(amount, online_type, idempotency_key, metadata, payment_method=payment_method)


def reauthorise(intent: Any, idempotency_key: str) -> Any:
    """A fresh manual-capture authorisation for the same amount, card and customer as ``intent``
    (off-session: the payer is not there). Returns the new intent in whatever state Stripe left it
    (``requires_capture`` when the bank accepted it)."""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    method = data.get("payment_method")
    if isinstance(method, dict):
        method = method.get("id")
    customer = data.get("customer")
    if isinstance(customer, dict):
        customer = customer.get("id")
    params: dict[str, Any] = {
        "amount": data["amount"],
        "currency": data.get("currency", "cny"),
        "confirm": True,
        "capture_method": "manual",
        "payment_method_types": ["card"],
        "payment_method": method,
        "metadata": data.get("metadata") or {},
    }
    if customer:
        params["customer"] = customer
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


def amount_received(intent: Any) -> int:
    """Fen Stripe really received for a PaymentIntent (its ``amount_received``). localstripe has no
    such field; there it is the captured charge's amount less what a partial capture released."""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    if data.get("amount_received") is not None:
        return int(data["amount_received"])
    charge = data.get("latest_charge")
    if isinstance(charge, dict) and charge.get("captured") and charge.get("status") == "succeeded":
        return int(charge.get("amount") or 0) - int(charge.get("amount_refunded") or 0)
    return 0


def construct_event(payload: bytes, signature: str) -> Any:
    """Verify the Stripe-Signature header; raises ValueError / SignatureVerificationError."""
    return stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)

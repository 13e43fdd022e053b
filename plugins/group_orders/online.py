"""Online (Stripe) pledges in two steps: start → the payer acts (3-D Secure, WeChat Pay QR code,
Alipay redirect) → complete. Views, GraphQL, the Stripe webhook and a periodic task call these.

A pledge paid online exists only once Stripe says the money is usable: a card authorised for a later
capture (``requires_capture``) or WeChat Pay / Alipay charged (``succeeded``). Until then the payment
is ``pending`` and carries what it pays for (``Payment.purpose``). Completion takes the same campaign
lock and applies the same limits as :func:`services.place_pledge`; if they no longer allow the pledge
(campaign closed, supply cap reached, price went up) the payment is cancelled or refunded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from marketplace.core import permissions
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentMethod, PaymentStatus
from marketplace.stations.models import Household

from . import services
from .models import CampaignItem, Pledge

logger = logging.getLogger("plugins.group_orders")

#: Pending online payments older than this are cancelled by the periodic task.
PENDING_PAYMENT_TTL = timedelta(hours=1)


@dataclass
class PledgeResult:
    """A pledge, or the pending payment the payer still has to finish (``next_action``:
    ``{"type": "confirm_card" | "wechat_qr" | "redirect", ...}``; ``client_secret`` for Stripe.js)."""

    pledge: Pledge | None = None
    payment: Payment | None = None
    client_secret: str = ""
    next_action: dict[str, str] | None = None

    @property
    def needs_action(self) -> bool:
        return self.pledge is None


class PledgeNotCompleted(ValidationError):
    """The pledge could not be completed; the payment was cancelled or refunded (committed state:
    callers running in a transaction must not roll it back)."""

    def __init__(self, message: str, code: str, payment: Payment) -> None:
        super().__init__(message, code=code)
        self.payment = payment


def start_pledge(
    actor: Any,
    item: CampaignItem,
    household: Household,
    quantity: int,
    payment_method: str,
    *,
    stripe_payment_method: str = "",
    stripe_token: str = "",
    online_type: str = "card",
    return_url: str = "",
    idempotency_key: str = "",
) -> PledgeResult:
    """Step 1. Cash, credit and cards that need no authentication give the pledge at once; otherwise
    the pending payment and what the payer has to do. Repeating with the same key is safe."""
    try:
        pledge = services.place_pledge(
            actor,
            item,
            household,
            quantity,
            payment_method,
            stripe_payment_method=stripe_payment_method,
            stripe_token=stripe_token,
            online_type=online_type,
            return_url=return_url,
            idempotency_key=idempotency_key,
        )
    except services.PaymentActionRequired as pending:
        return complete_online_pledge(actor, pending.payment)
    return PledgeResult(pledge=pledge, payment=pledge.payment)


def pending_payment(actor: Any, key: str) -> Payment | None:
    """The actor's own online payment for the pledge key ``key`` (None for anybody else)."""
    if not getattr(actor, "is_authenticated", False) or not key or len(key) > services.MAX_CLIENT_KEY:
        return None
    return (
        Payment.objects.filter(
            idempotency_key=f"gb:{services.scoped_key(actor, key)}",
            method=PaymentMethod.STRIPE,
            recorded_by=actor,
        )
        .select_related("household")
        .first()
    )


def complete_online_pledge(actor: Any | None, payment: Payment) -> PledgeResult:
    """Step 2 (browser return, GraphQL, or ``actor=None`` for the webhook / periodic task).

    Asks Stripe where the payment stands; if usable, creates the pledge under the campaign lock.
    Idempotent: a payment that already has its pledge returns it. Only the user who started the
    payment may complete it."""
    purpose = payment.purpose or {}
    if payment.method != PaymentMethod.STRIPE or purpose.get("kind") != services.PLEDGE_PURPOSE:
        raise ValidationError(gettext("该支付不属于团购认购"), code="invalid")
    if actor is not None and (
        payment.recorded_by_id != getattr(actor, "pk", None)
        or not permissions.can_manage_household(actor, payment.household)
    ):
        raise PermissionDenied(gettext("无权完成他人的支付"))
    done = Pledge.objects.filter(payment=payment).first()
    if done is not None:
        return PledgeResult(pledge=done, payment=payment)
    if payment.status != PaymentStatus.PENDING:
        raise ValidationError(gettext("该支付已撤销或失败，请重新认购"), code="payment_failed")
    state = payments.check_pending(payment)  # network call: no lock held
    if state.state == "action":
        return PledgeResult(payment=payment, client_secret=state.client_secret, next_action=state.next_action)
    if state.state == "failed":
        payment.refresh_from_db()
        raise PledgeNotCompleted(
            gettext("支付未完成（验证未通过或已取消），认购未成功"), "payment_failed", payment
        )
    try:
        with transaction.atomic():
            pledge = _commit(payment, purpose)
    except (ValidationError, IntegrityError) as exc:
        with transaction.atomic():
            payments.void(payment, gettext("认购未成功"))
        payment.refresh_from_db()
        if isinstance(exc, IntegrityError):
            reason, code = gettext("该农户已认购此商品"), "unique"
        else:
            reason, code = "；".join(exc.messages), _first_code(exc)
        undone = gettext("已退款") if payments.is_prepaid(payment) else gettext("支付授权已撤销")
        raise PledgeNotCompleted(
            gettext("%(reason)s，认购未成功，%(undone)s") % {"reason": reason, "undone": undone},
            code,
            payment,
        ) from exc
    return PledgeResult(pledge=pledge, payment=pledge.payment)


def _first_code(exc: ValidationError) -> str:
    errors = (
        [e for errs in exc.error_dict.values() for e in errs]
        if hasattr(exc, "error_dict")
        else exc.error_list
    )
    return next((e.code for e in errors if e.code), "invalid")


def _commit(payment: Payment, purpose: dict[str, Any]) -> Pledge:
    """Under the payment lock, then the campaign lock (same order everywhere): the pledge through
    :func:`services.add_pledge`, as for any pledge; the price can only have fallen."""
    locked_payment = Payment.objects.select_for_update().get(pk=payment.pk)
    done = Pledge.objects.filter(payment=locked_payment).first()
    if done is not None:
        return done
    if locked_payment.status != PaymentStatus.PENDING:
        raise ValidationError(gettext("该支付已撤销或失败，请重新认购"), code="payment_failed")
    item = CampaignItem.objects.select_related("product").get(pk=purpose["item"])
    household = Household.objects.select_related("station").get(pk=locked_payment.household_id)
    quantity = int(purpose["quantity"])
    if not household.is_active:
        raise ValidationError(gettext("该团购不面向此农户所在站点"), code="invalid")

    def pay(amount: Decimal) -> Payment:
        if amount > locked_payment.amount_authorised:
            raise ValidationError(gettext("团购价已上涨，请重新认购"), code="invalid_state")
        payments.activate_pending(locked_payment)
        return locked_payment

    return services.add_pledge(
        item.campaign_id,
        item,
        household,
        quantity,
        placed_by_id=locked_payment.recorded_by_id,
        payment_method=PaymentMethod.STRIPE,
        key=purpose["pledge_key"],
        pay=pay,
    )


def on_online_payment_ready(sender: Any, payment: Payment, **kwargs: Any) -> None:
    """Receiver of ``payments.signals.online_payment_ready`` (Stripe webhook, periodic task): the
    payer finished but the browser may never come back — complete the pledge here."""
    if (payment.purpose or {}).get("kind") != services.PLEDGE_PURPOSE:
        return
    try:
        complete_online_pledge(None, payment)
    except ValidationError as exc:
        logger.info("Pending pledge payment %s not completed: %s", payment.pk, "；".join(exc.messages))


def reauthorise_card_pledges(now: Any = None) -> int:
    """Periodic (hourly): a card is authorised at pledge, but Stripe drops an uncaptured authorisation
    after about 7 days while a campaign's cutoff may be weeks away. Every open pledge whose card
    authorisation is older than ``payments.REAUTHORISE_AFTER`` (6 days) is re-authorised; a card the
    bank now refuses keeps its old authorisation until it expires, and the close then marks that
    pledge unpaid (household and station told; the station may take cash). Returns how many renewed."""
    from django.utils import timezone

    from .models import CampaignStatus, PledgeStatus

    now = now or timezone.now()
    due = (
        Payment.objects.filter(
            method=PaymentMethod.STRIPE,
            status=PaymentStatus.AUTHORISED,
            pledge__status=PledgeStatus.ACTIVE,
            pledge__campaign__status__in=(CampaignStatus.OPEN, CampaignStatus.CLOSING),
            updated_at__lte=now - payments.REAUTHORISE_AFTER,
        )
        .exclude(online_type__in=("wechat_pay", "alipay"))
        .order_by("updated_at")
    )
    renewed = 0
    for payment in list(due[:500]):
        renewed += payments.reauthorise(payment)
    return renewed


def cancel_abandoned_payments(older_than: timedelta = PENDING_PAYMENT_TTL) -> int:
    """Periodic: pending pledge payments nobody finished are completed if Stripe says they can be,
    else cancelled (intent cancelled, or refunded if WeChat Pay / Alipay charged meanwhile)."""
    return payments.cancel_abandoned(older_than, kind=services.PLEDGE_PURPOSE)

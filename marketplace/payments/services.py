"""Payment services: every money move is idempotent (a unique key per move) and leaves ledger entries.

Ledger convention: an entry moves ``amount`` from ``credit_account`` to ``debit_account``;
``balance(account)`` = debits − credits. Station cash is positive when the drawer holds money;
a household deposit is negative while we hold the household's cash; a household receivable is
positive while the household owes on credit (赊销); a station commission account is negative while
the platform owes the station (``commission_balance`` shows it positive).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from marketplace.core import permissions
from marketplace.core.db import insert_once
from marketplace.core.money import cny, format_cny
from marketplace.stations.models import Household, Station

from . import gateway
from .models import (
    ZERO,
    CashReconciliation,
    CommissionStatement,
    LedgerEntry,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ProcessedStripeEvent,
    RealNameRecord,
    Refund,
    RefundStatus,
)

logger = logging.getLogger("marketplace.payments")

SALES = "sales"
STRIPE_CLEARING = "stripe:clearing"
PLATFORM_BANK = "platform:bank"
COMMISSION_EXPENSE = "platform:commission"


def station_cash(station_id: int) -> str:
    return f"station:{station_id}:cash"


def station_commission(station_id: int) -> str:
    return f"station:{station_id}:commission"


def household_deposit(household_id: int) -> str:
    return f"household:{household_id}:deposit"


def household_receivable(household_id: int) -> str:
    return f"household:{household_id}:receivable"


def buyer_deposit(user_id: int) -> str:
    """Money we hold for a user paying for themselves (city buyer), negative while held."""
    return f"buyer:{user_id}:deposit"


def payer_deposit(payment: Payment) -> str:
    """The deposit account of the payment's payer: its household's, or its paying user's."""
    if payment.household_id is not None:
        return household_deposit(payment.household_id)
    return buyer_deposit(payment.payer_user_id)


def money(value: Any) -> Decimal:
    """CNY, ROUND_HALF_UP to the fen: :func:`marketplace.core.money.cny`."""
    return cny(value)


# --- Ledger ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    key: str
    kind: str
    debit: str
    credit: str
    amount: Decimal
    station_id: int | None = None
    household_id: int | None = None
    payment_id: int | None = None
    reference: str = ""
    memo: str = ""

    def entry(self, when: datetime | None = None) -> LedgerEntry:
        return LedgerEntry(
            idempotency_key=self.key,
            kind=self.kind,
            debit_account=self.debit,
            credit_account=self.credit,
            amount=money(self.amount),
            station_id=self.station_id,
            household_id=self.household_id,
            payment_id=self.payment_id,
            reference=self.reference,
            memo=self.memo,
            created_at=when or timezone.now(),
        )


def post(move: Move) -> LedgerEntry | None:
    """Write one entry; a second post with the same key writes nothing and returns None."""
    if money(move.amount) <= 0:
        return None
    entry = move.entry()
    return entry if insert_once(entry, "idempotency_key") else None


def post_many(moves: list[Move]) -> None:
    """Set-based posting for batch jobs; duplicates (same key) are skipped by the database."""
    now = timezone.now()
    LedgerEntry.objects.bulk_create(
        [m.entry(now) for m in moves if money(m.amount) > 0], ignore_conflicts=True, batch_size=2000
    )


def balance(account: str, until: datetime | None = None, since: datetime | None = None) -> Decimal:
    qs = LedgerEntry.objects.all()
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    debit = qs.filter(debit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    credit = qs.filter(credit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    return money(debit - credit)


# --- Authorising at pledge ------------------------------------------------------------------


def _require_station_actor(actor: Any, household: Household) -> None:
    if not permissions.can_manage_household(actor, household):
        raise PermissionDenied(gettext("无权为该农户收款"))


def _existing(key: str) -> Payment | None:
    return Payment.objects.filter(idempotency_key=key).first()


def record_cash(actor: Any, household: Household, amount: Decimal, reference: str, key: str) -> Payment:
    """Cash taken at the station by staff. Held as the household's deposit until capture."""
    if not (permissions.is_operator(actor) or permissions.can_manage_station(actor, household.station_id)):
        raise PermissionDenied(gettext("只有本站信息员可以登记现金收款"))
    amount = money(amount)
    if amount <= 0:
        raise ValidationError({"amount": ValidationError(gettext("金额必须大于零"), code="invalid")})
    payment = Payment(
        method=PaymentMethod.CASH,
        status=PaymentStatus.AUTHORISED,
        household=household,
        station_id=household.station_id,
        amount_authorised=amount,
        reference=reference,
        idempotency_key=key,
        recorded_by=actor,
    )
    if not insert_once(payment, "idempotency_key"):  # the same key again: the first move stands
        return Payment.objects.get(idempotency_key=key)
    post(
        Move(
            f"payment:{payment.pk}:cash-in",
            "cash_in",
            station_cash(household.station_id),
            household_deposit(household.pk),
            amount,
            household.station_id,
            household.pk,
            payment.pk,
            reference,
            "现金收款",
        )
    )
    return payment


def credit_in_use(household: Household) -> Decimal:
    held = (
        Payment.objects.filter(
            household=household, method=PaymentMethod.CREDIT, status=PaymentStatus.AUTHORISED
        ).aggregate(s=Sum("amount_authorised"))["s"]
        or ZERO
    )
    return money(held + max(balance(household_receivable(household.pk)), ZERO))


def available_credit(household: Household) -> Decimal:
    return money(household.credit_limit - credit_in_use(household))


def authorise_credit(actor: Any, household: Household, amount: Decimal, reference: str, key: str) -> Payment:
    """Reserve part of the household's approved credit (赊销) limit."""
    _require_station_actor(actor, household)
    existing = _existing(key)
    if existing:
        return existing
    amount = money(amount)
    # Lock the household so two pledges cannot both use the last of the limit.
    household = Household.objects.select_for_update().get(pk=household.pk)
    if household.credit_limit <= 0:
        raise ValidationError(
            {"paymentMethod": ValidationError(gettext("该农户未获批赊销额度"), code="limit_exceeded")}
        )
    if amount > available_credit(household):
        raise ValidationError(
            {
                "paymentMethod": ValidationError(
                    gettext("超出赊销额度（可用 %(available)s）")
                    % {"available": format_cny(available_credit(household))},
                    code="limit_exceeded",
                )
            }
        )
    return Payment.objects.create(
        method=PaymentMethod.CREDIT,
        status=PaymentStatus.AUTHORISED,
        household=household,
        station_id=household.station_id,
        amount_authorised=amount,
        reference=reference,
        idempotency_key=key,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )


def is_prepaid(payment: Payment) -> bool:
    """WeChat Pay / Alipay: charged in full when the pledge is made (Stripe cannot hold them for a
    later capture). Held as the household's deposit until settlement refunds the difference."""
    return payment.method == PaymentMethod.STRIPE and payment.online_type in gateway.AUTOMATIC_CAPTURE_TYPES


def _intent_usable(payment: Payment, intent: Any) -> bool:
    return intent.status == ("succeeded" if is_prepaid(payment) else "requires_capture")


def _intent_matches(payment: Payment, intent: Any) -> bool:
    """Is this the intent we created for this payment (amount, currency, our metadata)?"""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    metadata = data.get("metadata") or {}
    return (
        data.get("id") == payment.stripe_payment_intent
        and data.get("amount") == gateway.to_fen(payment.amount_authorised)
        and str(data.get("currency", "")).lower() == "cny"
        and metadata.get("payment_key", payment.idempotency_key) == payment.idempotency_key
        and (
            metadata.get("household") == str(payment.household_id)
            if payment.household_id is not None
            else metadata.get("buyer") == str(payment.payer_user_id)
        )
    )


def next_action(intent: Any) -> dict[str, str] | None:
    """What the payer still has to do, in a form the page and the API can show:
    ``confirm_card`` (3-D Secure through Stripe.js), ``wechat_qr`` (scan the QR code) or
    ``redirect`` (Alipay's page)."""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    if data.get("status") != "requires_action":
        return None
    action = data.get("next_action") or {}
    kind = action.get("type", "")
    if kind == "wechat_pay_display_qr_code":
        qr = action.get(kind) or {}
        return {
            "type": "wechat_qr",
            "qr_image_url": qr.get("image_data_url") or qr.get("image_url_png") or "",
            "qr_data": qr.get("data") or "",
            "url": qr.get("hosted_instructions_url") or "",
        }
    if kind in ("alipay_handle_redirect", "redirect_to_url"):
        return {"type": "redirect", "url": (action.get(kind) or {}).get("url", "")}
    return {"type": "confirm_card"}  # use_stripe_sdk / three_d_secure_redirect: Stripe.js handles it


def authorise_online(
    actor: Any,
    household: Household,
    amount: Decimal,
    reference: str,
    key: str,
    payment_method: str = "",
    online_type: str = "card",
    *,
    token: str = "",
    return_url: str = "",
    purpose: dict[str, Any] | None = None,
) -> Payment:
    """Start an online payment through a Stripe PaymentIntent.

    Card (``payment_method`` pm_… or a browser ``token`` tok_…): authorised for a later capture →
    ``authorised``; a 3-D Secure card → ``pending`` until the payer authenticates.
    WeChat Pay / Alipay: charged at once after the payer's action → ``pending`` until then.
    A pending payment is finished by :func:`check_pending` + :func:`activate_pending` (the caller
    completes what it pays for) or given up with :func:`void`. ``purpose`` says what it pays for.
    """
    _require_station_actor(actor, household)
    return _start_online(
        actor,
        amount,
        reference,
        key,
        payment_method,
        online_type,
        token=token,
        return_url=return_url,
        purpose=purpose,
        household=household,
    )


def authorise_online_for_user(
    user: Any,
    amount: Decimal,
    reference: str,
    key: str,
    online_type: str = "card",
    *,
    payment_method: str = "",
    token: str = "",
    customer: str = "",
    return_url: str = "",
    purpose: dict[str, Any] | None = None,
) -> Payment:
    """:func:`authorise_online` for a user paying for themselves (a city buyer; no station): the same
    intents, states and settlement. The caller has established that ``user`` is the one paying
    (the logged-in buyer, or the buyer's standing order charged to the card the buyer saved:
    ``payment_method`` card_… with its ``customer``). Metadata ``buyer`` = the user's id."""
    if not permissions.is_authenticated(user):
        raise PermissionDenied(gettext("请先登录"))
    return _start_online(
        user,
        amount,
        reference,
        key,
        payment_method,
        online_type,
        token=token,
        return_url=return_url,
        purpose=purpose,
        payer_user=user,
        customer=customer,
    )


def _start_online(
    actor: Any,
    amount: Decimal,
    reference: str,
    key: str,
    payment_method: str,
    online_type: str,
    *,
    token: str,
    return_url: str,
    purpose: dict[str, Any] | None,
    household: Household | None = None,
    payer_user: Any = None,
    customer: str = "",
) -> Payment:
    existing = _existing(key)
    if existing:
        return existing
    if online_type not in gateway.ONLINE_TYPES:
        raise ValidationError({"onlineType": ValidationError(gettext("不支持的支付方式"), code="invalid")})
    if online_type not in gateway.AUTOMATIC_CAPTURE_TYPES and not (payment_method or token):
        raise ValidationError(
            {"stripePaymentMethod": ValidationError(gettext("请提供支付凭证"), code="required")}
        )
    amount = money(amount)
    if amount <= 0:
        raise ValidationError({"amount": ValidationError(gettext("金额必须大于零"), code="invalid")})
    metadata = {"reference": reference, "payment_key": key}
    if household is not None:
        metadata["household"] = str(household.pk)
    else:
        metadata["buyer"] = str(payer_user.pk)
    try:
        intent = gateway.create_intent(
            amount,
            online_type,
            key,
            metadata,
            payment_method=payment_method,
            token=token,
            return_url=return_url,
            customer=customer,
        )
    except gateway.GatewayError as exc:
        raise ValidationError(
            {
                "paymentMethod": ValidationError(
                    gettext("支付授权失败：%(reason)s") % {"reason": exc}, code="payment_failed"
                )
            }
        ) from exc
    payment = Payment(
        method=PaymentMethod.STRIPE,
        status=PaymentStatus.PENDING,
        online_type=online_type,
        household=household,
        station_id=household.station_id if household is not None else None,
        payer_user=payer_user if household is None else None,
        amount_authorised=amount,
        reference=reference,
        idempotency_key=key,
        stripe_payment_intent=intent.id,
        purpose=purpose or {},
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    if intent.status == "requires_action" or (intent.status == "processing" and is_prepaid(payment)):
        payment.save()
        return payment
    if not _intent_usable(payment, intent):
        # Declined (requires_payment_method) or anything else we cannot hold on to.
        if intent.status in gateway.CANCELLABLE:
            gateway.cancel(intent.id, f"{key}:abandon")
        raise ValidationError(
            {
                "paymentMethod": ValidationError(
                    gettext("支付未完成授权，请换一种支付方式"), code="payment_failed"
                )
            }
        )
    with transaction.atomic():
        payment.save()
        return activate_pending(payment)


@dataclass(frozen=True)
class OnlineState:
    """Where a pending online payment stands at Stripe: ``ready`` (can be completed), ``action``
    (the payer still has to act: ``next_action``, ``client_secret``) or ``failed``."""

    state: str
    client_secret: str = ""
    next_action: dict[str, str] | None = None


def check_pending(payment: Payment) -> OnlineState:
    """Ask Stripe about a pending payment (no lock held: network call). A failed or mismatching
    intent is cancelled and the payment marked failed."""
    if payment.status != PaymentStatus.PENDING:
        return OnlineState("ready" if payment.status == PaymentStatus.AUTHORISED else "failed")
    intent = gateway.retrieve(payment.stripe_payment_intent)
    if not _intent_matches(payment, intent):
        logger.error("PaymentIntent %s does not match payment %s", intent.id, payment.pk)
        _give_up(payment, intent, PaymentStatus.FAILED)
        return OnlineState("failed")
    if _intent_usable(payment, intent):
        return OnlineState("ready")
    if intent.status == "requires_action" or intent.status == "processing":
        return OnlineState("action", intent.client_secret or "", next_action(intent))
    _give_up(payment, intent, PaymentStatus.FAILED)  # e.g. 3-D Secure failed: requires_payment_method
    return OnlineState("failed")


def _give_up(payment: Payment, intent: Any, status: str) -> None:
    if intent.status in gateway.CANCELLABLE:
        gateway.cancel(intent.id, f"{payment.idempotency_key}:abandon")
    Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(
        status=status, updated_at=timezone.now()
    )
    payment.status = status


def activate_pending(payment: Payment) -> Payment:
    """Pending → authorised, once Stripe says the payment is usable (call inside the caller's
    transaction, with the payment row locked, after :func:`check_pending` said ``ready``). A
    prepaid (WeChat Pay / Alipay) payment's money is now held as the household's deposit."""
    if payment.status != PaymentStatus.PENDING:
        return payment
    if is_prepaid(payment):
        post(
            Move(
                f"payment:{payment.pk}:prepaid",
                "online_prepaid",
                STRIPE_CLEARING,
                payer_deposit(payment),
                payment.amount_authorised,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
                "在线预付",
            )
        )
    payment.status = PaymentStatus.AUTHORISED
    payment.save(update_fields=["status", "updated_at"])
    return payment


def cancel_abandoned(older_than: timedelta = timedelta(hours=1), kind: str | None = None) -> int:
    """Periodic: pending online payments older than ``older_than`` (e.g. the farmer closed the page at
    the 3-D Secure step). A payment Stripe reports usable is first announced once more
    (:data:`~marketplace.payments.signals.online_payment_ready`) so its owner can still complete it;
    whatever is still pending afterwards is cancelled (or refunded, if already charged)."""
    from .signals import online_payment_ready

    qs = Payment.objects.filter(
        status=PaymentStatus.PENDING,
        method=PaymentMethod.STRIPE,
        created_at__lt=timezone.now() - older_than,
    )
    if kind is not None:
        qs = qs.filter(purpose__kind=kind)
    cancelled = 0
    for payment in list(qs.order_by("pk")[:500]):
        try:
            if check_pending(payment).state == "ready":
                online_payment_ready.send_robust(sender=Payment, payment=payment)
            payment.refresh_from_db()
            if payment.status == PaymentStatus.PENDING:
                with transaction.atomic():
                    void(payment, gettext("超时未完成支付"))
                cancelled += 1
        except (gateway.GatewayError, ValidationError):
            logger.exception("Could not cancel abandoned payment %s", payment.pk)
    return cancelled


# --- Capture, void, refund -----------------------------------------------------------------


def capture_moves(payment: Payment, amount: Decimal) -> list[Move]:
    """Ledger moves for settling ``amount`` of a cash or credit payment (no outside call)."""
    amount = money(amount)
    moves: list[Move] = []
    if payment.method == PaymentMethod.CASH:
        moves.append(
            Move(
                f"payment:{payment.pk}:capture",
                "sale",
                household_deposit(payment.household_id),
                SALES,
                amount,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
            )
        )
    elif payment.method == PaymentMethod.CREDIT:
        moves.append(
            Move(
                f"payment:{payment.pk}:capture",
                "credit_sale",
                household_receivable(payment.household_id),
                SALES,
                amount,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
            )
        )
    elif payment.method == PaymentMethod.STRIPE:
        moves.append(
            Move(
                f"payment:{payment.pk}:capture",
                "online_sale",
                payer_deposit(payment) if is_prepaid(payment) else STRIPE_CLEARING,
                SALES,
                amount,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
            )
        )
    return moves


#: Stripe keeps an uncaptured card authorisation for about 7 days, then cancels it.
AUTHORISATION_WINDOW = timedelta(days=7)
#: Renew an authorisation this old (a day's margin before Stripe drops it).
REAUTHORISE_AFTER = timedelta(days=6)


def authorisation_expires_at(payment: Payment) -> datetime:
    """When Stripe drops this card authorisation. ``updated_at`` of an authorised card payment is
    the moment it was (re-)authorised: nothing else writes an authorised card payment."""
    return payment.updated_at + AUTHORISATION_WINDOW


def reauthorise(payment: Payment) -> bool:
    """Renew a card authorisation before Stripe drops it: a new manual-capture PaymentIntent for the
    same amount and card, then the old one is cancelled and the payment points at the new one. If
    the bank refuses (or wants the payer, e.g. 3-D Secure), nothing changes and False is returned:
    the old authorisation stays until it expires, and the close then treats the pledge as unpaid."""
    if payment.method != PaymentMethod.STRIPE or is_prepaid(payment):
        return False
    old_id = payment.stripe_payment_intent
    try:
        old = gateway.retrieve(old_id)
        if old.status != "requires_capture":
            return False
        fresh = gateway.reauthorise(old, f"{payment.idempotency_key}:reauth:{old_id}")
    except gateway.GatewayError:
        logger.warning("re-authorisation of payment %s refused", payment.pk)
        return False
    if fresh.status != "requires_capture":
        if fresh.status in gateway.CANCELLABLE:
            gateway.cancel(fresh.id, f"{payment.idempotency_key}:reauth-abandon:{fresh.id}")
        return False
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.AUTHORISED or locked.stripe_payment_intent != old_id:
            gateway.cancel(fresh.id, f"{payment.idempotency_key}:reauth-abandon:{fresh.id}")
            return False
        locked.stripe_payment_intent = fresh.id
        locked.save(update_fields=["stripe_payment_intent", "updated_at"])
    gateway.cancel(old_id, f"{payment.idempotency_key}:reauth-cancel:{old_id}")
    payment.stripe_payment_intent = fresh.id
    return True


class NotCapturable(ValidationError):
    """The payment can no longer be settled: Stripe dropped or cancelled the card authorisation
    (e.g. it expired after about 7 days), or it was already cancelled or failed here. Nothing was
    written; the caller decides what becomes of what it paid for (:func:`mark_unpaid`)."""

    def __init__(self, payment: Payment, state: str) -> None:
        super().__init__(
            gettext("在线支付授权已失效（%(state)s），无法扣款") % {"state": state}, code="not_capturable"
        )
        self.payment = payment
        self.state = state


#: PaymentIntent states from which no capture can ever happen.
NOT_CAPTURABLE = frozenset({"canceled", "requires_payment_method"})


def capture(payment: Payment, amount: Decimal) -> Payment:
    """Settle at the final amount, never more than authorised. Idempotent and safe to re-run after a
    crash: a Stripe capture that went through but was not recorded is detected and recorded.

    Card payments are reconciled with the PaymentIntent's real state at Stripe before anything is
    booked: ``succeeded`` → booked at what Stripe received (never more than authorised);
    ``canceled`` / ``requires_payment_method`` (an authorisation that expired or was cancelled) →
    :class:`NotCapturable`, nothing written; anything else (e.g. Stripe unreachable) →
    ``ValidationError(code="payment_retry")`` so the caller can try again later."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatus.CAPTURED:
        return payment
    if payment.status in (PaymentStatus.CANCELLED, PaymentStatus.FAILED):
        raise NotCapturable(payment, payment.status)
    if payment.status != PaymentStatus.AUTHORISED:
        raise ValidationError(gettext("支付状态不允许结算"), code="invalid_state")
    amount = min(money(amount), payment.amount_authorised)
    if is_prepaid(payment):
        return _settle_prepaid(payment, amount)
    if payment.method == PaymentMethod.STRIPE:
        if amount <= 0:
            return void(payment, "零金额结算")
        try:
            intent = gateway.retrieve(payment.stripe_payment_intent)
            if intent.status == "requires_capture":
                try:
                    intent = gateway.capture(
                        payment.stripe_payment_intent, amount, f"{payment.idempotency_key}:capture"
                    )
                except gateway.GatewayError:
                    # Refused (e.g. the authorisation expired meanwhile) or lost on the way: what
                    # Stripe now says is the truth.
                    intent = gateway.retrieve(payment.stripe_payment_intent)
        except gateway.GatewayError as exc:
            raise ValidationError(
                gettext("在线支付暂时无法结算：%(reason)s") % {"reason": exc}, code="payment_retry"
            ) from exc
        if intent.status in NOT_CAPTURABLE:
            raise NotCapturable(payment, intent.status)
        if intent.status != "succeeded":
            raise ValidationError(
                gettext("在线支付结算失败（%(status)s）") % {"status": intent.status}, code="payment_retry"
            )
        return _record_capture(payment, intent)
    _book_capture(payment, amount)
    if payment.method == PaymentMethod.CASH and amount < payment.amount_authorised:
        refund(
            payment, payment.amount_authorised - amount, f"{payment.idempotency_key}:change", "团购差价退还"
        )
    return payment


def _record_capture(payment: Payment, intent: Any) -> Payment:
    """Book a card capture that Stripe reports ``succeeded`` (payment row locked by the caller):
    the amount is what Stripe really received for OUR intent, never more than we authorised."""
    data = intent.to_dict() if hasattr(intent, "to_dict") else dict(intent)
    if data.get("id") != payment.stripe_payment_intent:
        raise ValidationError(gettext("支付凭证不匹配"), code="payment_failed")
    received = min(gateway.from_fen(gateway.amount_received(intent)), payment.amount_authorised)
    if received <= 0:
        raise NotCapturable(payment, str(data.get("status", "")))
    return _book_capture(payment, received)


def _book_capture(payment: Payment, amount: Decimal) -> Payment:
    """Ledger moves and the captured state for ``amount`` (payment row locked by the caller)."""
    for move in capture_moves(payment, amount):
        post(move)
    payment.status = PaymentStatus.CAPTURED
    payment.amount_captured = amount
    payment.save(update_fields=["status", "amount_captured", "updated_at"])
    return payment


def mark_unpaid(payment: Payment, reason: str = "") -> Payment:
    """A payment that can no longer be settled (:class:`NotCapturable`): recorded as failed (a
    cancelled one stays cancelled); an intent still waiting for a payment method is cancelled at
    Stripe so nothing can be charged later. Moves no money (nothing was captured)."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status not in (PaymentStatus.AUTHORISED, PaymentStatus.PENDING):
        return payment
    if payment.method == PaymentMethod.STRIPE and payment.stripe_payment_intent:
        intent = gateway.retrieve(payment.stripe_payment_intent)
        if intent.status in gateway.CANCELLABLE and intent.status != "requires_capture":
            gateway.cancel(payment.stripe_payment_intent, f"{payment.idempotency_key}:unpaid")
    payment.status = PaymentStatus.FAILED
    payment.save(update_fields=["status", "updated_at"])
    logger.info("payment %s could not be settled: %s", payment.pk, reason)
    return payment


def _settle_prepaid(payment: Payment, amount: Decimal) -> Payment:
    """WeChat Pay / Alipay were charged in full at pledge: settling at ``amount`` refunds the
    difference through Stripe (never keeps more than the final amount). The refund comes first and
    is idempotent (its key), so a re-run after a crash neither refunds twice nor skips it."""
    if amount <= 0:
        return void(payment, gettext("零金额结算"))
    difference = payment.amount_authorised - amount - payment.amount_refunded
    if difference > 0:
        refund(payment, difference, f"{payment.idempotency_key}:settle", gettext("团购差价退款"))
        payment.refresh_from_db()
    return _book_capture(payment, amount)


def void(payment: Payment, reason: str = "") -> Payment:
    """Undo an authorisation: cancel the PaymentIntent, release credit, or owe the cash back."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status in (PaymentStatus.CANCELLED, PaymentStatus.FAILED):
        return payment
    if payment.status == PaymentStatus.PENDING:
        intent = gateway.retrieve(payment.stripe_payment_intent)
        if intent.status == "succeeded" and is_prepaid(payment) and _intent_matches(payment, intent):
            activate_pending(payment)  # charged meanwhile: hold it, then refund it below
        else:
            if intent.status in gateway.CANCELLABLE:
                gateway.cancel(payment.stripe_payment_intent, f"{payment.idempotency_key}:cancel")
            payment.status = PaymentStatus.CANCELLED
            payment.save(update_fields=["status", "updated_at"])
            return payment
    if is_prepaid(payment) and payment.status == PaymentStatus.AUTHORISED:
        remaining = payment.amount_authorised - payment.amount_refunded
        if remaining > 0:
            refund(payment, remaining, f"{payment.idempotency_key}:void-refund", reason)
        payment.refresh_from_db()
        payment.status = PaymentStatus.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
        return payment
    if payment.status == PaymentStatus.CAPTURED:
        ceiling = (
            payment.amount_authorised
            if payment.method == PaymentMethod.CASH or is_prepaid(payment)
            else payment.amount_captured
        )
        remaining = ceiling - payment.amount_refunded
        if remaining > 0:
            refund(payment, remaining, f"{payment.idempotency_key}:void-refund", reason)
        return payment
    if payment.method == PaymentMethod.STRIPE:
        intent = gateway.retrieve(payment.stripe_payment_intent)
        if intent.status != "canceled":
            gateway.cancel(payment.stripe_payment_intent, f"{payment.idempotency_key}:cancel")
    elif payment.method == PaymentMethod.CASH:
        refund(payment, payment.amount_authorised, f"{payment.idempotency_key}:void-refund", reason)
        payment.refresh_from_db()
    payment.status = PaymentStatus.CANCELLED
    payment.save(update_fields=["status", "updated_at"])
    return payment


def refundable(payment: Payment) -> Decimal:
    """What may still be refunded: cash and WeChat Pay / Alipay up to what was taken, card and
    credit (once settled) up to what was settled, less what was refunded already."""
    ceiling = payment.amount_authorised
    if (
        payment.method != PaymentMethod.CASH
        and not is_prepaid(payment)
        and payment.status == PaymentStatus.CAPTURED
    ):
        ceiling = payment.amount_captured  # card and credit refunds come out of what was settled
    return max(money(ceiling - payment.amount_refunded), ZERO)


def refund(payment: Payment, amount: Decimal, key: str, reason: str = "", by: Any = None) -> Refund:
    """Refund part of a payment. Cash refunds wait (pending) until staff hand the cash back.
    ``by``: the user who asked for it (kept on the refund), None for the system's own refunds."""
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing:
        return existing
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    amount = money(amount)
    if amount <= 0 or amount > refundable(payment):
        raise ValidationError({"amount": ValidationError(gettext("退款金额超出可退金额"), code="invalid")})
    status = RefundStatus.SUCCEEDED
    stripe_refund_id = ""
    moves: list[Move] = []
    if is_prepaid(payment):
        if payment.status not in (PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED):
            raise ValidationError(gettext("支付状态不允许退款"), code="invalid_state")
        result = gateway.refund(payment.stripe_payment_intent, amount, key)
        stripe_refund_id = result.id
        # Money not settled yet is still the household's deposit; the rest comes back out of sales.
        unsettled = max(payment.amount_authorised - payment.amount_captured - payment.amount_refunded, ZERO)
        from_deposit = min(amount, unsettled)
        for suffix, account, part in (
            ("", payer_deposit(payment), from_deposit),
            (":sales", SALES, amount - from_deposit),
        ):
            moves.append(
                Move(
                    f"refund:{key}{suffix}",
                    "online_refund",
                    account,
                    STRIPE_CLEARING,
                    part,
                    payment.station_id,
                    payment.household_id,
                    payment.pk,
                    payment.reference,
                    reason,
                )
            )
    elif payment.method == PaymentMethod.STRIPE:
        if payment.status != PaymentStatus.CAPTURED:
            raise ValidationError(gettext("未结算的在线支付请撤销授权"), code="invalid_state")
        result = gateway.refund(payment.stripe_payment_intent, amount, key)
        stripe_refund_id = result.id
        moves.append(
            Move(
                f"refund:{key}",
                "online_refund",
                SALES,
                STRIPE_CLEARING,
                amount,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
                reason,
            )
        )
    elif payment.method == PaymentMethod.CASH:
        status = RefundStatus.PENDING
        if payment.status == PaymentStatus.CAPTURED:
            # Cash not settled is still in the household's deposit; the rest comes back out of sales.
            unsettled = max(
                payment.amount_authorised - payment.amount_captured - payment.amount_refunded, ZERO
            )
            reversal = amount - min(amount, unsettled)
            if reversal > 0:
                moves.append(
                    Move(
                        f"refund:{key}:reverse",
                        "sale_reversal",
                        SALES,
                        household_deposit(payment.household_id),
                        reversal,
                        payment.station_id,
                        payment.household_id,
                        payment.pk,
                        payment.reference,
                        reason,
                    )
                )
    elif payment.method == PaymentMethod.CREDIT:
        if payment.status != PaymentStatus.CAPTURED:
            raise ValidationError(gettext("未结算的赊销请撤销授权"), code="invalid_state")
        moves.append(
            Move(
                f"refund:{key}",
                "credit_reversal",
                SALES,
                household_receivable(payment.household_id),
                amount,
                payment.station_id,
                payment.household_id,
                payment.pk,
                payment.reference,
                reason,
            )
        )
    obj = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason[:128],
        status=status,
        idempotency_key=key,
        stripe_refund_id=stripe_refund_id,
        requested_by=by if getattr(by, "is_authenticated", False) else None,
    )
    for move in moves:
        post(move)
    Payment.objects.filter(pk=payment.pk).update(amount_refunded=payment.amount_refunded + amount)
    return obj


def pay_out_cash_refund(actor: Any, refund_obj: Refund) -> Refund:
    """Staff hand a pending cash refund back to the household; the cash leaves the drawer."""
    refund_obj = Refund.objects.select_for_update().select_related("payment").get(pk=refund_obj.pk)
    payment = refund_obj.payment
    if not (permissions.is_operator(actor) or permissions.can_manage_station(actor, payment.station_id)):
        raise PermissionDenied(gettext("只有本站信息员可以退还现金"))
    if refund_obj.status == RefundStatus.SUCCEEDED:
        return refund_obj
    post(
        Move(
            f"refund:{refund_obj.idempotency_key}:payout",
            "cash_out",
            household_deposit(payment.household_id),
            station_cash(payment.station_id),
            refund_obj.amount,
            payment.station_id,
            payment.household_id,
            payment.pk,
            payment.reference,
            "现金退款",
        )
    )
    refund_obj.status = RefundStatus.SUCCEEDED
    refund_obj.paid_out_by = actor
    refund_obj.paid_out_at = timezone.now()
    refund_obj.save(update_fields=["status", "paid_out_by", "paid_out_at"])
    return refund_obj


# --- Cash handover and daily reconciliation (credit repayments: see credit.py) -------------------------------


def record_cash_handover(actor: Any, station: Station, amount: Decimal, key: str) -> LedgerEntry | None:
    """Cash taken from the station drawer to the platform's bank account."""
    if not (permissions.is_operator(actor) or permissions.can_manage_station(actor, station)):
        raise PermissionDenied(gettext("无权操作该站点现金"))
    return post(
        Move(
            key, "cash_handover", PLATFORM_BANK, station_cash(station.pk), amount, station.pk, memo="现金上缴"
        )
    )


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def cash_summary(station: Station, day: date) -> dict[str, Decimal]:
    start, end = _day_bounds(day)
    account = station_cash(station.pk)
    day_qs = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end)
    cash_in = day_qs.filter(debit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    cash_out = day_qs.filter(credit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    return {
        "opening": balance(account, until=start),
        "cash_in": money(cash_in),
        "cash_out": money(cash_out),
        "expected": balance(account, until=end),
    }


def reconcile_cash(
    actor: Any, station: Station, day: date, counted: Decimal, notes: str = ""
) -> CashReconciliation:
    """Record the day's counted cash against the ledger; re-recording the same day updates it."""
    if not (permissions.is_operator(actor) or permissions.can_manage_station(actor, station)):
        raise PermissionDenied(gettext("只有本站信息员可以做现金日结"))
    counted = Decimal(counted)
    if not counted.is_finite() or counted < 0 or counted != money(counted) or counted >= Decimal("1e12"):
        raise ValidationError(
            {"counted": ValidationError(gettext("实点现金须为不小于 0、最多两位小数的金额"), code="invalid")}
        )
    s = cash_summary(station, day)
    counted = money(counted)
    rec, _ = CashReconciliation.objects.update_or_create(
        station=station,
        day=day,
        defaults={
            "cash_in": s["cash_in"],
            "cash_out": s["cash_out"],
            "expected": s["expected"],
            "counted": counted,
            "difference": counted - s["expected"],
            "notes": notes,
            "recorded_by": actor,
        },
    )
    return rec


# --- Station commission -----------------------------------------------------------------------


def commission_move(station_id: int, amount: Decimal, key: str, reference: str = "", memo: str = "") -> Move:
    return Move(
        key,
        "commission",
        COMMISSION_EXPENSE,
        station_commission(station_id),
        amount,
        station_id,
        reference=reference,
        memo=memo or "团购佣金",
    )


def credit_commission(
    station_id: int, amount: Decimal, key: str, reference: str = "", memo: str = ""
) -> LedgerEntry | None:
    return post(commission_move(station_id, amount, key, reference, memo))


@dataclass(frozen=True)
class Payees:
    """Whom the platform pays out to: one ledger account ``<prefix><id><suffix>`` per payee, negative
    while the platform owes the payee (credited by commission, sales, ...). Paying out debits it
    and credits ``platform:bank``. ``lock`` is the model whose row (the payee) is locked while one
    payee is paid, so two runs can never pay the same balance twice."""

    prefix: str  # "station:"
    suffix: str  # ":commission"
    kind: str  # ledger kind of a payout entry, e.g. "commission_payout"
    key_prefix: str  # idempotency key of one payee's payout in a run: <key_prefix>:<run>:<id>
    lock: Any  # model class of the payee (Station, Partner)
    memo: str = "支付"

    def account(self, payee_id: int) -> str:
        return f"{self.prefix}{payee_id}{self.suffix}"

    def owed(self) -> dict[int, Decimal]:
        """What the platform owes each payee (positive), all at once (two grouped queries)."""
        return {pid: -value for pid, value in account_balances(self.prefix, self.suffix).items() if value}

    def owed_to(self, payee_id: int) -> Decimal:
        return -balance(self.account(payee_id))


def pay_out(
    actor: Any, payees: Payees, payee_id: int, amount: Decimal, key: str, reference: str = ""
) -> LedgerEntry | None:
    """Pay one payee ``amount`` (operators only), never more than it is owed; keyed (a repeated key
    pays nothing and returns None)."""
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以支付"))
    with transaction.atomic():
        # One payout at a time per payee, so two runs can never pay the same balance twice.
        payees.lock.objects.select_for_update().filter(pk=payee_id).first()
        if LedgerEntry.objects.filter(idempotency_key=key).exists():
            return None
        if money(amount) > payees.owed_to(payee_id):
            raise ValidationError({"amount": ValidationError(gettext("超过应付金额"), code="invalid")})
        return post(
            Move(
                key,
                payees.kind,
                payees.account(payee_id),
                PLATFORM_BANK,
                amount,
                payee_id if payees.lock is Station else None,
                reference=reference,
                memo=payees.memo,
            )
        )


PAYOUT_RUN_PREFIX = "PAYOUT-"


def run_payouts(
    actor: Any, payees: Payees, run_key: str, payee_ids: list[int] | None = None
) -> dict[str, Any]:
    """A payout run: pay every payee (or the listed ones) its whole balance. Each payee's payout is
    keyed by the run, so submitting the same run again pays nothing twice."""
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以支付"))
    run_key = (run_key or "").strip()
    if not run_key or len(run_key) > 64:
        raise ValidationError({"run": ValidationError(gettext("缺少批次编号"), code="required")})
    reference = f"{PAYOUT_RUN_PREFIX}{run_key}"[:64]
    owed = payees.owed()
    if payee_ids is not None:
        owed = {pid: v for pid, v in owed.items() if pid in set(payee_ids)}
    paid, total = 0, ZERO
    for pid in sorted(pid for pid, v in owed.items() if v > 0):
        entry = pay_out(actor, payees, pid, owed[pid], f"{payees.key_prefix}:{run_key}:{pid}", reference)
        if entry is not None:
            paid += 1
            total += entry.amount
    return {"reference": reference, "count": paid, "total": money(total)}


def payout_runs(limit: int = 20, kind: str = "commission_payout") -> list[dict[str, Any]]:
    """Past payout runs of one kind, newest first: reference, payees paid (``stations``), total, when."""
    from django.db.models import Count, Min

    return list(
        LedgerEntry.objects.filter(kind=kind, reference__startswith=PAYOUT_RUN_PREFIX)
        .values("reference")
        .annotate(stations=Count("pk"), total=Sum("amount"), at=Min("created_at"))
        .order_by("-at")[:limit]
    )


STATION_COMMISSION = Payees(
    "station:", ":commission", "commission_payout", "commission-payout", Station, "佣金支付"
)


def pay_out_commission(
    actor: Any, station: Station, amount: Decimal, key: str, reference: str = ""
) -> LedgerEntry | None:
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以支付佣金"))
    return pay_out(actor, STATION_COMMISSION, station.pk, amount, key, reference)


def account_balances(prefix: str, suffix: str) -> dict[int, Decimal]:
    """Balances (debits − credits) of every ``<prefix><id><suffix>`` account, by id, in two
    grouped queries (e.g. ``station:``/``:commission`` for all stations at once)."""
    out: dict[int, Decimal] = {}
    for side, sign in (("debit_account", 1), ("credit_account", -1)):
        rows = (
            LedgerEntry.objects.filter(**{f"{side}__startswith": prefix, f"{side}__endswith": suffix})
            .values(side)
            .annotate(s=Sum("amount"))
        )
        for row in rows:
            middle = row[side][len(prefix) : len(row[side]) - len(suffix)]
            if middle.isdigit():
                out[int(middle)] = out.get(int(middle), ZERO) + sign * row["s"]
    return {k: money(v) for k, v in out.items()}


def commission_balances() -> dict[int, Decimal]:
    """Commission owed to each station (positive: the platform owes it), all stations at once."""
    return STATION_COMMISSION.owed()


def run_commission_payouts(actor: Any, run_key: str, station_ids: list[int] | None = None) -> dict[str, Any]:
    """A payout run of station commission (:func:`run_payouts`)."""
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以支付佣金"))
    result = run_payouts(actor, STATION_COMMISSION, run_key, station_ids)
    return {"reference": result["reference"], "stations": result["count"], "total": result["total"]}


def commission_balance(station: Station, until: datetime | None = None) -> Decimal:
    return -balance(station_commission(station.pk), until=until)


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def commission_statement(station: Station, month: date) -> CommissionStatement:
    """Build (or rebuild) one station's commission statement for a month from the ledger."""
    first = month_start(month)
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(next_month(first), time.min))
    account = station_commission(station.pk)
    in_month = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end).filter(
        Q(debit_account=account) | Q(credit_account=account)
    )
    credited = in_month.filter(credit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    paid = in_month.filter(debit_account=account).aggregate(s=Sum("amount"))["s"] or ZERO
    opening = commission_balance(station, until=start)
    statement, _ = CommissionStatement.objects.update_or_create(
        station=station,
        month=first,
        defaults={
            "opening_balance": opening,
            "credited": money(credited),
            "paid_out": money(paid),
            "closing_balance": money(opening + credited - paid),
            "entry_count": in_month.count(),
        },
    )
    return statement


def generate_monthly_statements(month: date) -> int:
    """Statements for every station that had commission activity or a balance (periodic task)."""
    ids = set(
        LedgerEntry.objects.filter(kind__in=("commission", "commission_payout")).values_list(
            "station_id", flat=True
        )
    )
    for station in Station.objects.filter(pk__in=ids):
        commission_statement(station, month)
    return len(ids)


# --- Restricted pesticides: real-name records -------------------------------------------------


def real_name_record(
    household: Household, product: Any, quantity: int, reference: str, key: str
) -> RealNameRecord:
    """Write the real-name sale record (kept ≥ 2 years). The household must have an ID number."""
    if not household.id_number:
        raise ValidationError(
            {
                "household": ValidationError(
                    gettext("购买限制使用农药须登记身份证号（实名）"), code="real_name_required"
                )
            }
        )
    try:
        with transaction.atomic():
            return RealNameRecord.objects.create(
                idempotency_key=key,
                household=household,
                station_id=household.station_id,
                buyer_name=household.name,
                id_number=household.id_number,
                product=product,
                product_title=product.title,
                registration_no=str(getattr(product.attr, "registration_no", "") or ""),
                quantity=quantity,
                reference=reference,
            )
    except IntegrityError:
        return RealNameRecord.objects.get(idempotency_key=key)


# --- Stripe webhooks ----------------------------------------------------------------------------


def handle_stripe_event(event: Any) -> bool:
    """Apply a verified Stripe event once. Returns False for an event already processed.

    An event is only a hint that something changed: the PaymentIntent is retrieved from Stripe and
    the payment follows its REAL state and amounts (:func:`sync_with_stripe`); nothing in the event
    body (status, ``amount_received``) is trusted."""
    if hasattr(event, "to_dict"):
        event = event.to_dict()
    try:
        with transaction.atomic():
            ProcessedStripeEvent.objects.create(event_id=event["id"], type=event["type"])
    except IntegrityError:
        return False
    obj = event["data"]["object"]
    if event["type"].startswith("payment_intent.") and obj.get("id"):
        payment = Payment.objects.filter(stripe_payment_intent=obj["id"], method=PaymentMethod.STRIPE).first()
        if payment is not None:
            sync_with_stripe(payment)
    return True


def sync_with_stripe(payment: Payment) -> Payment:
    """Bring a Stripe payment in line with its PaymentIntent's real state at Stripe.

    * pending: usable → its owner is told (``online_payment_ready``) and completes it; failed or
      cancelled at Stripe → failed here (:func:`check_pending`); still waiting → nothing.
    * authorised card: cancelled at Stripe (or expired) → cancelled here; captured outside our flow →
      booked at what Stripe received (≤ authorised); still ``requires_capture`` → nothing, whatever
      the event said.
    * anything else (captured, cancelled, failed): nothing to do."""
    from .signals import online_payment_ready

    if payment.status == PaymentStatus.PENDING:
        state = check_pending(payment)
        if state.state == "ready":
            for _receiver, result in online_payment_ready.send_robust(sender=Payment, payment=payment):
                if isinstance(result, Exception) and not isinstance(
                    result, (ValidationError, PermissionDenied)
                ):
                    logger.error("Completing payment %s failed: %r", payment.pk, result)
        return payment
    if payment.status != PaymentStatus.AUTHORISED or is_prepaid(payment):
        return payment  # prepaid: the charge at pledge is already booked; settled by capture()
    intent = gateway.retrieve(payment.stripe_payment_intent)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.AUTHORISED:
            return locked
        if intent.status == "canceled":
            locked.status = PaymentStatus.CANCELLED
            locked.save(update_fields=["status", "updated_at"])
        elif intent.status == "requires_payment_method":
            locked.status = PaymentStatus.FAILED
            locked.save(update_fields=["status", "updated_at"])
        elif intent.status == "succeeded":
            try:
                _record_capture(locked, intent)
            except ValidationError:
                logger.error("PaymentIntent %s succeeded without money for payment %s", intent.id, locked.pk)
        return locked

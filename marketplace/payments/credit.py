"""Household credit (赊销) accounts at their station: limit, used, owed, repayments with receipts and
the aged list of what households owe.

The books are the ledger (:mod:`.services`): ``household:<id>:receivable`` is what the household
owes (credit sales debit it, repayments and credit refunds credit it). Credit still reserved for
pledges not yet settled is the household's authorised credit payments. The limit is enforced in the
one place credit is booked, :func:`.services.authorise_credit`; who may set a limit or take a
repayment is decided in :mod:`marketplace.core.permissions`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from marketplace.core import permissions
from marketplace.core.money import format_cny
from marketplace.stations.models import Household, Station

from . import services as pay
from .models import ZERO, CreditRepayment, LedgerEntry, Payment, PaymentMethod, PaymentStatus

#: Ledger kinds that move a household receivable.
RECEIVABLE_KINDS = ("credit_sale", "credit_reversal", "credit_repayment")
#: Age buckets of the aged list, in days since the credit sale: (label, first day, last day or None).
AGE_BUCKETS = (
    (gettext_lazy("0–30 天"), 0, 30),
    (gettext_lazy("31–60 天"), 31, 60),
    (gettext_lazy("61–90 天"), 61, 90),
    (gettext_lazy("90 天以上"), 91, None),
)


@dataclass
class CreditAccount:
    household: Household
    limit: Decimal
    reserved: Decimal  # authorised for pledges, not settled yet
    owed: Decimal  # settled credit sales not repaid
    repayments: list[CreditRepayment] = field(default_factory=list)

    @property
    def used(self) -> Decimal:
        return pay.money(self.reserved + self.owed)

    @property
    def available(self) -> Decimal:
        return max(pay.money(self.limit - self.used), ZERO)

    @property
    def over_limit(self) -> bool:
        return self.used > self.limit


def credit_account(household: Household, with_repayments: int = 0) -> CreditAccount:
    reserved = (
        Payment.objects.filter(
            household=household, method=PaymentMethod.CREDIT, status=PaymentStatus.AUTHORISED
        ).aggregate(s=Sum("amount_authorised"))["s"]
        or ZERO
    )
    owed = max(pay.balance(pay.household_receivable(household.pk)), ZERO)
    account = CreditAccount(household, pay.money(household.credit_limit), pay.money(reserved), owed)
    if with_repayments:
        account.repayments = list(household.credit_repayments.select_related("recorded_by")[:with_repayments])
    return account


def require_credit_reader(user: Any, household: Household) -> None:
    permissions.require(
        permissions.credit_stations(user).filter(pk=household.station_id).exists(),
        gettext("只能查看本站点农户的赊销账户"),
    )


@transaction.atomic
def set_credit_limit(actor: Any, household: Household, limit: Any) -> Household:
    """Approve a household's credit limit. Lowering it below what is used stops new credit sales;
    nothing already owed changes."""
    if not permissions.can_approve_credit(actor, household.station_id):
        raise PermissionDenied(gettext("只有站长或平台运营可以审批赊销额度"))
    try:
        limit = pay.money(limit)
    except (ArithmeticError, TypeError, ValueError):
        raise ValidationError(
            {"credit_limit": ValidationError(gettext("请输入金额"), code="invalid")}
        ) from None
    if limit < 0:
        raise ValidationError({"credit_limit": ValidationError(gettext("额度不能为负"), code="invalid")})
    if limit >= Decimal("10000000"):
        raise ValidationError({"credit_limit": ValidationError(gettext("额度过大"), code="invalid")})
    household = Household.objects.select_for_update().get(pk=household.pk)
    household.credit_limit = limit
    household.save(update_fields=["credit_limit"])
    return household


def _receipt_no(station_id: int, entry_id: int) -> str:
    return f"HK{timezone.localdate():%Y%m%d}-{station_id}-{entry_id}"


def record_repayment(
    actor: Any, household: Household, amount: Any, key: str, notes: str = ""
) -> tuple[CreditRepayment, bool]:
    """Take a credit repayment in cash at the household's station. Idempotent on ``key``: repeating
    it returns the first repayment (``created`` False) and books nothing. Refused above what is
    owed (a repayment is never a deposit) and for other stations' households."""
    if not permissions.can_record_repayment(actor, household.station_id):
        raise PermissionDenied(gettext("只有本站信息员可以登记还款"))
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": ValidationError(gettext("缺少请求编号"), code="required")})
    existing = CreditRepayment.objects.filter(idempotency_key=key).first()
    if existing is not None:
        if existing.household_id != household.pk:
            raise ValidationError(gettext("请求编号已用于其他农户"), code="invalid")
        return existing, False
    try:
        amount = pay.money(amount)
    except (ArithmeticError, TypeError, ValueError):
        raise ValidationError({"amount": ValidationError(gettext("请输入金额"), code="invalid")}) from None
    with transaction.atomic():
        # One repayment at a time per household, so two cannot both repay the last of what is owed.
        household = Household.objects.select_for_update().get(pk=household.pk)
        existing = CreditRepayment.objects.filter(idempotency_key=key).first()
        if existing is not None:  # the same request, committed while we waited for the lock
            return existing, False
        owed = max(pay.balance(pay.household_receivable(household.pk)), ZERO)
        if owed <= 0:
            raise ValidationError({"amount": ValidationError(gettext("该农户没有赊销欠款"), code="invalid")})
        if amount <= 0 or amount > owed:
            raise ValidationError(
                {
                    "amount": ValidationError(
                        gettext("还款金额须大于 0 且不超过欠款 %(owed)s") % {"owed": format_cny(owed)},
                        code="invalid",
                    )
                }
            )
        entry = pay.post(
            pay.Move(
                f"repayment:{key}",
                "credit_repayment",
                pay.station_cash(household.station_id),
                pay.household_receivable(household.pk),
                amount,
                household.station_id,
                household.pk,
                None,
                "",
                "赊销还款",
            )
        )
        if entry is None:  # the ledger already has it (a crash between the two writes): reuse it
            entry = LedgerEntry.objects.get(idempotency_key=f"repayment:{key}")
        receipt_no = _receipt_no(household.station_id, entry.pk)
        LedgerEntry.objects.filter(pk=entry.pk).update(reference=receipt_no)
        entry.reference = receipt_no
        repayment = CreditRepayment.objects.create(
            idempotency_key=key,
            receipt_no=receipt_no,
            household=household,
            station_id=household.station_id,
            amount=amount,
            owed_before=owed,
            entry=entry,
            notes=(notes or "")[:128],
            recorded_by=actor if getattr(actor, "pk", None) else None,
            created_at=entry.created_at,
        )
    return repayment, True


# --- Aged list ----------------------------------------------------------------------------------


@dataclass
class AgedRow:
    household: Household
    limit: Decimal
    owed: Decimal
    buckets: list[Decimal]
    oldest_days: int

    @property
    def available(self) -> Decimal:
        return max(self.limit - self.owed, ZERO)


@dataclass
class AgedList:
    station: Station
    day: date
    rows: list[AgedRow]
    totals: list[Decimal]
    total: Decimal

    @property
    def labels(self) -> list[str]:
        return [str(b[0]) for b in AGE_BUCKETS]


def _bucket(days: int) -> int:
    for i, (_label, low, high) in enumerate(AGE_BUCKETS):
        if days >= low and (high is None or days <= high):
            return i
    return 0


def aged_list(actor: Any, station: Station, day: date | None = None) -> AgedList:
    """What each household of the station owes on credit, by age of the credit sale (repayments and
    credit refunds settle the oldest first). Households owing nothing are left out."""
    permissions.require(
        permissions.credit_stations(actor).filter(pk=station.pk).exists(), gettext("只能查看本站点的赊销账款")
    )
    day = day or timezone.localdate()
    entries = (
        LedgerEntry.objects.filter(kind__in=RECEIVABLE_KINDS, household__station=station)
        .filter(Q(debit_account__endswith=":receivable") | Q(credit_account__endswith=":receivable"))
        .order_by("created_at", "pk")
        .values_list("household_id", "debit_account", "amount", "created_at")
    )
    open_sales: dict[int, deque[list[Any]]] = defaultdict(deque)
    for household_id, debit_account, amount, created_at in entries:
        sales = open_sales[household_id]
        if debit_account == pay.household_receivable(household_id):
            sales.append([timezone.localdate(created_at), amount])
            continue
        left = amount
        while left > 0 and sales:
            take = min(left, sales[0][1])
            sales[0][1] -= take
            left -= take
            if sales[0][1] <= 0:
                sales.popleft()
    owing = {hid: sales for hid, sales in open_sales.items() if sum(s[1] for s in sales) > 0}
    households = Household.objects.in_bulk(list(owing))
    rows: list[AgedRow] = []
    totals = [ZERO] * len(AGE_BUCKETS)
    for hid, sales in owing.items():
        buckets = [ZERO] * len(AGE_BUCKETS)
        for sold_on, left in sales:
            buckets[_bucket((day - sold_on).days)] += left
        for i, value in enumerate(buckets):
            totals[i] += value
        household = households[hid]
        rows.append(
            AgedRow(
                household,
                pay.money(household.credit_limit),
                pay.money(sum(buckets, ZERO)),
                [pay.money(b) for b in buckets],
                (day - sales[0][0]).days,
            )
        )
    rows.sort(key=lambda r: (-r.oldest_days, -r.owed, r.household.name))
    return AgedList(station, day, rows, [pay.money(t) for t in totals], pay.money(sum(totals, ZERO)))

"""Payments core: payments (cash, credit 赊销, Stripe), refunds, a double-entry-ish ledger,
daily cash reconciliation, station commission statements, Stripe webhook de-duplication and
real-name records for restricted pesticides.

Every money move carries a unique idempotency key, so repeating a move is a no-op.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0.00")


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("现金")
    CREDIT = "credit", _("赊销")
    STRIPE = "stripe", _("在线支付")


class PaymentStatus(models.TextChoices):
    #: Online payment waiting for the payer (3-D Secure, WeChat Pay QR code, Alipay redirect); nothing
    #: it pays for exists yet. Completed (→ authorised), or cancelled when abandoned.
    PENDING = "pending", _("待完成支付")
    AUTHORISED = "authorised", _("已授权")  # cash: received and held; credit: limit reserved
    CAPTURED = "captured", _("已结算")
    CANCELLED = "cancelled", _("已撤销")
    FAILED = "failed", _("失败")


class Payment(models.Model):
    """One payment for one purpose (e.g. a group-buy pledge, a produce order), in CNY.

    The payer is either a station household (station business: cash, credit, online; ``household``
    and its ``station`` set) or a user paying for themselves online (a city buyer: ``payer_user``
    set, no station). A database constraint keeps exactly one of the two."""

    method = models.CharField(_("支付方式"), max_length=8, choices=PaymentMethod.choices)
    status = models.CharField(_("状态"), max_length=12, choices=PaymentStatus.choices)
    #: ``wechat_pay`` / ``alipay`` / ``card`` for online payments.
    online_type = models.CharField(_("在线支付类型"), max_length=16, blank=True)
    household = models.ForeignKey(
        "stations.Household",
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("农户"),
        null=True,
        blank=True,
        db_index=False,  # covered by the (household, method, status) index
    )
    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.PROTECT,
        related_name="payments",
        verbose_name=_("站点"),
        null=True,
        blank=True,
    )
    #: A user paying for themselves (city buyer), instead of a station household.
    payer_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="payments_made",
        verbose_name=_("付款人"),
        null=True,
        blank=True,
        db_index=False,  # partial index below (household payments leave it empty)
    )
    amount_authorised = models.DecimalField(_("授权金额"), max_digits=12, decimal_places=2)
    amount_captured = models.DecimalField(_("结算金额"), max_digits=12, decimal_places=2, default=ZERO)
    amount_refunded = models.DecimalField(_("退款金额"), max_digits=12, decimal_places=2, default=ZERO)
    reference = models.CharField(_("业务单号"), max_length=64)
    idempotency_key = models.CharField(max_length=128)
    stripe_payment_intent = models.CharField(max_length=64, blank=True)
    #: What a pending online payment is for, so it can be completed later (browser return, webhook),
    #: e.g. ``{"kind": "group_buy_pledge", "item": 3, "quantity": 10, ...}``.
    purpose = models.JSONField(default=dict, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("支付")
        verbose_name_plural = _("支付")
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="uniq_payment_idempotency_key"),
            models.CheckConstraint(
                condition=models.Q(amount_authorised__gte=0), name="payment_authorised_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(amount_captured__lte=models.F("amount_authorised")),
                name="payment_capture_within_authorised",
            ),
            models.CheckConstraint(
                condition=models.Q(amount_refunded__lte=models.F("amount_authorised")),
                name="payment_refund_within_authorised",
            ),
            # Exactly one payer: a household of a station, or a user (no station).
            models.CheckConstraint(
                condition=(
                    models.Q(household__isnull=False, station__isnull=False, payer_user__isnull=True)
                    | models.Q(household__isnull=True, station__isnull=True, payer_user__isnull=False)
                ),
                name="payment_one_payer",
            ),
        ]
        # Few indexes on purpose: a campaign close rewrites hundreds of thousands of payment rows
        # (status, amounts). No index covers those columns, so PostgreSQL rewrites them in place (HOT,
        # no index writes); the table's fillfactor (50, migration 0003) leaves the page room for it.
        indexes = [
            models.Index(fields=["household", "method"]),
            models.Index(fields=["stripe_payment_intent"], name="payment_intent_idx"),
            models.Index(
                fields=["payer_user"],
                name="payment_payer_user_idx",
                condition=models.Q(payer_user__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_method_display()} {self.amount_authorised} ({self.get_status_display()})"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("待退还")  # cash refunds wait for the household at the station
    SUCCEEDED = "succeeded", _("已退款")
    FAILED = "failed", _("失败")


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    reason = models.CharField(_("原因"), max_length=128, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=RefundStatus.choices)
    idempotency_key = models.CharField(max_length=128, unique=True)
    stripe_refund_id = models.CharField(max_length=64, blank=True)
    #: Who asked for the refund (an operator on the refund page); empty for the system's own
    #: refunds (price settlement, a voided pledge, an uncollected order).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    paid_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("退款")
        verbose_name_plural = _("退款")
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_positive")]

    def __str__(self) -> str:
        return f"退款 {self.amount} ({self.get_status_display()})"


class LedgerEntry(models.Model):
    """One balanced money move: ``amount`` from ``credit_account`` to ``debit_account``.

    Accounts are strings, e.g. ``station:12:cash``, ``household:7:receivable``,
    ``household:7:deposit``, ``station:12:commission``, ``stripe:clearing``, ``sales``.
    Entries are never updated or deleted; a correction is a new entry.
    """

    idempotency_key = models.CharField(max_length=160)
    kind = models.CharField(_("类型"), max_length=32)
    debit_account = models.CharField(max_length=64)
    credit_account = models.CharField(max_length=64)
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    # Station and household are reporting copies (the accounts above are the books, and the payment
    # is the constrained reference): no database foreign-key check on them, so a close posting
    # hundreds of thousands of entries does not lock every household row. Deleting a station or
    # household with entries is still refused (PROTECT, enforced by Django).
    station = models.ForeignKey(
        "stations.Station",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    household = models.ForeignKey(
        "stations.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_index=False,
        db_constraint=False,
    )
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    reference = models.CharField(max_length=64, blank=True)
    memo = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("账目")
        verbose_name_plural = _("账目")
        # Balances are read per account and period; batch closes insert hundreds of thousands of rows,
        # so only these indexes exist.
        indexes = [
            models.Index(fields=["debit_account", "created_at"], name="ledger_debit_idx"),
            models.Index(fields=["credit_account", "created_at"], name="ledger_credit_idx"),
            models.Index(fields=["kind", "station"], name="ledger_kind_station_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="uniq_ledger_idempotency_key"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_amount_positive"),
            models.CheckConstraint(
                condition=~models.Q(debit_account=models.F("credit_account")), name="ledger_two_accounts"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.credit_account} → {self.debit_account} {self.amount}"


class CashReconciliation(models.Model):
    """A station's end-of-day cash count against what the ledger says the drawer should hold."""

    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="cash_counts")
    day = models.DateField(_("日期"))
    cash_in = models.DecimalField(_("收入"), max_digits=14, decimal_places=2)
    cash_out = models.DecimalField(_("支出"), max_digits=14, decimal_places=2)
    expected = models.DecimalField(_("应有现金"), max_digits=14, decimal_places=2)
    counted = models.DecimalField(_("实点现金"), max_digits=14, decimal_places=2)
    difference = models.DecimalField(_("差额"), max_digits=14, decimal_places=2)
    notes = models.CharField(_("备注"), max_length=255, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("现金日结")
        verbose_name_plural = _("现金日结")
        constraints = [models.UniqueConstraint(fields=["station", "day"], name="uniq_cash_count_per_day")]

    def __str__(self) -> str:
        return f"{self.station_id} {self.day} 差额 {self.difference}"


class CommissionStatement(models.Model):
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="commission_statements"
    )
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    opening_balance = models.DecimalField(max_digits=14, decimal_places=2)
    credited = models.DecimalField(max_digits=14, decimal_places=2)
    paid_out = models.DecimalField(max_digits=14, decimal_places=2)
    closing_balance = models.DecimalField(max_digits=14, decimal_places=2)
    entry_count = models.PositiveIntegerField(default=0)
    generated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("佣金月结单")
        verbose_name_plural = _("佣金月结单")
        constraints = [models.UniqueConstraint(fields=["station", "month"], name="uniq_statement_month")]

    def __str__(self) -> str:
        return f"{self.station_id} {self.month:%Y-%m}"


class ProcessedStripeEvent(models.Model):
    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.event_id


REAL_NAME_RETENTION = timedelta(days=2 * 366)


class RealNameRecord(models.Model):
    """Real-name sale record for a restricted-use pesticide (限制使用农药实名购买), kept ≥ 2 years."""

    idempotency_key = models.CharField(max_length=160, unique=True)
    household = models.ForeignKey("stations.Household", on_delete=models.PROTECT, related_name="+")
    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="+")
    buyer_name = models.CharField(_("购买人"), max_length=64)
    id_number = models.CharField(_("身份证号"), max_length=18)
    product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    product_title = models.CharField(max_length=255)
    registration_no = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveIntegerField()
    reference = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    retain_until = models.DateTimeField()

    class Meta:
        verbose_name = _("限用农药实名记录")
        verbose_name_plural = _("限用农药实名记录")

    def __str__(self) -> str:
        return f"{self.buyer_name} {self.product_title} ×{self.quantity}"

    def save(self, *args, **kwargs) -> None:
        if self.retain_until is None:
            self.retain_until = (self.created_at or timezone.now()) + REAL_NAME_RETENTION
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if timezone.now() < self.retain_until:
            raise ValidationError(_("实名记录须保存至少两年，不可删除"), code="invalid_state")
        return super().delete(*args, **kwargs)


class CreditRepayment(models.Model):
    """A household repaying its credit (赊销) at the station: one ledger entry (cash into the drawer,
    out of the household's receivable) and the receipt printed for it."""

    idempotency_key = models.CharField(max_length=128, unique=True)
    receipt_no = models.CharField(_("收据号"), max_length=32, unique=True)
    household = models.ForeignKey(
        "stations.Household",
        on_delete=models.PROTECT,
        related_name="credit_repayments",
        verbose_name=_("农户"),
    )
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="credit_repayments", verbose_name=_("站点")
    )
    amount = models.DecimalField(_("还款金额"), max_digits=12, decimal_places=2)
    owed_before = models.DecimalField(_("还款前欠款"), max_digits=12, decimal_places=2)
    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    notes = models.CharField(_("备注"), max_length=128, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("赊销还款")
        verbose_name_plural = _("赊销还款")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["household", "created_at"], name="repayment_household_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="repayment_positive")]

    def __str__(self) -> str:
        return f"{self.receipt_no} {self.amount}"

    @property
    def owed_after(self) -> Decimal:
        return self.owed_before - self.amount

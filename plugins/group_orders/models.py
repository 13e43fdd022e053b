"""Group buys (团购): campaigns with volume price tiers, pledges per household, the persisted close
state, consolidated purchase orders, station deliveries, pickups and pickup events."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PENDING = "pending", _("待审核")
    OPEN = "open", _("进行中")
    REJECTED = "rejected", _("已驳回")
    CLOSING = "closing", _("结算中")
    SUCCEEDED = "succeeded", _("已成团")
    FAILED = "failed", _("未成团")
    CANCELLED = "cancelled", _("已取消")


class CampaignQuerySet(models.QuerySet):
    """The campaign-open rule for querysets (see :meth:`Campaign.is_open`)."""

    def open(self, now=None) -> CampaignQuerySet:
        """Taking pledges: approved (open) and before its cutoff."""
        from django.utils import timezone

        return self.filter(status=CampaignStatus.OPEN, cutoff_at__gt=now or timezone.now())

    def due_to_close(self, now=None) -> CampaignQuerySet:
        """Still open but past the cutoff: the close should run."""
        from django.utils import timezone

        return self.filter(status=CampaignStatus.OPEN, cutoff_at__lte=now or timezone.now())


class Campaign(models.Model):
    title = models.CharField(_("团购名称"), max_length=128)
    description = models.TextField(_("说明"), blank=True)
    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("供应商")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=12, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT, db_index=True
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=255, blank=True)
    cutoff_at = models.DateTimeField(_("截单时间"), db_index=True)
    delivery_from = models.DateField(_("配送开始"))
    delivery_until = models.DateField(_("配送结束"))
    min_total_quantity = models.PositiveIntegerField(_("成团最低总量"))
    max_total_quantity = models.PositiveIntegerField(_("供货上限"), null=True, blank=True)
    per_household_limit = models.PositiveIntegerField(_("每户限购"), default=0, help_text=_("0 表示不限"))
    commission_rate = models.DecimalField(
        _("站点佣金(%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    uncollected_days = models.PositiveSmallIntegerField(_("逾期未取天数"), default=14)
    stations = models.ManyToManyField(
        "stations.Station", blank=True, related_name="+", verbose_name=_("开放站点")
    )
    counties = models.ManyToManyField(
        "stations.County", blank=True, related_name="+", verbose_name=_("开放县区")
    )
    total_quantity = models.PositiveIntegerField(_("已认购总量"), default=0)
    #: Persisted close state: "", pricing, settle, purchase_orders, release, finish, done.
    close_phase = models.CharField(max_length=16, blank=True, default="")
    succeeded = models.BooleanField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CampaignQuerySet.as_manager()

    class Meta:
        verbose_name = _("团购")
        verbose_name_plural = _("团购")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_total_quantity__isnull=True)
                | models.Q(total_quantity__lte=models.F("max_total_quantity")),
                name="campaign_total_within_max",
            ),
            models.CheckConstraint(
                condition=models.Q(delivery_until__gte=models.F("delivery_from")),
                name="campaign_delivery_window",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_open(self, now=None) -> bool:
        """The one campaign-open rule: approved and before its cutoff (pages, GraphQL, pledges,
        offers, the close all ask this or :meth:`CampaignQuerySet.open`)."""
        from django.utils import timezone

        return self.status == CampaignStatus.OPEN and self.cutoff_at > (now or timezone.now())


class CampaignItem(models.Model):
    """One product in a campaign; its tiers are keyed on the campaign's total quantity."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    stockrecord = models.ForeignKey("partner.StockRecord", on_delete=models.PROTECT, related_name="+")
    base_price = models.DecimalField(_("原价"), max_digits=12, decimal_places=2)
    total_quantity = models.PositiveIntegerField(default=0)
    final_unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "product"], name="uniq_campaign_product")]

    def __str__(self) -> str:
        return self.product.title


class PriceTier(models.Model):
    item = models.ForeignKey(CampaignItem, on_delete=models.CASCADE, related_name="tiers")
    min_quantity = models.PositiveIntegerField(_("起订总量"))
    unit_price = models.DecimalField(_("单价"), max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["min_quantity"]
        constraints = [models.UniqueConstraint(fields=["item", "min_quantity"], name="uniq_tier_threshold")]

    def __str__(self) -> str:
        return f"≥{self.min_quantity} ¥{self.unit_price}"


class PledgeStatus(models.TextChoices):
    ACTIVE = "active", _("已认购")
    CANCELLED = "cancelled", _("已撤销")
    CONFIRMED = "confirmed", _("已成交")
    FAILED = "failed", _("未成团退款")
    #: The campaign succeeded but this pledge's online payment could not be settled (authorisation
    #: expired or cancelled): no order and no pickup; the station may take cash instead.
    UNPAID = "unpaid", _("支付失效")


class Pledge(models.Model):
    # A close rewrites every pledge (status, final price). No index covers those columns — not even a
    # partial index's condition — so PostgreSQL rewrites them in place (HOT, no index writes); the
    # table's fillfactor (50, see migration 0004) leaves the page room for that. Uniqueness of a live
    # pledge therefore keys on ``cancelled_at``, which a close never touches.
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="pledges", db_index=False)
    item = models.ForeignKey(CampaignItem, on_delete=models.PROTECT, related_name="pledges", db_index=False)
    household = models.ForeignKey("stations.Household", on_delete=models.PROTECT, related_name="pledges")
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="pledges", db_index=False
    )
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", db_index=False
    )
    quantity = models.PositiveIntegerField(_("数量"))
    unit_price_at_pledge = models.DecimalField(max_digits=12, decimal_places=2)
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, null=True, blank=True, related_name="pledge"
    )
    payment_method = models.CharField(_("支付方式"), max_length=8)
    status = models.CharField(max_length=10, choices=PledgeStatus.choices, default=PledgeStatus.ACTIVE)
    final_unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    final_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    collected_quantity = models.PositiveIntegerField(default=0)
    forfeited_quantity = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("认购")
        verbose_name_plural = _("认购")
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["campaign", "station"]),
            models.Index(fields=["campaign", "household"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="uniq_pledge_idempotency_key"),
            models.UniqueConstraint(
                fields=["item", "household"],
                condition=models.Q(cancelled_at__isnull=True),
                name="uniq_live_pledge_per_household_item",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    collected_quantity__lte=models.F("quantity") - models.F("forfeited_quantity")
                ),
                name="pledge_collected_within_quantity",
            ),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="pledge_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} × {self.quantity} ({self.status})"

    @property
    def remaining_quantity(self) -> int:
        return self.quantity - self.collected_quantity - self.forfeited_quantity


class CloseStep(models.Model):
    """One finished chunk of a campaign close; its presence makes the chunk a no-op on re-run."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="close_steps")
    step = models.CharField(max_length=64)
    done_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "step"], name="uniq_close_step")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.step}"


class PickupStatus(models.TextChoices):
    AWAITING_DELIVERY = "awaiting", _("待到货")
    READY = "ready", _("待取货")
    PARTIAL = "partial", _("部分取货")
    COLLECTED = "collected", _("已取货")
    EXPIRED = "expired", _("逾期未取")


class Pickup(models.Model):
    """A household's goods from one campaign at its station: one Oscar order and one pickup code."""

    # A close writes one pickup per household, so it carries as little upkeep as integrity allows:
    # ``order`` is the constrained reference; household and station are copies of that order's own
    # (constrained, PROTECTed) household and station, kept for lookups without a join, so they need no
    # foreign-key check of their own. Campaign and station need no single-column index: the unique
    # (campaign, station, code) and (campaign, household) and the (station, code) index serve them.
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="pickups", db_index=False)
    household = models.ForeignKey(
        "stations.Household", on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    order = models.OneToOneField("order.Order", on_delete=models.PROTECT, related_name="group_pickup")
    code = models.CharField(_("取货码"), max_length=6)
    status = models.CharField(
        max_length=10, choices=PickupStatus.choices, default=PickupStatus.AWAITING_DELIVERY
    )
    ready_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "household"], name="uniq_pickup_per_household"),
            models.UniqueConstraint(
                fields=["campaign", "station", "code"], name="uniq_pickup_code_per_station"
            ),
        ]
        indexes = [models.Index(fields=["station", "code"])]

    def __str__(self) -> str:
        return f"取货 {self.campaign_id}/{self.household_id}"


class PurchaseOrder(models.Model):
    """Consolidated purchase order for one supplier and dispatch warehouse."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="purchase_orders")
    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(
        "partner.Warehouse", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    number = models.CharField(_("采购单号"), max_length=32, unique=True)
    total_quantity = models.PositiveIntegerField()
    total_amount = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("采购单")
        verbose_name_plural = _("采购单")
        ordering = ["number"]

    def __str__(self) -> str:
        return self.number


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待发货")
    SHIPPED = "shipped", _("已发货")
    RECEIVED = "received", _("已收货")


class StationDelivery(models.Model):
    purchase_order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="deliveries")
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="deliveries")
    station = models.ForeignKey("stations.Station", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notes = models.CharField(_("备注"), max_length=255, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["purchase_order", "station"], name="uniq_delivery_station")
        ]
        indexes = [models.Index(fields=["campaign", "station"])]

    def __str__(self) -> str:
        return f"{self.purchase_order_id} → {self.station_id}"


class DeliveryLine(models.Model):
    delivery = models.ForeignKey(StationDelivery, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(CampaignItem, on_delete=models.PROTECT, related_name="+")
    expected = models.PositiveIntegerField(_("应到"))
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    received = models.PositiveIntegerField(_("实到"), null=True, blank=True)
    damaged = models.PositiveIntegerField(_("破损"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "item"], name="uniq_delivery_item"),
            models.CheckConstraint(
                condition=models.Q(received__lte=models.F("expected")), name="delivery_received_le_expected"
            ),
            models.CheckConstraint(
                condition=models.Q(received__isnull=True) | models.Q(damaged__lte=models.F("received")),
                name="delivery_damaged_le_received",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.received}/{self.expected}"

    @property
    def shortage(self) -> int:
        return self.expected - (self.received or 0)

    @property
    def usable(self) -> int:
        return (self.received or 0) - self.damaged


class PickupEvent(models.Model):
    pickup = models.ForeignKey(Pickup, on_delete=models.PROTECT, related_name="events")
    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="pickup_events")
    quantity = models.PositiveIntegerField()
    collected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    idempotency_key = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.pledge_id} ×{self.quantity}"

"""Produce marketplace: cooperatives' traceable lots, selling rounds, city/business buyers' orders.

Money and stock stay in the core: every sale unit of a lot is an Oscar product with a stock record
of the cooperative (so Oscar's Strategy decides whether it may be sold and StockRecord.allocate
holds stock); orders are Oscar orders; commission and refunds are entries of the core ledger.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.core import uploads

ZERO = Decimal("0.00")


class Crop(models.TextChoices):
    RICE = "rice", _("大米")
    CORN = "corn", _("玉米")
    SOYBEAN = "soybean", _("大豆")
    MILLET = "millet", _("小米")
    VEGETABLE = "vegetable", _("蔬菜")
    FRUIT = "fruit", _("水果")
    OTHER = "other", _("其他")


class Lot(models.Model):
    """One harvest lot of a cooperative: what was grown, by whom (member households), where, when."""

    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.PROTECT, related_name="produce_lots", verbose_name=_("合作社")
    )
    code = models.CharField(_("批次追溯码"), max_length=40, unique=True)
    gtin = models.CharField(_("商品条码 (GTIN-14)"), max_length=14)
    crop = models.CharField(_("作物"), max_length=16, choices=Crop.choices)
    variety = models.CharField(_("品种"), max_length=64)
    grade = models.CharField(_("等级"), max_length=32)
    harvest_date = models.DateField(_("采收日期"))
    origin_village = models.CharField(_("产地村"), max_length=128)
    latitude = models.DecimalField(
        _("纬度"), max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        _("经度"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    quantity_kg = models.DecimalField(_("批次数量 (kg)"), max_digits=12, decimal_places=3)
    households = models.ManyToManyField(
        "stations.Household", blank=True, related_name="produce_lots", verbose_name=_("种植农户")
    )
    description = models.TextField(_("说明"), blank=True)
    test_report = uploads.UploadFileField(
        _("检测报告"), upload_to="produce/reports/%Y/", blank=True, kind=uploads.DOCUMENT
    )
    is_active = models.BooleanField(_("在售"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("农产品批次")
        verbose_name_plural = _("农产品批次")
        ordering = ["-harvest_date", "-pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity_kg__gt=0), name="lot_quantity_positive")
        ]

    def __str__(self) -> str:
        return f"{self.get_crop_display()} {self.variety} {self.code}"

    @property
    def title(self) -> str:
        return f"{self.variety}{self.get_crop_display()} {self.grade}"

    @property
    def season(self) -> int:
        return self.harvest_date.year


class CertificationKind(models.TextChoices):
    GREEN = "green", _("绿色食品")
    ORGANIC = "organic", _("有机产品")
    GI = "gi", _("地理标志")


class Certification(models.Model):
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="certifications")
    kind = models.CharField(_("认证类型"), max_length=16, choices=CertificationKind.choices)
    number = models.CharField(_("证书编号"), max_length=64)
    expires_on = models.DateField(_("有效期至"))

    class Meta:
        verbose_name = _("认证")
        verbose_name_plural = _("认证")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    @property
    def is_valid(self) -> bool:
        return self.expires_on >= timezone.localdate()


class LotPhoto(models.Model):
    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="photos")
    image = uploads.UploadImageField(_("照片"), upload_to="produce/photos/%Y/")
    caption = models.CharField(_("说明"), max_length=128, blank=True)

    def __str__(self) -> str:
        return self.caption or self.image.name


class Unit(models.TextChoices):
    KG = "kg", _("千克")
    BOX = "box", _("箱")
    BAG = "bag", _("袋")


class SaleUnit(models.Model):
    """How a lot is sold: a pack (e.g. a 5 kg box) at a price. Backed by an Oscar product whose
    stock record (the cooperative's) holds how many packs are offered."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="sale_units")
    unit = models.CharField(_("销售单位"), max_length=8, choices=Unit.choices)
    pack_kg = models.DecimalField(_("每单位净重 (kg)"), max_digits=9, decimal_places=3)
    price = models.DecimalField(_("单价"), max_digits=10, decimal_places=2)
    product = models.OneToOneField("catalogue.Product", on_delete=models.PROTECT, related_name="produce_unit")

    class Meta:
        verbose_name = _("销售规格")
        verbose_name_plural = _("销售规格")
        ordering = ["lot_id", "pack_kg"]

    def __str__(self) -> str:
        return f"{self.pack_kg:g}kg/{self.get_unit_display()}"

    @property
    def label(self) -> str:
        return f"{self.pack_kg.normalize():f} kg / {self.get_unit_display()}"


class PriceBreak(models.Model):
    """Quantity price break for business buyers: from ``min_quantity`` units the unit price is lower."""

    sale_unit = models.ForeignKey(SaleUnit, on_delete=models.CASCADE, related_name="price_breaks")
    min_quantity = models.PositiveIntegerField(_("起订数量"))
    unit_price = models.DecimalField(_("单价"), max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["sale_unit_id", "min_quantity"]
        constraints = [
            models.UniqueConstraint(fields=["sale_unit", "min_quantity"], name="uniq_price_break"),
            models.CheckConstraint(condition=models.Q(min_quantity__gte=2), name="price_break_min_2"),
        ]

    def __str__(self) -> str:
        return f"≥{self.min_quantity} ¥{self.unit_price}"


class RoundStatus(models.TextChoices):
    OPEN = "open", _("接单中")
    CLOSED = "closed", _("已截单")
    FULFILLED = "fulfilled", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Round(models.Model):
    """A selling round (order cycle): lots on offer until the cutoff, then packing and delivery."""

    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.PROTECT, related_name="produce_rounds", verbose_name=_("合作社")
    )
    title = models.CharField(_("名称"), max_length=128)
    lots = models.ManyToManyField(Lot, related_name="rounds", verbose_name=_("批次"))
    cutoff_at = models.DateTimeField(_("截单时间"))
    collection_point = models.ForeignKey(
        "partner.Warehouse", on_delete=models.PROTECT, related_name="+", verbose_name=_("集货点")
    )
    status = models.CharField(_("状态"), max_length=12, choices=RoundStatus.choices, default=RoundStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("销售轮次")
        verbose_name_plural = _("销售轮次")
        ordering = ["cutoff_at", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status == RoundStatus.OPEN and self.cutoff_at > timezone.now()


class SlotKind(models.TextChoices):
    DELIVERY = "delivery", _("送货上门")
    PICKUP = "pickup", _("自提点")


class Slot(models.Model):
    """A delivery day or a pickup point of a round, with its time window."""

    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="slots")
    kind = models.CharField(_("方式"), max_length=10, choices=SlotKind.choices)
    day = models.DateField(_("日期"))
    start = models.TimeField(_("开始"))
    end = models.TimeField(_("结束"))
    place_name = models.CharField(_("自提点名称"), max_length=128, blank=True)
    place_address = models.CharField(_("自提点地址"), max_length=255, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    class Meta:
        ordering = ["day", "start", "pk"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end__gt=models.F("start")), name="slot_window")
        ]

    def __str__(self) -> str:
        where = self.place_name if self.kind == SlotKind.PICKUP else self.get_kind_display()
        return f"{where} {self.day:%m-%d} {self.start:%H:%M}-{self.end:%H:%M}"


class OrderState(models.TextChoices):
    PAID = "paid", _("已支付")
    PACKED = "packed", _("已打包")
    SHIPPED = "shipped", _("配送中")
    DELIVERED = "delivered", _("已送达")
    CANCELLED = "cancelled", _("已取消")


class ProduceOrder(models.Model):
    """The produce side of one Oscar order: round, slot, Chinese address, invoice, delivery.

    Exists only once payment is authorised (or charged): no order is placed unpaid. The money is the
    core ``payments.Payment`` (payer: the buyer) and its ledger entries; nothing of it is kept here."""

    order = models.OneToOneField("order.Order", on_delete=models.PROTECT, related_name="produce")
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="orders")
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="orders")
    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="produce_orders"
    )
    standing_order = models.ForeignKey(
        "StandingOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    state = models.CharField(_("状态"), max_length=12, choices=OrderState.choices, default=OrderState.PAID)
    province = models.CharField(_("省"), max_length=32, blank=True)
    city = models.CharField(_("市"), max_length=32, blank=True)
    district = models.CharField(_("区/县"), max_length=32, blank=True)
    street = models.CharField(_("街道地址"), max_length=255, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=64)
    contact_phone = models.CharField(_("联系电话"), max_length=11)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    invoice_title = models.CharField(_("发票抬头"), max_length=128, blank=True)
    invoice_tax_id = models.CharField(_("纳税人识别号"), max_length=20, blank=True)
    payment = models.OneToOneField(
        "payments.Payment", on_delete=models.PROTECT, related_name="produce_order", verbose_name=_("支付")
    )
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    delivery_code = models.CharField(max_length=6)
    packed_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("农产品订单")
        verbose_name_plural = _("农产品订单")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["round", "state"])]

    def __str__(self) -> str:
        return str(self.order.number)

    @property
    def address(self) -> str:
        if self.slot.kind == SlotKind.PICKUP:
            return f"{self.slot.place_name} {self.slot.place_address}"
        return f"{self.province}{self.city}{self.district}{self.street}"

    @property
    def payment_state(self) -> str:
        """The core payment's status (authorised, captured, cancelled, ...)."""
        return self.payment.status

    @property
    def can_cancel(self) -> bool:
        return self.state == OrderState.PAID and self.round.cutoff_at > timezone.now()


class Checkout(models.Model):
    """A checkout waiting for the payer (3-D Secure, WeChat Pay QR code, Alipay redirect). Holds what
    to place once Stripe says the payment is usable; nothing is ordered while it waits."""

    key = models.CharField(max_length=64, unique=True)
    buyer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField(default=dict)
    #: The core payment (pending until Stripe says it is usable); its key is this checkout's key.
    payment = models.OneToOneField("payments.Payment", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, default="pending")  # pending / placed / failed / refused
    message = models.CharField(max_length=255, blank=True)
    order = models.ForeignKey(
        ProduceOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key


class StandingOrder(models.Model):
    """A business buyer's weekly order: the same lines in every round of a cooperative, charged to a
    saved card; paused or skipped per round."""

    buyer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="standing_orders"
    )
    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    crop = models.CharField(_("作物"), max_length=16, choices=Crop.choices)
    pack_kg = models.DecimalField(_("规格 (kg)"), max_digits=9, decimal_places=3)
    units = models.PositiveIntegerField(_("每轮数量"))
    slot_kind = models.CharField(max_length=10, choices=SlotKind.choices, default=SlotKind.DELIVERY)
    address = models.JSONField(default=dict)
    stripe_customer = models.CharField(max_length=64)
    stripe_card = models.CharField(max_length=64)
    paused = models.BooleanField(_("已暂停"), default=False)
    skipped_rounds = models.ManyToManyField(Round, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("周期订单")
        verbose_name_plural = _("周期订单")

    def __str__(self) -> str:
        return f"{self.buyer_id} {self.crop} {self.pack_kg}kg×{self.units}"


class StandingAllocation(models.Model):
    """What one round gave a standing order, and why (fair share when short)."""

    standing_order = models.ForeignKey(StandingOrder, on_delete=models.CASCADE, related_name="allocations")
    round = models.ForeignKey(Round, on_delete=models.CASCADE, related_name="+")
    requested = models.PositiveIntegerField()
    allocated = models.PositiveIntegerField()
    explanation = models.CharField(max_length=255)
    order = models.ForeignKey(
        ProduceOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["standing_order", "round"], name="uniq_standing_round")
        ]

    def __str__(self) -> str:
        return f"{self.allocated}/{self.requested}"


class EventKind(models.TextChoices):
    HARVEST = "harvest", _("采收")
    PACKING = "packing", _("包装")
    SHIPPING = "shipping", _("发运")
    RECEIVING = "receiving", _("签收")


class LotEvent(models.Model):
    """What happened to a lot (EPCIS ObjectEvent): harvest, packing, shipping, receiving."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    quantity_kg = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    place = models.CharField(max_length=128, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    reference = models.CharField(max_length=64, blank=True)  # e.g. the order number

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot", "kind", "reference"],
                condition=~models.Q(reference=""),
                name="uniq_lot_event_ref",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d}"


class InputApplication(models.Model):
    """A pesticide (or fertilizer) applied on the lot's fields, for the pre-harvest-interval check."""

    lot = models.ForeignKey(Lot, on_delete=models.CASCADE, related_name="applications")
    product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    applied_on = models.DateField(_("施用日期"))
    phi_days = models.PositiveIntegerField(_("安全间隔期 (天)"), default=0)

    class Meta:
        ordering = ["applied_on", "pk"]

    def __str__(self) -> str:
        return f"{self.product_id} {self.applied_on}"


CERTIFICATE_RETENTION = timedelta(days=2 * 366)


class CommitmentCertificate(models.Model):
    """承诺达标合格证 issued for a batch; kept at least two years."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="certificates")
    number = models.CharField(max_length=40, unique=True)
    quantity_kg = models.DecimalField(max_digits=12, decimal_places=3)
    pdf = uploads.UploadFileField(upload_to="produce/certificates/%Y/", kind=uploads.DOCUMENT)
    issued_at = models.DateTimeField(default=timezone.now)
    retain_until = models.DateTimeField()

    class Meta:
        verbose_name = _("承诺达标合格证")
        verbose_name_plural = _("承诺达标合格证")

    def __str__(self) -> str:
        return self.number

    def save(self, *args, **kwargs) -> None:
        if self.retain_until is None:
            self.retain_until = self.issued_at + CERTIFICATE_RETENTION
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if timezone.now() < self.retain_until:
            raise ValidationError(_("合格证须保存至少两年，不可删除"), code="invalid_state")
        return super().delete(*args, **kwargs)


class MembershipStatus(models.TextChoices):
    PENDING = "pending", _("待站点确认")
    CONFIRMED = "confirmed", _("已确认")
    REFUSED = "refused", _("站点未确认")


class CooperativeMember(models.Model):
    """A farmer household's membership of a cooperative.

    Station households are the stations' tenant data, so the cooperative cannot browse them: it asks
    for a member (the name and mobile number the farmer gave it, and the farmer's station); staff of
    that station, who know their farmers, confirm it by picking the household, or refuse it. Only
    confirmed members can be named as growers of a lot, and the cooperative sees them with masked
    names (never phone or ID numbers)."""

    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.CASCADE, related_name="produce_members", verbose_name=_("合作社")
    )
    station = models.ForeignKey(
        "stations.Station", on_delete=models.PROTECT, related_name="+", verbose_name=_("站点")
    )
    household = models.ForeignKey(
        "stations.Household",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cooperative_memberships",
        verbose_name=_("农户"),
    )
    name = models.CharField(_("姓名"), max_length=64)
    phone = models.CharField(_("手机号"), max_length=11)
    status = models.CharField(
        _("状态"), max_length=12, choices=MembershipStatus.choices, default=MembershipStatus.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("合作社成员")
        verbose_name_plural = _("合作社成员")
        ordering = ["status", "-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "household"],
                condition=models.Q(household__isnull=False),
                name="uniq_coop_member_household",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="confirmed") | models.Q(household__isnull=False),
                name="coop_member_confirmed_has_household",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.get_status_display()}"

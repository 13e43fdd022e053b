"""Oscar's partner app, forked: a partner is a supplier or a cooperative, verified by operators.

Adds onboarding data (统一社会信用代码, legal representative, settlement account), licences,
an audit trail of review decisions, warehouses, and stock records tied to a warehouse whose
allocation can never exceed the stock (database CheckConstraints).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from oscar.apps.partner.abstract_models import AbstractPartner, AbstractStockRecord

from marketplace.core import uploads
from marketplace.core.storage import private_storage

from .credit_code import validate_credit_code


class PartnerKind(models.TextChoices):
    SUPPLIER = "supplier", _("农资供应商")
    COOPERATIVE = "cooperative", _("合作社")


class VerificationStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    SUSPENDED = "suspended", _("已暂停")


class Partner(AbstractPartner):
    kind = models.CharField(
        _("类型"), max_length=16, choices=PartnerKind.choices, default=PartnerKind.SUPPLIER
    )
    verification_status = models.CharField(
        _("审核状态"), max_length=16, choices=VerificationStatus.choices, default=VerificationStatus.PENDING
    )
    verified_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True)
    credit_code = models.CharField(
        _("统一社会信用代码"),
        max_length=18,
        blank=True,
        validators=[validate_credit_code],
        help_text=_("18位, 按 GB 32100-2015 校验"),
    )
    legal_representative = models.CharField(_("法定代表人"), max_length=64, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=64, blank=True)
    contact_mobile = models.CharField(_("联系人手机"), max_length=11, blank=True)
    bank_name = models.CharField(_("开户银行"), max_length=128, blank=True)
    bank_account_name = models.CharField(_("账户名称"), max_length=128, blank=True)
    bank_account_number = models.CharField(_("银行账号"), max_length=32, blank=True)

    class Meta(AbstractPartner.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["credit_code"], condition=~models.Q(credit_code=""), name="uniq_partner_credit_code"
            )
        ]

    @property
    def is_verified(self) -> bool:
        return self.verification_status == VerificationStatus.APPROVED

    @property
    def sms_phone(self) -> str:
        return self.contact_mobile or self.contact_phone


class LicenceKind(models.TextChoices):
    BUSINESS_LICENCE = "business_licence", _("营业执照")
    PESTICIDE_BUSINESS = "pesticide_business", _("农药经营许可证")
    SEED_BUSINESS = "seed_business", _("种子生产经营许可证")
    FERTILIZER_REGISTRATION = "fertilizer_registration", _("肥料登记证")


class LicenceQuerySet(models.QuerySet):
    def valid_on(self, day: date | None = None) -> LicenceQuerySet:
        day = day or timezone.localdate()
        return self.filter(valid_from__lte=day, valid_until__gte=day, revoked=False)


class PartnerLicence(models.Model):
    """A licence a supplier must hold to sell a product type (fertilizer registration: per product)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(_("证照类型"), max_length=32, choices=LicenceKind.choices)
    number = models.CharField(_("证号"), max_length=64)
    restricted_scope = models.BooleanField(
        _("含限制使用农药经营范围"), default=False, help_text=_("仅农药经营许可证")
    )
    product = models.ForeignKey(
        "catalogue.Product",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="licences",
        verbose_name=_("产品"),
        help_text=_("肥料登记证对应的产品"),
    )
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期至"))
    file = uploads.UploadFileField(
        _("证照扫描件"), upload_to="licences/%Y/", storage=private_storage, blank=True, kind=uploads.DOCUMENT
    )
    revoked = models.BooleanField(_("已撤销"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LicenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("资质证照")
        verbose_name_plural = _("资质证照")
        ordering = ["partner_id", "kind", "valid_until"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "kind", "number"], name="uniq_partner_licence_number"),
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")), name="licence_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"

    def is_valid_on(self, day: date | None = None) -> bool:
        day = day or timezone.localdate()
        return not self.revoked and self.valid_from <= day <= self.valid_until


class PartnerStatusChange(models.Model):
    """Audit trail of the operator review workflow: who, when, from → to, why."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="status_changes")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    from_status = models.CharField(max_length=16, choices=VerificationStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=VerificationStatus.choices)
    reason = models.CharField(_("原因"), max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("审核记录")
        verbose_name_plural = _("审核记录")
        ordering = ["partner_id", "created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.partner}: {self.from_status or '—'} → {self.to_status}"


class Warehouse(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="warehouses")
    code = models.CharField(_("仓库编号"), max_length=32)
    name = models.CharField(_("仓库名称"), max_length=128)
    address = models.CharField(_("地址"), max_length=255, blank=True)
    latitude = models.DecimalField(
        _("纬度"), max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        _("经度"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("仓库")
        verbose_name_plural = _("仓库")
        ordering = ["partner_id", "code"]
        constraints = [models.UniqueConstraint(fields=["partner", "code"], name="uniq_warehouse_code")]

    def __str__(self) -> str:
        return self.name


class OutOfStock(ValidationError):
    def __init__(self, message: str | None = None) -> None:
        super().__init__({"quantity": ValidationError(message or _("库存不足"), code="out_of_stock")})


class StockRecord(AbstractStockRecord):
    warehouse = models.ForeignKey(
        Warehouse,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="stockrecords",
        verbose_name=_("仓库"),
    )
    #: Set by the licence compliance check (catalogue.compliance); listings and the purchase
    #: strategy treat a blocked record as unavailable.
    compliance_blocked = models.BooleanField(_("资质不符停售"), default=False, db_index=True)
    blocked_reason = models.CharField(_("停售原因"), max_length=255, blank=True)

    def allocate(self, quantity: int) -> None:
        """Oscar's allocation (checkout, basket hand-over), refused for stock that may not be sold
        (:func:`marketplace.apps.partner.strategy.is_sellable`) and for more than is free: the
        CheckConstraints below turn a racing over-allocation into ``OutOfStock``."""
        from django.db import IntegrityError, transaction

        from .strategy import is_sellable

        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            raise ValidationError({"quantity": ValidationError(_("数量须为正整数"), code="invalid")})
        if not is_sellable(self):
            raise ValidationError(
                {"stockrecord_id": ValidationError(_("该商品当前不可销售"), code="invalid_state")}
            )
        try:
            with transaction.atomic():
                super().allocate(quantity)
        except IntegrityError as exc:
            raise OutOfStock() from exc

    class Meta(AbstractStockRecord.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(num_allocated__isnull=True) | models.Q(num_allocated__gte=0),
                name="stockrecord_allocated_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(num_allocated__isnull=True)
                | models.Q(num_allocated__lte=models.F("num_in_stock")),
                name="stockrecord_allocated_le_stock",
            ),
            models.CheckConstraint(
                condition=models.Q(price__isnull=True) | models.Q(price__gte=0),
                name="stockrecord_price_non_negative",
            ),
        ]


from oscar.apps.partner.models import *  # noqa: E402,F403

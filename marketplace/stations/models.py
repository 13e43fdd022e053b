"""Tenancy: counties, villages, village service stations (益农信息社) and farmer households."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.accounts.models import phone_validator
from marketplace.core import uploads
from marketplace.core.storage import private_storage

from .validation import duplicate_phone_error, normalise_id_number, validate_farm_area, validate_resident_id


class County(models.Model):
    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("县区"), max_length=64)
    city = models.CharField(_("市"), max_length=64)
    province = models.CharField(_("省"), max_length=64, default="吉林省")

    class Meta:
        verbose_name = _("县区")
        verbose_name_plural = _("县区")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.city}{self.name}"


class Township(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="townships")
    name = models.CharField(_("乡镇"), max_length=64)

    class Meta:
        verbose_name = _("乡镇")
        verbose_name_plural = _("乡镇")
        constraints = [models.UniqueConstraint(fields=["county", "name"], name="uniq_township_in_county")]

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="villages")
    name = models.CharField(_("行政村"), max_length=64)

    class Meta:
        verbose_name = _("行政村")
        verbose_name_plural = _("行政村")
        constraints = [models.UniqueConstraint(fields=["township", "name"], name="uniq_village_in_township")]

    def __str__(self) -> str:
        return self.name


class StationQuerySet(models.QuerySet):
    def active(self) -> StationQuerySet:
        return self.filter(is_active=True)


class Station(models.Model):
    """A village service station; its staff order on behalf of the households registered here."""

    code = models.CharField(_("站点编号"), max_length=32, unique=True)
    name = models.CharField(_("站点名称"), max_length=128)
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="stations")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="stations", editable=False)
    latitude = models.DecimalField(
        _("纬度"), max_digits=9, decimal_places=6, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.DecimalField(
        _("经度"),
        max_digits=9,
        decimal_places=6,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    address = models.CharField(_("地址"), max_length=255, blank=True)
    phone = models.CharField(_("联系电话"), max_length=11, blank=True, validators=[phone_validator])
    opens_at = models.TimeField(_("开门时间"), default="08:00")
    closes_at = models.TimeField(_("关门时间"), default="17:30")
    open_weekdays = models.CharField(
        _("营业日"), max_length=7, default="1234567", help_text=_("ISO 星期数字, 1=周一 … 7=周日")
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="StationStaff", related_name="stations", blank=True
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StationQuerySet.as_manager()

    class Meta:
        verbose_name = _("益农信息社")
        verbose_name_plural = _("益农信息社")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.county_id = self.village.township.county_id
        super().save(*args, **kwargs)

    @property
    def opening_hours(self) -> str:
        return f"{self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class StationStaff(models.Model):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="station_memberships"
    )
    is_manager = models.BooleanField(_("站长"), default=False)

    class Meta:
        verbose_name = _("站点工作人员")
        verbose_name_plural = _("站点工作人员")
        constraints = [models.UniqueConstraint(fields=["station", "user"], name="uniq_station_staff")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.station}"


class CountyAssignment(models.Model):
    """Which counties an agronomist or a county official works for."""

    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="county_assignments"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["county", "user"], name="uniq_county_assignment")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.county}"


class Household(models.Model):
    """A farmer household registered at one station. It may have no login: staff act for it."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="households")
    village = models.ForeignKey(Village, on_delete=models.PROTECT, related_name="households")
    name = models.CharField(_("户主姓名"), max_length=64)
    phone = models.CharField(_("手机号"), max_length=11, blank=True, validators=[phone_validator])
    id_number = models.CharField(
        _("身份证号"),
        max_length=18,
        blank=True,
        validators=[validate_resident_id],
        help_text=_("购买限制使用农药时实名登记所需"),
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="household"
    )
    farm_area_mu = models.DecimalField(
        _("耕地面积(亩)"),
        max_digits=9,
        decimal_places=2,
        default=Decimal("0"),
        validators=[validate_farm_area],
    )
    credit_limit = models.DecimalField(_("赊销额度"), max_digits=12, decimal_places=2, default=Decimal("0"))
    notes = models.CharField(_("备注"), max_length=255, blank=True)
    is_active = models.BooleanField(_("有效"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("农户")
        verbose_name_plural = _("农户")
        ordering = ["station_id", "name", "pk"]
        indexes = [models.Index(fields=["station", "name"])]
        constraints = [
            models.UniqueConstraint(
                fields=["station", "phone"],
                condition=~models.Q(phone=""),
                name="uniq_household_phone_per_station",
                violation_error_message=_("该手机号已在本站登记，一个手机号只能登记一户"),
                violation_error_code="unique",
            ),
            models.CheckConstraint(
                condition=models.Q(credit_limit__gte=0), name="household_credit_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Rules across fields (see :mod:`.validation`); field rules run as field validators."""
        self.id_number = normalise_id_number(self.id_number)
        self.phone = (self.phone or "").strip()
        duplicate = duplicate_phone_error(self)
        if duplicate is not None:
            raise ValidationError({"phone": duplicate})

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


def mask_phone(phone: str) -> str:
    """138****5678: what lists show instead of the full number."""
    if not phone:
        return ""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}****{phone[-4:]}"


class StationPesticideLicenceQuerySet(models.QuerySet):
    def valid_on(self, day=None) -> StationPesticideLicenceQuerySet:
        from django.utils import timezone

        day = day or timezone.localdate()
        return self.filter(valid_from__lte=day, valid_until__gte=day, revoked=False)


class StationPesticideLicence(models.Model):
    """A station's own 农药经营许可证: needed to buy restricted-use pesticides (限制使用农药)."""

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="pesticide_licences")
    number = models.CharField(_("许可证号"), max_length=64)
    restricted_scope = models.BooleanField(_("含限制使用农药经营范围"), default=False)
    valid_from = models.DateField(_("有效期起"))
    valid_until = models.DateField(_("有效期至"))
    file = uploads.UploadFileField(
        _("证照扫描件"),
        upload_to="station-licences/%Y/",
        storage=private_storage,
        blank=True,
        kind=uploads.DOCUMENT,
    )
    revoked = models.BooleanField(_("已撤销"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = StationPesticideLicenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("站点农药经营许可证")
        verbose_name_plural = _("站点农药经营许可证")
        constraints = [
            models.UniqueConstraint(fields=["station", "number"], name="uniq_station_pesticide_licence"),
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")),
                name="station_licence_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.station} {self.number}"

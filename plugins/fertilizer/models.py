"""Fields, soil tests, versioned parameter sets, recommendations and bag plans (施肥建议).

Units: areas are stored in mu (亩, 1 ha = 15 mu), yields in kg/mu, nutrient amounts in kg/mu
(recommendations) or whole-field kg (plans), soil tests in mg/kg (organic matter g/kg).
Parameter-set versions and recommendations are immutable once written.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from marketplace.core.jobs import JobFields

from .agronomy.nutrients import MU_PER_HA

CROP_CHOICES = [
    ("spring_maize_ne", _("东北春玉米")),
    ("maize", _("玉米")),
    ("soybean", _("大豆")),
    ("rice", _("水稻")),
]
ZONE_CHOICES = [
    ("semi_humid", _("中部半湿润区")),
    ("semi_arid", _("西部半干旱区")),
    ("cool", _("东部冷凉区")),
]
CROPS = dict(CROP_CHOICES)
ZONES = dict(ZONE_CHOICES)


class ImmutableModel(models.Model):
    """Rows that are history: written once, never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError(
                gettext("%(model)s 不可修改（请新建版本）") % {"model": self._meta.verbose_name},
                code="invalid_state",
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(
            gettext("%(model)s 不可删除") % {"model": self._meta.verbose_name}, code="invalid_state"
        )


class FarmField(models.Model):
    household = models.ForeignKey(
        "stations.Household", on_delete=models.CASCADE, related_name="fert_fields", verbose_name=_("农户")
    )
    name = models.CharField(_("地块名称"), max_length=64)
    area_mu = models.DecimalField(
        _("面积(亩)"),
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("10000"))],
    )
    crop = models.CharField(_("作物"), max_length=32, choices=CROP_CHOICES, default="spring_maize_ne")
    zone = models.CharField(_("生态区"), max_length=16, choices=ZONE_CHOICES, default="semi_humid")
    latitude = models.DecimalField(
        _("纬度"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("经度"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    yield_1 = models.DecimalField(_("去年产量(kg/亩)"), max_digits=7, decimal_places=1, null=True, blank=True)
    yield_2 = models.DecimalField(_("前年产量(kg/亩)"), max_digits=7, decimal_places=1, null=True, blank=True)
    yield_3 = models.DecimalField(
        _("大前年产量(kg/亩)"), max_digits=7, decimal_places=1, null=True, blank=True
    )
    # usual practice (习惯施肥): a product + bags for the whole field, or nutrients kg/mu
    usual_product = models.ForeignKey(
        "catalogue.Product",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("习惯用肥"),
    )
    usual_bags = models.PositiveIntegerField(_("习惯用量(袋/全地块)"), null=True, blank=True)
    usual_n_kg_mu = models.DecimalField(
        _("习惯施N(kg/亩)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    usual_p2o5_kg_mu = models.DecimalField(
        _("习惯施P₂O₅(kg/亩)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    usual_k2o_kg_mu = models.DecimalField(
        _("习惯施K₂O(kg/亩)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("地块")
        verbose_name_plural = _("地块")
        ordering = ["household_id", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["household", "name"], name="fert_uniq_field_name_per_household")
        ]

    def __str__(self) -> str:
        return f"{self.household} · {self.name}"

    @property
    def area_ha(self) -> Decimal:
        return (self.area_mu / Decimal(str(MU_PER_HA))).quantize(Decimal("0.001"))

    @property
    def recent_yields(self) -> tuple[float, ...]:
        return tuple(float(y) for y in (self.yield_1, self.yield_2, self.yield_3) if y is not None)

    def clean(self) -> None:
        errors = {}
        for name in ("yield_1", "yield_2", "yield_3"):
            value = getattr(self, name)
            if value is not None and not (Decimal("20") <= value <= Decimal("2000")):
                errors[name] = ValidationError(gettext("产量须在 20–2000 kg/亩 之间"), code="invalid")
        if (self.usual_product_id is None) != (self.usual_bags is None):
            errors["usual_bags"] = ValidationError(gettext("习惯用肥须同时填写产品和袋数"), code="invalid")
        if errors:
            raise ValidationError(errors)


class SoilImportBatch(models.Model):
    """One uploaded lab result file (all-or-nothing: a batch exists only if every row was valid)."""

    filename = models.CharField(_("文件名"), max_length=255)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    row_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("测土结果导入")
        verbose_name_plural = _("测土结果导入")

    def __str__(self) -> str:
        return f"{self.filename} ({self.row_count})"


class SoilTest(models.Model):
    field = models.ForeignKey(FarmField, on_delete=models.CASCADE, related_name="soil_tests")
    lab = models.CharField(_("检测机构"), max_length=128)
    sample_date = models.DateField(_("采样日期"))
    ph = models.DecimalField(_("pH"), max_digits=4, decimal_places=2)
    organic_matter_g_kg = models.DecimalField(_("有机质(g/kg)"), max_digits=6, decimal_places=2)
    alkali_n_mg_kg = models.DecimalField(_("碱解氮(mg/kg)"), max_digits=7, decimal_places=2)
    olsen_p_mg_kg = models.DecimalField(_("有效磷(mg/kg)"), max_digits=7, decimal_places=2)
    available_k_mg_kg = models.DecimalField(_("速效钾(mg/kg)"), max_digits=7, decimal_places=2)
    micronutrients = models.JSONField(_("中微量元素(mg/kg)"), default=dict, blank=True)
    batch = models.ForeignKey(
        SoilImportBatch, on_delete=models.SET_NULL, null=True, blank=True, related_name="soil_tests"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("测土结果")
        verbose_name_plural = _("测土结果")
        ordering = ["field_id", "-sample_date", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["field", "sample_date"], name="fert_uniq_soil_test_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.field} {self.sample_date}"


class ParameterSetVersion(ImmutableModel):
    """One immutable version of the agronomic parameters for a crop (+ zone).

    ``data`` is :func:`plugins.fertilizer.paramstore.to_data` of a ``ParameterSet`` plus the plan
    settings (tolerance, basal N share, zero-target cap)."""

    crop = models.CharField(_("作物"), max_length=32, choices=CROP_CHOICES)
    zone = models.CharField(_("生态区"), max_length=16, choices=ZONE_CHOICES)
    version = models.PositiveIntegerField(_("版本"))
    data = models.JSONField(_("参数"))
    note = models.CharField(_("修改说明"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("施肥参数版本")
        verbose_name_plural = _("施肥参数版本")
        ordering = ["crop", "zone", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["crop", "zone", "version"], name="fert_uniq_param_version")
        ]

    def __str__(self) -> str:
        return f"{CROPS.get(self.crop, self.crop)}/{ZONES.get(self.zone, self.zone)} v{self.version}"


class Recommendation(ImmutableModel):
    """A recommendation as computed: method, reasons, nutrient targets and the parameter version."""

    field = models.ForeignKey(FarmField, on_delete=models.CASCADE, related_name="recommendations")
    soil_test = models.ForeignKey(
        SoilTest, on_delete=models.SET_NULL, null=True, blank=True, related_name="recommendations"
    )
    parameter_set = models.ForeignKey(ParameterSetVersion, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("方法"), max_length=32)
    reasons = models.JSONField(_("依据"), default=list)
    target_yield_kg_mu = models.DecimalField(_("目标产量(kg/亩)"), max_digits=7, decimal_places=1)
    area_mu = models.DecimalField(_("面积(亩)"), max_digits=8, decimal_places=2)
    n_kg_mu = models.DecimalField(max_digits=7, decimal_places=2)
    p2o5_kg_mu = models.DecimalField(max_digits=7, decimal_places=2)
    k2o_kg_mu = models.DecimalField(max_digits=7, decimal_places=2)
    #: {"basal": {N, P2O5, K2O}, "topdress": {...}} kg/mu, full precision
    targets = models.JSONField(_("养分目标"))
    soil_grades = models.JSONField(default=dict, blank=True)
    is_current = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("施肥建议")
        verbose_name_plural = _("施肥建议")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["field", "is_current"])]

    def __str__(self) -> str:
        return f"{self.field} #{self.pk}"

    def save(self, *args, **kwargs) -> None:
        # ``is_current`` is the only mutable bit (a newer recommendation supersedes this one)
        if self.pk is not None and kwargs.get("update_fields") == ["is_current"]:
            models.Model.save(self, *args, **kwargs)
            return
        super().save(*args, **kwargs)


class PlanStatus(models.TextChoices):
    #: Worked out in the background (``BagPlan.job_status`` queued → running); no lines yet.
    SOLVING = "solving", _("计算中")
    PROPOSED = "proposed", _("待下单")
    INFEASIBLE = "infeasible", _("无可行方案")
    #: The background job raised or kept losing its process (``error`` says so); recompute.
    FAILED = "failed", _("计算失败")
    ORDERED = "ordered", _("已加入团购/购物篮")


class BagPlan(JobFields):
    """Least-cost whole-bag plan for a recommendation at one station's offers (priced when made).

    Created in status ``solving`` by the request and worked out by a background job
    (``services.run_plan_job``; ``JobFields``: queued → running → done/failed)."""

    job_thread_prefix = "bag-plan"

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="plans")
    station = models.ForeignKey("stations.Station", on_delete=models.CASCADE, related_name="fert_plans")
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default=PlanStatus.PROPOSED)
    is_current = models.BooleanField(default=True)
    cost = models.DecimalField(_("费用"), max_digits=12, decimal_places=2, default=Decimal("0"))
    #: whole-field kg delivered / targeted: {"N":..,"P2O5":..,"K2O":..}
    delivered_kg = models.JSONField(default=dict)
    usual_kg = models.JSONField(default=dict, blank=True)
    usual_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    usual_label = models.CharField(max_length=255, blank=True)
    saving_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    tolerance = models.DecimalField(max_digits=4, decimal_places=3, default=Decimal("0.15"))
    reasons = models.JSONField(default=list)
    error = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ordered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("配肥方案")
        verbose_name_plural = _("配肥方案")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["station", "is_current"])]

    def __str__(self) -> str:
        return f"plan #{self.pk} ({self.status})"

    @property
    def is_solved(self) -> bool:
        """Worked out: proposed (or infeasible, or already ordered), not queued, running or failed."""
        return self.status in (PlanStatus.PROPOSED, PlanStatus.INFEASIBLE, PlanStatus.ORDERED)

    def saving_kg(self) -> dict[str, float] | None:
        if not self.usual_kg:
            return None
        return {n: round(self.usual_kg[n] - self.delivered_kg.get(n, 0.0), 2) for n in ("N", "P2O5", "K2O")}


class PlanPhase(models.TextChoices):
    BASAL = "basal", _("基肥")
    TOPDRESS = "topdress", _("追肥")


class BagPlanLine(models.Model):
    plan = models.ForeignKey(BagPlan, on_delete=models.CASCADE, related_name="lines")
    phase = models.CharField(max_length=16, choices=PlanPhase.choices)
    product = models.ForeignKey("catalogue.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=128)
    title = models.CharField(max_length=255)
    grade = models.CharField(max_length=32)
    bag_kg = models.DecimalField(max_digits=7, decimal_places=2)
    bags = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    source = models.CharField(max_length=32)
    source_ref = models.CharField(max_length=64, blank=True)
    partner_id = models.IntegerField(null=True, blank=True)
    accepted_by = models.CharField(max_length=32, blank=True)
    accepted_ref = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["plan_id", "phase", "pk"]

    def __str__(self) -> str:
        return f"{self.title} × {self.bags}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.bags

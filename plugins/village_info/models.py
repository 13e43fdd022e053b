"""Village information service: notices, prices, planting-intention surveys and expert questions.

Everything reaches farmers through their station (益农信息社): staff read notices out or post the
printed sheet, record each household's survey answers by phone or on paper, and ask the county's
agronomists on a farmer's behalf. Households may have no login.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxLengthValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from marketplace.core import uploads
from marketplace.core.storage import private_storage
from marketplace.stations.models import County, Household, Station, Township

MONEY = {"max_digits": 12, "decimal_places": 2}


# --- Notices ----------------------------------------------------------------------------------


class NoticeKind(models.TextChoices):
    PROCUREMENT = "procurement", _("农资采购")
    GUIDANCE = "guidance", _("技术指导")
    POLICY = "policy", _("政策")
    WARNING = "warning", _("天气与病虫害预警")
    MARKET = "market", _("售粮与市场")


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SCHEDULED = "scheduled", _("定时发布")
    PUBLISHED = "published", _("已发布")
    WITHDRAWN = "withdrawn", _("已撤回")


class FanoutStatus(models.TextChoices):
    NONE = "", _("未开始")
    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("发送中")
    DONE = "done", _("已送达")
    FAILED = "failed", _("失败")


class Notice(models.Model):
    """A notice addressed to the whole province, or to counties, townships or single stations."""

    title = models.CharField(_("标题"), max_length=120)
    body = models.TextField(_("正文"), validators=[MaxLengthValidator(5000)])
    kind = models.CharField(_("类别"), max_length=16, choices=NoticeKind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="village_notices"
    )
    issuer = models.CharField(_("发布单位"), max_length=64, blank=True)
    whole_province = models.BooleanField(_("全省"), default=False)
    counties = models.ManyToManyField(County, blank=True, related_name="+", verbose_name=_("县区"))
    townships = models.ManyToManyField(Township, blank=True, related_name="+", verbose_name=_("乡镇"))
    stations = models.ManyToManyField(Station, blank=True, related_name="+", verbose_name=_("站点"))
    publish_at = models.DateTimeField(_("发布时间"))
    expires_at = models.DateTimeField(_("失效时间"), null=True, blank=True)
    send_sms = models.BooleanField(_("短信通知订阅农户"), default=False)
    sms_text = models.CharField(_("短信内容"), max_length=140, blank=True)
    status = models.CharField(max_length=12, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT)
    fanout_status = models.CharField(max_length=8, choices=FanoutStatus.choices, default="", blank=True)
    stations_reached = models.PositiveIntegerField(default=0)
    sms_queued = models.PositiveIntegerField(default=0)
    sms_over_cap = models.PositiveIntegerField(default=0)
    fanout_error = models.CharField(max_length=255, blank=True)
    fanned_out_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("通知公告")
        verbose_name_plural = _("通知公告")
        ordering = ["-publish_at", "-pk"]
        indexes = [models.Index(fields=["status", "publish_at"])]

    def __str__(self) -> str:
        return self.title


class NoticeReceipt(models.Model):
    """One station's copy of a notice: delivered, read by staff, posted on the station wall."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="receipts")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    delivered_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)
    read_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    posted_at = models.DateTimeField(null=True, blank=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notice", "station"], name="uniq_notice_receipt")]
        indexes = [models.Index(fields=["station", "notice"])]

    def __str__(self) -> str:
        return f"{self.notice_id}@{self.station_id}"


class SmsPreference(models.Model):
    """A household's consent to information SMS (notices, prices). No row = not subscribed."""

    household = models.OneToOneField(Household, on_delete=models.CASCADE, related_name="info_sms")
    opted_in = models.BooleanField(_("接收短信"), default=False)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["opted_in", "household"])]

    def __str__(self) -> str:
        return f"{self.household_id}: {self.opted_in}"


class NoticeSms(models.Model):
    """One information SMS to one household: the dedupe (per notice, per household and per phone)
    and the count behind the daily cap."""

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="sms")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=11)
    day = models.DateField()
    notification_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["notice", "household"], name="uniq_notice_sms_household"),
            models.UniqueConstraint(fields=["notice", "phone"], name="uniq_notice_sms_phone"),
        ]
        indexes = [models.Index(fields=["household", "day"])]

    def __str__(self) -> str:
        return f"{self.notice_id}→{self.household_id}"


# --- Prices -----------------------------------------------------------------------------------


class PriceKind(models.TextChoices):
    INPUT = "input", _("农资价格")
    GRAIN = "grain", _("粮食收购价")


class PriceSource(models.TextChoices):
    LISTED = "listed", _("平台在售最低价")
    ORDERS = "orders", _("平台成交均价")
    COUNTY = "county", _("县级采集")
    IMPORT = "import", _("导入")


class PricePoint(models.Model):
    """One observed price: an agri-input on the marketplace, or a grain purchase price."""

    kind = models.CharField(_("类别"), max_length=8, choices=PriceKind.choices)
    county = models.ForeignKey(
        County, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("县区")
    )  # None: province-wide (e.g. the lowest listed price, which is the same in every county)
    commodity = models.CharField(_("品名"), max_length=128)
    product_id_ref = models.BigIntegerField(null=True, blank=True)  # catalogue product, for inputs
    unit = models.CharField(_("单位"), max_length=16)
    price = models.DecimalField(_("价格"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    observed_on = models.DateField(_("日期"))
    source = models.CharField(_("来源"), max_length=8, choices=PriceSource.choices)
    note = models.CharField(_("备注"), max_length=128, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-observed_on", "commodity"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "county", "commodity", "observed_on", "source"],
                name="uniq_price_point",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["kind", "commodity", "observed_on"])]

    def __str__(self) -> str:
        return f"{self.commodity} {self.price} ({self.observed_on})"


# --- Planting-intention surveys (备耕调查) --------------------------------------------------------


class SurveyStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    OPEN = "open", _("调查中")
    CLOSED = "closed", _("已结束")


class Survey(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", verbose_name=_("县区"))
    title = models.CharField(_("标题"), max_length=120)
    season = models.CharField(_("季节"), max_length=32)
    opens_on = models.DateField(_("开始日期"))
    closes_on = models.DateField(_("截止日期"))
    status = models.CharField(max_length=8, choices=SurveyStatus.choices, default=SurveyStatus.OPEN)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-opens_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_on__gte=models.F("opens_on")), name="survey_dates_ordered"
            )
        ]

    def __str__(self) -> str:
        return self.title


class SurveyCrop(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="crops")
    name = models.CharField(_("作物"), max_length=32)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]
        constraints = [models.UniqueConstraint(fields=["survey", "name"], name="uniq_survey_crop")]

    def __str__(self) -> str:
        return self.name


class AnswerMethod(models.TextChoices):
    PHONE = "phone", _("电话")
    PAPER = "paper", _("纸质表")
    VISIT = "visit", _("到站/入户")
    IMPORT = "import", _("表格导入")


class SurveyAnswer(models.Model):
    """One household's plan for one crop: area and planned inputs."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="answers")
    household = models.ForeignKey(Household, on_delete=models.CASCADE, related_name="+")
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")  # household's
    crop = models.ForeignKey(SurveyCrop, on_delete=models.CASCADE, related_name="answers")
    area_mu = models.DecimalField(_("计划面积(亩)"), max_digits=9, decimal_places=2)
    fertilizer_kg = models.DecimalField(_("计划化肥(公斤)"), max_digits=10, decimal_places=1, default=0)
    seed_kg = models.DecimalField(_("计划种子(公斤)"), max_digits=10, decimal_places=1, default=0)
    method = models.CharField(_("采集方式"), max_length=8, choices=AnswerMethod.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["survey", "household", "crop"], name="uniq_survey_answer"),
            models.CheckConstraint(condition=models.Q(area_mu__gt=0), name="survey_area_positive"),
            models.CheckConstraint(
                condition=models.Q(fertilizer_kg__gte=0, seed_kg__gte=0), name="survey_inputs_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["survey", "station"])]

    def __str__(self) -> str:
        return f"{self.survey_id}/{self.household_id}/{self.crop_id}"


# --- Ask an expert ----------------------------------------------------------------------------


class Topic(models.TextChoices):
    PEST = "pest", _("病虫害")
    FERTILIZER = "fertilizer", _("施肥")
    VARIETY = "variety", _("品种")
    CULTIVATION = "cultivation", _("栽培管理")
    WEATHER = "weather", _("天气灾害")
    MARKET = "market", _("销售与价格")
    OTHER = "other", _("其他")


class QuestionStatus(models.TextChoices):
    OPEN = "open", _("待解答")
    ANSWERED = "answered", _("已解答")


class Question(models.Model):
    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey(County, on_delete=models.CASCADE, related_name="+")  # the station's
    household = models.ForeignKey(
        Household, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    crop = models.CharField(_("作物"), max_length=32)
    topic = models.CharField(_("问题类别"), max_length=12, choices=Topic.choices)
    text = models.TextField(_("问题描述"), validators=[MaxLengthValidator(2000)])
    status = models.CharField(max_length=8, choices=QuestionStatus.choices, default=QuestionStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["county", "status", "created_at"])]

    def __str__(self) -> str:
        return self.text[:40]


class QuestionPhoto(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="photos")
    image = uploads.UploadImageField(upload_to="village-questions/%Y/%m/", storage=private_storage)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.image.name


class Answer(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(_("解答"), validators=[MaxLengthValidator(4000)])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return self.text[:40]

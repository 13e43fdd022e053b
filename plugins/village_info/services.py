"""Village information service: the one place pages, GraphQL, tasks and imports call.

Notices fan out to stations (a receipt per station) and, for households that opted in, to SMS
through the core SMS interface: deduplicated per notice (per household and per phone) and capped per
household per day. Prices come from the marketplace's own stock and orders (core tables) and from
county staff; survey answers roll up by village, township and county and feed the county demand
view through the core ``demand_figures`` extension point.
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Avg, Count, Exists, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from marketplace.core import permissions, uploads
from marketplace.core.models import Notification
from marketplace.core.sms import queue_delivery, send_sms
from marketplace.stations.models import County, Household, Station, Township

from . import access
from .models import (
    Answer,
    AnswerMethod,
    FanoutStatus,
    Notice,
    NoticeKind,
    NoticeReceipt,
    NoticeSms,
    NoticeStatus,
    PriceKind,
    PricePoint,
    PriceSource,
    Question,
    QuestionPhoto,
    QuestionStatus,
    SmsPreference,
    Survey,
    SurveyAnswer,
    SurveyCrop,
    SurveyStatus,
    Topic,
)

logger = logging.getLogger("plugins.village_info")

SMS_BATCH = 5000
#: A running fan-out older than this is taken to have died and may be resumed.
FANOUT_STALE = timedelta(minutes=15)
MAX_PHOTOS = 4


def daily_sms_cap() -> int:
    return int(getattr(settings, "VILLAGE_INFO_SMS_DAILY_CAP", 2))


# --- Input parsing shared by pages, GraphQL and imports -------------------------------------------


def parse_decimal(
    value: Any,
    field: str,
    *,
    places: int,
    minimum: Decimal | None = None,
    maximum: Decimal = Decimal("1e8"),
    allow_zero: bool = True,
) -> Decimal:
    """A decimal from a form, API or sheet cell: refused (never rounded) with more than ``places``
    decimal places, out of range or not a number. The error names the field."""
    text = str(value).strip().replace(",", "") if value is not None else ""
    if text == "":
        raise ValidationError({field: _("请填写")}, code="required")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError({field: _("请输入数字")}, code="invalid") from None
    if not number.is_finite():
        raise ValidationError({field: _("请输入数字")}, code="invalid")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValidationError({field: _("最多 %(n)d 位小数") % {"n": places}}, code="invalid")
    low = minimum if minimum is not None else Decimal("0")
    if number < low or (not allow_zero and number == 0):
        raise ValidationError({field: _("必须大于 0") if not allow_zero else _("不能为负数")}, code="invalid")
    if number >= maximum:
        raise ValidationError({field: _("数值过大")}, code="invalid")
    return number


def _clean_text(value: Any, field: str, max_length: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if "\x00" in text:
        raise ValidationError({field: _("包含无效字符")}, code="invalid")
    if required and not text:
        raise ValidationError({field: _("请填写")}, code="required")
    if len(text) > max_length:
        raise ValidationError({field: _("最多 %(n)d 个字符") % {"n": max_length}}, code="invalid")
    return text


# --- Notices ------------------------------------------------------------------------------------


@dataclass
class NoticeInput:
    title: str
    body: str
    kind: str
    issuer: str = ""
    whole_province: bool = False
    county_ids: Sequence[int] = ()
    township_ids: Sequence[int] = ()
    station_ids: Sequence[int] = ()
    publish_at: datetime | None = None  # None: now
    expires_at: datetime | None = None
    send_sms: bool = False
    sms_text: str = ""


def target_stations(notice: Notice) -> QuerySet[Station]:
    """The active stations a notice is addressed to."""
    qs = Station.objects.filter(is_active=True)
    if notice.whole_province:
        return qs
    return qs.filter(
        Q(county__in=notice.counties.all())
        | Q(village__township__in=notice.townships.all())
        | Q(pk__in=notice.stations.all())
    )


def _check_audience(user: Any, data: NoticeInput) -> tuple[list[County], list[Township], list[Station]]:
    allowed = access.counties_for(user)
    if data.whole_province:
        if not access.can_publish_province_wide(user):
            raise ValidationError({"whole_province": _("只有平台运营可向全省发布")}, code="permission_denied")
        return [], [], []
    counties = list(County.objects.filter(pk__in=list(data.county_ids)))
    townships = list(Township.objects.filter(pk__in=list(data.township_ids)))
    stations = list(Station.objects.filter(pk__in=list(data.station_ids)))
    if len(counties) != len(set(data.county_ids)):
        raise ValidationError({"county_ids": _("县区不存在")}, code="not_found")
    if len(townships) != len(set(data.township_ids)):
        raise ValidationError({"township_ids": _("乡镇不存在")}, code="not_found")
    if len(stations) != len(set(data.station_ids)):
        raise ValidationError({"station_ids": _("站点不存在")}, code="not_found")
    if not (counties or townships or stations):
        raise ValidationError({"county_ids": _("请选择发布范围")}, code="required")
    allowed_ids = set(allowed.values_list("pk", flat=True))
    if (
        any(c.pk not in allowed_ids for c in counties)
        or any(t.county_id not in allowed_ids for t in townships)
        or any(s.county_id not in allowed_ids for s in stations)
    ):
        raise ValidationError({"county_ids": _("只能向您负责的县区发布")}, code="permission_denied")
    return counties, townships, stations


def save_notice(user: Any, data: NoticeInput, notice: Notice | None = None) -> Notice:
    """Create or edit a notice (drafts and scheduled ones only) and publish or schedule it."""
    if not access.can_publish(user):
        raise PermissionDenied(_("无权发布通知"))
    if notice is not None and notice.status not in (NoticeStatus.DRAFT, NoticeStatus.SCHEDULED):
        raise ValidationError(_("已发布的通知不能修改，请撤回后重新发布"), code="invalid_state")
    title = _clean_text(data.title, "title", 120)
    body = _clean_text(data.body, "body", 5000)
    issuer = _clean_text(data.issuer, "issuer", 64, required=False)
    if data.kind not in NoticeKind.values:
        raise ValidationError({"kind": _("请选择类别")}, code="invalid")
    now = timezone.now()
    publish_at = data.publish_at or now
    if data.expires_at is not None and data.expires_at <= max(publish_at, now):
        raise ValidationError({"expires_at": _("失效时间必须晚于发布时间")}, code="invalid")
    sms_text = _clean_text(data.sms_text, "sms_text", 70, required=False)
    if data.send_sms and not sms_text:
        raise ValidationError({"sms_text": _("发送短信时请填写短信内容（70字以内）")}, code="required")
    counties, townships, stations = _check_audience(user, data)

    with transaction.atomic():
        notice = notice or Notice(author=user)
        notice.title, notice.body, notice.kind, notice.issuer = title, body, data.kind, issuer
        notice.whole_province = data.whole_province
        notice.publish_at, notice.expires_at = publish_at, data.expires_at
        notice.send_sms, notice.sms_text = data.send_sms, sms_text
        notice.status = NoticeStatus.PUBLISHED if publish_at <= now else NoticeStatus.SCHEDULED
        notice.fanout_status = FanoutStatus.QUEUED if notice.status == NoticeStatus.PUBLISHED else ""
        notice.save()
        notice.counties.set(counties)
        notice.townships.set(townships)
        notice.stations.set(stations)
        if notice.status == NoticeStatus.PUBLISHED:
            _enqueue_fanout(notice.pk)
    return notice


def _enqueue_fanout(notice_id: int) -> None:
    from .tasks import fan_out_notice

    transaction.on_commit(lambda: fan_out_notice.delay(notice_id))


def withdraw_notice(user: Any, notice: Notice) -> Notice:
    if not access.managed_notices(user).filter(pk=notice.pk).exists():
        raise PermissionDenied(_("无权操作此通知"))
    if notice.status == NoticeStatus.WITHDRAWN:
        return notice
    notice.status = NoticeStatus.WITHDRAWN
    notice.save(update_fields=["status"])
    return notice


def publish_due_notices(now: datetime | None = None) -> int:
    """Periodic: publish scheduled notices whose time has come; resume fan-outs that died."""
    now = now or timezone.now()
    due = list(
        Notice.objects.filter(status=NoticeStatus.SCHEDULED, publish_at__lte=now).values_list("pk", flat=True)
    )
    if due:
        Notice.objects.filter(pk__in=due).update(
            status=NoticeStatus.PUBLISHED, fanout_status=FanoutStatus.QUEUED
        )
    stale = list(
        Notice.objects.filter(
            status=NoticeStatus.PUBLISHED,
            fanout_status=FanoutStatus.RUNNING,
            fanned_out_at__lt=now - FANOUT_STALE,
        ).values_list("pk", flat=True)
    )
    from .tasks import fan_out_notice

    for pk in [*due, *stale]:
        fan_out_notice.delay(pk)
    return len(due) + len(stale)


#: SMS reach farmers in Chinese, whatever language the sender's page is in.
FARMER_LANGUAGE = "zh-hans"


def sms_text_for(notice: Notice) -> str:
    with translation.override(FARMER_LANGUAGE):
        sender = notice.issuer or _("益农信息社")
        return _("【%(sender)s】%(text)s 详情请到本村益农信息社查看。回T退订") % {
            "sender": sender,
            "text": notice.sms_text,
        }


def fan_out(notice_id: int) -> Notice | None:
    """Deliver a published notice: a receipt for every addressed station, then SMS to the opted-in
    households (batches of SMS_BATCH, each batch one transaction). Safe to run again: stations and
    households already reached are skipped."""
    now = timezone.now()
    with transaction.atomic():
        notice = Notice.objects.select_for_update().filter(pk=notice_id).first()
        if notice is None or notice.status != NoticeStatus.PUBLISHED:
            return notice
        if notice.fanout_status == FanoutStatus.DONE:
            return notice
        if (
            notice.fanout_status == FanoutStatus.RUNNING
            and notice.fanned_out_at
            and notice.fanned_out_at > now - FANOUT_STALE
        ):
            return notice  # another worker is on it
        notice.fanout_status = FanoutStatus.RUNNING
        notice.fanned_out_at = now
        notice.save(update_fields=["fanout_status", "fanned_out_at"])
    try:
        station_ids = list(target_stations(notice).values_list("pk", flat=True))
        for start in range(0, len(station_ids), SMS_BATCH):
            NoticeReceipt.objects.bulk_create(
                [
                    NoticeReceipt(notice_id=notice.pk, station_id=sid, delivered_at=now)
                    for sid in station_ids[start : start + SMS_BATCH]
                ],
                ignore_conflicts=True,
            )
        queued = over_cap = 0
        if notice.send_sms:
            queued, over_cap = _send_notice_sms(notice)
        Notice.objects.filter(pk=notice.pk).update(
            fanout_status=FanoutStatus.DONE,
            stations_reached=NoticeReceipt.objects.filter(notice=notice).count(),
            sms_queued=NoticeSms.objects.filter(notice=notice).count(),
            sms_over_cap=over_cap,
            fanout_error="",
        )
    except Exception:
        logger.exception("Notice fan-out failed (notice %s)", notice.pk)
        Notice.objects.filter(pk=notice.pk).update(
            fanout_status=FanoutStatus.FAILED, fanout_error=_("发送中断，系统将自动重试")
        )
        raise
    notice.refresh_from_db()
    return notice


def _send_notice_sms(notice: Notice) -> tuple[int, int]:
    """SMS for every opted-in household of the addressed stations that has not had this notice and
    is under today's cap; one phone number gets a notice once. Returns (queued, skipped over cap)."""
    today = timezone.localdate()
    cap = daily_sms_cap()
    text = sms_text_for(notice)
    households = Household.objects.filter(is_active=True, info_sms__opted_in=True).exclude(phone="")
    if notice.whole_province:
        households = households.filter(station__is_active=True)
    else:
        households = households.filter(station__in=target_stations(notice))
    sent_today = (
        NoticeSms.objects.filter(household=OuterRef("pk"), day=today)
        .order_by()
        .values("household")
        .annotate(n=Count("pk"))
        .values("n")
    )
    households = (
        households.exclude(Exists(NoticeSms.objects.filter(notice=notice, household=OuterRef("pk"))))
        .exclude(Exists(NoticeSms.objects.filter(notice=notice, phone=OuterRef("phone"))))
        .annotate(today=Subquery(sent_today))
        .order_by("pk")
    )
    queued = over_cap = 0
    last = 0
    while True:
        rows = list(households.filter(pk__gt=last).values_list("pk", "phone", "today")[:SMS_BATCH])
        if not rows:
            break
        last = rows[-1][0]
        seen: set[str] = set()
        batch: list[tuple[int, str]] = []
        for pk, phone, today_count in rows:
            if phone in seen:
                continue
            seen.add(phone)
            if (today_count or 0) >= cap:
                over_cap += 1
                continue
            batch.append((pk, phone))
        if not batch:
            continue
        with transaction.atomic():
            notes = Notification.objects.bulk_create(
                [
                    Notification(
                        channel=Notification.Channel.SMS,
                        recipient=phone,
                        text=text,
                        dedupe_key=f"village:notice:{notice.pk}:hh:{pk}",
                    )
                    for pk, phone in batch
                ],
                batch_size=1000,
            )
            NoticeSms.objects.bulk_create(
                [
                    NoticeSms(
                        notice_id=notice.pk, household_id=pk, phone=phone, day=today, notification_id=n.pk
                    )
                    for (pk, phone), n in zip(batch, notes, strict=True)
                ],
                batch_size=1000,
            )
            queue_delivery([n.pk for n in notes])
        queued += len(batch)
    return queued, over_cap


def visible_notices(user: Any, now: datetime | None = None) -> QuerySet[NoticeReceipt]:
    """The station copies of live notices (published, not expired) the user may read."""
    now = now or timezone.now()
    return (
        access.receipts_for(user)
        .filter(notice__status=NoticeStatus.PUBLISHED)
        .filter(Q(notice__expires_at__isnull=True) | Q(notice__expires_at__gt=now))
        .select_related("notice", "station")
        .order_by("read_at", "-notice__publish_at", "pk")
    )


def mark_read(user: Any, receipt: NoticeReceipt) -> NoticeReceipt:
    if receipt.read_at is None and access.managed_receipts(user).filter(pk=receipt.pk).exists():
        now = timezone.now()
        NoticeReceipt.objects.filter(pk=receipt.pk, read_at__isnull=True).update(read_at=now, read_by=user)
        receipt.read_at, receipt.read_by = now, user
    return receipt


def confirm_posted(user: Any, receipt: NoticeReceipt) -> NoticeReceipt:
    """Station staff confirm the printed notice is up on the station wall (implies read)."""
    if not access.managed_receipts(user).filter(pk=receipt.pk).exists():
        raise PermissionDenied(_("只有本站工作人员可以确认张贴"))
    now = timezone.now()
    mark_read(user, receipt)
    if receipt.posted_at is None:
        NoticeReceipt.objects.filter(pk=receipt.pk, posted_at__isnull=True).update(
            posted_at=now, posted_by=user
        )
        receipt.posted_at, receipt.posted_by = now, user
    return receipt


@dataclass
class ReceiptSummary:
    stations: int
    read: int
    posted: int
    sms_queued: int
    sms_sent: int
    sms_failed: int


def receipt_summary(notice: Notice) -> ReceiptSummary:
    r = NoticeReceipt.objects.filter(notice=notice).aggregate(
        n=Count("pk"), read=Count("read_at"), posted=Count("posted_at")
    )
    sms = Notification.objects.filter(
        pk__in=NoticeSms.objects.filter(notice=notice).values("notification_id")
    ).aggregate(
        sent=Count("pk", filter=Q(status=Notification.Status.SENT)),
        failed=Count("pk", filter=Q(status=Notification.Status.FAILED)),
    )
    return ReceiptSummary(
        stations=r["n"],
        read=r["read"],
        posted=r["posted"],
        sms_queued=NoticeSms.objects.filter(notice=notice).count(),
        sms_sent=sms["sent"],
        sms_failed=sms["failed"],
    )


def set_sms_preference(user: Any, household: Household, opted_in: bool) -> SmsPreference:
    """Record a household's consent (or withdrawal) for information SMS: staff of its station."""
    if not permissions.can_manage_household(user, household):
        raise PermissionDenied(_("无权修改此农户"))
    if opted_in and not household.phone:
        raise ValidationError({"opted_in": _("该农户没有登记手机号")}, code="invalid")
    pref, _created = SmsPreference.objects.update_or_create(
        household=household, defaults={"opted_in": opted_in, "changed_by": user}
    )
    return pref


def opt_out_by_phone(phone: str) -> int:
    """A reply "T" from the gateway: every household with this number stops receiving info SMS."""
    return SmsPreference.objects.filter(household__phone=phone).update(opted_in=False)


# --- Prices -------------------------------------------------------------------------------------


def snapshot_input_prices(day: date | None = None) -> int:
    """Record today's agri-input prices from the marketplace itself: the lowest listed price of
    sellable stock (province-wide) and the average unit price paid per county (Oscar order lines
    placed at the county's stations that day — group-buy closes create such orders too)."""
    from oscar.core.loading import get_model

    from marketplace.apps.partner.services import sellable_stockrecords

    Line = get_model("order", "Line")
    day = day or timezone.localdate()
    points = []
    listed = (
        sellable_stockrecords()
        .exclude(product__product_class__slug="produce")
        .values("product_id", "product__title")
        .annotate(low=Min("price"))
    )
    for row in listed:
        if row["low"] is None:
            continue
        points.append(
            PricePoint(
                kind=PriceKind.INPUT,
                county=None,
                commodity=row["product__title"][:128],
                product_id_ref=row["product_id"],
                unit=_("元/件"),
                price=row["low"],
                observed_on=day,
                source=PriceSource.LISTED,
            )
        )
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    paid = (
        Line.objects.filter(
            order__date_placed__gte=start,
            order__date_placed__lt=start + timedelta(days=1),
            order__station__isnull=False,
            product__isnull=False,
        )
        .values("order__station__county_id", "product_id", "title")
        .annotate(avg=Avg("unit_price_incl_tax"))
    )
    for row in paid:
        if row["avg"] is None:
            continue
        points.append(
            PricePoint(
                kind=PriceKind.INPUT,
                county_id=row["order__station__county_id"],
                commodity=row["title"][:128],
                product_id_ref=row["product_id"],
                unit=_("元/件"),
                price=Decimal(row["avg"]).quantize(Decimal("0.01")),
                observed_on=day,
                source=PriceSource.ORDERS,
            )
        )
    PricePoint.objects.bulk_create(points, ignore_conflicts=True, batch_size=1000)
    return len(points)


def record_grain_price(
    user: Any,
    county: County,
    commodity: str,
    unit: str,
    price: Any,
    observed_on: date,
    note: str = "",
    source: str = PriceSource.COUNTY,
) -> PricePoint:
    if not access.can_record_prices(user, county):
        raise PermissionDenied(_("只能录入您负责县区的价格"))
    commodity = _clean_text(commodity, "commodity", 64)
    unit = _clean_text(unit, "unit", 16)
    note = _clean_text(note, "note", 128, required=False)
    value = parse_decimal(price, "price", places=2, allow_zero=False, maximum=Decimal("1e7"))
    if observed_on > timezone.localdate():
        raise ValidationError({"observed_on": _("日期不能晚于今天")}, code="invalid")
    point, _created = PricePoint.objects.update_or_create(
        kind=PriceKind.GRAIN,
        county=county,
        commodity=commodity,
        observed_on=observed_on,
        source=source,
        defaults={"unit": unit, "price": value, "note": note, "created_by": user},
    )
    return point


@dataclass
class BoardRow:
    kind: str
    commodity: str
    unit: str
    price: Decimal
    observed_on: date
    source: str
    previous: Decimal | None

    @property
    def change(self) -> Decimal | None:
        return None if self.previous is None else self.price - self.previous


def price_board(county: County | None, kind: str | None = None, limit: int = 200) -> list[BoardRow]:
    """The latest price of each commodity for a county (county figures, else province-wide), with
    the change against the observation before it."""
    qs = PricePoint.objects.filter(Q(county=county) | Q(county__isnull=True))
    if kind:
        qs = qs.filter(kind=kind)
    latest: dict[tuple[str, str, str], BoardRow] = {}
    for p in qs.order_by("kind", "commodity", "source", "-observed_on")[: limit * 10]:
        key = (p.kind, p.commodity, p.source)
        row = latest.get(key)
        if row is None:
            latest[key] = BoardRow(p.kind, p.commodity, p.unit, p.price, p.observed_on, p.source, None)
        elif row.previous is None:
            row.previous = p.price
    rows = sorted(latest.values(), key=lambda r: (r.kind != PriceKind.GRAIN, r.commodity, r.source))
    return rows[:limit]


def price_history(commodity: str, county: County | None, days: int = 180) -> list[PricePoint]:
    since = timezone.localdate() - timedelta(days=days)
    return list(
        PricePoint.objects.filter(commodity=commodity, observed_on__gte=since)
        .filter(Q(county=county) | Q(county__isnull=True))
        .order_by("observed_on", "source")
    )


# --- Planting-intention surveys -----------------------------------------------------------------


def create_survey(
    user: Any, county: County, title: str, season: str, opens_on: date, closes_on: date, crops: Iterable[str]
) -> Survey:
    if not access.counties_for(user).filter(pk=county.pk).exists():
        raise PermissionDenied(_("只能为您负责的县区发起调查"))
    title = _clean_text(title, "title", 120)
    season = _clean_text(season, "season", 32)
    if closes_on < opens_on:
        raise ValidationError({"closes_on": _("截止日期不能早于开始日期")}, code="invalid")
    names = []
    for name in crops:
        name = _clean_text(name, "crops", 32, required=False)
        if name and name not in names:
            names.append(name)
    if not names:
        raise ValidationError({"crops": _("请至少填写一种作物")}, code="required")
    with transaction.atomic():
        survey = Survey.objects.create(
            county=county,
            title=title,
            season=season,
            opens_on=opens_on,
            closes_on=closes_on,
            status=SurveyStatus.OPEN,
            created_by=user,
        )
        SurveyCrop.objects.bulk_create(
            [SurveyCrop(survey=survey, name=n, position=i) for i, n in enumerate(names)]
        )
    return survey


def close_survey(user: Any, survey: Survey) -> Survey:
    if not access.managed_surveys(user).filter(pk=survey.pk).exists():
        raise PermissionDenied(_("无权操作此调查"))
    survey.status = SurveyStatus.CLOSED
    survey.save(update_fields=["status"])
    return survey


def survey_is_open(survey: Survey, today: date | None = None) -> bool:
    today = today or timezone.localdate()
    return survey.status == SurveyStatus.OPEN and survey.opens_on <= today <= survey.closes_on


@dataclass
class AnswerRow:
    crop: str
    area_mu: Any
    fertilizer_kg: Any = 0
    seed_kg: Any = 0


def save_answers(
    user: Any,
    survey: Survey,
    household: Household,
    rows: Sequence[AnswerRow],
    method: str,
    field_prefix: str = "",
) -> list[SurveyAnswer]:
    """Replace one household's answers (all or nothing). A row with no area removes that crop."""
    if not access.answerable_households(user).filter(pk=household.pk).exists():
        raise PermissionDenied(_("只能登记本站农户的调查"))
    if household.station.county_id != survey.county_id:
        raise ValidationError(_("该农户不在调查的县区"), code="invalid")
    if not survey_is_open(survey):
        raise ValidationError(_("调查未开放或已结束"), code="invalid_state")
    if method not in AnswerMethod.values:
        raise ValidationError({"method": _("请选择采集方式")}, code="invalid")
    crops = {c.name: c for c in survey.crops.all()}
    cleaned: list[tuple[SurveyCrop, Decimal, Decimal, Decimal]] = []
    removed: list[SurveyCrop] = []
    for i, row in enumerate(rows):
        prefix = f"{field_prefix}{i}." if field_prefix else ""
        crop = crops.get(str(row.crop).strip())
        if crop is None:
            raise ValidationError({f"{prefix}crop": _("调查中没有这种作物")}, code="invalid")
        if row.area_mu in (None, ""):
            removed.append(crop)
            continue
        area = parse_decimal(
            row.area_mu, f"{prefix}area_mu", places=2, allow_zero=False, maximum=Decimal("1e6")
        )
        fert = parse_decimal(
            row.fertilizer_kg or 0, f"{prefix}fertilizer_kg", places=1, maximum=Decimal("1e8")
        )
        seed = parse_decimal(row.seed_kg or 0, f"{prefix}seed_kg", places=1, maximum=Decimal("1e8"))
        cleaned.append((crop, area, fert, seed))
    saved = []
    with transaction.atomic():
        SurveyAnswer.objects.filter(survey=survey, household=household, crop__in=removed).delete()
        for crop, area, fert, seed in cleaned:
            answer, _created = SurveyAnswer.objects.update_or_create(
                survey=survey,
                household=household,
                crop=crop,
                defaults={
                    "station_id": household.station_id,
                    "area_mu": area,
                    "fertilizer_kg": fert,
                    "seed_kg": seed,
                    "method": method,
                    "recorded_by": user,
                },
            )
            saved.append(answer)
    return saved


@dataclass
class TotalRow:
    key: str
    label: str
    crop: str
    households: int
    area_mu: Decimal
    fertilizer_kg: Decimal
    seed_kg: Decimal


LEVELS = {
    "station": ("station_id", "station__name"),
    "village": ("station__village_id", "station__village__name"),
    "township": ("station__village__township_id", "station__village__township__name"),
    "county": ("survey__county_id", "survey__county__name"),
}


def survey_totals(user: Any, survey: Survey, level: str = "village") -> list[TotalRow]:
    """Totals of the answers the user may read, by station, village, township or county and crop."""
    key, label = LEVELS.get(level, LEVELS["village"])
    rows = (
        access.answers_for(user)
        .filter(survey=survey)
        .values(key, label, "crop__name", "crop__position")
        .annotate(
            households=Count("household", distinct=True),
            area=Sum("area_mu"),
            fert=Sum("fertilizer_kg"),
            seed=Sum("seed_kg"),
        )
        .order_by(label, "crop__position")
    )
    return [
        TotalRow(
            key=str(r[key]),
            label=r[label],
            crop=r["crop__name"],
            households=r["households"],
            area_mu=r["area"] or Decimal(0),
            fertilizer_kg=r["fert"] or Decimal(0),
            seed_kg=r["seed"] or Decimal(0),
        )
        for r in rows
    ]


def survey_progress(user: Any, survey: Survey) -> dict[str, int]:
    """How many households answered out of those the user may see in the survey's county."""
    answered = access.answers_for(user).filter(survey=survey).values("household").distinct().count()
    if access.is_county_user(user):
        total = Household.objects.filter(station__county=survey.county, is_active=True).count()
    else:
        total = access.answerable_households(user).filter(station__county=survey.county).count()
    return {"answered": answered, "households": total}


def demand_figures(county_ids: Sequence[int]) -> list[Any]:
    """Survey totals per station as core DemandFigures (planned area, fertilizer, seed) for the
    county demand view — open and recently closed surveys."""
    from marketplace.core.extensions import DemandFigure

    since = timezone.localdate() - timedelta(days=365)
    rows = (
        SurveyAnswer.objects.filter(survey__county_id__in=county_ids, survey__closes_on__gte=since)
        .exclude(survey__status=SurveyStatus.DRAFT)
        .values(
            "survey_id",
            "survey__title",
            "survey__county_id",
            "station_id",
            "station__village__name",
            "station__village__township__name",
            "crop__name",
        )
        .annotate(area=Sum("area_mu"), fert=Sum("fertilizer_kg"), seed=Sum("seed_kg"))
        .order_by("survey_id", "station_id", "crop__name")
    )
    out = []
    for r in rows:
        common = {
            "source": "village-info",
            "kind": "survey",
            "county_id": r["survey__county_id"],
            "station_id": r["station_id"],
            "township": r["station__village__township__name"],
            "village": r["station__village__name"],
        }
        label = _("备耕调查：%(crop)s") % {"crop": r["crop__name"]}
        out.append(
            DemandFigure(
                label=label, quantity=r["area"] or 0, unit=_("亩"), category=r["crop__name"], **common
            )
        )
        if r["fert"]:
            out.append(
                DemandFigure(label=label, quantity=r["fert"], unit="kg", category="fertilizer", **common)
            )
        if r["seed"]:
            out.append(DemandFigure(label=label, quantity=r["seed"], unit="kg", category="seed", **common))
    return out


# --- Ask an expert ------------------------------------------------------------------------------


def ask_question(
    user: Any,
    station: Station,
    crop: str,
    topic: str,
    text: str,
    household: Household | None = None,
    photos: Sequence[Any] = (),
) -> Question:
    if not access.askable_stations(user).filter(pk=station.pk).exists():
        raise PermissionDenied(_("只能为本站农户提问"))
    if household is not None and household.station_id != station.pk:
        raise ValidationError({"household": _("该农户不属于本站")}, code="invalid")
    crop = _clean_text(crop, "crop", 32)
    text = _clean_text(text, "text", 2000)
    if topic not in Topic.values:
        raise ValidationError({"topic": _("请选择问题类别")}, code="invalid")
    if len(photos) > MAX_PHOTOS:
        raise ValidationError({"photos": _("最多上传 %(n)d 张照片") % {"n": MAX_PHOTOS}}, code="invalid")
    for photo in photos:  # real images within UPLOAD_MAX_IMAGE_BYTES (the core upload check)
        uploads.check_upload(photo, uploads.IMAGE, field="photos")
    with transaction.atomic():
        question = Question.objects.create(
            station=station,
            county_id=station.county_id,
            household=household,
            asked_by=user,
            crop=crop,
            topic=topic,
            text=text,
        )
        for photo in photos:
            QuestionPhoto.objects.create(question=question, image=photo)
    return question


def answer_question(user: Any, question: Question, text: str) -> Answer:
    """An agronomist's answer: shown on the station page and sent to the household by SMS."""
    if not access.can_answer(user, question):
        raise PermissionDenied(_("只能解答您负责县区的问题"))
    text = _clean_text(text, "text", 4000)
    now = timezone.now()
    with transaction.atomic():
        answer = Answer.objects.create(question=question, author=user, text=text)
        first = question.status == QuestionStatus.OPEN
        Question.objects.filter(pk=question.pk).update(
            status=QuestionStatus.ANSWERED, answered_at=question.answered_at or now
        )
        question.status, question.answered_at = QuestionStatus.ANSWERED, question.answered_at or now
        phone = question.household.phone if question.household_id else ""
        if phone:
            with translation.override(FARMER_LANGUAGE):
                sms = _("【益农信息社】您咨询的%(crop)s问题专家已回复：%(text)s") % {
                    "crop": question.crop,
                    "text": text[:50] + ("…" if len(text) > 50 else ""),
                }
            send_sms(phone, sms, dedupe_key=f"village:answer:{answer.pk}")
        if first:
            logger.info("Question %s answered", question.pk)
    return answer


def question_archive(user: Any, q: str = "", crop: str = "", topic: str = "") -> QuerySet[Question]:
    qs = access.questions_for(user).filter(status=QuestionStatus.ANSWERED)
    if crop:
        qs = qs.filter(crop=crop)
    if topic:
        qs = qs.filter(topic=topic)
    if q:
        qs = qs.filter(Q(text__icontains=q) | Q(answers__text__icontains=q) | Q(crop__icontains=q)).distinct()
    return qs.select_related("station").prefetch_related("answers")


@dataclass
class ResponseTimes:
    county: str
    asked: int
    answered: int
    open: int
    median_hours: float | None
    p90_hours: float | None
    within_24h: float | None  # share of answered questions answered within a day


def response_times(user: Any, days: int = 90) -> list[ResponseTimes]:
    since = timezone.now() - timedelta(days=days)
    qs = access.questions_for(user).filter(created_at__gte=since).select_related("county")
    by_county: dict[int, list[Question]] = {}
    names: dict[int, str] = {}
    for question in qs.only("county__name", "created_at", "answered_at", "status", "county_id"):
        by_county.setdefault(question.county_id, []).append(question)
        names[question.county_id] = str(question.county)
    out = []
    for county_id, questions in sorted(by_county.items(), key=lambda kv: names[kv[0]]):
        hours = sorted(
            (q.answered_at - q.created_at).total_seconds() / 3600 for q in questions if q.answered_at
        )
        out.append(
            ResponseTimes(
                county=names[county_id],
                asked=len(questions),
                answered=len(hours),
                open=sum(1 for q in questions if q.status == QuestionStatus.OPEN),
                median_hours=round(statistics.median(hours), 1) if hours else None,
                p90_hours=round(hours[min(len(hours) - 1, int(len(hours) * 0.9))], 1) if hours else None,
                within_24h=round(sum(1 for h in hours if h <= 24) / len(hours), 3) if hours else None,
            )
        )
    return out

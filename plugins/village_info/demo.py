"""Demo rows for the village information service (deterministic; running twice changes nothing)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from marketplace.stations.models import Household

from . import services
from .models import (
    Answer,
    AnswerMethod,
    FanoutStatus,
    Notice,
    NoticeKind,
    NoticeReceipt,
    NoticeStatus,
    PriceKind,
    PricePoint,
    PriceSource,
    Question,
    QuestionStatus,
    SmsPreference,
    Survey,
    SurveyAnswer,
    SurveyCrop,
    SurveyStatus,
    Topic,
)

NOTICES = [
    (
        NoticeKind.GUIDANCE,
        "春耕玉米测土配方施肥技术要点",
        "一、按测土结果确定氮磷钾用量，亩施纯氮12–14公斤，分底肥和追肥两次施用。\n"
        "二、底肥推荐15-18-12配方肥每亩40–45公斤，拔节期追施尿素15公斤。\n"
        "三、秸秆还田地块每亩增施氮肥1–2公斤。\n如需个性化施肥建议卡，请到本村益农信息社登记地块。",
    ),
    (
        NoticeKind.PROCUREMENT,
        "春耕农资团购报名开始",
        "本季复合肥、玉米种子团购已在益农信息社开放报名，截单前凑够起订量即享阶梯价。"
        "可现金、赊销或线上支付，货到本站凭取货码领取。",
    ),
    (
        NoticeKind.WARNING,
        "倒春寒天气预警",
        "预计未来三天最低气温降至-3℃，已播种地块注意防冻，育苗大棚夜间加盖保温被。",
    ),
    (
        NoticeKind.MARKET,
        "引导农民及时售粮",
        "当前玉米收购价格平稳，请农户关注本站张贴的收购价，分批错峰售粮，防止粮食霉变。",
    ),
]
GRAIN = [
    ("玉米（国标三等）", "元/斤", Decimal("1.12")),
    ("水稻", "元/斤", Decimal("1.35")),
    ("大豆", "元/斤", Decimal("2.45")),
]
QUESTIONS = [
    (
        "玉米",
        Topic.PEST,
        "玉米苗叶片出现白色条纹，部分植株矮小，是什么病？",
        "疑似玉米粗缩病早期症状，应及时拔除病株，并用吡虫啉防治灰飞虱传毒。",
    ),
    (
        "水稻",
        Topic.FERTILIZER,
        "水稻返青后叶色发黄，要不要追肥？追什么？",
        "返青后每亩追施尿素5公斤，配合浅水灌溉；若根系发黑先晒田再追肥。",
    ),
    (
        "大豆",
        Topic.VARIETY,
        "我们村积温2600度左右，种哪个大豆品种合适？",
        "可选吉育86、吉农38等中早熟品种，播前做好根瘤菌拌种。",
    ),
    ("玉米", Topic.CULTIVATION, "今年想密植，每亩种多少株合适？", None),
]


def seed(demo: Any) -> None:
    rng = random.Random(demo.seed + 16)
    now = timezone.now()
    county = demo.county
    author = demo.users.get("county01")
    agronomist = demo.users.get("agronomist01") or author
    staff = demo.users.get("station01")
    if author is None or staff is None:
        return
    stations = demo.stations

    # Households who agreed to information SMS (every third one with a phone).
    households = list(Household.objects.filter(station__county=county).exclude(phone="").order_by("pk"))
    SmsPreference.objects.bulk_create(
        [SmsPreference(household=h, opted_in=True) for h in households[::3]], ignore_conflicts=True
    )

    for i, (kind, title, body) in enumerate(NOTICES):
        notice, created = Notice.objects.get_or_create(
            title=title,
            defaults={
                "body": body,
                "kind": kind,
                "author": author,
                "issuer": "双阳区农业农村局",
                "publish_at": now - timedelta(days=len(NOTICES) - i),
                "status": NoticeStatus.PUBLISHED,
                "fanout_status": FanoutStatus.QUEUED,
                "expires_at": now + timedelta(days=30),
            },
        )
        if created:
            notice.counties.set([county])
            services.fan_out(notice.pk)
    # Station 1 has read the older notices and posted the first one.
    receipts = NoticeReceipt.objects.filter(station=stations[0], read_at__isnull=True).order_by(
        "notice__publish_at"
    )
    for n, receipt in enumerate(receipts[: len(NOTICES) - 1]):
        services.mark_read(staff, receipt)
        if n == 0:
            services.confirm_posted(staff, receipt)

    # Price history: 60 days of grain purchase prices, today's marketplace input prices.
    today = timezone.localdate()
    if not PricePoint.objects.filter(kind=PriceKind.GRAIN, county=county).exists():
        rows = []
        for commodity, unit, base in GRAIN:
            price = base
            for d in range(60, -1, -3):
                price = max(base * Decimal("0.9"), price + Decimal(rng.choice([-2, -1, 0, 0, 1, 2])) / 100)
                rows.append(
                    PricePoint(
                        kind=PriceKind.GRAIN,
                        county=county,
                        commodity=commodity,
                        unit=unit,
                        price=price,
                        observed_on=today - timedelta(days=d),
                        source=PriceSource.COUNTY,
                        created_by=author,
                    )
                )
        PricePoint.objects.bulk_create(rows, ignore_conflicts=True)
    services.snapshot_input_prices(today)

    # A planting-intention survey in progress, half of station 1's households answered.
    survey, created = Survey.objects.get_or_create(
        county=county,
        title="2027年春耕种植意向调查",
        defaults={
            "season": "2027年春播",
            "opens_on": today - timedelta(days=7),
            "closes_on": today + timedelta(days=21),
            "status": SurveyStatus.OPEN,
            "created_by": author,
        },
    )
    if created:
        SurveyCrop.objects.bulk_create(
            [SurveyCrop(survey=survey, name=n, position=i) for i, n in enumerate(["玉米", "水稻", "大豆"])]
        )
    if not SurveyAnswer.objects.filter(survey=survey).exists():
        crops = list(survey.crops.all())
        for station in stations[:6]:
            for h in Household.objects.filter(station=station).order_by("pk")[::2]:
                area = h.farm_area_mu or Decimal(10)
                split = [area * Decimal("0.7"), area * Decimal("0.3")]
                rows = [
                    services.AnswerRow(
                        crops[0].name,
                        split[0].quantize(Decimal("0.1")),
                        (split[0] * 45).quantize(Decimal(1)),
                        (split[0] * Decimal("2.5")).quantize(Decimal(1)),
                    ),
                    services.AnswerRow(
                        crops[rng.choice([1, 2])].name,
                        split[1].quantize(Decimal("0.1")),
                        (split[1] * 30).quantize(Decimal(1)),
                        (split[1] * 5).quantize(Decimal(1)),
                    ),
                ]
                SurveyAnswer.objects.bulk_create(
                    [
                        SurveyAnswer(
                            survey=survey,
                            household=h,
                            station=station,
                            crop=next(c for c in crops if c.name == r.crop),
                            area_mu=r.area_mu,
                            fertilizer_kg=r.fertilizer_kg,
                            seed_kg=r.seed_kg,
                            method=rng.choice([AnswerMethod.PHONE, AnswerMethod.PAPER]),
                            recorded_by=staff,
                        )
                        for r in rows
                    ],
                    ignore_conflicts=True,
                )

    # Questions asked at station 1; three answered by the county agronomist, one waiting.
    if not Question.objects.filter(station=stations[0]).exists():
        hh = list(Household.objects.filter(station=stations[0]).order_by("pk")[:4])
        for i, (crop, topic, text, reply) in enumerate(QUESTIONS):
            q = Question.objects.create(
                station=stations[0],
                county=county,
                household=hh[i] if i < len(hh) else None,
                asked_by=staff,
                crop=crop,
                topic=topic,
                text=text,
            )
            created_at = now - timedelta(days=10 - i * 2, hours=rng.randint(1, 6))
            Question.objects.filter(pk=q.pk).update(created_at=created_at)
            if reply:
                Answer.objects.create(question=q, author=agronomist, text=reply)
                Question.objects.filter(pk=q.pk).update(
                    status=QuestionStatus.ANSWERED,
                    answered_at=created_at + timedelta(hours=rng.randint(2, 30)),
                )

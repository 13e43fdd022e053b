"""GraphQL for the village information service: every mutation returns typed errors."""

from __future__ import annotations

from typing import Any

import graphene
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from marketplace.core import permissions
from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.core.types import page, page_args
from marketplace.stations.models import County

from . import access, services
from .models import NoticeKind, Question, Survey, Topic

NoticeKindEnum = graphene.Enum.from_enum(NoticeKind, name="VillageNoticeKind")
TopicEnum = graphene.Enum.from_enum(Topic, name="VillageQuestionTopic")


def _int_id(value: Any, field: str) -> int:
    from django.core.exceptions import ValidationError

    text = str(value or "").strip()
    if not text.isdigit() or len(text) > 18:
        raise ValidationError({field: _("编号无效")}, code="invalid")
    return int(text)


class NoticeType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    body = graphene.String(required=True)
    kind = graphene.String(required=True)
    issuer = graphene.String(required=True)
    status = graphene.String(required=True)
    publish_at = graphene.DateTime(required=True)
    expires_at = graphene.DateTime()
    fanout_status = graphene.String(required=True)
    stations_reached = graphene.Int(required=True)
    sms_queued = graphene.Int(required=True)

    class Meta:
        name = "VillageNotice"


class StationNoticeType(graphene.ObjectType):
    """A station's copy of a notice with its receipt."""

    receipt_id = graphene.ID(required=True)
    station_id = graphene.ID(required=True)
    notice = graphene.Field(NoticeType, required=True)
    read_at = graphene.DateTime()
    posted_at = graphene.DateTime()

    class Meta:
        name = "VillageStationNotice"


class StationNoticePage(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(StationNoticeType), required=True)
    total_count = graphene.Int(required=True)

    class Meta:
        name = "VillageStationNoticePage"


class PriceRowType(graphene.ObjectType):
    kind = graphene.String(required=True)
    commodity = graphene.String(required=True)
    unit = graphene.String(required=True)
    price = graphene.Decimal(required=True)
    observed_on = graphene.Date(required=True)
    source = graphene.String(required=True)
    previous = graphene.Decimal()

    class Meta:
        name = "VillagePriceRow"


class SurveyType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    season = graphene.String(required=True)
    county_id = graphene.ID(required=True)
    opens_on = graphene.Date(required=True)
    closes_on = graphene.Date(required=True)
    status = graphene.String(required=True)
    crops = graphene.List(graphene.NonNull(graphene.String), required=True)

    class Meta:
        name = "VillageSurvey"

    @staticmethod
    def resolve_crops(root: Survey, info: Any) -> list[str]:
        return [c.name for c in root.crops.all()]


class SurveyTotalType(graphene.ObjectType):
    key = graphene.String(required=True)
    label = graphene.String(required=True)
    crop = graphene.String(required=True)
    households = graphene.Int(required=True)
    area_mu = graphene.Decimal(required=True)
    fertilizer_kg = graphene.Decimal(required=True)
    seed_kg = graphene.Decimal(required=True)

    class Meta:
        name = "VillageSurveyTotal"


class AnswerType(graphene.ObjectType):
    id = graphene.ID(required=True)
    text = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)

    class Meta:
        name = "VillageAnswer"


class QuestionType(graphene.ObjectType):
    id = graphene.ID(required=True)
    station_id = graphene.ID(required=True)
    crop = graphene.String(required=True)
    topic = graphene.String(required=True)
    text = graphene.String(required=True)
    status = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)
    answered_at = graphene.DateTime()
    answers = graphene.List(graphene.NonNull(AnswerType), required=True)

    class Meta:
        name = "VillageQuestion"

    @staticmethod
    def resolve_answers(root: Question, info: Any) -> list[Any]:
        return list(root.answers.all())


class QuestionPage(graphene.ObjectType):
    items = graphene.List(graphene.NonNull(QuestionType), required=True)
    total_count = graphene.Int(required=True)

    class Meta:
        name = "VillageQuestionPage"


def _station_notice(r: Any) -> StationNoticeType:
    return StationNoticeType(
        receipt_id=r.pk, station_id=r.station_id, notice=r.notice, read_at=r.read_at, posted_at=r.posted_at
    )


class VillageInfoQueries(graphene.ObjectType):
    village_notices = graphene.Field(StationNoticePage, required=True, **page_args())
    village_price_board = graphene.List(
        graphene.NonNull(PriceRowType), required=True, county_id=graphene.ID(required=True)
    )
    village_surveys = graphene.List(graphene.NonNull(SurveyType), required=True)
    village_survey_totals = graphene.List(
        graphene.NonNull(SurveyTotalType),
        required=True,
        survey_id=graphene.ID(required=True),
        level=graphene.String(description="station, village, township or county"),
    )
    village_questions = graphene.Field(QuestionPage, required=True, status=graphene.String(), **page_args())

    @staticmethod
    def resolve_village_notices(root, info, first=None, offset=None):
        items, total = page(services.visible_notices(info.context.user), first, offset)
        return StationNoticePage(items=[_station_notice(r) for r in items], total_count=total)

    @staticmethod
    def resolve_village_price_board(root, info, county_id):
        user = info.context.user
        if not user.is_authenticated or not str(county_id).isdigit():
            return []
        readable = County.objects.filter(
            pk__in=permissions.stations_for(user).values("county_id")
        ) | access.counties_for(user)
        county = readable.filter(pk=county_id).first()
        if county is None:
            return []
        return [PriceRowType(**r.__dict__) for r in services.price_board(county)]

    @staticmethod
    def resolve_village_surveys(root, info):
        return list(access.surveys_for(info.context.user).prefetch_related("crops")[:100])

    @staticmethod
    def resolve_village_survey_totals(root, info, survey_id, level="village"):
        if not str(survey_id).isdigit():
            return []
        survey = access.surveys_for(info.context.user).filter(pk=survey_id).first()
        if survey is None:
            return []
        return [
            SurveyTotalType(**t.__dict__)
            for t in services.survey_totals(info.context.user, survey, level or "village")
        ]

    @staticmethod
    def resolve_village_questions(root, info, status=None, first=None, offset=None):
        qs = access.questions_for(info.context.user).prefetch_related("answers")
        if status:
            qs = qs.filter(status=status)
        items, total = page(qs.order_by("-created_at", "-pk"), first, offset)
        return QuestionPage(items=list(items), total_count=total)


class NoticeInput(graphene.InputObjectType):
    title = graphene.String(required=True)
    body = graphene.String(required=True)
    kind = NoticeKindEnum(required=True)
    issuer = graphene.String()
    whole_province = graphene.Boolean()
    county_ids = graphene.List(graphene.NonNull(graphene.ID))
    township_ids = graphene.List(graphene.NonNull(graphene.ID))
    station_ids = graphene.List(graphene.NonNull(graphene.ID))
    publish_at = graphene.DateTime()
    expires_at = graphene.DateTime()
    send_sms = graphene.Boolean()
    sms_text = graphene.String()

    class Meta:
        name = "VillageNoticeInput"


class VillageNoticePublish(BaseMutation):
    """Publish (or schedule) a notice to the province, counties, townships or stations."""

    class Meta:
        permissions = (access.PUBLISH,)

    class Arguments:
        input = NoticeInput(required=True)

    notice = graphene.Field(NoticeType)

    @classmethod
    def perform(cls, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        kind = input["kind"]
        data = services.NoticeInput(
            title=input["title"],
            body=input["body"],
            kind=getattr(kind, "value", kind),
            issuer=input.get("issuer") or "",
            whole_province=bool(input.get("whole_province")),
            county_ids=[_int_id(v, "countyIds") for v in input.get("county_ids") or []],
            township_ids=[_int_id(v, "townshipIds") for v in input.get("township_ids") or []],
            station_ids=[_int_id(v, "stationIds") for v in input.get("station_ids") or []],
            publish_at=input.get("publish_at"),
            expires_at=input.get("expires_at"),
            send_sms=bool(input.get("send_sms")),
            sms_text=input.get("sms_text") or "",
        )
        return {"notice": services.save_notice(user, data)}


class VillageNoticeConfirm(BaseMutation):
    """Station staff mark a notice read, or posted on the station wall."""

    class Meta:
        permissions = (access.STATION_WORK,)

    class Arguments:
        receipt_id = graphene.ID(required=True)
        posted = graphene.Boolean(description="true: posted on the wall (implies read)")

    notice = graphene.Field(StationNoticeType)

    @classmethod
    def perform(cls, info: Any, receipt_id: str, posted: bool = False) -> dict[str, Any]:
        user = info.context.user
        receipt = (
            access.managed_receipts(user).select_related("notice").get(pk=_int_id(receipt_id, "receiptId"))
        )
        receipt = services.confirm_posted(user, receipt) if posted else services.mark_read(user, receipt)
        return {"notice": _station_notice(receipt)}


class VillageSmsPreferenceSet(BaseMutation):
    class Meta:
        permissions = (access.STATION_WORK,)

    class Arguments:
        household_id = graphene.ID(required=True)
        opted_in = graphene.Boolean(required=True)

    opted_in = graphene.Boolean()

    @classmethod
    def perform(cls, info: Any, household_id: str, opted_in: bool) -> dict[str, Any]:
        user = info.context.user
        household = permissions.managed_households(user).get(pk=_int_id(household_id, "householdId"))
        return {"opted_in": services.set_sms_preference(user, household, opted_in).opted_in}


class AnswerRowInput(graphene.InputObjectType):
    crop = graphene.String(required=True)
    area_mu = graphene.String(description="Planned area in mu; empty removes the crop")
    fertilizer_kg = graphene.String()
    seed_kg = graphene.String()

    class Meta:
        name = "VillageSurveyAnswerRow"


class VillageSurveyCreate(BaseMutation):
    class Meta:
        permissions = (access.COUNTY_WORK,)

    class Arguments:
        county_id = graphene.ID(required=True)
        title = graphene.String(required=True)
        season = graphene.String(required=True)
        opens_on = graphene.Date(required=True)
        closes_on = graphene.Date(required=True)
        crops = graphene.List(graphene.NonNull(graphene.String), required=True)

    survey = graphene.Field(SurveyType)

    @classmethod
    def perform(cls, info: Any, county_id: str, **data: Any) -> dict[str, Any]:
        user = info.context.user
        county = access.counties_for(user).filter(pk=_int_id(county_id, "countyId")).first()
        if county is None:
            raise PermissionDenied(_("只能为您负责的县区发起调查"))
        return {"survey": services.create_survey(user, county, **data)}


class VillageSurveyAnswerSave(BaseMutation):
    """Replace one household's answers (station staff, by phone or from a paper sheet)."""

    class Meta:
        permissions = (access.STATION_WORK,)

    class Arguments:
        survey_id = graphene.ID(required=True)
        household_id = graphene.ID(required=True)
        method = graphene.String(required=True, description="phone, paper or visit")
        rows = graphene.List(graphene.NonNull(AnswerRowInput), required=True)

    saved = graphene.Int()

    @classmethod
    def perform(
        cls, info: Any, survey_id: str, household_id: str, method: str, rows: list[Any]
    ) -> dict[str, Any]:
        user = info.context.user
        survey = access.surveys_for(user).get(pk=_int_id(survey_id, "surveyId"))
        household = (
            access.answerable_households(user)
            .select_related("station")
            .get(pk=_int_id(household_id, "householdId"))
        )
        answers = [
            services.AnswerRow(
                r["crop"], r.get("area_mu") or None, r.get("fertilizer_kg") or 0, r.get("seed_kg") or 0
            )
            for r in rows
        ]
        saved = services.save_answers(user, survey, household, answers, method, field_prefix="rows.")
        return {"saved": len(saved)}


class VillageQuestionAsk(BaseMutation):
    class Meta:
        permissions = (access.STATION_WORK,)

    class Arguments:
        station_id = graphene.ID(required=True)
        household_id = graphene.ID()
        crop = graphene.String(required=True)
        topic = TopicEnum(required=True)
        text = graphene.String(required=True)

    question = graphene.Field(QuestionType)

    @classmethod
    def perform(
        cls, info: Any, station_id: str, crop: str, topic: Any, text: str, household_id: str | None = None
    ):
        user = info.context.user
        station = access.askable_stations(user).get(pk=_int_id(station_id, "stationId"))
        household = None
        if household_id:
            household = permissions.managed_households(user).get(pk=_int_id(household_id, "householdId"))
        question = services.ask_question(user, station, crop, getattr(topic, "value", topic), text, household)
        return {"question": question}


class VillageQuestionAnswer(BaseMutation):
    class Meta:
        permissions = (access.COUNTY_WORK,)

    class Arguments:
        question_id = graphene.ID(required=True)
        text = graphene.String(required=True)

    question = graphene.Field(QuestionType)

    @classmethod
    def perform(cls, info: Any, question_id: str, text: str) -> dict[str, Any]:
        user = info.context.user
        question = (
            access.questions_for(user).select_related("household").get(pk=_int_id(question_id, "questionId"))
        )
        services.answer_question(user, question, text)
        return {"question": question}


class VillageGrainPriceRecord(BaseMutation):
    class Meta:
        permissions = (access.COUNTY_WORK,)

    class Arguments:
        county_id = graphene.ID(required=True)
        commodity = graphene.String(required=True)
        unit = graphene.String(required=True)
        price = graphene.String(required=True, description="Yuan, at most 2 decimal places")
        observed_on = graphene.Date(required=True)
        note = graphene.String()

    price = graphene.Field(PriceRowType)

    @classmethod
    def perform(cls, info: Any, county_id: str, note: str = "", **data: Any) -> dict[str, Any]:
        user = info.context.user
        county = access.counties_for(user).filter(pk=_int_id(county_id, "countyId")).first()
        if county is None:
            raise PermissionDenied(_("只能录入您负责县区的价格"))
        p = services.record_grain_price(user, county, note=note, **data)
        return {
            "price": PriceRowType(
                kind=p.kind,
                commodity=p.commodity,
                unit=p.unit,
                price=p.price,
                observed_on=p.observed_on,
                source=p.source,
                previous=None,
            )
        }


class VillageInfoMutations(graphene.ObjectType):
    village_notice_publish = VillageNoticePublish.Field()
    village_notice_confirm = VillageNoticeConfirm.Field()
    village_sms_preference_set = VillageSmsPreferenceSet.Field()
    village_survey_create = VillageSurveyCreate.Field()
    village_survey_answer_save = VillageSurveyAnswerSave.Field()
    village_question_ask = VillageQuestionAsk.Field()
    village_question_answer = VillageQuestionAnswer.Field()
    village_grain_price_record = VillageGrainPriceRecord.Field()

"""GraphQL for the village information service: typed errors, same rules as the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from plugins.village_info import services
from plugins.village_info.models import NoticeReceipt, SurveyAnswer

pytestmark = pytest.mark.django_db

PUBLISH = """mutation($input: VillageNoticeInput!) { villageNoticePublish(input: $input) {
  notice { id title status stationsReached } errors { field code message } } }"""
NOTICES = "{ villageNotices(first: 10) { totalCount items { receiptId readAt notice { title } } } }"
CONFIRM = """mutation($id: ID!) { villageNoticeConfirm(receiptId: $id, posted: true) {
  notice { postedAt readAt } errors { field code message } } }"""


def test_publish_read_and_confirm(gql, committed, county_staff, county, staff_a, staff_b, station_a, station_b):
    with committed():
        data = gql(county_staff)(
            PUBLISH, {"input": {"title": "春耕指导", "body": "正文", "kind": "GUIDANCE", "countyIds": [str(county.pk)]}}
        )["data"]["villageNoticePublish"]
    assert data["errors"] == [] and data["notice"]["status"] == "published"
    listed = gql(staff_a)(NOTICES)["data"]["villageNotices"]
    assert listed["totalCount"] == 1 and listed["items"][0]["notice"]["title"] == "春耕指导"
    receipt = listed["items"][0]["receiptId"]
    confirmed = gql(staff_a)(CONFIRM, {"id": receipt})["data"]["villageNoticeConfirm"]
    assert confirmed["errors"] == [] and confirmed["notice"]["postedAt"] and confirmed["notice"]["readAt"]
    # Station B's staff cannot confirm station A's copy.
    refused = gql(staff_b)(CONFIRM, {"id": receipt})["data"]["villageNoticeConfirm"]
    assert refused["errors"][0]["code"] == "NOT_FOUND"
    assert NoticeReceipt.objects.get(pk=receipt).posted_by == staff_a


def test_publish_errors_are_typed(gql, county_staff, other_county, staff_a, county):
    out = gql(county_staff)(
        PUBLISH, {"input": {"title": "x", "body": "y", "kind": "POLICY", "countyIds": [str(other_county.pk)]}}
    )["data"]["villageNoticePublish"]
    assert out["notice"] is None and out["errors"][0]["field"] == "countyIds"
    out = gql(county_staff)(
        PUBLISH, {"input": {"title": "x", "body": "y", "kind": "POLICY", "countyIds": ["1; drop"]}}
    )["data"]["villageNoticePublish"]
    # Refused at the edge (the GraphQL input bounds), naming the field.
    assert out["errors"][0]["field"].endswith("countyIds") and out["errors"][0]["code"] == "INVALID"
    out = gql(staff_a)(
        PUBLISH, {"input": {"title": "x", "body": "y", "kind": "POLICY", "countyIds": [str(county.pk)]}}
    )["data"]["villageNoticePublish"]
    assert out["errors"][0]["code"] == "PERMISSION_DENIED"
    anonymous = gql(None)(NOTICES)["data"]["villageNotices"]
    assert anonymous["totalCount"] == 0


def test_survey_answers_through_graphql(gql, county_staff, county, staff_a, staff_b, household_a):
    today = timezone.localdate()
    survey = services.create_survey(county_staff, county, "调查", "春播", today, today + timedelta(days=5), ["玉米"])
    save = """mutation($s: ID!, $h: ID!, $rows: [VillageSurveyAnswerRow!]!) {
      villageSurveyAnswerSave(surveyId: $s, householdId: $h, method: "phone", rows: $rows) { saved errors { field code message } } }"""
    ok = gql(staff_a)(save, {"s": survey.pk, "h": household_a.pk, "rows": [{"crop": "玉米", "areaMu": "18.5"}]})
    assert ok["data"]["villageSurveyAnswerSave"] == {"saved": 1, "errors": []}
    bad = gql(staff_a)(save, {"s": survey.pk, "h": household_a.pk, "rows": [{"crop": "玉米", "areaMu": "1.005"}]})
    assert bad["data"]["villageSurveyAnswerSave"]["errors"][0]["field"] == "rows.0.areaMu"
    other = gql(staff_b)(save, {"s": survey.pk, "h": household_a.pk, "rows": [{"crop": "玉米", "areaMu": "3"}]})
    assert other["data"]["villageSurveyAnswerSave"]["errors"][0]["code"] == "NOT_FOUND"
    assert SurveyAnswer.objects.get().area_mu == 18.5
    totals = gql(county_staff)(
        'query($s: ID!) { villageSurveyTotals(surveyId: $s, level: "county") { crop areaMu households } }',
        {"s": survey.pk},
    )["data"]["villageSurveyTotals"]
    assert totals == [{"crop": "玉米", "areaMu": "18.50", "households": 1}]


def test_question_ask_and_answer(gql, committed, staff_a, station_a, agronomist, household_a):
    asked = gql(staff_a)(
        """mutation($s: ID!, $h: ID) { villageQuestionAsk(stationId: $s, householdId: $h, crop: "玉米", topic: PEST,
        text: "叶子发黄") { question { id status } errors { field code } } }""",
        {"s": station_a.pk, "h": household_a.pk},
    )["data"]["villageQuestionAsk"]
    assert asked["errors"] == [] and asked["question"]["status"] == "open"
    with committed():
        answered = gql(agronomist)(
            'mutation($q: ID!) { villageQuestionAnswer(questionId: $q, text: "追施尿素") { question { status answers { text } } errors { code } } }',
            {"q": asked["question"]["id"]},
        )["data"]["villageQuestionAnswer"]
    assert answered["errors"] == [] and answered["question"]["answers"] == [{"text": "追施尿素"}]
    refused = gql(staff_a)(
        'mutation($q: ID!) { villageQuestionAnswer(questionId: $q, text: "我来答") { errors { code } } }',
        {"q": asked["question"]["id"]},
    )["data"]["villageQuestionAnswer"]
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"

"""The village information pages in English: no Chinese outside data for each role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from testkit import CJK, data_strings, english_client, ui_outside_data

from plugins.village_info import services

pytestmark = pytest.mark.django_db


def english_page(client, url: str, data: list[str]) -> str:
    html = client.get(url).content.decode()
    assert '<html lang="en">' in html, url
    left = ui_outside_data(html, data)
    assert not CJK.search(left), f"{url}: {''.join(CJK.findall(left))}"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    try:
        assert CJK.search(ui_outside_data(client.get(url).content.decode(), data)), url
    finally:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return html


def test_pages_in_english(django_capture_on_commit_callbacks, county_staff, county, station_a, staff_a, household_a, agronomist):
    with django_capture_on_commit_callbacks(execute=True):
        notice = services.save_notice(
            county_staff, services.NoticeInput(title="春耕指导", body="正文", kind="guidance", county_ids=[county.pk])
        )
    today = timezone.localdate()
    survey = services.create_survey(county_staff, county, "意向调查", "春播", today, today + timedelta(days=3), ["玉米"])
    services.save_answers(staff_a, survey, household_a, [services.AnswerRow("玉米", "10", "400", "20")], "phone")
    question = services.ask_question(staff_a, station_a, "玉米", "pest", "叶子发黄", household_a)
    services.answer_question(agronomist, question, "追肥")
    services.record_grain_price(county_staff, county, "玉米", "元/斤", "1.12", today)
    data = data_strings(staff_a, station_a, household_a, county, county_staff, agronomist) + [
        "春耕指导", "正文", "意向调查", "春播", "玉米", "叶子发黄", "追肥", "元/斤", "#",
    ]
    staff = english_client(staff_a)
    for url in (
        reverse("info:notices"), reverse("info:notice", args=[notice.pk]), reverse("info:sms"),
        reverse("info:prices"), reverse("info:surveys"), reverse("info:survey", args=[survey.pk]),
        reverse("info:survey-answer", args=[survey.pk, household_a.pk]), reverse("info:survey-import", args=[survey.pk]),
        reverse("info:questions"), reverse("info:question-new"), reverse("info:question", args=[question.pk]),
        reverse("info:question-archive"),
    ):
        english_page(staff, url, data)
    county_client = english_client(county_staff)
    for url in (
        reverse("info:notices"), reverse("info:notice-new"), reverse("info:notice", args=[notice.pk]),
        reverse("info:survey-new"), reverse("info:survey", args=[survey.pk]) + "?level=county",
        reverse("info:question-stats"), reverse("info:price-import"),
        reverse("info:price-history") + "?commodity=玉米",
    ):
        english_page(county_client, url, data)

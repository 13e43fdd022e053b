"""Surveys (answers, totals by level, import all-or-nothing, demand figures), expert questions
(photos, answers by SMS, archive, response times) and prices, each with the tenancy refusals."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from testkit import make_user

from marketplace.accounts.models import Role
from marketplace.core import extensions
from marketplace.core.models import Notification
from marketplace.stations.models import CountyAssignment, Household
from plugins.village_info import imports, services
from plugins.village_info.models import PriceKind, PricePoint, Question, QuestionStatus, SurveyAnswer

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def survey(county_staff, county):
    return services.create_survey(
        county_staff, county, "春耕种植意向", "2027年春播", TODAY - timedelta(days=1), TODAY + timedelta(days=10),
        ["玉米", "大豆"],
    )


def rows(*items):
    return [services.AnswerRow(*i) for i in items]


def test_answers_and_totals_by_level(survey, staff_a, staff_b, household_a, household_b, county_staff, station_a):
    services.save_answers(staff_a, survey, household_a, rows(("玉米", "20", "900", "50"), ("大豆", "10")), "phone")
    services.save_answers(staff_b, survey, household_b, rows(("玉米", "12.5", "500", "30")), "paper")
    county_total = services.survey_totals(county_staff, survey, "county")
    maize = next(t for t in county_total if t.crop == "玉米")
    assert (maize.households, maize.area_mu, maize.fertilizer_kg) == (2, Decimal("32.50"), Decimal("1400.0"))
    # Staff of station A see only their own households' answers.
    mine = services.survey_totals(staff_a, survey, "station")
    assert {(t.label, t.crop, t.area_mu) for t in mine} == {(station_a.name, "玉米", Decimal("20.00")), (station_a.name, "大豆", Decimal("10.00"))}
    # Re-saving replaces; an empty area removes the crop.
    services.save_answers(staff_a, survey, household_a, rows(("玉米", "25"), ("大豆", None)), "phone")
    assert list(SurveyAnswer.objects.filter(household=household_a).values_list("crop__name", "area_mu")) == [("玉米", Decimal("25.00"))]


def test_answers_are_validated_and_scoped(survey, staff_a, staff_b, household_a, household_b):
    for bad, field in [
        (("玉米", "-3"), "row0.area_mu"),
        (("玉米", "0"), "row0.area_mu"),
        (("玉米", "10.123"), "row0.area_mu"),
        (("玉米", "abc"), "row0.area_mu"),
        (("小麦", "10"), "row0.crop"),
        (("玉米", "10", "1e9"), "row0.fertilizer_kg"),
    ]:
        with pytest.raises(ValidationError) as exc:
            services.save_answers(staff_a, survey, household_a, rows(bad), "phone", field_prefix="row")
        assert field in exc.value.error_dict, (bad, exc.value)
    with pytest.raises(PermissionDenied):
        services.save_answers(staff_a, survey, household_b, rows(("玉米", "10")), "phone")
    assert not SurveyAnswer.objects.exists()


def test_closed_survey_takes_no_answers(survey, county_staff, staff_a, household_a):
    services.close_survey(county_staff, survey)
    with pytest.raises(ValidationError):
        services.save_answers(staff_a, survey, household_a, rows(("玉米", "10")), "phone")
    with pytest.raises(PermissionDenied):
        services.close_survey(staff_a, survey)


def _csv(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("sheet.csv", ("\ufeff" + text).encode(), content_type="text/csv")


def test_import_is_all_or_nothing_with_row_and_column(survey, staff_a, household_a, household_b, station_a):
    second = Household.objects.create(station=station_a, village=station_a.village, name="王福", phone="13600000002")
    header = ",".join(imports.SURVEY_HEADERS)
    bad = _csv(f"{header}\n{household_a.pk},张国华,玉米,20,800,40\n{second.pk},王福,玉米,-5,,\n{household_b.pk},李春明,玉米,5,,\n")
    result = imports.import_survey_answers(staff_a, survey, bad)
    assert not result.ok and result.created == 0
    found = {(e.row, e.column) for e in result.errors}
    assert (4, "农户编号") in found  # another station's household
    assert not SurveyAnswer.objects.exists()
    result = imports.import_survey_answers(staff_a, survey, bad_fixed := _csv(f"{header}\n{second.pk},王福,玉米,-5,,\n"))
    assert [(e.row, e.column) for e in result.errors] == [(2, "面积(亩)")]
    assert bad_fixed
    good = _csv(f"{header}\n{household_a.pk},张国华,玉米,20,800,40\n{household_a.pk},张国华,大豆,6,,\n{second.pk},王福,玉米,8,300,\n")
    result = imports.import_survey_answers(staff_a, survey, good)
    assert result.ok and result.created == 3
    assert SurveyAnswer.objects.filter(survey=survey).count() == 3
    missing = imports.import_survey_answers(staff_a, survey, _csv("农户编号,作物\n1,玉米\n"))
    assert [(e.row, e.column) for e in missing.errors] == [(1, "面积(亩)")]


def test_template_lists_only_own_households(survey, staff_a, household_a, household_b):
    client = Client()
    client.force_login(staff_a)
    text = client.get(reverse("info:survey-template", args=[survey.pk])).content.decode()
    assert household_a.name in text and household_b.name not in text


def test_survey_totals_feed_the_county_demand_view(survey, staff_a, household_a, county, other_county):
    services.save_answers(staff_a, survey, household_a, rows(("玉米", "20", "900", "50")), "phone")
    figures = extensions.demand_figures([county.pk])
    kinds = {(f.category, f.unit, f.quantity) for f in figures if f.source == "village-info"}
    assert ("玉米", "亩", Decimal("20.00")) in kinds and ("fertilizer", "kg", Decimal("900.0")) in kinds
    assert extensions.demand_figures([other_county.pk]) == []


def test_county_users_see_only_their_county(survey, county, other_county, staff_a, household_a):
    services.save_answers(staff_a, survey, household_a, rows(("玉米", "20")), "phone")
    outsider = make_user("outsider", Role.COUNTY_STAFF)
    CountyAssignment.objects.create(county=other_county, user=outsider)
    client = Client()
    client.force_login(outsider)
    assert client.get(reverse("info:survey", args=[survey.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        services.create_survey(outsider, county, "x", "y", TODAY, TODAY, ["玉米"])


# --- Questions ----------------------------------------------------------------------------------


def _png() -> SimpleUploadedFile:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(buf, "PNG")
    return SimpleUploadedFile("leaf.png", buf.getvalue(), content_type="image/png")


def test_question_answered_by_sms_and_shown_to_the_station(
    committed, staff_a, station_a, household_a, agronomist, staff_b
):
    question = services.ask_question(staff_a, station_a, "玉米", "pest", "叶片有白色条纹", household_a, [_png()])
    assert question.photos.count() == 1
    with committed():
        services.answer_question(agronomist, question, "疑似粗缩病，拔除病株。")
    question.refresh_from_db()
    assert question.status == QuestionStatus.ANSWERED and question.answered_at is not None
    sms = Notification.objects.get(dedupe_key__startswith="village:answer:")
    assert sms.recipient == household_a.phone and "粗缩病" in sms.text and sms.status == "sent"
    client = Client()
    client.force_login(staff_a)
    page = client.get(reverse("info:question", args=[question.pk])).content.decode()
    assert "疑似粗缩病" in page
    photo = question.photos.get()
    assert client.get(reverse("info:question-photo", args=[question.pk, photo.pk])).status_code == 200
    other = Client()
    other.force_login(staff_b)
    assert other.get(reverse("info:question", args=[question.pk])).status_code == 404
    assert other.get(reverse("info:question-photo", args=[question.pk, photo.pk])).status_code == 404


def test_question_refusals(staff_a, staff_b, station_a, household_b, agronomist, other_county):
    with pytest.raises(PermissionDenied):
        services.ask_question(staff_b, station_a, "玉米", "pest", "x")
    with pytest.raises(ValidationError) as exc:
        services.ask_question(staff_a, station_a, "玉米", "pest", "x", household_b)
    assert "household" in exc.value.error_dict
    fake = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    with pytest.raises(ValidationError) as exc:
        services.ask_question(staff_a, station_a, "玉米", "pest", "x", photos=[fake])
    assert "photos" in exc.value.error_dict
    big = SimpleUploadedFile("x.jpg", b"0" * (5 * 1024 * 1024 + 1), content_type="image/jpeg")
    with pytest.raises(ValidationError):
        services.ask_question(staff_a, station_a, "玉米", "pest", "x", photos=[big])
    question = services.ask_question(staff_a, station_a, "玉米", "pest", "x")
    outsider = make_user("far_agro", Role.AGRONOMIST)
    CountyAssignment.objects.create(county=other_county, user=outsider)
    with pytest.raises(PermissionDenied):
        services.answer_question(outsider, question, "y")
    with pytest.raises(PermissionDenied):
        services.answer_question(staff_a, question, "y")
    assert not Question.objects.filter(status=QuestionStatus.ANSWERED).exists()


def test_archive_search_and_response_times(staff_a, station_a, agronomist):
    q1 = services.ask_question(staff_a, station_a, "玉米", "pest", "玉米螟怎么防")
    q2 = services.ask_question(staff_a, station_a, "大豆", "fertilizer", "大豆追肥")
    services.ask_question(staff_a, station_a, "水稻", "other", "还没人答")
    Question.objects.filter(pk=q1.pk).update(created_at=timezone.now() - timedelta(hours=10))
    Question.objects.filter(pk=q2.pk).update(created_at=timezone.now() - timedelta(hours=30))
    services.answer_question(agronomist, Question.objects.get(pk=q1.pk), "释放赤眼蜂")
    services.answer_question(agronomist, Question.objects.get(pk=q2.pk), "花期喷施叶面肥")
    assert [q.pk for q in services.question_archive(staff_a, q="赤眼蜂")] == [q1.pk]
    assert [q.pk for q in services.question_archive(staff_a, crop="大豆")] == [q2.pk]
    (row,) = services.response_times(agronomist)
    assert (row.asked, row.answered, row.open) == (3, 2, 1)
    assert row.within_24h == 0.5 and 9.9 <= row.median_hours <= 20.1


# --- Prices -------------------------------------------------------------------------------------


def test_grain_prices_board_history_and_refusals(county_staff, county, other_county, staff_a, station_a):
    services.record_grain_price(county_staff, county, "玉米", "元/斤", "1.10", TODAY - timedelta(days=3))
    services.record_grain_price(county_staff, county, "玉米", "元/斤", "1.15", TODAY)
    (row,) = [r for r in services.price_board(county) if r.kind == PriceKind.GRAIN]
    assert (row.price, row.previous, row.change) == (Decimal("1.15"), Decimal("1.10"), Decimal("0.05"))
    assert len(services.price_history("玉米", county)) == 2
    for value in ("1.123", "-1", "0", "abc", "1e12"):
        with pytest.raises(ValidationError) as exc:
            services.record_grain_price(county_staff, county, "玉米", "元/斤", value, TODAY)
        assert "price" in exc.value.error_dict
    with pytest.raises(ValidationError):
        services.record_grain_price(county_staff, county, "玉米", "元/斤", "1.2", TODAY + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        services.record_grain_price(county_staff, other_county, "玉米", "元/斤", "1.2", TODAY)
    with pytest.raises(PermissionDenied):
        services.record_grain_price(staff_a, county, "玉米", "元/斤", "1.2", TODAY)
    client = Client()
    client.force_login(staff_a)
    board = client.get(reverse("info:prices")).content.decode()
    assert "玉米" in board and "1.15" in board and 'name="price"' not in board  # staff read, not write
    sheet = client.get(reverse("info:price-sheet"))
    assert sheet.content.startswith(b"%PDF")


def test_price_import_all_or_nothing(county_staff, county):
    good = _csv("日期,品名,单位,价格,备注\n2026-11-20,玉米,元/斤,1.12,\n2026-11-21,大豆,元/斤,2.40,收购点\n")
    assert imports.import_grain_prices(county_staff, county, good).created == 2
    bad = _csv("日期,品名,单位,价格\n2026-11-22,玉米,元/斤,1.13\n2026-11-22,水稻,元/斤,abc\nxx,水稻,元/斤,1.3\n")
    result = imports.import_grain_prices(county_staff, county, bad)
    assert {(e.row, e.column) for e in result.errors} == {(3, "价格"), (4, "日期")}
    assert PricePoint.objects.filter(kind=PriceKind.GRAIN).count() == 2


def test_input_prices_come_from_the_marketplace(product_classes, supplier, county):
    from testkit import make_fertilizer

    make_fertilizer(product_classes, supplier, "NPK-1", "复合肥 15-15-15 40kg")
    assert services.snapshot_input_prices(TODAY) >= 1
    assert services.snapshot_input_prices(TODAY) >= 1  # again the same day: no duplicates
    listed = PricePoint.objects.filter(kind=PriceKind.INPUT, county__isnull=True)
    assert listed.count() == 1 and listed.get().commodity == "复合肥 15-15-15 40kg"
    assert any(r.commodity == "复合肥 15-15-15 40kg" for r in services.price_board(county))

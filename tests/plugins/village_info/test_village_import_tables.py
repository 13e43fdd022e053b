"""Survey and grain-price imports read through the core table reader: GB18030 CSV with Chinese
alias headers, XLSX with numbers and dates, reader errors naming row and column with nothing
written, and the survey template coming from the same column spec."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook

from plugins.village_info import imports, services
from plugins.village_info.models import PriceKind, PricePoint, SurveyAnswer

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()


@pytest.fixture
def survey(county_staff, county):
    return services.create_survey(
        county_staff, county, "春耕种植意向", "2027年春播", TODAY - timedelta(days=1), TODAY + timedelta(days=10),
        ["玉米", "大豆"],
    )  # fmt: skip


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def xlsx(*rows: list) -> bytes:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_grain_prices_from_gb18030_with_alias_headers(county_staff, county):
    text = (
        "采价日期,名称,计价单位,单价,说明\n2026/11/20,玉米,元/斤,1.12,\n2026-11-21,大豆,元/斤,2.40,粮库收购\n"
    )
    result = imports.import_grain_prices(county_staff, county, upload("价格.csv", text.encode("gb18030")))
    assert result.ok and result.created == 2, result.errors
    soy = PricePoint.objects.get(kind=PriceKind.GRAIN, observed_on=date(2026, 11, 21))
    assert soy.price == Decimal("2.40") and soy.note == "粮库收购"


def test_grain_prices_from_xlsx_dates_and_numbers(county_staff, county):
    data = xlsx(["日期", "品名", "单位", "价格"], [date(2026, 11, 20), "玉米", "元/斤", 1.1], [None] * 4)
    result = imports.import_grain_prices(county_staff, county, upload("价格.xlsx", data))
    assert result.ok and result.created == 1, result.errors
    assert PricePoint.objects.get(kind=PriceKind.GRAIN).price == Decimal("1.10")


def test_price_reader_errors_name_row_and_column_and_write_nothing(county_staff, county):
    text = "日期,品名,单位,价格\n2026-11-20,玉米,元/斤,1.12\n2026-11-20,大\x00豆,元/斤,2.4\n"
    result = imports.import_grain_prices(county_staff, county, upload("p.csv", text.encode("gb18030")))
    assert [(e.row, e.column) for e in result.errors] == [(3, "品名")] and result.created == 0
    assert not PricePoint.objects.exists()
    dup = "日期,品名,名称,单位,价格\n2026-11-20,玉米,玉米,元/斤,1.12\n"
    result = imports.import_grain_prices(county_staff, county, upload("p.csv", dup.encode()))
    assert [(e.row, e.column, e.code) for e in result.errors] == [(1, "名称", "duplicate_column")]


def test_survey_xlsx_with_float_household_numbers_and_alias_headers(survey, staff_a, household_a):
    data = xlsx(
        ["农户ID", "户主", "作物名称", "种植面积(亩)", "计划化肥(kg)"],
        [float(household_a.pk), household_a.name, "玉米", 12.5, 600],
    )
    result = imports.import_survey_answers(staff_a, survey, upload("调查.xlsx", data))
    assert result.ok and result.created == 1, result.errors
    answer = SurveyAnswer.objects.get(household=household_a)
    assert (answer.area_mu, answer.fertilizer_kg) == (Decimal("12.50"), Decimal("600"))


def test_survey_bad_row_writes_nothing_and_bad_unit_is_named(survey, staff_a, household_a):
    text = f"农户编号,作物,面积(亩)\n{household_a.pk},玉米,20\n{household_a.pk},大豆,{'9' * 10_001}\n"
    result = imports.import_survey_answers(staff_a, survey, upload("s.csv", text.encode("gb18030")))
    assert [(e.row, e.column) for e in result.errors] == [(3, "面积(亩)")]
    assert not SurveyAnswer.objects.exists()
    text = f"农户编号,作物,面积(公顷)\n{household_a.pk},玉米,20\n"
    result = imports.import_survey_answers(staff_a, survey, upload("s.csv", text.encode()))
    assert [(e.row, e.column, e.code) for e in result.errors] == [(1, "面积(公顷)", "bad_unit")]


def test_survey_template_is_the_spec_and_imports_filled_in(survey, staff_a, household_a):
    client = Client()
    client.force_login(staff_a)
    body = client.get(reverse("info:survey-template", args=[survey.pk])).content.decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].split(",") == imports.SURVEY_SPEC.template_headers() == imports.SURVEY_HEADERS
    row = next(line for line in lines[1:] if line.startswith(f"{household_a.pk},")).split(",")
    row[3] = "8"
    filled = "\n".join([lines[0], ",".join(row)]).encode("gb18030")
    result = imports.import_survey_answers(staff_a, survey, upload("s.csv", filled))
    assert result.ok and result.created == 1, result.errors


def test_price_template_is_the_spec_and_imports_filled_in(county_staff, county):
    client = Client()
    client.force_login(county_staff)
    body = client.get(reverse("info:price-template")).content
    assert body.decode("utf-8-sig").splitlines() == [",".join(imports.PRICE_SPEC.template_headers())]
    filled = body + "2026-11-20,玉米,元/斤,1.12,\r\n".encode()
    result = imports.import_grain_prices(county_staff, county, upload("prices.csv", filled))
    assert result.ok and result.created == 1, result.errors

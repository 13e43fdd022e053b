"""The soil-test import reads through the core table reader: GB18030 with English / Chinese alias
headers and units, reader errors (NUL, over-long) naming row and column with nothing saved, and the
template download coming from the same column spec and importing as it is filled in."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from plugins.fertilizer import services
from plugins.fertilizer.models import SoilImportBatch, SoilTest

pytestmark = pytest.mark.django_db


def test_gb18030_with_aliases_full_width_units_and_extra_columns(agronomist, field_a, field_b):
    header = "地块ID,化验室,采样日期,酸碱度,有机质（％）,Alkali_N (ppm),有效磷（毫克/千克）,速效钾,样品编号,有效锌(g/kg)"
    text = "\n".join(
        [
            header,
            f"{field_a.pk},吉林省农科院𠀀检测中心,2026/4/10,6.4,2.45,125,18,140,S-1,0.0012",
            f"{field_b.pk},吉林省农科院检测中心,2026-04-11,7.1,3.1,98.5,9.2,210,S-2,",
        ]
    )
    batch = services.import_soil_tests(agronomist, "化验结果.csv", text.encode("gb18030"))
    assert batch.row_count == 2
    a = SoilTest.objects.get(field=field_a)
    assert a.lab == "吉林省农科院𠀀检测中心" and a.organic_matter_g_kg == Decimal("24.50")
    assert a.micronutrients == {"zn": 1.2}


def test_nul_and_over_long_cells_name_row_and_column_and_save_nothing(agronomist, field_a, field_b):
    header = "地块编号,检测机构,采样日期,pH,有机质(g/kg),碱解氮(mg/kg),有效磷(mg/kg),速效钾(mg/kg)"
    text = "\n".join(
        [
            header,
            f"{field_a.pk},站,2026-04-10,6.4,24.5,125,18,140",
            f"{field_b.pk},站\x00,2026-04-10,6.4,24.5,125,18,140",
            f"{field_b.pk},站,2026-04-11,6.4,24.5,125,18,{'1' * 10_001}",
        ]
    )
    with pytest.raises(services.ImportFailed) as e:
        services.import_soil_tests(agronomist, "lab.csv", text.encode("utf-8"))
    assert [(r.row, r.column, r.code) for r in e.value.row_errors] == [
        (3, "检测机构", "nul"),
        (4, "速效钾(mg/kg)", "too_long"),
    ]
    assert not SoilTest.objects.exists() and not SoilImportBatch.objects.exists()


def test_template_download_comes_from_the_spec_and_imports_filled_in(agronomist, field_a):
    client = Client()
    client.force_login(agronomist)
    body = client.get(reverse("fertilizer:import-template")).content
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0].split(",") == services.SOIL_SPEC.template_headers()
    assert lines[0].startswith("地块编号,农户,地块,检测机构,采样日期,酸碱度,有机质(g/kg)")
    row = next(line for line in lines[1:] if line.startswith(f"{field_a.pk},")).split(",")
    row[3:9] = ["县土肥站", "2026-04-10", "6.4", "24.5", "125", "18"]
    row[9] = "140"
    filled = "\n".join([lines[0], ",".join(row)]).encode("utf-8-sig")
    assert services.import_soil_tests(agronomist, "template.csv", filled).row_count == 1
    xlsx = client.get(reverse("fertilizer:import-template") + "?format=xlsx").content
    sheet = load_workbook(io.BytesIO(xlsx), read_only=True).worksheets[0]
    assert list(next(sheet.iter_rows(values_only=True))) == services.SOIL_SPEC.template_headers()

"""The produce lot import reads through the core table reader: GB18030 CSV with Chinese alias
headers, XLSX with numbers and dates, reader errors naming row and column with nothing written."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from openpyxl import Workbook

from plugins.produce import services
from plugins.produce.models import Lot

pytestmark = pytest.mark.django_db

ZH_HEADER = "批次追溯码,作物,品种,等级,采收日期,产地村,纬度,经度,总重量(公斤),销售单位,每件重量(kg),单价,可售数量,认证类型,证书编号,证书有效期"


def row(code: str, **change: str) -> str:
    values = {"code": code, "crop": "rice", "variety": "稻花香", "grade": "一级",
              "harvest_date": str(timezone.localdate()), "origin": "齐家村", "lat": "43.4", "lon": "125.7",
              "qty": "100", "unit": "bag", "pack": "10", "price": "120", "units": "5", "kind": "green",
              "number": "LB-18-2101", "expires": "2030-06-30"}  # fmt: skip
    values.update(change)
    return ",".join(values.values())


def test_gb18030_csv_with_chinese_headers(coop_user, coop):
    text = "\n".join([ZH_HEADER, row("ZH-001"), row("ZH-002", kind="", number="", expires="")])
    lots, problems = services.import_lots(coop_user, coop, text.encode("gb18030"), "批次.csv")
    assert problems == [] and [lot.code for lot in lots] == ["ZH-001", "ZH-002"]
    assert Lot.objects.get(code="ZH-001").variety == "稻花香"


def test_xlsx_numbers_and_dates(coop_user, coop):
    wb = Workbook()
    ws = wb.active
    ws.append(services.IMPORT_COLUMNS)
    ws.append(
        [
            "XL-001",
            "rice",
            "稻花香",
            "一级",
            timezone.localdate(),
            "齐家村",
            43.4,
            125.7,
            100,
            "bag",
            2.5,
            49.9,
            20,
        ]
    )
    out = io.BytesIO()
    wb.save(out)
    lots, problems = services.import_lots(coop_user, coop, out.getvalue(), "lots.xlsx")
    assert problems == [], [str(p) for p in problems]
    unit = lots[0].sale_units.get()
    assert (str(unit.pack_kg.normalize()), str(unit.price)) == ("2.5", "49.90")


def test_a_bad_row_writes_nothing_and_names_row_and_column(coop_user, coop):
    later = str(timezone.localdate() + timedelta(days=3))
    text = "\n".join(
        [ZH_HEADER, row("ZH-001"), row("ZH-002", harvest_date=later), row("ZH-003", variety="稻\x00花")]
    )
    lots, problems = services.import_lots(coop_user, coop, text.encode("gb18030"), "批次.csv")
    assert lots == [] and [(p.row, p.column) for p in problems] == [(3, "采收日期"), (4, "品种")]
    with translation.override("zh-hans"):
        assert str(problems[0]).startswith("第3行 采收日期")
    with translation.override("en"):
        assert str(problems[0]).startswith("Row 3 采收日期")
    assert not Lot.objects.exists()


def test_missing_and_unknown_columns_are_named(coop_user, coop):
    lots, problems = services.import_lots(coop_user, coop, "code,crop,颜色\nA,rice,红\n".encode(), "x.csv")
    columns = {(p.row, p.column, p.code) for p in problems}
    assert (1, "颜色", "unknown_column") in columns and (1, "variety", "missing_column") in columns
    assert lots == [] and not Lot.objects.exists()

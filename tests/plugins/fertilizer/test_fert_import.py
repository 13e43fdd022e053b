"""Bulk import of soil-test lab files: CSV and XLSX, all-or-nothing, every bad row reported."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook

from plugins.fertilizer import services
from plugins.fertilizer.models import FarmField, SoilImportBatch, SoilTest

HEADER = "地块编号,检测机构,采样日期,pH,有机质(g/kg),碱解氮(mg/kg),有效磷(mg/kg),速效钾(mg/kg),有效锌(mg/kg)"


def _csv(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def test_csv_import_creates_all_rows(agronomist, field_a, field_b):
    text = _csv(
        f"{field_a.pk},双阳区土肥站,2026-04-10,6.4,24.5,125,18,140,1.2",
        f"{field_b.pk},双阳区土肥站,2026/04/11,7.1,31,98.5,9.2,210,",
    )
    batch = services.import_soil_tests(agronomist, "lab.csv", text.encode("utf-8"))
    assert batch.row_count == 2
    a = SoilTest.objects.get(field=field_a)
    assert (a.ph, a.organic_matter_g_kg, a.alkali_n_mg_kg) == (
        Decimal("6.40"),
        Decimal("24.50"),
        Decimal("125.00"),
    )
    assert a.micronutrients == {"zn": 1.2} and a.batch == batch and a.created_by == agronomist
    assert SoilTest.objects.get(field=field_b).sample_date == date(2026, 4, 11)


def test_gbk_csv_and_unit_conversion(agronomist, field_a):
    header = "field_id,lab,sample_date,ph,有机质(%),碱解氮(ppm),olsen_p,available_k,备注"
    text = _csv(f"{field_a.pk},县土肥站,2026-04-10,6.0,2.45,125,18,140,东坡", header=header)
    services.import_soil_tests(agronomist, "lab.csv", text.encode("gbk"))
    assert SoilTest.objects.get(field=field_a).organic_matter_g_kg == Decimal("24.50")


def test_every_bad_row_is_reported_and_nothing_saved(agronomist, field_a, field_b, field_far):
    SoilTest.objects.create(
        field=field_b,
        lab="x",
        sample_date="2026-03-01",
        ph=7,
        organic_matter_g_kg=20,
        alkali_n_mg_kg=100,
        olsen_p_mg_kg=10,
        available_k_mg_kg=100,
    )
    text = _csv(
        f"{field_a.pk},站,2026-04-10,6.4,24.5,125,18,140,",  # good
        f"{field_a.pk},站,2026-04-10,6.4,24.5,125,18,140,",  # duplicate in file
        f"{field_b.pk},站,2026-03-01,6.4,24.5,125,18,140,",  # duplicate in DB
        f"{field_a.pk},站,2026-05-01,14,24.5,abc,18,9999,",  # pH range, N not a number, K range
        f"{field_far.pk},站,2026-04-10,6.4,24.5,125,18,140,",  # other county: not allowed
        "999999,,2030-01-01,6.4,24.5,125,18,140,",  # unknown field, lab missing, future date
    )
    with pytest.raises(services.ImportFailed) as e:
        services.import_soil_tests(agronomist, "lab.csv", text)
    got = {(r.row, r.column, r.code) for r in e.value.row_errors}
    assert got == {
        (3, "采样日期", "duplicate"),
        (4, "采样日期", "duplicate"),
        (5, "pH", "out_of_range"),
        (5, "碱解氮", "invalid"),
        (5, "速效钾", "out_of_range"),
        (6, "地块编号", "not_found"),
        (7, "地块编号", "not_found"),
        (7, "检测机构", "required"),
        (7, "采样日期", "invalid"),
    }
    assert "第5行 速效钾" in str(next(r for r in e.value.row_errors if r.column == "速效钾"))
    assert SoilTest.objects.count() == 1 and not SoilImportBatch.objects.exists()


def test_header_problems(agronomist, field_a):
    with pytest.raises(services.ImportFailed) as e:
        services.import_soil_tests(
            agronomist, "lab.csv", "地块编号,检测机构,采样日期,pH,有机质(kg/t)\n1,a,2026-01-01,6,2\n"
        )
    codes = {(r.row, r.code) for r in e.value.row_errors}
    assert (1, "bad_unit") in codes and (1, "missing_column") in codes
    missing = {r.column for r in e.value.row_errors if r.code == "missing_column"}
    assert missing == {"碱解氮", "有效磷", "速效钾"}
    with pytest.raises(services.ImportFailed):
        services.import_soil_tests(agronomist, "lab.csv", "")


def test_xlsx_import(agronomist, field_a, field_b):
    wb = Workbook()
    ws = wb.active
    ws.append(
        [
            "地块编号",
            "检测机构",
            "采样日期",
            "pH",
            "有机质(g/kg)",
            "碱解氮(mg/kg)",
            "有效磷(mg/kg)",
            "速效钾(mg/kg)",
        ]
    )
    ws.append([field_a.pk, "土肥站", date(2026, 4, 10), 6.4, 24.5, 125, 18, 140])
    ws.append([field_b.pk, "土肥站", "2026-04-12", 6.8, 30, 110, 2000, 150])  # Olsen-P implausible
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(services.ImportFailed) as e:
        services.import_soil_tests(agronomist, "lab.xlsx", buf.getvalue())
    assert [(r.row, r.column) for r in e.value.row_errors] == [(3, "有效磷")]
    ws.cell(row=3, column=7, value=20)
    buf = io.BytesIO()
    wb.save(buf)
    batch = services.import_soil_tests(agronomist, "lab.xlsx", buf.getvalue())
    assert batch.row_count == 2 and SoilTest.objects.filter(field=field_b, olsen_p_mg_kg=20).exists()


def test_corrupt_xlsx_reported(agronomist):
    with pytest.raises(services.ImportFailed) as e:
        services.import_soil_tests(agronomist, "lab.xlsx", b"not a zip file")
    assert e.value.row_errors[0].code == "unreadable"


def test_import_tenancy(staff_a, staff_b, farmer_a, field_a):
    row = _csv(f"{field_a.pk},站,2026-04-10,6.4,24.5,125,18,140,")
    with pytest.raises(services.ImportFailed) as e:  # station B staff: field of station A not found
        services.import_soil_tests(staff_b, "lab.csv", row)
    assert e.value.row_errors[0].code == "not_found"
    with pytest.raises(PermissionDenied):
        services.import_soil_tests(farmer_a, "lab.csv", row)
    assert services.import_soil_tests(staff_a, "lab.csv", row).row_count == 1


def test_management_command_import(tmp_path, agronomist, field_a):
    good = tmp_path / "lab.csv"
    good.write_text(_csv(f"{field_a.pk},站,2026-04-10,6.4,24.5,125,18,140,"), encoding="utf-8")
    out = io.StringIO()
    call_command("fertilizer", "import", str(good), "--user", agronomist.username, stdout=out)
    assert "imported 1 soil test" in out.getvalue()
    err = io.StringIO()
    with pytest.raises(CommandError) as e:
        call_command("fertilizer", "import", str(good), "--user", agronomist.username, stderr=err)
    assert e.value.returncode == 2
    assert "row 2, 采样日期" in err.getvalue()


def test_management_command_usage_errors_via_subprocess():
    repo = Path(__file__).resolve().parents[3]
    python = repo / ".venv" / "bin" / "python"
    proc = subprocess.run(
        [str(python if python.exists() else sys.executable), "manage.py", "fertilizer", "import"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "usage" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def field_far(station_far):
    from marketplace.stations.models import Household

    h = Household.objects.create(station=station_far, village=station_far.village, name="远方户")
    return FarmField.objects.create(household=h, name="远地", area_mu=Decimal("10"), yield_1=Decimal("600"))

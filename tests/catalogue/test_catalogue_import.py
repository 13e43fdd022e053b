"""Bulk import: CSV and XLSX, all-or-nothing with row/column errors, idempotent by SKU, tenancy."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from marketplace.apps.catalogue.importer import import_catalogue
from marketplace.apps.partner.models import StockRecord

pytestmark = pytest.mark.django_db

HEADER = [
    "SKU",
    "商品类型",
    "商品名称",
    "价格",
    "库存",
    "仓库编号",
    "n_pct",
    "p2o5_pct",
    "k2o_pct",
    "chloride_class",
    "bag_kg",
    "registration_no",
    "crop",
    "variety",
    "variety_approval_no",
    "licence_no",
    "germination_pct",
    "net_content_kg",
]
GOOD = [
    [
        "F-1",
        "化肥",
        "复合肥 15-15-15",
        "150.00",
        "100",
        "WH1",
        "15",
        "15",
        "15",
        "none",
        "40",
        "吉肥1",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "F-2",
        "fertilizer",
        "尿素 46%",
        "108",
        "50",
        "",
        "46",
        "0",
        "0",
        "none",
        "40",
        "吉肥2",
        "",
        "",
        "",
        "",
        "",
        "",
    ],
    [
        "S-1",
        "种子",
        "吉单27 玉米种子",
        "260",
        "30",
        "WH1",
        "",
        "",
        "",
        "",
        "",
        "",
        "玉米",
        "吉单27",
        "吉审玉2003001",
        "C(吉)1",
        "93",
        "10",
    ],
]


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    out = io.BytesIO(buffer.getvalue().encode("utf-8-sig"))
    out.name = "products.csv"
    return out


def xlsx_bytes(rows: list[list[str]]) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows:
        ws.append([float(v) if v.replace(".", "").isdigit() else v for v in row])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "products.xlsx"
    return out


def test_csv_import_creates_then_reimport_changes_nothing(product_classes, supplier, supplier_user, wh):
    report = import_catalogue(supplier_user, supplier, csv_bytes(GOOD))
    assert report.ok and report.committed, report.errors
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    record = StockRecord.objects.select_related("product", "warehouse").get(partner_sku="F-1")
    assert record.warehouse == wh and record.price == Decimal("150.00")
    assert record.product.owner == supplier and record.product.n_pct == 15
    stamp = record.date_updated
    again = import_catalogue(supplier_user, supplier, csv_bytes(GOOD))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert StockRecord.objects.get(partner_sku="F-1").date_updated == stamp
    changed = [row[:] for row in GOOD]
    changed[1][4] = "70"
    third = import_catalogue(supplier_user, supplier, csv_bytes(changed))
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)


def test_xlsx_import_same_result(product_classes, supplier, supplier_user, wh):
    report = import_catalogue(supplier_user, supplier, xlsx_bytes(GOOD))
    assert report.ok, report.errors
    assert report.created == 3
    assert import_catalogue(supplier_user, supplier, csv_bytes(GOOD)).unchanged == 3


def test_bad_rows_all_reported_and_nothing_written(product_classes, supplier, supplier_user, wh):
    rows = [row[:] for row in GOOD]
    rows[0][3] = "abc"  # row 2: price
    rows[1][6] = "146"  # row 3: n_pct
    rows[2][5] = "NOPE"  # row 4: warehouse
    rows.append(
        ["F-1", "化肥", "dup", "1", "1", "", "46", "0", "0", "none", "40", "x", "", "", "", "", "", ""]
    )
    report = import_catalogue(supplier_user, supplier, csv_bytes(rows))
    assert not report.committed
    got = {(e.row, e.column) for e in report.errors}
    assert got == {(2, "价格"), (3, "n_pct"), (4, "仓库编号"), (5, "SKU")}
    assert "不能大于 100" in next(e.message for e in report.errors if e.row == 3)
    assert StockRecord.objects.count() == 0


def test_missing_columns_reported(product_classes, supplier, supplier_user):
    report = import_catalogue(supplier_user, supplier, csv_bytes([["X"]], header=["SKU"]))
    assert report.errors[0].row == 1 and "缺少" in report.errors[0].message


def test_supplier_cannot_import_for_another_or_overwrite_foreign_sku(
    product_classes, supplier, supplier_user, other_supplier
):
    with pytest.raises(PermissionDenied):
        import_catalogue(supplier_user, other_supplier, csv_bytes(GOOD))


def test_management_command(product_classes, supplier, wh, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(csv_bytes(GOOD).getvalue())
    call_command("import_catalogue", supplier.code, str(path))
    assert StockRecord.objects.filter(partner=supplier).count() == 3
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        csv_bytes(
            [["Z-1", "化肥", "x", "-1", "1", "", "", "", "", "", "", "", "", "", "", "", "", ""]]
        ).getvalue()
    )
    with pytest.raises(CommandError):
        call_command("import_catalogue", supplier.code, str(bad))
    assert not StockRecord.objects.filter(partner_sku="Z-1").exists()

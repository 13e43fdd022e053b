"""The catalogue import reads through the core table reader: a GBK / GB18030 CSV with Chinese
(full-width, spaced) alias headers, XLSX numbers without float artefacts, reader errors naming row
and column with nothing written, and the downloadable template coming from the same column spec."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from openpyxl import Workbook

from marketplace.apps.catalogue.importer import import_catalogue, import_spec
from marketplace.apps.partner.models import StockRecord

pytestmark = pytest.mark.django_db

#: Aliases, not the template's headers: 商品编号 for SKU, 类型, 名称, 单价, 库存数量, 仓库, and the
#: attributes by Chinese name, written with full-width brackets / letters and odd spacing.
ALIAS_HEADER = ["商品编号", "类型", "名称", "单价", "库存数量", "仓库", "氮Ｎ（％）", "磷 P₂O₅(%)", "钾K₂O (%)",
                "含氯类别", "每袋净重（kg）", "肥料登记证号"]  # fmt: skip
ROWS = [
    [
        "GB-1",
        "化肥",
        "复合肥 15-15-15 吉林产",
        "150.5",
        "100",
        "WH1",
        "15",
        "15",
        "15",
        "none",
        "40",
        "吉肥1",
    ],
    ["GB-2", "化肥", "尿素 46%", "0.1", "50", "", "46", "0", "0", "none", "40", "吉肥2"],
]


def gb_csv(rows: list[list[str]], header: list[str] = ALIAS_HEADER) -> io.BytesIO:
    text = io.StringIO()
    csv.writer(text).writerows([header, *rows])
    out = io.BytesIO(text.getvalue().encode("gb18030"))
    out.name = "商品.csv"
    return out


def test_gb18030_csv_with_chinese_alias_headers(product_classes, supplier, supplier_user, wh):
    report = import_catalogue(supplier_user, supplier, gb_csv(ROWS))
    assert report.ok and report.committed, report.errors
    record = StockRecord.objects.select_related("product").get(partner_sku="GB-1")
    assert (record.price, record.num_in_stock, record.warehouse) == (Decimal("150.50"), 100, wh)
    assert record.product.title == "复合肥 15-15-15 吉林产" and record.product.n_pct == 15
    assert StockRecord.objects.get(partner_sku="GB-2").price == Decimal("0.10")


def test_xlsx_numbers_reach_the_validation_as_the_csv_text(product_classes, supplier, supplier_user, wh):
    wb = Workbook()
    ws = wb.active
    ws.append(ALIAS_HEADER)
    ws.append(["X-1", "化肥", "复合肥 15-15-15", 0.1, 100.0, "WH1", 15.0, 15, 15, "none", 40.0, "吉肥1"])
    ws.append(["X-2", "化肥", "复合肥", 12.345, 1, "", 15, 15, 15, "none", 40, "吉肥2"])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    report = import_catalogue(supplier_user, supplier, out, filename="商品.xlsx")
    # 12.345 is refused as more than two decimals (it would be a float artefact if 0.1 were not 0.1)
    assert [(e.row, e.column) for e in report.errors] == [(3, "单价")]
    assert "两位小数" in report.errors[0].message
    fixed = [c.value for c in ws[3]]
    ws.delete_rows(3)
    ws.append([*fixed[:3], 12.34, *fixed[4:]])
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    report = import_catalogue(supplier_user, supplier, out, filename="商品.xlsx")
    assert report.ok, report.errors
    assert StockRecord.objects.get(partner_sku="X-1").price == Decimal("0.10")
    assert StockRecord.objects.get(partner_sku="X-2").price == Decimal("12.34")


def test_a_bad_row_from_the_reader_writes_nothing(product_classes, supplier, supplier_user, wh):
    rows = [row[:] for row in ROWS]
    rows.append(["GB-3", "化肥", "尿\x00素", "1", "1", "", "46", "0", "0", "none", "40", "吉肥3"])
    report = import_catalogue(supplier_user, supplier, gb_csv(rows))
    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(4, "名称")]
    assert not StockRecord.objects.exists()


def test_header_problems_name_the_column_and_write_nothing(product_classes, supplier, supplier_user):
    header = ["商品编号", "SKU", "类型", "名称", "单价", "颜色"]
    report = import_catalogue(supplier_user, supplier, gb_csv([["A", "A", "化肥", "x", "1", "红"]], header))
    assert {(e.row, e.column) for e in report.errors} == {(1, "SKU"), (1, "颜色"), (1, "库存")}
    assert not report.committed and not StockRecord.objects.exists()
    report = import_catalogue(supplier_user, supplier, io.BytesIO(b"\xff\xfe\x00S"), filename="x.csv")
    assert [(e.row, e.column) for e in report.errors] == [(0, "")] and "GB18030" in report.errors[0].message


def test_template_download_is_the_spec_and_imports(product_classes, supplier, supplier_user, wh):
    client = Client()
    client.force_login(supplier_user)
    body = client.get("/supplier/import-template.csv").content
    header = body.decode("utf-8-sig").splitlines()[0].split(",")
    assert header == import_spec().template_headers() and header[:5] == [
        "SKU",
        "商品类型",
        "商品名称",
        "价格",
        "库存",
    ]
    row = {"SKU": "T-1", "商品类型": "化肥", "商品名称": "复合肥 15-15-15", "价格": "99", "库存": "3",
           "n_pct": "15", "p2o5_pct": "15", "k2o_pct": "15", "chloride_class": "none", "bag_kg": "40",
           "registration_no": "吉肥9"}  # fmt: skip
    text = io.StringIO()
    csv.writer(text).writerow([row.get(h, "") for h in header])
    filled = io.BytesIO(body + text.getvalue().encode("utf-8"))
    report = import_catalogue(supplier_user, supplier, filled, filename="template.csv")
    assert report.ok and report.created == 1, report.errors

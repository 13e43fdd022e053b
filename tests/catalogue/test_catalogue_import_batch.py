"""Batched bulk import: rows cross batch boundaries, a late error rolls everything back, a re-import
writes nothing, the query count depends on batches not rows, imported stock is licence-checked."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from catalogue_helpers import licence
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model

from marketplace.apps.catalogue.importer import BATCH_SIZE, import_catalogue
from marketplace.apps.partner.models import LicenceKind, StockRecord
from marketplace.core.models import Notification

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")

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
]
ROWS = 2_500  # three batches of BATCH_SIZE (1,000): 1,000 + 1,000 + 500


def fertilizer_row(i: int, price: str | None = None, chloride: str = "none") -> list[str]:
    n, p, k = 15 + i % 5, 15 - i % 3, 10 + i % 6
    return [
        f"B-{i:05d}",
        "化肥",
        f"复合肥 {n}-{p}-{k} 批次{i}",
        price or f"{120 + i % 50}.00",
        str(100 + i % 900),
        "WH1",
        str(n),
        str(p),
        str(k),
        chloride,
        "40",
        f"吉肥{i}",
    ]


def csv_file(rows: list[list[str]], header: list[str] = HEADER) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    out = io.BytesIO(buffer.getvalue().encode("utf-8-sig"))
    out.name = "products.csv"
    return out


def writes(ctx: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def test_batches_cross_boundaries_and_reimport_writes_nothing(product_classes, supplier, supplier_user, wh):
    assert BATCH_SIZE == 1000
    rows = [fertilizer_row(i) for i in range(ROWS)]
    with CaptureQueriesContext(connection) as first:
        report = import_catalogue(supplier_user, supplier, csv_file(rows))
    assert report.ok and report.committed, report.errors[:5]
    assert (report.rows, report.created, report.updated, report.unchanged) == (ROWS, ROWS, 0, 0)
    # A few queries per batch of 1,000, not ~10 per row. SQLite caps bound parameters per statement
    # (features.max_query_params), so Django splits each bulk insert into more statements there.
    limit = 60 if connection.vendor == "postgresql" else ROWS // 5  # far below one query per row
    assert len(first.captured_queries) < limit, (len(first.captured_queries), limit)
    assert StockRecord.objects.filter(partner=supplier).count() == ROWS
    assert ProductAttributeValue.objects.filter(product__owner=supplier).count() == ROWS * 6
    # Rows either side of each batch boundary are complete (attributes, search fields, category).
    for i in (0, 999, 1000, 1999, 2000, ROWS - 1):
        record = StockRecord.objects.select_related("product", "warehouse").get(partner_sku=f"B-{i:05d}")
        product = record.product
        n, p, k = 15 + i % 5, 15 - i % 3, 10 + i % 6
        assert record.warehouse == wh and record.price == Decimal(f"{120 + i % 50}.00")
        assert product.owner == supplier and product.title == f"复合肥 {n}-{p}-{k} 批次{i}"
        assert (product.n_pct, product.p2o5_pct, product.k2o_pct) == (n, p, k)
        assert f" {n}-{p}-{k} " in product.search_text and " 复合肥 " in product.search_text
        assert product.attr.registration_no == f"吉肥{i}" and product.attr.bag_kg == 40.0
        assert [c.name for c in product.categories.all()] == ["化肥"]

    stamps = (
        Product.objects.aggregate(m=Max("date_updated"))["m"],
        StockRecord.objects.aggregate(m=Max("date_updated"))["m"],
    )
    with CaptureQueriesContext(connection) as again:
        report = import_catalogue(supplier_user, supplier, csv_file(rows))
    assert report.committed and (report.created, report.updated, report.unchanged) == (0, 0, ROWS)
    assert writes(again) == []
    assert len(again.captured_queries) < 30, len(again.captured_queries)
    assert stamps == (
        Product.objects.aggregate(m=Max("date_updated"))["m"],
        StockRecord.objects.aggregate(m=Max("date_updated"))["m"],
    )

    # One change in the last batch: one product and one stock record are rewritten.
    rows[ROWS - 2] = fertilizer_row(ROWS - 2, price="99.50", chloride="low")
    report = import_catalogue(supplier_user, supplier, csv_file(rows))
    assert (report.created, report.updated, report.unchanged) == (0, 1, ROWS - 1)
    record = StockRecord.objects.select_related("product").get(partner_sku=f"B-{ROWS - 2:05d}")
    assert record.price == Decimal("99.50") and record.product.chloride_class == "low"
    assert record.product.attr.chloride_class == "low" and " 低氯 " in record.product.search_text
    assert ProductAttributeValue.objects.filter(product__owner=supplier).count() == ROWS * 6


def test_error_in_last_batch_leaves_nothing_written(product_classes, supplier, supplier_user, wh):
    rows = [fertilizer_row(i) for i in range(ROWS)]
    rows[5][3] = "abc"  # file row 7, first batch
    rows[ROWS - 3][6] = "146"  # file row 2,499, last batch
    before = (Product.objects.count(), ProductAttributeValue.objects.count())
    report = import_catalogue(supplier_user, supplier, csv_file(rows))
    assert not report.committed
    assert {(e.row, e.column) for e in report.errors} == {(7, "价格"), (ROWS - 1, "n_pct")}
    assert StockRecord.objects.count() == 0
    assert (Product.objects.count(), ProductAttributeValue.objects.count()) == before

    only_last = [fertilizer_row(i) for i in range(ROWS)]
    only_last[ROWS - 1][4] = "-5"
    report = import_catalogue(supplier_user, supplier, csv_file(only_last))
    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(ROWS + 1, "库存")]
    assert StockRecord.objects.count() == 0 and Product.objects.count() == before[0]


def test_duplicate_barcode_across_batches_reported(product_classes, supplier, supplier_user, wh):
    header = [*HEADER, "条码"]
    rows = [[*fertilizer_row(i), f"69{i:011d}"] for i in range(1_200)]
    rows[1_100][-1] = rows[3][-1]
    report = import_catalogue(supplier_user, supplier, csv_file(rows, header))
    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(1_102, "条码")]
    assert "第 5 行" in report.errors[0].message


def test_imported_stock_is_licence_checked_at_once(product_classes, supplier, supplier_user, wh):
    supplier.contact_mobile = "13800000001"
    supplier.save()
    licence(supplier, LicenceKind.SEED_BUSINESS, "S-1")
    header = [
        "SKU",
        "商品类型",
        "商品名称",
        "价格",
        "库存",
        "registration_no",
        "active_ingredient",
        "toxicity",
        "restricted_use",
        "net_content",
        "crop",
        "variety",
        "variety_approval_no",
        "licence_no",
        "germination_pct",
        "net_content_kg",
    ]
    rows = [
        ["P-1", "农药", "甲拌磷颗粒剂", "25", "10", "PD20191000", "甲拌磷", "高毒", "是", "1 kg"] + [""] * 6,
        ["S-1", "种子", "吉单27 玉米种子", "260", "30", "", "", "", "", ""]
        + ["玉米", "吉单27", "吉审玉2003001", "C(吉)1", "93", "10"],
    ]
    report = import_catalogue(supplier_user, supplier, csv_file(rows, header))
    assert report.committed, report.errors
    assert report.blocked == 1
    pesticide = StockRecord.objects.get(partner_sku="P-1")
    assert pesticide.compliance_blocked and "农药经营许可证" in pesticide.blocked_reason
    assert not StockRecord.objects.get(partner_sku="S-1").compliance_blocked
    assert Notification.objects.filter(recipient="13800000001", text__contains="暂停销售").count() == 1

    # A pesticide licence without restricted scope: switching the product to restricted use
    # through a re-import re-blocks it in the same transaction.
    licence(supplier, LicenceKind.PESTICIDE_BUSINESS, "P-1")
    from marketplace.apps.catalogue.compliance import enforce_licences

    enforce_licences(partner_ids=[supplier.pk], notify=False)
    rows[0][8] = "否"
    rows[0][7] = "低毒"
    assert import_catalogue(supplier_user, supplier, csv_file(rows, header)).updated == 1
    assert not StockRecord.objects.get(partner_sku="P-1").compliance_blocked
    rows[0][8] = "是"
    assert import_catalogue(supplier_user, supplier, csv_file(rows, header)).updated == 1
    pesticide = StockRecord.objects.get(partner_sku="P-1")
    assert pesticide.compliance_blocked and "限制使用" in pesticide.blocked_reason

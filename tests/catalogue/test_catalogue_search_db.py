"""Database search engine over the stored search vector (PostgreSQL) / whole-token LIKE (SQLite).

Runs on both backends: products written by ``save()`` and by the importer's ``bulk_create`` /
``bulk_update`` are findable, and a changed title moves them. On PostgreSQL it also checks that the
generated ``search_vector`` column is what the search reads (never re-parsing ``search_text``).
"""

from __future__ import annotations

import csv
import io

import pytest
from catalogue_helpers import licence, make_fertilizer
from django.db import connection
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model

from marketplace.apps.catalogue.compliance import enforce_licences
from marketplace.apps.catalogue.importer import import_catalogue
from marketplace.apps.partner.models import LicenceKind
from marketplace.search import db
from marketplace.search.services import SearchParams
from marketplace.search.text import query_clauses, to_tsquery

pytestmark = pytest.mark.django_db

Product = get_model("catalogue", "Product")

HEADER = "SKU 商品类型 商品名称 价格 库存 仓库编号 n_pct p2o5_pct k2o_pct chloride_class bag_kg registration_no".split()


def fertilizer_row(sku: str, title: str, npk: str = "28 6 6") -> list[str]:
    return [sku, "化肥", title, "120", "30", "WH1", *npk.split(), "low", "40", f"吉肥{sku}"]


def csv_file(rows: list[list[str]]) -> io.BytesIO:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    out = io.BytesIO(buffer.getvalue().encode("utf-8-sig"))
    out.name = "products.csv"
    return out


def found(query: str) -> list[int]:
    params = SearchParams(query=query, first=50).validate()
    with CaptureQueriesContext(connection) as ctx:
        result = db.search(params)
    assert result.total == len(result.ids)
    if db.is_postgres():
        assert result.engine == "postgresql"
        sql = "\n".join(q["sql"] for q in ctx.captured_queries)
        # Matching and ranking read the stored column, in the page query and the nested facet ones.
        assert '"search_vector" @@' in sql and "ts_rank(" in sql
        assert "to_tsvector" not in sql
    else:
        assert result.engine == "sqlite"
    return result.ids


def stored_vector_matches(product_id: int, query: str) -> bool | None:
    """PostgreSQL: does the product's generated column itself match ``query`` (as search builds it),
    and equal ``to_tsvector(search_text)``? (None on SQLite: there is no such column.)"""
    if not db.is_postgres():
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector @@ to_tsquery('simple', %s), "
            "search_vector = to_tsvector('simple', search_text) FROM catalogue_product WHERE id = %s",
            [to_tsquery(query_clauses(query)), product_id],
        )
        matches, in_step = cursor.fetchone()
    assert in_step
    return matches


def test_saved_and_imported_products_are_found_through_the_stored_vector(
    product_classes, supplier, supplier_user, wh
):
    saved = make_fertilizer(product_classes, supplier, "S1", "史丹利复合肥 15-15-15 硫酸钾型", warehouse=wh)
    assert stored_vector_matches(saved.pk, "史丹利") in (True, None)

    report = import_catalogue(
        supplier_user,
        supplier,
        csv_file([fertilizer_row("I1", "金正大掺混肥 28-6-6")]),
    )
    assert report.committed, report.errors
    imported = Product.objects.get(stockrecords__partner_sku="I1")
    # A new fertilizer is imported blocked until its registration is on file.
    licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, "FR-1", product=imported)
    enforce_licences(product_ids=[imported.pk], notify=False)
    assert stored_vector_matches(imported.pk, "金正大") in (True, None)

    assert found("史丹利 15-15-15") == [saved.pk]
    assert found("金正大 28-6-6") == [imported.pk]
    assert set(found("复合肥")) == {saved.pk}
    assert set(found("肥")) == {saved.pk, imported.pk}

    # save(): the vector follows the new title.
    saved.title = "心连心尿素 40kg"
    saved.save()
    assert found("史丹利") == [] and found("心连心") == [saved.pk]

    # Re-import (bulk_update): likewise.
    report = import_catalogue(
        supplier_user,
        supplier,
        csv_file([fertilizer_row("I1", "云天化掺混肥 28-6-6")]),
    )
    assert report.committed and report.updated == 1, report.errors
    assert found("金正大") == [] and found("云天化 掺混肥") == [imported.pk]
    assert stored_vector_matches(imported.pk, "金正大") in (False, None)


def test_facets_nest_the_stored_vector_correctly(product_classes, supplier, other_supplier, wh, other_wh):
    """The facet queries nest the matching queryset; the vector must belong to the inner table."""
    make_fertilizer(product_classes, supplier, "A", "司尔特复合肥 17-17-17", warehouse=wh)
    make_fertilizer(product_classes, other_supplier, "B", "芭田复合肥 17-17-17", warehouse=other_wh)
    make_fertilizer(product_classes, other_supplier, "C", "芭田尿素", npk=(46, 0, 0), warehouse=other_wh)
    result = db.search(SearchParams(query="复合肥").validate())
    assert result.total == 2
    assert [(f.value, f.count) for f in result.facets["product_types"]] == [("fertilizer", 2)]
    assert sorted(f.count for f in result.facets["suppliers"]) == [1, 1]
    assert [(f.value, f.count) for f in result.facets["chloride_classes"]] == [("none", 2)]


def test_unfiltered_total_is_cached_and_dropped_on_changes(product_classes, supplier, supplier_user, wh):
    def listing() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            result = db.search(SearchParams(sort="title").validate(), with_facets=False)
        counts = sum("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        return result.total, counts

    make_fertilizer(product_classes, supplier, "T1", "复合肥 15-15-15", warehouse=wh)
    assert listing() == (1, 1)
    assert listing() == (1, 0)  # cached: no COUNT
    # A filtered list is always counted.
    assert db.search(SearchParams(query="复合肥").validate(), with_facets=False).total == 1
    make_fertilizer(product_classes, supplier, "T2", "尿素", npk=(46, 0, 0), warehouse=wh)  # save()
    assert listing() == (2, 1)
    report = import_catalogue(  # bulk paths
        supplier_user,
        supplier,
        csv_file([fertilizer_row("T3", "掺混肥 28-6-6")]),
    )
    assert report.committed, report.errors
    assert listing() == (2, 1)  # recounted; the new fertilizer's stock is blocked until registered
    imported = Product.objects.get(stockrecords__partner_sku="T3")
    licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, "FR-3", product=imported)
    enforce_licences(product_ids=[imported.pk], notify=False)
    assert listing() == (3, 1)


def test_a_filtered_page_and_its_total_come_from_one_statement(
    product_classes, supplier, other_supplier, wh, other_wh
):
    """The total rides on the page's rows (``COUNT(*) OVER ()``); a page past the end counts."""
    StockRecord = get_model("partner", "StockRecord")
    ids = [
        make_fertilizer(product_classes, supplier, f"W{i}", f"史丹利复合肥 {i}号", warehouse=wh).pk
        for i in range(5)
    ]
    # A second offer of the same product: still one match.
    StockRecord.objects.create(
        product_id=ids[0], partner=other_supplier, partner_sku="W0-B", price="140.00", num_in_stock=5,
        warehouse=other_wh,
    )  # fmt: skip
    make_fertilizer(product_classes, supplier, "X", "芭田尿素", npk=(46, 0, 0), warehouse=wh)

    def page(offset: int, first: int = 2) -> tuple[list[int], int | None, int]:
        params = SearchParams(query="复合肥", first=first, offset=offset).validate()
        with CaptureQueriesContext(connection) as ctx:
            result = db.search(params, with_facets=False)
        return result.ids, result.total, len(ctx.captured_queries)

    first_page, total, statements = page(0)
    assert len(first_page) == 2 and total == 5 and statements == 1
    assert page(4) == (page(4)[0], 5, 1) and len(page(4)[0]) == 1
    assert page(10) == ([], 5, 2)  # past the end: the page is empty, so the total is counted
    assert sorted(page(0, first=50)[0]) == sorted(ids)
    params = SearchParams(query="没有这个词", first=20).validate()
    assert db.search(params, with_facets=False).total == 0

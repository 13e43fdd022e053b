"""Elasticsearch backend against recorded request/response pairs (tests/catalogue/cassettes/).

No cluster runs here: vcrpy replays the cassettes and refuses any request that is not in them, so
a change to the mapping, the bulk documents or the queries fails until the cassettes are
re-recorded against a real cluster (docs/search.md, "Live test"). Bodies are compared as JSON;
in bulk bodies the database ids (which differ between runs) are compared as placeholders.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import vcr
from catalogue_helpers import make_fertilizer
from django.test import Client, override_settings

from marketplace.search import es
from marketplace.search.services import SearchParams, search

CASSETTES = Path(__file__).parent / "cassettes"
ES_URL = "http://es.recorded.invalid:9200"
ID_FIELDS = {"_id", "supplier_ids", "in_stock_supplier_ids", "category_ids"}

pytestmark = pytest.mark.django_db


def _normalise(value):
    if isinstance(value, dict):
        return {k: ("<ids>" if k in ID_FIELDS else _normalise(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


def _body(request) -> list:
    raw = request.body or b""
    if isinstance(raw, bytes):
        raw = raw.decode()
    return [_normalise(json.loads(line)) for line in raw.splitlines() if line.strip()]


def _json_body(r1, r2) -> None:
    assert _body(r1) == _body(r2), f"request body differs from the recording:\n{_body(r1)}\n{_body(r2)}"


# Re-record against a real cluster: ES_RECORD_URL=http://127.0.0.1:9200 pytest <this file>
RECORD_URL = os.environ.get("ES_RECORD_URL", "")
if RECORD_URL:
    ES_URL = RECORD_URL

recorded = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="all" if RECORD_URL else "none",
    match_on=["method", "path", "query", "json_body"],
    decode_compressed_response=True,
)
recorded.register_matcher("json_body", _json_body)


@pytest.fixture
def es_settings():
    with override_settings(ELASTICSEARCH_URL=ES_URL, ELASTICSEARCH_INDEX_PREFIX="marketplace-test"):
        yield


def test_index_is_created_with_the_recorded_mapping(es_settings):
    with recorded.use_cassette("es_create_index.yaml") as cassette:
        es.ensure_index(recreate=True)
    assert cassette.all_played and cassette.play_count == 3


def test_products_are_bulk_indexed_as_recorded(product_classes, supplier, wh):
    a = make_fertilizer(product_classes, supplier, "ES-1", "复合肥 15-15-15 40kg", price="150.00")
    b = make_fertilizer(product_classes, supplier, "ES-2", "尿素 46% 40kg", npk=(46, 0, 0), price="120.00")
    with override_settings(ELASTICSEARCH_URL=ES_URL, ELASTICSEARCH_INDEX_PREFIX="marketplace-test"):
        with recorded.use_cassette("es_bulk_index.yaml") as cassette:
            assert es.index_products([a.pk, b.pk]) == 2
    assert cassette.all_played


def test_search_sends_the_recorded_query_and_parses_the_answer(es_settings, supplier):
    params = SearchParams(query="复合肥 15-15-15", product_types=["fertilizer"], sort="price_asc", first=20)
    with recorded.use_cassette("es_search.yaml") as cassette:
        result = search(params)
    assert cassette.all_played
    assert result.engine == "elasticsearch"
    assert result.ids == [5, 3] and result.total == 2
    assert [(f.value, f.count) for f in result.facets["product_types"]] == [("fertilizer", 2)]
    assert [f.value for f in result.facets["chloride_classes"]] == ["none"]


def test_a_changed_query_is_not_in_the_recording(es_settings):
    params = SearchParams(query="复合肥 15-15-15", product_types=["fertilizer"], sort="price_desc", first=20)
    with recorded.use_cassette("es_search.yaml") as cassette:
        with pytest.raises(Exception) as exc:  # vcrpy's refusal, wrapped by the client's retries
            search(params)
    assert "Can't play back this request" in str(exc.value) + repr(exc.value.__cause__ or exc.value.errors)
    assert cassette.play_count == 0


def test_readyz_reports_a_green_search_cluster(es_settings):
    with recorded.use_cassette("es_health_green.yaml") as cassette:
        response = Client().get("/readyz")
    assert cassette.all_played
    assert response.json()["checks"]["search"]["status"] == "ok"


def test_readyz_is_not_ready_with_a_red_search_index(es_settings):
    with recorded.use_cassette("es_health_red.yaml") as cassette:
        response = Client().get("/readyz")
    assert cassette.all_played
    assert response.status_code == 503
    search_check = response.json()["checks"]["search"]
    assert search_check["status"] == "error" and search_check["error"] == "RuntimeError"

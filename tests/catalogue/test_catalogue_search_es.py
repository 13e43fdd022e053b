"""Elasticsearch mapping, document and query building — without a cluster."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from marketplace.search.es import build_search, index_definition, parse_response
from marketplace.search.services import SearchParams, haversine_km
from marketplace.search.text import Clause, index_tokens, query_clauses, to_tsquery


def test_mapping_uses_cjk_and_whitespace_analysers():
    props = index_definition()["mappings"]["properties"]
    assert props["title"]["analyzer"] == "cjk"
    assert props["tokens"]["analyzer"] == "whitespace"
    assert props["stock_locations"]["type"] == "geo_point"
    assert props["chloride_class"]["type"] == "keyword"


def test_query_building_filters_sort_and_aggs():
    params = SearchParams(
        query="复合肥 15-15-15",
        product_types=["fertilizer"],
        chloride_classes=["none"],
        n_min=Decimal("10"),
        in_stock=True,
        radius_km=30,
        station_id=1,
        sort="price_asc",
    )
    body = build_search(params, point=(43.5, 125.6)).to_dict()
    filters = body["query"]["bool"]["filter"]
    assert {"terms": {"product_type": ["fertilizer"]}} in filters
    assert {"range": {"n_pct": {"gte": 10.0}}} in filters
    assert {"term": {"in_stock": True}} in filters
    geo = next(f for f in filters if "geo_distance" in f)["geo_distance"]
    assert geo["distance"] == "30km" and geo["stock_locations"] == {"lat": 43.5, "lon": 125.6}
    words = [m["bool"]["should"][0]["match"]["tokens"]["query"] for m in body["query"]["bool"]["must"]]
    assert words == ["15-15-15", "复合肥"]
    assert body["sort"][0] == {"min_price": {"order": "asc", "missing": "_last"}}
    assert set(body["aggs"]) == {"product_types", "suppliers", "chloride_classes"}


def test_parse_response_contract():
    raw = {
        "hits": {"total": {"value": 2}, "hits": [{"_id": "5"}, {"_id": "3"}]},
        "aggregations": {
            "product_types": {"buckets": [{"key": "fertilizer", "doc_count": 2}]},
            "suppliers": {"buckets": [{"key": 7, "doc_count": 2}]},
            "chloride_classes": {"buckets": [{"key": "low", "doc_count": 1}]},
        },
    }
    result = parse_response(raw, {7: "甲农资公司"})
    assert result.ids == [5, 3] and result.total == 2
    assert result.facets["suppliers"][0].label == "甲农资公司"
    assert result.facets["chloride_classes"][0].label == "低氯"


def test_text_analysis():
    tokens = index_tokens("吉单27 玉米种子")
    assert {"吉单", "玉米", "种子", "米种"} <= set(tokens)
    assert to_tsquery(query_clauses("玉米种子")) == "(('玉米种子') | ('玉米' & '米种' & '种子'))"
    assert to_tsquery(query_clauses("it's")) == "(('it')) & (('s'))"
    assert to_tsquery([Clause("a'b", (("a'b",),))]) == "(('a''b'))"


def test_params_validation_and_haversine():
    with pytest.raises(ValidationError) as exc:
        SearchParams(
            product_types=["car"], chloride_classes=["x"], sort="best", n_min=Decimal("120")
        ).validate()
    assert set(exc.value.message_dict) == {"product_types", "chloride_classes", "sort", "n_min"}
    assert 110 < haversine_km(43.5, 125.6, 44.5, 125.6) < 112

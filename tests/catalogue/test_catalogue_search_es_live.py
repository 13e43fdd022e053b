"""Live Elasticsearch test: `ELASTICSEARCH_URL=http://127.0.0.1:9200 pytest -m elasticsearch`.

Deselected by default (pyproject addopts); where a cluster exists it indexes real products and
checks search, filters, facets and deletion against it (docs/search.md, "Live test")."""

from __future__ import annotations

import os
import uuid

import pytest
from catalogue_helpers import make_fertilizer
from django.test import override_settings

from marketplace.search import es
from marketplace.search.services import SearchParams, search

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db]


@pytest.fixture
def live_index():
    url = os.environ.get("ELASTICSEARCH_URL", "")
    assert url, "set ELASTICSEARCH_URL to a live cluster to run -m elasticsearch"
    prefix = f"marketplace-live-{uuid.uuid4().hex[:8]}"
    with override_settings(ELASTICSEARCH_URL=url, ELASTICSEARCH_INDEX_PREFIX=prefix):
        es.ensure_index(recreate=True)
        yield
        es.client().indices.delete(index=es.index_name(), ignore_unavailable=True)


def test_live_index_search_filters_and_facets(product_classes, supplier, wh, live_index):
    a = make_fertilizer(product_classes, supplier, "LIVE-1", "复合肥 15-15-15 40kg", price="150.00")
    b = make_fertilizer(product_classes, supplier, "LIVE-2", "尿素 46% 40kg", npk=(46, 0, 0), price="120.00")
    assert es.index_products([a.pk, b.pk]) == 2
    result = search(SearchParams(query="复合肥 15-15-15"))
    assert result.engine == "elasticsearch" and result.ids == [a.pk]
    result = search(SearchParams(product_types=["fertilizer"], sort="price_asc"))
    assert result.ids == [b.pk, a.pk] and result.total == 2
    assert {f.value: f.count for f in result.facets["suppliers"]} == {str(supplier.pk): 2}
    a.is_public = False
    a.save()
    es.index_products([a.pk])
    assert search(SearchParams(product_types=["fertilizer"])).ids == [b.pk]

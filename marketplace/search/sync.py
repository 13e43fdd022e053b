"""Keep the Elasticsearch index in step with products and stock (no-op without ELASTICSEARCH_URL).

The database backend needs no sync: ``search_text`` and the nutrient columns live on the product
row and are rewritten on every save (PostgreSQL derives the stored ``search_vector`` from it).
Every change reported here also drops the cached total of the unfiltered product list.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

# ``products`` / an empty search count every sellable public product (~50-100 ms on 50k products);
# that total is cached this long and dropped by every product / stock / partner change below.
LISTING_TOTAL_KEY = "search:unfiltered-total"
LISTING_TOTAL_SECONDS = 60


def es_enabled() -> bool:
    return bool(settings.ELASTICSEARCH_URL)


def invalidate_listing_total() -> None:
    """Now (reads later in this transaction) and after commit (a concurrent request may have cached
    the old figure in between)."""
    cache.delete(LISTING_TOTAL_KEY)
    transaction.on_commit(lambda: cache.delete(LISTING_TOTAL_KEY))


def schedule_product_reindex(product_ids: Iterable[int]) -> None:
    ids = sorted({int(i) for i in product_ids})
    if ids:
        invalidate_listing_total()
    if not ids or not es_enabled():
        return
    from .tasks import index_products

    transaction.on_commit(lambda: index_products.delay(ids))


def schedule_partner_reindex(partner_id: int) -> None:
    invalidate_listing_total()
    if not es_enabled():
        return
    from oscar.core.loading import get_model

    StockRecord = get_model("partner", "StockRecord")
    schedule_product_reindex(
        StockRecord.objects.filter(partner_id=partner_id).values_list("product_id", flat=True)
    )

"""Keep the Elasticsearch index in step with products and stock (no-op without ELASTICSEARCH_URL).

The database backend needs no sync: ``search_text`` and the nutrient columns live on the product
row and are rewritten on every save (PostgreSQL derives the stored ``search_vector`` from it).
Every change reported here also drops the cached total of the unfiltered product list and, after
commit, advances the catalogue generation that keys the GraphQL listing response cache
(:func:`catalogue_changed`): whatever changes a price, stock or sellability already reports here.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

# ``products`` / an empty search count every sellable public product (~50-100 ms on 50k products);
# that total is cached this long and dropped by every product / stock / partner change below.
LISTING_TOTAL_KEY = "search:unfiltered-total"
LISTING_TOTAL_SECONDS = 60


def es_enabled() -> bool:
    return bool(settings.ELASTICSEARCH_URL)


#: PostgreSQL sequence (catalogue migration 0036) / cache key on SQLite: the catalogue generation.
GENERATION_SEQUENCE = "catalogue_listing_generation"
GENERATION_KEY = "search:catalogue-generation"


def current_generation() -> int:
    """The catalogue generation: changes after every committed catalogue change, in every process
    (PostgreSQL: one read of a sequence, no lock; SQLite / embedded: the one process's cache)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT last_value FROM {GENERATION_SEQUENCE}")  # noqa: S608 (constant)
            return int(cursor.fetchone()[0])
    return int(cache.get_or_set(GENERATION_KEY, 1, None))


def _advance_generation() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [GENERATION_SEQUENCE])
        return
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, None)


def catalogue_changed() -> None:
    """A price, stock, sellability or product change: advance the generation now (requests later in
    this transaction, and tests, see it) and again after commit (a concurrent request may have
    cached the old rows under the first new value in between). The second advance runs before the
    writing request returns, so the writer's next request, and everyone's, sees the change."""
    _advance_generation()
    transaction.on_commit(_advance_generation)


def invalidate_listing_total() -> None:
    """Now (reads later in this transaction) and after commit (a concurrent request may have cached
    the old figure in between). Also retires every cached listing response (:func:`catalogue_changed`)."""
    cache.delete(LISTING_TOTAL_KEY)
    transaction.on_commit(lambda: cache.delete(LISTING_TOTAL_KEY))
    catalogue_changed()


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

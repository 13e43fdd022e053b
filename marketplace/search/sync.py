"""Keep the Elasticsearch index in step with products and stock (no-op without ELASTICSEARCH_URL).

The database backend needs no sync: ``search_text`` and the nutrient columns live on the product
row and are rewritten on every save.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction


def es_enabled() -> bool:
    return bool(settings.ELASTICSEARCH_URL)


def schedule_product_reindex(product_ids: Iterable[int]) -> None:
    ids = sorted({int(i) for i in product_ids})
    if not ids or not es_enabled():
        return
    from .tasks import index_products

    transaction.on_commit(lambda: index_products.delay(ids))


def schedule_partner_reindex(partner_id: int) -> None:
    if not es_enabled():
        return
    from oscar.core.loading import get_model

    StockRecord = get_model("partner", "StockRecord")
    schedule_product_reindex(
        StockRecord.objects.filter(partner_id=partner_id).values_list("product_id", flat=True)
    )

from __future__ import annotations

from celery import shared_task


@shared_task(name="marketplace.search.index_products", autoretry_for=(ConnectionError,), max_retries=5)
def index_products(product_ids: list[int]) -> int:
    from . import es

    return es.index_products(product_ids)


@shared_task(name="marketplace.search.rebuild_index")
def rebuild_index() -> int:
    from .services import rebuild

    return rebuild()

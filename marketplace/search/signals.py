"""Index-sync receivers: product or stock saved/deleted → reindex that product (Celery task)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from oscar.core.loading import get_model

from .sync import schedule_product_reindex

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")


@receiver(post_save, sender=Product, dispatch_uid="search-product-saved")
@receiver(post_delete, sender=Product, dispatch_uid="search-product-deleted")
def _product_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    schedule_product_reindex([instance.pk])


@receiver(post_save, sender=StockRecord, dispatch_uid="search-stock-saved")
@receiver(post_delete, sender=StockRecord, dispatch_uid="search-stock-deleted")
def _stock_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    schedule_product_reindex([instance.product_id])

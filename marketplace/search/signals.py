"""Index-sync receivers: product or stock saved/deleted → reindex that product (Celery task).

What else a cached listing shows (images, categories, supplier and warehouse names, attribute
values) only advances the catalogue generation (``sync.catalogue_changed``).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from oscar.core.loading import get_model

from .sync import catalogue_changed, schedule_product_reindex

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
ProductImage = get_model("catalogue", "ProductImage")
Category = get_model("catalogue", "Category")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
Partner = get_model("partner", "Partner")
Warehouse = get_model("partner", "Warehouse")
ProductCategory = get_model("catalogue", "ProductCategory")


@receiver(post_save, sender=Product, dispatch_uid="search-product-saved")
@receiver(post_delete, sender=Product, dispatch_uid="search-product-deleted")
def _product_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    schedule_product_reindex([instance.pk])


@receiver(post_save, sender=StockRecord, dispatch_uid="search-stock-saved")
@receiver(post_delete, sender=StockRecord, dispatch_uid="search-stock-deleted")
def _stock_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    schedule_product_reindex([instance.product_id])


@receiver(post_save, sender=ProductImage, dispatch_uid="listing-image-saved")
@receiver(post_delete, sender=ProductImage, dispatch_uid="listing-image-deleted")
@receiver(post_save, sender=Category, dispatch_uid="listing-category-saved")
@receiver(post_delete, sender=Category, dispatch_uid="listing-category-deleted")
@receiver(post_save, sender=ProductAttributeValue, dispatch_uid="listing-attribute-saved")
@receiver(post_delete, sender=ProductAttributeValue, dispatch_uid="listing-attribute-deleted")
@receiver(post_save, sender=Partner, dispatch_uid="listing-partner-saved")
@receiver(post_save, sender=Warehouse, dispatch_uid="listing-warehouse-saved")
@receiver(post_delete, sender=Warehouse, dispatch_uid="listing-warehouse-deleted")
@receiver(post_save, sender=ProductCategory, dispatch_uid="listing-product-category-saved")
@receiver(post_delete, sender=ProductCategory, dispatch_uid="listing-product-category-deleted")
@receiver(m2m_changed, sender=Product.categories.through, dispatch_uid="listing-product-categories")
def _listing_content_changed(sender: Any, **kwargs: Any) -> None:
    catalogue_changed()

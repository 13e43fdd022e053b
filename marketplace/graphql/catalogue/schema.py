from __future__ import annotations

import graphene
from django.db.models import Prefetch, Q
from oscar.core.loading import get_model

from ..core.types import page, page_args
from .types import CategoryType, ProductPage, ProductType

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
StockRecord = get_model("partner", "StockRecord")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")


def product_queryset():
    """Public products with everything the Product type reads, in a fixed number of queries."""
    return (
        Product.objects.filter(is_public=True)
        .exclude(structure=Product.PARENT)
        .select_related("product_class")
        .prefetch_related(
            "categories",
            Prefetch(
                "stockrecords", queryset=StockRecord.objects.select_related("partner").order_by("price")
            ),
            Prefetch("attribute_values", queryset=ProductAttributeValue.objects.select_related("attribute")),
        )
    )


class CatalogueQueries(graphene.ObjectType):
    products = graphene.Field(
        ProductPage,
        required=True,
        search=graphene.String(),
        category_id=graphene.ID(),
        **page_args(),
    )
    product = graphene.Field(ProductType, id=graphene.ID(required=True))
    categories = graphene.List(graphene.NonNull(CategoryType), required=True)

    @staticmethod
    def resolve_products(root, info, search=None, category_id=None, first=None, offset=None):
        qs = product_queryset()
        if search:
            for word in search.split():
                qs = qs.filter(Q(title__icontains=word) | Q(description__icontains=word))
        if category_id:
            qs = qs.filter(categories__pk=category_id)
        items, total = page(qs.order_by("title", "pk"), first, offset)
        return ProductPage(items=items, total_count=total)

    @staticmethod
    def resolve_product(root, info, id):
        return product_queryset().filter(pk=id).first()

    @staticmethod
    def resolve_categories(root, info):
        return list(Category.objects.filter(is_public=True).order_by("path"))

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from ..core.types import Money, money


def json_value(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


class PartnerType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    kind = graphene.String(required=True)
    verified = graphene.Boolean(required=True)

    class Meta:
        name = "Partner"

    @staticmethod
    def resolve_verified(partner, info) -> bool:
        return partner.is_verified


class StockRecordType(graphene.ObjectType):
    id = graphene.ID(required=True)
    sku = graphene.String(required=True)
    partner = graphene.Field(PartnerType, required=True)
    price = graphene.Field(Money)
    available = graphene.Int(required=True, description="In stock minus allocated.")

    class Meta:
        name = "StockRecord"

    @staticmethod
    def resolve_sku(record, info) -> str:
        return record.partner_sku

    @staticmethod
    def resolve_price(record, info):
        return money(record.price)

    @staticmethod
    def resolve_available(record, info) -> int:
        return record.net_stock_level


class CategoryType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    slug = graphene.String(required=True)

    class Meta:
        name = "Category"


class ProductType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    upc = graphene.String()
    product_type = graphene.String(required=True)
    description = graphene.String(required=True)
    categories = graphene.List(graphene.NonNull(CategoryType), required=True)
    stock_records = graphene.List(graphene.NonNull(StockRecordType), required=True)
    attributes = GenericScalar(required=True)

    class Meta:
        name = "Product"

    @staticmethod
    def resolve_product_type(product, info) -> str:
        return product.product_class.name if product.product_class_id else ""

    @staticmethod
    def resolve_categories(product, info):
        return list(product.categories.all())

    @staticmethod
    def resolve_stock_records(product, info):
        return list(product.stockrecords.all())

    @staticmethod
    def resolve_attributes(product, info) -> dict:
        return {av.attribute.code: json_value(av.value) for av in product.attribute_values.all()}


class ProductPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(ProductType), required=True)

from __future__ import annotations

import graphene
from graphene.types.generic import GenericScalar

from marketplace.apps.catalogue.thumbnails import DEFAULT_SIZE, primary_image, thumbnail_path
from marketplace.apps.partner.strategy import is_sellable

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


class WarehouseType(graphene.ObjectType):
    id = graphene.ID(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    address = graphene.String(required=True)
    latitude = graphene.Float(required=True)
    longitude = graphene.Float(required=True)

    class Meta:
        name = "Warehouse"


class StockRecordType(graphene.ObjectType):
    id = graphene.ID(required=True)
    sku = graphene.String(required=True)
    partner = graphene.Field(PartnerType, required=True)
    warehouse = graphene.Field(WarehouseType)
    price = graphene.Field(Money)
    available = graphene.Int(required=True, description="In stock minus allocated.")
    sellable = graphene.Boolean(required=True, description="Approved supplier and licences in order.")
    blocked_reason = graphene.String(required=True)

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
        return max(record.net_stock_level, 0)

    @staticmethod
    def resolve_sellable(record, info) -> bool:
        return is_sellable(record)


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
    stock_records = graphene.List(
        graphene.NonNull(StockRecordType), required=True, description="Sellable stock, cheapest first."
    )
    attributes = GenericScalar(required=True)
    product_type_slug = graphene.String(required=True)
    owner = graphene.Field(PartnerType)
    restricted_use = graphene.Boolean(required=True)
    min_price = graphene.Field(Money)
    available = graphene.Int(required=True, description="Sellable units over all warehouses.")
    thumbnail = graphene.String(
        size=graphene.Int(default_value=DEFAULT_SIZE),
        description="URL of the product's first image resized to fit size × size px (64, 128, 256, 512 "
        "or 1024; other sizes round up); null without an image.",
    )

    class Meta:
        name = "Product"

    @staticmethod
    def resolve_thumbnail(product, info, size: int = DEFAULT_SIZE) -> str | None:
        image = primary_image(product)
        if image is None:
            return None
        request = info.context
        base = getattr(request, "_absolute_base", None)
        if base is None:  # once per request: host validation is not free
            base = request._absolute_base = request.build_absolute_uri("/").rstrip("/")
        return base + thumbnail_path(image.pk, size)

    @staticmethod
    def resolve_product_type(product, info) -> str:
        return product.product_class.name if product.product_class_id else ""

    @staticmethod
    def resolve_categories(product, info):
        return list(product.categories.all())

    @staticmethod
    def resolve_stock_records(product, info):
        return [r for r in product.stockrecords.all() if is_sellable(r)]

    @staticmethod
    def resolve_product_type_slug(product, info) -> str:
        return product.product_class.slug if product.product_class_id else ""

    @staticmethod
    def resolve_min_price(product, info):
        prices = [r.price for r in ProductType.resolve_stock_records(product, info) if r.price is not None]
        return money(min(prices)) if prices else None

    @staticmethod
    def resolve_available(product, info) -> int:
        return sum(max(r.net_stock_level, 0) for r in ProductType.resolve_stock_records(product, info))

    @staticmethod
    def resolve_attributes(product, info) -> dict:
        return {av.attribute.code: json_value(av.value) for av in product.attribute_values.all()}


class ProductPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(ProductType), required=True)


class FacetValueType(graphene.ObjectType):
    value = graphene.String(required=True)
    label = graphene.String(required=True)
    count = graphene.Int(required=True)

    class Meta:
        name = "FacetValue"


class SearchFacets(graphene.ObjectType):
    product_types = graphene.List(graphene.NonNull(FacetValueType), required=True)
    suppliers = graphene.List(graphene.NonNull(FacetValueType), required=True)
    chloride_classes = graphene.List(graphene.NonNull(FacetValueType), required=True)


class SearchResultType(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(ProductType), required=True)
    facets = graphene.Field(SearchFacets, required=True)
    engine = graphene.String(required=True)

    class Meta:
        name = "SearchResult"


class StockRecordPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(StockRecordType), required=True)

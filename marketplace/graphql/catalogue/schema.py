from __future__ import annotations

import graphene
from django.db.models import Prefetch
from oscar.core.loading import get_model

from marketplace.core import permissions
from marketplace.search.services import SearchParams, search

from ..core.types import page, page_args
from .types import (
    CategoryType,
    FacetValueType,
    ProductPage,
    ProductType,
    SearchFacets,
    SearchResultType,
    StockRecordPage,
)

Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")
StockRecord = get_model("partner", "StockRecord")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")


def product_queryset(public_only: bool = True):
    """Products with everything the Product type reads, in a fixed number of queries."""
    qs = Product.objects.all()
    if public_only:
        qs = qs.filter(is_public=True)
    return (
        qs.exclude(structure=Product.PARENT)
        .select_related("product_class", "owner")
        .prefetch_related(
            "categories",
            Prefetch(
                "stockrecords",
                queryset=StockRecord.objects.select_related("partner", "warehouse").order_by("price", "pk"),
            ),
            Prefetch("attribute_values", queryset=ProductAttributeValue.objects.select_related("attribute")),
        )
    )


def products_in_order(ids: list[int]) -> list:
    found = {p.pk: p for p in product_queryset().filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


class SearchFilterInput(graphene.InputObjectType):
    product_types = graphene.List(graphene.NonNull(graphene.String), description="fertilizer, seed …")
    supplier_ids = graphene.List(graphene.NonNull(graphene.ID))
    category_id = graphene.ID()
    n_min = graphene.Decimal()
    n_max = graphene.Decimal()
    p_min = graphene.Decimal()
    p_max = graphene.Decimal()
    k_min = graphene.Decimal()
    k_max = graphene.Decimal()
    chloride_classes = graphene.List(graphene.NonNull(graphene.String), description="none/low/medium/high")
    in_stock = graphene.Boolean()
    station_id = graphene.ID(description="With radiusKm: stock in warehouses within that distance.")
    radius_km = graphene.Float()


SearchSort = graphene.Enum(
    "SearchSort",
    [
        ("RELEVANCE", "relevance"),
        ("PRICE_ASC", "price_asc"),
        ("PRICE_DESC", "price_desc"),
        ("TITLE", "title"),
    ],
)


def _facets(raw: dict) -> SearchFacets:
    def conv(key: str) -> list[FacetValueType]:
        return [FacetValueType(value=f.value, label=f.label, count=f.count) for f in raw.get(key, [])]

    return SearchFacets(
        product_types=conv("product_types"),
        suppliers=conv("suppliers"),
        chloride_classes=conv("chloride_classes"),
    )


def params_from(query: str | None, filters: dict | None, sort: str | None, first, offset) -> SearchParams:
    f = dict(filters or {})
    return SearchParams(
        query=query or "",
        product_types=list(f.get("product_types") or []),
        supplier_ids=[int(x) for x in f.get("supplier_ids") or []],
        category_id=int(f["category_id"]) if f.get("category_id") else None,
        n_min=f.get("n_min"),
        n_max=f.get("n_max"),
        p_min=f.get("p_min"),
        p_max=f.get("p_max"),
        k_min=f.get("k_min"),
        k_max=f.get("k_max"),
        chloride_classes=list(f.get("chloride_classes") or []),
        in_stock=bool(f.get("in_stock")),
        station_id=int(f["station_id"]) if f.get("station_id") else None,
        radius_km=f.get("radius_km"),
        sort=getattr(sort, "value", sort) or "relevance",
        first=first or 20,
        offset=offset or 0,
    )


class CatalogueQueries(graphene.ObjectType):
    products = graphene.Field(
        ProductPage,
        required=True,
        search=graphene.String(),
        category_id=graphene.ID(),
        **page_args(),
    )
    search = graphene.Field(
        SearchResultType,
        required=True,
        query=graphene.String(),
        filters=SearchFilterInput(),
        sort=SearchSort(),
        **page_args(),
        description="Chinese-aware product search with filters, facets and sorting (sellable stock only).",
    )
    product = graphene.Field(ProductType, id=graphene.ID(required=True))
    categories = graphene.List(graphene.NonNull(CategoryType), required=True)
    my_stock_records = graphene.Field(
        StockRecordPage, required=True, **page_args(), description="A supplier's own stock records."
    )

    @staticmethod
    def resolve_products(root, info, search=None, category_id=None, first=None, offset=None):
        from marketplace.search import db

        params = params_from(search, {"category_id": category_id}, "title", first, offset).validate()
        result = db.search(params, with_facets=False)
        return ProductPage(items=products_in_order(result.ids), total_count=result.total)

    @staticmethod
    def resolve_search(root, info, query=None, filters=None, sort=None, first=None, offset=None):
        from django.core.exceptions import ValidationError
        from graphql import GraphQLError

        try:
            result = search(params_from(query, filters, sort, first, offset))
        except ValidationError as exc:
            raise GraphQLError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        return SearchResultType(
            items=products_in_order(result.ids),
            total_count=result.total,
            facets=_facets(result.facets),
            engine=result.engine,
        )

    @staticmethod
    def resolve_product(root, info, id):
        return product_queryset().filter(pk=id).first()

    @staticmethod
    def resolve_categories(root, info):
        return list(Category.objects.filter(is_public=True).order_by("path"))

    @staticmethod
    def resolve_my_stock_records(root, info, first=None, offset=None):
        qs = (
            permissions.stockrecords_for(info.context.user)
            .select_related("partner", "warehouse", "product")
            .order_by("partner_sku", "pk")
        )
        if permissions.is_operator(info.context.user):
            qs = qs.none()  # "my": operators have no stock of their own
        items, total = page(qs, first, offset)
        return StockRecordPage(items=list(items), total_count=total)

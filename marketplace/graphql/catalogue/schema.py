from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import graphene
from django.db.models import Prefetch
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode
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
ProductImage = get_model("catalogue", "ProductImage")


#: Product fields that read the stock records (prefetched with partner and warehouse).
STOCK_FIELDS = frozenset({"stockRecords", "minPrice", "available"})


def product_queryset(public_only: bool = True, fields: Iterable[str] | None = None):
    """Products with everything the Product type reads, in a fixed number of queries.

    ``fields``: the GraphQL field names asked for (:func:`requested_fields`); only their relations
    are prefetched (a list asking for title and price makes no attribute or image query). None:
    everything (pages, the detail view).
    """
    wanted = None if fields is None else set(fields)

    def asked(*names: str) -> bool:
        return wanted is None or any(name in wanted for name in names)

    qs = Product.objects.all()
    if public_only:
        qs = qs.filter(is_public=True)
    qs = qs.exclude(structure=Product.PARENT).select_related("product_class").defer("search_text")
    if asked("owner"):
        qs = qs.select_related("owner")
    prefetches: list[Any] = []
    if asked("categories"):
        prefetches.append("categories")
    if asked(*STOCK_FIELDS):
        prefetches.append(
            Prefetch(
                "stockrecords",
                queryset=StockRecord.objects.select_related("partner", "warehouse").order_by("price", "pk"),
            )
        )
    if asked("attributes"):
        prefetches.append(
            Prefetch("attribute_values", queryset=ProductAttributeValue.objects.select_related("attribute"))
        )
    if asked("thumbnail", "images"):
        prefetches.append(
            Prefetch(
                "images",
                queryset=ProductImage.objects.only("pk", "product_id", "original", "display_order").order_by(
                    "display_order", "pk"
                ),
            )
        )
    return qs.prefetch_related(*prefetches)


def products_in_order(ids: list[int], fields: Iterable[str] | None = None) -> list:
    found = {p.pk: p for p in product_queryset(fields=fields).filter(pk__in=ids)}
    return [found[i] for i in ids if i in found]


def _collect(selection_set: Any, fragments: dict, out: dict[str, list]) -> None:
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            out.setdefault(selection.name.value, []).append(selection)
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, out)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            _collect(fragments[selection.name.value].selection_set, fragments, out)


def requested_fields(info: Any, path: tuple[str, ...] = ()) -> set[str]:
    """Names of the fields selected under ``path`` of the field being resolved (aliases and
    fragments followed), e.g. ``("items",)`` for the products of a page."""
    nodes = list(info.field_nodes)
    for name in path:
        children: dict[str, list] = {}
        for node in nodes:
            _collect(node.selection_set, info.fragments, children)
        nodes = children.get(name, [])
    names: dict[str, list] = {}
    for node in nodes:
        _collect(node.selection_set, info.fragments, names)
    return set(names)


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
        asked = requested_fields(info)
        result = db.search(params, with_facets=False, with_total="totalCount" in asked)
        return ProductPage(
            items=products_in_order(result.ids, requested_fields(info, ("items",))), total_count=result.total
        )

    @staticmethod
    def resolve_search(root, info, query=None, filters=None, sort=None, first=None, offset=None):
        from django.core.exceptions import ValidationError
        from graphql import GraphQLError

        asked = requested_fields(info)
        try:
            result = search(
                params_from(query, filters, sort, first, offset),
                with_total="totalCount" in asked,
                with_facets="facets" in asked,
            )
        except ValidationError as exc:
            raise GraphQLError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        return SearchResultType(
            items=products_in_order(result.ids, requested_fields(info, ("items",))),
            total_count=result.total,
            facets=_facets(result.facets),
            engine=result.engine,
        )

    @staticmethod
    def resolve_product(root, info, id):
        return product_queryset(fields=requested_fields(info)).filter(pk=id).first()

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

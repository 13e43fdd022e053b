"""Database search engine: PostgreSQL full-text search, or whole-token LIKE on SQLite."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Expression, F, OuterRef, Q, QuerySet, Subquery, Value, Window
from django.db.models.expressions import Col
from django.db.models.functions import Coalesce
from oscar.core.loading import get_model

from marketplace.apps.catalogue.product_types import CHLORIDE_UI, PRODUCT_TYPES
from marketplace.apps.partner.services import sellable_q

from .services import FacetValue, SearchParams, SearchResult, nearby_warehouse_ids
from .sync import LISTING_TOTAL_KEY, LISTING_TOTAL_SECONDS
from .text import query_clauses, to_tsquery

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")


class StoredSearchVector(Expression):
    """``catalogue_product.search_vector``: the stored, GIN-indexed ``to_tsvector('simple',
    search_text)`` generated column (PostgreSQL only, catalogue migration 0035).

    The model does not declare the column, so it resolves to a plain column reference on the
    query's product table — a ``Col``, which is relabelled correctly when the queryset is nested
    as a subquery (the facet queries), unlike a ``RawSQL`` naming the table.
    """

    output_field = SearchVectorField()
    column = SearchVectorField()
    column.set_attributes_from_name("search_vector")
    column.model = Product  # a column of the product table, only not in ``Product._meta``

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        return Col(query.get_initial_alias(), self.column, self.output_field)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def stock_queryset(params: SearchParams, product_checked: bool = False) -> QuerySet:
    """Sellable stock records matching the supplier / stock / distance filters.

    ``product_checked=True``: the caller already requires ``product.is_public`` (the product
    queryset's own filter), so the rule's product part is left out and the semi-join does not
    join ``catalogue_product`` a second time (a third less work for a count over 50k products).
    """
    sr = StockRecord.objects.filter(sellable_q(product=not product_checked))
    if params.supplier_ids:
        sr = sr.filter(partner_id__in=params.supplier_ids)
    if params.in_stock or params.radius_km is not None:
        sr = sr.filter(num_in_stock__gt=Coalesce(F("num_allocated"), Value(0)))
    nearby = nearby_warehouse_ids(params)
    if nearby is not None:
        sr = sr.filter(warehouse_id__in=nearby)
    return sr


def filtered_products(params: SearchParams, with_stock: bool = True) -> tuple[QuerySet, bool]:
    """Products matching everything; second value tells whether a rank annotation exists.

    ``with_stock=False`` leaves out the sellable-stock condition, for queries that start from the
    sellable stock records anyway (the supplier facet).
    """
    qs = Product.objects.filter(is_public=True).exclude(structure=Product.PARENT)
    if with_stock:
        qs = qs.filter(pk__in=stock_queryset(params, product_checked=True).values("product_id"))
    if params.product_types:
        qs = qs.filter(product_class__slug__in=params.product_types)
    if params.category_id:
        qs = qs.filter(categories__pk=params.category_id)
    for name, column in (("n", "n_pct"), ("p", "p2o5_pct"), ("k", "k2o_pct")):
        lo, hi = getattr(params, f"{name}_min"), getattr(params, f"{name}_max")
        if lo is not None:
            qs = qs.filter(**{f"{column}__gte": lo})
        if hi is not None:
            qs = qs.filter(**{f"{column}__lte": hi})
    if params.chloride_classes:
        qs = qs.filter(chloride_class__in=params.chloride_classes)
    ranked = False
    clauses = query_clauses(params.query) if params.query else []
    if clauses:
        if is_postgres():
            tsquery = SearchQuery(to_tsquery(clauses), config="simple", search_type="raw")
            qs = qs.annotate(_sv=StoredSearchVector()).filter(_sv=tsquery)
            qs = qs.annotate(rank=SearchRank(F("_sv"), tsquery))
            ranked = True
        else:
            for clause in clauses:
                alt_q = Q()
                for alternative in clause.alternatives:
                    all_q = Q()
                    for lexeme in alternative:
                        all_q &= Q(search_text__contains=f" {lexeme} ")
                    alt_q |= all_q
                qs = qs.filter(alt_q)
    return qs, ranked


def _ordered(qs: QuerySet, params: SearchParams, ranked: bool, sr: QuerySet) -> QuerySet:
    if params.sort in ("price_asc", "price_desc"):
        cheapest = sr.filter(product_id=OuterRef("pk")).exclude(price__isnull=True).order_by("price")
        qs = qs.annotate(min_price=Subquery(cheapest.values("price")[:1]))
        price = (
            F("min_price").asc(nulls_last=True)
            if params.sort == "price_asc"
            else F("min_price").desc(nulls_last=True)
        )
        return qs.order_by(price, "pk")
    if params.sort == "relevance" and ranked:
        return qs.order_by("-rank", "-priority", "title", "pk")
    return qs.order_by("-priority", "title", "pk")


def facets(qs: QuerySet, sr: QuerySet, params: SearchParams | None = None) -> dict[str, list[FacetValue]]:
    ids = qs.order_by().values("pk")
    # Suppliers: sellable stock of matching products. Filtering the stock by the product conditions
    # alone (not by ``qs``, which nests the stock subquery again) keeps PostgreSQL on a hash semi
    # join; the nested form was planned as a 200 × 200k nested loop (1.5-2.5 s on 50k products).
    stock_ids = filtered_products(params, with_stock=False)[0] if params is not None else qs
    stock_ids = stock_ids.order_by().values("pk")
    types = (
        Product.objects.filter(pk__in=ids)
        .values_list("product_class__slug", "product_class__name")
        .annotate(n=Count("pk"))
        .order_by("-n", "product_class__slug")
    )
    chloride = (
        Product.objects.filter(pk__in=ids)
        .exclude(chloride_class="")
        .values_list("chloride_class")
        .annotate(n=Count("pk"))
        .order_by("-n", "chloride_class")
    )
    suppliers = (
        sr.filter(product_id__in=stock_ids)
        .values_list("partner_id", "partner__name")
        .annotate(n=Count("product_id", distinct=True))
        .order_by("-n", "partner_id")[:50]
    )
    return {
        "product_types": [
            FacetValue(slug, name or PRODUCT_TYPES.get(slug, slug), n) for slug, name, n in types if slug
        ],
        "suppliers": [FacetValue(str(pk), name, n) for pk, name, n in suppliers],
        "chloride_classes": [FacetValue(c, str(CHLORIDE_UI.get(c, c)), n) for c, n in chloride],
    }


def is_unfiltered(params: SearchParams) -> bool:
    """No query and no filter: the whole sellable public catalogue (its total is cached)."""
    return replace(params, sort="relevance", first=20, offset=0) == SearchParams()


def search(params: SearchParams, with_facets: bool = True, with_total: bool = True) -> SearchResult:
    qs, ranked = filtered_products(params)
    sr = stock_queryset(params)
    ordered = _ordered(qs, params, ranked, sr)
    page = slice(params.offset, params.offset + params.first)
    total: int | None = None
    if not with_total:
        ids = list(ordered.values_list("pk", flat=True)[page])  # nobody asked: no count
    elif is_unfiltered(params):
        ids = list(ordered.values_list("pk", flat=True)[page])
        total = cache.get(LISTING_TOTAL_KEY)
        if total is None:
            total = qs.count()
            cache.set(LISTING_TOTAL_KEY, total, LISTING_TOTAL_SECONDS)
    else:
        # The page and the total in one statement: the matches are found (full-text match and
        # sellable-stock semi-join) once instead of twice, which halved PostgreSQL's time for a
        # search such as "玉米 种子" (3,077 matches of 50,000 products).
        rows = list(ordered.annotate(_total=Window(Count("pk"))).values_list("pk", "_total")[page])
        ids = [pk for pk, _ in rows]
        # A page past the end has no row to carry the total: count then (and only then).
        total = rows[0][1] if rows else (qs.count() if params.offset else 0)
    return SearchResult(
        ids=ids,
        total=total,
        facets=facets(qs, sr, params) if with_facets else {},
        engine="postgresql" if is_postgres() else "sqlite",
    )


def rebuild_search_text(batch_size: int = 500, stdout: Any = None) -> int:
    """Recompute denormalised search columns for every product (after analyser changes)."""
    from marketplace.apps.catalogue.search_fields import fill_search_fields

    fields = ["search_text", "n_pct", "p2o5_pct", "k2o_pct", "chloride_class", "restricted_use"]
    done = 0
    last = 0
    while True:
        batch = list(
            Product.objects.filter(pk__gt=last)
            .select_related("product_class", "parent__product_class")
            .prefetch_related("attribute_values__attribute")
            .order_by("pk")[:batch_size]
        )
        if not batch:
            break
        for product in batch:
            fill_search_fields(product)
        with transaction.atomic():
            Product.objects.bulk_update(batch, fields)
        done += len(batch)
        last = batch[-1].pk
        if stdout is not None:
            stdout.write(f"已重建 {done} 个商品的检索分词\n")
    return done

"""Elasticsearch engine (``ELASTICSEARCH_URL``): index definition, document building, query building.

Analysis without any plugin (no smartcn / ik): the jieba tokens computed in Python
(:mod:`marketplace.search.text`) are indexed into a ``whitespace``-analysed field, and the title
is also indexed with the built-in ``cjk`` analyzer (CJK bigrams). Mapping and query building are
pure functions, tested without a cluster; talking to the cluster is confined to the functions at
the bottom.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from elasticsearch_dsl import (
    Boolean,
    Document,
    Float,
    GeoPoint,
    Integer,
    Keyword,
    Q,
    ScaledFloat,
    Search,
    Text,
)
from oscar.core.loading import get_model

from marketplace.apps.catalogue.product_types import CHLORIDE_UI, PRODUCT_TYPES
from marketplace.apps.partner.strategy import is_sellable

from .services import FacetValue, SearchParams, SearchResult, station_point
from .text import query_clauses

Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")


def index_name() -> str:
    return f"{settings.ELASTICSEARCH_INDEX_PREFIX}-products"


class ProductDocument(Document):
    title = Text(analyzer="cjk", fields={"raw": Keyword()})
    tokens = Text(analyzer="whitespace")
    product_type = Keyword()
    product_type_name = Keyword()
    category_ids = Integer(multi=True)
    supplier_ids = Integer(multi=True)
    supplier_names = Keyword(multi=True)
    in_stock_supplier_ids = Integer(multi=True)
    chloride_class = Keyword()
    n_pct = Float()
    p2o5_pct = Float()
    k2o_pct = Float()
    restricted_use = Boolean()
    min_price = ScaledFloat(scaling_factor=100)
    in_stock = Boolean()
    sellable = Boolean()
    stock_locations = GeoPoint(multi=True)
    priority = Integer()

    class Index:
        name = "marketplace-products"  # replaced by index_name() at runtime
        settings = {"number_of_shards": 1, "number_of_replicas": 0}


def index_definition() -> dict[str, Any]:
    """The index body (settings + mappings) as sent to Elasticsearch."""
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": ProductDocument._doc_type.mapping.to_dict(),
    }


def _f(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def product_document(product: Any, records: Iterable[Any]) -> dict[str, Any]:
    """The indexed document for ``product``; ``records`` are its stock records with partner/warehouse."""
    sellable = [r for r in records if is_sellable(r)]
    in_stock = [r for r in sellable if (r.num_in_stock or 0) - (r.num_allocated or 0) > 0]
    prices = [r.price for r in sellable if r.price is not None]
    slug = product.product_class.slug if product.product_class_id else ""
    return {
        "_id": product.pk,
        "title": product.title,
        "tokens": product.search_text.strip(),
        "product_type": slug,
        "product_type_name": PRODUCT_TYPES[slug].name if slug in PRODUCT_TYPES else "",
        "category_ids": [c.pk for c in product.categories.all()],
        "supplier_ids": sorted({r.partner_id for r in sellable}),
        "supplier_names": sorted({r.partner.name for r in sellable}),
        "in_stock_supplier_ids": sorted({r.partner_id for r in in_stock}),
        "chloride_class": product.chloride_class or None,
        "n_pct": _f(product.n_pct),
        "p2o5_pct": _f(product.p2o5_pct),
        "k2o_pct": _f(product.k2o_pct),
        "restricted_use": product.restricted_use,
        "min_price": float(min(prices)) if prices else None,
        "in_stock": bool(in_stock),
        "stock_locations": [
            {"lat": float(r.warehouse.latitude), "lon": float(r.warehouse.longitude)}
            for r in in_stock
            if r.warehouse_id and r.warehouse.is_active
        ],
        "priority": product.priority,
        "sellable": bool(sellable),
    }


def build_search(params: SearchParams, point: tuple[float, float] | None = None) -> Search:
    """The elasticsearch-dsl Search for ``params`` (pure: no cluster needed)."""
    s = Search(index=index_name())
    filters = [Q("term", sellable=True)]
    if params.product_types:
        filters.append(Q("terms", product_type=params.product_types))
    if params.category_id:
        filters.append(Q("term", category_ids=params.category_id))
    stock_field = "in_stock_supplier_ids" if params.in_stock else "supplier_ids"
    if params.supplier_ids:
        filters.append(Q("terms", **{stock_field: params.supplier_ids}))
    elif params.in_stock:
        filters.append(Q("term", in_stock=True))
    for name, column in (("n", "n_pct"), ("p", "p2o5_pct"), ("k", "k2o_pct")):
        lo, hi = getattr(params, f"{name}_min"), getattr(params, f"{name}_max")
        if lo is not None or hi is not None:
            bounds = {}
            if lo is not None:
                bounds["gte"] = float(lo)
            if hi is not None:
                bounds["lte"] = float(hi)
            filters.append(Q("range", **{column: bounds}))
    if params.chloride_classes:
        filters.append(Q("terms", chloride_class=params.chloride_classes))
    if point is not None and params.radius_km is not None:
        filters.append(
            Q(
                "geo_distance",
                distance=f"{params.radius_km}km",
                stock_locations={"lat": point[0], "lon": point[1]},
            )
        )
    must = []
    clauses = query_clauses(params.query) if params.query else []
    for clause in clauses:
        alternatives = [
            Q("match", tokens={"query": " ".join(alt), "operator": "and"}) for alt in clause.alternatives
        ]
        alternatives.append(Q("match", title={"query": clause.word, "operator": "and"}))
        must.append(Q("bool", should=alternatives, minimum_should_match=1))
    s = s.query(Q("bool", filter=filters, must=must))
    s.aggs.bucket("product_types", "terms", field="product_type", size=20)
    s.aggs.bucket("suppliers", "terms", field="supplier_ids", size=50)
    s.aggs.bucket("chloride_classes", "terms", field="chloride_class", size=10)
    if params.sort == "price_asc":
        s = s.sort({"min_price": {"order": "asc", "missing": "_last"}}, {"_id": "asc"})
    elif params.sort == "price_desc":
        s = s.sort({"min_price": {"order": "desc", "missing": "_last"}}, {"_id": "asc"})
    elif params.sort == "title" or not clauses:
        s = s.sort({"priority": "desc"}, {"title.raw": "asc"}, {"_id": "asc"})
    else:
        s = s.sort("_score", {"priority": "desc"}, {"_id": "asc"})
    s = s.extra(track_total_hits=True, from_=params.offset, size=params.first)
    return s.source(False)


def parse_response(raw: dict[str, Any], supplier_names: dict[int, str]) -> SearchResult:
    hits = raw["hits"]
    aggs = raw.get("aggregations", {})
    total = hits["total"]["value"] if isinstance(hits["total"], dict) else hits["total"]

    def buckets(name: str) -> list[dict[str, Any]]:
        return aggs.get(name, {}).get("buckets", [])

    return SearchResult(
        ids=[int(h["_id"]) for h in hits["hits"]],
        total=total,
        facets={
            "product_types": [
                FacetValue(
                    b["key"],
                    PRODUCT_TYPES[b["key"]].name if b["key"] in PRODUCT_TYPES else b["key"],
                    b["doc_count"],
                )
                for b in buckets("product_types")
            ],
            "suppliers": [
                FacetValue(str(b["key"]), supplier_names.get(int(b["key"]), ""), b["doc_count"])
                for b in buckets("suppliers")
            ],
            "chloride_classes": [
                FacetValue(b["key"], str(CHLORIDE_UI.get(b["key"], b["key"])), b["doc_count"])
                for b in buckets("chloride_classes")
            ],
        },
        engine="elasticsearch",
    )


# --- Cluster I/O -------------------------------------------------------------------------------


def client() -> Any:
    from elasticsearch import Elasticsearch

    return Elasticsearch(settings.ELASTICSEARCH_URL, request_timeout=10)


def search(params: SearchParams) -> SearchResult:
    s = build_search(params, station_point(params) if params.radius_km is not None else None)
    raw = client().search(index=index_name(), body=s.to_dict()).body
    Partner = get_model("partner", "Partner")
    ids = [int(b["key"]) for b in raw.get("aggregations", {}).get("suppliers", {}).get("buckets", [])]
    names = dict(Partner.objects.filter(pk__in=ids).values_list("pk", "name"))
    return parse_response(raw, names)


def ensure_index(recreate: bool = False) -> None:
    es = client()
    name = index_name()
    if recreate and es.indices.exists(index=name):
        es.indices.delete(index=name)
    if not es.indices.exists(index=name):
        es.indices.create(index=name, **index_definition())


def _products(ids: Iterable[int]):
    from django.db.models import Prefetch

    return (
        Product.objects.filter(pk__in=list(ids))
        .select_related("product_class")
        .prefetch_related(
            "categories",
            Prefetch("stockrecords", queryset=StockRecord.objects.select_related("partner", "warehouse")),
        )
    )


def index_products(product_ids: Iterable[int]) -> int:
    from elasticsearch.helpers import bulk

    ids = list(product_ids)
    ensure_index()
    found = {p.pk: p for p in _products(ids)}
    actions = []
    for pk in ids:
        product = found.get(pk)
        if product is None or not product.is_public:
            actions.append({"_op_type": "delete", "_index": index_name(), "_id": pk})
            continue
        doc = product_document(product, product.stockrecords.all())
        actions.append({"_index": index_name(), "_id": doc.pop("_id"), "_source": doc})
    ok, _ = bulk(client(), actions, raise_on_error=False, refresh="wait_for")
    return ok


def rebuild_index(batch_size: int = 500, stdout: Any = None) -> int:
    ensure_index(recreate=True)
    done = 0
    last = 0
    while True:
        ids = list(
            Product.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        index_products(ids)
        done += len(ids)
        last = ids[-1]
        if stdout is not None:
            stdout.write(f"已写入 Elasticsearch {done} 个商品\n")
    return done

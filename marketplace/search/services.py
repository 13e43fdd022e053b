"""Product search: one interface, one results contract, three engines.

* Elasticsearch (``ELASTICSEARCH_URL`` set): :mod:`marketplace.search.es`.
* PostgreSQL: full-text search over the jieba-segmented ``Product.search_text`` ('simple'
  configuration) through its stored, GIN-indexed ``search_vector`` column — :mod:`marketplace.search.db`.
* SQLite (embedded default): whole-token ``LIKE`` over the same segmented text.

Every engine returns :class:`SearchResult`: product ids in order, a total count and facets
(product type, supplier, chloride class) computed over the filtered result set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from marketplace.apps.catalogue.product_types import CHLORIDE_CLASSES, PRODUCT_TYPES
from marketplace.core.geo import haversine_km

SORTS = ("relevance", "price_asc", "price_desc", "title")
MAX_RADIUS_KM = 500.0


@dataclass
class SearchParams:
    query: str = ""
    product_types: list[str] = field(default_factory=list)
    supplier_ids: list[int] = field(default_factory=list)
    category_id: int | None = None
    n_min: Decimal | None = None
    n_max: Decimal | None = None
    p_min: Decimal | None = None
    p_max: Decimal | None = None
    k_min: Decimal | None = None
    k_max: Decimal | None = None
    chloride_classes: list[str] = field(default_factory=list)
    in_stock: bool = False
    station_id: int | None = None
    radius_km: float | None = None
    sort: str = "relevance"
    first: int = 20
    offset: int = 0

    def validate(self) -> SearchParams:
        errors: dict[str, ValidationError] = {}
        unknown = [t for t in self.product_types if t not in PRODUCT_TYPES]
        if unknown:
            errors["product_types"] = ValidationError(
                gettext("未知商品类型: %(types)s") % {"types": ", ".join(unknown)}, "invalid"
            )
        bad_cl = [c for c in self.chloride_classes if c not in CHLORIDE_CLASSES]
        if bad_cl:
            errors["chloride_classes"] = ValidationError(
                gettext("含氯类别须为 %(classes)s") % {"classes": ", ".join(CHLORIDE_CLASSES)}, "invalid"
            )
        if self.sort not in SORTS:
            errors["sort"] = ValidationError(
                gettext("排序须为 %(sorts)s") % {"sorts": ", ".join(SORTS)}, "invalid"
            )
        for name in ("n", "p", "k"):
            lo, hi = getattr(self, f"{name}_min"), getattr(self, f"{name}_max")
            for bound in (lo, hi):
                if bound is not None and not (0 <= bound <= 100):
                    errors[f"{name}_min"] = ValidationError(gettext("养分含量须在 0-100 之间"), "invalid")
            if lo is not None and hi is not None and lo > hi:
                errors[f"{name}_min"] = ValidationError(gettext("最小值不能大于最大值"), "invalid")
        if self.radius_km is not None:
            if self.station_id is None:
                errors["radius_km"] = ValidationError(gettext("按距离筛选须指定站点"), "required")
            elif not (0 < self.radius_km <= MAX_RADIUS_KM):
                errors["radius_km"] = ValidationError(
                    gettext("半径须在 0-%(max)s 公里之间") % {"max": f"{MAX_RADIUS_KM:g}"}, "invalid"
                )
        if errors:
            raise ValidationError(errors)
        self.first = min(max(int(self.first or 20), 1), settings.GRAPHQL_MAX_PAGE_SIZE)
        self.offset = max(int(self.offset or 0), 0)
        self.query = (self.query or "").strip()[:200]
        return self


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass
class SearchResult:
    ids: list[int]
    total: int | None  # None: not counted (the caller did not ask, ``with_total=False``)
    facets: dict[str, list[FacetValue]]
    engine: str


def station_point(params: SearchParams) -> tuple[float, float] | None:
    if params.station_id is None:
        return None
    from marketplace.stations.models import Station

    row = Station.objects.filter(pk=params.station_id).values_list("latitude", "longitude").first()
    if row is None:
        raise ValidationError({"station_id": ValidationError(gettext("站点不存在"), code="not_found")})
    return float(row[0]), float(row[1])


def nearby_warehouse_ids(params: SearchParams) -> list[int] | None:
    """Warehouses within ``radius_km`` of the station (haversine), or None if no distance filter."""
    point = station_point(params)
    if point is None or params.radius_km is None:
        return None
    from marketplace.apps.partner.models import Warehouse

    return [
        pk
        for pk, lat, lon in Warehouse.objects.filter(is_active=True).values_list(
            "pk", "latitude", "longitude"
        )
        if haversine_km(point[0], point[1], float(lat), float(lon)) <= params.radius_km
    ]


def search(params: SearchParams, *, with_total: bool = True, with_facets: bool = True) -> SearchResult:
    """``with_total`` / ``with_facets`` False: leave out the count / facet queries (the database
    engine; Elasticsearch answers them in the same request anyway)."""
    params.validate()
    if settings.ELASTICSEARCH_URL:
        from . import es

        return es.search(params)
    from . import db

    return db.search(params, with_facets=with_facets, with_total=with_total)


def rebuild(batch_size: int = 500, stdout: Any = None) -> int:
    """Recompute every product's segmented ``search_text`` (and the ES index when configured)."""
    from . import db

    count = db.rebuild_search_text(batch_size=batch_size, stdout=stdout)
    if settings.ELASTICSEARCH_URL:
        from . import es

        es.rebuild_index(batch_size=batch_size, stdout=stdout)
    return count

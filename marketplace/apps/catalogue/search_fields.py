"""Fill a product's denormalised search fields from its title and typed attributes."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from marketplace.search.text import index_text

from .product_types import CHLORIDE_LABELS, FERTILIZER, PESTICIDE

TEXT_ATTRIBUTES = (
    "crop",
    "variety",
    "variety_approval_no",
    "active_ingredient",
    "registration_no",
    "origin",
    "grade",
    "form",
    "spec",
    "lot_code",
)


def _attr(product: Any, code: str) -> Any:
    try:
        return getattr(product.attr, code)
    except AttributeError:
        return None


def _pct(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return Decimal(str(value)).quantize(Decimal("0.01"))


def fill_search_fields(product: Any) -> None:
    product_class = product.get_product_class() if (product.product_class_id or product.parent_id) else None
    codes = ("n_pct", "p2o5_pct", "k2o_pct", "chloride_class", "restricted_use", *TEXT_ATTRIBUTES)
    apply_search_fields(product, product_class, {code: _attr(product, code) for code in codes})


def apply_search_fields(product: Any, product_class: Any, values: Mapping[str, Any]) -> None:
    """Set the denormalised columns from already-known attribute ``values`` (no queries).

    ``fill_search_fields`` reads them through ``product.attr``; the bulk importer passes the
    cleaned values of a row directly.
    """
    slug = product_class.slug if product_class else ""
    if slug == FERTILIZER:
        product.n_pct = _pct(values.get("n_pct"))
        product.p2o5_pct = _pct(values.get("p2o5_pct"))
        product.k2o_pct = _pct(values.get("k2o_pct"))
        product.chloride_class = values.get("chloride_class") or ""
    else:
        product.n_pct = product.p2o5_pct = product.k2o_pct = None
        product.chloride_class = ""
    product.restricted_use = bool(slug == PESTICIDE and values.get("restricted_use"))
    parts = [product.title or "", product.upc or "", product_class.name if product_class else ""]
    parts += [str(v) for v in (values.get(code) for code in TEXT_ATTRIBUTES) if v]
    if product.chloride_class:
        parts.append(CHLORIDE_LABELS.get(product.chloride_class, ""))
    if product.n_pct is not None:
        parts.append(f"{float(product.n_pct):g}-{float(product.p2o5_pct):g}-{float(product.k2o_pct):g}")
    product.search_text = index_text(*parts)

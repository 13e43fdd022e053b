"""Fill a product's denormalised search fields from its title and typed attributes."""

from __future__ import annotations

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
    slug = product_class.slug if product_class else ""
    if slug == FERTILIZER:
        product.n_pct = _pct(_attr(product, "n_pct"))
        product.p2o5_pct = _pct(_attr(product, "p2o5_pct"))
        product.k2o_pct = _pct(_attr(product, "k2o_pct"))
        product.chloride_class = _attr(product, "chloride_class") or ""
    else:
        product.n_pct = product.p2o5_pct = product.k2o_pct = None
        product.chloride_class = ""
    product.restricted_use = bool(slug == PESTICIDE and _attr(product, "restricted_use"))
    parts = [product.title or "", product.upc or "", product_class.name if product_class else ""]
    parts += [str(v) for v in (_attr(product, code) for code in TEXT_ATTRIBUTES) if v]
    if product.chloride_class:
        parts.append(CHLORIDE_LABELS.get(product.chloride_class, ""))
    if product.n_pct is not None:
        parts.append(f"{float(product.n_pct):g}-{float(product.p2o5_pct):g}-{float(product.k2o_pct):g}")
    product.search_text = index_text(*parts)

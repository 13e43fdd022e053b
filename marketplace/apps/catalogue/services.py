"""Catalogue services: typed product create/update, supplier stock records, and the purchase
rule for restricted-use pesticides. Views, GraphQL, imports and tasks all call these.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from functools import reduce
from typing import Any, NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, FilteredRelation, Q, Value
from django.db.models.functions import Coalesce
from django.utils.text import slugify
from django.utils.translation import gettext
from oscar.core.loading import get_model

from marketplace.apps.partner.models import Partner, StockRecord, Warehouse
from marketplace.apps.partner.services import is_sellable, sellable_q
from marketplace.core import permissions
from marketplace.core.extensions import PurchasableOffer
from marketplace.core.money import cny

from .product_types import PESTICIDE, ensure_product_types
from .validation import stored_attributes, validate_product

Product = get_model("catalogue", "Product")
ProductClass = get_model("catalogue", "ProductClass")
ProductAttribute = get_model("catalogue", "ProductAttribute")
Category = get_model("catalogue", "Category")


class StationPurchaseCheck(NamedTuple):
    """``ok, reason = can_station_buy(...)`` or ``.allowed`` / ``.reason``."""

    allowed: bool
    reason: str = ""


def can_station_buy(station: Any, product: Any, day: Any = None) -> StationPurchaseCheck:
    """May ``station`` buy ``product``? Restricted-use pesticides (限制使用农药) need the station to
    hold a valid 农药经营许可证 whose scope includes restricted-use products.

    Returns ``(allowed, reason)``; the reason is a Chinese sentence for the UI.
    """
    if station is None or not getattr(station, "is_active", False):
        return StationPurchaseCheck(False, gettext("站点不存在或已停用"))
    if not product.is_public:
        return StationPurchaseCheck(False, gettext("商品已下架"))
    slug = product.product_class.slug if product.product_class_id else ""
    if slug == PESTICIDE and product.restricted_use:
        from marketplace.stations.models import StationPesticideLicence

        ok = (
            StationPesticideLicence.objects.valid_on(day)
            .filter(station=station, restricted_scope=True)
            .exists()
        )
        if not ok:
            return StationPurchaseCheck(
                False, gettext("限制使用农药: 站点须持有有效且经营范围含限制使用农药的农药经营许可证")
            )
    return StationPurchaseCheck(True, "")


def can_user_buy(user: Any, product: Any, station: Any = None) -> StationPurchaseCheck:
    """May ``user`` buy ``product`` (for ``station``, when known)? The buyer half of the sellable
    rule, applied by the Oscar strategy (basket, checkout) and every station purchase path.

    Restricted-use pesticides are sold only to a licensed buyer: the staff of a station holding a
    valid 农药经营许可证 with restricted scope (:func:`can_station_buy`). City buyers, farmers
    buying for themselves, suppliers and anonymous visitors are not licensed buyers.
    """
    if not getattr(product, "restricted_use", False):
        return StationPurchaseCheck(True, "")
    if station is not None:
        if not permissions.can_manage_station(user, station):
            return StationPurchaseCheck(False, gettext("限制使用农药: 只能由本站点信息员购买"))
        return can_station_buy(station, product)
    from marketplace.accounts.models import Role

    if not permissions.is_authenticated(user) or user.role != Role.STATION_STAFF:
        return StationPurchaseCheck(False, gettext("限制使用农药: 须由持有限制使用农药经营许可的站点购买"))
    for managed in permissions.managed_stations(user):
        if can_station_buy(managed, product).allowed:
            return StationPurchaseCheck(True, "")
    return StationPurchaseCheck(
        False, gettext("限制使用农药: 站点须持有有效且经营范围含限制使用农药的农药经营许可证")
    )


# --- Products -------------------------------------------------------------------------------------


def _category_for(product_class: Any) -> Any:
    category = Category.objects.filter(name=product_class.name, depth=1).first()
    return category or Category.add_root(name=product_class.name)


def _apply(product: Any, cleaned: dict[str, Any]) -> bool:
    """Set cleaned values on ``product``; return whether anything changed."""
    changed = False
    for key in ("title", "description", "upc", "is_public"):
        if key in cleaned:
            value = cleaned[key] if key != "upc" else (cleaned[key] or None)
            if getattr(product, key) != value:
                setattr(product, key, value)
                changed = True
    if "attributes" in cleaned:
        current = stored_attributes(product) if product.pk else {}
        for code, value in cleaned["attributes"].items():
            if current.get(code) != value:
                setattr(product.attr, code, value)
                changed = True
        for code in set(current) - set(cleaned["attributes"]):
            setattr(product.attr, code, None)
            changed = True
    return changed


@transaction.atomic
def create_product(actor: Any, partner: Partner, data: dict[str, Any]) -> Any:
    """A supplier adds a product it owns (validated typed attributes)."""
    permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权为该供应商创建商品"))
    cleaned = validate_product(data, None)
    classes = (
        ensure_product_types()
        if not ProductClass.objects.filter(slug=cleaned["product_type"]).exists()
        else {}
    )
    product_class = classes.get(cleaned["product_type"]) or ProductClass.objects.get(
        slug=cleaned["product_type"]
    )
    if cleaned.get("upc") and Product.objects.filter(upc=cleaned["upc"]).exists():
        raise ValidationError({"upc": ValidationError(gettext("商品条码已存在"), code="unique")})
    product = Product(product_class=product_class, structure=Product.STANDALONE, owner=partner)
    _apply(product, cleaned)
    product.slug = slugify(product.title, allow_unicode=True)[:128] or "product"
    product.save()
    product.categories.add(_category_for(product_class))
    return product


@transaction.atomic
def update_product(actor: Any, product: Any, data: dict[str, Any]) -> Any:
    permissions.require(permissions.can_manage_product(actor, product), gettext("只能修改本供应商的商品"))
    cleaned = validate_product(data, product)
    if cleaned.get("upc") and Product.objects.filter(upc=cleaned["upc"]).exclude(pk=product.pk).exists():
        raise ValidationError({"upc": ValidationError(gettext("商品条码已存在"), code="unique")})
    if _apply(product, cleaned):
        product.save()
    return product


# --- Stock records -------------------------------------------------------------------------------


def _decimal(value: Any, field: str) -> Decimal:
    try:
        amount = cny(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValidationError({field: ValidationError(gettext("须为金额数字"), code="invalid")}) from exc
    if amount < 0:
        raise ValidationError({field: ValidationError(gettext("不能为负"), code="invalid")})
    return amount


@transaction.atomic
def upsert_stockrecord(
    actor: Any,
    partner: Partner,
    product: Any,
    *,
    sku: str,
    price: Any,
    num_in_stock: int,
    warehouse: Warehouse | None = None,
) -> tuple[StockRecord, bool]:
    """Create or update a supplier's stock record (idempotent by partner + SKU)."""
    permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权修改该供应商库存"))
    errors: dict[str, ValidationError] = {}
    sku = (sku or "").strip()
    if not sku:
        errors["sku"] = ValidationError(gettext("SKU 为必填项"), code="required")
    if num_in_stock is None or int(num_in_stock) < 0:
        errors["num_in_stock"] = ValidationError(gettext("库存须为非负整数"), code="invalid")
    if warehouse is not None and warehouse.partner_id != partner.pk:
        errors["warehouse_id"] = ValidationError(gettext("仓库不属于本供应商"), code="invalid")
    if (
        product.owner_id not in (None, partner.pk)
        and not product.stockrecords.filter(partner=partner).exists()
    ):
        errors["product_id"] = ValidationError(gettext("该商品属于其他供应商"), code="permission_denied")
    if errors:
        raise ValidationError(errors)
    amount = _decimal(price, "price")
    record = StockRecord.objects.select_for_update().filter(partner=partner, partner_sku=sku).first()
    if record is not None and record.product_id != product.pk:
        raise ValidationError({"sku": ValidationError(gettext("该 SKU 已用于其他商品"), code="unique")})
    if record is None:
        record = StockRecord.objects.create(
            partner=partner,
            product=product,
            partner_sku=sku,
            price=amount,
            price_currency="CNY",
            num_in_stock=int(num_in_stock),
            warehouse=warehouse,
        )
        return record, True
    if int(num_in_stock) < (record.num_allocated or 0):
        raise ValidationError(
            {
                "num_in_stock": ValidationError(
                    gettext("库存不能少于已占用数量 %(allocated)s") % {"allocated": record.num_allocated},
                    code="invalid",
                )
            }
        )
    changed = (record.price, record.num_in_stock, record.warehouse_id) != (
        amount,
        int(num_in_stock),
        warehouse.pk if warehouse else None,
    )
    if changed:
        record.price, record.num_in_stock, record.warehouse = amount, int(num_in_stock), warehouse
        record.save()
    return record, False


# --- Offers for stations (core offer provider, see marketplace.core.extensions) ------------------

#: Oscar attribute types whose value is one column of ProductAttributeValue (``value_<type>``).
SCALAR_ATTRIBUTE_TYPES = frozenset({"text", "integer", "boolean", "float", "richtext", "date", "datetime"})


def _attribute_joins(
    codes: Sequence[str], product_classes: Sequence[str] | None, relation: str
) -> tuple[dict[str, FilteredRelation], list[tuple[str, str]]]:
    """Joins reading the product attributes ``codes`` (restricted to the attributes of
    ``product_classes`` when given) from the model ``relation`` leads to ``attribute_values`` from
    (``"product__attribute_values"`` from a stock record, ``"attribute_values"`` from a product).
    Returns (annotations, [(code, value column), …]); a code may have several columns when it is an
    attribute of several product classes with different types."""
    attributes = ProductAttribute.objects.filter(code__in=list(codes))
    if product_classes is not None:
        attributes = attributes.filter(product_class__slug__in=list(product_classes))
    ids: dict[tuple[str, str], list[int]] = {}
    for pk, code, kind in attributes.order_by("pk").values_list("pk", "code", "type"):
        if kind not in SCALAR_ATTRIBUTE_TYPES:
            raise ValueError(f"attribute {code!r} is of type {kind!r}: not one value column")
        ids.setdefault((code, kind), []).append(pk)
    joins: dict[str, FilteredRelation] = {}
    columns: list[tuple[str, str]] = []
    for i, ((code, kind), pks) in enumerate(ids.items()):
        alias = f"attr_{i}"
        joins[alias] = FilteredRelation(relation, condition=Q(**{f"{relation}__attribute_id__in": pks}))
        columns.append((code, f"{alias}__value_{kind}"))
    return joins, columns


def _has_attributes_q(codes: Sequence[str], columns: Sequence[tuple[str, str]]) -> Q:
    """Rows with a value for every code (an attribute no product class has matches nothing)."""
    q = Q()
    for code in codes:
        either = [Q(**{f"{column}__isnull": False}) for c, column in columns if c == code]
        q &= reduce(operator.or_, either) if either else Q(pk__in=[])
    return q


def _attribute_values(row: Sequence[Any], codes: Sequence[str]) -> dict[str, Any]:
    """{code: value} of one row's attribute columns (``codes``: the code of each column)."""
    return {code: value for code, value in zip(codes, row, strict=True) if value is not None}


def stock_offers(
    station: Any,
    product_ids: Sequence[int] | None = None,
    *,
    product_classes: Sequence[str] | None = None,
    attributes: Sequence[str] = (),
) -> Iterable[PurchasableOffer]:
    """Sellable, in-stock supplier offers a station may buy (restricted pesticides checked).

    ``product_classes`` (product class slugs) and ``attributes`` (attribute codes: each offer's
    ``attributes`` carries the product's values; products lacking one are left out) narrow the read
    in SQL — a fertilizer plan needs the fertilizers with their N/P/K, not the whole catalogue (at
    50,000 products ~30,000 of ~60,000 stock records, read with their attributes in one query
    instead of a second one with an IN list of every fertilizer id). See
    :func:`marketplace.core.extensions.purchasable_offers`.

    Rows, not models: building a stock record, product, product class and partner per row (with
    Django's init signals) was most of a recommendation's CPU in the spring-peak mix."""
    qs = StockRecord.objects.filter(
        sellable_q(), num_in_stock__gt=Coalesce(F("num_allocated"), Value(0))
    ).exclude(price__isnull=True)
    if product_ids is not None:
        qs = qs.filter(product_id__in=list(product_ids))
    if product_classes is not None:  # ids first: the planner estimates a class id, not a slug join
        classes = list(
            ProductClass.objects.filter(slug__in=list(product_classes)).values_list("pk", flat=True)
        )
        qs = qs.filter(product__product_class_id__in=classes)
    columns: list[tuple[str, str]] = []
    if attributes:
        joins, columns = _attribute_joins(attributes, product_classes, "product__attribute_values")
        qs = qs.annotate(**joins).filter(_has_attributes_q(attributes, columns))
    rows = qs.order_by("product_id", "price", "pk").values_list(
        "pk",
        "product_id",
        "product__title",
        "product__restricted_use",
        "partner_id",
        "partner_sku",
        "price",
        "num_in_stock",
        "num_allocated",
        *(column for _code, column in columns),
    )
    codes = [code for code, _column in columns]
    station_may_buy_restricted: bool | None = None
    for row in rows.iterator(chunk_size=2000):
        pk, product_id, title, restricted, partner_id, sku, price, in_stock, allocated = row[:9]
        if restricted:
            if station_may_buy_restricted is None:
                product = Product.objects.select_related("product_class").get(pk=product_id)
                station_may_buy_restricted = can_station_buy(station, product).allowed
            if not station_may_buy_restricted:
                continue
        yield PurchasableOffer(
            product_id=product_id,
            sku=sku,
            title=title,
            partner_id=partner_id,
            unit_price=price,
            available=in_stock - (allocated or 0),
            source="stock",
            source_ref=str(pk),
            attributes=_attribute_values(row[9:], codes) if codes else {},
        )


def narrow_offers(
    offers: Sequence[PurchasableOffer],
    product_classes: Sequence[str] | None = None,
    attributes: Sequence[str] = (),
) -> list[PurchasableOffer]:
    """Apply :func:`stock_offers`' ``product_classes`` / ``attributes`` to offers made elsewhere
    (plugins): one query for their products. An offer's own ``attributes`` win over the product's;
    an offer lacking a value for a code (in both) is left out."""
    if not offers or (product_classes is None and not attributes):
        return list(offers)
    qs = Product.objects.filter(pk__in={o.product_id for o in offers})
    if product_classes is not None:
        qs = qs.filter(product_class__slug__in=list(product_classes))
    columns: list[tuple[str, str]] = []
    if attributes:
        joins, columns = _attribute_joins(attributes, product_classes, "attribute_values")
        qs = qs.annotate(**joins)
    codes = [code for code, _column in columns]
    found = {
        row[0]: _attribute_values(row[1:], codes)
        for row in qs.values_list("pk", *(column for _code, column in columns))
    }
    out = []
    for offer in offers:
        if offer.product_id not in found:
            continue
        if attributes:
            values = {
                **found[offer.product_id],
                **{k: v for k, v in offer.attributes.items() if v is not None},
            }
            if any(values.get(code) is None for code in attributes):
                continue
            offer = replace(offer, attributes=values)
        out.append(offer)
    return out


__all__ = [
    "can_station_buy",
    "can_user_buy",
    "create_product",
    "update_product",
    "upsert_stockrecord",
    "stock_offers",
    "narrow_offers",
    "is_sellable",
]

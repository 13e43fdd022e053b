"""The product validator: the one home of the product rules (issue #10, "one rule, one place").

Every path that creates or edits a product calls :func:`validate_product`: the catalogue services
(``create_product`` / ``update_product``, used by GraphQL ``productCreate`` / ``productUpdate`` and
the supplier's product page in the storefront), the CSV / XLSX import (``catalogue/importer.py``)
and Oscar's dashboard product form (``marketplace/apps/dashboard/catalogue/forms.py``).
:func:`clean_attributes` is the typed-attribute half, also used on its own by the produce plugin.

The rules (declared per product type in ``product_types.py``):

* 化肥: N / P₂O₅ / K₂O 0–100, sum ≤ 100; a compound fertilizer (≥ 2 nutrients) totals ≥ 25 %
  (GB/T 15063-2020); a declared ``concentration`` high/medium/low needs ≥ 40/30/25 %;
  ``chloride_class`` ∈ none/low/medium/high; an N-P-K grade in the title (``18-18-18``) must equal
  the attributes.
* 种子: germination / purity / moisture 0–100 %, net content > 0, approval and licence numbers.
* 农药: registration number ``PD|PDN|WP|WPN|LS|WL`` + 8 digits, toxicity level, restricted use.
* 农产品: origin, grade, harvest date not in the future, lot / trace code format.

Errors are a ``ValidationError`` keyed by field (``title``, ``product_type``, ``upc`` or the
attribute code), each message naming the field, translated with gettext (zh-Hans msgids, English
in ``locale/en``): the same sentence on every path.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, pgettext

from .product_types import (
    CHLORIDE_LABELS,
    COMPOUND_MIN_TOTAL,
    CONCENTRATION_LABELS,
    CONCENTRATION_MIN_TOTAL,
    FERTILIZER,
    PRODUCE,
    PRODUCT_TYPES,
    AttributeSpec,
    ProductTypeSpec,
)

#: Fields a product create / update accepts (services, GraphQL, the supplier page).
PRODUCT_FIELDS = ("title", "description", "upc", "is_public", "attributes", "product_type")

_GRADE_IN_TITLE = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d)?)-(\d{1,2}(?:\.\d)?)-(\d{1,2}(?:\.\d)?)(?![\d.])")


def attribute_label(spec: AttributeSpec) -> str:
    """The attribute's name in the request language (declared in Chinese)."""
    return pgettext("product attribute", spec.name)


def type_label(spec: ProductTypeSpec) -> str:
    """The product type's name in the request language (declared in Chinese)."""
    return pgettext("product type", spec.name)


def choice_label(spec: AttributeSpec, value: str) -> str:
    """Display label of an attribute choice (chloride class, concentration, toxicity)."""
    if spec.code == "chloride_class":
        return gettext(CHLORIDE_LABELS.get(value, value))
    if spec.code == "concentration":
        return gettext(CONCENTRATION_LABELS.get(value, value))
    return gettext(value)


def _coerce(spec: AttributeSpec, raw: Any) -> Any:
    """Convert an incoming value (form / CSV / GraphQL) to the attribute's Python type."""
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        return None
    name = attribute_label(spec)
    if spec.type == "float":
        try:
            value = float(Decimal(str(raw)))
        except (InvalidOperation, ValueError) as exc:
            raise ValueError(gettext("%(name)s须为数字") % {"name": name}) from exc
        if math.isnan(value) or math.isinf(value):
            raise ValueError(gettext("%(name)s须为数字") % {"name": name})
        return value
    if spec.type == "integer":
        try:
            return int(str(raw))
        except ValueError as exc:
            raise ValueError(gettext("%(name)s须为整数") % {"name": name}) from exc
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "是", "有"}:
            return True
        if text in {"0", "false", "no", "n", "否", "无"}:
            return False
        raise ValueError(gettext("%(name)s须为 是/否") % {"name": name})
    if spec.type == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw)[:10])
        except ValueError as exc:
            raise ValueError(gettext("%(name)s的日期格式须为 YYYY-MM-DD") % {"name": name}) from exc
    return str(raw)


def clean_attributes(product_type: str, values: dict[str, Any], title: str = "") -> dict[str, Any]:
    """Coerce and validate ``values`` for ``product_type``.

    Returns the cleaned values; raises ValidationError keyed by attribute code with a message
    naming the attribute. Unknown attribute codes are refused.
    """
    spec = PRODUCT_TYPES.get(product_type)
    if spec is None:
        raise ValidationError(
            {
                "product_type": ValidationError(
                    gettext("未知商品类型 %(type)s") % {"type": product_type}, code="invalid"
                )
            }
        )
    by_code = {a.code: a for a in spec.attributes}
    errors: dict[str, list[ValidationError]] = {}

    def fail(code: str, message: str, kind: str = "invalid") -> None:
        errors.setdefault(code, []).append(ValidationError(message, code=kind))

    for code in values:
        if code not in by_code:
            fail(code, gettext("%(type)s没有属性 %(code)s") % {"type": type_label(spec), "code": code})
    cleaned: dict[str, Any] = {}
    for attr in spec.attributes:
        name = attribute_label(attr)
        try:
            value = _coerce(attr, values.get(attr.code))
        except ValueError as exc:
            fail(attr.code, str(exc))
            continue
        if value is None:
            if attr.required:
                fail(attr.code, gettext("%(name)s为必填项") % {"name": name}, "required")
            continue
        if attr.min_value is not None and value < attr.min_value:
            fail(
                attr.code, gettext("%(name)s不能小于 %(min)s") % {"name": name, "min": f"{attr.min_value:g}"}
            )
        if attr.max_value is not None and value > attr.max_value:
            fail(
                attr.code, gettext("%(name)s不能大于 %(max)s") % {"name": name, "max": f"{attr.max_value:g}"}
            )
        if attr.choices and value not in attr.choices:
            fail(
                attr.code,
                gettext("%(name)s须为以下之一: %(choices)s")
                % {"name": name, "choices": ", ".join(attr.choices)},
            )
        if attr.pattern and not re.fullmatch(attr.pattern, str(value)):
            fail(
                attr.code,
                gettext("%(name)s格式不正确 (%(hint)s)") % {"name": name, "hint": gettext(attr.pattern_hint)},
            )
        cleaned[attr.code] = value

    if product_type == FERTILIZER and not ({"n_pct", "p2o5_pct", "k2o_pct", "concentration"} & set(errors)):
        _check_fertilizer(cleaned, title, fail)
    harvest = cleaned.get("harvest_date")
    if product_type == PRODUCE and harvest is not None and harvest > timezone.localdate():
        fail(
            "harvest_date",
            gettext("%(name)s不能晚于今天") % {"name": attribute_label(by_code["harvest_date"])},
        )
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_fertilizer(values: dict[str, Any], title: str, fail: Any) -> None:
    """GB/T 15063-2020 totals and the grade in the title (run when the nutrients themselves are valid)."""
    n, p, k = values["n_pct"], values["p2o5_pct"], values["k2o_pct"]
    total = n + p + k
    if total > 100:
        fail("n_pct", gettext("总养分 N+P₂O₅+K₂O = %(total)s%% 超过 100%%") % {"total": f"{total:g}"})
        return
    if total <= 0:
        fail("n_pct", gettext("总养分不能为 0"))
        return
    nutrients = sum(1 for x in (n, p, k) if x > 0)
    concentration = values.get("concentration")
    if concentration:
        minimum = CONCENTRATION_MIN_TOTAL[concentration]
        if total < minimum:
            fail(
                "concentration",
                gettext("声明为%(level)s, 总养分须 ≥ %(min)s%% (GB/T 15063-2020), 实为 %(total)s%%")
                % {
                    "level": gettext(CONCENTRATION_LABELS[concentration]),
                    "min": f"{minimum:g}",
                    "total": f"{total:g}",
                },
            )
    elif nutrients >= 2 and total < COMPOUND_MIN_TOTAL:
        fail(
            "n_pct",
            gettext("复合肥总养分须 ≥ %(min)s%% (GB/T 15063-2020), 实为 %(total)s%%")
            % {"min": f"{COMPOUND_MIN_TOTAL:g}", "total": f"{total:g}"},
        )
    match = _GRADE_IN_TITLE.search(title or "")
    if match:
        declared = tuple(float(x) for x in match.groups())
        if declared != (n, p, k):
            fail(
                "n_pct",
                gettext("标题中的养分配比 %(grade)s 与属性 %(npk)s 不一致")
                % {"grade": match.group(0), "npk": f"{n:g}-{p:g}-{k:g}"},
            )


def validate_product(
    data: dict[str, Any], product: Any | None = None, current: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Validate a product create (``product`` None) or update; return the cleaned input.

    ``data``: any of :data:`PRODUCT_FIELDS`; ``attributes`` by code. On an update, attributes not
    given keep their stored values (``current``: those values when the caller already loaded
    them, as the bulk importer does per batch; otherwise they are queried) and the whole set is
    validated again, so a partial update cannot break a rule. Raises ValidationError keyed by field.
    """
    unknown = set(data) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationError(
            {f: ValidationError(gettext("未知字段"), code="invalid") for f in sorted(unknown)}
        )
    errors: dict[str, list[ValidationError]] = {}
    product_type = data.get("product_type") or (product.product_class.slug if product else None)
    if not product_type:
        errors["product_type"] = [ValidationError(gettext("商品类型为必填项"), code="required")]
    elif product_type not in PRODUCT_TYPES:
        errors["product_type"] = [
            ValidationError(gettext("未知商品类型 %(type)s") % {"type": product_type}, code="invalid")
        ]
    elif product is not None and product_type != product.product_class.slug:
        errors["product_type"] = [ValidationError(gettext("不能修改已有商品的类型"), code="invalid")]
    title = data.get("title") if data.get("title") is not None else (product.title if product else "")
    title = (title or "").strip()
    if not title:
        errors["title"] = [ValidationError(gettext("商品名称为必填项"), code="required")]
    cleaned_attrs: dict[str, Any] = {}
    if product_type in PRODUCT_TYPES and ("attributes" in data or product is None):
        if current is None:
            current = stored_attributes(product) if product is not None else {}
        merged = current | dict(data.get("attributes") or {})
        try:
            cleaned_attrs = clean_attributes(product_type, merged, title)
        except ValidationError as exc:
            for field, errs in exc.error_dict.items():
                errors.setdefault(field, []).extend(errs)
    if errors:
        raise ValidationError(errors)
    out: dict[str, Any] = {"title": title, "product_type": product_type}
    if "attributes" in data or product is None:
        out["attributes"] = cleaned_attrs
    for key in ("description", "upc", "is_public"):
        if data.get(key) is not None:
            out[key] = data[key].strip() if isinstance(data[key], str) else data[key]
    return out


def stored_attributes(product: Any) -> dict[str, Any]:
    """The product's stored attribute values by code."""
    return {av.attribute.code: av.value for av in product.attribute_values.select_related("attribute")}


__all__ = [
    "PRODUCT_FIELDS",
    "attribute_label",
    "choice_label",
    "clean_attributes",
    "stored_attributes",
    "validate_product",
]

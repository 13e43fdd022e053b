"""The product types the marketplace sells and their typed attributes (Oscar product classes).

One declaration used by demo data, imports, the dashboard and search. ``ensure_product_types()``
creates or updates the Oscar ProductClass / ProductAttribute rows idempotently.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy
from oscar.core.loading import get_model


@dataclass(frozen=True)
class AttributeSpec:
    code: str
    name: str
    type: str  # an Oscar ProductAttribute type: text, integer, float, boolean, date
    required: bool = False
    #: Allowed values for text attributes (empty = free text).
    choices: tuple[str, ...] = ()
    #: Inclusive numeric range for float / integer attributes.
    min_value: float | None = None
    max_value: float | None = None
    #: Regular expression a text value must match in full.
    pattern: str = ""
    pattern_hint: str = ""


@dataclass(frozen=True)
class ProductTypeSpec:
    slug: str
    name: str
    attributes: tuple[AttributeSpec, ...]
    track_stock: bool = True


CHLORIDE_CLASSES = ("none", "low", "medium", "high")
#: Indexed with the product (search text stays Chinese whatever the request language).
CHLORIDE_LABELS = {"none": "无氯", "low": "低氯", "medium": "中氯", "high": "高氯"}
#: What pages show (facets): the same labels in the page language.
CHLORIDE_UI = {
    "none": gettext_lazy("无氯"),
    "low": gettext_lazy("低氯"),
    "medium": gettext_lazy("中氯"),
    "high": gettext_lazy("高氯"),
}
#: GB/T 15063-2020: minimum total primary nutrient (N+P₂O₅+K₂O) by declared concentration.
CONCENTRATION_MIN_TOTAL = {"high": 40.0, "medium": 30.0, "low": 25.0}
COMPOUND_MIN_TOTAL = 25.0
TOXICITY_LEVELS = ("微毒", "低毒", "中等毒", "高毒", "剧毒")
PESTICIDE_REGISTRATION_PATTERN = r"(PD|PDN|WP|WPN|LS|WL)\d{8}"

FERTILIZER = "fertilizer"
SEED = "seed"
PESTICIDE = "pesticide"
FARM_SUPPLY = "farm-supply"
PRODUCE = "produce"

PRODUCT_TYPES: dict[str, ProductTypeSpec] = {
    FERTILIZER: ProductTypeSpec(
        FERTILIZER,
        "化肥",
        (
            AttributeSpec("n_pct", "氮 N (%)", "float", True, min_value=0, max_value=100),
            AttributeSpec("p2o5_pct", "磷 P₂O₅ (%)", "float", True, min_value=0, max_value=100),
            AttributeSpec("k2o_pct", "钾 K₂O (%)", "float", True, min_value=0, max_value=100),
            AttributeSpec("chloride_class", "含氯类别", "text", True, choices=CHLORIDE_CLASSES),
            AttributeSpec("form", "剂型", "text"),
            AttributeSpec("bag_kg", "每袋净重 (kg)", "float", True, min_value=0.01, max_value=1000),
            AttributeSpec("registration_no", "肥料登记证号", "text", True),
            AttributeSpec("concentration", "浓度类型", "text", choices=tuple(CONCENTRATION_MIN_TOTAL)),
        ),
    ),
    SEED: ProductTypeSpec(
        SEED,
        "种子",
        (
            AttributeSpec("crop", "作物", "text", True),
            AttributeSpec("variety", "品种", "text", True),
            AttributeSpec("variety_approval_no", "审定编号", "text", True),
            AttributeSpec("licence_no", "生产经营许可证号", "text", True),
            AttributeSpec("germination_pct", "发芽率 (%)", "float", True, min_value=0, max_value=100),
            AttributeSpec("purity_pct", "纯度 (%)", "float", min_value=0, max_value=100),
            AttributeSpec("moisture_pct", "水分 (%)", "float", min_value=0, max_value=100),
            AttributeSpec("net_content_kg", "净含量 (kg)", "float", True, min_value=0.001, max_value=1000),
        ),
    ),
    PESTICIDE: ProductTypeSpec(
        PESTICIDE,
        "农药",
        (
            AttributeSpec(
                "registration_no",
                "农药登记证号",
                "text",
                True,
                pattern=PESTICIDE_REGISTRATION_PATTERN,
                pattern_hint="PD/PDN/WP/WPN/LS/WL 加8位数字, 如 PD20191000",
            ),
            AttributeSpec("active_ingredient", "有效成分", "text", True),
            AttributeSpec("toxicity", "毒性", "text", True, choices=TOXICITY_LEVELS),
            AttributeSpec("restricted_use", "限制使用", "boolean"),
            AttributeSpec("net_content", "净含量", "text", True),
        ),
    ),
    FARM_SUPPLY: ProductTypeSpec(
        FARM_SUPPLY,
        "农资用品",
        (AttributeSpec("spec", "规格", "text"),),
    ),
    PRODUCE: ProductTypeSpec(
        PRODUCE,
        "农产品",
        (
            AttributeSpec("origin", "产地", "text", True),
            AttributeSpec("grade", "等级", "text", True),
            AttributeSpec("harvest_date", "采收日期", "date", True),
            AttributeSpec(
                "lot_code",
                "批次追溯码",
                "text",
                True,
                pattern=r"[A-Za-z0-9][A-Za-z0-9\-]{3,39}",
                pattern_hint="4-40位字母、数字或连字符",
            ),
            AttributeSpec("net_weight_kg", "净重 (kg)", "float", min_value=0.001, max_value=10000),
        ),
    ),
}


@transaction.atomic
def ensure_product_types() -> dict[str, object]:
    ProductClass = get_model("catalogue", "ProductClass")
    ProductAttribute = get_model("catalogue", "ProductAttribute")
    classes = {}
    for spec in PRODUCT_TYPES.values():
        pc, _ = ProductClass.objects.update_or_create(
            slug=spec.slug,
            defaults={"name": spec.name, "track_stock": spec.track_stock, "requires_shipping": True},
        )
        for attr in spec.attributes:
            ProductAttribute.objects.update_or_create(
                product_class=pc,
                code=attr.code,
                defaults={"name": attr.name, "type": attr.type, "required": attr.required},
            )
        classes[spec.slug] = pc
    return classes


# --- Validation ---------------------------------------------------------------------------------

_GRADE_IN_TITLE = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d)?)-(\d{1,2}(?:\.\d)?)-(\d{1,2}(?:\.\d)?)(?![\d.])")


def _coerce(spec: AttributeSpec, raw: Any) -> Any:
    """Convert an incoming value (form / CSV / GraphQL) to the attribute's Python type."""
    if isinstance(raw, str):
        raw = raw.strip()
    if raw is None or raw == "":
        return None
    if spec.type == "float":
        try:
            value = float(Decimal(str(raw)))
        except (InvalidOperation, ValueError) as exc:
            raise ValueError("须为数字") from exc
        if math.isnan(value) or math.isinf(value):
            raise ValueError("须为数字")
        return value
    if spec.type == "integer":
        try:
            return int(str(raw))
        except ValueError as exc:
            raise ValueError("须为整数") from exc
    if spec.type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "y", "是", "有"}:
            return True
        if text in {"0", "false", "no", "n", "否", "无"}:
            return False
        raise ValueError("须为 是/否")
    if spec.type == "date":
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw)[:10])
        except ValueError as exc:
            raise ValueError("日期格式须为 YYYY-MM-DD") from exc
    return str(raw)


def clean_attributes(product_type: str, values: dict[str, Any], title: str = "") -> dict[str, Any]:
    """Coerce and validate ``values`` for ``product_type``.

    Returns the cleaned values; raises ValidationError keyed by attribute code with a Chinese
    message naming the attribute. Unknown attribute codes are refused.
    """
    spec = PRODUCT_TYPES.get(product_type)
    if spec is None:
        raise ValidationError(
            {"product_type": ValidationError(f"未知商品类型: {product_type}", code="invalid")}
        )
    by_code = {a.code: a for a in spec.attributes}
    errors: dict[str, list[ValidationError]] = {}

    def fail(code: str, message: str, kind: str = "invalid") -> None:
        errors.setdefault(code, []).append(ValidationError(message, code=kind))

    for code in values:
        if code not in by_code:
            fail(code, f"{spec.name}没有属性 {code}")
    cleaned: dict[str, Any] = {}
    for attr in spec.attributes:
        try:
            value = _coerce(attr, values.get(attr.code))
        except ValueError as exc:
            fail(attr.code, f"{attr.name}: {exc}")
            continue
        if value is None:
            if attr.required:
                fail(attr.code, f"{attr.name}为必填项", "required")
            continue
        if attr.min_value is not None and value < attr.min_value:
            fail(attr.code, f"{attr.name}不能小于 {attr.min_value:g}")
        if attr.max_value is not None and value > attr.max_value:
            fail(attr.code, f"{attr.name}不能大于 {attr.max_value:g}")
        if attr.choices and value not in attr.choices:
            fail(attr.code, f"{attr.name}须为以下之一: {', '.join(attr.choices)}")
        if attr.pattern and not re.fullmatch(attr.pattern, str(value)):
            fail(attr.code, f"{attr.name}格式不正确 ({attr.pattern_hint})")
        cleaned[attr.code] = value

    if product_type == FERTILIZER and not errors:
        _check_fertilizer(cleaned, title, fail)
    if product_type == PRODUCE and "harvest_date" in cleaned and cleaned["harvest_date"] > date.today():
        fail("harvest_date", "采收日期不能晚于今天")
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_fertilizer(values: dict[str, Any], title: str, fail: Any) -> None:
    n, p, k = values["n_pct"], values["p2o5_pct"], values["k2o_pct"]
    total = n + p + k
    if total > 100:
        fail("n_pct", f"总养分 N+P₂O₅+K₂O = {total:g}% 超过 100%")
        return
    if total <= 0:
        fail("n_pct", "总养分不能为 0")
        return
    nutrients = sum(1 for x in (n, p, k) if x > 0)
    concentration = values.get("concentration")
    if concentration:
        minimum = CONCENTRATION_MIN_TOTAL[concentration]
        if total < minimum:
            fail(
                "concentration",
                f"声明为{concentration}浓度, 总养分须 ≥ {minimum:g}% (GB/T 15063-2020), 实为 {total:g}%",
            )
    elif nutrients >= 2 and total < COMPOUND_MIN_TOTAL:
        fail("n_pct", f"复合肥总养分须 ≥ {COMPOUND_MIN_TOTAL:g}% (GB/T 15063-2020), 实为 {total:g}%")
    match = _GRADE_IN_TITLE.search(title or "")
    if match:
        declared = tuple(float(x) for x in match.groups())
        if declared != (n, p, k):
            fail(
                "n_pct",
                f"标题中的养分配比 {match.group(0)} 与属性 {n:g}-{p:g}-{k:g} 不一致",
            )

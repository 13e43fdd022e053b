"""The product types the marketplace sells and their typed attributes (Oscar product classes).

One declaration used by demo data, imports, the dashboard and search. ``ensure_product_types()``
creates or updates the Oscar ProductClass / ProductAttribute rows idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext_lazy
from django.utils.translation import gettext_noop as N_
from oscar.core.loading import get_model


def pgettext_noop(context: str, message: str) -> str:
    """Mark a name for translation with a context (Django has no ``pgettext_noop``): the stored name
    stays Chinese, pages and errors look it up with ``pgettext(context, name)``."""
    return message


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
CHLORIDE_LABELS = {"none": N_("无氯"), "low": N_("低氯"), "medium": N_("中氯"), "high": N_("高氯")}
CONCENTRATION_LABELS = {"high": N_("高浓度"), "medium": N_("中浓度"), "low": N_("低浓度")}
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
TOXICITY_LEVELS = (N_("微毒"), N_("低毒"), N_("中等毒"), N_("高毒"), N_("剧毒"))
PESTICIDE_REGISTRATION_PATTERN = r"(PD|PDN|WP|WPN|LS|WL)\d{8}"

FERTILIZER = "fertilizer"
SEED = "seed"
PESTICIDE = "pesticide"
FARM_SUPPLY = "farm-supply"
PRODUCE = "produce"

PRODUCT_TYPES: dict[str, ProductTypeSpec] = {
    FERTILIZER: ProductTypeSpec(
        FERTILIZER,
        pgettext_noop("product type", "化肥"),
        (
            AttributeSpec("n_pct", pgettext_noop("product attribute", "氮 N (%)"), "float", True, min_value=0, max_value=100),
            AttributeSpec("p2o5_pct", pgettext_noop("product attribute", "磷 P₂O₅ (%)"), "float", True, min_value=0, max_value=100),
            AttributeSpec("k2o_pct", pgettext_noop("product attribute", "钾 K₂O (%)"), "float", True, min_value=0, max_value=100),
            AttributeSpec("chloride_class", pgettext_noop("product attribute", "含氯类别"), "text", True, choices=CHLORIDE_CLASSES),
            AttributeSpec("form", pgettext_noop("product attribute", "剂型"), "text"),
            AttributeSpec("bag_kg", pgettext_noop("product attribute", "每袋净重 (kg)"), "float", True, min_value=0.01, max_value=1000),
            AttributeSpec("registration_no", pgettext_noop("product attribute", "肥料登记证号"), "text", True),
            AttributeSpec("concentration", pgettext_noop("product attribute", "浓度类型"), "text", choices=tuple(CONCENTRATION_MIN_TOTAL)),
        ),
    ),
    SEED: ProductTypeSpec(
        SEED,
        pgettext_noop("product type", "种子"),
        (
            AttributeSpec("crop", pgettext_noop("product attribute", "作物"), "text", True),
            AttributeSpec("variety", pgettext_noop("product attribute", "品种"), "text", True),
            AttributeSpec("variety_approval_no", pgettext_noop("product attribute", "审定编号"), "text", True),
            AttributeSpec("licence_no", pgettext_noop("product attribute", "生产经营许可证号"), "text", True),
            AttributeSpec("germination_pct", pgettext_noop("product attribute", "发芽率 (%)"), "float", True, min_value=0, max_value=100),
            AttributeSpec("purity_pct", pgettext_noop("product attribute", "纯度 (%)"), "float", min_value=0, max_value=100),
            AttributeSpec("moisture_pct", pgettext_noop("product attribute", "水分 (%)"), "float", min_value=0, max_value=100),
            AttributeSpec("net_content_kg", pgettext_noop("product attribute", "净含量 (kg)"), "float", True, min_value=0.001, max_value=1000),
        ),
    ),
    PESTICIDE: ProductTypeSpec(
        PESTICIDE,
        pgettext_noop("product type", "农药"),
        (
            AttributeSpec(
                "registration_no",
                pgettext_noop("product attribute", "农药登记证号"),
                "text",
                True,
                pattern=PESTICIDE_REGISTRATION_PATTERN,
                pattern_hint=N_("PD/PDN/WP/WPN/LS/WL 加8位数字, 如 PD20191000"),
            ),
            AttributeSpec("active_ingredient", pgettext_noop("product attribute", "有效成分"), "text", True),
            AttributeSpec("toxicity", pgettext_noop("product attribute", "毒性"), "text", True, choices=TOXICITY_LEVELS),
            AttributeSpec("restricted_use", pgettext_noop("product attribute", "限制使用"), "boolean"),
            AttributeSpec("net_content", pgettext_noop("product attribute", "净含量"), "text", True),
        ),
    ),
    FARM_SUPPLY: ProductTypeSpec(
        FARM_SUPPLY,
        pgettext_noop("product type", "农资用品"),
        (AttributeSpec("spec", pgettext_noop("product attribute", "规格"), "text"),),
    ),
    PRODUCE: ProductTypeSpec(
        PRODUCE,
        pgettext_noop("product type", "农产品"),
        (
            AttributeSpec("origin", pgettext_noop("product attribute", "产地"), "text", True),
            AttributeSpec("grade", pgettext_noop("product attribute", "等级"), "text", True),
            AttributeSpec("harvest_date", pgettext_noop("product attribute", "采收日期"), "date", True),
            AttributeSpec(
                "lot_code",
                pgettext_noop("product attribute", "批次追溯码"),
                "text",
                True,
                pattern=r"[A-Za-z0-9][A-Za-z0-9\-]{3,39}",
                pattern_hint=N_("4-40位字母、数字或连字符"),
            ),
            AttributeSpec("net_weight_kg", pgettext_noop("product attribute", "净重 (kg)"), "float", min_value=0.001, max_value=10000),
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

# The rules these declarations feed are enforced in one place: ``catalogue/validation.py``.

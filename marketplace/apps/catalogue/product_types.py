"""The product types the marketplace sells and their typed attributes (Oscar product classes).

One declaration used by demo data, imports, the dashboard and search. ``ensure_product_types()``
creates or updates the Oscar ProductClass / ProductAttribute rows idempotently.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from oscar.core.loading import get_model


@dataclass(frozen=True)
class AttributeSpec:
    code: str
    name: str
    type: str  # an Oscar ProductAttribute type: text, integer, float, boolean, date
    required: bool = False


@dataclass(frozen=True)
class ProductTypeSpec:
    slug: str
    name: str
    attributes: tuple[AttributeSpec, ...]
    track_stock: bool = True


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
            AttributeSpec("n_pct", "氮 N (%)", "float", True),
            AttributeSpec("p2o5_pct", "磷 P₂O₅ (%)", "float", True),
            AttributeSpec("k2o_pct", "钾 K₂O (%)", "float", True),
            AttributeSpec("chloride_class", "含氯类别", "text", True),
            AttributeSpec("form", "剂型", "text"),
            AttributeSpec("bag_kg", "每袋净重 (kg)", "float", True),
            AttributeSpec("registration_no", "肥料登记证号", "text", True),
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
            AttributeSpec("germination_pct", "发芽率 (%)", "float", True),
            AttributeSpec("net_content_kg", "净含量 (kg)", "float", True),
        ),
    ),
    PESTICIDE: ProductTypeSpec(
        PESTICIDE,
        "农药",
        (
            AttributeSpec("registration_no", "农药登记证号", "text", True),
            AttributeSpec("active_ingredient", "有效成分", "text", True),
            AttributeSpec("toxicity", "毒性", "text", True),
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
            AttributeSpec("lot_code", "批次追溯码", "text", True),
            AttributeSpec("net_weight_kg", "净重 (kg)", "float"),
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

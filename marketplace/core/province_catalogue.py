"""Province-scale synthetic catalogue for benchmarks: N products from M approved suppliers.

``manage.py generate_province --products 50000`` (and benchmarks/catalogue_load.py,
benchmarks/listing_load.py, benchmarks/province_full.py) call :func:`generate_products`.
Deterministic (seeded), bulk inserts in chunks of 5,000 products, so memory stays flat whatever the
size: fertilizer 50 % / seed 30 % / pesticide 20 %, typed attributes, jieba ``search_text``,
categories, one stock record each (a second supplier for every fifth product), licences so the
stock is sellable, and one product image per product type (rows sharing three small files) so
list thumbnails have something to point at. Suppliers' codes start with ``load-sup-``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from django.db import connection, transaction

SUPPLIERS = 200
PRODUCTS = 50_000
CHUNK = 5_000
CODE_PREFIX = "load-sup-"

FERT_BRANDS = ["史丹利", "金正大", "中化", "司尔特", "新洋丰", "云天化", "芭田", "心连心"]
FERT_KINDS = ["复合肥", "掺混肥", "硫酸钾复合肥", "缓释复合肥", "水溶肥"]
GRADES = [(15, 15, 15), (16, 16, 16), (17, 17, 17), (28, 6, 6), (26, 10, 12), (18, 18, 18), (20, 10, 15)]
STRAIGHT = [("尿素", (46, 0, 0)), ("磷酸二铵", (18, 46, 0)), ("氯化钾", (0, 0, 60)), ("硫酸钾", (0, 0, 50))]
CROPS = ["玉米", "大豆", "水稻", "小麦", "高粱"]
VARIETIES = {
    "玉米": ["吉单27", "吉单50", "郑单958", "先玉335", "京科968", "良玉99"],
    "大豆": ["吉育86", "黑农84", "合农95"],
    "水稻": ["吉粳511", "龙粳31", "通禾899"],
    "小麦": ["济麦22", "百农207"],
    "高粱": ["吉杂127", "辽杂37"],
}
INGREDIENTS = ["草甘膦", "吡虫啉", "阿维菌素", "莠去津", "烟嘧磺隆", "多菌灵", "甲拌磷", "高效氯氟氰菊酯"]
FORMS = ["水剂", "乳油", "可湿性粉剂", "悬浮剂", "颗粒剂"]


def ensure_sample_image(slug: str) -> str:
    """A small JPEG per product type in the media storage (shared by the generated products)."""
    from io import BytesIO

    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from PIL import Image

    name = f"images/products/load-{slug}.jpg"
    if not default_storage.exists(name):
        colour = {"fertilizer": (46, 125, 50), "seed": (249, 168, 37), "pesticide": (21, 101, 192)}
        buffer = BytesIO()
        Image.new("RGB", (800, 800), colour.get(slug, (120, 120, 120))).save(buffer, "JPEG", quality=80)
        name = default_storage.save(name, ContentFile(buffer.getvalue()))
    return name


def generate_products(
    products: int = PRODUCTS, suppliers: int = SUPPLIERS, log: Callable[[str], None] = print
) -> int:
    """Generate ``products`` products (once per database); returns how many exist afterwards."""
    from datetime import timedelta

    from django.utils import timezone
    from oscar.checks import use_productcategory_materialised_view
    from oscar.core.loading import get_model

    from marketplace.apps.catalogue.product_types import ensure_product_types
    from marketplace.apps.catalogue.search_fields import apply_search_fields
    from marketplace.apps.catalogue.services import _category_for
    from marketplace.apps.partner.models import (
        LicenceKind,
        Partner,
        PartnerLicence,
        StockRecord,
        Warehouse,
    )

    Product = get_model("catalogue", "Product")
    ProductAttribute = get_model("catalogue", "ProductAttribute")
    ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
    ProductCategory = get_model("catalogue", "ProductCategory")
    ProductImage = get_model("catalogue", "ProductImage")

    existing = Product.objects.filter(owner__code__startswith=CODE_PREFIX).count()
    if existing >= products:
        log(f"data: {existing} products already generated")
        return existing
    if existing:
        raise ValueError(f"{existing} generated products of an interrupted or smaller run: reset first")
    started = time.perf_counter()
    rng = random.Random(20260101)
    classes = ensure_product_types()
    categories = {slug: _category_for(pc) for slug, pc in classes.items()}
    attributes = {
        (a.product_class_id, a.code): a for a in ProductAttribute.objects.filter(product_class__isnull=False)
    }
    today = timezone.localdate()
    images = {slug: ensure_sample_image(slug) for slug in classes}
    with transaction.atomic():
        partners = Partner.objects.bulk_create(
            Partner(
                code=f"{CODE_PREFIX}{i:03d}",
                name=f"压测农资{i:03d}有限公司",
                verification_status="approved",
                verified_at=timezone.now(),
            )
            for i in range(suppliers)
        )
        warehouses = Warehouse.objects.bulk_create(
            Warehouse(
                partner=p,
                code="WH1",
                name=f"{p.name}仓",
                latitude=round(43.2 + rng.random(), 6),
                longitude=round(125.2 + rng.random(), 6),
            )
            for p in partners
        )
        PartnerLicence.objects.bulk_create(
            PartnerLicence(
                partner=p,
                kind=kind,
                number=f"{kind[:3].upper()}-{p.pk}",
                restricted_scope=kind == LicenceKind.PESTICIDE_BUSINESS,
                valid_from=today - timedelta(days=30),
                valid_until=today + timedelta(days=700),
            )
            for p in partners
            for kind in (LicenceKind.PESTICIDE_BUSINESS, LicenceKind.SEED_BUSINESS)
        )
    log(f"data: {suppliers} suppliers")
    chunk = CHUNK
    for start in range(0, products, chunk):
        rows = []
        for i in range(start, min(start + chunk, products)):
            owner = rng.randrange(suppliers)
            roll = rng.random()
            if roll < 0.5:
                slug = "fertilizer"
                if rng.random() < 0.8:
                    n, p, k = rng.choice(GRADES)
                    title = f"{rng.choice(FERT_BRANDS)}{rng.choice(FERT_KINDS)} {n}-{p}-{k} 40kg"
                else:
                    name, (n, p, k) = rng.choice(STRAIGHT)
                    title = f"{rng.choice(FERT_BRANDS)}{name} 40kg"
                attrs = {
                    "n_pct": float(n),
                    "p2o5_pct": float(p),
                    "k2o_pct": float(k),
                    "chloride_class": rng.choice(["none", "low", "medium"]),
                    "bag_kg": 40.0,
                    "registration_no": f"吉农肥(2024)准字{i:05d}号",
                }
            elif roll < 0.8:
                slug = "seed"
                crop = rng.choice(CROPS)
                variety = rng.choice(VARIETIES[crop])
                title = f"{variety} {crop}种子 {rng.choice([1, 2, 5, 10])}kg 批次{i}"
                attrs = {
                    "crop": crop,
                    "variety": variety,
                    "variety_approval_no": f"吉审{crop[0]}{2010 + i % 14}{i % 1000:03d}",
                    "licence_no": f"C(吉)农种许字({2020 + i % 5})第{i % 900:04d}号",
                    "germination_pct": float(rng.choice([85, 90, 93, 95])),
                    "net_content_kg": float(rng.choice([1, 2, 5, 10])),
                }
            else:
                slug = "pesticide"
                ingredient = rng.choice(INGREDIENTS)
                restricted = ingredient == "甲拌磷"
                title = f"{rng.choice([3, 5, 10, 20, 41])}% {ingredient}{rng.choice(FORMS)} 批次{i}"
                attrs = {
                    "registration_no": f"PD{20100000 + i:08d}",
                    "active_ingredient": ingredient,
                    "toxicity": "高毒" if restricted else rng.choice(["低毒", "微毒"]),
                    "restricted_use": restricted,
                    "net_content": rng.choice(["100 ml", "500 g", "1 kg"]),
                }
            product = Product(
                product_class=classes[slug],
                structure=Product.STANDALONE,
                owner=partners[owner],
                title=title,
                slug=f"load-{i}",
                upc=f"69{i:011d}",
            )
            apply_search_fields(product, classes[slug], attrs)
            rows.append((product, attrs, owner))
        with transaction.atomic():
            created = Product.objects.bulk_create([r[0] for r in rows])
            values, links, records, licences, pictures = [], [], [], [], []
            for product, attrs, owner in rows:
                slug = product.product_class.slug
                for code, value in attrs.items():
                    attribute = attributes[(product.product_class_id, code)]
                    values.append(
                        ProductAttributeValue(
                            attribute=attribute, product=product, **{f"value_{attribute.type}": value}
                        )
                    )
                links.append(ProductCategory(product=product, category=categories[slug]))
                pictures.append(ProductImage(product=product, original=images[slug], display_order=0))
                sellers = [owner] + (
                    [(owner + 1 + product.pk % 7) % suppliers] if product.pk % 5 == 0 else []
                )
                for n, seller in enumerate(sellers):
                    records.append(
                        StockRecord(
                            product=product,
                            partner=partners[seller],
                            warehouse=warehouses[seller],
                            partner_sku=f"L-{product.pk}-{n}",
                            price=round(20 + (product.pk * 37 % 3000) / 10 + n, 2),
                            price_currency="CNY",
                            num_in_stock=(product.pk * 13) % 500,
                        )
                    )
                    if slug == "fertilizer":
                        licences.append(
                            PartnerLicence(
                                partner=partners[seller],
                                kind=LicenceKind.FERTILIZER_REGISTRATION,
                                number=f"FR-{product.pk}-{n}",
                                product=product,
                                valid_from=today - timedelta(days=30),
                                valid_until=today + timedelta(days=700),
                            )
                        )
            ProductAttributeValue.objects.bulk_create(values, batch_size=10_000)
            ProductCategory.objects.bulk_create(links, batch_size=10_000)
            StockRecord.objects.bulk_create(records, batch_size=10_000)
            PartnerLicence.objects.bulk_create(licences, batch_size=10_000)
            ProductImage.objects.bulk_create(pictures, batch_size=10_000)
        log(f"data: {start + len(created)} products ({time.perf_counter() - started:.0f} s)")
    if use_productcategory_materialised_view():
        with connection.cursor() as cursor:
            cursor.execute("REFRESH MATERIALIZED VIEW catalogue_product_category_hierarchy;")
    from marketplace.apps.catalogue.compliance import enforce_licences

    log(f"data: licence check {enforce_licences(notify=False)}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE;")
    log(f"data: generated in {time.perf_counter() - started:.0f} s")
    return Product.objects.filter(owner__code__startswith=CODE_PREFIX).count()

"""Helpers for catalogue tests (a module of its own so it never shadows the root conftest)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone
from oscar.core.loading import get_model
from testkit import licensed

from marketplace.apps.partner.credit_code import make_credit_code
from marketplace.apps.partner.models import PartnerLicence, Warehouse


def valid_code(n: int) -> str:
    return make_credit_code(f"91220112MA0Y{n:05d}")


def warehouse(partner, code: str = "WH1", lat: str = "43.52", lon: str = "125.66") -> Warehouse:
    return Warehouse.objects.create(
        partner=partner,
        code=code,
        name=f"{partner.name}{code}仓",
        latitude=Decimal(lat),
        longitude=Decimal(lon),
    )


def licence(partner, kind: str, number: str = "L-1", product=None, restricted: bool = False, days: int = 365):
    today = timezone.localdate()
    return PartnerLicence.objects.create(
        partner=partner,
        kind=kind,
        number=number,
        product=product,
        restricted_scope=restricted,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=days),
    )


def make_pesticide(product_classes, partner, sku: str, restricted: bool, stock: int = 50):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=f"农药{sku}", product_class=product_classes["pesticide"], upc=f"UPC-{sku}")
    product.attr.registration_no = "PD20191000"
    product.attr.active_ingredient = "甲拌磷"
    product.attr.toxicity = "高毒" if restricted else "低毒"
    product.attr.restricted_use = restricted
    product.attr.net_content = "1 kg"
    product.save()
    record = StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal("25.00"), num_in_stock=stock
    )
    return product, record


def make_fertilizer(
    product_classes,
    partner,
    sku: str,
    title: str,
    npk=(15, 15, 15),
    price="150.00",
    stock=100,
    warehouse=None,
    licensed_stock=True,
):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=title, product_class=product_classes["fertilizer"], upc=f"UPC-{sku}")
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = map(float, npk)
    product.attr.chloride_class = "none"
    product.attr.bag_kg = 40.0
    product.attr.registration_no = f"REG-{sku}"
    product.save()
    if licensed_stock:
        licensed(partner, product)
    StockRecord.objects.create(
        product=product,
        partner=partner,
        partner_sku=sku,
        price=Decimal(price),
        num_in_stock=stock,
        warehouse=warehouse,
    )
    return product


PASSWORD = "test-pass-123456"  # the root conftest's password for make_user()

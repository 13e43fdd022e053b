"""Fixtures for the fertilizer plugin's Django layer: a station catalogue of fertilizers, a field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from oscar.core.loading import get_model
from testkit import licensed

from marketplace.apps.catalogue.product_types import FERTILIZER

#: (sku, title, N, P2O5, K2O, bag kg, chloride, price)
FERTILIZERS = [
    ("UREA", "尿素", 46, 0, 0, 40, "none", "105.00"),
    ("DAP", "磷酸二铵", 18, 46, 0, 50, "none", "185.00"),
    ("KCL", "氯化钾", 0, 0, 60, 50, "high", "160.00"),
    ("K2SO4", "硫酸钾", 0, 0, 50, 50, "none", "210.00"),
    ("B151812", "玉米配方肥", 15, 18, 12, 40, "high", "125.00"),
    ("S151515", "硫基复合肥", 15, 15, 15, 40, "none", "150.00"),
]


def make_fert(product_classes, partner, sku, title, n, p, k, bag, chloride, price, stock=1000):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=title, product_class=product_classes[FERTILIZER], upc=f"UPC-{sku}")
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = float(n), float(p), float(k)
    product.attr.chloride_class = chloride
    product.attr.bag_kg = float(bag)
    product.attr.registration_no = f"REG-{sku}"
    product.save()
    licensed(partner, product)
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal(price), num_in_stock=stock
    )
    return product


@pytest.fixture
def fert_factory(product_classes, supplier):
    """``fert_factory(sku, title, n, p, k, bag_kg, chloride, price)`` adds a stocked fertilizer."""

    def make(*row, stock=1000):
        return make_fert(product_classes, supplier, *row, stock=stock)

    return make


@pytest.fixture
def fert_catalogue(product_classes, supplier) -> dict:
    return {row[0]: make_fert(product_classes, supplier, *row) for row in FERTILIZERS}


@pytest.fixture
def field_a(household_a):
    from plugins.fertilizer.models import FarmField

    return FarmField.objects.create(
        household=household_a,
        name="东大地",
        area_mu=Decimal("15"),
        crop="spring_maize_ne",
        zone="semi_humid",
        yield_1=Decimal("650"),
        yield_2=Decimal("700"),
        yield_3=Decimal("680"),
    )


@pytest.fixture
def field_b(household_b):
    from plugins.fertilizer.models import FarmField

    return FarmField.objects.create(
        household=household_b,
        name="西洼地",
        area_mu=Decimal("12"),
        crop="spring_maize_ne",
        zone="semi_humid",
        yield_1=Decimal("600"),
    )


@pytest.fixture
def soil_a(field_a):
    from plugins.fertilizer.models import SoilTest

    return SoilTest.objects.create(
        field=field_a,
        lab="双阳区土肥站",
        sample_date="2026-04-10",
        ph=Decimal("6.4"),
        organic_matter_g_kg=Decimal("24.5"),
        alkali_n_mg_kg=Decimal("125"),
        olsen_p_mg_kg=Decimal("18"),
        available_k_mg_kg=Decimal("140"),
    )

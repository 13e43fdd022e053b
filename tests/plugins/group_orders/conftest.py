"""Payments fixtures: a localstripe server for the session (no test touches the internet)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.utils import timezone
from oscar.core.loading import get_model
from testkit import licensed

from marketplace.apps.catalogue.product_types import FERTILIZER, PESTICIDE
from marketplace.payments.testing import localstripe_server
from marketplace.stations.models import Household
from plugins.group_orders import services

WEBHOOK_SECRET = "whsec_test_local"


@pytest.fixture(scope="session")
def localstripe_url():
    with localstripe_server() as url:
        old = stripe.api_base
        stripe.api_base = url
        yield url
        stripe.api_base = old


@pytest.fixture
def stripe_settings(settings, localstripe_url):
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


# --- Group-buy fixtures ---------------------------------------------------------------------------


def make_product(
    product_classes, partner, sku: str, title: str, kind: str = FERTILIZER, restricted: bool = False
):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=title, product_class=product_classes[kind], upc=f"UPC-{sku}")
    if kind == FERTILIZER:
        product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = 15.0, 15.0, 15.0
        product.attr.chloride_class = "none"
        product.attr.bag_kg = 40.0
        product.attr.registration_no = f"REG-{sku}"
    else:
        product.attr.registration_no = f"PD2024{sku}"
        product.attr.active_ingredient = "毒死蜱"
        product.attr.toxicity = "中等毒"
        product.attr.restricted_use = restricted
        product.attr.net_content = "500ml"
    product.save()
    licensed(partner, product)
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal("150.00"), num_in_stock=100000
    )
    return product


def make_campaign(
    actor,
    operator,
    partner,
    products,
    *,
    min_total=100,
    tiers=((200, "140.00"), (1000, "130.00")),
    base="150.00",
    approve=True,
    **extra,
):
    cutoff = timezone.now() + timedelta(days=3)
    campaign = services.create_campaign(
        actor,
        partner=partner,
        title=extra.pop("title", "春耕复合肥团购"),
        cutoff_at=cutoff,
        delivery_from=timezone.localdate() + timedelta(days=5),
        delivery_until=timezone.localdate() + timedelta(days=10),
        min_total_quantity=min_total,
        items=[
            services.ItemSpec(p.pk, Decimal(base), [(q, Decimal(price)) for q, price in tiers])
            for p in products
        ],
        **extra,
    )
    if approve:
        services.review_campaign(operator, campaign, True)
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def fertilizer(product_classes, supplier):
    return make_product(product_classes, supplier, "NPK-15", "复合肥 15-15-15 40kg")


@pytest.fixture
def campaign(supplier_user, operator, supplier, fertilizer):
    return make_campaign(supplier_user, operator, supplier, [fertilizer], commission_rate=Decimal("3"))


@pytest.fixture
def item(campaign):
    return campaign.items.get()


@pytest.fixture
def households_a(station_a):
    return [
        Household.objects.create(
            station=station_a,
            village=station_a.village,
            name=f"农户甲{i}",
            phone=f"1390000{i:04d}",
            credit_limit=Decimal("5000"),
        )
        for i in range(5)
    ]


def past_cutoff(campaign):
    type(campaign).objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(minutes=1))
    campaign.refresh_from_db()
    return campaign


@pytest.fixture
def campaign_factory(supplier_user, operator, supplier):
    def make(products, **kwargs):
        return make_campaign(supplier_user, operator, supplier, products, **kwargs)

    return make


@pytest.fixture
def expire():
    """``expire(campaign)`` moves the cutoff into the past so the close may run."""
    return past_cutoff


@pytest.fixture
def make_households():
    def make(station, n, prefix="户", credit="5000", phone_base=13600000000):
        return Household.objects.bulk_create(
            [
                Household(
                    station=station,
                    village_id=station.village_id,
                    name=f"{prefix}{i}",
                    phone=str(phone_base + station.pk * 1000 + i),
                    credit_limit=Decimal(credit),
                )
                for i in range(n)
            ]
        )

    return make


@pytest.fixture
def restricted_pesticide(product_classes, supplier):
    return make_product(
        product_classes, supplier, "RP-1", "限用农药 毒死蜱 500ml", kind=PESTICIDE, restricted=True
    )


@pytest.fixture
def urea(product_classes, supplier):
    """A second fertilizer, for campaigns with two items."""
    return make_product(product_classes, supplier, "UREA-46", "尿素 46% 40kg")

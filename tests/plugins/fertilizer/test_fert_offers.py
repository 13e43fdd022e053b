"""A bag plan reads only the offers it can use: sellable, in-stock offers of fertilizer products that
carry their N/P/K %, chloride class and bag kg. The core narrows the read
(``extensions.purchasable_offers(product_classes=…, attributes=…)``: in SQL for its stock, one query
for plugins' offers); non-fertilizers, blocked or sold-out stock and incomplete fertilizers never
reach the plan (real DB, no mocks)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model
from testkit import licensed

from marketplace.apps.catalogue.product_types import FERTILIZER, SEED
from marketplace.apps.catalogue.services import stock_offers
from marketplace.core import extensions
from plugins.fertilizer import services

pytestmark = pytest.mark.django_db
WITH_TEST_PLUGIN = [*settings.INSTALLED_APPS, "fert_test_plugin"]
Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
FERT_SKUS = {"UREA", "DAP", "KCL", "K2SO4", "B151812", "S151515"}  # conftest.FERTILIZERS


@pytest.fixture
def mixed_catalogue(fert_catalogue, fert_factory, product_classes, supplier) -> dict:
    """The station's catalogue: the six fertilizers of ``fert_catalogue`` plus what a plan must not
    read — a sellable seed, urea without its 肥料登记证 (blocked), a sold-out
    fertilizer and a fertilizer without a bag weight."""
    seed = Product(title="吉单27 玉米种子", product_class=product_classes[SEED], upc="UPC-SEED")
    seed.attr.crop, seed.attr.variety = "玉米", "吉单27"
    seed.save()
    licensed(supplier, seed)
    StockRecord.objects.create(
        product=seed, partner=supplier, partner_sku="SEED", price=Decimal("60.00"), num_in_stock=100
    )
    unregistered = Product(title="无登记尿素", product_class=product_classes[FERTILIZER], upc="UPC-NOREG")
    unregistered.attr.n_pct, unregistered.attr.p2o5_pct, unregistered.attr.k2o_pct = 46.0, 0.0, 0.0
    unregistered.attr.chloride_class, unregistered.attr.bag_kg = "none", 40.0
    unregistered.save()
    blocked = StockRecord.objects.create(  # the cheapest urea, were it sellable
        product=unregistered, partner=supplier, partner_sku="NOREG", price=Decimal("80.00"), num_in_stock=100
    )
    assert blocked.compliance_blocked  # no 肥料登记证: the stock rule blocks it
    sold_out = fert_factory("SOLD", "售罄尿素", 46, 0, 0, 40, "none", "99.00", stock=0)
    no_bag = fert_factory("NOBAG", "无袋重复合肥", 15, 15, 15, 40, "none", "120.00")
    ProductAttributeValue.objects.filter(product=no_bag, attribute__code="bag_kg").delete()
    return {"seed": seed, "sold_out": sold_out, "no_bag": no_bag, **fert_catalogue}


def _skus(offers) -> set[str]:
    return {o.sku for o in offers}


def _plan_read(station):
    return extensions.purchasable_offers(
        station, product_classes=(FERTILIZER,), attributes=services.FERT_ATTRS
    )


def _stock_selects(fn) -> list[str]:
    """The SELECTs on stock records ``fn`` sends (server-side cursor names stripped)."""
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return [
        q["sql"][q["sql"].index("SELECT") :]
        for q in ctx.captured_queries
        if "partner_stockrecord" in q["sql"]
    ]


def test_plan_reads_only_sellable_fertilizer_offers_with_their_attributes(mixed_catalogue, station_a):
    everything = extensions.purchasable_offers(station_a)
    # the seed and the incomplete fertilizer are sellable offers: without narrowing they are read
    assert {"SEED", "NOBAG"} <= _skus(everything)
    assert "NOREG" not in _skus(everything) and "SOLD" not in _skus(everything)

    narrowed = _plan_read(station_a)
    assert _skus(narrowed) == FERT_SKUS
    urea = next(o for o in narrowed if o.sku == "UREA")
    assert urea.attributes == {
        "n_pct": 46.0,
        "p2o5_pct": 0.0,
        "k2o_pct": 0.0,
        "chloride_class": "none",
        "bag_kg": 40.0,
    }
    # the core's stock read itself is narrowed (not filtered afterwards)
    assert _skus(stock_offers(station_a, product_classes=[FERTILIZER])) == FERT_SKUS | {"NOBAG"}
    assert _skus(stock_offers(station_a, product_classes=[SEED])) == {"SEED"}
    assert _skus(stock_offers(station_a, attributes=services.FERT_ATTRS)) == FERT_SKUS

    offers = services.fertilizer_offers(station_a)
    assert _skus(o.offer for o in offers) == FERT_SKUS
    assert {o.offer.sku: (o.grade.as_tuple(), o.bag_kg, o.chloride) for o in offers}["B151812"] == (
        (15.0, 18.0, 12.0),
        40.0,
        "high",
    )
    # and the plan sends that narrowed read, not the whole catalogue's
    narrowed_sql = _stock_selects(
        lambda: list(stock_offers(station_a, product_classes=[FERTILIZER], attributes=services.FERT_ATTRS))
    )
    whole_sql = _stock_selects(lambda: list(stock_offers(station_a)))
    plan_sql = _stock_selects(lambda: services.fertilizer_offers(station_a))
    assert narrowed_sql and set(narrowed_sql) <= set(plan_sql)
    assert not set(whole_sql) & set(plan_sql)


@override_settings(INSTALLED_APPS=WITH_TEST_PLUGIN)
def test_plugin_offers_are_narrowed_the_same_way(mixed_catalogue, station_a):
    import fert_test_plugin.apps as tp

    try:
        tp.CAMPAIGN.update(product_id=mixed_catalogue["seed"].pk)  # a campaign selling seed
        assert "CAMPAIGN-UREA" in _skus(extensions.purchasable_offers(station_a))
        assert "CAMPAIGN-UREA" not in _skus(_plan_read(station_a))
        tp.CAMPAIGN.update(product_id=mixed_catalogue["no_bag"].pk)  # a fertilizer without bag weight
        assert "CAMPAIGN-UREA" not in _skus(_plan_read(station_a))
        tp.CAMPAIGN.update(product_id=mixed_catalogue["UREA"].pk)
        campaign = next(o for o in _plan_read(station_a) if o.source == "fert-test")
        assert campaign.attributes["n_pct"] == 46.0 and campaign.attributes["bag_kg"] == 40.0
        assert campaign.household_limit is None and campaign.available == 500  # the offer itself unchanged
    finally:
        tp.CAMPAIGN.clear()
        tp.CAMPAIGN.update(tp.DEFAULTS)

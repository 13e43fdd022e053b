"""One sellable rule, every path: an unregistered fertilizer (created the way Oscar's dashboard
creates it: a product and a stock record, no licence) and a restricted-use pesticide (sellable
stock, but only to a licensed buyer) must get the same answer from the Oscar strategy and basket,
the storefront page, GraphQL, search indexing, stock offers, the plan hand-over, a campaign and
Oscar's allocation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from catalogue_helpers import licence, make_pesticide
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from oscar.core.loading import get_model
from testkit import make_group_buy

from marketplace.apps.catalogue.product_types import FERTILIZER
from marketplace.apps.catalogue.services import stock_offers
from marketplace.apps.partner.models import LicenceKind, StockRecord
from marketplace.apps.partner.strategy import Selector, is_sellable, sellable_q
from marketplace.core import extensions
from marketplace.search.db import search as db_search
from marketplace.search.es import product_document
from marketplace.search.services import SearchParams
from marketplace.stations.models import StationPesticideLicence

pytestmark = pytest.mark.django_db
Product = get_model("catalogue", "Product")


@pytest.fixture
def unregistered(product_classes, supplier, wh):
    product = Product(title="复合肥 15-15-15 无登记", product_class=product_classes[FERTILIZER], upc="NOREG")
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = 15.0, 15.0, 15.0
    product.attr.chloride_class = "none"
    product.attr.bag_kg = 40.0
    product.save()
    StockRecord.objects.create(
        product=product, partner=supplier, partner_sku="NOREG", price=Decimal("150"), num_in_stock=50, warehouse=wh
    )
    return product


@pytest.fixture
def restricted(product_classes, supplier):
    licence(supplier, LicenceKind.PESTICIDE_BUSINESS, number="PB-1", restricted=True)
    product, _ = make_pesticide(product_classes, supplier, "RP1", restricted=True)
    record = StockRecord.objects.get(partner_sku="RP1")
    assert record.compliance_blocked is False  # the supplier is licensed to sell it
    return product


def _licence_station(station):
    today = timezone.localdate()
    StationPesticideLicence.objects.create(
        station=station,
        number="ST-PB-1",
        restricted_scope=True,
        valid_from=today - timedelta(days=1),
        valid_until=today + timedelta(days=300),
    )


def test_unregistered_fertilizer_is_refused_on_every_path(
    client, gql, unregistered, staff_a, station_a, household_a, buyer, supplier_user, operator, supplier
):
    record = StockRecord.objects.select_related("partner", "product").get(partner_sku="NOREG")
    # born blocked, whoever created it
    assert record.compliance_blocked and "肥料登记证" in record.blocked_reason
    assert not is_sellable(record)
    assert not StockRecord.objects.filter(sellable_q(), pk=record.pk).exists()
    # Oscar strategy (basket, checkout)
    for user in (staff_a, buyer, None):
        info = Selector().strategy(user=user).fetch_for_product(unregistered)
        assert not info.availability.is_available_to_buy
        assert not info.availability.is_purchase_permitted(1)[0]
    with pytest.raises(ValidationError):
        record.allocate(1)
    # storefront product page
    client.force_login(staff_a)
    page = client.get(reverse("storefront:catalogue-product", args=[unregistered.pk])).content.decode()
    assert "NOREG" not in page and "¥150" not in page
    # GraphQL
    q = f'{{ product(id: "{unregistered.pk}") {{ stockRecords {{ sku }} available minPrice {{ amount }} }} }}'
    data = gql(staff_a)(q)["data"]["product"]
    assert data == {"stockRecords": [], "available": 0, "minPrice": None}
    # search: the document and the database engine
    unregistered = Product.objects.prefetch_related("stockrecords__partner", "stockrecords__product").get(
        pk=unregistered.pk
    )
    assert product_document(unregistered, unregistered.stockrecords.all())["sellable"] is False
    assert unregistered.pk not in db_search(SearchParams(query="复合肥")).ids
    # offers and the plan hand-over
    assert [o for o in stock_offers(station_a) if o.product_id == unregistered.pk] == []
    line = extensions.PlanLine(unregistered.pk, "NOREG", unregistered.title, 2, Decimal("150"), "stock", str(record.pk))
    accepted, rest = extensions.accept_plan_lines(station_a, household_a, [line], staff_a)
    assert accepted == [] and rest == [line]
    # a campaign cannot sell it
    with pytest.raises(ValidationError) as exc:
        make_group_buy(supplier_user, operator, supplier, [unregistered])
    assert "不可销售" in str(exc.value)


def test_restricted_pesticide_needs_a_licensed_buyer_on_every_path(
    client, gql, restricted, staff_a, station_a, household_a, buyer, supplier_user, operator, supplier
):
    record = StockRecord.objects.select_related("partner", "product").get(partner_sku="RP1")
    assert is_sellable(record)  # the stock may be sold ...
    # ... but not to an unlicensed buyer: strategy / Oscar basket
    for user in (buyer, staff_a, None):
        info = Selector().strategy(user=user).fetch_for_product(restricted)
        assert not info.availability.is_purchase_permitted(1)[0], user
    # offers and plan hand-over at an unlicensed station
    assert [o for o in stock_offers(station_a) if o.product_id == restricted.pk] == []
    line = extensions.PlanLine(restricted.pk, "RP1", restricted.title, 1, Decimal("25"), "stock", str(record.pk))
    accepted, _ = extensions.accept_plan_lines(station_a, household_a, [line], staff_a)
    assert accepted == []
    # a campaign: the supplier may list it, an unlicensed station may not pledge for it
    campaign = make_group_buy(supplier_user, operator, supplier, [restricted], title="限用农药团购")
    item = campaign.items.get()
    pledge = """mutation($i: ID!, $h: ID!) { groupBuyPledgeCreate(itemId: $i, householdId: $h, quantity: 1,
      paymentMethod: "cash") { errors { code } pledge { id } } }"""
    out = gql(staff_a)(pledge, {"i": item.pk, "h": household_a.pk})["data"]["groupBuyPledgeCreate"]
    assert out["pledge"] is None and out["errors"][0]["code"] == "LICENCE_REQUIRED"

    # the station gets its licence: every path now agrees the other way
    _licence_station(station_a)
    info = Selector().strategy(user=staff_a).fetch_for_product(restricted)
    assert info.availability.is_purchase_permitted(1)[0]
    assert not Selector().strategy(user=buyer).fetch_for_product(restricted).availability.is_purchase_permitted(1)[0]
    assert [o.product_id for o in stock_offers(station_a) if o.product_id == restricted.pk] == [restricted.pk]
    accepted, _ = extensions.accept_plan_lines(station_a, household_a, [line], staff_a)
    assert [a.line for a in accepted] == [line]


def test_registration_makes_it_sellable_and_expiry_blocks_it_again(unregistered, supplier, staff_a):
    from marketplace.apps.catalogue.compliance import enforce_licences

    lic = licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, number="REG-OK", product=unregistered)
    enforce_licences(partner_ids=[supplier.pk], notify=False)
    record = StockRecord.objects.select_related("partner", "product").get(partner_sku="NOREG")
    assert is_sellable(record)
    assert Selector().strategy(user=staff_a).fetch_for_product(unregistered).availability.is_purchase_permitted(1)[0]
    lic.valid_until = timezone.localdate() - timedelta(days=1)
    lic.valid_from = lic.valid_until - timedelta(days=10)
    lic.save()
    enforce_licences(partner_ids=[supplier.pk], notify=False)
    record.refresh_from_db()
    assert not is_sellable(record)


def test_shop_basket_and_checkout_are_not_reachable(client, staff_a, operator, unregistered):
    client.force_login(staff_a)
    for url in ("/shop/basket/", "/shop/checkout/", "/shop/accounts/register/", "/shop/", "/shop/offers/"):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"] == reverse("storefront:home"), url
    r = client.post(f"/shop/basket/add/{unregistered.pk}/", {"quantity": 1})
    assert r.status_code == 302 and not get_model("basket", "Line").objects.exists()
    r = client.get(f"/shop/catalogue/{unregistered.slug}_{unregistered.pk}/")
    assert r["Location"] == reverse("storefront:catalogue-product", args=[unregistered.pk])
    client.force_login(operator)
    assert client.get("/shop/dashboard/").status_code == 200

"""List queries issue a bounded number of SQL statements, whatever the page size."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model
from testkit import licensed, make_fertilizer

from marketplace.accounts.models import ApiToken
from marketplace.stations.models import Household

pytestmark = pytest.mark.django_db


def count_queries(user, query: str) -> tuple[int, dict]:
    _, raw = ApiToken.issue(user)
    client = Client()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            "/graphql/",
            json.dumps({"query": query}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
    body = response.json()
    assert "errors" not in body, body
    return len(ctx.captured_queries), body["data"]


def add_households(station, n: int) -> None:
    Household.objects.bulk_create(
        Household(station=station, village=station.village, name=f"户{i}", phone=f"137{i:08d}")
        for i in range(n)
    )


def test_households_query_count_does_not_grow(operator, station_a, station_b):
    add_households(station_a, 5)
    q = "{ households(first: %d){ totalCount items{ name phone village station{ name township county{ name } } } } }"
    small, data = count_queries(operator, q % 5)
    add_households(station_b, 60)
    large, data = count_queries(operator, q % 60)
    assert len(data["households"]["items"]) == 60
    assert large == small


def test_stations_query_count_does_not_grow(operator, county):
    from testkit import make_station

    for i in range(3):
        make_station(county, f"S{i}", f"站{i}")
    q = "{ stations(first: %d){ items{ name village township householdCount county{ name } } } }"
    small, _ = count_queries(operator, q % 3)
    for i in range(3, 40):
        make_station(county, f"S{i}", f"站{i}")
    large, data = count_queries(operator, q % 40)
    assert len(data["stations"]["items"]) == 40
    assert large == small


def with_image(product) -> None:
    """A product image row (the thumbnail URL is built from the row; no file is read)."""
    get_model("catalogue", "ProductImage").objects.create(
        product=product, original=f"images/products/{product.upc}.jpg", display_order=0
    )


def test_products_query_count_does_not_grow(operator, product_classes, supplier, other_supplier):
    StockRecord = get_model("partner", "StockRecord")
    for i in range(3):
        with_image(make_fertilizer(product_classes, supplier, f"A{i}", f"复合肥{i}"))
    q = "{ products(first: %d){ items{ title productType attributes thumbnail(size: 128) categories{ name } stockRecords{ sku price{ amount } available partner{ name verified } } } } }"
    small, _ = count_queries(operator, q % 3)
    for i in range(3, 30):
        product = make_fertilizer(product_classes, supplier, f"A{i}", f"复合肥{i}")
        with_image(product)
        licensed(other_supplier, product)
        StockRecord.objects.create(
            product=product, partner=other_supplier, partner_sku=f"B{i}", price=Decimal("140"), num_in_stock=5
        )
    large, data = count_queries(operator, q % 30)
    assert len(data["products"]["items"]) == 30
    assert all(item["thumbnail"].endswith("/128/") for item in data["products"]["items"])
    assert large == small


def test_listing_asks_only_for_what_the_query_selects(operator, product_classes, supplier):
    """Title and price only: no attribute, category, image query and no COUNT(*)."""
    for i in range(5):
        make_fertilizer(product_classes, supplier, f"P{i}", f"复合肥{i}")
    lean, _ = count_queries(operator, "{ products(first: 5){ items{ title minPrice{ amount } } } }")
    full, _ = count_queries(
        operator,
        "{ products(first: 5){ totalCount items{ title minPrice{ amount } attributes thumbnail "
        "categories{ name } } } }",
    )
    assert full - lean == 4  # count, attribute values, categories, images


def test_orders_query_count_does_not_grow(operator, station_a, household_a):
    from marketplace.apps.order.models import Line, Order

    def add_orders(start: int, n: int) -> None:
        for i in range(start, start + n):
            order = Order.objects.create(
                number=f"N{i:05d}",
                station=station_a,
                household=household_a,
                currency="CNY",
                total_incl_tax=Decimal("100"),
                total_excl_tax=Decimal("100"),
                status="Pending",
            )
            for j in range(2):
                Line.objects.create(
                    order=order,
                    partner_name="甲",
                    title=f"商品{j}",
                    quantity=1,
                    partner_sku=f"S{j}",
                    line_price_incl_tax=Decimal("50"),
                    line_price_excl_tax=Decimal("50"),
                    line_price_before_discounts_incl_tax=Decimal("50"),
                    line_price_before_discounts_excl_tax=Decimal("50"),
                    num_allocated=0,
                )

    q = "{ orders(first: %d){ items{ number total{ amount } stationName householdName lines{ title quantity total{ amount } } } } }"
    add_orders(0, 2)
    small, _ = count_queries(operator, q % 2)
    add_orders(2, 20)
    large, data = count_queries(operator, q % 22)
    assert len(data["orders"]["items"]) == 22
    assert large == small

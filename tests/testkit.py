"""Test helpers shared by every test folder: `from testkit import make_station, PASSWORD, ...`.

They live outside conftest.py because several conftest modules exist and `from conftest import`
would pick whichever was imported first.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.test import Client
from oscar.core.loading import get_model

from marketplace.accounts.models import User
from marketplace.apps.catalogue.product_types import FERTILIZER
from marketplace.apps.partner.models import PartnerKind, VerificationStatus
from marketplace.stations.models import (
    County,
    Station,
    Township,
    Village,
)

PASSWORD = "test-pass-123456"


def make_user(username: str, role: str, **extra: Any) -> User:
    user = User.objects.create(username=username, role=role, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_station(county: County, code: str, name: str) -> Station:
    township, _ = Township.objects.get_or_create(county=county, name=f"{name}镇")
    village = Village.objects.create(township=township, name=f"{name}村")
    return Station.objects.create(
        code=code,
        name=f"{name}益农信息社",
        village=village,
        latitude=Decimal("43.5"),
        longitude=Decimal("125.6"),
    )


def make_partner(code: str, name: str, kind: str = PartnerKind.SUPPLIER):
    Partner = get_model("partner", "Partner")
    return Partner.objects.create(
        code=code, name=name, kind=kind, verification_status=VerificationStatus.APPROVED
    )


def make_fertilizer(
    product_classes, partner, sku: str, title: str, npk=(15, 15, 15), price="150.00", stock=100
):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=title, product_class=product_classes[FERTILIZER], upc=f"UPC-{sku}")
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = map(float, npk)
    product.attr.chloride_class = "none"
    product.attr.bag_kg = 40.0
    product.attr.registration_no = f"REG-{sku}"
    product.save()
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal(price), num_in_stock=stock
    )
    return product


class GraphQLClient:
    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
        )
        assert response.status_code in (200, 400), response.content
        return response.json()


def make_warehouse(partner, code: str = "WH1", lat: str = "43.52", lon: str = "125.66"):
    Warehouse = get_model("partner", "Warehouse")
    return Warehouse.objects.create(
        partner=partner,
        code=code,
        name=f"{partner.name}{code}仓",
        latitude=Decimal(lat),
        longitude=Decimal(lon),
    )

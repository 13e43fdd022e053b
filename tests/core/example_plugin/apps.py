"""A plugin used only by tests: it implements every extension point."""

from __future__ import annotations

from decimal import Decimal

import graphene
from django.http import HttpResponse
from django.urls import path

from marketplace.core.extensions import (
    HomePanel,
    MarketplacePlugin,
    MenuEntry,
    PurchasableOffer,
)


class ExampleQueries(graphene.ObjectType):
    example_ping = graphene.String()

    @staticmethod
    def resolve_example_ping(root, info):
        return "pong"


class ExampleMutations(graphene.ObjectType):
    example_echo = graphene.String(text=graphene.String())


class ExamplePluginConfig(MarketplacePlugin):
    default = True
    name = "example_plugin"
    label = "example_plugin"
    plugin_slug = "example"

    def storefront_urls(self):
        return [path("", lambda request: HttpResponse("example"), name="index")]

    def menu_entries(self, request):
        return [MenuEntry("示例", "/p/example/", frozenset({"station_staff"}), order=50)]

    def home_panels(self, request):
        return [HomePanel("storefront/_order_list.html", order=1)]

    def graphql_queries(self):
        return [ExampleQueries]

    def graphql_mutations(self):
        return [ExampleMutations]

    def periodic_tasks(self):
        return {"example.tick": {"task": "marketplace.core.tasks.purge_expired_api_tokens", "schedule": 60.0}}

    def purchasable_offers(self, station, product_ids=None):
        return [
            PurchasableOffer(
                product_id=1,
                sku="EX-1",
                title="示例团购",
                partner_id=1,
                unit_price=Decimal("99.00"),
                available=10,
                source="example",
                source_ref="campaign-1",
            )
        ]

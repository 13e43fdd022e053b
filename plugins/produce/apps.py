from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse
from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import DeliveryRequest, MarketplacePlugin, MenuEntry


class ProduceConfig(MarketplacePlugin):
    default = True
    name = "plugins.produce"
    label = "produce"
    verbose_name = _("农产品")
    plugin_slug = "produce"

    def ready(self) -> None:
        from marketplace.payments.signals import online_payment_ready

        from .services import on_online_payment_ready

        online_payment_ready.connect(on_online_payment_ready, dispatch_uid="produce.online_payment_ready")

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        from .urls import urlpatterns

        return urlpatterns

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        from marketplace.accounts.models import Role

        yield MenuEntry(str(_("农产品")), reverse("produce:market"), order=30)
        yield MenuEntry(
            str(_("我的农产品订单")),
            reverse("produce:my-orders"),
            frozenset({Role.CITY_BUYER}),
            order=31,
        )
        yield MenuEntry(
            str(_("合作社")),
            reverse("produce:coop"),
            frozenset({Role.COOPERATIVE, Role.OPERATOR}),
            order=32,
        )
        yield MenuEntry(
            str(_("合作社成员确认")),
            reverse("produce:station-members"),
            frozenset({Role.STATION_STAFF}),
            order=33,
        )
        yield MenuEntry(
            str(_("合作社货款支付")),
            reverse("produce:operator-payouts"),
            frozenset({Role.OPERATOR}),
            order=34,
        )
        yield MenuEntry(
            str(_("农产品退款")),
            reverse("produce:operator-refunds"),
            frozenset({Role.OPERATOR}),
            order=35,
        )

    def graphql_queries(self) -> Sequence[type]:
        from .schema import ProduceQueries

        return [ProduceQueries]

    def graphql_mutations(self) -> Sequence[type]:
        from .schema import ProduceMutations

        return [ProduceMutations]

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        return {
            "produce.close-due-rounds": {
                "task": "plugins.produce.tasks.close_due_rounds",
                "schedule": timedelta(minutes=1).total_seconds(),
            },
            "produce.reauthorise-due-payments": {
                "task": "plugins.produce.tasks.reauthorise_due_payments",
                "schedule": timedelta(hours=1).total_seconds(),
            },
            "produce.cancel-abandoned-checkouts": {
                "task": "plugins.produce.tasks.cancel_abandoned_checkouts",
                "schedule": timedelta(minutes=10).total_seconds(),
            },
        }

    def delivery_requests(self, ready_by: date | None = None) -> Iterable[DeliveryRequest]:
        from .services import delivery_requests

        return delivery_requests(ready_by, source=self.plugin_slug)

    def demo_data(self, demo: Any) -> None:
        from .demo import seed_demo

        seed_demo(demo)

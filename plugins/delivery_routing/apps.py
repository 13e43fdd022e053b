from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse
from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import HomePanel, MarketplacePlugin, MenuEntry


class DeliveryRoutingConfig(MarketplacePlugin):
    default = True
    name = "plugins.delivery_routing"
    label = "delivery_routing"
    verbose_name = _("配送路线")
    plugin_slug = "routing"

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        from .urls import urlpatterns

        return urlpatterns

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        from marketplace.accounts.models import Role

        from .access import is_dispatcher

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        entries = [
            MenuEntry(
                str(_("到货预告")),
                reverse("routing:station-deliveries"),
                frozenset({Role.STATION_STAFF, Role.OPERATOR}),
                order=40,
            )
        ]
        if is_dispatcher(user):
            roles = frozenset({Role.OPERATOR, Role.SUPPLIER, Role.COOPERATIVE})
            entries.append(MenuEntry(str(_("配送调度")), reverse("routing:plans"), roles, order=41))
        return entries

    def home_panels(self, request: HttpRequest) -> Iterable[HomePanel]:
        from marketplace.accounts.models import Role

        from .services import upcoming_station_stops

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.role != Role.STATION_STAFF:
            return []
        stops = list(upcoming_station_stops(user)[:5])
        if not stops:
            return []
        return [HomePanel("delivery_routing/_home_panel.html", {"stops": stops}, order=25)]

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        return {
            "delivery-routing.resume-stale-solves": {
                "task": "delivery_routing.resume_stale_solves",
                "schedule": 60.0,
            }
        }

    def demo_data(self, demo: Any) -> None:
        from .demo import seed_depots_and_vehicles

        seed_depots_and_vehicles()

    def graphql_queries(self) -> Sequence[type]:
        from .schema import RoutingQueries

        return [RoutingQueries]

    def graphql_mutations(self) -> Sequence[type]:
        from .schema import RoutingMutations

        return [RoutingMutations]

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import DemandFigure, DemoContext, HomePanel, MarketplacePlugin, MenuEntry


class VillageInfoConfig(MarketplacePlugin):
    """Notices, prices, planting-intention surveys and expert questions through the station.
    The hooks live in hooks.py."""

    default = True
    name = "plugins.village_info"
    label = "village_info"
    verbose_name = _("村级信息服务")
    plugin_slug = "info"

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        from .urls import urlpatterns

        return urlpatterns

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        from . import hooks

        return hooks.menu_entries(request)

    def home_panels(self, request: HttpRequest) -> Iterable[HomePanel]:
        from . import hooks

        return hooks.home_panels(request)

    def graphql_queries(self) -> Sequence[type]:
        from .schema import VillageInfoQueries

        return [VillageInfoQueries]

    def graphql_mutations(self) -> Sequence[type]:
        from .schema import VillageInfoMutations

        return [VillageInfoMutations]

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        from . import hooks

        return hooks.periodic_tasks()

    def demand_figures(self, county_ids: Sequence[int]) -> Iterable[DemandFigure]:
        from .services import demand_figures

        return demand_figures(county_ids)

    def demo_data(self, demo: DemoContext) -> None:
        from .demo import seed

        seed(demo)

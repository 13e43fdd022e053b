from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse
from django.utils.translation import gettext_lazy as _

from marketplace.core.extensions import HomePanel, MarketplacePlugin, MenuEntry


class FertilizerConfig(MarketplacePlugin):
    default = True
    name = "plugins.fertilizer"
    label = "fertilizer"
    verbose_name = _("测土配方施肥")
    plugin_slug = "fertilizer"

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        from .urls import urlpatterns

        return urlpatterns

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        from marketplace.accounts.models import Role

        yield MenuEntry(
            str(_("施肥建议")),
            reverse("fertilizer:index"),
            frozenset(
                {
                    Role.STATION_STAFF,
                    Role.FARMER,
                    Role.AGRONOMIST,
                    Role.COUNTY_STAFF,
                    Role.OPERATOR,
                    Role.SUPPLIER,
                }
            ),
            order=25,
        )

    def household_panels(self, request: HttpRequest, household) -> Iterable[HomePanel]:
        from django.db.models import Count, Max

        from . import access

        fields = (
            access.fields_for(request.user)
            .filter(household=household)
            .annotate(n_tests=Count("soil_tests"), last_test=Max("soil_tests__sample_date"))
            .order_by("name", "pk")
        )
        yield HomePanel(
            "fertilizer/_household_panel.html", {"household": household, "fields": list(fields)}, 20
        )

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        return {
            "fertilizer.resume-stale-plans": {"task": "fertilizer.resume_stale_plans", "schedule": 60.0},
        }

    def demo_data(self, demo) -> None:
        from .services import seed_demo_fields

        seed_demo_fields(demo)

    def graphql_queries(self) -> Sequence[type]:
        from .schema import FertilizerQueries

        return [FertilizerQueries]

    def graphql_mutations(self) -> Sequence[type]:
        from .schema import FertilizerMutations

        return [FertilizerMutations]

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from celery.schedules import crontab
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from marketplace.core.extensions import (
    AcceptedLine,
    DeliveryRequest,
    DemandFigure,
    HomePanel,
    MarketplacePlugin,
    MenuEntry,
    PlanLine,
    PurchasableOffer,
)


class GroupOrdersConfig(MarketplacePlugin):
    default = True
    name = "plugins.group_orders"
    label = "group_orders"
    verbose_name = _("村站团购")
    plugin_slug = "group-buy"

    def ready(self) -> None:
        from marketplace.payments.signals import online_payment_ready

        from .online import on_online_payment_ready

        online_payment_ready.connect(
            on_online_payment_ready, dispatch_uid="group_orders.online_payment_ready"
        )

    def household_panels(self, request: HttpRequest, household: Any) -> Iterable[HomePanel]:
        from .access import pledges_for

        pledges = (
            pledges_for(request.user)
            .filter(household=household)
            .select_related("campaign", "item__product")
            .order_by("-created_at", "-pk")[:20]
        )
        yield HomePanel("group_orders/_household_panel.html", {"pledges": list(pledges)}, 30)

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        from .urls import urlpatterns

        return urlpatterns

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        from marketplace.accounts.models import Role

        yield MenuEntry(str(pgettext_lazy("menu", "团购")), reverse("group-buy:campaigns"), order=15)
        yield MenuEntry(
            str(_("取货核销")),
            reverse("group-buy:pickup-verify"),
            frozenset({Role.STATION_STAFF, Role.OPERATOR}),
            order=16,
        )
        yield MenuEntry(
            str(_("站点佣金")),
            reverse("group-buy:commission"),
            frozenset({Role.STATION_STAFF, Role.OPERATOR}),
            order=18,
        )
        yield MenuEntry(
            str(_("现金日结")),
            reverse("group-buy:cash"),
            frozenset({Role.STATION_STAFF, Role.OPERATOR}),
            order=17,
        )

        suppliers = frozenset({Role.SUPPLIER, Role.COOPERATIVE})
        yield MenuEntry(str(_("团购管理")), reverse("group-buy:supplier"), suppliers, order=81)
        yield MenuEntry(str(_("采购单与发货")), reverse("group-buy:supplier-orders"), suppliers, order=82)
        operators = frozenset({Role.OPERATOR})
        yield MenuEntry(str(_("团购审核")), reverse("group-buy:review"), operators, order=71)
        yield MenuEntry(str(_("佣金支付")), reverse("group-buy:payouts"), operators, order=72)
        yield MenuEntry(
            str(_("全省总览")),
            reverse("group-buy:overview"),
            frozenset({Role.OPERATOR, Role.COUNTY_STAFF}),
            order=73,
        )

    def home_panels(self, request: HttpRequest) -> Iterable[HomePanel]:
        from .services import campaign_progress, my_open_campaigns

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return []
        campaigns = list(my_open_campaigns(user)[:3])
        if not campaigns:
            return []
        rows = [{"campaign": c, "progress": campaign_progress(c)} for c in campaigns]
        return [HomePanel("group_orders/_home_panel.html", {"rows": rows}, order=20)]

    def demand_figures(self, county_ids: Sequence[int]) -> Iterable[DemandFigure]:
        """Open pledges (not yet closed into orders) per station and product, for the county
        demand view; closed campaigns' pledges are core orders by then."""
        from django.db.models import Sum

        from .models import Pledge, PledgeStatus

        rows = (
            Pledge.objects.filter(station__county_id__in=list(county_ids), status=PledgeStatus.ACTIVE)
            .values(
                "station_id",
                "station__county_id",
                "station__village__name",
                "station__village__township__name",
                "item__product__title",
                "item__product__product_class__slug",
            )
            .annotate(quantity=Sum("quantity"))
            .order_by("station_id", "item__product__title")
        )
        return [
            DemandFigure(
                source=self.plugin_slug,
                kind="pledges",
                label=r["item__product__title"],
                county_id=r["station__county_id"],
                quantity=Decimal(r["quantity"]),
                unit="件",
                category=r["item__product__product_class__slug"] or "",
                station_id=r["station_id"],
                township=r["station__village__township__name"] or "",
                village=r["station__village__name"] or "",
            )
            for r in rows
        ]

    def graphql_queries(self) -> Sequence[type]:
        from .schema import GroupBuyQueries

        return [GroupBuyQueries]

    def graphql_mutations(self) -> Sequence[type]:
        from .schema import GroupBuyMutations

        return [GroupBuyMutations]

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        return {
            "group-buy.close-due-campaigns": {
                "task": "plugins.group_orders.tasks.close_due_campaigns",
                "schedule": timedelta(minutes=1).total_seconds(),
            },
            "group-buy.cancel-abandoned-payments": {
                "task": "plugins.group_orders.tasks.cancel_abandoned_payments",
                "schedule": timedelta(minutes=10).total_seconds(),
            },
            "group-buy.reauthorise-card-pledges": {
                "task": "plugins.group_orders.tasks.reauthorise_card_pledges",
                "schedule": timedelta(hours=1).total_seconds(),
            },
            "group-buy.expire-uncollected": {
                "task": "plugins.group_orders.tasks.expire_uncollected",
                "schedule": timedelta(hours=1).total_seconds(),
            },
            "group-buy.monthly-commission-statements": {
                "task": "plugins.group_orders.tasks.monthly_commission_statements",
                "schedule": crontab(minute=30, hour=2, day_of_month=1),
            },
        }

    def purchasable_offers(
        self, station: Any, product_ids: Sequence[int] | None = None
    ) -> Iterable[PurchasableOffer]:

        from .access import eligible_for_stations
        from .models import Campaign
        from .services import price_at

        qs = eligible_for_stations(Campaign.objects.open(), [station.pk]).prefetch_related(
            "items__product", "items__tiers", "items__stockrecord"
        )
        offers = []
        for campaign in qs:
            left = (
                campaign.max_total_quantity - campaign.total_quantity
                if campaign.max_total_quantity is not None
                else 10**6
            )
            for item in campaign.items.all():
                if product_ids is not None and item.product_id not in product_ids:
                    continue
                _, price = price_at(item, campaign.total_quantity)
                offers.append(
                    PurchasableOffer(
                        product_id=item.product_id,
                        sku=item.stockrecord.partner_sku,
                        title=item.product.title,
                        partner_id=item.stockrecord.partner_id,
                        unit_price=price,
                        available=max(left, 0),
                        # The supply cap is per campaign, shared by all its items.
                        available_pool=f"{self.plugin_slug}:{campaign.pk}",
                        household_limit=campaign.per_household_limit or None,
                        source=self.plugin_slug,
                        source_ref=str(campaign.pk),
                        attributes={"campaign": campaign.title, "cutoff_at": campaign.cutoff_at.isoformat()},
                    )
                )
        return offers

    def demo_data(self, demo: Any) -> None:
        """Open, pending and closed campaigns with tiers, pledges and purchase orders to ship."""
        from .demo import seed

        seed(demo)

    def delivery_requests(self, ready_by: date | None = None) -> Iterable[DeliveryRequest]:
        """Station deliveries of successfully closed campaigns still waiting to leave the warehouse."""
        from .services import delivery_requests

        return delivery_requests(ready_by, source=self.plugin_slug)

    def accept_plan_lines(
        self, station: Any, household: Any, lines: Sequence[PlanLine], user: Any = None
    ) -> Iterable[AcceptedLine]:
        """Pledge the household into the campaigns this plugin offered (all lines or none)."""
        from .services import accept_plan_lines

        return accept_plan_lines(
            user, station, household, lines, slug=self.plugin_slug, aliases=(self.label,)
        )

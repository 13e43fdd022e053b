"""Extension points: the only way plugins hook into the core.

A plugin is a Django app in ``plugins/<name>/`` whose AppConfig subclasses :class:`MarketplacePlugin`
and overrides the hooks it needs. The core asks :func:`plugins` for the installed ones and calls
their hooks; it never imports a plugin module by name. Plugins never import each other: they meet
through these hooks (e.g. fertilizer advice asks :func:`purchasable_offers` for a station and gets
whatever offers the installed plugins and the core's own stock provide).

Order lifecycle hooks are Django signals re-exported here (``order_placed``,
``order_status_changed``, ``line_status_changed``); connect to them in ``ready()``.
See docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig, apps
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from oscar.apps.order.signals import order_line_status_changed as line_status_changed
from oscar.apps.order.signals import order_placed, order_status_changed

if TYPE_CHECKING:
    from marketplace.stations.models import Household, Station

__all__ = [
    "MarketplacePlugin",
    "MenuEntry",
    "PurchasableOffer",
    "PlanLine",
    "AcceptedLine",
    "accept_plan_lines",
    "DeliveryRequest",
    "delivery_requests",
    "HomePanel",
    "DemoContext",
    "DemandFigure",
    "demand_figures",
    "plugins",
    "collect",
    "menu_entries",
    "purchasable_offers",
    "order_placed",
    "order_status_changed",
    "line_status_changed",
]


@dataclass(frozen=True)
class MenuEntry:
    """A navigation entry in the storefront. ``roles`` empty means every signed-in user."""

    label: str
    url: str
    roles: frozenset[str] = frozenset()
    order: int = 100
    icon: str = ""


@dataclass(frozen=True)
class HomePanel:
    """A template fragment shown on the role-aware home page."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class PurchasableOffer:
    """Something a station can buy now: a product at a price, from a source (stock, campaign …).

    Availability: ``available`` is how many units can be bought from this offer now (stock: in stock
    minus allocated; a campaign: its remaining supply cap). Offers with the same non-empty
    ``available_pool`` (within one ``source``) share one ``available`` figure, e.g. a campaign's cap
    over all its items. ``household_limit`` (None = no limit) caps what one household may take from
    the offer, or from the whole pool when ``available_pool`` is set."""

    product_id: int
    sku: str
    title: str
    partner_id: int
    unit_price: Decimal
    available: int
    source: str  # "stock" or a plugin label, e.g. "group_orders"
    source_ref: str = ""  # e.g. a campaign id, so the source can act on it later
    attributes: dict[str, Any] = field(default_factory=dict)
    available_pool: str = ""  # e.g. the campaign id: offers of one pool share ``available``
    household_limit: int | None = None  # e.g. a campaign's per-household limit

    def limit_for_household(self) -> int:
        """Most units one household can take from this offer (or its pool) now."""
        limit = max(self.available, 0)
        return limit if self.household_limit is None else min(limit, max(self.household_limit, 0))


@dataclass(frozen=True)
class PlanLine:
    """One line of a purchase plan (e.g. a fertilizer bag plan) built from purchasable offers.

    ``source`` / ``source_ref`` are copied from the offer, so the plugin (or the core, for
    ``source == "stock"``) that made the offer can recognise and take the line.

    ``payment_method`` is how the household pays for the line, as the person handing the plan over
    chose it: ``"cash"`` (collected at the station now), ``"credit"`` (赊销, within the household's
    limit) or ``"online"`` (paid online later, e.g. at basket checkout). A taker books exactly that
    or refuses the line; it never picks a method itself."""

    product_id: int
    sku: str
    title: str
    quantity: int
    unit_price: Decimal
    source: str
    source_ref: str = ""
    partner_id: int | None = None
    note: str = ""  # e.g. "basal" / "topdress"
    payment_method: str = ""  # "cash" | "credit" | "online"


@dataclass(frozen=True)
class AcceptedLine:
    """A plan line taken by a plugin or by the core basket. ``accepted_by`` is the taker's slug
    ("stock" for the core basket, else a plugin's ``plugin_slug``); ``ref`` its own reference
    (e.g. ``"basket:12"``, a campaign reservation id)."""

    line: PlanLine
    accepted_by: str
    ref: str
    quantity: int
    message: str = ""


@dataclass(frozen=True)
class DeliveryRequest:
    """Goods that must be carried from a depot to a stop: e.g. a closed campaign's purchase order
    (supplier warehouse → station) or a produce shipment (collection point → city buyer)."""

    ref: str  # stable id from the provider, e.g. "group_orders:po:42"
    source: str  # provider slug
    origin_kind: str  # "warehouse" or "collection_point"
    origin_id: int
    origin_name: str
    origin_lat: float
    origin_lon: float
    destination_kind: str  # "station" or "buyer"
    destination_id: int
    destination_name: str
    destination_lat: float
    destination_lon: float
    weight_kg: Decimal
    ready_on: date | None = None
    window_start: time | None = None  # e.g. station opening hours
    window_end: time | None = None
    service_minutes: int = 15
    contact: str = ""
    lines: tuple[tuple[str, int], ...] = ()  # (description, quantity) for route sheets


@dataclass(frozen=True)
class DemandFigure:
    """One figure of expected demand in a county, for the county demand view: e.g. the planted area
    and planned fertilizer of a planting-intention survey, or the quantity pledged in group buys."""

    source: str  # provider slug, e.g. "village-info"
    kind: str  # what it measures: "survey", "pledges", "orders", "recommendations"
    label: str  # shown to people, e.g. "备耕调查：玉米"
    county_id: int
    quantity: Decimal
    unit: str  # "kg", "亩", "袋" …
    category: str = ""  # "fertilizer", "seed", "pesticide", a crop name …
    station_id: int | None = None  # None: a county-wide figure
    township: str = ""
    village: str = ""


@dataclass
class DemoContext:
    """What ``seed_demo`` built before it asks each plugin for its own demo data.

    A plugin adds its rows in :meth:`MarketplacePlugin.demo_data` (deterministically: running the demo
    twice changes nothing) and may add a login to ``logins`` (label → username; the password is
    ``password``)."""

    county: Any
    stations: list[Any]
    suppliers: list[Any]
    cooperatives: list[Any]
    users: dict[str, Any]  # e.g. "operator", "station01", "agronomist01", "county01", "buyer01"
    logins: dict[str, str]
    password: str
    seed: int = 2020


class MarketplacePlugin(AppConfig):
    """Base class for plugin AppConfigs. Override only the hooks you need."""

    #: Plugins set ``default = True`` so Django picks their AppConfig from ``apps.py``.
    default = False

    #: Short slug used in URLs (``/p/<slug>/``) and as the ``source`` of what the plugin offers.
    plugin_slug: str = ""

    def storefront_urls(self) -> Sequence[URLPattern | URLResolver]:
        """URL patterns mounted under ``/p/<plugin_slug>/`` with namespace ``plugin_slug``."""
        return []

    def menu_entries(self, request: HttpRequest) -> Iterable[MenuEntry]:
        return []

    def home_panels(self, request: HttpRequest) -> Iterable[HomePanel]:
        return []

    def household_panels(self, request: HttpRequest, household: Household) -> Iterable[HomePanel]:
        """Fragments on a household's page (its fields, soil tests, pledges …). ``household`` is one
        the user may read; a panel shows only what ``request.user`` may see of it."""
        return []

    def graphql_queries(self) -> Sequence[type]:
        """graphene.ObjectType classes whose fields are merged into the root Query."""
        return []

    def graphql_mutations(self) -> Sequence[type]:
        """graphene.ObjectType classes whose fields are merged into the root Mutation."""
        return []

    def periodic_tasks(self) -> dict[str, dict[str, Any]]:
        """Celery beat entries: ``{"name": {"task": "dotted.name", "schedule": seconds|crontab}}``."""
        return {}

    def purchasable_offers(
        self, station: Station, product_ids: Sequence[int] | None = None
    ) -> Iterable[PurchasableOffer]:
        return []

    def delivery_requests(self, ready_by: date | None = None) -> Iterable[DeliveryRequest]:
        """Loads waiting to be delivered (not yet planned), for the delivery planner."""
        return []

    def demand_figures(self, county_ids: Sequence[int]) -> Iterable[DemandFigure]:
        """Expected demand this plugin knows of in these counties (surveys, pledges …)."""
        return []

    def demo_data(self, demo: DemoContext) -> None:
        """Add this plugin's demo rows (called by ``seed_demo`` after the core's own)."""

    def accept_plan_lines(
        self, station: Station, household: Household | None, lines: Sequence[PlanLine], user: Any = None
    ) -> Iterable[AcceptedLine]:
        """Take the plan lines this plugin offered (``line.source == plugin_slug`` or label), e.g. join
        a group-buy campaign for the household. Return one :class:`AcceptedLine` per line taken; lines
        not returned are offered to the next plugin and finally to the core basket."""
        return []


def plugins() -> list[MarketplacePlugin]:
    """Installed plugins, in INSTALLED_APPS order."""
    return [cfg for cfg in apps.get_app_configs() if isinstance(cfg, MarketplacePlugin)]


def collect(hook: str, *args: Any, **kwargs: Any) -> list[Any]:
    """Call ``hook`` on every plugin and flatten the results into one list."""
    out: list[Any] = []
    for plugin in plugins():
        result = getattr(plugin, hook)(*args, **kwargs)
        if result:
            out.extend(result.items() if isinstance(result, dict) else result)
    return out


def menu_entries(request: HttpRequest) -> list[MenuEntry]:
    role = getattr(request.user, "role", "")
    entries = [e for e in collect("menu_entries", request) if not e.roles or role in e.roles]
    return sorted(entries, key=lambda e: (e.order, e.label))


_core_offer_providers: list[Callable[..., Iterable[PurchasableOffer]]] = []


def register_core_offer_provider(provider: Callable[..., Iterable[PurchasableOffer]]) -> None:
    """Core apps register their own offer sources here (e.g. partner stock)."""
    if provider not in _core_offer_providers:
        _core_offer_providers.append(provider)


def purchasable_offers(
    station: Station,
    product_ids: Sequence[int] | None = None,
    *,
    product_classes: Sequence[str] | None = None,
    attributes: Sequence[str] = (),
) -> list[PurchasableOffer]:
    """Everything a station can buy now, from core stock and from every plugin, cheapest first.

    Narrowing, for callers that need only part of the catalogue (e.g. a fertilizer bag plan):

    * ``product_ids``: only offers of these products;
    * ``product_classes``: only offers of products of these product classes (Oscar
      ``ProductClass.slug``, e.g. ``("fertilizer",)``);
    * ``attributes``: product attribute codes (of ``product_classes`` when given); every offer's
      ``attributes`` carries the product's value of each code (an offer's own value wins), and
      offers lacking a value for one of them are left out.

    The core's stock offers are narrowed in SQL (the product class filter and a join on the
    attribute values, :func:`marketplace.apps.catalogue.services.stock_offers`); plugins' offers
    (the hook gets ``station, product_ids`` as before) are narrowed afterwards with one query for
    their products (:func:`marketplace.apps.catalogue.services.narrow_offers`). Whether an offer is
    sellable at all is decided where it is made (the stock rule, ``sellable_q``), never here."""
    offers: list[PurchasableOffer] = []
    for provider in _core_offer_providers:
        offers.extend(provider(station, product_ids, product_classes=product_classes, attributes=attributes))
    from_plugins = collect("purchasable_offers", station, product_ids)
    if from_plugins and (product_classes is not None or attributes):
        from marketplace.apps.catalogue.services import narrow_offers

        from_plugins = narrow_offers(from_plugins, product_classes, attributes)
    offers.extend(from_plugins)
    return sorted(offers, key=lambda o: (o.product_id, o.unit_price, o.source))


def delivery_requests(ready_by: date | None = None) -> list[DeliveryRequest]:
    """Every installed plugin's loads waiting for delivery (whatever plugin produced them)."""
    return sorted(collect("delivery_requests", ready_by), key=lambda r: r.ref)


def demand_figures(county_ids: Sequence[int]) -> list[DemandFigure]:
    """Every installed plugin's demand figures for these counties (county demand view)."""
    return collect("demand_figures", list(county_ids))


def accept_plan_lines(
    station: Station, household: Household | None, lines: Sequence[PlanLine], user: Any = None
) -> tuple[list[AcceptedLine], list[PlanLine]]:
    """Hand a purchase plan to whoever can take it: every plugin first (in INSTALLED_APPS order),
    then the core fallback, which puts ``source == "stock"`` lines into the household's station basket
    (see :func:`marketplace.apps.order.direct.add_stock_lines`; checked out at the station's direct
    order checkout). Returns (accepted, not taken)."""
    remaining = list(lines)
    accepted: list[AcceptedLine] = []
    for plugin in plugins():
        if not remaining:
            break
        # The contract: a plugin sees only the lines it offered (``source`` is its slug or label),
        # and a line counts as taken only when the plugin accepted it whole, under its own slug.
        own_sources = {plugin.plugin_slug, plugin.label} - {""}
        offered = tuple(line for line in remaining if line.source in own_sources)
        if not offered:
            continue
        by_id = {id(line): line for line in offered}
        taken = [
            a
            for a in plugin.accept_plan_lines(station, household, offered, user) or []
            if id(a.line) in by_id and a.quantity == a.line.quantity and a.accepted_by in own_sources
        ]
        taken_ids = {id(a.line) for a in taken}
        accepted.extend(taken)
        remaining = [line for line in remaining if id(line) not in taken_ids]
    stock = [line for line in remaining if line.source == "stock"]
    if stock:
        from marketplace.apps.order.direct import add_stock_lines

        taken = add_stock_lines(station, household, stock, user)
        taken_ids = {id(a.line) for a in taken}
        accepted.extend(taken)
        remaining = [line for line in remaining if id(line) not in taken_ids]
    return accepted, remaining

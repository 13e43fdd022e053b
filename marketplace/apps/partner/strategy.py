"""May this stock be sold (to this buyer)? The one decision point, Oscar's Strategy.

The stock rule — approved supplier, public product, licences in order (``compliance_blocked``, kept
current for every write path by :mod:`marketplace.apps.catalogue.compliance`) — is written once,
in :data:`STOCK_RULE`, and used two ways: :func:`sellable_q` (querysets: listings, search indexing,
offers, campaign items, basket hand-over) and :func:`is_sellable` (loaded records: the strategy,
GraphQL types, the search document). The buyer rule (restricted-use pesticides need a licensed
buyer) is :func:`marketplace.apps.catalogue.services.can_user_buy` / ``can_station_buy``; the
strategy applies both, so Oscar's basket and checkout obey them too. Among several suppliers the
cheapest sellable record with free stock wins.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy
from oscar.apps.partner import strategy
from oscar.apps.partner.availability import Unavailable

from .models import VerificationStatus

#: (lookup from a StockRecord, required value). The only place the stock rule is written.
STOCK_RULE: tuple[tuple[str, Any], ...] = (
    ("partner__verification_status", VerificationStatus.APPROVED),
    ("compliance_blocked", False),
    ("product__is_public", True),
)


def sellable_q(prefix: str = "", *, product: bool = True) -> Q:
    """Stock records that may be sold. ``prefix``: the lookup from the queried model to its stock
    record (e.g. ``"stockrecords__"``); ``product=False`` leaves out the product condition for a
    caller that already filters the products."""
    return Q(
        **{f"{prefix}{lookup}": value for lookup, value in STOCK_RULE if product or not lookup.startswith("product__")}
    )


def _value(obj: Any, lookup: str) -> Any:
    for part in lookup.split("__"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def is_sellable(record: Any) -> bool:
    """:data:`STOCK_RULE` evaluated on a loaded stock record (use select/prefetch_related)."""
    return record is not None and all(_value(record, lookup) == value for lookup, value in STOCK_RULE)


def viewer_price_context(user: Any) -> str:
    """Who may share a cached catalogue answer (the GraphQL listing response cache keys on it).

    Anonymous viewers see the public prices and sellability and share one context. A signed-in
    viewer never shares: the buyer rule (restricted-use pesticides) depends on the buyer's station
    licence, and any station- or buyer-specific price must never reach another station, so each
    signed-in user is a context of its own. Change this together with any rule that makes prices
    or sellability depend on the viewer."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "public"
    return f"user:{user.pk}"


class BuyerNotLicensed(Unavailable):
    code = "licence_required"
    message = gettext_lazy("限制使用农药: 须由持有限制使用农药经营许可的站点购买")


class MarketplaceStrategy(strategy.StockRequired, strategy.NoTax, strategy.Structured):
    def __init__(self, request: Any = None, user: Any = None) -> None:
        super().__init__(request)
        if user is not None and getattr(user, "is_authenticated", False):
            self.user = user

    def select_stockrecord(self, product: Any) -> Any:
        records = [r for r in product.stockrecords.all() if is_sellable(r)]
        if not records:
            return None
        in_stock = [r for r in records if r.net_stock_level > 0 and r.price is not None]
        pool = in_stock or records
        return min(pool, key=lambda r: (r.price is None, r.price or 0, r.pk))

    def availability_policy(self, product: Any, stockrecord: Any) -> Any:
        if not is_sellable(stockrecord) or stockrecord.product_id != product.pk:
            return Unavailable()
        if getattr(product, "restricted_use", False):
            from marketplace.apps.catalogue.services import can_user_buy

            if not can_user_buy(self.user, product).allowed:
                return BuyerNotLicensed()
        return super().availability_policy(product, stockrecord)


class Selector:
    def strategy(self, request: Any = None, user: Any = None, **kwargs: Any) -> MarketplaceStrategy:
        return MarketplaceStrategy(request, user)

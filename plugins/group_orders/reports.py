"""Read models for the supplier centre and the operator's province → county → station overview.

Service functions (pages and any API call them); every figure is one grouped query over the rows
the user may read, so a page costs the same number of queries whatever the number of stations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from oscar.core.loading import get_model

from marketplace.core import permissions
from marketplace.payments import services as payments
from marketplace.payments.models import ZERO, LedgerEntry, Payment, PaymentMethod, PaymentStatus
from marketplace.stations.models import County, Station

from . import access
from .models import (
    Campaign,
    CampaignStatus,
    DeliveryStatus,
    Pledge,
    PledgeStatus,
    PurchaseOrder,
    StationDelivery,
)

# --- Supplier centre ----------------------------------------------------------------------------


def supplier_campaigns(user: Any, partner: Any) -> QuerySet[Campaign]:
    return (
        access.managed_campaigns(user)
        .filter(partner=partner)
        .prefetch_related("items__product", "items__tiers")
        .order_by("-created_at", "-pk")
    )


def supplier_purchase_orders(user: Any, partner: Any) -> QuerySet[PurchaseOrder]:
    """Consolidated purchase orders with their delivery counts (pending / shipped / received)."""
    return (
        access.purchase_orders_for(user)
        .filter(partner=partner)
        .select_related("campaign", "warehouse")
        .annotate(
            n_deliveries=Count("deliveries"),
            n_pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
            n_shipped=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SHIPPED)),
            n_received=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.RECEIVED)),
        )
        .order_by("-created_at", "-pk")
    )


def supplier_sales(user: Any, partner: Any) -> dict[str, Any]:
    """Per campaign: quantity, sales (purchase orders), station commission paid on pickups so far."""
    campaigns = list(access.managed_campaigns(user).filter(partner=partner).order_by("-created_at", "-pk"))
    ids = [c.pk for c in campaigns]
    sales = dict(
        PurchaseOrder.objects.filter(campaign_id__in=ids)
        .values_list("campaign_id")
        .annotate(s=Sum("total_amount"))
        .values_list("campaign_id", "s")
    )
    refs = {f"GB{pk}": pk for pk in ids}
    commission = {
        refs[ref]: total
        for ref, total in LedgerEntry.objects.filter(kind="commission", reference__in=list(refs))
        .values_list("reference")
        .annotate(s=Sum("amount"))
        .values_list("reference", "s")
    }
    rows = [
        {
            "campaign": c,
            "sales": sales.get(c.pk) or ZERO,
            "commission": commission.get(c.pk) or ZERO,
        }
        for c in campaigns
    ]
    return {
        "rows": rows,
        "total_sales": sum((r["sales"] for r in rows), ZERO),
        "total_commission": sum((r["commission"] for r in rows), ZERO),
    }


# --- Operator: commissions of all stations --------------------------------------------------------


def station_commissions(user: Any) -> list[dict[str, Any]]:
    """Every station the user may read that is owed commission, largest first."""
    owed = payments.commission_balances()
    stations = permissions.stations_for(user).filter(pk__in=list(owed)).select_related("county")
    rows = [{"station": s, "balance": owed[s.pk]} for s in stations if owed[s.pk] > 0]
    return sorted(rows, key=lambda r: (-r["balance"], r["station"].code))


# --- Operator overview: province → county → station -------------------------------------------------


@dataclass
class Figures:
    """One row of the overview (a county at province level, a station at county level)."""

    key: int
    label: str
    pledges: int = 0
    pledged_quantity: int = 0
    orders: int = 0
    collected: dict[str, Decimal] = field(default_factory=dict)
    cash_in_drawer: Decimal = ZERO
    credit_outstanding: Decimal = ZERO
    deliveries_due: int = 0

    @property
    def collected_total(self) -> Decimal:
        return sum(self.collected.values(), ZERO)


def _group(level: str) -> str:
    return "station__county_id" if level == "province" else "station_id"


def overview(user: Any, county_id: int | None = None) -> dict[str, Any]:
    """Figures per county (``county_id`` None) or per station of one county, plus totals and the
    open campaigns (a queryset, soonest cut-off first: the page pages it and reads the progress
    of the campaigns it shows). Scoped to the stations the user may read: a county with none of
    them raises ``County.DoesNotExist``."""
    stations = permissions.stations_for(user)
    county = None
    if county_id is not None:
        county = County.objects.filter(pk=county_id, stations__in=stations).distinct().first()
        if county is None:
            raise County.DoesNotExist(county_id)
        stations = stations.filter(county=county)
    level = "county" if county else "province"
    station_ids = stations.values("pk")
    by = _group(level)

    if level == "province":
        units = {
            c.pk: Figures(c.pk, f"{c.city}{c.name}")
            for c in County.objects.filter(stations__in=station_ids).distinct().order_by("code")
        }
        county_of = dict(Station.objects.filter(pk__in=station_ids).values_list("pk", "county_id"))
    else:
        units = {s.pk: Figures(s.pk, s.name) for s in stations.order_by("code")}
        county_of = {pk: pk for pk in units}

    live = (PledgeStatus.ACTIVE, PledgeStatus.CONFIRMED)
    for key, n, qty in (
        Pledge.objects.filter(station_id__in=station_ids, status__in=live)
        .values_list(by)
        .annotate(n=Count("pk"), q=Sum("quantity"))
        .values_list(by, "n", "q")
    ):
        if key in units:
            units[key].pledges, units[key].pledged_quantity = n, qty or 0
    Order = get_model("order", "Order")
    for key, n in (
        Order.objects.filter(station_id__in=station_ids)
        .values_list(by)
        .annotate(n=Count("pk"))
        .values_list(by, "n")
    ):
        if key in units:
            units[key].orders = n
    money_in = Payment.objects.filter(
        station_id__in=station_ids, status__in=(PaymentStatus.AUTHORISED, PaymentStatus.CAPTURED)
    )
    for key, method, authorised, captured, refunded, status in (
        money_in.values_list(by, "method", "status")
        .annotate(a=Sum("amount_authorised"), c=Sum("amount_captured"), r=Sum("amount_refunded"))
        .values_list(by, "method", "a", "c", "r", "status")
    ):
        if key not in units:
            continue
        held = captured if status == PaymentStatus.CAPTURED else authorised
        amount = payments.money((held or ZERO) - (refunded or ZERO))
        units[key].collected[method] = units[key].collected.get(method, ZERO) + amount
    for sid, value in payments.account_balances("station:", ":cash").items():
        key = county_of.get(sid)
        if key in units:
            units[key].cash_in_drawer += value
    receivable = (
        LedgerEntry.objects.filter(station_id__in=station_ids)
        .filter(Q(debit_account__endswith=":receivable") | Q(credit_account__endswith=":receivable"))
        .values_list(by)
        .annotate(
            d=Sum("amount", filter=Q(debit_account__endswith=":receivable")),
            c=Sum("amount", filter=Q(credit_account__endswith=":receivable")),
        )
        .values_list(by, "d", "c")
    )
    for key, debit, credit in receivable:
        if key in units:
            units[key].credit_outstanding = payments.money((debit or ZERO) - (credit or ZERO))
    for key, n in (
        StationDelivery.objects.filter(station_id__in=station_ids)
        .exclude(status=DeliveryStatus.RECEIVED)
        .values_list(by)
        .annotate(n=Count("pk"))
        .values_list(by, "n")
    ):
        if key in units:
            units[key].deliveries_due = n

    rows = list(units.values())
    totals = Figures(0, "")
    for r in rows:
        totals.pledges += r.pledges
        totals.pledged_quantity += r.pledged_quantity
        totals.orders += r.orders
        totals.cash_in_drawer += r.cash_in_drawer
        totals.credit_outstanding += r.credit_outstanding
        totals.deliveries_due += r.deliveries_due
        for method, amount in r.collected.items():
            totals.collected[method] = totals.collected.get(method, ZERO) + amount
    open_campaigns = (
        access.eligible_for_stations(
            Campaign.objects.filter(status=CampaignStatus.OPEN, cutoff_at__gt=timezone.now()),
            stations.values_list("pk", flat=True),
        )
        .prefetch_related("items__product", "items__tiers")
        .select_related("partner")
        .order_by("cutoff_at", "pk")
    )
    return {
        "level": level,
        "county": county,
        "rows": rows,
        "totals": totals,
        "methods": list(PaymentMethod.choices),
        "campaigns": open_campaigns,
    }

"""Who sees which campaigns, pledges, pickups and purchase orders — built on marketplace.core.permissions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy

from marketplace.accounts.models import Role
from marketplace.core import permissions

from .models import Campaign, CampaignStatus, Pickup, Pledge, PurchaseOrder, StationDelivery

#: The season overview (province → county → station): operators, county staff and agronomists
#: (each sees the stations they may read).
VIEW_OVERVIEW = permissions.register(
    permissions.Permission(
        "group_buy_overview",
        lambda user: permissions.has_role(user, Role.COUNTY_STAFF, Role.AGRONOMIST),
        gettext_lazy("无权查看总览"),
    )
)

PUBLIC_STATUSES = (
    CampaignStatus.OPEN,
    CampaignStatus.CLOSING,
    CampaignStatus.SUCCEEDED,
    CampaignStatus.FAILED,
)


def eligible_for_stations(qs: QuerySet[Campaign], station_ids: Any) -> QuerySet[Campaign]:
    """Campaigns open to any of the stations: no restriction, or listed station, or listed county."""
    StationLink = Campaign.stations.through
    CountyLink = Campaign.counties.through
    from marketplace.stations.models import Station

    has_station_rules = Exists(StationLink.objects.filter(campaign_id=OuterRef("pk")))
    has_county_rules = Exists(CountyLink.objects.filter(campaign_id=OuterRef("pk")))
    station_ok = Exists(StationLink.objects.filter(campaign_id=OuterRef("pk"), station_id__in=station_ids))
    county_ok = Exists(
        CountyLink.objects.filter(
            campaign_id=OuterRef("pk"),
            county_id__in=Station.objects.filter(pk__in=station_ids).values("county_id"),
        )
    )
    return qs.filter((~has_station_rules & ~has_county_rules) | station_ok | county_ok)


def open_to_stations(campaign: Campaign, station_ids: Iterable[int]) -> bool:
    """:func:`eligible_for_stations` for one loaded campaign: the same rule (no restriction, a
    listed station, or a station in a listed county), decided from the campaign's own rule lists
    (two plain reads, once per campaign object) instead of compiling the correlated query for every
    pledge; the county lookup runs only when the campaign lists counties. Asked once per set of
    stations and campaign object (a pledge asks "visible to the user's stations?" and "open to the
    household's station?", the same question when staff work for one station)."""
    ids = frozenset(station_ids)
    memo: dict[frozenset[int], bool] = campaign.__dict__.setdefault("_open_to_stations", {})
    if ids not in memo:
        memo[ids] = bool(ids) and _open_by_rules(campaign, ids)
    return memo[ids]


def _open_by_rules(campaign: Campaign, ids: frozenset[int]) -> bool:
    from marketplace.stations.models import Station

    rules: tuple[frozenset[int], frozenset[int]] | None = campaign.__dict__.get("_opening_rules")
    if rules is None:
        rules = (
            frozenset(
                Campaign.stations.through.objects.filter(campaign_id=campaign.pk).values_list(
                    "station_id", flat=True
                )
            ),
            frozenset(
                Campaign.counties.through.objects.filter(campaign_id=campaign.pk).values_list(
                    "county_id", flat=True
                )
            ),
        )
        campaign.__dict__["_opening_rules"] = rules
    stations, counties = rules
    if not stations and not counties:
        return True
    if ids & stations:
        return True
    return bool(counties) and Station.objects.filter(pk__in=ids, county_id__in=counties).exists()


def can_see_campaign(user: Any, campaign: Campaign) -> bool:
    """``campaign in campaigns_for(user)`` for a loaded campaign (station staff: without a query of
    its own when the pledge asks the same eligibility question later)."""
    if permissions.is_operator(user):
        return True
    if permissions.is_authenticated(user) and user.role == Role.STATION_STAFF:
        return campaign.status in PUBLIC_STATUSES and open_to_stations(
            campaign, permissions.managed_station_ids(user)
        )
    return campaigns_for(user).filter(pk=campaign.pk).exists()


def campaigns_for(user: Any) -> QuerySet[Campaign]:
    qs = Campaign.objects.all()
    if permissions.is_operator(user):
        return qs
    if not permissions.is_authenticated(user):
        return qs.none()
    if user.role in (Role.SUPPLIER, Role.COOPERATIVE):
        return qs.filter(partner__in=permissions.partners_for(user))
    stations = permissions.stations_for(user).values("pk")
    return eligible_for_stations(qs.filter(status__in=PUBLIC_STATUSES), stations)


def managed_campaigns(user: Any) -> QuerySet[Campaign]:
    """Campaigns the user may edit: their supplier's own, or all for operators."""
    if permissions.is_operator(user):
        return Campaign.objects.all()
    return Campaign.objects.filter(partner__in=permissions.partners_for(user))


def pledges_for(user: Any) -> QuerySet[Pledge]:
    qs = Pledge.objects.all()
    if permissions.is_operator(user):
        return qs
    if not permissions.is_authenticated(user):
        return qs.none()
    if user.role in (Role.SUPPLIER, Role.COOPERATIVE):
        return qs.none()  # suppliers see totals and purchase orders, not farmers' pledges
    return qs.filter(household__in=permissions.households_for(user))


def pickups_for(user: Any) -> QuerySet[Pickup]:
    qs = Pickup.objects.all()
    if permissions.is_operator(user):
        return qs
    if not permissions.is_authenticated(user):
        return qs.none()
    if user.role == Role.FARMER:
        return qs.filter(household__user=user)
    return qs.filter(station__in=permissions.managed_stations(user))


def managed_pickups(user: Any) -> QuerySet[Pickup]:
    """Pickups the user may hand out: staff of the station (or operators)."""
    return Pickup.objects.filter(station__in=permissions.managed_stations(user))


def purchase_orders_for(user: Any) -> QuerySet[PurchaseOrder]:
    if permissions.is_operator(user):
        return PurchaseOrder.objects.all()
    return PurchaseOrder.objects.filter(partner__in=permissions.partners_for(user))


def deliveries_for(user: Any) -> QuerySet[StationDelivery]:
    if permissions.is_operator(user):
        return StationDelivery.objects.all()
    if not permissions.is_authenticated(user):
        return StationDelivery.objects.none()
    return StationDelivery.objects.filter(
        Q(station__in=permissions.managed_stations(user))
        | Q(purchase_order__partner__in=permissions.partners_for(user))
    )

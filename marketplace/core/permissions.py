"""Who may see and change what. The one place: dashboard, GraphQL and storefront all call these.

Rules:
- Operators see everything.
- Station staff see and act for their own stations' households and orders only.
- Agronomists and county staff read stations and households of the counties they are assigned to.
- A farmer with a login sees their own household and its orders.
- Suppliers and cooperatives see only their own partner(s), products, stock and orders.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from marketplace.accounts.models import Role
from marketplace.stations.models import Household, Station


def _authenticated(user: Any) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_operator(user: Any) -> bool:
    return _authenticated(user) and (user.is_superuser or user.role == Role.OPERATOR)


def has_role(user: Any, *roles: str) -> bool:
    return is_operator(user) or (_authenticated(user) and user.role in roles)


# --- Stations and households ----------------------------------------------------------------


def scope_by_station(qs: QuerySet, user: Any, to_station: str = "", farmer: str | None = None) -> QuerySet:
    """Restrict ``qs`` to rows the user may read, by the station each row belongs to.

    ``to_station`` is the lookup from the model to its Station ("" for Station itself,
    "station" for Household and Order); ``farmer`` is the lookup from the model to a farmer's
    user (None: farmers see nothing). Operators see everything; station staff their stations;
    agronomists and county staff the stations of their counties.
    """
    prefix = f"{to_station}__" if to_station else ""
    if is_operator(user):
        return qs
    if not _authenticated(user):
        return qs.none()
    if user.role == Role.STATION_STAFF:
        return qs.filter(**{f"{prefix}memberships__user": user})
    if user.role in (Role.AGRONOMIST, Role.COUNTY_STAFF):
        return qs.filter(**{f"{prefix}county__assignments__user": user})
    if user.role == Role.FARMER and farmer:
        return qs.filter(**{farmer: user})
    return qs.none()


def stations_for(user: Any) -> QuerySet[Station]:
    """Stations the user may read."""
    return scope_by_station(Station.objects.all(), user, farmer="households__user")


def managed_stations(user: Any) -> QuerySet[Station]:
    """Stations the user may act for (order, take payment, register farmers)."""
    if is_operator(user):
        return Station.objects.all()
    if _authenticated(user) and user.role == Role.STATION_STAFF:
        return Station.objects.filter(memberships__user=user)
    return Station.objects.none()


def can_manage_station(user: Any, station: Station | int) -> bool:
    station_id = station if isinstance(station, int) else station.pk
    return managed_stations(user).filter(pk=station_id).exists()


def households_for(user: Any) -> QuerySet[Household]:
    """Households the user may read."""
    return scope_by_station(Household.objects.all(), user, "station", farmer="user")


def managed_households(user: Any) -> QuerySet[Household]:
    """Households the user may act for."""
    if is_operator(user):
        return Household.objects.all()
    if _authenticated(user) and user.role == Role.STATION_STAFF:
        return Household.objects.filter(station__memberships__user=user)
    if _authenticated(user) and user.role == Role.FARMER:
        return Household.objects.filter(user=user)
    return Household.objects.none()


def can_manage_household(user: Any, household: Household) -> bool:
    return managed_households(user).filter(pk=household.pk).exists()


def require(condition: bool, message: str | None = None) -> None:
    if not condition:
        raise PermissionDenied(message or gettext("无权访问"))


# --- Partners, products, orders ---------------------------------------------------------------


def partners_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    Partner = get_model("partner", "Partner")
    if is_operator(user):
        return Partner.objects.all()
    if _authenticated(user) and user.role in (Role.SUPPLIER, Role.COOPERATIVE):
        return Partner.objects.filter(users=user)
    return Partner.objects.none()


def can_manage_partner(user: Any, partner: Any) -> bool:
    return partners_for(user).filter(pk=partner.pk).exists()


def stockrecords_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    StockRecord = get_model("partner", "StockRecord")
    if is_operator(user):
        return StockRecord.objects.all()
    return StockRecord.objects.filter(partner__in=partners_for(user))


def orders_for(user: Any) -> QuerySet:
    """Orders the user may read."""
    from oscar.core.loading import get_model

    Order = get_model("order", "Order")
    Line = get_model("order", "Line")
    qs = Order.objects.all()
    if _authenticated(user) and not is_operator(user):
        if user.role in (Role.SUPPLIER, Role.COOPERATIVE):
            return qs.filter(pk__in=Line.objects.filter(partner__users=user).values("order_id"))
        if user.role == Role.FARMER:
            return qs.filter(Q(household__user=user) | Q(user=user))
        if user.role == Role.CITY_BUYER:
            return qs.filter(user=user)
    return scope_by_station(qs, user, "station")


# --- Catalogue: products, warehouses, licences (supplier tenancy) ---------------------------------


def products_for(user: Any) -> QuerySet:
    """Products a supplier may manage: the ones it owns or has stock records for. Operators: all."""
    from oscar.core.loading import get_model

    Product = get_model("catalogue", "Product")
    if is_operator(user):
        return Product.objects.all()
    partners = partners_for(user)
    StockRecord = get_model("partner", "StockRecord")
    stocked = StockRecord.objects.filter(partner__in=partners).values("product_id")
    return Product.objects.filter(Q(owner__in=partners) | Q(pk__in=stocked))


def can_manage_product(user: Any, product: Any) -> bool:
    """Edit a product's title, description and attributes: its owner supplier or an operator."""
    if is_operator(user):
        return True
    return product.owner_id is not None and partners_for(user).filter(pk=product.owner_id).exists()


def warehouses_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    Warehouse = get_model("partner", "Warehouse")
    if is_operator(user):
        return Warehouse.objects.all()
    return Warehouse.objects.filter(partner__in=partners_for(user))


def licences_for(user: Any) -> QuerySet:
    from oscar.core.loading import get_model

    PartnerLicence = get_model("partner", "PartnerLicence")
    if is_operator(user):
        return PartnerLicence.objects.all()
    return PartnerLicence.objects.filter(partner__in=partners_for(user))


def can_review_partners(user: Any) -> bool:
    """Approve, reject or suspend suppliers and cooperatives."""
    return is_operator(user)


# --- Household credit (赊销) ------------------------------------------------------------------


def can_approve_credit(user: Any, station: Station | int) -> bool:
    """Approve or change a household's credit limit: the station's manager (站长) or an operator."""
    station_id = station if isinstance(station, int) else station.pk
    if is_operator(user):
        return True
    return (
        _authenticated(user)
        and user.role == Role.STATION_STAFF
        and user.station_memberships.filter(station_id=station_id, is_manager=True).exists()
    )


def can_record_repayment(user: Any, station: Station | int) -> bool:
    """Take a household's credit repayment in cash: the station's staff or an operator."""
    return can_manage_station(user, station)


def credit_stations(user: Any) -> QuerySet[Station]:
    """Stations whose credit accounts (limits, balances, aged list) the user may read."""
    return managed_stations(user)

"""Who may dispatch (plan, lock, move, publish) and who may see which deliveries.

Built on marketplace.core.permissions only:

* operators are dispatchers for everything;
* supplier / cooperative users are dispatchers for their own partner's depots, vehicles and the
  plans made for that partner (``DeliveryPlan.partner``); they never see other partners' plans;
* station staff (and anyone who may read a station) see the *published* deliveries to the
  stations they may read, with the ETA — never drafts, costs of other stops or plan editing.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from marketplace.accounts.models import Role
from marketplace.core import permissions

from .models import DeliveryPlan, Depot, PlanStop, Vehicle

PARTNER_ROLES = (Role.SUPPLIER, Role.COOPERATIVE)


def is_dispatcher(user: Any) -> bool:
    if permissions.is_operator(user):
        return True
    return (
        permissions.is_authenticated(user)
        and user.role in PARTNER_ROLES
        and permissions.partners_for(user).exists()
    )


DISPATCH = permissions.register(
    permissions.Permission(
        "delivery_routing.dispatch", is_dispatcher, gettext_lazy("只有调度员可以操作配送计划")
    )
)


def dispatch_partners(user: Any) -> QuerySet:
    """Partners whose plans the user dispatches (operators: all)."""
    return permissions.partners_for(user)


def plans_for(user: Any) -> QuerySet[DeliveryPlan]:
    if permissions.is_operator(user):
        return DeliveryPlan.objects.all()
    if not is_dispatcher(user):
        return DeliveryPlan.objects.none()
    return DeliveryPlan.objects.filter(partner__in=permissions.partners_for(user))


def depots_for(user: Any) -> QuerySet[Depot]:
    if permissions.is_operator(user):
        return Depot.objects.all()
    if not is_dispatcher(user):
        return Depot.objects.none()
    return Depot.objects.filter(partner__in=permissions.partners_for(user))


def vehicles_for(user: Any) -> QuerySet[Vehicle]:
    return Vehicle.objects.filter(home_depot__in=depots_for(user))


def station_stops_for(user: Any) -> QuerySet[PlanStop]:
    """Published deliveries to the stations the user may read."""
    return PlanStop.objects.filter(
        plan__status=DeliveryPlan.Status.PUBLISHED, station__in=permissions.stations_for(user)
    )

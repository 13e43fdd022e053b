"""Who may see and change fields, soil tests, recommendations, parameter sets and county demand.

Built on :mod:`marketplace.core.permissions` (the one place for tenancy):

- read fields / soil tests / recommendations: whoever may read the household (station staff of its
  station, agronomists and county staff of its county, the farmer himself, operators);
- create / edit fields, ask for a recommendation, hand a plan to the basket: whoever may act for the
  household (its station's staff, the farmer himself, operators); agronomists of the county may also
  ask for recommendations;
- enter or import soil tests: station staff (own households), agronomists (assigned counties),
  operators;
- edit parameter sets: agronomists and operators;
- county demand per station: agronomists / county staff of that county and operators; suppliers see
  county totals per product of their own products only, never stations or households.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.stations.models import County

from .models import BagPlan, FarmField, Recommendation, SoilTest


def _county_user(user: Any) -> bool:
    return (
        permissions.is_authenticated(user)
        and not permissions.is_operator(user)
        and user.role in (Role.AGRONOMIST, Role.COUNTY_STAFF)
    )


def fields_for(user: Any) -> QuerySet[FarmField]:
    if permissions.is_operator(user):
        return FarmField.objects.all()
    return FarmField.objects.filter(household__in=permissions.households_for(user).values("pk"))


def managed_fields(user: Any) -> QuerySet[FarmField]:
    if permissions.is_operator(user):
        return FarmField.objects.all()
    return FarmField.objects.filter(household__in=permissions.managed_households(user).values("pk"))


def soil_writable_fields(user: Any) -> QuerySet[FarmField]:
    if permissions.is_operator(user):
        return FarmField.objects.all()
    if not permissions.is_authenticated(user):
        return FarmField.objects.none()
    if user.role == Role.STATION_STAFF:
        return managed_fields(user)
    if user.role == Role.AGRONOMIST:
        return FarmField.objects.filter(household__station__county__assignments__user=user)
    return FarmField.objects.none()


def recommendable_fields(user: Any) -> QuerySet[FarmField]:
    if permissions.is_operator(user):
        return FarmField.objects.all()
    if permissions.is_authenticated(user) and user.role == Role.AGRONOMIST:
        return FarmField.objects.filter(household__station__county__assignments__user=user)
    return managed_fields(user)


def soil_tests_for(user: Any) -> QuerySet[SoilTest]:
    return SoilTest.objects.filter(field__in=fields_for(user).values("pk"))


def recommendations_for(user: Any) -> QuerySet[Recommendation]:
    return Recommendation.objects.filter(field__in=fields_for(user).values("pk"))


def plans_for(user: Any) -> QuerySet[BagPlan]:
    return BagPlan.objects.filter(recommendation__field__in=fields_for(user).values("pk"))


def orderable_plans(user: Any) -> QuerySet[BagPlan]:
    return BagPlan.objects.filter(recommendation__field__in=managed_fields(user).values("pk"))


def can_edit_parameters(user: Any) -> bool:
    return permissions.has_role(user, Role.AGRONOMIST)


def can_read_parameters(user: Any) -> bool:
    return permissions.has_role(user, Role.AGRONOMIST, Role.COUNTY_STAFF, Role.STATION_STAFF)


def can_import(user: Any) -> bool:
    """Enter or import soil tests (page and ``soilTestImport`` alike): station staff for their own
    households' fields, agronomists for their counties', operators. Each row is then checked
    against :func:`soil_writable_fields`."""
    return permissions.has_role(user, Role.STATION_STAFF, Role.AGRONOMIST)


# Declared permissions (GraphQL ``Meta.permissions`` and ``permission_required`` pages).
ENTER_SOIL_TESTS = permissions.register(
    permissions.Permission("fertilizer.enter_soil_tests", can_import, gettext_lazy("无权录入或导入测土结果"))
)
EDIT_PARAMETERS = permissions.register(
    permissions.Permission(
        "fertilizer.edit_parameters", can_edit_parameters, gettext_lazy("只有农技人员可以修改施肥参数")
    )
)
READ_PARAMETERS = permissions.register(
    permissions.Permission("fertilizer.read_parameters", can_read_parameters, gettext_lazy("无权查看施肥参数"))
)
RECOMMEND = permissions.register(
    permissions.Permission(
        "fertilizer.recommend",
        lambda user: permissions.has_role(user, Role.AGRONOMIST, Role.STATION_STAFF, Role.FARMER),
        gettext_lazy("无权生成施肥建议"),
    )
)


def demand_counties(user: Any) -> QuerySet[County]:
    """Counties whose per-station demand the user may see."""
    if permissions.is_operator(user):
        return County.objects.all()
    if _county_user(user):
        return County.objects.filter(assignments__user=user)
    return County.objects.none()


def is_supplier(user: Any) -> bool:
    return (
        permissions.is_authenticated(user)
        and not permissions.is_operator(user)
        and user.role in (Role.SUPPLIER, Role.COOPERATIVE)
    )

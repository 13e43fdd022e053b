from __future__ import annotations

import graphene

from marketplace.core import permissions

from ..core.types import money


class CountyType(graphene.ObjectType):
    id = graphene.ID(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    city = graphene.String(required=True)

    class Meta:
        name = "County"


class StationType(graphene.ObjectType):
    id = graphene.ID(required=True)
    code = graphene.String(required=True)
    name = graphene.String(required=True)
    village = graphene.String(required=True)
    township = graphene.String(required=True)
    county = graphene.Field(CountyType, required=True)
    latitude = graphene.Float(required=True)
    longitude = graphene.Float(required=True)
    opening_hours = graphene.String(required=True)
    household_count = graphene.Int(required=True)

    class Meta:
        name = "Station"

    @staticmethod
    def resolve_village(station, info) -> str:
        return station.village.name

    @staticmethod
    def resolve_township(station, info) -> str:
        return station.village.township.name

    @staticmethod
    def resolve_household_count(station, info) -> int:
        annotated = getattr(station, "n_households", None)
        return annotated if annotated is not None else station.households.filter(is_active=True).count()


class HouseholdType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    phone = graphene.String(description="Masked (138****5678) unless the viewer manages the household.")
    village = graphene.String(required=True)
    station = graphene.Field(StationType, required=True)
    farm_area_mu = graphene.Decimal(required=True)
    credit_limit = graphene.Field("marketplace.graphql.core.types.Money")
    has_login = graphene.Boolean(required=True)

    class Meta:
        name = "Household"

    @staticmethod
    def resolve_phone(household, info) -> str:
        # Lists always show masked numbers; the full number only through `household(id)` to its staff.
        if getattr(info.context, "_full_phone_for", None) == household.pk:
            return household.phone
        return household.masked_phone

    @staticmethod
    def resolve_village(household, info) -> str:
        return household.village.name

    @staticmethod
    def resolve_credit_limit(household, info):
        return money(household.credit_limit)

    @staticmethod
    def resolve_has_login(household, info) -> bool:
        return household.user_id is not None


class HouseholdPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(HouseholdType), required=True)


class StationPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(StationType), required=True)


def can_see_full_phone(user, household) -> bool:
    return permissions.can_manage_household(user, household)

from __future__ import annotations

from typing import Any

import graphene

from marketplace.core import permissions
from marketplace.stations import services

from ..core.mutations import BaseMutation
from .types import HouseholdType


class HouseholdInput(graphene.InputObjectType):
    name = graphene.String()
    phone = graphene.String()
    id_number = graphene.String()
    village_id = graphene.ID()
    farm_area_mu = graphene.Decimal()
    notes = graphene.String()


class HouseholdCreate(BaseMutation):
    """Register a farmer household at a station (staff of that station, or an operator)."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        station_id = graphene.ID(required=True)
        input = HouseholdInput(required=True)

    household = graphene.Field(HouseholdType)

    @classmethod
    def perform(cls, info: Any, station_id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        station = permissions.managed_stations(user).get(pk=station_id)
        household = services.register_household(user, station, dict(input))
        info.context._full_phone_for = household.pk
        return {"household": household}


class HouseholdUpdate(BaseMutation):

    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        id = graphene.ID(required=True)
        input = HouseholdInput(required=True)

    household = graphene.Field(HouseholdType)

    @classmethod
    def perform(cls, info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        household = (
            permissions.managed_households(user).select_related("station__village__township").get(pk=id)
        )
        household = services.update_household(user, household, dict(input))
        info.context._full_phone_for = household.pk
        return {"household": household}


class HouseholdSetCreditLimit(BaseMutation):
    """Approve a household's credit (赊销) limit: station manager or operator."""

    class Meta:
        permissions = (permissions.APPROVE_CREDIT,)

    class Arguments:
        id = graphene.ID(required=True)
        credit_limit = graphene.Decimal(required=True)

    household = graphene.Field(HouseholdType)

    @classmethod
    def perform(cls, info: Any, id: str, credit_limit) -> dict[str, Any]:
        user = info.context.user
        household = permissions.managed_households(user).get(pk=id)
        return {"household": services.set_credit_limit(user, household, credit_limit)}

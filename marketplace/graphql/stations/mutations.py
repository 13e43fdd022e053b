from __future__ import annotations

from typing import Any

import graphene

from marketplace.core import permissions
from marketplace.payments import credit
from marketplace.stations import services

from ..core.mutations import BaseMutation
from ..scalars import MoneyAmount
from .types import CreditRepaymentType, HouseholdType


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
        credit_limit = MoneyAmount(required=True)

    household = graphene.Field(HouseholdType)

    @classmethod
    def perform(cls, info: Any, id: str, credit_limit) -> dict[str, Any]:
        user = info.context.user
        household = permissions.managed_households(user).get(pk=id)
        return {"household": credit.set_credit_limit(user, household, credit_limit)}


class HouseholdRecordRepayment(BaseMutation):
    """Record a household's credit (赊销) repayment taken in cash at its station (that station's staff
    or an operator). Idempotent: the same ``idempotencyKey`` returns the first repayment."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        id = graphene.ID(required=True)
        amount = MoneyAmount(required=True)
        idempotency_key = graphene.String(required=True)
        notes = graphene.String()

    repayment = graphene.Field(CreditRepaymentType)
    household = graphene.Field(HouseholdType)

    @classmethod
    def perform(cls, info: Any, id: str, amount, idempotency_key: str, notes: str = "") -> dict[str, Any]:
        user = info.context.user
        household = permissions.managed_households(user).get(pk=id)
        repayment, _created = credit.record_repayment(user, household, amount, idempotency_key, notes or "")
        return {"repayment": repayment, "household": household}

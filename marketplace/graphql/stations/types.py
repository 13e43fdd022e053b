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


class CreditRepaymentType(graphene.ObjectType):
    id = graphene.ID(required=True)
    receipt_no = graphene.String(required=True)
    amount = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    owed_after = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    created_at = graphene.DateTime(required=True)
    receipt_url = graphene.String(required=True, description="Printable receipt (PDF).")

    class Meta:
        name = "CreditRepayment"

    @staticmethod
    def resolve_amount(repayment, info):
        return money(repayment.amount)

    @staticmethod
    def resolve_owed_after(repayment, info):
        return money(repayment.owed_after)

    @staticmethod
    def resolve_receipt_url(repayment, info) -> str:
        from django.urls import reverse

        return reverse("storefront:credit-receipt", args=[repayment.pk])


class CreditAccountType(graphene.ObjectType):
    limit = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    reserved = graphene.Field(
        "marketplace.graphql.core.types.Money", required=True, description="Held for unsettled pledges."
    )
    owed = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    used = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    available = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    repayments = graphene.List(graphene.NonNull(CreditRepaymentType), required=True)

    class Meta:
        name = "CreditAccount"

    @staticmethod
    def resolve_limit(account, info):
        return money(account.limit)

    @staticmethod
    def resolve_reserved(account, info):
        return money(account.reserved)

    @staticmethod
    def resolve_owed(account, info):
        return money(account.owed)

    @staticmethod
    def resolve_used(account, info):
        return money(account.used)

    @staticmethod
    def resolve_available(account, info):
        return money(account.available)

    @staticmethod
    def resolve_repayments(account, info):
        return account.repayments


class HouseholdType(graphene.ObjectType):
    id = graphene.ID(required=True)
    name = graphene.String(required=True)
    phone = graphene.String(description="Masked (138****5678) unless the viewer manages the household.")
    village = graphene.String(required=True)
    station = graphene.Field(StationType, required=True)
    farm_area_mu = graphene.Decimal(required=True)
    credit_limit = graphene.Field("marketplace.graphql.core.types.Money")
    has_login = graphene.Boolean(required=True)
    credit = graphene.Field(
        CreditAccountType, description="Credit (赊销) account; null unless the viewer works at its station."
    )

    class Meta:
        name = "Household"

    @staticmethod
    def resolve_credit(household, info):
        from marketplace.payments import credit

        if not permissions.credit_stations(info.context.user).filter(pk=household.station_id).exists():
            return None
        return credit.credit_account(household, with_repayments=20)

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

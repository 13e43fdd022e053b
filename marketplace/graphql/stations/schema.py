from __future__ import annotations

import graphene
from django.db.models import Count, Q

from marketplace.core import permissions
from marketplace.stations.services import search_households

from ..core.types import page, page_args
from .mutations import HouseholdCreate, HouseholdRecordRepayment, HouseholdSetCreditLimit, HouseholdUpdate
from .types import HouseholdPage, HouseholdType, StationPage, StationType

STATION_RELATED = ("village__township", "county")


class StationQueries(graphene.ObjectType):
    stations = graphene.Field(StationPage, required=True, search=graphene.String(), **page_args())
    station = graphene.Field(StationType, id=graphene.ID(required=True))
    households = graphene.Field(
        HouseholdPage,
        required=True,
        station_id=graphene.ID(),
        search=graphene.String(description="Name, village, or the last digits of the phone number."),
        sort=graphene.String(description="name (default) | village | area | newest"),
        **page_args(),
    )
    household = graphene.Field(HouseholdType, id=graphene.ID(required=True))

    @staticmethod
    def resolve_stations(root, info, search=None, first=None, offset=None):
        qs = permissions.stations_for(info.context.user).select_related(*STATION_RELATED)
        if search:
            qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
        qs = qs.annotate(n_households=Count("households", filter=Q(households__is_active=True))).order_by(
            "code"
        )
        items, total = page(qs.distinct(), first, offset)
        return StationPage(items=items, total_count=total)

    @staticmethod
    def resolve_station(root, info, id):
        return (
            permissions.stations_for(info.context.user).select_related(*STATION_RELATED).filter(pk=id).first()
        )

    @staticmethod
    def resolve_households(root, info, station_id=None, search=None, sort=None, first=None, offset=None):
        qs = permissions.households_for(info.context.user).filter(is_active=True)
        if station_id:
            qs = qs.filter(station_id=station_id)
        qs = search_households(
            qs.select_related("village", "station__village__township", "station__county"),
            search or "",
            sort or "",
        )
        items, total = page(qs.distinct(), first, offset)
        return HouseholdPage(items=items, total_count=total)

    @staticmethod
    def resolve_household(root, info, id):
        user = info.context.user
        household = (
            permissions.households_for(user)
            .select_related("village", "station__village__township", "station__county")
            .filter(pk=id)
            .first()
        )
        if household is not None and permissions.can_manage_household(user, household):
            info.context._full_phone_for = household.pk
        return household


class StationMutations(graphene.ObjectType):
    household_create = HouseholdCreate.Field()
    household_update = HouseholdUpdate.Field()
    household_set_credit_limit = HouseholdSetCreditLimit.Field()
    household_record_repayment = HouseholdRecordRepayment.Field()

from __future__ import annotations

import graphene

from marketplace.core import permissions

from ..core.types import page, page_args
from .types import OrderPage, OrderType


def _scoped(user, station_id=None, household_id=None):
    qs = permissions.orders_for(user).select_related("station", "household").prefetch_related("lines")
    if station_id:
        qs = qs.filter(station_id=station_id)
    if household_id:
        qs = qs.filter(household_id=household_id)
    return qs


class OrderQueries(graphene.ObjectType):
    orders = graphene.Field(
        OrderPage, required=True, station_id=graphene.ID(), household_id=graphene.ID(), **page_args()
    )
    order = graphene.Field(OrderType, number=graphene.String(required=True))
    station_basket = graphene.Field(
        "marketplace.graphql.orders.mutations.StationBasketType",
        household_id=graphene.ID(required=True),
        description="The caller's (station staff) basket for one of its station's households.",
    )

    @staticmethod
    def resolve_orders(root, info, station_id=None, household_id=None, first=None, offset=None):
        qs = _scoped(info.context.user, station_id, household_id).order_by("-date_placed", "-pk")
        items, total = page(qs, first, offset)
        return OrderPage(items=items, total_count=total)

    @staticmethod
    def resolve_order(root, info, number):
        return _scoped(info.context.user).filter(number=number).first()

    @staticmethod
    def resolve_station_basket(root, info, household_id):
        from django.core.exceptions import ValidationError

        from marketplace.apps.order import direct

        from .mutations import basket_of

        user = info.context.user
        if not permissions.allowed(user, (permissions.STATION_STAFF,)):
            return None
        try:
            household = direct.acting_household(user, household_id)
        except ValidationError:
            return None
        return basket_of(user, household)

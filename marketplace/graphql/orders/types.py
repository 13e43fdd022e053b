from __future__ import annotations

import graphene

from marketplace.core import permissions

from ..core.types import Money, money


class OrderLineType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    sku = graphene.String()
    quantity = graphene.Int(required=True)
    partner_name = graphene.String(required=True)
    total = graphene.Field(Money, required=True)
    status = graphene.String(required=True)

    class Meta:
        name = "OrderLine"

    @staticmethod
    def resolve_sku(line, info):
        return line.partner_sku

    @staticmethod
    def resolve_total(line, info):
        return money(line.line_price_incl_tax)


class OrderType(graphene.ObjectType):
    id = graphene.ID(required=True)
    number = graphene.String(required=True)
    status = graphene.String(required=True)
    placed_at = graphene.DateTime(required=True)
    total = graphene.Field(Money, required=True)
    station_name = graphene.String()
    household_name = graphene.String()
    lines = graphene.List(graphene.NonNull(OrderLineType), required=True)

    class Meta:
        name = "Order"

    @staticmethod
    def resolve_placed_at(order, info):
        return order.date_placed

    @staticmethod
    def resolve_total(order, info):
        return money(order.total_incl_tax)

    @staticmethod
    def resolve_station_name(order, info):
        if not order.station_id or not permissions.can_see_order_buyers(info.context.user):
            return None
        return order.station.name

    @staticmethod
    def resolve_household_name(order, info):
        if not order.household_id or not permissions.can_see_order_buyers(info.context.user):
            return None
        return order.household.name

    @staticmethod
    def resolve_lines(order, info):
        return list(order.lines.all())


class OrderPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(OrderType), required=True)

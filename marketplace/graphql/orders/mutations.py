"""Station direct orders over GraphQL: the household basket, checkout, and the order's next steps
(supplier ships, station receives and hands out). The same services as the storefront pages
(:mod:`marketplace.apps.order.direct`); tenancy is checked there and in the querysets used here."""

from __future__ import annotations

from typing import Any

import graphene

from marketplace.apps.order import direct
from marketplace.core import permissions

from ..core.mutations import BaseMutation
from ..core.types import Money, money
from ..scalars import MoneyAmount
from .types import OrderType


class StationBasketLineType(graphene.ObjectType):
    id = graphene.ID(required=True)
    product_id = graphene.ID(required=True)
    stock_record_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    partner_id = graphene.ID(required=True)
    partner_name = graphene.String(required=True)
    quantity = graphene.Int(required=True)
    unit_price = graphene.Field(Money, required=True)
    total = graphene.Field(Money, required=True)

    class Meta:
        name = "StationBasketLine"

    @staticmethod
    def resolve_title(line: Any, info: Any) -> str:
        return line.product.get_title()

    @staticmethod
    def resolve_stock_record_id(line: Any, info: Any) -> int:
        return line.stockrecord_id

    @staticmethod
    def resolve_partner_id(line: Any, info: Any) -> int:
        return line.stockrecord.partner_id

    @staticmethod
    def resolve_partner_name(line: Any, info: Any) -> str:
        return line.stockrecord.partner.name

    @staticmethod
    def resolve_unit_price(line: Any, info: Any) -> Any:
        return money(line.price_incl_tax)

    @staticmethod
    def resolve_total(line: Any, info: Any) -> Any:
        return money(line.line_price_incl_tax)


class StationBasketType(graphene.ObjectType):
    """What station staff have put in one household's basket (not yet ordered)."""

    household_id = graphene.ID(required=True)
    household_name = graphene.String(required=True)
    lines = graphene.List(graphene.NonNull(StationBasketLineType), required=True)
    total = graphene.Field(Money, required=True)

    class Meta:
        name = "StationBasket"


def basket_of(user: Any, household: Any) -> StationBasketType:
    view = direct.basket_view(user, household)
    return StationBasketType(
        household_id=household.pk, household_name=household.name, lines=view.lines, total=money(view.total)
    )


class StationBasketAdd(BaseMutation):
    """Put sellable stock into a household's basket (station staff of its station). Refused: another
    station's household (NOT_FOUND), not sellable (INVALID_STATE), restricted pesticide without the
    station's licence (LICENCE_REQUIRED), more than the stock (OUT_OF_STOCK)."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        household_id = graphene.ID(required=True)
        product_id = graphene.ID(required=True)
        quantity = graphene.Int(required=True)
        stock_record_id = graphene.ID(description="A given supplier's stock; default: the cheapest in stock.")

    basket = graphene.Field(StationBasketType)

    @classmethod
    def perform(
        cls, info: Any, household_id: str, product_id: str, quantity: int, stock_record_id: str | None = None
    ) -> dict[str, Any]:
        user = info.context.user
        household = direct.acting_household(user, household_id)
        direct.add_to_basket(user, household, product_id, quantity, stock_record_id)
        return {"basket": basket_of(user, household)}


class StationBasketRemove(BaseMutation):
    """Remove a line from a household's basket, or lower its quantity."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        household_id = graphene.ID(required=True)
        line_id = graphene.ID(required=True)
        quantity = graphene.Int(description="Keep this many; omitted or 0: remove the line.")

    basket = graphene.Field(StationBasketType)

    @classmethod
    def perform(
        cls, info: Any, household_id: str, line_id: str, quantity: int | None = None
    ) -> dict[str, Any]:
        user = info.context.user
        household = direct.acting_household(user, household_id)
        direct.remove_line(user, household, line_id, quantity)
        return {"basket": basket_of(user, household)}


class StationCheckout(BaseMutation):
    """Order a household's basket (one supplier's lines) and book the payment: ``cash`` collected now
    by the staff member, or ``credit`` within the household's limit (LIMIT_EXCEEDED above it).
    Idempotent on ``checkoutKey``. OUT_OF_STOCK when the stock went meanwhile; nothing is written."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        household_id = graphene.ID(required=True)
        payment_method = graphene.String(required=True, description='"cash" or "credit"')
        checkout_key = graphene.String(required=True)
        partner_id = graphene.ID(description="Required when the basket holds several suppliers' stock.")
        expected_total = MoneyAmount(
            description="The total the household agreed to; refused if prices changed."
        )

    order = graphene.Field(OrderType)
    pickup_code = graphene.String(description="Tell the household; it collects the goods with it.")

    @classmethod
    def perform(
        cls,
        info: Any,
        household_id: str,
        payment_method: str,
        checkout_key: str,
        partner_id: str | None = None,
        expected_total: Any = None,
    ) -> dict[str, Any]:
        user = info.context.user
        household = direct.acting_household(user, household_id)
        order = direct.checkout(user, household, payment_method, checkout_key, partner_id, expected_total)
        return {"order": order, "pickup_code": order.direct.pickup_code}


def _order(user: Any, number: str) -> Any:
    return permissions.orders_for(user).get(number=number)


class OrderMarkShipped(BaseMutation):
    """The supplier ships a station direct order (its own stock only)."""

    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        number = graphene.String(required=True)

    order = graphene.Field(OrderType)

    @classmethod
    def perform(cls, info: Any, number: str) -> dict[str, Any]:
        user = info.context.user
        return {"order": direct.mark_shipped(user, _order(user, number))}


class OrderReceive(BaseMutation):
    """The station received a direct order's goods (the household gets its pickup code by SMS)."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        number = graphene.String(required=True)

    order = graphene.Field(OrderType)

    @classmethod
    def perform(cls, info: Any, number: str) -> dict[str, Any]:
        user = info.context.user
        return {"order": direct.receive(user, _order(user, number))}


class OrderHandOut(BaseMutation):
    """Hand a direct order to the household against its pickup code."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        number = graphene.String(required=True)
        pickup_code = graphene.String(required=True)

    order = graphene.Field(OrderType)

    @classmethod
    def perform(cls, info: Any, number: str, pickup_code: str) -> dict[str, Any]:
        user = info.context.user
        return {"order": direct.hand_out(user, _order(user, number), pickup_code)}


class OrderMutations(graphene.ObjectType):
    station_basket_add = StationBasketAdd.Field()
    station_basket_remove = StationBasketRemove.Field()
    station_checkout = StationCheckout.Field()
    order_mark_shipped = OrderMarkShipped.Field()
    order_receive = OrderReceive.Field()
    order_hand_out = OrderHandOut.Field()

"""A station's direct order: station staff order stock a supplier has on hand (outside a group buy)
for one farmer household, pay it at the station and hand it out against a pickup code.

Everything is Oscar's: the basket is an Oscar ``Basket`` (owner = the staff member, one per household,
linked by :class:`~.models.StationBasket`), prices and "may this be sold to this buyer" come from the
Oscar strategy (:mod:`marketplace.apps.partner.strategy`, plus the station's licence for restricted
pesticides), the order is placed by Oscar's ``OrderCreator`` (``order_placed`` fires once), stock is
Oscar's ``StockRecord.allocate`` under a row lock, and statuses move through
:func:`marketplace.apps.order.services.change_status`. Money is booked through the core payments
(:mod:`marketplace.payments.services`: cash collected now, or household credit within its limit).

Pages (``storefront/station_order_views.py``), GraphQL (``marketplace/graphql/orders/mutations.py``)
and the fertilizer plan hand-over (:func:`add_stock_lines`, the core fallback of
``extensions.accept_plan_lines``) all call these functions. See ``docs/station-orders.md``.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from oscar.core.loading import get_class, get_model

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.core.money import cny, format_cny
from marketplace.stations.models import Household

from . import statuses
from .models import DirectOrder, StationBasket
from .services import change_status

if TYPE_CHECKING:
    from marketplace.core.extensions import AcceptedLine, PlanLine

logger = logging.getLogger("marketplace.orders")

Basket = get_model("basket", "Basket")
Line = get_model("basket", "Line")
Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")
Product = get_model("catalogue", "Product")
SourceType = get_model("payment", "SourceType")
Source = get_model("payment", "Source")
OrderCreator = get_class("order.utils", "OrderCreator")
OrderNumberGenerator = get_class("order.utils", "OrderNumberGenerator")
Selector = get_class("partner.strategy", "Selector")
Free = get_class("shipping.methods", "Free")

#: Payment methods a direct order can be paid with, and their labels.
CASH = "cash"
CREDIT = "credit"
METHODS = (CASH, CREDIT)
#: Order lines of one checkout come from one supplier (it ships them to the station together).
MAX_QUANTITY = 100000


def _error(field: str | None, message: str, code: str = "invalid") -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


def method_labels() -> list[tuple[str, str]]:
    return [(CASH, gettext("现金：信息员现在收取")), (CREDIT, gettext("赊销：计入农户赊销额度"))]


# --- Who may act ------------------------------------------------------------------------------------


def acting_household(actor: Any, household_id: Any) -> Household:
    """The household ``actor`` may order for: station staff of its station (or an operator). Another
    station's household is refused as if it did not exist."""
    if not permissions.has_role(actor, Role.STATION_STAFF):
        raise PermissionDenied(gettext("只有站点信息员可以为农户下单"))
    try:
        pk = int(household_id)
    except (TypeError, ValueError):
        raise _error("household", gettext("请选择农户"), "required") from None
    household = (
        permissions.managed_households(actor).filter(pk=pk, is_active=True).select_related("station").first()
    )
    if household is None:
        raise _error("household", gettext("只能为本站点的农户下单"), "not_found")
    return household


def strategy_for(actor: Any) -> Any:
    return Selector().strategy(user=actor)


# --- The basket ------------------------------------------------------------------------------------


def open_basket(actor: Any, household: Household, create: bool = True) -> Any:
    """The staff member's open basket for this household (created when missing and ``create``)."""
    link = (
        StationBasket.objects.filter(staff=actor, household=household, is_open=True)
        .select_related("basket")
        .first()
    )
    if link is None:
        if not create:
            return None
        with transaction.atomic():
            Household.objects.select_for_update().filter(pk=household.pk).first()  # one creator at a time
            link = StationBasket.objects.filter(staff=actor, household=household, is_open=True).first()
            if link is None:
                basket = Basket.objects.create(owner=actor, status=Basket.SAVED)
                link = StationBasket.objects.create(basket=basket, household=household, staff=actor)
    basket = link.basket
    basket.strategy = strategy_for(actor)
    return basket


def open_baskets(actor: Any) -> list[StationBasket]:
    """The actor's open household baskets that hold something (newest first)."""
    return list(
        StationBasket.objects.filter(staff=actor, is_open=True, basket__lines__isnull=False)
        .select_related("household", "basket")
        .distinct()
        .order_by("-basket__date_created")
    )


def _check_sellable(actor: Any, household: Household, record: Any, quantity: int, in_basket: int = 0) -> None:
    """The one decision for a line: the Oscar strategy (stock rule, buyer rule, stock required) and
    the household's station licence for restricted pesticides. Raises a ValidationError naming the
    product."""
    from marketplace.apps.catalogue.services import can_user_buy
    from marketplace.apps.partner.strategy import is_sellable

    product = record.product
    if not is_sellable(record):
        raise _error(
            "product", gettext("%(title)s 暂不可售") % {"title": product.get_title()}, "invalid_state"
        )
    info = strategy_for(actor).fetch_for_product(product, stockrecord=record)
    if product.restricted_use:
        allowed, reason = can_user_buy(actor, product, station=household.station)
        if not allowed:
            raise _error("product", reason, "licence_required")
    left = max(record.net_stock_level or 0, 0)
    if quantity + in_basket > left:
        raise _error(
            "quantity",
            gettext("%(title)s 库存不足：可售 %(left)d，购物篮已有 %(held)d")
            % {"title": product.get_title(), "left": left, "held": in_basket},
            "out_of_stock",
        )
    if not info.availability.is_available_to_buy or not info.price.exists:
        reason = str(info.availability.message or gettext("暂不可售"))
        raise _error("product", f"{product.get_title()}: {reason}", "invalid_state")


def _record(product_id: Any, stockrecord_id: Any = None, actor: Any = None) -> Any:
    """The stock record to sell: the one named (e.g. the one a plan was priced on), else the one the
    strategy picks (cheapest sellable with stock)."""
    qs = StockRecord.objects.select_related("partner", "product__product_class")
    if stockrecord_id:
        try:
            record = qs.filter(pk=int(stockrecord_id)).first()
        except (TypeError, ValueError):
            record = None
        if record is None or (product_id and str(record.product_id) != str(product_id)):
            raise _error("product", gettext("商品不存在或暂不可售"), "not_found")
        return record
    try:
        product = Product.objects.prefetch_related("stockrecords__partner").get(
            pk=int(product_id), is_public=True
        )
    except (TypeError, ValueError, Product.DoesNotExist):
        raise _error("product", gettext("商品不存在或暂不可售"), "not_found") from None
    chosen = strategy_for(actor).select_stockrecord(product)
    if chosen is None:
        raise _error(
            "product", gettext("%(title)s 暂不可售") % {"title": product.get_title()}, "invalid_state"
        )
    return qs.get(pk=chosen.pk)


def add_to_basket(
    actor: Any, household: Household, product_id: Any, quantity: Any, stockrecord_id: Any = None
) -> Any:
    """Put ``quantity`` of a product (or of one stock record) into the household's basket. Refused
    unless the strategy sells it to this buyer and the stock covers what the basket then holds."""
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise _error("quantity", gettext("请输入数量"), "required") from None
    if quantity <= 0 or quantity > MAX_QUANTITY:
        raise _error("quantity", gettext("数量须为正整数"))
    record = _record(product_id, stockrecord_id, actor)
    with transaction.atomic():
        basket = open_basket(actor, household)
        basket = Basket.objects.select_for_update().get(pk=basket.pk)
        basket.strategy = strategy_for(actor)
        held = sum(basket.lines.filter(stockrecord=record).values_list("quantity", flat=True))
        _check_sellable(actor, household, record, quantity, held)
        info = basket.strategy.fetch_for_product(record.product, stockrecord=record)
        line, created = basket.lines.get_or_create(
            line_reference=f"{record.product_id}_{record.pk}",
            defaults={
                "product": record.product,
                "stockrecord": record,
                "quantity": quantity,
                "price_currency": info.price.currency or "CNY",
                "price_excl_tax": info.price.excl_tax,
                "price_incl_tax": info.price.incl_tax,
            },
        )
        if not created:
            line.quantity += quantity
            line.price_excl_tax, line.price_incl_tax = info.price.excl_tax, info.price.incl_tax
            line.save(update_fields=["quantity", "price_excl_tax", "price_incl_tax", "date_updated"])
    return line


def remove_line(actor: Any, household: Household, line_id: Any, quantity: Any = None) -> None:
    """Take a line out of the household's basket (or lower its quantity to ``quantity``)."""
    basket = open_basket(actor, household, create=False)
    line = basket.lines.filter(pk=line_id).first() if basket is not None and str(line_id).isdigit() else None
    if line is None:
        raise _error("line", gettext("购物篮中没有该商品"), "not_found")
    if quantity in (None, ""):
        line.delete()
        return
    try:
        quantity = int(quantity)
    except (TypeError, ValueError):
        raise _error("quantity", gettext("请输入数量"), "required") from None
    if quantity <= 0:
        line.delete()
        return
    if quantity > line.quantity:
        raise _error("quantity", gettext("只能减少数量；增加请再次加入购物篮"))
    line.quantity = quantity
    line.save(update_fields=["quantity", "date_updated"])


@dataclass
class BasketView:
    basket: Any
    household: Household
    lines: list[Any]
    suppliers: list[Any]  # partners in the basket, in line order
    total: Decimal


def basket_view(actor: Any, household: Household) -> BasketView:
    basket = open_basket(actor, household, create=False)
    if basket is None:
        return BasketView(None, household, [], [], Decimal("0.00"))
    lines = list(basket.all_lines())
    for line in lines:  # show today's price (the checkout charges it and refuses a stale total)
        if line.stockrecord is None:
            continue
        price = basket.strategy.fetch_for_product(line.product, stockrecord=line.stockrecord).price
        if price.exists and line.price_incl_tax != price.incl_tax:
            line.price_excl_tax, line.price_incl_tax = price.excl_tax, price.incl_tax
            line.save(update_fields=["price_excl_tax", "price_incl_tax"])
    suppliers: list[Any] = []
    for line in lines:
        if line.stockrecord and line.stockrecord.partner not in suppliers:
            suppliers.append(line.stockrecord.partner)
    total = cny(sum((line.line_price_incl_tax or 0) for line in lines))
    return BasketView(basket, household, lines, suppliers, total)


# --- The plan hand-over (core fallback of extensions.accept_plan_lines) -----------------------------


def add_stock_lines(
    station: Any, household: Household | None, lines: Sequence[PlanLine], user: Any = None
) -> list[AcceptedLine]:
    """``source == "stock"`` plan lines go into the household's station basket, each for the exact
    stock record the plan was priced on (``source_ref``). A line is taken only while the strategy
    sells it and the stock covers the basket; the others are left (the caller refuses or reports
    them). Nothing is paid here: payment is chosen at checkout."""
    from marketplace.core.extensions import AcceptedLine

    if household is None or household.station_id != getattr(station, "pk", None):
        return []
    if not permissions.has_role(user, Role.STATION_STAFF) or not permissions.can_manage_household(
        user, household
    ):
        return []
    out: list[AcceptedLine] = []
    for line in lines:
        if not line.source_ref.isdigit() or line.quantity <= 0:
            continue
        try:
            with transaction.atomic():
                added = add_to_basket(user, household, line.product_id, line.quantity, line.source_ref)
        except ValidationError:
            continue
        out.append(
            AcceptedLine(line, "stock", f"basket:{added.basket_id}", line.quantity, gettext("已加入购物篮"))
        )
    return out


# --- Checkout ------------------------------------------------------------------------------------


def scoped_key(actor: Any, key: str) -> str:
    """A checkout key is the form's (or API client's) own; scoped to the actor so that two staff
    members cannot collide, hashed to a fixed length."""
    key = (key or "").strip()
    if not key or len(key) > 100:
        raise _error("checkoutKey", gettext("缺少请求编号"), "required")
    return "direct:" + hashlib.sha256(f"{actor.pk}:{key}".encode()).hexdigest()[:40]


class _Creator(OrderCreator):  # type: ignore[misc,valid-type]
    """Oscar's OrderCreator; the direct-order row is written with the order, in Oscar's transaction."""

    def __init__(self, direct: dict[str, Any]) -> None:
        self.direct = direct

    def create_order_model(self, *args: Any, **kwargs: Any) -> Any:
        order = super().create_order_model(*args, **kwargs)
        DirectOrder.objects.create(order=order, **self.direct)
        return order


def checkout(
    actor: Any,
    household: Household,
    method: str,
    key: str,
    partner_id: Any = None,
    expected_total: Any = None,
) -> Any:
    """Place the household's basket (the lines of one supplier: ``partner_id``, or the only one) as an
    Oscar order paid by ``method`` (:data:`METHODS`). Idempotent on ``key``: sending the same checkout
    again returns the order it placed. Under row locks (basket, then stock records in pk order): every
    line is sellable to this buyer and in stock, or nothing is written — two staff racing for the last
    units, one wins and the other gets ``out_of_stock`` naming the product. ``expected_total`` (what the
    page showed) guards against a price that changed meanwhile."""
    from marketplace.payments import services as pay

    if not permissions.can_manage_household(actor, household) or not permissions.has_role(
        actor, Role.STATION_STAFF
    ):
        raise PermissionDenied(gettext("只能为本站点的农户下单"))
    ckey = scoped_key(actor, key)
    done = DirectOrder.objects.filter(checkout_key=ckey).select_related("order").first()
    if done is not None:
        return _same_checkout(done, household)
    if method not in METHODS:
        raise _error("paymentMethod", gettext("请选择付款方式"), "required")
    with transaction.atomic():
        link = (
            StationBasket.objects.select_for_update()
            .filter(staff=actor, household=household, is_open=True)
            .first()
        )
        done = DirectOrder.objects.filter(checkout_key=ckey).select_related("order").first()
        if done is not None:  # the same checkout, committed while we waited for the lock
            return _same_checkout(done, household)
        basket = Basket.objects.select_for_update().get(pk=link.basket_id) if link else None
        lines = (
            list(basket.lines.select_related("stockrecord__partner", "product").order_by("pk"))
            if basket
            else []
        )
        if not lines:
            raise _error("basket", gettext("购物篮是空的"), "invalid_state")
        assert link is not None and basket is not None
        partners = list(dict.fromkeys(line.stockrecord.partner_id for line in lines))
        if partner_id not in (None, ""):
            if str(partner_id) not in {str(p) for p in partners}:
                raise _error("partner", gettext("购物篮中没有该供应商的商品"), "invalid")
            chosen = int(partner_id)
        elif len(partners) == 1:
            chosen = partners[0]
        else:
            raise _error("partner", gettext("购物篮含多个供应商的商品，请逐个供应商结账"), "required")
        ordered = [line for line in lines if line.stockrecord.partner_id == chosen]
        # Lock the stock (pk order: no deadlock between checkouts), then decide on fresh rows.
        records = {
            r.pk: r
            for r in StockRecord.objects.select_for_update(of=("self",))
            .filter(pk__in=[line.stockrecord_id for line in ordered])
            .select_related("partner", "product__product_class")
            .order_by("pk")
        }
        strategy = strategy_for(actor)
        for line in ordered:
            record = records[line.stockrecord_id]
            _check_sellable(actor, household, record, line.quantity)
            price = strategy.fetch_for_product(record.product, stockrecord=record).price
            if line.price_incl_tax != price.incl_tax:
                line.price_excl_tax, line.price_incl_tax = price.excl_tax, price.incl_tax
                line.save(update_fields=["price_excl_tax", "price_incl_tax"])
        total = cny(sum(line.price_incl_tax * line.quantity for line in ordered))
        if expected_total not in (None, "") and cny(expected_total) != total:
            raise _error(
                "basket",
                gettext("价格已变化，请核对新的合计 %(total)s") % {"total": format_cny(total)},
                "invalid_state",
            )
        if total <= 0:
            raise _error("basket", gettext("购物篮是空的"), "invalid_state")
        # The lines of other suppliers stay in the household's basket: they move to a new one.
        rest = [line for line in lines if line.stockrecord.partner_id != chosen]
        link.is_open = False
        link.save(update_fields=["is_open"])
        if rest:
            new = Basket.objects.create(owner=actor, status=Basket.SAVED)
            StationBasket.objects.create(basket=new, household=household, staff=actor)
            Line.objects.filter(pk__in=[line.pk for line in rest]).update(basket=new)
        basket = Basket.objects.get(pk=basket.pk)
        basket.strategy = strategy
        number = str(OrderNumberGenerator().order_number(basket))
        if method == CASH:
            payment = pay.record_cash(actor, household, total, number, f"{ckey}:pay")
        else:
            payment = pay.authorise_credit(actor, household, total, number, f"{ckey}:pay")
        pay.capture(payment, total)
        for line in ordered:
            if line.product.restricted_use:
                pay.real_name_record(household, line.product, line.quantity, number, f"{ckey}:rn:{line.pk}")
        shipping = Free()
        from oscar.core.prices import Price

        creator = _Creator(
            {"checkout_key": ckey, "payment": payment, "pickup_code": f"{secrets.randbelow(10**6):06d}"}
        )
        order = creator.place_order(
            basket=basket,
            total=Price(currency="CNY", excl_tax=total, incl_tax=total),
            shipping_method=shipping,
            shipping_charge=shipping.calculate(basket),
            user=household.user if household.user_id else None,
            order_number=number,
            station=household.station,
            household=household,
            placed_by=actor,
        )
        source_type, _created = SourceType.objects.get_or_create(
            code=f"station-{method}", defaults={"name": "现金" if method == CASH else "赊销"}
        )
        Source.objects.create(
            order=order,
            source_type=source_type,
            currency="CNY",
            amount_allocated=total,
            amount_debited=total,
            reference=payment.idempotency_key[:255],
        )
        basket.submit()
    logger.info("direct order %s placed at station %s (%s)", order.number, household.station_id, method)
    return order


def _same_checkout(done: DirectOrder, household: Household) -> Any:
    if done.order.household_id != household.pk:
        raise _error("checkoutKey", gettext("请求编号已用于其他农户"), "invalid")
    return done.order


# --- After the order: supplier ships, station receives and hands out ---------------------------------


def is_direct(order: Any) -> bool:
    return DirectOrder.objects.filter(order_id=order.pk).exists()


def _direct(order: Any, lock: bool = False) -> DirectOrder:
    qs = DirectOrder.objects.select_related("order")
    if lock:
        qs = qs.select_for_update()
    found = qs.filter(order_id=order.pk).first()
    if found is None:
        raise _error("order", gettext("不是站点直购订单"), "invalid")
    return found


def can_ship(user: Any, order: Any) -> bool:
    """The supplier whose stock the order is (all its lines) or an operator."""
    if permissions.is_operator(user):
        return True
    partners = set(order.lines.values_list("partner_id", flat=True))
    return bool(partners) and permissions.partners_for(user).filter(pk__in=partners).count() == len(partners)


def mark_shipped(actor: Any, order: Any) -> Any:
    """The supplier ships the order to the station: the allocated stock leaves the warehouse
    (``StockRecord.consume_allocation``), the order moves to 已发货."""
    if not can_ship(actor, order):
        raise PermissionDenied(gettext("只有该订单的供应商可以发货"))
    with transaction.atomic():
        _direct(order, lock=True)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status != statuses.ORDERED:
            raise _error(
                "order",
                gettext("订单状态为 %(status)s，不能发货") % {"status": order.status},
                "invalid_state",
            )
        for line in order.lines.filter(stockrecord__isnull=False).order_by("stockrecord_id"):
            StockRecord.objects.select_for_update().get(pk=line.stockrecord_id).consume_allocation(
                line.quantity
            )
        change_status([order], statuses.SHIPPED, user=actor)
    return Order.objects.get(pk=order.pk)


def _require_station(actor: Any, order: Any) -> None:
    if not order.station_id or not permissions.can_manage_station(actor, order.station_id):
        raise PermissionDenied(gettext("只能处理本站点的订单"))


def receive(actor: Any, order: Any) -> Any:
    """The station received the goods: 已到站; the household is told its pickup code by SMS."""
    from marketplace.core.sms import send_sms

    _require_station(actor, order)
    with transaction.atomic():
        direct = _direct(order, lock=True)
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("household", "station")
            .get(pk=order.pk)
        )
        if order.status == statuses.AT_STATION:
            return order
        if order.status not in (statuses.ORDERED, statuses.SHIPPED):
            raise _error(
                "order",
                gettext("订单状态为 %(status)s，不能收货") % {"status": order.status},
                "invalid_state",
            )
        if order.status == statuses.ORDERED:  # received before the supplier marked it shipped
            for line in order.lines.filter(stockrecord__isnull=False).order_by("stockrecord_id"):
                StockRecord.objects.select_for_update().get(pk=line.stockrecord_id).consume_allocation(
                    line.quantity
                )
        change_status([order], statuses.AT_STATION, user=actor)
        direct.received_at = timezone.now()
        direct.save(update_fields=["received_at"])
        if order.household and order.household.phone:
            send_sms(
                order.household.phone,
                gettext("您在%(station)s的订单 %(number)s 已到站，取货码 %(code)s。")
                % {"station": order.station.name, "number": order.number, "code": direct.pickup_code},
                dedupe_key=f"direct-order:{order.pk}:at-station",
            )
    return Order.objects.get(pk=order.pk)


def hand_out(actor: Any, order: Any, code: str) -> Any:
    """Hand the goods to the household against its 6-digit pickup code: 已取货. Wrong codes count
    towards the same lockout as group-buy pickups (:func:`marketplace.core.ratelimits.pickup_code_guard`)."""
    from marketplace.core import ratelimits

    _require_station(actor, order)
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        raise _error("code", gettext("取货码为6位数字"))
    miss = ratelimits.pickup_code_guard(actor)
    with transaction.atomic():
        direct = _direct(order, lock=True)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == statuses.COLLECTED:
            return order
        if order.status != statuses.AT_STATION:
            raise _error("order", gettext("货物尚未到站"), "invalid_state")
        if not secrets.compare_digest(direct.pickup_code, code):
            miss()
            raise _error("code", gettext("取货码不正确"))
        change_status([order], statuses.COLLECTED, user=actor)
        direct.collected_at, direct.collected_by = timezone.now(), actor
        direct.save(update_fields=["collected_at", "collected_by"])
    return Order.objects.get(pk=order.pk)


def refund(actor: Any, order: Any, reason: str = "") -> Any:
    """Cancel a direct order before it is shipped: stock allocation released, the payment refunded
    through its method (cash: a pending cash refund handed back at the station; credit: the
    receivable reversed), status 已退款."""
    from marketplace.payments import services as pay

    _require_station(actor, order)
    with transaction.atomic():
        direct = _direct(order, lock=True)
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status == statuses.REFUNDED:
            return order
        if order.status != statuses.ORDERED:
            raise _error("order", gettext("已发货的订单不能在站点退款"), "invalid_state")
        for line in order.lines.filter(stockrecord__isnull=False).order_by("stockrecord_id"):
            StockRecord.objects.select_for_update().get(pk=line.stockrecord_id).cancel_allocation(
                line.quantity
            )
        if direct.payment is not None:
            pay.void(direct.payment, reason or gettext("站点直购退款"))
        change_status([order], statuses.REFUNDED, user=actor, note=reason)
    return Order.objects.get(pk=order.pk)


def pickup_code_for(user: Any, order: Any) -> str:
    """The pickup code, shown only to the household's own login (staff read it out once, at checkout)."""
    if (
        order.household_id
        and order.household.user_id
        and order.household.user_id == getattr(user, "pk", None)
    ):
        direct = DirectOrder.objects.filter(order_id=order.pk).first()
        return direct.pickup_code if direct else ""
    return ""

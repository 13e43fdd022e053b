"""GraphQL for group buys: campaigns with live progress, pledges, pickups, deliveries, purchase
orders, cash reconciliation and commission — every mutation returns typed errors."""

from __future__ import annotations

from datetime import date
from typing import Any

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext

from marketplace.core import permissions
from marketplace.graphql.core.errors import errors_from_exception
from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.core.types import Money, money, page, page_args
from marketplace.graphql.scalars import MoneyAmount
from marketplace.payments import services as payments
from marketplace.payments.models import CommissionStatement, Payment
from marketplace.stations.models import Household

from . import access, closing, online, services
from .models import Campaign, CampaignItem, Pickup, Pledge, PledgeStatus, PriceTier

CAMPAIGN_PREFETCH = (
    Prefetch("items", queryset=CampaignItem.objects.select_related("product").prefetch_related("tiers")),
)


class TierType(graphene.ObjectType):
    min_quantity = graphene.Int(required=True)
    unit_price = graphene.Field(Money, required=True)

    class Meta:
        name = "GroupBuyTier"


class ItemProgressType(graphene.ObjectType):
    item_id = graphene.ID(required=True)
    product_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    tier_index = graphene.Int(required=True, description="0 = base price")
    unit_price = graphene.Field(Money, required=True)
    next_threshold = graphene.Int()
    next_unit_price = graphene.Field(Money)
    quantity_to_next_tier = graphene.Int(required=True)
    tiers = graphene.List(graphene.NonNull(TierType), required=True)
    final_unit_price = graphene.Field(Money)

    class Meta:
        name = "GroupBuyItemProgress"


class ProgressType(graphene.ObjectType):
    total_quantity = graphene.Int(required=True)
    min_total_quantity = graphene.Int(required=True)
    quantity_to_minimum = graphene.Int(required=True)
    reached_minimum = graphene.Boolean(required=True)
    seconds_left = graphene.Int(required=True)
    time_left = graphene.String(required=True)
    items = graphene.List(graphene.NonNull(ItemProgressType), required=True)

    class Meta:
        name = "GroupBuyProgress"


def _progress(campaign: Campaign, items: list[CampaignItem] | None = None) -> ProgressType:
    p = services.campaign_progress(campaign, items=items)
    return ProgressType(
        total_quantity=p["total_quantity"],
        min_total_quantity=p["min_total_quantity"],
        quantity_to_minimum=p["to_minimum"],
        reached_minimum=p["reached_minimum"],
        seconds_left=p["seconds_left"],
        time_left=p["time_left"],
        items=[
            ItemProgressType(
                item_id=i["item"].pk,
                product_id=i["item"].product_id,
                title=i["item"].product.title,
                tier_index=i["tier_index"],
                unit_price=money(i["unit_price"]),
                next_threshold=i["next_threshold"],
                next_unit_price=money(i["next_price"]),
                quantity_to_next_tier=i["to_next_tier"],
                tiers=[TierType(min_quantity=t[0], unit_price=money(t[1])) for t in i["tiers"]],
                final_unit_price=money(i["item"].final_unit_price),
            )
            for i in p["items"]
        ],
    )


class CampaignType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    description = graphene.String(required=True)
    status = graphene.String(required=True)
    status_display = graphene.String(required=True)
    supplier_name = graphene.String(required=True)
    cutoff_at = graphene.DateTime(required=True)
    delivery_from = graphene.Date(required=True)
    delivery_until = graphene.Date(required=True)
    per_household_limit = graphene.Int(required=True)
    commission_rate = graphene.Decimal(required=True)
    progress = graphene.Field(ProgressType, required=True)

    class Meta:
        name = "GroupBuyCampaign"

    @staticmethod
    def resolve_status_display(c, info):
        return c.get_status_display()

    @staticmethod
    def resolve_supplier_name(c, info):
        return c.partner.name

    @staticmethod
    def resolve_progress(c, info):
        return _progress(c)


class PledgeType(graphene.ObjectType):
    id = graphene.ID(required=True)
    campaign_id = graphene.ID(required=True)
    household_id = graphene.ID(required=True)
    household_name = graphene.String(required=True)
    station_id = graphene.ID(required=True)
    product_title = graphene.String(required=True)
    quantity = graphene.Int(required=True)
    status = graphene.String(required=True)
    payment_method = graphene.String(required=True)
    unit_price_at_pledge = graphene.Field(Money, required=True)
    final_unit_price = graphene.Field(Money)
    final_amount = graphene.Field(Money)
    collected_quantity = graphene.Int(required=True)

    class Meta:
        name = "GroupBuyPledge"

    @staticmethod
    def resolve_household_name(p, info):
        return p.household.name

    @staticmethod
    def resolve_product_title(p, info):
        return p.item.product.title

    @staticmethod
    def resolve_unit_price_at_pledge(p, info):
        return money(p.unit_price_at_pledge)

    @staticmethod
    def resolve_final_unit_price(p, info):
        return money(p.final_unit_price)

    @staticmethod
    def resolve_final_amount(p, info):
        return money(p.final_amount)


class PickupType(graphene.ObjectType):
    id = graphene.ID(required=True)
    campaign_id = graphene.ID(required=True)
    household_name = graphene.String(required=True)
    station_id = graphene.ID(required=True)
    order_number = graphene.String(required=True)
    status = graphene.String(required=True)
    code = graphene.String(description="Only for the household itself; staff must be told the code.")

    class Meta:
        name = "GroupBuyPickup"

    @staticmethod
    def resolve_household_name(p, info):
        return p.household.name

    @staticmethod
    def resolve_order_number(p, info):
        return p.order.number

    @staticmethod
    def resolve_code(p, info):
        return p.code if p.household.user_id == info.context.user.pk else None


class PurchaseOrderType(graphene.ObjectType):
    id = graphene.ID(required=True)
    number = graphene.String(required=True)
    supplier_name = graphene.String(required=True)
    warehouse_name = graphene.String()
    total_quantity = graphene.Int(required=True)
    total_amount = graphene.Field(Money, required=True)
    station_count = graphene.Int(required=True)

    class Meta:
        name = "GroupBuyPurchaseOrder"

    @staticmethod
    def resolve_supplier_name(po, info):
        return po.partner.name

    @staticmethod
    def resolve_warehouse_name(po, info):
        return po.warehouse.name if po.warehouse_id else None

    @staticmethod
    def resolve_total_amount(po, info):
        return money(po.total_amount)

    @staticmethod
    def resolve_station_count(po, info):
        return len(po.deliveries.all())


class CommissionStatementType(graphene.ObjectType):
    month = graphene.Date(required=True)
    opening_balance = graphene.Field(Money, required=True)
    credited = graphene.Field(Money, required=True)
    paid_out = graphene.Field(Money, required=True)
    closing_balance = graphene.Field(Money, required=True)

    class Meta:
        name = "CommissionStatement"

    resolve_opening_balance = staticmethod(lambda s, i: money(s.opening_balance))
    resolve_credited = staticmethod(lambda s, i: money(s.credited))
    resolve_paid_out = staticmethod(lambda s, i: money(s.paid_out))
    resolve_closing_balance = staticmethod(lambda s, i: money(s.closing_balance))


class CampaignPage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(CampaignType), required=True)

    class Meta:
        name = "GroupBuyCampaignPage"


class PledgePage(graphene.ObjectType):
    total_count = graphene.Int(required=True)
    items = graphene.List(graphene.NonNull(PledgeType), required=True)

    class Meta:
        name = "GroupBuyPledgePage"


class CashSummaryType(graphene.ObjectType):
    station_id = graphene.ID(required=True)
    day = graphene.Date(required=True)
    opening = graphene.Field(Money, required=True)
    cash_in = graphene.Field(Money, required=True)
    cash_out = graphene.Field(Money, required=True)
    expected = graphene.Field(Money, required=True)
    counted = graphene.Field(Money)
    difference = graphene.Field(Money)

    class Meta:
        name = "CashSummary"


class GroupBuyQueries(graphene.ObjectType):
    group_buy_campaigns = graphene.Field(CampaignPage, required=True, status=graphene.String(), **page_args())
    group_buy_campaign = graphene.Field(CampaignType, id=graphene.ID(required=True))
    group_buy_pledges = graphene.Field(
        PledgePage, required=True, campaign_id=graphene.ID(), station_id=graphene.ID(), **page_args()
    )
    group_buy_pickups = graphene.List(
        graphene.NonNull(PickupType), required=True, campaign_id=graphene.ID(required=True)
    )
    group_buy_purchase_orders = graphene.List(
        graphene.NonNull(PurchaseOrderType), required=True, campaign_id=graphene.ID(required=True)
    )
    commission_statements = graphene.List(
        graphene.NonNull(CommissionStatementType), required=True, station_id=graphene.ID(required=True)
    )
    commission_balance = graphene.Field(Money, station_id=graphene.ID(required=True))
    cash_summary = graphene.Field(CashSummaryType, station_id=graphene.ID(required=True), day=graphene.Date())

    @staticmethod
    def resolve_group_buy_campaigns(root, info, status=None, first=None, offset=None):
        qs = (
            access.campaigns_for(info.context.user)
            .select_related("partner")
            .prefetch_related(*CAMPAIGN_PREFETCH)
        )
        if status:
            qs = qs.filter(status=status)
        items, total = page(qs.order_by("-cutoff_at", "-pk"), first, offset)
        return CampaignPage(items=items, total_count=total)

    @staticmethod
    def resolve_group_buy_campaign(root, info, id):
        return (
            access.campaigns_for(info.context.user)
            .select_related("partner")
            .prefetch_related(*CAMPAIGN_PREFETCH)
            .filter(pk=id)
            .first()
        )

    @staticmethod
    def resolve_group_buy_pledges(root, info, campaign_id=None, station_id=None, first=None, offset=None):
        qs = access.pledges_for(info.context.user).select_related("household", "item__product")
        if campaign_id:
            qs = qs.filter(campaign_id=campaign_id)
        if station_id:
            qs = qs.filter(station_id=station_id)
        items, total = page(qs.order_by("-pk"), first, offset)
        return PledgePage(items=items, total_count=total)

    @staticmethod
    def resolve_group_buy_pickups(root, info, campaign_id):
        return list(
            access.pickups_for(info.context.user)
            .filter(campaign_id=campaign_id)
            .select_related("household", "order")
            .order_by("pk")[:500]
        )

    @staticmethod
    def resolve_group_buy_purchase_orders(root, info, campaign_id):
        return list(
            access.purchase_orders_for(info.context.user)
            .filter(campaign_id=campaign_id)
            .select_related("partner", "warehouse")
            .prefetch_related("deliveries")
        )

    @staticmethod
    def resolve_commission_statements(root, info, station_id):
        station = permissions.managed_stations(info.context.user).filter(pk=station_id).first()
        if station is None:
            return []
        return list(CommissionStatement.objects.filter(station=station).order_by("-month"))

    @staticmethod
    def resolve_commission_balance(root, info, station_id):
        station = permissions.managed_stations(info.context.user).filter(pk=station_id).first()
        return money(payments.commission_balance(station)) if station else None

    @staticmethod
    def resolve_cash_summary(root, info, station_id, day=None):
        station = permissions.managed_stations(info.context.user).filter(pk=station_id).first()
        if station is None:
            return None
        day = day or timezone.localdate()
        s = payments.cash_summary(station, day)
        from marketplace.payments.models import CashReconciliation

        rec = CashReconciliation.objects.filter(station=station, day=day).first()
        return CashSummaryType(
            station_id=station.pk,
            day=day,
            opening=money(s["opening"]),
            cash_in=money(s["cash_in"]),
            cash_out=money(s["cash_out"]),
            expected=money(s["expected"]),
            counted=money(rec.counted) if rec else None,
            difference=money(rec.difference) if rec else None,
        )


# --- Mutations ------------------------------------------------------------------------------------


class TierInput(graphene.InputObjectType):
    min_quantity = graphene.Int(required=True)
    unit_price = MoneyAmount(required=True)


class ItemInput(graphene.InputObjectType):
    product_id = graphene.ID(required=True)
    base_price = MoneyAmount(required=True)
    tiers = graphene.List(graphene.NonNull(TierInput), required=True)


class CampaignInput(graphene.InputObjectType):
    partner_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    description = graphene.String()
    cutoff_at = graphene.DateTime(required=True)
    delivery_from = graphene.Date(required=True)
    delivery_until = graphene.Date(required=True)
    min_total_quantity = graphene.Int(required=True)
    max_total_quantity = graphene.Int()
    per_household_limit = graphene.Int()
    commission_rate = graphene.Decimal()
    uncollected_days = graphene.Int()
    station_ids = graphene.List(graphene.NonNull(graphene.ID))
    county_ids = graphene.List(graphene.NonNull(graphene.ID))
    items = graphene.List(graphene.NonNull(ItemInput), required=True)


class GroupBuyCampaignCreate(BaseMutation):
    """A supplier (or operator) proposes a campaign; it waits for operator approval."""

    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        input = CampaignInput(required=True)

    campaign = graphene.Field(CampaignType)

    @classmethod
    def perform(cls, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        partner = permissions.partners_for(user).get(pk=input["partner_id"])
        items = [
            services.ItemSpec(
                int(i["product_id"]),
                i["base_price"],
                [(t["min_quantity"], t["unit_price"]) for t in i["tiers"]],
            )
            for i in input["items"]
        ]
        optional = {
            k: input[k]
            for k in (
                "description",
                "max_total_quantity",
                "per_household_limit",
                "commission_rate",
                "uncollected_days",
            )
            if input.get(k) is not None
        }
        campaign = services.create_campaign(
            user,
            partner=partner,
            title=input["title"],
            cutoff_at=input["cutoff_at"],
            delivery_from=input["delivery_from"],
            delivery_until=input["delivery_until"],
            min_total_quantity=input["min_total_quantity"],
            items=items,
            station_ids=[int(s) for s in input.get("station_ids") or []],
            county_ids=[int(c) for c in input.get("county_ids") or []],
            **optional,
        )
        return {"campaign": campaign}


class GroupBuyCampaignReview(BaseMutation):
    """Operator approval (opens the campaign) or rejection."""

    class Meta:
        permissions = (permissions.OPERATOR,)

    class Arguments:
        id = graphene.ID(required=True)
        approve = graphene.Boolean(required=True)
        note = graphene.String()

    campaign = graphene.Field(CampaignType)

    @classmethod
    def perform(cls, info: Any, id: str, approve: bool, note: str = "") -> dict[str, Any]:
        user = info.context.user
        campaign = access.campaigns_for(user).get(pk=id)
        return {"campaign": services.review_campaign(user, campaign, approve, note or "")}


class PaymentActionType(graphene.ObjectType):
    type = graphene.String(
        required=True,
        description="confirm_card (run Stripe.js confirmCardPayment(clientSecret)) | wechat_qr | redirect",
    )
    url = graphene.String(description="redirect: Alipay's page; wechat_qr: Stripe's hosted instructions")
    qr_image_url = graphene.String(description="wechat_qr: the QR code as an image URL (data: URL)")
    qr_data = graphene.String(description="wechat_qr: the QR code's content")

    class Meta:
        name = "GroupBuyPaymentAction"


class OnlinePaymentType(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.String(required=True, description="pending | authorised | cancelled | failed | …")
    online_type = graphene.String(required=True)
    amount = graphene.Field(Money, required=True)
    client_secret = graphene.String(description="Only while the payer still has to act")
    next_action = graphene.Field(PaymentActionType)

    class Meta:
        name = "GroupBuyOnlinePayment"


def _online_payment(result: online.PledgeResult) -> OnlinePaymentType | None:
    payment = result.payment
    if payment is None or payment.method != "stripe":
        return None
    action = result.next_action
    return OnlinePaymentType(
        id=payment.pk,
        status=payment.status,
        online_type=payment.online_type,
        amount=money(payment.amount_authorised),
        client_secret=result.client_secret or None,
        next_action=PaymentActionType(
            type=action.get("type", ""),
            url=action.get("url") or None,
            qr_image_url=action.get("qr_image_url") or None,
            qr_data=action.get("qr_data") or None,
        )
        if action
        else None,
    )


class GroupBuyPledgeCreate(BaseMutation):
    """Pledge for a household: staff for their station's farmers, or a farmer for themself.

    Online payment may need the payer first (3-D Secure, WeChat Pay QR code, Alipay redirect): then
    ``pledge`` is null and ``payment`` is ``pending`` with ``clientSecret`` / ``nextAction``; after the
    payer acted, call ``groupBuyPledgeComplete(paymentId)``."""

    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)
        atomic = False  # online.start_pledge owns its transactions, as on the pledge page

    class Arguments:
        item_id = graphene.ID(required=True)
        household_id = graphene.ID(required=True)
        quantity = graphene.Int(required=True)
        payment_method = graphene.String(required=True, description="cash | credit | stripe")
        stripe_payment_method = graphene.String(
            description="Stripe PaymentMethod id (pm_…) for online payment"
        )
        stripe_token = graphene.String(description="card token (tok_…) from Stripe.js createToken")
        online_type = graphene.String(description="card | wechat_pay | alipay")
        return_url = graphene.String(description="where Alipay sends the payer back to")
        idempotency_key = graphene.String()

    pledge = graphene.Field(PledgeType)
    progress = graphene.Field(ProgressType)
    payment = graphene.Field(OnlinePaymentType, description="online payments only")

    @classmethod
    def perform(
        cls, info: Any, item_id: str, household_id: str, quantity: int, payment_method: str, **kw: Any
    ):
        user = info.context.user
        # One read each: the household (permission from the user's stations, read once per
        # request), the campaign's items with the campaign and their tiers (pricing and the
        # progress below).
        household = Household.objects.select_related("station").get(pk=household_id)
        if not permissions.can_manage_household(user, household):
            raise Household.DoesNotExist
        item, items = services.items_for_pledge(item_id)  # not found: NOT_FOUND, like the rest
        campaign = item.campaign
        if not access.can_see_campaign(user, campaign):
            raise Campaign.DoesNotExist
        result = online.start_pledge(
            user,
            item,
            household,
            quantity,
            payment_method,
            stripe_payment_method=kw.get("stripe_payment_method") or "",
            stripe_token=kw.get("stripe_token") or "",
            online_type=kw.get("online_type") or "card",
            return_url=kw.get("return_url") or "",
            idempotency_key=kw.get("idempotency_key") or "",
        )
        if result.pledge is None:  # waiting for the payer: nothing moved, show the current state
            campaign = Campaign.objects.prefetch_related(*CAMPAIGN_PREFETCH).get(pk=item.campaign_id)
            items = None
        return {
            "pledge": result.pledge,
            "progress": _progress(campaign, items),
            "payment": _online_payment(result),
        }


class GroupBuyPledgeComplete(BaseMutation):
    """Second step of an online pledge, after the payer authenticated / paid. Idempotent; only the
    user who started the payment may complete it. If the campaign closed or its limits no longer
    allow the pledge, the payment is cancelled (or refunded) and the error says so."""

    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        payment_id = graphene.ID(required=True)

    pledge = graphene.Field(PledgeType)
    payment = graphene.Field(OnlinePaymentType)

    @classmethod
    def mutate(cls, root: Any, info: Any, **data: Any):
        # A refused completion cancels the payment at Stripe: that state must be committed, not
        # rolled back with the mutation's transaction.
        with transaction.atomic():
            try:
                result = cls.perform(info, **data)
            except online.PledgeNotCompleted as exc:
                return cls(
                    errors=errors_from_exception(exc),
                    payment=_online_payment(online.PledgeResult(payment=exc.payment)),
                )
            except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
                transaction.set_rollback(True)
                return cls(errors=errors_from_exception(exc))
        return cls(errors=[], **result)

    @classmethod
    def perform(cls, info: Any, payment_id: str) -> dict[str, Any]:
        user = info.context.user
        payment = Payment.objects.select_related("household").get(pk=payment_id, method="stripe")
        result = online.complete_online_pledge(user, payment)
        return {"pledge": result.pledge, "payment": _online_payment(result)}


class GroupBuyPledgeCancel(BaseMutation):
    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        id = graphene.ID(required=True)

    pledge = graphene.Field(PledgeType)

    @classmethod
    def perform(cls, info: Any, id: str) -> dict[str, Any]:
        user = info.context.user
        pledge = access.pledges_for(user).select_related("household", "item__product").get(pk=id)
        return {"pledge": services.cancel_pledge(user, pledge)}


class GroupBuyPledgeTakeCash(BaseMutation):
    """Station staff take cash for a pledge whose online payment lapsed at the close (status
    ``unpaid``): the pledge is settled in cash and gets its order and pickup code, exactly as the
    close settles a cash pledge. Repeating it returns the same pickup and books nothing twice."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        id = graphene.ID(required=True, description="The unpaid pledge.")

    pledge = graphene.Field(PledgeType)
    pickup = graphene.Field(PickupType)

    @classmethod
    def perform(cls, info: Any, id: str) -> dict[str, Any]:
        user = info.context.user
        pledge = access.pledges_for(user).get(pk=id)
        pickup = closing.take_cash(user, pledge.pk)
        return {
            "pledge": Pledge.objects.select_related("household", "item__product").get(pk=pledge.pk),
            "pickup": Pickup.objects.select_related("household", "order").get(pk=pickup.pk),
        }


class GroupBuyCampaignClose(BaseMutation):
    """Close by hand (operator): at or after the cutoff, or now with ``force``. Safe to repeat."""

    class Meta:
        permissions = (permissions.OPERATOR,)

    class Arguments:
        id = graphene.ID(required=True)
        force = graphene.Boolean()

    campaign = graphene.Field(CampaignType)

    @classmethod
    def perform(cls, info: Any, id: str, force: bool = False) -> dict[str, Any]:
        closing.close_campaign(int(id), force=bool(force))
        return {"campaign": Campaign.objects.prefetch_related(*CAMPAIGN_PREFETCH).get(pk=id)}


class DeliveryCountInput(graphene.InputObjectType):
    item_id = graphene.ID(required=True)
    received = graphene.Int(required=True)
    damaged = graphene.Int()


class GroupBuyDeliveryShip(BaseMutation):
    class Meta:
        permissions = (permissions.PARTNER,)

    class Arguments:
        id = graphene.ID(required=True)

    status = graphene.String()

    @classmethod
    def perform(cls, info: Any, id: str) -> dict[str, Any]:
        user = info.context.user
        delivery = access.deliveries_for(user).select_related("purchase_order__partner", "station").get(pk=id)
        return {"status": services.mark_shipped(user, delivery).status}


class GroupBuyDeliveryReceive(BaseMutation):
    """Station staff record received quantities, shortages and damage."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        id = graphene.ID(required=True)
        counts = graphene.List(graphene.NonNull(DeliveryCountInput), required=True)
        notes = graphene.String()

    status = graphene.String()

    @classmethod
    def perform(cls, info: Any, id: str, counts: list[dict[str, Any]], notes: str = "") -> dict[str, Any]:
        user = info.context.user
        delivery = access.deliveries_for(user).select_related("station").get(pk=id)
        parsed = {int(c["item_id"]): (c["received"], c.get("damaged") or 0) for c in counts}
        return {"status": services.receive_delivery(user, delivery, parsed, notes or "").status}


class PickupQuantityInput(graphene.InputObjectType):
    pledge_id = graphene.ID(required=True)
    quantity = graphene.Int(required=True)


class GroupBuyPickupCollect(BaseMutation):
    """Staff verify the 6-digit pickup code and hand out all or part of the goods."""

    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        code = graphene.String(required=True)
        pickup_id = graphene.ID()
        quantities = graphene.List(graphene.NonNull(PickupQuantityInput))
        idempotency_key = graphene.String()

    pickup = graphene.Field(PickupType)
    collected = graphene.Int()

    @classmethod
    def perform(
        cls, info: Any, code: str, pickup_id: str | None = None, quantities=None, idempotency_key=None
    ):
        user = info.context.user
        matches = services.find_pickups(user, code)
        if pickup_id:
            matches = [m for m in matches if str(m.pk) == str(pickup_id)]
        if not matches:
            raise ValidationError({"code": ValidationError(gettext("未找到待取货的订单"), code="not_found")})
        if len(matches) > 1:
            raise ValidationError(
                {"pickupId": ValidationError(gettext("取货码对应多个订单，请指定"), code="required")}
            )
        qty = {int(q["pledge_id"]): q["quantity"] for q in quantities} if quantities is not None else None
        events = services.collect(user, matches[0], code, qty, idempotency_key or "")
        pickup = Pickup.objects.select_related("household", "order").get(pk=matches[0].pk)
        return {"pickup": pickup, "collected": sum(e.quantity for e in events)}


class CashReconcile(BaseMutation):
    class Meta:
        permissions = (permissions.STATION_STAFF,)

    class Arguments:
        station_id = graphene.ID(required=True)
        counted = MoneyAmount(required=True)
        day = graphene.Date()
        notes = graphene.String()

    difference = graphene.Field(Money)

    @classmethod
    def perform(cls, info: Any, station_id: str, counted, day: date | None = None, notes: str = ""):
        user = info.context.user
        station = permissions.managed_stations(user).get(pk=station_id)
        rec = payments.reconcile_cash(user, station, day or timezone.localdate(), counted, notes or "")
        return {"difference": money(rec.difference)}


class GroupBuyMutations(graphene.ObjectType):
    group_buy_campaign_create = GroupBuyCampaignCreate.Field()
    group_buy_campaign_review = GroupBuyCampaignReview.Field()
    group_buy_campaign_close = GroupBuyCampaignClose.Field()
    group_buy_pledge_create = GroupBuyPledgeCreate.Field()
    group_buy_pledge_complete = GroupBuyPledgeComplete.Field()
    group_buy_pledge_cancel = GroupBuyPledgeCancel.Field()
    group_buy_pledge_take_cash = GroupBuyPledgeTakeCash.Field()
    group_buy_delivery_ship = GroupBuyDeliveryShip.Field()
    group_buy_delivery_receive = GroupBuyDeliveryReceive.Field()
    group_buy_pickup_collect = GroupBuyPickupCollect.Field()
    cash_reconcile = CashReconcile.Field()


__all__ = ["GroupBuyQueries", "GroupBuyMutations", "PriceTier", "PledgeStatus", "Pledge"]

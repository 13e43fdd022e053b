"""GraphQL for the produce marketplace: lots, rounds, checkout, orders, fulfilment, trace. Every
mutation returns typed ``errors { field code message }`` and calls the same services as the pages."""

from __future__ import annotations

from typing import Any

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError

from marketplace.core import permissions as perms
from marketplace.graphql.core.errors import errors_from_exception
from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.core.types import Money, money

from . import services, trace
from .models import Lot, ProduceOrder, Round


class SaleUnitType(graphene.ObjectType):
    id = graphene.ID(required=True)
    unit = graphene.String(required=True)
    pack_kg = graphene.Decimal(required=True)
    price = graphene.Field(Money, required=True)
    available = graphene.Int(required=True)

    class Meta:
        name = "ProduceSaleUnit"


def _unit(u: Any) -> SaleUnitType:
    records = list(u.product.stockrecords.all())
    return SaleUnitType(
        id=u.pk, unit=u.unit, pack_kg=u.pack_kg, price=money(u.price),
        available=max(records[0].net_stock_level, 0) if records else 0,
    )  # fmt: skip


class CertificationType(graphene.ObjectType):
    kind = graphene.String(required=True)
    number = graphene.String(required=True)
    expires_on = graphene.Date(required=True)

    class Meta:
        name = "ProduceCertification"


class LotType(graphene.ObjectType):
    id = graphene.ID(required=True)
    code = graphene.String(required=True)
    gtin = graphene.String(required=True)
    crop = graphene.String(required=True)
    variety = graphene.String(required=True)
    grade = graphene.String(required=True)
    harvest_date = graphene.Date(required=True)
    origin_village = graphene.String(required=True)
    cooperative = graphene.String(required=True)
    trace_url = graphene.String(required=True)
    sale_units = graphene.List(graphene.NonNull(SaleUnitType), required=True)
    certifications = graphene.List(graphene.NonNull(CertificationType), required=True)

    class Meta:
        name = "ProduceLot"


def _lot(lot: Lot) -> LotType:
    return LotType(
        id=lot.pk, code=lot.code, gtin=lot.gtin, crop=lot.crop, variety=lot.variety, grade=lot.grade,
        harvest_date=lot.harvest_date, origin_village=lot.origin_village, cooperative=lot.partner.name,
        trace_url=trace.digital_link(lot), sale_units=[_unit(u) for u in lot.sale_units.all()],
        certifications=[CertificationType(kind=c.kind, number=c.number, expires_on=c.expires_on)
                        for c in lot.certifications.all()],
    )  # fmt: skip


LOT_PREFETCH = ("sale_units__product__stockrecords", "certifications")


class SlotType(graphene.ObjectType):
    id = graphene.ID(required=True)
    kind = graphene.String(required=True)
    day = graphene.Date(required=True)
    start = graphene.Time(required=True)
    end = graphene.Time(required=True)
    place_name = graphene.String(required=True)

    class Meta:
        name = "ProduceSlot"


class RoundType(graphene.ObjectType):
    id = graphene.ID(required=True)
    title = graphene.String(required=True)
    cooperative = graphene.String(required=True)
    cutoff_at = graphene.DateTime(required=True)
    status = graphene.String(required=True)
    slots = graphene.List(graphene.NonNull(SlotType), required=True)
    lots = graphene.List(graphene.NonNull(LotType), required=True)

    class Meta:
        name = "ProduceRound"


def _round(r: Round) -> RoundType:
    return RoundType(
        id=r.pk, title=r.title, cooperative=r.partner.name, cutoff_at=r.cutoff_at, status=r.status,
        slots=[SlotType(id=s.pk, kind=s.kind, day=s.day, start=s.start, end=s.end, place_name=s.place_name)
               for s in r.slots.all()],
        lots=[_lot(lot) for lot in r.lots.all()],
    )  # fmt: skip


class OrderType(graphene.ObjectType):
    id = graphene.ID(required=True)
    number = graphene.String(required=True)
    state = graphene.String(required=True)
    payment_state = graphene.String(required=True)
    amount = graphene.Field(Money, required=True)
    round_id = graphene.ID(required=True)
    can_cancel = graphene.Boolean(required=True)
    amount_refunded = graphene.Field(Money, required=True)

    class Meta:
        name = "ProduceOrder"


def _order(po: ProduceOrder) -> OrderType:
    return OrderType(
        id=po.pk, number=po.order.number, state=po.state, payment_state=po.payment_state,
        amount=money(po.amount), round_id=po.round_id, can_cancel=po.can_cancel,
        amount_refunded=money(po.payment.amount_refunded),
    )  # fmt: skip


class InputType(graphene.ObjectType):
    kind = graphene.String(required=True)
    title = graphene.String(required=True)
    registration_no = graphene.String(required=True)
    first_bought = graphene.Date(required=True)

    class Meta:
        name = "ProduceTraceInput"


class TraceType(graphene.ObjectType):
    lot = graphene.Field(LotType, required=True)
    grower_count = graphene.Int(required=True)
    inputs = graphene.List(graphene.NonNull(InputType), required=True)
    phi_ok = graphene.Boolean(required=True)

    class Meta:
        name = "ProduceTrace"


class ProduceQueries(graphene.ObjectType):
    produce_rounds = graphene.List(
        graphene.NonNull(RoundType), required=True, description="Open selling rounds."
    )
    produce_lots = graphene.List(
        graphene.NonNull(LotType), required=True, search=graphene.String(), crop=graphene.String(),
        description="Lots on sale in open rounds (produce only, not agri-inputs).",
    )  # fmt: skip
    my_produce_orders = graphene.List(graphene.NonNull(OrderType), required=True)
    produce_trace = graphene.Field(
        TraceType, gtin=graphene.String(required=True), lot=graphene.String(required=True)
    )

    def resolve_produce_rounds(root, info):
        qs = (
            services.open_rounds()
            .select_related("partner")
            .prefetch_related("slots", "lots__partner", *[f"lots__{p}" for p in LOT_PREFETCH])
        )
        return [_round(r) for r in qs[:50]]

    def resolve_produce_lots(root, info, search: str = "", crop: str = ""):
        qs = Lot.objects.filter(is_active=True, rounds__in=services.open_rounds()).distinct()
        if search:
            qs = qs.filter(variety__icontains=search[:64]) | qs.filter(origin_village__icontains=search[:64])
        if crop:
            qs = qs.filter(crop=crop)
        return [_lot(lot) for lot in qs.select_related("partner").prefetch_related(*LOT_PREFETCH)[:100]]

    def resolve_my_produce_orders(root, info):
        user = info.context.user
        if not user.is_authenticated:
            return []
        return [_order(po) for po in services.orders_for_buyer(user)[:100]]

    def resolve_produce_trace(root, info, gtin: str, lot: str):
        obj = Lot.objects.filter(gtin=gtin[:14], code=lot[:40]).select_related("partner").first()
        if obj is None:
            return None
        facts = trace.public_facts(obj)
        return TraceType(
            lot=_lot(obj), grower_count=facts["grower_count"], phi_ok=facts["phi_ok"],
            inputs=[InputType(kind=i.kind, title=i.title, registration_no=i.registration_no, first_bought=i.first_bought)
                    for i in facts["inputs"]],
        )  # fmt: skip


class SaleUnitInput(graphene.InputObjectType):
    unit = graphene.String(required=True)
    pack_kg = graphene.String(required=True)
    price = graphene.String(required=True)
    units = graphene.Int(required=True)

    class Meta:
        name = "ProduceSaleUnitInput"


class CertificationInput(graphene.InputObjectType):
    kind = graphene.String(required=True)
    number = graphene.String(required=True)
    expires_on = graphene.String(required=True)

    class Meta:
        name = "ProduceCertificationInput"


class LotInput(graphene.InputObjectType):
    partner_id = graphene.ID(required=True)
    code = graphene.String(required=True)
    crop = graphene.String(required=True)
    variety = graphene.String(required=True)
    grade = graphene.String(required=True)
    harvest_date = graphene.String(required=True)
    origin_village = graphene.String(required=True)
    latitude = graphene.String(required=True)
    longitude = graphene.String(required=True)
    quantity_kg = graphene.String(required=True)
    sale_units = graphene.List(graphene.NonNull(SaleUnitInput), required=True)
    certifications = graphene.List(graphene.NonNull(CertificationInput))
    household_ids = graphene.List(graphene.NonNull(graphene.ID))
    gtin = graphene.String()

    class Meta:
        name = "ProduceLotInput"


def _pk(value: Any) -> int:
    """An ID argument as a primary key (0, which matches nothing, for anything that is not one)."""
    return int(value) if str(value).isdigit() else 0


def _partner(user: Any, partner_id: Any):
    partner = (
        services.cooperatives_for(user).filter(pk=partner_id).first() if str(partner_id).isdigit() else None
    )
    if partner is None:
        raise PermissionDenied("只有本合作社成员可以操作")
    return partner


class ProduceLotCreate(BaseMutation):
    class Meta:
        permissions = (perms.PARTNER,)

    lot = graphene.Field(LotType)

    class Arguments:
        input = LotInput(required=True)

    @classmethod
    def perform(cls, info, input):
        user = info.context.user
        partner = _partner(user, input.partner_id)
        data = services.LotInput(
            code=input.code, crop=input.crop, variety=input.variety, grade=input.grade,
            harvest_date=input.harvest_date, origin_village=input.origin_village, latitude=input.latitude,
            longitude=input.longitude, quantity_kg=input.quantity_kg,
            sale_units=[dict(u) for u in input.sale_units], certifications=[dict(c) for c in input.certifications or []],
            household_ids=list(input.household_ids or []), gtin=input.gtin or "",
        )  # fmt: skip
        return {"lot": _lot(services.create_lot(user, partner, data))}


class SlotInput(graphene.InputObjectType):
    kind = graphene.String(required=True)
    day = graphene.String(required=True)
    start = graphene.String(required=True)
    end = graphene.String(required=True)
    place_name = graphene.String()
    place_address = graphene.String()

    class Meta:
        name = "ProduceSlotInput"


class ProduceRoundOpen(BaseMutation):
    class Meta:
        permissions = (perms.PARTNER,)

    round = graphene.Field(RoundType)

    class Arguments:
        partner_id = graphene.ID(required=True)
        title = graphene.String(required=True)
        cutoff_at = graphene.DateTime(required=True)
        lot_ids = graphene.List(graphene.NonNull(graphene.ID), required=True)
        slots = graphene.List(graphene.NonNull(SlotInput), required=True)

    @classmethod
    def perform(cls, info, partner_id, title, cutoff_at, lot_ids, slots):
        user = info.context.user
        partner = _partner(user, partner_id)
        ids = [int(x) for x in lot_ids if str(x).isdigit()]
        rnd = services.open_round(user, partner, title, cutoff_at, ids, [dict(s) for s in slots])
        return {"round": _round(rnd)}


class LineInput(graphene.InputObjectType):
    sale_unit_id = graphene.ID(required=True)
    quantity = graphene.Int(required=True)

    class Meta:
        name = "ProduceLineInput"


class AddressInput(graphene.InputObjectType):
    province = graphene.String()
    city = graphene.String()
    district = graphene.String()
    street = graphene.String()
    contact_name = graphene.String(required=True)
    contact_phone = graphene.String(required=True)
    invoice_title = graphene.String()
    invoice_tax_id = graphene.String()

    class Meta:
        name = "ProduceAddressInput"


class ProduceCheckout(BaseMutation):
    """Pay and order. Card: ``stripeToken`` (Stripe.js createToken). Returns the order, or
    ``nextActionType`` / ``clientSecret`` when the payer still has to act (then
    ``produceCheckoutResume``). A payment that cannot become an order is voided by the service."""

    class Meta:
        permissions = (perms.AUTHENTICATED,)

    order = graphene.Field(OrderType)
    next_action_type = graphene.String()
    next_action_url = graphene.String()
    client_secret = graphene.String()

    class Arguments:
        round_id = graphene.ID(required=True)
        slot_id = graphene.ID(required=True)
        lines = graphene.List(graphene.NonNull(LineInput), required=True)
        address = AddressInput(required=True)
        online_type = graphene.String(required=True)
        stripe_token = graphene.String()
        idempotency_key = graphene.String(required=True)

    @classmethod
    def mutate(cls, root: Any, info: Any, **data: Any):
        """Not one transaction around the payment: the checkout record of a voided authorisation
        must stay (audit), and the service runs its own transactions around the stock."""
        try:  # the declared permissions were checked by BaseMutation's resolver
            result = cls.perform(info, **data)
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
            return cls.failure(errors_from_exception(exc))
        return cls(errors=[], **result)

    @classmethod
    def perform(cls, info, round_id, slot_id, lines, address, online_type, idempotency_key, stripe_token=""):
        user = info.context.user
        rnd = Round.objects.get(pk=_pk(round_id))
        quantities = {int(ln.sale_unit_id): ln.quantity for ln in lines if str(ln.sale_unit_id).isdigit()}
        result = services.start_checkout(
            user, rnd, quantities, _pk(slot_id),
            services.Address(**{k: (address.get(k) or "") for k in services.Address.__dataclass_fields__}),
            online_type, f"produce:checkout:{user.pk}:{idempotency_key[:64]}", token=stripe_token or "",
        )  # fmt: skip
        action = result.next_action or {}
        return {
            "order": _order(result.order) if result.order else None,
            "next_action_type": action.get("type"),
            "next_action_url": action.get("url"),
            "client_secret": result.client_secret or None,
        }


class ProduceCheckoutResume(BaseMutation):
    """The payer finished 3-D Secure / scanned the QR code / came back from Alipay: place the order."""

    class Meta:
        permissions = (perms.AUTHENTICATED,)

    order = graphene.Field(OrderType)
    next_action_type = graphene.String()
    client_secret = graphene.String()

    class Arguments:
        idempotency_key = graphene.String(required=True)

    @classmethod
    def perform(cls, info, idempotency_key):
        user = info.context.user
        result = services.resume_checkout(user, f"produce:checkout:{user.pk}:{idempotency_key[:64]}")
        return {
            "order": _order(result.order) if result.order else None,
            "next_action_type": (result.next_action or {}).get("type"),
            "client_secret": result.client_secret or None,
        }


class ProduceOrderCancel(BaseMutation):
    class Meta:
        permissions = (perms.AUTHENTICATED,)

    order = graphene.Field(OrderType)

    class Arguments:
        order_id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, order_id):
        user = info.context.user
        po = services.orders_for_buyer(user).get(pk=_pk(order_id))
        return {"order": _order(services.cancel_order(user, po))}


class ProduceOrderPack(BaseMutation):
    class Meta:
        permissions = (perms.PARTNER,)

    order = graphene.Field(OrderType)

    class Arguments:
        order_id = graphene.ID(required=True)

    @classmethod
    def perform(cls, info, order_id):
        user = info.context.user
        po = services.orders_for_cooperative(user).get(pk=_pk(order_id))
        return {"order": _order(services.mark_packed(user, po))}


class ProduceDeliveryConfirm(BaseMutation):
    class Meta:
        permissions = (perms.PARTNER,)

    order = graphene.Field(OrderType)

    class Arguments:
        order_id = graphene.ID(required=True)
        code = graphene.String(required=True)

    @classmethod
    def perform(cls, info, order_id, code):
        user = info.context.user
        po = services.orders_for_cooperative(user).get(pk=_pk(order_id))
        return {"order": _order(services.confirm_delivery(user, po, code))}


class ProduceOrderRefund(BaseMutation):
    """Refund (part of) a delivered order: operators (any order) or the selling cooperative; the
    same ``services.refund_order`` as the operator page. The same ``idempotencyKey`` refunds once."""

    class Meta:
        permissions = (perms.OPERATOR, perms.PARTNER)

    order = graphene.Field(OrderType)

    class Arguments:
        order_id = graphene.ID(required=True)
        amount = graphene.Decimal(required=True)
        reason = graphene.String(required=True)
        idempotency_key = graphene.String(required=True)

    @classmethod
    def perform(cls, info, order_id, amount, reason, idempotency_key):
        user = info.context.user
        orders = (
            ProduceOrder.objects.all() if perms.is_operator(user) else services.orders_for_cooperative(user)
        )
        po = orders.select_related("round__partner", "order", "payment").get(pk=_pk(order_id))
        return {"order": _order(services.refund_order(user, po, amount, idempotency_key, reason))}


class ProduceBuyerSignUp(BaseMutation):
    class Meta:
        permissions = (perms.PUBLIC,)

    user_id = graphene.ID()

    class Arguments:
        phone = graphene.String(required=True)
        password = graphene.String(required=True)
        name = graphene.String()

    @classmethod
    def perform(cls, info, phone, password, name=""):
        return {"user_id": services.sign_up_buyer(phone, password, name or "").pk}


class ProduceMutations(graphene.ObjectType):
    produce_lot_create = ProduceLotCreate.Field()
    produce_round_open = ProduceRoundOpen.Field()
    produce_checkout = ProduceCheckout.Field()
    produce_checkout_resume = ProduceCheckoutResume.Field()
    produce_order_cancel = ProduceOrderCancel.Field()
    produce_order_pack = ProduceOrderPack.Field()
    produce_delivery_confirm = ProduceDeliveryConfirm.Field()
    produce_order_refund = ProduceOrderRefund.Field()
    produce_buyer_sign_up = ProduceBuyerSignUp.Field()

"""Group-buy business logic. Views, GraphQL and tasks call these; nothing else changes the models."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from oscar.core.loading import get_model

from marketplace.apps.catalogue.services import can_station_buy
from marketplace.apps.order import services as orders
from marketplace.apps.order import statuses as order_status
from marketplace.apps.partner.strategy import is_sellable
from marketplace.core import db, permissions, ratelimits
from marketplace.core.extensions import AcceptedLine, DeliveryRequest, PlanLine
from marketplace.core.money import format_cny
from marketplace.core.sms import send_sms
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentMethod, PaymentStatus
from marketplace.stations.models import Household, Station

from . import access
from .models import (
    Campaign,
    CampaignItem,
    CampaignStatus,
    DeliveryLine,
    DeliveryStatus,
    Pickup,
    PickupEvent,
    PickupStatus,
    Pledge,
    PledgeStatus,
    PriceTier,
    StationDelivery,
)

ONLINE_TYPES = ("card", "wechat_pay", "alipay")


def _error(field: str | None, message: str, code: str = "invalid") -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


# --- Campaign set-up and approval ---------------------------------------------------------------


@dataclass
class ItemSpec:
    product_id: int
    base_price: Decimal
    tiers: list[tuple[int, Decimal]] = field(default_factory=list)  # (min total quantity, unit price)


#: The campaign's own fields that create_campaign / update_campaign write (and their defaults).
CAMPAIGN_FIELDS = (
    "title",
    "cutoff_at",
    "delivery_from",
    "delivery_until",
    "min_total_quantity",
    "max_total_quantity",
    "per_household_limit",
    "commission_rate",
    "uncollected_days",
)
CAMPAIGN_DEFAULTS: dict[str, Any] = {
    "max_total_quantity": None,
    "per_household_limit": 0,
    "commission_rate": Decimal("0"),
    "uncollected_days": 14,
}

#: Campaigns the supplier may still change: drafts (including those sent back for changes).
EDITABLE_STATUSES = (CampaignStatus.DRAFT,)


def _validate_campaign(
    *,
    title: str,
    cutoff_at: datetime,
    delivery_from: date,
    delivery_until: date,
    min_total_quantity: int,
    max_total_quantity: int | None,
    per_household_limit: int,
    commission_rate: Decimal,
    uncollected_days: int,
    items: list[ItemSpec],
) -> None:
    if not title.strip():
        raise _error("title", gettext("请填写团购名称"), "required")
    if cutoff_at <= timezone.now():
        raise _error("cutoffAt", gettext("截单时间须晚于现在"))
    if delivery_until < delivery_from or delivery_from < timezone.localtime(cutoff_at).date():
        raise _error("deliveryFrom", gettext("配送时间须在截单之后且起止有序"))
    if min_total_quantity < 1:
        raise _error("minTotalQuantity", gettext("成团最低总量须大于零"))
    if max_total_quantity is not None and max_total_quantity < min_total_quantity:
        raise _error("maxTotalQuantity", gettext("供货上限不能小于成团最低总量"))
    if per_household_limit < 0:
        raise _error("perHouseholdLimit", gettext("每户限购不能为负"))
    if not (1 <= uncollected_days <= 90):
        raise _error("uncollectedDays", gettext("逾期未取天数须在 1–90 之间"))
    if not (Decimal("0") <= Decimal(commission_rate) <= Decimal("30")):
        raise _error("commissionRate", gettext("佣金比例须在 0–30% 之间"))
    if not items:
        raise _error("items", gettext("至少需要一个商品"), "required")
    if len({spec.product_id for spec in items}) != len(items):
        raise _error("items", gettext("同一商品只能出现一次"))


def _write_items(campaign: Campaign, partner: Any, items: list[ItemSpec]) -> None:
    StockRecord = get_model("partner", "StockRecord")
    for spec in items:
        record = StockRecord.objects.filter(partner=partner, product_id=spec.product_id).first()
        if record is None:
            raise _error("items", gettext("商品不属于该供应商或无库存记录"))
        if not is_sellable(record):
            raise _error("items", gettext("该商品当前不可销售（审核或资质证照未通过）"), "invalid_state")
        base = payments.money(spec.base_price)
        if base <= 0:
            raise _error("items", gettext("原价须大于零"))
        item = CampaignItem.objects.create(
            campaign=campaign, product_id=spec.product_id, stockrecord=record, base_price=base
        )
        last = base
        thresholds: set[int] = set()
        for threshold, price in sorted(spec.tiers):
            price = payments.money(price)
            if threshold < 1 or price <= 0 or price > last or threshold in thresholds:
                raise _error("items", gettext("阶梯价须随数量递减且大于零"))
            thresholds.add(threshold)
            last = price
            PriceTier.objects.create(item=item, min_quantity=threshold, unit_price=price)


@transaction.atomic
def create_campaign(
    actor: Any,
    *,
    partner: Any,
    title: str,
    cutoff_at: datetime,
    delivery_from: date,
    delivery_until: date,
    min_total_quantity: int,
    items: list[ItemSpec],
    per_household_limit: int = 0,
    max_total_quantity: int | None = None,
    commission_rate: Decimal = Decimal("0"),
    uncollected_days: int = 14,
    description: str = "",
    station_ids: list[int] | None = None,
    county_ids: list[int] | None = None,
    submit: bool = True,
) -> Campaign:
    """A supplier (for its own partner) or an operator sets up a campaign: submitted for approval
    (``pending``) at once, or kept as a ``draft`` to edit, preview and submit later (pages)."""
    if not permissions.can_manage_partner(actor, partner):
        raise PermissionDenied(gettext("只能为本企业发起团购"))
    given = locals()
    fields = {k: given[k] for k in CAMPAIGN_FIELDS}
    _validate_campaign(items=items, **fields)
    campaign = Campaign.objects.create(
        description=description,
        partner=partner,
        created_by=actor,
        status=CampaignStatus.PENDING if submit else CampaignStatus.DRAFT,
        **(fields | {"title": title.strip()}),
    )
    _write_items(campaign, partner, items)
    if station_ids:
        campaign.stations.set(station_ids)
    if county_ids:
        campaign.counties.set(county_ids)
    return campaign


@transaction.atomic
def update_campaign(actor: Any, campaign: Campaign, **spec: Any) -> Campaign:
    """Change a draft (new or sent back for changes): every field, its items and tiers. ``spec``
    takes the same keyword arguments as :func:`create_campaign` (without ``partner``/``submit``)."""
    if not access.managed_campaigns(actor).filter(pk=campaign.pk).exists():
        raise PermissionDenied(gettext("只能修改本企业的团购"))
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in EDITABLE_STATUSES:
        raise _error(None, gettext("只有草稿可以修改"), "invalid_state")
    unknown = set(spec) - {*CAMPAIGN_FIELDS, "items", "description", "station_ids", "county_ids"}
    if unknown:
        raise TypeError(f"update_campaign() got unexpected arguments {sorted(unknown)}")
    fields = {k: spec.get(k, CAMPAIGN_DEFAULTS.get(k)) for k in CAMPAIGN_FIELDS}
    items = spec.get("items") or []
    _validate_campaign(items=items, **fields)
    for key, value in (
        fields | {"title": fields["title"].strip(), "description": spec.get("description", "")}
    ).items():
        setattr(campaign, key, value)
    campaign.save()
    PriceTier.objects.filter(item__campaign=campaign).delete()
    campaign.items.all().delete()  # a draft has no pledges
    _write_items(campaign, campaign.partner, items)
    campaign.stations.set(spec.get("station_ids") or [])
    campaign.counties.set(spec.get("county_ids") or [])
    return campaign


@transaction.atomic
def submit_campaign(actor: Any, campaign: Campaign) -> Campaign:
    """The supplier sends a draft to the operators for approval."""
    if not access.managed_campaigns(actor).filter(pk=campaign.pk).exists():
        raise PermissionDenied(gettext("只能提交本企业的团购"))
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status not in EDITABLE_STATUSES:
        raise _error(None, gettext("只有草稿可以提交审核"), "invalid_state")
    if campaign.cutoff_at <= timezone.now():
        raise _error("cutoffAt", gettext("截单时间须晚于现在"))
    if not campaign.items.exists():
        raise _error("items", gettext("至少需要一个商品"), "required")
    campaign.status = CampaignStatus.PENDING
    campaign.save(update_fields=["status"])
    return campaign


#: Operator decisions on a pending campaign → the status it moves to.
REVIEW_DECISIONS = {
    "approve": CampaignStatus.OPEN,
    "reject": CampaignStatus.REJECTED,
    "changes": CampaignStatus.DRAFT,  # sent back to the supplier to change and submit again
}


@transaction.atomic
def review_campaign(
    actor: Any, campaign: Campaign, approve: bool | None = None, note: str = "", decision: str = ""
) -> Campaign:
    """Operator review of a pending campaign: approve (it opens for pledges), reject (final, with
    a reason) or request changes (back to draft with the note)."""
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以审核团购"))
    decision = decision or ("approve" if approve else "reject")
    if decision not in REVIEW_DECISIONS:
        raise _error("decision", gettext("未知审核结果"))
    note = (note or "").strip()
    if decision != "approve" and not note and not (decision == "reject" and approve is False):
        raise _error("note", gettext("请填写原因或修改意见"), "required")
    campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if campaign.status != CampaignStatus.PENDING:
        raise _error(None, gettext("该团购不在待审核状态"), "invalid_state")
    if decision == "approve":
        if campaign.cutoff_at <= timezone.now():
            raise _error(None, gettext("截单时间已过，无法开放"), "invalid_state")
        _check_sellable(campaign)
    campaign.status = REVIEW_DECISIONS[decision]
    campaign.approved_by = actor
    campaign.approved_at = timezone.now()
    campaign.review_note = note[:255]
    campaign.save(update_fields=["status", "approved_by", "approved_at", "review_note"])
    return campaign


def _check_sellable(campaign: Campaign) -> None:
    """Only what may be sold opens: an approved supplier, stock not blocked for licences."""

    if not campaign.partner.is_verified:
        raise _error(None, gettext("供应商尚未通过审核，不能开放团购"), "invalid_state")
    blocked = [
        item.product.title
        for item in campaign.items.select_related("stockrecord__partner", "stockrecord__product", "product")
        if not is_sellable(item.stockrecord)
    ]
    if blocked:
        raise _error(
            "items",
            gettext("以下商品当前不可销售（资质不符或未上架）：%(items)s")
            % {"items": gettext("、").join(blocked)},
            "not_allowed",
        )


def request_close(actor: Any, campaign: Campaign) -> Campaign:
    """An operator closes an open campaign now (before its cutoff) or resumes an unfinished close:
    the close runs as the background task (in-process without a broker); pages show its phase."""
    if not permissions.is_operator(actor):
        raise PermissionDenied(gettext("只有平台运营可以手动结算团购"))
    campaign = Campaign.objects.get(pk=campaign.pk)
    if campaign.status not in (CampaignStatus.OPEN, CampaignStatus.CLOSING):
        raise _error(None, gettext("该团购不能结算"), "invalid_state")
    from . import tasks

    transaction.on_commit(lambda: tasks.close_campaign.delay(campaign.pk, force=True))
    return campaign


CLOSE_PHASES = {
    "": gettext_lazy("未开始"),
    "pricing": gettext_lazy("计算成交价"),
    "settle": gettext_lazy("生成订单与结算"),
    "purchase_orders": gettext_lazy("生成采购单"),
    "release": gettext_lazy("退款与释放"),
    "finish": gettext_lazy("发送通知"),
    "done": gettext_lazy("已完成"),
}


def close_status(campaign: Campaign) -> dict[str, Any]:
    """What the close page shows: the persisted phase and how many chunks are done."""
    return {
        "phase": campaign.close_phase,
        "label": CLOSE_PHASES.get(campaign.close_phase, campaign.close_phase),
        "steps_done": campaign.close_steps.count(),
        "running": campaign.status == CampaignStatus.CLOSING,
        "closed_at": campaign.closed_at,
    }


# --- Prices and progress ------------------------------------------------------------------------


def tiers_of(item: CampaignItem) -> list[tuple[int, Decimal]]:
    """(threshold, price) ascending, starting with (0, base price)."""
    tiers = getattr(item, "_prefetched_objects_cache", {}).get("tiers")
    rows = list(tiers) if tiers is not None else list(item.tiers.all())
    return [(0, item.base_price)] + [
        (t.min_quantity, t.unit_price) for t in sorted(rows, key=lambda t: t.min_quantity)
    ]


def price_at(item: CampaignItem, total: int) -> tuple[int, Decimal]:
    """(tier index, unit price) for a campaign total; tier 0 is the base price."""
    index, price = 0, item.base_price
    for i, (threshold, unit) in enumerate(tiers_of(item)):
        if total >= threshold:
            index, price = i, unit
    return index, price


def campaign_progress(
    campaign: Campaign, now: datetime | None = None, items: Sequence[CampaignItem] | None = None
) -> dict[str, Any]:
    """What every pledge screen shows: current tier, quantity to the next tier and to the minimum,
    time left. ``items``: the campaign's items when the caller loaded them (else ``items.all()``)."""
    now = now or timezone.now()
    total = campaign.total_quantity
    rows = []
    for item in campaign.items.all() if items is None else items:
        tiers = tiers_of(item)
        index, price = price_at(item, total)
        next_tier = tiers[index + 1] if index + 1 < len(tiers) else None
        rows.append(
            {
                "item": item,
                "tier_index": index,
                "tier_count": len(tiers) - 1,
                "unit_price": price,
                "next_threshold": next_tier[0] if next_tier else None,
                "next_price": next_tier[1] if next_tier else None,
                "to_next_tier": (next_tier[0] - total) if next_tier else 0,
                "tiers": tiers,
            }
        )
    seconds = max(int((campaign.cutoff_at - now).total_seconds()), 0)
    is_open = campaign.status == CampaignStatus.OPEN and seconds > 0
    return {
        "campaign_id": campaign.pk,
        "status": campaign.status,
        "status_label": campaign.get_status_display(),
        # Live while pledges are taken; afterwards the widget shows the result, not time left.
        "is_open": is_open,
        "awaiting_close": campaign.status == CampaignStatus.OPEN and seconds == 0,
        "total_quantity": total,
        "min_total_quantity": campaign.min_total_quantity,
        "to_minimum": max(campaign.min_total_quantity - total, 0),
        "reached_minimum": total >= campaign.min_total_quantity,
        "percent_of_minimum": min(100, int(total * 100 / campaign.min_total_quantity)),
        "seconds_left": seconds,
        "time_left": _duration(seconds),
        "items": rows,
    }


def items_for_pledge(item_id: int | str) -> tuple[CampaignItem, list[CampaignItem]]:
    """The item a pledge is for and all items of its campaign (for the progress shown after it),
    in two statements: the items with their shared campaign, product (and class) and stock record
    (and supplier), then their price tiers. Raises ``CampaignItem.DoesNotExist``."""
    items = list(
        CampaignItem.objects.filter(campaign__items=item_id)
        .select_related("campaign", "product__product_class", "stockrecord__partner")
        .prefetch_related("tiers")
    )
    wanted = next((i for i in items if str(i.pk) == str(item_id)), None)
    if wanted is None:
        raise CampaignItem.DoesNotExist
    campaign = wanted.campaign
    for i in items:
        i.campaign = campaign  # one object: its eligibility answers and new total are shared
        if i.stockrecord is not None and i.stockrecord.product_id == i.product_id:
            i.stockrecord.product = i.product  # the sellable rule reads it; no second join
    return wanted, items


def _duration(seconds: int) -> str:
    if seconds <= 0:
        return gettext("已截单")
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return gettext("%(days)s天%(hours)s小时") % {"days": days, "hours": hours}
    if hours:
        return gettext("%(hours)s小时%(minutes)s分") % {"hours": hours, "minutes": minutes}
    return gettext("%(minutes)s分钟") % {"minutes": minutes}


# --- Restricted pesticides ----------------------------------------------------------------------


def check_restricted(item: CampaignItem, household: Household) -> None:
    """May the household's station buy the item's product (the core catalogue rule, e.g. restricted
    pesticides need a licence with restricted scope)? Restricted products also need a real-name
    buyer (ID number on the household)."""
    restricted = bool(getattr(item.product, "restricted_use", False))
    if item.stockrecord_id and not is_sellable(item.stockrecord):
        raise _error("itemId", gettext("该商品当前不可销售（资质证照缺失或过期）"), "invalid_state")
    allowed, reason = can_station_buy(household.station, item.product)
    if not allowed:
        raise _error("itemId", reason, "licence_required" if restricted else "not_allowed")
    if restricted and not household.id_number:
        raise _error(
            "householdId", gettext("购买限制使用农药须登记农户身份证号（实名）"), "real_name_required"
        )


# --- Pledges --------------------------------------------------------------------------------------


#: ``Payment.purpose["kind"]`` of a pending online payment for a pledge.
PLEDGE_PURPOSE = "group_buy_pledge"


class PaymentActionRequired(ValidationError):
    """The online payment waits for the payer (3-D Secure, QR code, redirect); no pledge yet."""

    def __init__(self, payment: Payment) -> None:
        super().__init__(
            {"paymentMethod": ValidationError(gettext("请先完成支付验证"), code="payment_failed")}
        )
        self.payment = payment


def pledge_purpose(item: CampaignItem, quantity: int, key: str) -> dict[str, Any]:
    """What a pending online payment pays for, so the pledge can be completed later."""
    return {
        "kind": PLEDGE_PURPOSE,
        "campaign": item.campaign_id,
        "item": item.pk,
        "quantity": quantity,
        "pledge_key": key,
    }


#: Longest idempotency key a client may send (the stored key adds the actor's scope).
MAX_CLIENT_KEY = 100


def scoped_key(actor: Any, idempotency_key: str = "") -> str:
    """The stored idempotency key of a pledge (and, prefixed ``gb:``, of its payment): the client's
    key scoped to the acting user, so one user's key can never return another's pledge or payment
    (a repeated request by the SAME user returns its own pledge). No key: a fresh random one."""
    key = (idempotency_key or "").strip()
    if len(key) > MAX_CLIENT_KEY or "\x00" in key:
        raise _error("idempotencyKey", gettext("幂等键过长或含非法字符"))
    return f"u{getattr(actor, 'pk', None) or 0}:{key or uuid.uuid4().hex}"


def campaign_open_to(campaign: Campaign, station_id: int) -> bool:
    return access.open_to_stations(campaign, [station_id])


def _household_total(campaign: Campaign, household: Household) -> int:
    return (
        Pledge.objects.filter(campaign=campaign, household=household, status=PledgeStatus.ACTIVE).aggregate(
            s=Sum("quantity")
        )["s"]
        or 0
    )


def _campaign_of(item: CampaignItem) -> Campaign:
    """The item's campaign, read once per request: the one loaded with the item when the caller
    did (GraphQL and pages select it), else one query."""
    return item.campaign


def _load_tiers(item: CampaignItem) -> None:
    """Read the item's price tiers once (every later ``price_at`` uses them)."""
    if "tiers" not in getattr(item, "_prefetched_objects_cache", {}):
        prefetch_related_objects([item], "tiers")


def _pledge_with_key(key: str) -> Pledge | None:
    return Pledge.objects.filter(idempotency_key=key).first()


def _check_pledge(
    actor: Any, item: CampaignItem, household: Household, quantity: int, payment_method: str
) -> Campaign:
    """The checks of a pledge that need no lock (``add_pledge`` makes the exact ones); the campaign."""
    if quantity < 1:
        raise _error("quantity", gettext("数量须大于零"))
    if payment_method not in PaymentMethod.values:
        raise _error("paymentMethod", gettext("未知支付方式"))
    if payment_method == PaymentMethod.CASH and not permissions.can_manage_station(
        actor, household.station_id
    ):
        raise _error("paymentMethod", gettext("现金须在站点由信息员收取"))
    campaign = _campaign_of(item)
    if not campaign.is_open():
        raise _error(None, gettext("该团购未开放或已截单"), "invalid_state")
    if not household.is_active or not campaign_open_to(campaign, household.station_id):
        raise _error("householdId", gettext("该团购不面向此农户所在站点"))
    check_restricted(item, household)
    _load_tiers(item)
    return campaign


def place_pledge(
    actor: Any,
    item: CampaignItem,
    household: Household,
    quantity: int,
    payment_method: str,
    *,
    stripe_payment_method: str = "",
    stripe_token: str = "",
    online_type: str = "card",
    return_url: str = "",
    idempotency_key: str = "",
) -> Pledge:
    """Station staff pledge for a household (or a farmer for themself), paying at pledge.

    Checks that need no lock run first (permission, open to the station, restricted products);
    :func:`add_pledge` then writes the pledge, exact under concurrency. The payment is authorised at
    the price the new total reaches; the final price can only be lower (capture never exceeds the
    authorisation). Repeating a request with the same idempotency key (same actor) returns the
    same pledge, also when both copies arrive at once.

    Online (Stripe) payments that need the payer first (3-D Secure, WeChat Pay QR code, Alipay
    redirect) raise :class:`PaymentActionRequired` carrying the pending payment, with no pledge yet;
    :mod:`plugins.group_orders.online` runs that two-step flow.
    """
    if not permissions.can_manage_household(actor, household):
        raise PermissionDenied(gettext("只能为本站点登记的农户认购"))
    key = scoped_key(actor, idempotency_key)
    # A repeated request returns the pledge its key made. Cash and credit need no read for it
    # first: their keyed writes (payment, pledge) meet the first request's rows and the error
    # path below returns its pledge. An online payment looks first: a retry never reaches the
    # gateway again.
    if payment_method == PaymentMethod.STRIPE and (existing := _pledge_with_key(key)) is not None:
        return existing
    try:
        campaign = _check_pledge(actor, item, household, quantity, payment_method)
    except ValidationError:
        if (existing := _pledge_with_key(key)) is not None:  # e.g. retried after the cutoff
            return existing
        raise

    reference = f"GB{campaign.pk}"
    online = None
    if payment_method == PaymentMethod.STRIPE:
        # Authorised before any lock (no network call while holding one), after the same checks
        # add_pledge makes, so a pledge that would be refused is not authorised. The price can only
        # fall while we wait, so the authorisation still covers the final amount.
        _check_limits(campaign, item, household, quantity)
        _, price = price_at(item, campaign.total_quantity + quantity)
        amount = payments.money(price * quantity)
        if not (stripe_payment_method or stripe_token) and online_type == "card":
            raise _error("stripePaymentMethod", gettext("请提供支付凭证"), "required")
        online = payments.authorise_online(
            actor,
            household,
            amount,
            reference,
            f"gb:{key}",
            stripe_payment_method,
            online_type,
            token=stripe_token,
            return_url=return_url,
            purpose=pledge_purpose(item, quantity, key),
        )
        if online.status == PaymentStatus.PENDING:
            raise PaymentActionRequired(online)
        if online.status != PaymentStatus.AUTHORISED:
            raise _error("paymentMethod", gettext("该支付已撤销或失败，请重新认购"), "payment_failed")

    def pay(amount: Decimal) -> Payment:
        if online is not None:
            if amount > online.amount_authorised:  # the total fell meanwhile: price went up
                raise _error(None, gettext("团购价已上涨，请重新认购"), "invalid_state")
            return online
        if payment_method == PaymentMethod.CREDIT:
            return payments.authorise_credit(actor, household, amount, reference, f"gb:{key}")
        return payments.record_cash(actor, household, amount, reference, f"gb:{key}")

    def write(expected_total: int | None) -> Pledge:
        with transaction.atomic():
            return add_pledge(
                campaign.pk,
                item,
                household,
                quantity,
                placed_by_id=actor.pk,
                payment_method=payment_method,
                key=key,
                pay=pay,
                expected_total=expected_total,
            )

    try:
        try:
            pledge = write(campaign.total_quantity + quantity)
        except TierMoved:
            pledge = write(None)  # a tier threshold moved under us: price under the row lock
    except (ValidationError, PermissionDenied, IntegrityError) as exc:
        if not isinstance(exc, PermissionDenied):
            # The same request arrived twice at once: the other copy's pledge (same scoped key) made
            # this one fail (unique key, or "already pledged" once the other had committed).
            existing = _pledge_with_key(key)
            if existing is not None:
                if online is not None and existing.payment_id != online.pk:
                    with transaction.atomic():
                        payments.void(online, "认购未成功")
                return existing
        if online is not None:
            with transaction.atomic():  # void locks the payment row
                payments.void(online, "认购未成功")
        if isinstance(exc, IntegrityError):
            raise _error("itemId", gettext("该农户已认购此商品，请先撤销原认购"), "unique") from exc
        raise
    return pledge


def _cap_error(campaign: Campaign) -> ValidationError:
    left = (campaign.max_total_quantity or 0) - campaign.total_quantity
    return _error("quantity", gettext("超出供货上限，剩余 %(left)s") % {"left": max(left, 0)}, "out_of_stock")


def _check_limits(campaign: Campaign, item: CampaignItem, household: Household, quantity: int) -> None:
    """The pledge limits as a check without locks (an early refusal before a card is authorised);
    :func:`add_pledge` enforces the same limits exactly."""
    if (
        campaign.per_household_limit
        and _household_total(campaign, household) + quantity > campaign.per_household_limit
    ):
        raise _household_limit_error(campaign)
    if (
        campaign.max_total_quantity is not None
        and campaign.total_quantity + quantity > campaign.max_total_quantity
    ):
        raise _cap_error(campaign)
    if Pledge.objects.filter(item=item, household=household, cancelled_at__isnull=True).exists():
        raise _error("itemId", gettext("该农户已认购此商品，请先撤销原认购"), "unique")


def _household_limit_error(campaign: Campaign) -> ValidationError:
    return _error(
        "quantity",
        gettext("每户限购 %(limit)s") % {"limit": campaign.per_household_limit},
        "limit_exceeded",
    )


class TierMoved(Exception):
    """:func:`add_pledge` with ``expected_total``: the campaign total reached by the increment
    prices the pledge at another tier than the one it was written at. The caller's savepoint rolls
    the attempt back; the retry (``expected_total=None``) prices under the row lock."""


def _move_campaign_total(campaign_id: int, quantity: int) -> int | None:
    """THE campaign-total rule, one statement: add ``quantity`` if the campaign is open, before its
    cutoff and within its supply cap; the new total, or None when refused. The row stays locked by
    this UPDATE until the transaction ends, so callers run it as late as they can."""
    table = Campaign._meta.db_table
    total = Campaign._meta.get_field("total_quantity").column
    cap = Campaign._meta.get_field("max_total_quantity").column
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {total} = {total} + %s "  # noqa: S608 (identifiers from the model)
            f"WHERE id = %s AND status = %s AND cutoff_at > %s AND ({cap} IS NULL OR {total} + %s <= {cap}) "
            f"RETURNING {total}",
            [quantity, campaign_id, CampaignStatus.OPEN, now, quantity],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def add_pledge(
    campaign_id: int,
    item: CampaignItem,
    household: Household,
    quantity: int,
    *,
    placed_by_id: int | None,
    payment_method: str,
    key: str,
    pay: Callable[[Decimal], Payment],
    expected_total: int | None = None,
) -> Pledge:
    """The one place a pledge is written, inside the caller's transaction. Exact under concurrency
    without a lock held across the request:

    * one active pledge per household and item: checked, and backed by the unique constraint;
    * per-household limit: the household's row is locked (only that household's own concurrent
      pledges wait) while its total is checked;
    * open, before the cutoff, within the supply cap, and the campaign total: ONE conditional
      ``UPDATE … SET total = total + q WHERE … AND total + q <= cap RETURNING total``
      (:func:`_move_campaign_total`); the pledge is priced at the tier that new total reaches.

    ``expected_total`` (the total the caller expects the increment to reach): payment and pledge
    are written first at that total's price, and the UPDATE comes last, so the campaign row is
    locked only for the item total and the commit. If the real new total prices another tier,
    :class:`TierMoved` is raised (roll back and call again without it). Without it, the UPDATE
    comes first and the price is taken under the row lock.
    """
    campaign = item.campaign if CampaignItem.campaign.is_cached(item) else None  # type: ignore[attr-defined]
    if campaign is not None:
        limit = campaign.per_household_limit
    else:
        limit = Campaign.objects.values_list("per_household_limit", flat=True).get(pk=campaign_id)
    already = Q(item=item, cancelled_at__isnull=True)
    if limit:
        # Lock first, then read: a statement after the lock sees the other pledges it waited for.
        db.lock_row(Household, household.pk)
        mine = Pledge.objects.filter(campaign_id=campaign_id, household=household).aggregate(
            taken=Count("pk", filter=already), held=Sum("quantity", filter=Q(status=PledgeStatus.ACTIVE))
        )
        taken, held = mine["taken"], mine["held"] or 0
    else:
        taken, held = Pledge.objects.filter(already, household=household).exists(), 0
    if taken:
        raise _error("itemId", gettext("该农户已认购此商品，请先撤销原认购"), "unique")
    if limit and held + quantity > limit:
        raise _error("quantity", gettext("每户限购 %(limit)s") % {"limit": limit}, "limit_exceeded")

    def refused() -> ValidationError:
        current = Campaign.objects.get(pk=campaign_id)
        if not current.is_open():
            return _error(None, gettext("该团购未开放或已截单"), "invalid_state")
        return _cap_error(current)

    if expected_total is None:
        new_total = _move_campaign_total(campaign_id, quantity)
        if new_total is None:
            raise refused()
        _, price = price_at(item, new_total)
    else:
        _, price = price_at(item, expected_total)
    payment = pay(payments.money(price * quantity))
    pledge = Pledge.objects.create(
        campaign_id=campaign_id,
        item=item,
        household=household,
        station_id=household.station_id,
        placed_by_id=placed_by_id,
        quantity=quantity,
        unit_price_at_pledge=price,
        payment=payment,
        payment_method=payment_method,
        idempotency_key=key,
    )
    if expected_total is not None:
        new_total = _move_campaign_total(campaign_id, quantity)
        if new_total is None:
            raise refused()
        if price_at(item, new_total)[1] != price:
            raise TierMoved(new_total)
    db.add_to(CampaignItem, item.pk, total_quantity=quantity)
    if campaign is not None:  # what the caller shows as progress (the row is ours until commit)
        campaign.total_quantity = new_total
    item.total_quantity += quantity
    return pledge


def cancel_pledge(actor: Any, pledge: Pledge) -> Pledge:
    """Cancel before the cutoff: totals go down, the payment is voided (cash owed back at the station)."""
    if not permissions.can_manage_household(actor, pledge.household):
        raise PermissionDenied(gettext("无权撤销该认购"))
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=pledge.campaign_id)
        pledge = Pledge.objects.select_for_update().get(pk=pledge.pk)
        if pledge.status != PledgeStatus.ACTIVE:
            raise _error(None, gettext("该认购已不能撤销"), "invalid_state")
        if not campaign.is_open():
            raise _error(None, gettext("已截单，不能撤销"), "invalid_state")
        pledge.status = PledgeStatus.CANCELLED
        pledge.cancelled_at = timezone.now()
        pledge.save(update_fields=["status", "cancelled_at"])
        Campaign.objects.filter(pk=campaign.pk).update(total_quantity=F("total_quantity") - pledge.quantity)
        CampaignItem.objects.filter(pk=pledge.item_id).update(
            total_quantity=F("total_quantity") - pledge.quantity
        )
    if pledge.payment_id:
        with transaction.atomic():  # void locks the payment row
            payments.void(pledge.payment, "撤销认购")
    return pledge


# --- Fulfilment ------------------------------------------------------------------------------------


def mark_shipped(actor: Any, delivery: StationDelivery) -> StationDelivery:
    if not (
        permissions.is_operator(actor)
        or permissions.can_manage_partner(actor, delivery.purchase_order.partner)
    ):
        raise PermissionDenied(gettext("只有供应商可以登记发货"))
    with transaction.atomic():
        delivery = StationDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status != DeliveryStatus.PENDING:
            return delivery
        delivery.status = DeliveryStatus.SHIPPED
        delivery.shipped_at = timezone.now()
        delivery.save(update_fields=["status", "shipped_at"])
        move_station_orders(delivery.campaign_id, delivery.station_id, order_status.SHIPPED, actor)
    station = delivery.station
    send_sms(
        station.phone,
        f"【益农直采】团购货物已发往{station.name}，请注意收货。",
        f"gb-delivery:{delivery.pk}:shipped",
    )
    return delivery


def receive_delivery(
    actor: Any, delivery: StationDelivery, counts: dict[int, tuple[int, int]], notes: str = ""
) -> StationDelivery:
    """Station staff record what arrived: ``counts`` maps campaign item id → (received, damaged)."""
    if not permissions.can_manage_station(actor, delivery.station_id):
        raise PermissionDenied(gettext("只能为本站点收货"))
    with transaction.atomic():
        delivery = StationDelivery.objects.select_for_update().get(pk=delivery.pk)
        if delivery.status == DeliveryStatus.RECEIVED:
            raise _error(None, gettext("该批货物已收货"), "invalid_state")
        lines = {line.item_id: line for line in delivery.lines.select_for_update()}
        for item_id, line in lines.items():
            received, damaged = counts.get(item_id, (line.expected, 0))
            if received < 0 or damaged < 0 or received > line.expected or damaged > received:
                raise _error(
                    "counts",
                    gettext("%(item)s: 实到须在 0–%(expected)s 之间，破损不超过实到")
                    % {"item": line.item_id, "expected": line.expected},
                )
            line.received, line.damaged = received, damaged
            line.save(update_fields=["received", "damaged"])
        delivery.status = DeliveryStatus.RECEIVED
        delivery.received_at = timezone.now()
        delivery.received_by = actor
        delivery.notes = notes[:255]
        delivery.save(update_fields=["status", "received_at", "received_by", "notes"])
        pickups = Pickup.objects.filter(
            campaign_id=delivery.campaign_id,
            station_id=delivery.station_id,
            status=PickupStatus.AWAITING_DELIVERY,
        )
        ready = list(pickups.select_related("household").only("pk", "code", "order", "household__phone"))
        pickups.update(status=PickupStatus.READY, ready_at=delivery.received_at)
        move_station_orders(delivery.campaign_id, delivery.station_id, order_status.AT_STATION, actor)
    station = delivery.station
    for pickup in ready:
        send_sms(
            pickup.household.phone,
            f"【益农直采】您的团购农资已到{station.name}，取货码 {pickup.code}，营业时间 {station.opening_hours}。",
            f"gb-pickup:{pickup.pk}:ready",
        )
    return delivery


def move_station_orders(campaign_id: int, station_id: int, target: str, actor: Any = None) -> int:
    """The group-buy orders of one station in a campaign move along Oscar's order pipeline (the
    one service the supplier's "shipped" and the station's "received" actions call)."""
    Order = get_model("order", "Order")
    return orders.change_status(
        Order.objects.filter(
            pk__in=Pickup.objects.filter(campaign_id=campaign_id, station_id=station_id).values("order_id")
        ).order_by("pk"),
        target,
        user=actor,
    )


def station_stock(campaign_id: int, station_id: int, item_id: int) -> int:
    """Usable goods of an item still at the station: received − damaged − collected."""
    usable = (
        DeliveryLine.objects.filter(
            delivery__campaign_id=campaign_id,
            delivery__station_id=station_id,
            item_id=item_id,
            delivery__status=DeliveryStatus.RECEIVED,
        ).aggregate(s=Sum(F("received") - F("damaged")))["s"]
        or 0
    )
    collected = (
        Pledge.objects.filter(campaign_id=campaign_id, station_id=station_id, item_id=item_id).aggregate(
            s=Sum("collected_quantity")
        )["s"]
        or 0
    )
    return usable - collected


def find_pickups(actor: Any, code: str) -> list[Pickup]:
    """Open pickups matching a 6-digit code at the stations the actor manages."""
    code = (code or "").strip()
    if len(code) != 6 or not code.isdigit():
        raise _error("code", gettext("取货码为6位数字"))
    miss = ratelimits.pickup_code_guard(actor)
    found = list(
        access.managed_pickups(actor)
        .filter(code=code, status__in=(PickupStatus.READY, PickupStatus.PARTIAL))
        .select_related("household", "station", "campaign")
    )
    if not found:
        miss()
    return found


def collect(
    actor: Any, pickup: Pickup, code: str, quantities: dict[int, int] | None = None, idempotency_key: str = ""
) -> list[PickupEvent]:
    """Hand goods to the household after staff verified the pickup code. Partial pickups allowed;
    each collected unit credits the station's commission in the ledger."""
    if not access.managed_pickups(actor).filter(pk=pickup.pk).exists():
        raise PermissionDenied(gettext("只能在本站点发放货物"))
    key = idempotency_key or uuid.uuid4().hex
    events: list[PickupEvent] = []
    miss = ratelimits.pickup_code_guard(actor)
    with transaction.atomic():
        pickup = Pickup.objects.select_for_update().select_related("campaign").get(pk=pickup.pk)
        if pickup.code != (code or "").strip():
            miss()
            raise _error("code", gettext("取货码不正确"))
        if pickup.status not in (PickupStatus.READY, PickupStatus.PARTIAL):
            raise _error(None, gettext("货物尚未到站或已取完"), "invalid_state")
        pledges = list(
            Pledge.objects.select_for_update().filter(
                campaign_id=pickup.campaign_id,
                household_id=pickup.household_id,
                status=PledgeStatus.CONFIRMED,
            )
        )
        wanted = quantities if quantities is not None else {p.pk: p.remaining_quantity for p in pledges}
        by_id = {p.pk: p for p in pledges}
        for pledge_id, qty in wanted.items():
            pledge = by_id.get(int(pledge_id))
            if pledge is None:
                raise _error("quantities", gettext("认购不属于该取货单"))
            event_key = f"{key}:{pledge.pk}"
            if qty <= 0 or PickupEvent.objects.filter(idempotency_key=event_key).exists():
                continue  # a repeated submission (same key) hands out nothing twice
            if qty > pledge.remaining_quantity:
                raise _error(
                    "quantities",
                    gettext("%(item)s: 最多可取 %(remaining)s")
                    % {"item": pledge.item, "remaining": pledge.remaining_quantity},
                )
            if qty > station_stock(pickup.campaign_id, pickup.station_id, pledge.item_id):
                raise _error(
                    "quantities",
                    gettext("%(item)s: 站点库存不足（短缺或破损）") % {"item": pledge.item},
                    "out_of_stock",
                )
            Pledge.objects.filter(pk=pledge.pk).update(collected_quantity=F("collected_quantity") + qty)
            pledge.collected_quantity += qty
            event = PickupEvent.objects.create(
                pickup=pickup, pledge=pledge, quantity=qty, collected_by=actor, idempotency_key=event_key
            )
            events.append(event)
            commission = payments.money(
                qty * (pledge.final_unit_price or 0) * pickup.campaign.commission_rate / Decimal(100)
            )
            payments.credit_commission(
                pickup.station_id,
                commission,
                f"commission:pickup-event:{event.pk}",
                f"GB{pickup.campaign_id}",
                f"团购佣金 {pledge.item} ×{qty}",
            )
        if (
            not events
            and quantities is not None
            and not PickupEvent.objects.filter(idempotency_key__startswith=f"{key}:").exists()
        ):
            raise _error("quantities", gettext("请填写取货数量"))
        remaining = sum(p.remaining_quantity for p in pledges)
        pickup.status = PickupStatus.COLLECTED if remaining == 0 else PickupStatus.PARTIAL
        pickup.save(update_fields=["status"])
        if remaining == 0:
            orders.change_status([pickup.order], order_status.COLLECTED, user=actor)
    return events


def expire_uncollected(now: datetime | None = None) -> int:
    """The uncollected-goods rule: N days (campaign.uncollected_days) after the goods reached the
    station, whatever is still uncollected is forfeited — the household is refunded for it through
    its payment method, the goods stay with the station, and no commission is paid on them."""
    now = now or timezone.now()
    count = 0
    candidates = Pickup.objects.filter(status__in=(PickupStatus.READY, PickupStatus.PARTIAL)).select_related(
        "campaign", "household"
    )
    for pickup in candidates.iterator(chunk_size=500):
        if (
            pickup.ready_at is None
            or pickup.ready_at + timedelta(days=pickup.campaign.uncollected_days) > now
        ):
            continue
        with transaction.atomic():
            locked = Pickup.objects.select_for_update().get(pk=pickup.pk)
            if locked.status not in (PickupStatus.READY, PickupStatus.PARTIAL):
                continue
            refund_total = Decimal("0")
            for pledge in (
                Pledge.objects.select_for_update(of=("self",))
                .filter(
                    campaign_id=pickup.campaign_id,
                    household_id=pickup.household_id,
                    status=PledgeStatus.CONFIRMED,
                )
                .select_related("payment")
            ):
                left = pledge.remaining_quantity
                if left <= 0:
                    continue
                Pledge.objects.filter(pk=pledge.pk).update(forfeited_quantity=F("forfeited_quantity") + left)
                amount = payments.money(left * (pledge.final_unit_price or 0))
                if pledge.payment_id and amount > 0:
                    payments.refund(pledge.payment, amount, f"pledge:{pledge.pk}:forfeit", "逾期未取退款")
                    refund_total += amount
            locked.status = PickupStatus.EXPIRED
            locked.save(update_fields=["status"])
            orders.change_status(
                [locked.order], order_status.REFUNDED, note=f"逾期未取，退款 ¥{payments.money(refund_total)}"
            )
        send_sms(
            pickup.household.phone,
            f"【益农直采】您在团购“{pickup.campaign.title}”中的农资逾期未取，已退款 ¥{refund_total}。",
            f"gb-pickup:{pickup.pk}:expired",
        )
        count += 1
    return count


def pending_cash_refunds(actor: Any, station: Station) -> Any:
    from marketplace.payments.models import Refund, RefundStatus

    if not permissions.can_manage_station(actor, station):
        raise PermissionDenied(gettext("无权查看该站点"))
    return Refund.objects.filter(
        payment__station=station, payment__method=PaymentMethod.CASH, status=RefundStatus.PENDING
    ).select_related("payment__household")


def station_pledges(actor: Any, campaign: Campaign, station: Station) -> Any:
    if not (permissions.is_operator(actor) or permissions.can_manage_station(actor, station)):
        raise PermissionDenied(gettext("只能查看本站点的认购"))
    return (
        Pledge.objects.filter(campaign=campaign, station=station)
        .exclude(status=PledgeStatus.CANCELLED)
        .select_related("household", "item__product", "payment")
        .order_by("household__name", "household_id", "item_id")
    )


def pledge_final_amount(pledge: Pledge, item: CampaignItem) -> Decimal:
    """What a pledge pays at the close: the final tier price, never above the price it was
    authorised at (``sql.PRICE`` is the same rule for the set-based close)."""
    return payments.money(pledge.quantity * min(item.final_unit_price, pledge.unit_price_at_pledge))


def lapsed_pledges(
    actor: Any, station: Station | None = None, campaign: Campaign | None = None
) -> list[Pledge]:
    """Pledges of the actor's stations whose online payment lapsed at a successful close: the station
    may take cash instead (``closing.take_cash``). Each carries ``cash_due``, the amount to take."""
    qs = Pledge.objects.filter(
        status=PledgeStatus.UNPAID,
        campaign__status=CampaignStatus.SUCCEEDED,
        station__in=permissions.managed_stations(actor),
    )
    if station is not None:
        qs = qs.filter(station=station)
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    rows = list(
        qs.select_related("household", "item__product", "campaign").order_by(
            "campaign_id", "household__name", "pk"
        )[:200]
    )
    for p in rows:
        p.cash_due = pledge_final_amount(p, p.item)  # type: ignore[attr-defined]
    return rows


def households_summary(pledges: Any) -> list[dict[str, Any]]:
    """Group pledges per household for pick lists: quantities, amount due, payment method."""
    out: dict[int, dict[str, Any]] = {}
    for p in pledges:
        row = out.setdefault(
            p.household_id,
            {
                "household": p.household,
                "pledges": [],
                "amount": Decimal("0"),
                "methods": set(),
                "credit_due": Decimal("0"),
            },
        )
        row["pledges"].append(p)
        amount = p.final_amount if p.final_amount is not None else p.unit_price_at_pledge * p.quantity
        row["amount"] += amount
        row["methods"].add(str(PaymentMethod(p.payment_method).label))
        if p.payment_method == PaymentMethod.CREDIT:
            row["credit_due"] += amount
    for row in out.values():
        row["methods"] = gettext("、").join(sorted(row["methods"]))
    return list(out.values())


def my_open_campaigns(user: Any) -> Any:
    return (
        access.campaigns_for(user)
        .open()
        .select_related("partner")
        .prefetch_related("items__product", "items__tiers")
        .order_by("cutoff_at")
    )


def household_of(user: Any) -> Household | None:
    return (
        Household.objects.filter(user=user, is_active=True).select_related("station").first()
        if getattr(user, "is_authenticated", False)
        else None
    )


# --- Extension hooks: loads for the delivery planner, plan lines handed over by other plugins -----

#: kg per unit when a product declares no weight (farm supplies, unparseable pesticide contents).
DEFAULT_UNIT_KG = Decimal("1")
#: Typed attributes that state the kg of one unit, by priority (fertilizer bag, seed bag, produce).
WEIGHT_ATTRIBUTES = ("bag_kg", "net_content_kg", "net_weight_kg")
_CONTENT = re.compile(r"(\d+(?:\.\d+)?)\s*(kg|公斤|千克|g|克|l|升|ml|毫升)", re.IGNORECASE)
_CONTENT_FACTOR = {
    "kg": Decimal("1"),
    "公斤": Decimal("1"),
    "千克": Decimal("1"),
    "l": Decimal("1"),  # liquids: ≈ 1 kg per litre
    "升": Decimal("1"),
    "g": Decimal("0.001"),
    "克": Decimal("0.001"),
    "ml": Decimal("0.001"),
    "毫升": Decimal("0.001"),
}


def _content_kg(text: Any) -> Decimal | None:
    """kg in a free-text net content such as "500ml", "1kg", "200克" (pesticides)."""
    match = _CONTENT.search(str(text or ""))
    if match is None:
        return None
    return Decimal(match.group(1)) * _CONTENT_FACTOR[match.group(2).lower()]


def unit_weights(product_ids: Iterable[int]) -> dict[int, Decimal]:
    """kg per unit of each product, read from the typed attributes in one query: ``bag_kg``
    (fertilizer), ``net_content_kg`` (seed), ``net_weight_kg`` (produce), a pesticide's text
    ``net_content``; else :data:`DEFAULT_UNIT_KG`."""
    ids = sorted(set(product_ids))
    ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
    found: dict[int, dict[str, Any]] = defaultdict(dict)
    for pid, code, as_float, as_text in ProductAttributeValue.objects.filter(
        product_id__in=ids, attribute__code__in=(*WEIGHT_ATTRIBUTES, "net_content")
    ).values_list("product_id", "attribute__code", "value_float", "value_text"):
        found[pid][code] = as_float if as_float is not None else as_text
    out: dict[int, Decimal] = {}
    for pid in ids:
        attrs = found.get(pid, {})
        kg = next((Decimal(str(attrs[c])) for c in WEIGHT_ATTRIBUTES if attrs.get(c) not in (None, "")), None)
        if kg is None:
            kg = _content_kg(attrs.get("net_content"))
        out[pid] = kg if kg is not None and kg > 0 else DEFAULT_UNIT_KG
    return out


def delivery_requests(ready_by: date | None = None, source: str = "group-buy") -> list[DeliveryRequest]:
    """One load per station delivery of a successfully closed campaign that has not arrived yet
    (``pending``, or ``shipped``: the supplier released it and a truck must still carry it):
    consolidated purchase order's dispatch warehouse → station. The planner skips loads already in
    a published plan, so a shipped load is routed once.

    ``ready_by``: only campaigns whose delivery window starts on or before that day. Purchase orders
    without a dispatch warehouse (stock records with no warehouse) have no origin and are left out.
    A constant number of queries, whatever the number of stations."""
    deliveries = StationDelivery.objects.filter(
        campaign__status=CampaignStatus.SUCCEEDED,
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.SHIPPED),
        purchase_order__warehouse__isnull=False,
    )
    if ready_by is not None:
        deliveries = deliveries.filter(campaign__delivery_from__lte=ready_by)
    rows = list(
        deliveries.select_related("campaign", "station", "purchase_order__warehouse").order_by(
            "purchase_order_id", "station_id"
        )
    )
    if not rows:
        return []
    lines: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    for delivery_id, product_id, title, expected in (
        DeliveryLine.objects.filter(delivery__in=deliveries.values("pk"))
        .order_by("delivery_id", "item_id")
        .values_list("delivery_id", "item__product_id", "item__product__title", "expected")
    ):
        lines[delivery_id].append((product_id, title, expected))
    kg = unit_weights(pid for group in lines.values() for pid, _, _ in group)
    out = []
    for d in rows:
        warehouse, station = d.purchase_order.warehouse, d.station
        group = lines.get(d.pk, [])
        out.append(
            DeliveryRequest(
                ref=f"group_orders:po:{d.purchase_order_id}:station:{d.station_id}",
                source=source,
                origin_kind="warehouse",
                origin_id=warehouse.pk,
                origin_name=warehouse.name,
                origin_lat=float(warehouse.latitude),
                origin_lon=float(warehouse.longitude),
                destination_kind="station",
                destination_id=station.pk,
                destination_name=station.name,
                destination_lat=float(station.latitude),
                destination_lon=float(station.longitude),
                weight_kg=sum((kg[pid] * qty for pid, _, qty in group), Decimal("0")),
                ready_on=d.campaign.delivery_from,
                window_start=station.opens_at,
                window_end=station.closes_at,
                contact=station.phone,
                lines=tuple((title, qty) for _, title, qty in group),
            )
        )
    return out


def _refuse(line: PlanLine, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError(
        gettext("团购「%(title)s」×%(quantity)s：%(message)s")
        % {"title": line.title, "quantity": line.quantity, "message": message},
        code=code,
    )


def _plan_payment_method(group: Sequence[PlanLine]) -> str:
    methods = {line.payment_method for line in group}
    if len(methods) > 1:
        raise _refuse(group[0], gettext("同一商品的付款方式须一致"), "invalid")
    method = methods.pop()
    if not method:
        raise _refuse(group[0], gettext("请选择付款方式（现金或赊销）"), "required")
    if method not in (PaymentMethod.CASH, PaymentMethod.CREDIT):
        raise _refuse(
            group[0], gettext("团购只能现金或赊销认购；在线支付请农户在团购页面自行认购"), "invalid"
        )
    return method


def accept_plan_lines(
    actor: Any,
    station: Station,
    household: Household | None,
    lines: Sequence[PlanLine],
    slug: str = "group-buy",
    aliases: Iterable[str] = ("group_orders",),
) -> list[AcceptedLine]:
    """Pledge the household into the campaigns its plan lines came from (``source`` the plugin's
    ``slug`` or one of its ``aliases``, ``source_ref`` the campaign id, as :meth:`GroupOrdersConfig.purchasable_offers`
    offered them). Each line goes through :func:`place_pledge` — same validation, per-household
    limit, supply cap, restricted-pesticide and real-name rules. Payment: exactly the line's
    ``payment_method`` — ``cash`` (collected now by the station's staff) or ``credit`` (赊销, within
    the household's limit, enforced where credit is authorised); a line without one, or paid
    ``online`` (a group buy paid online is pledged by the payer on the campaign page), is refused.

    All or nothing: if any line cannot be taken, a ValidationError naming it is raised and no pledge
    of this hand-over remains. Lines of the same campaign product are pledged together. The pledge
    is registered at the household's own station (where it is picked up); ``station`` (the station
    the plan was priced for) only matters through the campaign's station rules checked there."""
    sources = {slug, *aliases}
    mine = [line for line in lines if line.source in sources]
    if not mine:
        return []
    if household is None:
        raise _refuse(mine[0], gettext("团购须为登记农户认购"), "required")
    groups: dict[tuple[str, int], list[PlanLine]] = defaultdict(list)
    for line in mine:
        groups[(line.source_ref, line.product_id)].append(line)
    campaign_ids = {int(ref) for ref, _ in groups if ref.isdigit()}
    items = {
        (str(i.campaign_id), i.product_id): i
        for i in CampaignItem.objects.filter(
            campaign_id__in=campaign_ids, product_id__in={pid for _, pid in groups}
        ).select_related("campaign", "product")
    }
    accepted: list[AcceptedLine] = []
    with transaction.atomic():
        for key, group in groups.items():
            first = group[0]
            item = items.get(key)
            if item is None:
                raise _refuse(first, gettext("该团购不存在或不含此商品"), "not_found")
            method = _plan_payment_method(group)
            quantity = sum(line.quantity for line in group)
            try:
                pledge = place_pledge(actor, item, household, quantity, method)
            except ValidationError as exc:
                found = (
                    [e for errs in exc.error_dict.values() for e in errs]
                    if hasattr(exc, "error_dict")
                    else exc.error_list
                )
                code = next((e.code for e in found if e.code), "invalid")
                raise _refuse(first, gettext("；").join(exc.messages), code) from exc
            except PermissionDenied as exc:
                raise _refuse(first, str(exc) or gettext("无权为该农户认购"), "permission_denied") from exc
            planned = max(line.unit_price for line in group)
            if pledge.unit_price_at_pledge > planned:
                raise _refuse(
                    first,
                    gettext("团购价已变为 %(price)s（方案按 %(planned)s）")
                    % {"price": format_cny(pledge.unit_price_at_pledge), "planned": format_cny(planned)},
                    "price_changed",
                )
            for line in group:
                accepted.append(
                    AcceptedLine(
                        line,
                        accepted_by=slug,
                        ref=f"pledge:{pledge.pk}",
                        quantity=line.quantity,
                        message=gettext("已加入团购「%(campaign)s」") % {"campaign": item.campaign.title},
                    )
                )
    return accepted

"""Produce services: lots, rounds, checkout and payment, cancellation, fulfilment, settlement.

Pages, GraphQL, the CSV import and tasks all call these. Stock is Oscar's (one stock record per sale
unit; ``StockRecord.allocate`` under a row lock, so it is never oversold); "may this be sold" is the
core purchase strategy (:func:`purchase_info`); payment goes through the core Stripe gateway and
money moves are entries of the core ledger, each with an idempotency key.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as _noop
from oscar.core.loading import get_class, get_model

from marketplace.accounts.models import Role, phone_validator
from marketplace.apps.catalogue.product_types import PRODUCE, ensure_product_types
from marketplace.apps.catalogue.validation import clean_attributes
from marketplace.apps.partner.models import PartnerKind, Warehouse
from marketplace.core import permissions
from marketplace.core.extensions import DeliveryRequest
from marketplace.core.money import format_cny
from marketplace.core.tables import Column as TableColumn
from marketplace.core.tables import RowError, TableInvalid, TableSpec, read_table
from marketplace.payments import gateway
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentStatus, Refund
from marketplace.payments.services import SALES, Move, balance, money, post
from marketplace.stations.models import Household, Station

from .models import (
    Certification,
    CertificationKind,
    Checkout,
    CooperativeMember,
    Crop,
    EventKind,
    Lot,
    LotEvent,
    MembershipStatus,
    OrderState,
    PriceBreak,
    ProduceOrder,
    Round,
    RoundStatus,
    SaleUnit,
    Slot,
    SlotKind,
    StandingAllocation,
    StandingOrder,
    Unit,
)
from .regions import locate

logger = logging.getLogger("plugins.produce")

Partner = get_model("partner", "Partner")
Product = get_model("catalogue", "Product")
StockRecord = get_model("partner", "StockRecord")
Basket = get_model("basket", "Basket")
Order = get_model("order", "Order")
OrderCreator = get_class("order.utils", "OrderCreator")
Selector = get_class("partner.strategy", "Selector")
OrderTotalCalculator = get_class("checkout.calculators", "OrderTotalCalculator")
Free = get_class("shipping.methods", "Free")

LOT_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{3,39}")
COMMISSION_INCOME = "platform:produce-commission"
ORDER_STATUS = {"paid": "已支付", "delivered": "已完成", "cancelled": "已取消"}


def _err(field_name: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field_name: ValidationError(message, code=code)})


def _raise(errors: dict[str, list[ValidationError]]) -> None:
    if errors:
        raise ValidationError(errors)


# --- Accounts ----------------------------------------------------------------------------------


def sign_up_buyer(phone: str, password: str, name: str = "") -> Any:
    """A city buyer's own account: mobile number + password (login by phone, see accounts backends)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password

    User = get_user_model()
    phone = (phone or "").strip()
    errors: dict[str, list[ValidationError]] = {}
    try:
        phone_validator(phone)
    except ValidationError:
        errors["phone"] = [ValidationError(_("请输入11位中国大陆手机号码"), code="invalid")]
    else:
        if User.objects.filter(Q(phone=phone) | Q(username=phone)).exists():
            errors["phone"] = [ValidationError(_("该手机号已注册，请直接登录"), code="unique")]
    try:
        validate_password(password or "")
    except ValidationError as exc:
        errors["password"] = [ValidationError(m, code="invalid") for m in exc.messages]
    _raise(errors)
    user = User(username=phone, phone=phone, role=Role.CITY_BUYER, display_name=(name or "").strip()[:64])
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise _err("phone", _("该手机号已注册，请直接登录"), "unique") from None
    return user


# --- Lots --------------------------------------------------------------------------------------


def cooperatives_for(user: Any):
    """Verified cooperatives the user may act for (the core's partner tenancy rule)."""
    return permissions.partners_for(user).filter(kind=PartnerKind.COOPERATIVE)


def require_cooperative(user: Any, partner: Any) -> None:
    if not permissions.can_manage_partner(user, partner) or partner.kind != PartnerKind.COOPERATIVE:
        raise PermissionDenied(_("只有本合作社成员可以操作"))
    if not partner.is_verified:
        raise PermissionDenied(_("合作社尚未通过审核，不能上架农产品"))


def gtin_check_digit(digits13: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits13)))
    return str((10 - total % 10) % 10)


def valid_gtin(gtin: str) -> bool:
    return bool(re.fullmatch(r"\d{14}", gtin or "")) and gtin_check_digit(gtin[:13]) == gtin[13]


def _dec(value: Any, field_name: str, errors: dict, label: str, positive: bool = True) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError, TypeError):
        errors.setdefault(field_name, []).append(
            ValidationError(_("%(label)s须为数字") % {"label": label}, code="invalid")
        )
        return None
    if positive and number <= 0:
        errors.setdefault(field_name, []).append(
            ValidationError(_("%(label)s必须大于零") % {"label": label}, code="invalid")
        )
        return None
    return number


def _date(value: Any, field_name: str, errors: dict, label: str) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors.setdefault(field_name, []).append(
            ValidationError(_("%(label)s须为日期 (YYYY-MM-DD)") % {"label": label}, code="invalid")
        )
        return None


@dataclass
class LotInput:
    """Everything a lot listing carries, as typed by a page, GraphQL or a CSV row (strings are fine)."""

    code: str
    crop: str
    variety: str
    grade: str
    harvest_date: Any
    origin_village: str
    latitude: Any
    longitude: Any
    quantity_kg: Any
    #: [{"unit": "box", "pack_kg": "5", "price": "49.00", "units": 20, "breaks": [[10, "45.00"]]}]
    sale_units: list[dict[str, Any]] = field(default_factory=list)
    #: [{"kind": "green", "number": "LB-...", "expires_on": "2027-06-30"}]
    certifications: list[dict[str, Any]] = field(default_factory=list)
    household_ids: list[int] = field(default_factory=list)
    gtin: str = ""
    description: str = ""


def clean_lot(partner: Any, data: LotInput) -> dict[str, Any]:
    """The one validation of a lot for every path. Raises ValidationError keyed by field name
    (``saleUnits.0.price``-style keys for nested rows)."""
    errors: dict[str, list[ValidationError]] = {}
    cleaned: dict[str, Any] = {}
    code = (data.code or "").strip()
    if not LOT_CODE.fullmatch(code):
        errors["code"] = [ValidationError(_("批次追溯码须为4-40位字母、数字或连字符"), code="invalid")]
    elif Lot.objects.filter(code=code).exists():
        errors["code"] = [ValidationError(_("批次追溯码已存在"), code="unique")]
    cleaned["code"] = code
    if data.crop not in Crop.values:
        errors["crop"] = [ValidationError(_("请选择作物"), code="invalid")]
    cleaned["crop"] = data.crop
    for name, label, max_len in (
        ("variety", _("品种"), 64),
        ("grade", _("等级"), 32),
        ("origin_village", _("产地村"), 128),
    ):
        value = (getattr(data, name) or "").strip()
        if not value:
            errors[name] = [ValidationError(_("%(label)s为必填项") % {"label": label}, code="required")]
        elif len(value) > max_len:
            errors[name] = [ValidationError(_("%(label)s过长") % {"label": label}, code="invalid")]
        cleaned[name] = value
    harvest = _date(data.harvest_date, "harvest_date", errors, _("采收日期"))
    if harvest and harvest > timezone.localdate():
        errors["harvest_date"] = [ValidationError(_("采收日期不能晚于今天"), code="invalid")]
    cleaned["harvest_date"] = harvest
    lat = _dec(data.latitude, "latitude", errors, _("纬度"), positive=False)
    lon = _dec(data.longitude, "longitude", errors, _("经度"), positive=False)
    if lat is not None and not (-90 <= lat <= 90):
        errors["latitude"] = [ValidationError(_("纬度须在 -90 到 90 之间"), code="invalid")]
    if lon is not None and not (-180 <= lon <= 180):
        errors["longitude"] = [ValidationError(_("经度须在 -180 到 180 之间"), code="invalid")]
    cleaned["latitude"] = lat.quantize(Decimal("0.000001")) if lat is not None else None
    cleaned["longitude"] = lon.quantize(Decimal("0.000001")) if lon is not None else None
    qty = _dec(data.quantity_kg, "quantity_kg", errors, _("批次数量"))
    cleaned["quantity_kg"] = qty
    gtin = (data.gtin or "").strip()
    if gtin and not valid_gtin(gtin):
        errors["gtin"] = [ValidationError(_("商品条码须为14位 GTIN 且校验位正确"), code="invalid")]
    cleaned["gtin"] = gtin
    cleaned["description"] = (data.description or "").strip()[:2000]
    # Core attribute rule for the produce product type (same rule as the catalogue import).
    if not errors:
        try:
            clean_attributes(
                PRODUCE,
                {
                    "origin": cleaned["origin_village"],
                    "grade": cleaned["grade"],
                    "harvest_date": harvest,
                    "lot_code": code,
                },
            )
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault({"origin": "origin_village", "lot_code": "code"}.get(key, key), []).extend(
                    ValidationError(m, code="invalid") for m in messages
                )
    units: list[dict[str, Any]] = []
    if not data.sale_units:
        errors["sale_units"] = [ValidationError(_("至少需要一个销售规格"), code="required")]
    total_kg = Decimal("0")
    for i, row in enumerate(data.sale_units):
        prefix = f"sale_units.{i}"
        unit = row.get("unit")
        if unit not in Unit.values:
            errors[f"{prefix}.unit"] = [ValidationError(_("销售单位须为千克、箱或袋"), code="invalid")]
        pack = _dec(row.get("pack_kg"), f"{prefix}.pack_kg", errors, _("每单位净重"))
        price = _dec(row.get("price"), f"{prefix}.price", errors, _("单价"))
        try:
            count = int(row.get("units"))
            if count < 0:
                raise ValueError
        except (TypeError, ValueError):
            errors[f"{prefix}.units"] = [ValidationError(_("可售数量须为非负整数"), code="invalid")]
            count = None
        breaks = []
        for j, pair in enumerate(row.get("breaks") or []):
            try:
                min_q, b_price = int(pair[0]), money(pair[1])
                if min_q < 2 or b_price <= 0 or (price is not None and b_price >= price):
                    raise ValueError
            except (TypeError, ValueError, IndexError, InvalidOperation):
                errors[f"{prefix}.breaks.{j}"] = [
                    ValidationError(_("阶梯价须为起订量≥2且低于单价"), code="invalid")
                ]
                continue
            breaks.append((min_q, b_price))
        if pack is not None and count is not None:
            total_kg += pack * count
        units.append(
            {
                "unit": unit,
                "pack_kg": pack,
                "price": money(price) if price else None,
                "units": count,
                "breaks": breaks,
            }
        )
    if qty is not None and total_kg > qty:
        errors["sale_units"] = [
            ValidationError(
                _("各规格合计 %(total)s kg 超过批次数量 %(qty)s kg")
                % {"total": total_kg.normalize(), "qty": qty},
                code="invalid",
            )
        ]
    cleaned["sale_units"] = units
    certs = []
    for i, row in enumerate(data.certifications):
        prefix = f"certifications.{i}"
        if row.get("kind") not in CertificationKind.values:
            errors[f"{prefix}.kind"] = [ValidationError(_("认证类型无效"), code="invalid")]
        number = (row.get("number") or "").strip()
        if not number or len(number) > 64:
            errors[f"{prefix}.number"] = [ValidationError(_("请填写证书编号"), code="required")]
        expires = _date(row.get("expires_on"), f"{prefix}.expires_on", errors, _("有效期"))
        if expires and expires < timezone.localdate():
            errors[f"{prefix}.expires_on"] = [ValidationError(_("证书已过期"), code="invalid")]
        certs.append({"kind": row.get("kind"), "number": number, "expires_on": expires})
    cleaned["certifications"] = certs
    try:
        cleaned["households"] = clean_growers(partner, data.household_ids)
    except ValidationError as exc:
        errors["household_ids"] = exc.error_list
    _raise(errors)
    return cleaned


def _new_gtin(partner: Any, lot_pk: int) -> str:
    """A GS1 restricted-circulation number (prefix 02) for cooperatives without their own GTIN."""
    body = f"02{partner.pk % 10000:04d}{lot_pk % 10**7:07d}"
    return body + gtin_check_digit(body)


@transaction.atomic
def create_lot(user: Any, partner: Any, data: LotInput) -> Lot:
    require_cooperative(user, partner)
    c = clean_lot(partner, data)
    lot = Lot.objects.create(
        partner=partner,
        code=c["code"],
        gtin=c["gtin"] or "0" * 14,
        crop=c["crop"],
        variety=c["variety"],
        grade=c["grade"],
        harvest_date=c["harvest_date"],
        origin_village=c["origin_village"],
        latitude=c["latitude"],
        longitude=c["longitude"],
        quantity_kg=c["quantity_kg"],
        description=c["description"],
    )
    if not c["gtin"]:
        lot.gtin = _new_gtin(partner, lot.pk)
        lot.save(update_fields=["gtin"])
    lot.households.set(c["households"])
    for cert in c["certifications"]:
        Certification.objects.create(lot=lot, **cert)
    classes = ensure_product_types()
    warehouse = Warehouse.objects.filter(partner=partner, is_active=True).order_by("pk").first()
    for i, row in enumerate(c["sale_units"], start=1):
        product = Product(
            title=f"{lot.title} {row['pack_kg'].normalize():f}kg/{Unit(row['unit']).label}",
            product_class=classes[PRODUCE],
            upc=f"{lot.code}-{i}",
            description=lot.description,
        )
        product.attr.origin = lot.origin_village
        product.attr.grade = lot.grade
        product.attr.harvest_date = lot.harvest_date
        product.attr.lot_code = lot.code
        product.attr.net_weight_kg = float(row["pack_kg"])
        product.save()
        StockRecord.objects.create(
            product=product,
            partner=partner,
            partner_sku=f"{lot.code}-{i}",
            price=row["price"],
            num_in_stock=row["units"],
            warehouse=warehouse,
        )
        unit = SaleUnit.objects.create(
            lot=lot, unit=row["unit"], pack_kg=row["pack_kg"], price=row["price"], product=product
        )
        for min_q, b_price in row["breaks"]:
            PriceBreak.objects.create(sale_unit=unit, min_quantity=min_q, unit_price=b_price)
    LotEvent.objects.create(
        lot=lot,
        kind=EventKind.HARVEST,
        at=timezone.make_aware(datetime.combine(lot.harvest_date, time(8))),
        quantity_kg=lot.quantity_kg,
        place=lot.origin_village,
        latitude=lot.latitude,
        longitude=lot.longitude,
        reference=f"harvest:{lot.code}",
    )
    return lot


#: The lot file: one lot with one sale unit per row. English codes first (the template's), Chinese
#: headers accepted too; the core reader takes CSV (UTF-8 or GBK/GB18030) and XLSX.
KG = ("kg", "千克", "公斤")
IMPORT_SPEC = TableSpec(
    (
        TableColumn("code", ("code", "批次追溯码", "批次编号", "追溯码"), required=True),
        TableColumn("crop", ("crop", "作物"), required=True),
        TableColumn("variety", ("variety", "品种"), required=True),
        TableColumn("grade", ("grade", "等级"), required=True),
        TableColumn("harvest_date", ("harvest_date", "采收日期"), required=True),
        TableColumn("origin_village", ("origin_village", "产地村", "产地"), required=True),
        TableColumn("latitude", ("latitude", "纬度"), required=True),
        TableColumn("longitude", ("longitude", "经度"), required=True),
        TableColumn("quantity_kg", ("quantity_kg", "总重量", "数量"), required=True, units=KG),
        TableColumn("unit", ("unit", "销售单位", "单位"), required=True),
        TableColumn("pack_kg", ("pack_kg", "每件重量", "每件净重"), required=True, units=KG),
        TableColumn("price", ("price", "单价", "价格"), required=True),
        TableColumn("units", ("units", "可售数量", "件数"), required=True),
        TableColumn("cert_kind", ("cert_kind", "认证类型")),
        TableColumn("cert_number", ("cert_number", "证书编号")),
        TableColumn("cert_expires_on", ("cert_expires_on", "证书有效期", "有效期至")),
    ),
    max_rows=5000,
    max_bytes=2 * 1024 * 1024,
)
IMPORT_COLUMNS = IMPORT_SPEC.template_headers()


def _lot_column(key: str) -> str:
    """The import column a ``clean_lot`` error key (``sale_units.0.price``) belongs to."""
    parts = key.split(".")
    if parts[0] in ("certifications", "certification") and len(parts) > 2:
        return f"cert_{parts[-1]}"
    if parts[0] in ("sale_units", "saleUnits") and len(parts) > 2:
        return parts[2]
    return parts[0]


def import_lots(
    user: Any, partner: Any, source: Any, filename: str = "lots.csv"
) -> tuple[list[Lot], list[RowError]]:
    """CSV / XLSX import (one lot with one sale unit per row) through the same validation; all or
    nothing. Returns (lots, errors naming row and column)."""
    require_cooperative(user, partner)
    lots: list[Lot] = []
    problems: list[RowError] = []
    try:
        with transaction.atomic(), read_table(source, IMPORT_SPEC, filename) as table:
            for row in table:
                if row.errors:  # NUL bytes, over-long cells
                    problems.extend(row.errors)
                    continue
                certs = []
                if row.get("cert_kind"):
                    certs = [
                        {"kind": row.get("cert_kind"), "number": row.get("cert_number"),
                         "expires_on": row.get("cert_expires_on")}
                    ]  # fmt: skip
                data = LotInput(
                    code=row.get("code"), crop=row.get("crop"), variety=row.get("variety"),
                    grade=row.get("grade"), harvest_date=row.get("harvest_date"),
                    origin_village=row.get("origin_village"), latitude=row.get("latitude"),
                    longitude=row.get("longitude"), quantity_kg=row.get("quantity_kg"),
                    sale_units=[{"unit": row.get("unit"), "pack_kg": row.get("pack_kg"), "price": row.get("price"),
                                 "units": row.get("units")}],
                    certifications=certs,
                )  # fmt: skip
                try:
                    with transaction.atomic():
                        lots.append(create_lot(user, partner, data))
                except ValidationError as exc:
                    for key, messages in exc.message_dict.items():
                        column = table.columns.get(_lot_column(key), key)
                        problems.extend(RowError(row.number, column, m) for m in messages)
            if problems:
                raise _Rollback
    except TableInvalid as exc:  # the file, its header, or too many rows
        return [], problems + exc.row_errors
    except _Rollback:
        return [], problems
    return lots, []


class _Rollback(Exception):
    pass


# --- Member households (growers) ---------------------------------------------------------------


def mask_name(name: str) -> str:
    """王*明 / 王*: what a cooperative sees of a member's name."""
    name = (name or "").strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone or "") == 11 else "****"


def confirmed_members(partner: Any):
    """The cooperative's confirmed member households (the only ones a lot can name as growers)."""
    return CooperativeMember.objects.filter(partner=partner, status=MembershipStatus.CONFIRMED)


def clean_growers(partner: Any, household_ids: list[Any]) -> list[Household]:
    """The one rule for a lot's growers, on every path (page, GraphQL, import): confirmed members of
    the lot's cooperative only. The refusal names no household (nothing leaks about others)."""
    ids = set()
    for raw in household_ids or []:
        if not str(raw).strip().isdigit():
            raise ValidationError(_("只能选择本社已确认的成员"), code="invalid")
        ids.add(int(str(raw).strip()))
    allowed = set(
        confirmed_members(partner).filter(household_id__in=ids).values_list("household_id", flat=True)
    )
    if ids - allowed:
        raise ValidationError(_("只能选择本社已确认的成员"), code="not_member")
    return list(Household.objects.filter(pk__in=allowed))


def set_lot_growers(user: Any, lot: Lot, household_ids: list[Any]) -> Lot:
    """The cooperative picks, per lot, the members who grew it."""
    require_cooperative(user, lot.partner)
    try:
        growers = clean_growers(lot.partner, household_ids)
    except ValidationError as exc:
        raise ValidationError({"household_ids": exc.error_list}) from None
    lot.households.set(growers)
    return lot


def request_member(user: Any, partner: Any, station_code: str, name: str, phone: str) -> CooperativeMember:
    """The cooperative asks for a member: the farmer's name, mobile number and station number (站点编号),
    as the farmer gave them. Nothing of the station's households is shown or looked up for the cooperative; the
    station's staff confirm (or refuse) it."""
    require_cooperative(user, partner)
    errors: dict[str, list[ValidationError]] = {}
    name = (name or "").strip()
    phone = (phone or "").strip()
    if not name or len(name) > 64:
        errors["name"] = [ValidationError(_("请填写姓名"), code="required")]
    try:
        phone_validator(phone)
    except ValidationError:
        errors["phone"] = [ValidationError(_("请输入11位中国大陆手机号码"), code="invalid")]
    code = str(station_code or "").strip()
    station = Station.objects.filter(code=code, is_active=True).first() if code else None
    if station is None:
        errors["station"] = [ValidationError(_("请填写农户所在站点的编号"), code="required")]
    _raise(errors)
    if CooperativeMember.objects.filter(
        partner=partner, phone=phone, status__in=(MembershipStatus.PENDING, MembershipStatus.CONFIRMED)
    ).exists():
        raise _err("phone", _("已申请过该成员"), "unique")
    return CooperativeMember.objects.create(
        partner=partner, station=station, name=name, phone=phone, requested_by=user
    )


def staff_stations(user: Any):
    """Stations whose staff may confirm members: the station's own information officers (they know
    their farmers). Operators do not confirm on the farmers' behalf."""
    if not permissions.has_role(user, Role.STATION_STAFF):
        return Station.objects.none()
    return Station.objects.filter(memberships__user=user)


def member_requests_for(user: Any):
    return CooperativeMember.objects.filter(
        station__in=staff_stations(user), status=MembershipStatus.PENDING
    ).select_related("partner", "station")


def decide_member(
    user: Any, member: CooperativeMember, household_id: Any, confirm: bool
) -> CooperativeMember:
    """Station staff confirm a membership by picking the household (of their station), or refuse it."""
    with transaction.atomic():
        member = CooperativeMember.objects.select_for_update().get(pk=member.pk)
        if not staff_stations(user).filter(pk=member.station_id).exists():
            raise PermissionDenied(_("只有该站点的信息员可以确认成员"))
        if member.status != MembershipStatus.PENDING:
            raise _err("member", _("该申请已处理"), "invalid_state")
        if confirm:
            household = (
                Household.objects.filter(
                    pk=household_id, station_id=member.station_id, is_active=True
                ).first()
                if str(household_id).isdigit()
                else None
            )
            if household is None:
                raise _err("household", _("请选择本站农户"), "required")
            if CooperativeMember.objects.filter(partner_id=member.partner_id, household=household).exists():
                raise _err("household", _("该农户已是本合作社成员"), "unique")
            member.household = household
        member.status = MembershipStatus.CONFIRMED if confirm else MembershipStatus.REFUSED
        member.decided_by, member.decided_at = user, timezone.now()
        member.save()
    return member


def member_rows(partner: Any) -> list[dict[str, Any]]:
    """What the cooperative sees of its members: masked name and phone, the station (and village for
    confirmed members) and the state; never the household's own record."""
    rows = []
    for m in CooperativeMember.objects.filter(partner=partner).select_related(
        "station", "household__village"
    ):
        confirmed = m.status == MembershipStatus.CONFIRMED and m.household is not None
        rows.append(
            {
                "id": m.pk,
                "household_id": m.household_id if confirmed else None,
                "name": mask_name(m.household.name if confirmed else m.name),
                "phone": mask_phone(m.phone),
                "station": m.station.name,
                "village": m.household.village.name if confirmed else "",
                "status": m.status,
                "status_label": m.get_status_display(),
            }
        )
    return rows


# --- Cooperative payouts ----------------------------------------------------------------------


COOPERATIVE_PAYABLE = payments.Payees(
    "cooperative:", ":payable", "produce_payout", "produce-payout", Partner, "合作社货款支付"
)


def cooperatives_owed() -> list[dict[str, Any]]:
    """What the platform owes each cooperative (its payable balance), largest first."""
    owed = {pid: v for pid, v in COOPERATIVE_PAYABLE.owed().items() if v > 0}
    partners = Partner.objects.in_bulk(list(owed))
    return sorted(
        ({"partner": partners[pid], "balance": v} for pid, v in owed.items() if pid in partners),
        key=lambda r: -r["balance"],
    )


def run_cooperative_payouts(user: Any, run_key: str, partner_ids: list[int] | None = None) -> dict[str, Any]:
    """A payout run to cooperatives through the core payout mechanism (keyed per run and cooperative:
    resubmitting a run pays nothing twice; never more than owed)."""
    return payments.run_payouts(user, COOPERATIVE_PAYABLE, run_key, partner_ids)


def cooperative_payout_runs(limit: int = 20) -> list[dict[str, Any]]:
    return payments.payout_runs(limit, kind=COOPERATIVE_PAYABLE.kind)


# --- Rounds ------------------------------------------------------------------------------------


def _time(value: Any, field_name: str, errors: dict) -> time | None:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value).strip())
    except ValueError:
        errors.setdefault(field_name, []).append(ValidationError(_("时间格式须为 HH:MM"), code="invalid"))
        return None


@transaction.atomic
def open_round(
    user: Any,
    partner: Any,
    title: str,
    cutoff_at: datetime,
    lot_ids: list[int],
    slots: list[dict[str, Any]],
    collection_point_id: int | None = None,
) -> Round:
    """Open a selling round: lots on offer until ``cutoff_at``; delivery days / pickup points with time
    windows on or after the cutoff day. Several rounds may be open at once."""
    require_cooperative(user, partner)
    errors: dict[str, list[ValidationError]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [ValidationError(_("请填写名称"), code="required")]
    if cutoff_at is None or cutoff_at <= timezone.now():
        errors["cutoff_at"] = [ValidationError(_("截单时间须晚于现在"), code="invalid")]
    lots = list(Lot.objects.filter(partner=partner, pk__in=lot_ids, is_active=True))
    if not lots or len(lots) != len(set(lot_ids)):
        errors["lot_ids"] = [ValidationError(_("请选择本合作社在售的批次"), code="invalid")]
    warehouses = Warehouse.objects.filter(partner=partner, is_active=True)
    point = warehouses.filter(pk=collection_point_id).first() if collection_point_id else warehouses.first()
    if point is None:
        errors["collection_point_id"] = [ValidationError(_("请先设置集货点（仓库）"), code="required")]
    if not slots:
        errors["slots"] = [ValidationError(_("至少需要一个配送日或自提点"), code="required")]
    cleaned = []
    for i, row in enumerate(slots):
        prefix = f"slots.{i}"
        kind = row.get("kind")
        if kind not in SlotKind.values:
            errors[f"{prefix}.kind"] = [ValidationError(_("请选择送货上门或自提点"), code="invalid")]
        day = _date(row.get("day"), f"{prefix}.day", errors, _("日期"))
        start = _time(row.get("start"), f"{prefix}.start", errors)
        end = _time(row.get("end"), f"{prefix}.end", errors)
        if start and end and end <= start:
            errors[f"{prefix}.end"] = [ValidationError(_("结束时间须晚于开始时间"), code="invalid")]
        if day and cutoff_at and day < timezone.localtime(cutoff_at).date():
            errors[f"{prefix}.day"] = [ValidationError(_("配送日期不能早于截单日"), code="invalid")]
        place = (row.get("place_name") or "").strip()
        if kind == SlotKind.PICKUP and not place:
            errors[f"{prefix}.place_name"] = [ValidationError(_("请填写自提点名称"), code="required")]
        cleaned.append(
            {
                "kind": kind, "day": day, "start": start, "end": end, "place_name": place[:128],
                "place_address": (row.get("place_address") or "").strip()[:255],
                "latitude": row.get("latitude") or None, "longitude": row.get("longitude") or None,
            }
        )  # fmt: skip
    _raise(errors)
    rnd = Round.objects.create(
        partner=partner, title=title[:128], cutoff_at=cutoff_at, collection_point=point
    )
    rnd.lots.set(lots)
    for row in cleaned:
        Slot.objects.create(round=rnd, **row)
    create_standing_orders_for_round(rnd)
    return rnd


def open_rounds():
    return Round.objects.filter(
        status=RoundStatus.OPEN, cutoff_at__gt=timezone.now(), partner__verification_status="approved"
    )


def cancel_abandoned_checkouts(older_than: timedelta = timedelta(hours=1)) -> int:
    """Periodic: checkouts whose payer never finished (3-D Secure, QR code) — the core announces a
    payment Stripe says is usable once more (the order is placed), and cancels the rest."""
    cancelled = payments.cancel_abandoned(older_than, kind=CHECKOUT_PURPOSE)
    Checkout.objects.filter(
        state="pending",
        order__isnull=True,
        payment__status__in=(PaymentStatus.CANCELLED, PaymentStatus.FAILED),
    ).update(state="failed", message=_("超时未完成支付"))
    return cancelled


def reauthorise_due_payments(now: datetime | None = None) -> int:
    """Periodic: card authorisations of orders not delivered yet are renewed before Stripe drops them
    (about 7 days; core ``payments.reauthorise``), so a late delivery can still be captured."""
    due = (
        Payment.objects.filter(
            method="stripe",
            status=PaymentStatus.AUTHORISED,
            produce_order__state__in=(OrderState.PAID, OrderState.PACKED, OrderState.SHIPPED),
            updated_at__lte=(now or timezone.now()) - payments.REAUTHORISE_AFTER,
        )
        .exclude(online_type__in=tuple(gateway.AUTOMATIC_CAPTURE_TYPES))
        .order_by("updated_at")
    )
    return sum(1 for payment in list(due[:500]) if payments.reauthorise(payment))


def close_due_rounds(now: datetime | None = None) -> int:
    """Periodic: rounds past their cutoff stop taking orders and become packing work."""
    return Round.objects.filter(status=RoundStatus.OPEN, cutoff_at__lte=now or timezone.now()).update(
        status=RoundStatus.CLOSED
    )


# --- The sellable rule and prices ----------------------------------------------------------------


def purchase_info(product: Any, user: Any = None) -> Any:
    """The core purchase strategy (Oscar Strategy): the one place that decides if this may be sold."""
    return Selector().strategy(user=user).fetch_for_product(product)


def check_sellable(product: Any, quantity: int, user: Any = None) -> str:
    """'' if ``quantity`` may be bought now, else the reason, from the core rule."""
    info = purchase_info(product, user)
    if not info.availability.is_available_to_buy:
        return _("%(title)s 暂不可售") % {"title": product.title}
    ok, reason = info.availability.is_purchase_permitted(quantity)
    return "" if ok else str(reason)


def unit_price(unit: SaleUnit, quantity: int) -> Decimal:
    """Quantity price break (business buyers): the lowest price whose threshold is reached."""
    price = unit.price
    for pb in unit.price_breaks.all():
        if quantity >= pb.min_quantity and pb.unit_price < price:
            price = pb.unit_price
    return price


def units_in_round(rnd: Round):
    return (
        SaleUnit.objects.filter(lot__in=rnd.lots.all(), lot__is_active=True)
        .select_related("lot", "product")
        .prefetch_related("price_breaks", "product__stockrecords__partner")
    )


@dataclass
class PricedLine:
    unit: SaleUnit
    quantity: int
    price: Decimal

    @property
    def total(self) -> Decimal:
        return money(self.price * self.quantity)


def price_lines(rnd: Round, quantities: dict[int, int], user: Any = None) -> list[PricedLine]:
    """Validate and price basket lines (sale unit id → quantity) against the round and the core rule."""
    units = {u.pk: u for u in units_in_round(rnd)}
    errors: dict[str, list[ValidationError]] = {}
    lines = []
    for unit_id, qty in sorted(quantities.items()):
        unit = units.get(int(unit_id))
        if unit is None:
            errors[f"lines.{unit_id}"] = [ValidationError(_("该规格不在本轮次销售"), code="invalid")]
            continue
        if not isinstance(qty, int) or qty < 1 or qty > 10000:
            errors[f"lines.{unit_id}"] = [ValidationError(_("数量须为 1 到 10000 的整数"), code="invalid")]
            continue
        reason = check_sellable(unit.product, qty, user)
        if reason:
            errors[f"lines.{unit_id}"] = [ValidationError(reason, code="out_of_stock")]
            continue
        lines.append(PricedLine(unit, qty, unit_price(unit, qty)))
    if not lines and not errors:
        errors["lines"] = [ValidationError(_("购物车是空的"), code="required")]
    _raise(errors)
    return lines


# --- Checkout -----------------------------------------------------------------------------------


@dataclass
class Address:
    province: str = ""
    city: str = ""
    district: str = ""
    street: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    invoice_title: str = ""
    invoice_tax_id: str = ""


def clean_address(slot: Slot, addr: Address) -> dict[str, Any]:
    errors: dict[str, list[ValidationError]] = {}
    out: dict[str, Any] = {k: (getattr(addr, k) or "").strip() for k in Address.__dataclass_fields__}
    if not out["contact_name"]:
        errors["contact_name"] = [ValidationError(_("请填写联系人"), code="required")]
    try:
        phone_validator(out["contact_phone"])
    except ValidationError:
        errors["contact_phone"] = [ValidationError(_("请输入11位中国大陆手机号码"), code="invalid")]
    if slot.kind == SlotKind.DELIVERY:
        for name, label in (
            ("province", _("省")),
            ("city", _("市")),
            ("district", _("区/县")),
            ("street", _("街道地址")),
        ):
            if not out[name]:
                errors[name] = [ValidationError(_("请填写%(label)s") % {"label": label}, code="required")]
        point = locate(out["province"], out["city"], out["district"])
        if point is None and not errors:
            errors["district"] = [ValidationError(_("该地区暂不在配送范围内"), code="invalid")]
        out["latitude"], out["longitude"] = point or (None, None)
    else:
        out.update(
            province="", city="", district="", street="", latitude=slot.latitude, longitude=slot.longitude
        )
    if out["invoice_tax_id"] and not re.fullmatch(r"[0-9A-Z]{15,20}", out["invoice_tax_id"]):
        errors["invoice_tax_id"] = [
            ValidationError(_("纳税人识别号须为15-20位数字或大写字母"), code="invalid")
        ]
    for name in ("street", "contact_name", "invoice_title"):
        out[name] = out[name][: 255 if name == "street" else 64 if name == "contact_name" else 128]
    _raise(errors)
    return out


@dataclass
class CheckoutResult:
    order: ProduceOrder | None = None
    checkout: Checkout | None = None
    next_action: dict[str, str] | None = None
    client_secret: str = ""


def start_checkout(
    user: Any,
    rnd: Round,
    quantities: dict[int, int],
    slot_id: int,
    address: Address,
    online_type: str,
    key: str,
    *,
    token: str = "",
    payment_method: str = "",
    return_url: str = "",
) -> CheckoutResult:
    """Pay and place a produce order. The payment is authorised (card) or charged (WeChat Pay /
    Alipay) first; the order is placed only then, with stock allocated under a row lock. If the stock
    went meanwhile, the authorisation is voided (or the charge refunded) and the buyer told why."""
    if not permissions.has_role(user, Role.CITY_BUYER):
        raise PermissionDenied(_("请使用采购商账号下单"))
    if Checkout.objects.filter(key=key, buyer=user).exists():  # the same form sent twice
        return resume_checkout(user, key)
    if not rnd.is_open:
        raise _err("round", _("本轮次已截单"), "invalid_state")
    slot = rnd.slots.filter(pk=slot_id).first()
    if slot is None:
        raise _err("slot", _("请选择配送时段或自提点"), "required")
    addr = clean_address(slot, address)
    lines = price_lines(rnd, quantities, user)
    if online_type not in gateway.ONLINE_TYPES:
        raise _err("online_type", _("不支持的支付方式"))
    if online_type not in gateway.AUTOMATIC_CAPTURE_TYPES and not (token or payment_method):
        raise _err("card", _("请填写银行卡信息"), "required")
    total = money(sum(line.total for line in lines))
    data = {
        "round": rnd.pk, "slot": slot.pk, "lines": {str(ln.unit.pk): ln.quantity for ln in lines},
        "address": {k: str(v) if v is not None else None for k, v in addr.items()},
    }  # fmt: skip
    payment = payments.authorise_online_for_user(
        user, total, f"produce:{rnd.pk}", key, online_type, token=token, payment_method=payment_method,
        return_url=return_url, purpose={"kind": CHECKOUT_PURPOSE, "checkout": key},
    )  # fmt: skip
    checkout, _c = Checkout.objects.get_or_create(
        key=key, defaults={"buyer": user, "data": data, "payment": payment}
    )
    return _advance(checkout)


#: ``Payment.purpose["kind"]`` of a produce checkout's payment.
CHECKOUT_PURPOSE = "produce_checkout"


def _advance(checkout: Checkout) -> CheckoutResult:
    """Place the order once the payment is usable; otherwise say what the payer still has to do."""
    payment = checkout.payment
    if payment.status == PaymentStatus.PENDING:
        try:
            state = payments.check_pending(payment)
        except gateway.GatewayError as exc:
            raise _err("payment", _("支付失败：%(reason)s") % {"reason": exc}, "payment_retry") from exc
        if state.state == "action":
            return CheckoutResult(
                checkout=checkout, next_action=state.next_action, client_secret=state.client_secret
            )
        if state.state == "failed":
            Checkout.objects.filter(pk=checkout.pk).update(state="failed", message=_("支付未完成"))
            raise _err("payment", _("支付未完成授权，请换一种支付方式"), "payment_failed")
    elif payment.status != PaymentStatus.AUTHORISED:
        Checkout.objects.filter(pk=checkout.pk, state="pending").update(
            state="failed", message=_("支付未完成")
        )
        raise _err("payment", _("支付未完成授权，请换一种支付方式"), "payment_failed")
    return CheckoutResult(order=place_checkout(checkout))


def resume_checkout(user: Any, key: str) -> CheckoutResult:
    """The payer came back (3-D Secure done, QR scanned, Alipay return): ask Stripe and place."""
    checkout = Checkout.objects.filter(key=key, buyer=user).select_related("payment").first()
    if checkout is None:
        raise _err("checkout", _("找不到该支付"), "not_found")
    if checkout.order_id:
        return CheckoutResult(order=checkout.order)
    if checkout.state != "pending":
        raise _err("payment", checkout.message or _("支付未完成"), "payment_failed")
    return _advance(checkout)


def on_online_payment_ready(sender: Any, payment: Payment, **kwargs: Any) -> None:
    """Receiver of the core's ``online_payment_ready`` (Stripe webhook, abandoned-payment sweep): a
    buyer whose browser never came back after 3-D Secure / the QR code still gets the order (or,
    if the stock went meanwhile, the money back). Idempotent."""
    if (payment.purpose or {}).get("kind") != CHECKOUT_PURPOSE:
        return
    checkout = Checkout.objects.filter(payment=payment, state="pending", order__isnull=True).first()
    if checkout is not None:
        _advance(checkout)


class OutOfStock(Exception):
    pass


def place_checkout(checkout: Checkout) -> ProduceOrder:
    """Place the Oscar order for a usable payment (in the transaction that activates it), or give
    the money back through the core (void the authorisation, refund a charge) if the stock is gone."""
    try:
        with transaction.atomic():
            locked = Checkout.objects.select_for_update().get(pk=checkout.pk)
            if locked.order_id:
                return locked.order
            payment = Payment.objects.select_for_update().get(pk=locked.payment_id)
            order = _place(locked, payment)
            payments.activate_pending(payment)
            locked.state, locked.order = "placed", order
            locked.save(update_fields=["state", "order"])
            return order
    except OutOfStock as exc:
        with transaction.atomic():
            payments.void(checkout.payment, str(exc)[:128])
        Checkout.objects.filter(pk=checkout.pk).update(state="refused", message=str(exc)[:255])
        raise _err("lines", str(exc), "out_of_stock") from None


def _place(checkout: Checkout, payment: Payment) -> ProduceOrder:
    data = checkout.data
    rnd = Round.objects.get(pk=data["round"])
    quantities = {int(k): int(v) for k, v in data["lines"].items()}
    units = {u.pk: u for u in SaleUnit.objects.filter(pk__in=quantities).select_related("product", "lot")}
    # Lock the stock records (in pk order: no deadlock between buyers), then decide.
    records = {
        r.product_id: r
        for r in StockRecord.objects.select_for_update()
        .filter(product__in=[u.product_id for u in units.values()], partner=rnd.partner)
        .order_by("pk")
    }
    if not rnd.is_open:
        raise OutOfStock(_("本轮次已截单，支付授权已撤销"))
    user = checkout.buyer
    basket = Basket.objects.create(owner=user, status=Basket.OPEN)  # submitted below, same transaction
    basket.strategy = Selector().strategy(user=user)
    for unit_id, qty in sorted(quantities.items()):
        unit = units[unit_id]
        record = records.get(unit.product_id)
        left = record.net_stock_level if record else 0
        reason = check_sellable(unit.product, qty, user) if record else _("暂不可售")
        if reason or left < qty:
            raise OutOfStock(
                _("%(title)s 库存不足（剩 %(left)d），本单未成交，支付授权已撤销")
                % {"title": unit.product.title, "left": max(left, 0)}
            )
        basket.add_product(unit.product, qty)
    basket = Basket.objects.get(pk=basket.pk)
    basket.strategy = Selector().strategy(user=user)
    total_amount = money(sum(unit_price(units[u], q) * q for u, q in quantities.items()))
    from oscar.core.prices import Price

    total = Price(currency="CNY", excl_tax=total_amount, incl_tax=total_amount)
    shipping = Free()
    order = OrderCreator().place_order(
        basket=basket, total=total, shipping_method=shipping,
        shipping_charge=shipping.calculate(basket), user=user, status=ORDER_STATUS["paid"],
    )  # fmt: skip
    basket.submit()
    # Quantity price breaks: the order line carries the price the buyer was charged.
    for line in order.lines.all():
        unit = next(u for u in units.values() if u.product_id == line.product_id)
        price = unit_price(unit, line.quantity)
        line.unit_price_incl_tax = line.unit_price_excl_tax = price
        line.line_price_incl_tax = line.line_price_excl_tax = money(price * line.quantity)
        line.save(
            update_fields=[
                "unit_price_incl_tax",
                "unit_price_excl_tax",
                "line_price_incl_tax",
                "line_price_excl_tax",
            ]
        )
    addr = data["address"]
    po = ProduceOrder.objects.create(
        order=order, round=rnd, slot_id=data["slot"], buyer=user, standing_order_id=data.get("standing"),
        province=addr["province"], city=addr["city"], district=addr["district"], street=addr["street"],
        contact_name=addr["contact_name"], contact_phone=addr["contact_phone"],
        latitude=addr.get("latitude"), longitude=addr.get("longitude"),
        invoice_title=addr.get("invoice_title", ""), invoice_tax_id=addr.get("invoice_tax_id", ""),
        payment=payment, amount=payment.amount_authorised, delivery_code=f"{secrets.randbelow(10**6):06d}",
    )  # fmt: skip
    if order.total_incl_tax != payment.amount_authorised:
        raise OutOfStock(_("价格已变化，请重新下单"))
    payment.reference = str(order.number)[:64]
    payment.save(update_fields=["reference", "updated_at"])
    return po


# --- Buyer: orders and cancellation ------------------------------------------------------------


def orders_for_buyer(user: Any):
    return ProduceOrder.objects.filter(buyer=user).select_related("order", "round__partner", "slot")


def orders_for_cooperative(user: Any):
    return ProduceOrder.objects.filter(round__partner__in=cooperatives_for(user)).select_related(
        "order", "round", "slot"
    )


def _release_stock(po: ProduceOrder) -> None:
    for line in po.order.lines.select_related("stockrecord"):
        if line.stockrecord_id:
            StockRecord.objects.select_for_update().get(pk=line.stockrecord_id).cancel_allocation(
                line.quantity
            )


def cancel_order(user: Any, po: ProduceOrder, reason: str = "") -> ProduceOrder:
    """Buyer cancels before the cutoff: stock goes back, the card authorisation is voided (nothing
    was charged) or the WeChat Pay / Alipay charge refunded to the same account."""
    with transaction.atomic():
        po = ProduceOrder.objects.select_for_update().select_related("round", "order").get(pk=po.pk)
        if po.buyer_id != user.pk and not permissions.is_operator(user):
            raise PermissionDenied(_("只能取消自己的订单"))
        if po.state == OrderState.CANCELLED:
            return po
        if not po.can_cancel:
            raise _err("order", _("已过截单时间或已打包，不能取消"), "invalid_state")
        _release_stock(po)
        _set_order_status(po, ORDER_STATUS["cancelled"])
        po.state, po.cancelled_at = OrderState.CANCELLED, timezone.now()
        po.save(update_fields=["state", "cancelled_at"])
    _return_money(po, po.amount, reason or _("买家取消"))
    po.refresh_from_db()
    return po


def _set_order_status(po: ProduceOrder, status: str) -> None:
    order = po.order
    if order.status != status:
        order.set_status(status) if status in (order.available_statuses() or []) else Order.objects.filter(
            pk=order.pk
        ).update(status=status)


def _return_money(po: ProduceOrder, amount: Decimal, reason: str, key: str = "", by: Any = None) -> None:
    """Give money back through the core payment (idempotent): an order not delivered yet has its
    authorisation voided (a WeChat Pay / Alipay charge refunded in full); after delivery ``amount`` is
    refunded (never more than was captured and not refunded yet: the core refuses) and the
    cooperative's sale and the platform's commission on it are reversed in the ledger."""
    amount = money(amount)
    payment = po.payment
    if payment.status in (PaymentStatus.AUTHORISED, PaymentStatus.PENDING):
        with transaction.atomic():
            payments.void(payment, reason[:128])
        return
    if payment.status != PaymentStatus.CAPTURED:
        return
    key = key or f"produce:{po.pk}:return:{amount}"
    with transaction.atomic():
        refund = payments.refund(payment, amount, key, reason[:128], by=by)
        amount = refund.amount  # a repeated key: what that refund was
        partner = po.round.partner
        number = po.order.number
        post(Move(f"{key}:sale", "produce_refund", coop_payable(partner.pk), SALES, amount,
                  reference=number, memo=reason[:255]))  # fmt: skip
        share = commission_back(po, amount)
        post(Move(f"{key}:commission", "produce_commission_reversal", COMMISSION_INCOME, coop_payable(partner.pk),
                  share, reference=number, memo=reason[:255]))  # fmt: skip


def _entries_total(key: str, kind: str, reference: str) -> Decimal:
    from marketplace.payments.models import LedgerEntry

    qs = LedgerEntry.objects.filter(kind=kind, reference=reference)
    if key:
        qs = qs.filter(idempotency_key=key)
    return money(qs.aggregate(s=Sum("amount"))["s"] or 0)


def commission_back(po: ProduceOrder, amount: Decimal) -> Decimal:
    """Commission a refund of ``amount`` gives back to the cooperative: in proportion, never more
    than was charged on this order and not given back yet."""
    number = po.order.number
    charged = _entries_total(f"produce:{po.pk}:commission", "produce_commission", number)
    reversed_ = _entries_total("", "produce_commission_reversal", number)
    return max(min(money(amount * commission_rate(po.round.partner)), charged - reversed_), Decimal("0.00"))


def refund_key(po: ProduceOrder, key: str) -> str:
    return f"produce:{po.pk}:refund:{key}"


def refundable_orders(q: str = ""):
    """Delivered orders an operator may refund, newest first: those with money left to refund, or,
    searching by order number, every delivered order matching (a fully refunded one says so)."""
    from django.db.models import F

    qs = ProduceOrder.objects.filter(
        state=OrderState.DELIVERED, payment__status=PaymentStatus.CAPTURED
    ).select_related("order", "round__partner", "payment", "buyer")
    q = (q or "").strip()
    if q:
        qs = qs.filter(order__number__icontains=q[:64])
    else:
        qs = qs.filter(payment__amount_refunded__lt=F("payment__amount_captured"))
    return qs.order_by("-delivered_at", "-pk")


def refundable_amount(po: ProduceOrder) -> Decimal:
    """What may still be refunded on the order (the core's rule): nothing before delivery."""
    if po.state != OrderState.DELIVERED or po.payment.status != PaymentStatus.CAPTURED:
        return Decimal("0.00")
    return payments.refundable(po.payment)


def check_refund(user: Any, po: ProduceOrder, amount: Any, reason: str) -> Decimal:
    """The refund rule (operators or the selling cooperative; a delivered order; a reason; more than
    zero and no more than is left): the amount to refund, or field errors."""
    if not (permissions.is_operator(user) or permissions.can_manage_partner(user, po.round.partner)):
        raise PermissionDenied(_("无权退款"))
    if po.state != OrderState.DELIVERED:
        raise _err("order", _("订单未送达，请取消订单"), "invalid_state")
    errors: dict[str, list[ValidationError]] = {}
    if not (reason or "").strip():
        errors["reason"] = [ValidationError(_("请填写退款原因"), code="required")]
    left = refundable_amount(po)
    try:
        value = money(amount)
    except (InvalidOperation, TypeError, ValueError):
        errors["amount"] = [ValidationError(_("金额无效"), code="invalid")]
        value = Decimal("0.00")
    else:
        if left <= 0:
            errors["amount"] = [ValidationError(_("该订单已全额退款"), code="invalid_state")]
        elif value <= 0:
            errors["amount"] = [ValidationError(_("金额必须大于零"), code="invalid")]
        elif value > left:
            errors["amount"] = [
                ValidationError(
                    _("退款金额不能超过可退金额 %(left)s") % {"left": format_cny(left)}, code="limit_exceeded"
                )
            ]
    _raise(errors)
    return value


def refund_preview(user: Any, po: ProduceOrder, amount: Any, reason: str) -> dict[str, Any]:
    """What a refund would do, for the confirmation step (same checks as :func:`refund_order`): the
    buyer gets ``amount`` back; the cooperative's payable drops by ``amount`` less the commission
    given back. If the cooperative was paid out already, it owes the platform the difference, and
    the next payout runs only pay once its new sales cover it (the core pays positive balances only)."""
    value = check_refund(user, po, amount, reason)
    commission = commission_back(po, value)
    owed = COOPERATIVE_PAYABLE.owed_to(po.round.partner_id)
    after = money(owed - (value - commission))
    return {
        "amount": value,
        "reason": reason.strip(),
        "left_after": money(refundable_amount(po) - value),
        "commission_back": commission,
        "cooperative_charge": money(value - commission),
        "owed_before": owed,
        "owed_after": after,
        "claws_back": after < 0,
    }


def refund_order(user: Any, po: ProduceOrder, amount: Any, key: str, reason: str = "") -> ProduceOrder:
    """Refund (part of) a delivered order: operators or the selling cooperative (:func:`check_refund`).
    Keyed: the same key sent again (a double click, a resent form) refunds nothing more, even while
    the first is still running (the order row is locked)."""
    key = (key or "").strip()
    if not key or len(key) > 64:
        raise _err("key", _("缺少提交编号，请重新打开退款页"), "required")
    with transaction.atomic():
        # The payment is read after the lock (a later statement), so a refund that was waiting
        # sees what the one before it refunded.
        po = ProduceOrder.objects.select_for_update().select_related("round__partner", "order").get(pk=po.pk)
        if Refund.objects.filter(idempotency_key=refund_key(po, key)).exists():
            if not (permissions.is_operator(user) or permissions.can_manage_partner(user, po.round.partner)):
                raise PermissionDenied(_("无权退款"))
            return po
        value = check_refund(user, po, amount, reason)
        try:
            _return_money(po, value, reason.strip(), refund_key(po, key), by=user)
        except gateway.GatewayError as exc:
            raise _err("payment", _("退款暂未成功，请稍后再试"), "payment_retry") from exc
    po.refresh_from_db()
    po.payment.refresh_from_db()
    return po


def order_refunds(po: ProduceOrder) -> list[Any]:
    """The money given back on the order (refunds after delivery, a charge refunded on cancellation)."""
    return list(po.payment.refunds.select_related("requested_by").order_by("created_at", "pk"))


# --- Fulfilment --------------------------------------------------------------------------------


def require_round_cooperative(user: Any, rnd: Round) -> None:
    require_cooperative(user, rnd.partner)


def packing_list(rnd: Round) -> dict[str, Any]:
    """Per collection point (the round's) and slot: orders and the totals to pack per sale unit."""
    orders = list(
        rnd.orders.exclude(state=OrderState.CANCELLED)
        .select_related("order", "slot")
        .prefetch_related("order__lines")
        .order_by("slot_id", "pk")
    )
    by_slot: dict[int, dict[str, Any]] = {}
    totals: dict[str, int] = defaultdict(int)
    for po in orders:
        group = by_slot.setdefault(po.slot_id, {"slot": po.slot, "orders": []})
        group["orders"].append(po)
        for line in po.order.lines.all():
            totals[line.title] += line.quantity
    return {"round": rnd, "slots": list(by_slot.values()), "totals": sorted(totals.items())}


def mark_packed(user: Any, po: ProduceOrder) -> ProduceOrder:
    with transaction.atomic():
        po = ProduceOrder.objects.select_for_update().select_related("round__partner", "order").get(pk=po.pk)
        require_round_cooperative(user, po.round)
        if po.state == OrderState.PACKED:
            return po
        if po.state != OrderState.PAID:
            raise _err("order", _("该订单不能打包"), "invalid_state")
        po.state, po.packed_at = OrderState.PACKED, timezone.now()
        po.save(update_fields=["state", "packed_at"])
        for lot_id, kg in _kg_per_lot(po).items():
            LotEvent.objects.get_or_create(
                lot_id=lot_id, kind=EventKind.PACKING, reference=po.order.number,
                defaults={"quantity_kg": kg, "place": po.round.collection_point.name,
                          "latitude": po.round.collection_point.latitude,
                          "longitude": po.round.collection_point.longitude},
            )  # fmt: skip
    return po


def _kg_per_lot(po: ProduceOrder) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    for line in po.order.lines.all():
        unit = SaleUnit.objects.filter(product_id=line.product_id).select_related("lot").first()
        if unit:
            out[unit.lot_id] += unit.pack_kg * line.quantity
    return out


def delivery_requests(ready_by: date | None = None, source: str = "produce") -> list[DeliveryRequest]:
    """Packed orders waiting to leave: collection point → buyer (or pickup point), in the slot."""
    qs = ProduceOrder.objects.filter(state=OrderState.PACKED).select_related(
        "round__collection_point", "slot", "order"
    )
    if ready_by is not None:
        qs = qs.filter(slot__day__lte=ready_by)
    out = []
    for po in qs.order_by("pk"):
        point = po.round.collection_point
        lat = po.latitude if po.latitude is not None else po.slot.latitude
        lon = po.longitude if po.longitude is not None else po.slot.longitude
        if lat is None or lon is None:
            continue
        lines = tuple((ln.title, ln.quantity) for ln in po.order.lines.all())
        weight = sum(_kg_per_lot(po).values(), Decimal("0"))
        out.append(
            DeliveryRequest(
                ref=f"produce:order:{po.pk}", source=source, origin_kind="collection_point",
                origin_id=point.pk, origin_name=point.name, origin_lat=float(point.latitude),
                origin_lon=float(point.longitude),
                destination_kind="buyer" if po.slot.kind == SlotKind.DELIVERY else "pickup_point",
                destination_id=po.pk,
                destination_name=po.slot.place_name if po.slot.kind == SlotKind.PICKUP else po.order.number,
                destination_lat=float(lat), destination_lon=float(lon), weight_kg=weight,
                ready_on=po.slot.day, window_start=po.slot.start, window_end=po.slot.end,
                contact=po.order.number, lines=lines,
            )
        )  # fmt: skip
    return out


def confirm_delivery(user: Any, po: ProduceOrder, code: str) -> ProduceOrder:
    """Proof of delivery: the buyer's code completes the order, consumes the stock and captures the
    payment (card) or settles the prepaid charge; the cooperative is credited, commission charged."""
    with transaction.atomic():
        po = ProduceOrder.objects.select_for_update().select_related("round__partner", "order").get(pk=po.pk)
        require_round_cooperative(user, po.round)
        if po.state == OrderState.DELIVERED:
            return po
        if po.state not in (OrderState.PACKED, OrderState.SHIPPED):
            raise _err("order", _("订单尚未打包"), "invalid_state")
        if not secrets.compare_digest((code or "").strip(), po.delivery_code):
            raise _err("code", _("签收码不正确"), "invalid")
        try:
            payment = payments.capture(po.payment, po.amount)
        except payments.NotCapturable as exc:
            raise _err("payment", _("在线支付授权已失效，无法结算"), "payment_failed") from exc
        except ValidationError as exc:
            raise _err("payment", _("在线支付结算失败，请稍后再试"), "payment_retry") from exc
        for line in po.order.lines.select_related("stockrecord"):
            if line.stockrecord_id:
                StockRecord.objects.select_for_update().get(pk=line.stockrecord_id).consume_allocation(
                    line.quantity
                )
        partner = po.round.partner
        number = po.order.number
        sold = payment.amount_captured
        # The captured sale (core: clearing or the buyer's deposit → sales) belongs to the cooperative.
        post(Move(f"produce:{po.pk}:sale", "produce_sale", SALES, coop_payable(partner.pk), sold,
                  reference=number, memo="农产品销售"))  # fmt: skip
        post(Move(f"produce:{po.pk}:commission", "produce_commission", coop_payable(partner.pk), COMMISSION_INCOME,
                  money(sold * commission_rate(partner)), reference=number, memo="平台佣金"))  # fmt: skip
        po.state, po.delivered_at = OrderState.DELIVERED, timezone.now()
        po.save(update_fields=["state", "delivered_at"])
        _set_order_status(po, ORDER_STATUS["delivered"])
        for lot_id, kg in _kg_per_lot(po).items():
            LotEvent.objects.get_or_create(
                lot_id=lot_id, kind=EventKind.RECEIVING, reference=number,
                defaults={"quantity_kg": kg, "place": po.district or po.slot.place_name,
                          "latitude": po.latitude, "longitude": po.longitude},
            )  # fmt: skip
    return po


# --- Settlement ---------------------------------------------------------------------------------


def coop_payable(partner_id: int) -> str:
    return f"cooperative:{partner_id}:payable"


def commission_rate(partner: Any) -> Decimal:
    rates = getattr(settings, "PRODUCE_COMMISSION_RATES", {}) or {}
    return Decimal(str(rates.get(partner.code, getattr(settings, "PRODUCE_COMMISSION_RATE", "0.05"))))


def monthly_statement(partner: Any, month: date) -> dict[str, Any]:
    """A cooperative's month from the core ledger: sales, refunds, commission, what it is owed."""
    from marketplace.payments.models import LedgerEntry

    first = month.replace(day=1)
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(nxt, time.min))
    account = coop_payable(partner.pk)
    qs = LedgerEntry.objects.filter(created_at__gte=start, created_at__lt=end).filter(
        Q(debit_account=account) | Q(credit_account=account)
    )

    def total(kind: str) -> Decimal:
        return money(qs.filter(kind=kind).aggregate(s=Sum("amount"))["s"] or 0)

    return {
        "partner": partner,
        "month": first,
        "opening": -balance(account, until=start),
        "sales": total("produce_sale"),
        "refunds": total("produce_refund"),
        "commission": total("produce_commission") - total("produce_commission_reversal"),
        "payouts": total("produce_payout"),
        "closing": -balance(account, until=end),
        "entries": [_labelled(e) for e in qs.order_by("created_at", "pk")],
    }


ENTRY_LABELS = {
    "produce_sale": _noop("销售"),
    "produce_refund": _noop("退款"),
    "produce_commission": _noop("平台佣金"),
    "produce_commission_reversal": _noop("佣金退回"),
    "produce_payout": _noop("货款支付"),
}


def _labelled(entry: Any) -> Any:
    entry.label = _(ENTRY_LABELS[entry.kind]) if entry.kind in ENTRY_LABELS else entry.kind
    return entry


# --- Standing orders (business buyers) ----------------------------------------------------------


def create_standing_order(
    user: Any, partner: Any, crop: str, pack_kg: Any, units: int, address: Address, token: str
) -> StandingOrder:
    """A weekly order: the card is saved once (tokenised in the browser) and charged each round."""
    if not permissions.has_role(user, Role.CITY_BUYER):
        raise PermissionDenied(_("请使用采购商账号"))
    errors: dict[str, list[ValidationError]] = {}
    if crop not in Crop.values:
        errors["crop"] = [ValidationError(_("请选择作物"), code="invalid")]
    pack = _dec(pack_kg, "pack_kg", errors, _("规格"))
    if not isinstance(units, int) or not 1 <= units <= 10000:
        errors["units"] = [ValidationError(_("数量须为 1 到 10000 的整数"), code="invalid")]
    _raise(errors)
    fake_slot = Slot(kind=SlotKind.DELIVERY)
    addr = clean_address(fake_slot, address)
    try:
        customer, card = gateway.card_from_token(
            token, f"standing:{user.pk}:{secrets.token_hex(6)}", {"buyer": str(user.pk)}
        )
    except gateway.GatewayError as exc:
        raise _err("card", str(exc), "payment_failed") from exc
    return StandingOrder.objects.create(
        buyer=user, partner=partner, crop=crop, pack_kg=pack, units=units,
        address={k: str(v) if v is not None else None for k, v in addr.items()},
        stripe_customer=customer, stripe_card=card,
    )  # fmt: skip


def skip_round(user: Any, so: StandingOrder, rnd: Round) -> None:
    """Skip one round: no order in it (the round's order, if already placed, is cancelled and its
    authorisation voided — allowed until the cutoff)."""
    if so.buyer_id != user.pk:
        raise PermissionDenied(_("只能修改自己的周期订单"))
    if rnd.partner_id != so.partner_id or not rnd.is_open:
        raise _err("round", _("本轮次已截单"), "invalid_state")
    so.skipped_rounds.add(rnd)
    alloc = StandingAllocation.objects.filter(standing_order=so, round=rnd, order__isnull=False).first()
    if alloc and alloc.order.state == OrderState.PAID:
        cancel_order(user, alloc.order, _("本轮跳过"))


def fair_shares(available: int, requests: list[tuple[int, int]]) -> dict[int, int]:
    """Split ``available`` units between (id, requested) fairly: everyone gets the same share of their
    request (largest remainder, ties to the earlier standing order), never more than requested."""
    wanted = sum(r for _, r in requests)
    if wanted <= available:
        return {i: r for i, r in requests}
    shares = {i: (r * available) // wanted for i, r in requests}
    left = available - sum(shares.values())
    order = sorted(requests, key=lambda ir: (-((ir[1] * available) % wanted), ir[0]))
    for i, r in order:
        if left <= 0:
            break
        if shares[i] < r:
            shares[i] += 1
            left -= 1
    return shares


def create_standing_orders_for_round(rnd: Round) -> list[StandingAllocation]:
    """Each active standing order of the round's cooperative gets an order in the round, charged to
    its saved card; when the stock is short everyone gets the same fraction, and is told so."""
    standing = list(
        StandingOrder.objects.filter(partner=rnd.partner, paused=False)
        .exclude(skipped_rounds=rnd)
        .order_by("pk")
    )
    done = set(StandingAllocation.objects.filter(round=rnd).values_list("standing_order_id", flat=True))
    standing = [s for s in standing if s.pk not in done]
    if not standing:
        return []
    delivery = rnd.slots.filter(kind=SlotKind.DELIVERY).first() or rnd.slots.first()
    units = list(units_in_round(rnd))
    results = []
    by_unit: dict[int, list[StandingOrder]] = defaultdict(list)
    for so in standing:
        match = next((u for u in units if u.lot.crop == so.crop and u.pack_kg == so.pack_kg), None)
        if match is None:
            results.append(StandingAllocation.objects.create(
                standing_order=so, round=rnd, requested=so.units, allocated=0,
                explanation=_("本轮没有该规格的产品")))  # fmt: skip
            continue
        by_unit[match.pk].append(so)
    for unit_id, group in by_unit.items():
        unit = next(u for u in units if u.pk == unit_id)
        record = unit.product.stockrecords.filter(partner=rnd.partner).first()
        available = max(record.net_stock_level if record else 0, 0)
        shares = fair_shares(available, [(so.pk, so.units) for so in group])
        short = sum(so.units for so in group) > available
        for so in group:
            qty = shares[so.pk]
            note = (
                _("库存 %(a)d 不足以满足 %(n)d 份周期订单共 %(w)d，按相同比例分配：%(q)d/%(r)d")
                % {"a": available, "n": len(group), "w": sum(s.units for s in group), "q": qty, "r": so.units}
                if short
                else _("全额分配")
            )
            alloc = StandingAllocation.objects.create(
                standing_order=so, round=rnd, requested=so.units, allocated=qty, explanation=note[:255]
            )
            if qty > 0 and delivery is not None:
                try:
                    alloc.order = _charge_standing(so, rnd, delivery, unit, qty)
                    alloc.save(update_fields=["order"])
                except ValidationError as exc:
                    alloc.explanation = (note + " · " + "；".join(exc.messages))[:255]
                    alloc.allocated = 0
                    alloc.save(update_fields=["explanation", "allocated"])
            results.append(alloc)
    return results


def _charge_standing(so: StandingOrder, rnd: Round, slot: Slot, unit: SaleUnit, qty: int) -> ProduceOrder:
    """Charge the standing order's saved card for this round through the core payment (payer: the
    buyer, who saved the card for exactly this) and place the order; keyed per standing order and
    round, so a second run for the round charges nothing."""
    key = f"produce:standing:{so.pk}:round:{rnd.pk}"
    total = money(unit_price(unit, qty) * qty)
    data = {
        "round": rnd.pk,
        "slot": slot.pk,
        "lines": {str(unit.pk): qty},
        "address": so.address,
        "standing": so.pk,
    }
    payment = payments.authorise_online_for_user(
        so.buyer, total, f"produce:{rnd.pk}", key, "card", payment_method=so.stripe_card,
        customer=so.stripe_customer, purpose={"kind": CHECKOUT_PURPOSE, "checkout": key},
    )  # fmt: skip
    checkout, _c = Checkout.objects.get_or_create(
        key=key, defaults={"buyer": so.buyer, "data": data, "payment": payment}
    )
    result = _advance(checkout)
    if result.order is None:
        raise _err("payment", _("银行卡需要验证，请到订单页完成支付"), "payment_failed")
    return result.order

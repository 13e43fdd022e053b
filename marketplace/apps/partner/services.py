"""Supplier / cooperative onboarding, operator review, licences, warehouses and stock reservation.

Views, GraphQL and tasks all call these; permissions come from marketplace.core.permissions.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.core.money import cny

from .credit_code import normalise, validate_credit_code
from .models import (
    LicenceKind,
    Partner,
    PartnerKind,
    PartnerLicence,
    PartnerStatusChange,
    StockRecord,
    VerificationStatus,
    Warehouse,
)
from .strategy import is_sellable, sellable_q  # noqa: F401  (re-exported: the rule lives in strategy.py)

REGISTRATION_FIELDS = (
    "name",
    "kind",
    "credit_code",
    "legal_representative",
    "contact_name",
    "contact_mobile",
    "contact_phone",
    "bank_name",
    "bank_account_name",
    "bank_account_number",
)
REQUIRED_FOR_REVIEW = (
    "name",
    "credit_code",
    "legal_representative",
    "contact_name",
    "contact_mobile",
    "bank_name",
    "bank_account_name",
    "bank_account_number",
)

#: Allowed review transitions: action -> (from statuses, to status, reason required).
TRANSITIONS: dict[str, tuple[frozenset[str], str, bool]] = {
    "approve": (
        frozenset({VerificationStatus.PENDING, VerificationStatus.SUSPENDED, VerificationStatus.REJECTED}),
        VerificationStatus.APPROVED,
        False,
    ),
    "reject": (frozenset({VerificationStatus.PENDING}), VerificationStatus.REJECTED, True),
    "suspend": (frozenset({VerificationStatus.APPROVED}), VerificationStatus.SUSPENDED, True),
    "resubmit": (frozenset({VerificationStatus.REJECTED}), VerificationStatus.PENDING, False),
}


def sellable_stockrecords():
    return StockRecord.objects.filter(sellable_q())


def acting_partner(user: Any, wanted: Any = None) -> Partner | None:
    """The partner a supplier page acts for: ``wanted`` (an id from the request) if the user may
    manage it, else the first of the user's partners by name; None when the user has none."""
    partners = permissions.partners_for(user).order_by("name", "pk")
    if wanted and str(wanted).isdigit():
        chosen = partners.filter(pk=int(wanted)).first()
        if chosen is not None:
            return chosen
    return partners.first()


# --- Onboarding and review ------------------------------------------------------------------------


def _clean_registration(data: dict[str, Any]) -> dict[str, Any]:
    unknown = set(data) - set(REGISTRATION_FIELDS)
    if unknown:
        raise ValidationError(
            {f: ValidationError(gettext("未知字段"), code="invalid") for f in sorted(unknown)}
        )
    cleaned = {k: (str(v).strip() if v is not None else "") for k, v in data.items()}
    errors: dict[str, ValidationError] = {}
    for field in REQUIRED_FOR_REVIEW:
        if not cleaned.get(field):
            errors[field] = ValidationError(
                gettext("%(field)s为必填项") % {"field": Partner._meta.get_field(field).verbose_name},
                "required",
            )
    if cleaned.get("credit_code"):
        cleaned["credit_code"] = normalise(cleaned["credit_code"])
        try:
            validate_credit_code(cleaned["credit_code"])
        except ValidationError as exc:
            errors["credit_code"] = exc
    if cleaned.get("contact_mobile"):
        from marketplace.accounts.models import phone_validator

        try:
            phone_validator(cleaned["contact_mobile"])
        except ValidationError as exc:
            errors["contact_mobile"] = exc
    account = cleaned.get("bank_account_number", "").replace(" ", "")
    if account and not (account.isdigit() and 8 <= len(account) <= 30):
        errors["bank_account_number"] = ValidationError(gettext("银行账号须为8-30位数字"), "invalid")
    cleaned["bank_account_number"] = account
    kind = cleaned.get("kind") or PartnerKind.SUPPLIER
    if kind not in PartnerKind.values:
        errors["kind"] = ValidationError(gettext("类型须为 supplier 或 cooperative"), "invalid")
    cleaned["kind"] = kind
    if errors:
        raise ValidationError(errors)
    return cleaned


def _record(partner: Partner, actor: Any, from_status: str, to_status: str, reason: str = "") -> None:
    PartnerStatusChange.objects.create(
        partner=partner,
        actor=actor if getattr(actor, "pk", None) else None,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
    )


@transaction.atomic
def register_partner(actor: Any, data: dict[str, Any]) -> Partner:
    """A supplier or cooperative user registers their company (or an operator does it for them).

    The partner starts as *pending*; nothing it lists is sellable until an operator approves it.
    """
    allowed = permissions.is_operator(actor) or permissions.has_role(actor, Role.SUPPLIER, Role.COOPERATIVE)
    permissions.require(allowed, gettext("只有供应商、合作社或平台运营可以申请入驻"))
    cleaned = _clean_registration(data)
    if Partner.objects.filter(credit_code=cleaned["credit_code"]).exists():
        raise ValidationError(
            {"credit_code": ValidationError(gettext("该统一社会信用代码已注册"), code="unique")}
        )
    partner = Partner(verification_status=VerificationStatus.PENDING, **cleaned)
    partner.full_clean(exclude=["code"])
    partner.save()
    if not permissions.is_operator(actor):
        partner.users.add(actor)
    _record(partner, actor, "", VerificationStatus.PENDING, "申请入驻")
    return partner


@transaction.atomic
def sign_up(
    data: dict[str, Any], *, username: str, password: str, mobile: str, display_name: str = ""
) -> tuple[Any, Partner]:
    """A business signs up from the public page: its login (role supplier or cooperative, from
    ``kind``) and its company registration, pending until an operator approves it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password

    from marketplace.accounts.models import phone_validator

    User = get_user_model()
    errors: dict[str, ValidationError] = {}
    username = (username or "").strip()
    mobile = (mobile or "").strip()
    if not username:
        errors["username"] = ValidationError(gettext("请填写用户名"), code="required")
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ValidationError(gettext("该用户名已被使用"), code="unique")
    try:
        phone_validator(mobile)
    except ValidationError as exc:
        errors["mobile"] = exc
    else:
        if User.objects.filter(phone=mobile).exists():
            errors["mobile"] = ValidationError(gettext("该手机号已注册"), code="unique")
    kind = data.get("kind") or PartnerKind.SUPPLIER
    role = Role.COOPERATIVE if kind == PartnerKind.COOPERATIVE else Role.SUPPLIER
    user = User(username=username, phone=mobile or None, role=role, display_name=(display_name or "")[:64])
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        errors["password"] = exc
    try:
        cleaned = _clean_registration(data)
    except ValidationError as exc:
        errors.update({k: ValidationError(v) for k, v in exc.message_dict.items()})
        cleaned = {}
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    partner = register_partner(user, cleaned)
    return user, partner


@transaction.atomic
def update_registration(actor: Any, partner: Partner, data: dict[str, Any]) -> Partner:
    permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权修改该供应商"))
    merged = {f: getattr(partner, f) for f in REGISTRATION_FIELDS} | data
    cleaned = _clean_registration(merged)
    if Partner.objects.filter(credit_code=cleaned["credit_code"]).exclude(pk=partner.pk).exists():
        raise ValidationError(
            {"credit_code": ValidationError(gettext("该统一社会信用代码已注册"), code="unique")}
        )
    for key, value in cleaned.items():
        setattr(partner, key, value)
    partner.full_clean()
    partner.save()
    return partner


def _dashboard_permission() -> Permission:
    return Permission.objects.get(codename="dashboard_access", content_type__app_label="partner")


@transaction.atomic
def transition(actor: Any, partner: Partner, action: str, reason: str = "") -> Partner:
    """Move a partner through the review workflow and write the audit trail."""
    if action not in TRANSITIONS:
        raise ValidationError(
            {"action": ValidationError(gettext("未知操作 %(action)s") % {"action": action}, code="invalid")}
        )
    if action == "resubmit":
        permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权操作该供应商"))
    else:
        permissions.require(permissions.is_operator(actor), gettext("只有平台运营可以审核供应商"))
    sources, target, needs_reason = TRANSITIONS[action]
    partner = Partner.objects.select_for_update().get(pk=partner.pk)
    if partner.verification_status not in sources:
        raise ValidationError(
            gettext("当前状态「%(status)s」不能执行该操作")
            % {"status": partner.get_verification_status_display()},
            code="invalid_state",
        )
    reason = (reason or "").strip()
    if needs_reason and not reason:
        raise ValidationError({"reason": ValidationError(gettext("请填写原因"), code="required")})
    previous = partner.verification_status
    partner.verification_status = target
    if target == VerificationStatus.APPROVED:
        partner.verified_at = timezone.now()
    partner.save(update_fields=["verification_status", "verified_at"])
    _record(partner, actor, previous, target, reason)
    perm = _dashboard_permission()
    for user in partner.users.all():
        if target == VerificationStatus.APPROVED:
            user.user_permissions.add(perm)
        elif not Partner.objects.filter(users=user, verification_status=VerificationStatus.APPROVED).exists():
            user.user_permissions.remove(perm)
    transaction.on_commit(lambda: _reindex_partner(partner.pk))
    return partner


def approve_partner(actor: Any, partner: Partner, reason: str = "") -> Partner:
    return transition(actor, partner, "approve", reason)


def reject_partner(actor: Any, partner: Partner, reason: str) -> Partner:
    return transition(actor, partner, "reject", reason)


def suspend_partner(actor: Any, partner: Partner, reason: str) -> Partner:
    return transition(actor, partner, "suspend", reason)


def _reindex_partner(partner_id: int) -> None:
    from marketplace.search.sync import schedule_partner_reindex

    schedule_partner_reindex(partner_id)


# --- Licences -----------------------------------------------------------------------------------


@transaction.atomic
def add_licence(
    actor: Any,
    partner: Partner,
    *,
    kind: str,
    number: str,
    valid_from: date,
    valid_until: date,
    restricted_scope: bool = False,
    product: Any = None,
    file: Any = None,
) -> PartnerLicence:
    permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权为该供应商上传证照"))
    errors: dict[str, ValidationError] = {}
    if kind not in LicenceKind.values:
        errors["kind"] = ValidationError(gettext("未知证照类型"), code="invalid")
    number = (number or "").strip()
    if not number:
        errors["number"] = ValidationError(gettext("证号为必填项"), code="required")
    if valid_from and valid_until and valid_until < valid_from:
        errors["valid_until"] = ValidationError(gettext("有效期至不能早于有效期起"), code="invalid")
    if kind == LicenceKind.FERTILIZER_REGISTRATION and product is None:
        errors["product"] = ValidationError(gettext("肥料登记证须指定对应产品"), code="required")
    if product is not None and not (
        product.owner_id == partner.pk or product.stockrecords.filter(partner=partner).exists()
    ):
        errors["product"] = ValidationError(gettext("该产品不属于本供应商"), code="invalid")
    if restricted_scope and kind != LicenceKind.PESTICIDE_BUSINESS:
        errors["restricted_scope"] = ValidationError(
            gettext("仅农药经营许可证可含限制使用范围"), code="invalid"
        )
    if errors:
        raise ValidationError(errors)
    licence = PartnerLicence(
        partner=partner,
        kind=kind,
        number=number,
        valid_from=valid_from,
        valid_until=valid_until,
        restricted_scope=restricted_scope,
        product=product,
    )
    if file is not None:
        licence.file = file
    licence.full_clean()
    licence.save()  # the licence post_save signal re-checks the partner's stock (catalogue.compliance)
    return licence


@transaction.atomic
def renew_licence(
    actor: Any,
    licence: PartnerLicence,
    *,
    valid_until: date,
    valid_from: date | None = None,
    file: Any = None,
) -> PartnerLicence:
    """A renewed licence: new validity (and scan); sales it blocked resume after the re-check."""
    permissions.require(
        permissions.can_manage_partner(actor, licence.partner), gettext("无权为该供应商上传证照")
    )
    licence = PartnerLicence.objects.select_for_update().get(pk=licence.pk)
    valid_from = valid_from or licence.valid_from
    if valid_until is None or valid_until < valid_from:
        raise ValidationError(
            {"valid_until": ValidationError(gettext("有效期至不能早于有效期起"), code="invalid")}
        )
    if valid_until <= licence.valid_until and valid_from == licence.valid_from and file is None:
        raise ValidationError(
            {"valid_until": ValidationError(gettext("续期后的有效期须延后"), code="invalid")}
        )
    licence.valid_from, licence.valid_until, licence.revoked = valid_from, valid_until, False
    if file is not None:
        licence.file = file
    licence.full_clean()
    licence.save()
    partner_id = licence.partner_id
    transaction.on_commit(lambda: _recheck_partner(partner_id))
    return licence


def _recheck_partner(partner_id: int) -> None:
    from marketplace.apps.catalogue.compliance import enforce_licences

    enforce_licences(partner_ids=[partner_id], notify=False)


# --- Warehouses ---------------------------------------------------------------------------------


@transaction.atomic
def save_warehouse(actor: Any, partner: Partner, data: dict[str, Any]) -> Warehouse:
    permissions.require(permissions.can_manage_partner(actor, partner), gettext("无权管理该供应商的仓库"))
    code = str(data.get("code") or "").strip()
    if not code:
        raise ValidationError({"code": ValidationError(gettext("仓库编号为必填项"), code="required")})
    warehouse = Warehouse.objects.filter(partner=partner, code=code).first() or Warehouse(
        partner=partner, code=code
    )
    for key in ("name", "address", "latitude", "longitude", "is_active"):
        if key in data and data[key] is not None:
            setattr(warehouse, key, data[key])
    warehouse.full_clean()
    warehouse.save()
    return warehouse


# --- Stock levels ------------------------------------------------------------------------------
#
# Allocation is Oscar's: StockRecord.allocate / consume_allocation / cancel_allocation, reached through
# the basket and checkout (the strategy decides what may be sold). CheckConstraints on StockRecord
# (0 <= num_allocated <= num_in_stock) back it up.


@transaction.atomic
def set_stock(
    actor: Any,
    record: StockRecord,
    *,
    num_in_stock: int | None = None,
    price: Decimal | None = None,
    warehouse: Warehouse | None = None,
) -> StockRecord:
    """A supplier sets absolute stock / price on one of its own stock records."""
    permissions.require(permissions.can_manage_partner(actor, record.partner), gettext("无权修改该库存"))
    errors: dict[str, ValidationError] = {}
    if num_in_stock is not None and num_in_stock < 0:
        errors["num_in_stock"] = ValidationError(gettext("库存不能为负"), code="invalid")
    if price is not None and price < 0:
        errors["price"] = ValidationError(gettext("价格不能为负"), code="invalid")
    if warehouse is not None and warehouse.partner_id != record.partner_id:
        errors["warehouse_id"] = ValidationError(gettext("仓库不属于本供应商"), code="invalid")
    if errors:
        raise ValidationError(errors)
    fields = []
    if num_in_stock is not None:
        allocated = (
            StockRecord.objects.filter(pk=record.pk).values_list("num_allocated", flat=True).first() or 0
        )
        if num_in_stock < allocated:
            raise ValidationError(
                {
                    "num_in_stock": ValidationError(
                        gettext("库存不能少于已占用数量 %(allocated)s") % {"allocated": allocated},
                        code="invalid",
                    )
                }
            )
        record.num_in_stock = num_in_stock
        fields.append("num_in_stock")
    if price is not None:
        record.price = cny(price)
        fields.append("price")
    if warehouse is not None:
        record.warehouse = warehouse
        fields.append("warehouse")
    if fields:
        try:
            with transaction.atomic():
                record.save(update_fields=[*fields, "date_updated"])
        except IntegrityError as exc:  # the CheckConstraint raced with a concurrent reservation
            raise ValidationError(
                {"num_in_stock": ValidationError(gettext("库存不能少于已占用数量"), code="invalid")}
            ) from exc
    return record


def db_is_postgres() -> bool:
    return connection.vendor == "postgresql"

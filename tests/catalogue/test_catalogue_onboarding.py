"""Supplier onboarding, operator review workflow with audit trail, licences and compliance."""

from __future__ import annotations

from datetime import timedelta

import pytest
from catalogue_helpers import licence, make_fertilizer, make_pesticide, valid_code
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from marketplace.accounts.models import Role, User
from marketplace.apps.catalogue.compliance import enforce_licences
from marketplace.apps.partner import services
from marketplace.apps.partner.credit_code import check_character, validate_credit_code
from marketplace.apps.partner.models import LicenceKind, PartnerStatusChange, StockRecord, VerificationStatus
from marketplace.core.models import Notification

pytestmark = pytest.mark.django_db


def registration(n: int = 1, **extra) -> dict:
    return {
        "name": "吉林丰源农资有限公司",
        "credit_code": valid_code(n),
        "legal_representative": "王建国",
        "contact_name": "李明",
        "contact_mobile": "13900001111",
        "bank_name": "中国农业银行长春双阳支行",
        "bank_account_name": "吉林丰源农资有限公司",
        "bank_account_number": "0712 0101 0400 12345",
        **extra,
    }


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L"])
def test_real_credit_codes_pass(code):
    validate_credit_code(code)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("91350100M000100Y4", "18位"),
        ("91350100M000100Y44", "校验位"),
        ("91350100M00010OY43", "格式"),  # letter O is not allowed
        ("01350100M000100Y43", "格式"),  # registration authority 0 does not exist
    ],
)
def test_bad_credit_codes_are_refused_with_reason(code, message):
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(code)
    assert message in exc.value.messages[0]


def test_check_character_known_value():
    assert check_character("91110000600037341") == "L"


def test_supplier_registers_pending_and_is_linked(db):
    user = User.objects.create(username="newsup", role=Role.SUPPLIER)
    partner = services.register_partner(user, registration())
    assert partner.verification_status == VerificationStatus.PENDING
    assert partner.bank_account_number == "07120101040012345"
    assert list(partner.users.all()) == [user]
    change = PartnerStatusChange.objects.get(partner=partner)
    assert (change.from_status, change.to_status, change.actor) == ("", "pending", user)


def test_registration_errors_name_each_field(db):
    user = User.objects.create(username="newsup", role=Role.SUPPLIER)
    with pytest.raises(ValidationError) as exc:
        services.register_partner(
            user,
            registration(
                credit_code="91350100M000100Y44", legal_representative="", bank_account_number="12ab"
            ),
        )
    errors = exc.value.message_dict
    assert set(errors) == {"credit_code", "legal_representative", "bank_account_number"}
    assert "校验位" in errors["credit_code"][0]


def test_duplicate_credit_code_refused(db, operator):
    services.register_partner(operator, registration(1))
    with pytest.raises(ValidationError) as exc:
        services.register_partner(operator, registration(1, name="另一家"))
    assert "credit_code" in exc.value.message_dict


def test_farmer_cannot_register_partner(farmer_a):
    with pytest.raises(PermissionDenied):
        services.register_partner(farmer_a, registration())


def test_review_workflow_audit_and_dashboard_permission(operator):
    user = User.objects.create(username="newsup", role=Role.SUPPLIER)
    partner = services.register_partner(user, registration())
    with pytest.raises(PermissionDenied):
        services.approve_partner(user, partner)  # a supplier cannot approve itself
    with pytest.raises(ValidationError) as exc:
        services.reject_partner(operator, partner, "")
    assert "reason" in exc.value.message_dict
    services.reject_partner(operator, partner, "营业执照不清晰")
    services.transition(user, partner, "resubmit")
    services.approve_partner(operator, partner)
    user = User.objects.get(pk=user.pk)
    assert user.has_perm("partner.dashboard_access")
    services.suspend_partner(operator, partner, "投诉核查")
    user = User.objects.get(pk=user.pk)
    assert not user.has_perm("partner.dashboard_access")
    with pytest.raises(ValidationError) as exc:
        services.reject_partner(operator, partner, "x")  # suspended → rejected is not a transition
    assert exc.value.code == "invalid_state"
    trail = list(
        PartnerStatusChange.objects.filter(partner=partner).values_list("from_status", "to_status", "reason")
    )
    assert trail == [
        ("", "pending", "申请入驻"),
        ("pending", "rejected", "营业执照不清晰"),
        ("rejected", "pending", ""),
        ("pending", "approved", ""),
        ("approved", "suspended", "投诉核查"),
    ]


def test_only_approved_suppliers_stock_is_sellable(product_classes, supplier, operator, wh):
    product = make_fertilizer(product_classes, supplier, "F1", "复合肥 15-15-15", warehouse=wh)
    record = StockRecord.objects.get(partner_sku="F1")
    licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, product=product)
    enforce_licences()
    record.allocate(1)
    services.suspend_partner(operator, supplier, "核查")
    record = StockRecord.objects.select_related("partner").get(pk=record.pk)
    with pytest.raises(ValidationError) as exc:
        record.allocate(1)
    assert exc.value.message_dict["stockrecord_id"] == ["该商品当前不可销售"]


def test_licence_enforcement_blocks_notifies_once_and_unblocks(product_classes, supplier):
    supplier.contact_mobile = "13900002222"
    supplier.save()
    fert = make_fertilizer(product_classes, supplier, "F1", "尿素 46%", npk=(46, 0, 0), licensed_stock=False)
    pest, pest_record = make_pesticide(product_classes, supplier, "P1", restricted=True)
    # born blocked (whoever creates the stock), the supplier told once per new record
    reasons = dict(StockRecord.objects.values_list("partner_sku", "blocked_reason"))
    assert reasons == {"F1": "缺少有效的肥料登记证", "P1": "缺少有效的农药经营许可证"}
    assert Notification.objects.filter(recipient="13900002222").count() == 2
    result = enforce_licences()
    assert result["blocked"] == 0  # nothing new to block
    enforce_licences()  # running again sends nothing new
    assert Notification.objects.filter(recipient="13900002222").count() == 2

    licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, number="肥登2024-1", product=fert)
    licence(supplier, LicenceKind.PESTICIDE_BUSINESS, number="农药经许(吉)1", restricted=False)
    enforce_licences()
    reasons = dict(StockRecord.objects.values_list("partner_sku", "blocked_reason"))
    assert reasons == {"F1": "", "P1": "农药经营许可证不含限制使用农药经营范围"}
    assert not StockRecord.objects.get(partner_sku="F1").compliance_blocked


def test_expired_licence_blocks_stock(product_classes, supplier):
    fert = make_fertilizer(product_classes, supplier, "F1", "尿素 46%", npk=(46, 0, 0), licensed_stock=False)
    lic = licence(supplier, LicenceKind.FERTILIZER_REGISTRATION, product=fert, days=10)
    enforce_licences()
    assert not StockRecord.objects.get(partner_sku="F1").compliance_blocked
    enforce_licences(today=lic.valid_until + timedelta(days=1))
    assert StockRecord.objects.get(partner_sku="F1").compliance_blocked
    # expiring-soon warning was sent once, keyed by licence
    assert Notification.objects.filter(dedupe_key__startswith="licence-expiring:").count() <= 1


def test_periodic_task_is_in_beat_schedule():
    from marketplace.celery import beat_schedule

    entry = beat_schedule()["catalogue.enforce-licences"]
    assert entry["task"] == "marketplace.catalogue.enforce_licences"


def test_add_licence_validates_and_respects_tenancy(supplier_user, supplier, other_supplier):
    today = timezone.localdate()
    with pytest.raises(ValidationError) as exc:
        services.add_licence(
            supplier_user,
            supplier,
            kind=LicenceKind.FERTILIZER_REGISTRATION,
            number="",
            valid_from=today,
            valid_until=today - timedelta(days=1),
        )
    assert set(exc.value.message_dict) == {"number", "valid_until", "product"}
    with pytest.raises(PermissionDenied):
        services.add_licence(
            supplier_user,
            other_supplier,
            kind=LicenceKind.SEED_BUSINESS,
            number="X",
            valid_from=today,
            valid_until=today,
        )


def test_demo_suppliers_are_onboarded_licensed_and_sellable():
    from marketplace.core.demo import seed_demo

    seed_demo(villages=4, households=8)
    from marketplace.apps.partner.models import Partner, VerificationStatus, Warehouse

    # The demo also has one supplier still waiting for review (the operator's queue): not onboarded yet.
    assert Partner.objects.exclude(verification_status=VerificationStatus.APPROVED).count() == 1
    for partner in Partner.objects.filter(verification_status=VerificationStatus.APPROVED):
        validate_credit_code(partner.credit_code)
        assert Warehouse.objects.filter(partner=partner).exists()
    assert not StockRecord.objects.filter(compliance_blocked=True).exists()
    assert not StockRecord.objects.filter(warehouse__isnull=True).exists()
    before = list(StockRecord.objects.order_by("pk").values_list("pk", "warehouse__latitude", "price"))
    seed_demo(villages=4, households=8)
    assert (
        list(StockRecord.objects.order_by("pk").values_list("pk", "warehouse__latitude", "price")) == before
    )

"""Declared permissions: every mutation says what it needs and BaseMutation checks it before the body."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import graphene
import pytest
from django.contrib.auth.models import AnonymousUser
from testkit import make_user

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.graphql.core.errors import CommonErrorCode
from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.schema import schema
from marketplace.stations.models import StationStaff

# Mutations anybody may call. Adding one here is a deliberate, reviewed decision.
PUBLIC_MUTATIONS = {"tokenCreate", "produceBuyerSignUp"}


def _mutations() -> dict[str, type]:
    fields = schema.graphql_schema.mutation_type.fields
    out = {}
    for name in fields:
        graphene_type = schema.graphql_schema.get_type(fields[name].type.name).graphene_type
        out[name] = graphene_type
    return out


def _required_outputs(mutation: type) -> list[str]:
    return [
        name
        for name, field in mutation._meta.fields.items()
        if isinstance(field.type, graphene.NonNull) and name != "errors"
    ]


def test_every_mutation_declares_its_permissions():
    mutations = _mutations()
    assert len(mutations) >= 30
    undeclared = [
        name
        for name, cls in mutations.items()
        if not (isinstance(cls, type) and issubclass(cls, BaseMutation) and cls._meta.permissions)
    ]
    assert undeclared == [], f"mutations without Meta.permissions: {undeclared}"
    public = {name for name, cls in mutations.items() if any(p.public for p in cls._meta.permissions)}
    assert public == PUBLIC_MUTATIONS
    for cls in mutations.values():
        for perm in cls._meta.permissions:
            assert permissions.REGISTRY[perm.name] is perm


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "inactive"])
def test_every_non_public_mutation_refuses_before_its_body(who):
    """No arguments are passed: if a mutation's body ran, it would raise TypeError, not refuse."""
    if who == "anonymous":
        user = AnonymousUser()
    else:
        user = make_user("gone", Role.OPERATOR, is_active=False, is_superuser=True)
    info = SimpleNamespace(context=SimpleNamespace(user=user))
    for name, cls in _mutations().items():
        if name in PUBLIC_MUTATIONS:
            continue
        result = cls._meta.resolver(None, info)
        assert [e["code"] for e in result.errors] == [CommonErrorCode.PERMISSION_DENIED], name
        assert result.errors[0]["message"] == "请先登录", name
        missing = [f for f in _required_outputs(cls) if getattr(result, f) is None]
        assert missing == [], f"{name}: refusal leaves required fields null: {missing}"


ROLE_REFUSALS = [
    # (role fixture, mutation, arguments) — refused by the declared permission, with its message
    ("farmer_a", 'householdCreate(stationId: "1", input: {name: "x", phone: "13800000000"})', "只有站点信息员可以操作"),
    ("supplier_user", 'householdUpdate(id: "1", input: {name: "x"})', "只有站点信息员或农户本人可以操作"),
    ("staff_a", 'groupBuyCampaignClose(id: "1")', "只有平台运营可以操作"),
    ("staff_a", 'groupBuyCampaignReview(id: "1", approve: true)', "只有平台运营可以操作"),
    ("staff_a", 'partnerReview(partnerId: "1", action: "approve")', "只有平台运营可以审核"),
    ("buyer", 'productUpdate(id: "1", input: {title: "x"})', "只有供应商或合作社可以操作"),
    ("supplier_user", 'soilTestImport(csv: "x")', "无权录入或导入测土结果"),
    ("staff_a", 'parameterSetUpdate(crop: "spring_maize_ne", zone: "cool", input: {})', "只有农技人员可以修改施肥参数"),
    ("staff_a", 'planPublish(id: "1")', "只有调度员可以操作配送计划"),
    ("supplier_user", 'groupBuyPickupCollect(code: "123456")', "只有站点信息员可以操作"),
    ("farmer_a", 'cashReconcile(stationId: "1", counted: "0")', "只有站点信息员可以操作"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role,call,message", ROLE_REFUSALS, ids=[r[1].split("(")[0] for r in ROLE_REFUSALS])
def test_roles_are_refused_through_graphql(request, gql, role, call, message):
    user = request.getfixturevalue(role)
    out = gql(user)(f"mutation {{ {call} {{ errors {{ field code message }} }} }}")
    assert "errors" not in out, out
    payload = next(iter(out["data"].values()))
    assert payload["errors"] == [{"field": None, "code": "PERMISSION_DENIED", "message": message}]


@pytest.mark.django_db
def test_credit_approval_lives_in_permissions(gql, station_a, station_b, staff_a, household_a):
    clerk = make_user("clerk_a", Role.STATION_STAFF)
    StationStaff.objects.create(station=station_a, user=clerk, is_manager=False)
    other_manager = make_user("mgr_b", Role.STATION_STAFF)
    StationStaff.objects.create(station=station_b, user=other_manager, is_manager=True)
    assert permissions.can_approve_credit(staff_a, station_a)
    assert not permissions.can_approve_credit(clerk, station_a)
    assert not permissions.can_approve_credit(other_manager, station_a)
    m = f'mutation {{ householdSetCreditLimit(id: "{household_a.pk}", creditLimit: "800") {{ errors {{ code }} }} }}'
    assert gql(clerk)(m)["data"]["householdSetCreditLimit"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    # a manager elsewhere holds the role-level permission but not this station's household
    assert gql(other_manager)(m)["data"]["householdSetCreditLimit"]["errors"][0]["code"] in (
        "PERMISSION_DENIED",
        "NOT_FOUND",
    )
    household_a.refresh_from_db()
    assert household_a.credit_limit != Decimal("800")
    assert gql(staff_a)(m)["data"]["householdSetCreditLimit"]["errors"] == []
    household_a.refresh_from_db()
    assert household_a.credit_limit == Decimal("800")


@pytest.mark.django_db
def test_pages_take_the_same_permissions(client, supplier_user, staff_a):
    from django.urls import reverse

    assert client.get(reverse("routing:plans")).status_code == 302  # anonymous: log in first
    client.force_login(staff_a)
    r = client.get(reverse("routing:plans"))
    assert r.status_code == 403
    client.force_login(supplier_user)
    assert client.get(reverse("fertilizer:import")).status_code == 403


def test_unknown_permission_names_fail_loudly():
    with pytest.raises(KeyError):
        permissions.get_permission("no.such.permission")
    with pytest.raises(ValueError):
        permissions.register(permissions.Permission("operator", lambda user: True))

"""Cooperative members: the cooperative asks (name, mobile, station number), the farmer's own station
confirms by picking the household; only confirmed members of the lot's cooperative can be its growers
(page, service, GraphQL); the cooperative never sees a farmer's full name, phone or ID number."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from produce_kit import lot_input

from plugins.produce import services
from plugins.produce.models import CooperativeMember, MembershipStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(coop_user, coop, household_a):
    return services.request_member(
        coop_user, coop, household_a.station.code, household_a.name, household_a.phone
    )


def test_cooperative_asks_station_confirms_cooperative_picks(
    client, coop_user, coop, staff_a, household_a, lot, asked
):
    client.force_login(coop_user)
    page = client.get("/p/produce/coop/members/").content.decode()
    assert "待站点确认" in page and household_a.name not in page and household_a.phone not in page
    assert "138****5678" in page
    # Not a member yet: it cannot be picked.
    with pytest.raises(ValidationError) as err:
        services.set_lot_growers(coop_user, lot, [household_a.pk])
    assert err.value.error_dict["household_ids"][0].code == "not_member"
    # The station's own staff confirm, picking the household on their page.
    client.force_login(staff_a)
    page = client.get("/p/produce/station/members/").content.decode()
    assert household_a.name in page and coop.name in page
    r = client.post(
        "/p/produce/station/members/", {"member": asked.pk, "household": household_a.pk, "action": "confirm"}
    )
    assert r.status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.household_id, asked.decided_by_id) == (
        "confirmed",
        household_a.pk,
        staff_a.pk,
    )
    # The cooperative picks it as a grower on the lot page; it sees a masked name and the village.
    client.force_login(coop_user)
    page = client.get(f"/p/produce/coop/lots/{lot.pk}/").content.decode()
    assert services.mask_name(household_a.name) in page and household_a.name not in page
    assert household_a.village.name in page
    r = client.post(f"/p/produce/coop/lots/{lot.pk}/", {"action": "growers", "households": [household_a.pk]})
    assert r.status_code == 302 and list(lot.households.all()) == [household_a]
    assert household_a.phone not in client.get("/p/produce/coop/members/").content.decode()


def test_refusals(
    client, coop_user, coop, other_coop_user, staff_a, staff_b, operator, household_a, household_b, lot, asked
):
    # Staff of another station, an operator, the cooperative itself: none can confirm.
    for user in (staff_b, operator, coop_user):
        with pytest.raises(PermissionDenied):
            services.decide_member(user, asked, household_a.pk, True)
    client.force_login(staff_b)
    assert "138" not in client.get("/p/produce/station/members/").content.decode()  # not listed
    r = client.post(
        "/p/produce/station/members/", {"member": asked.pk, "household": household_a.pk, "action": "confirm"}
    )
    assert r.status_code == 404
    client.force_login(coop_user)
    assert client.get("/p/produce/station/members/").status_code == 403
    # The right station cannot attach a household of another station.
    with pytest.raises(ValidationError):
        services.decide_member(staff_a, asked, household_b.pk, True)
    services.decide_member(staff_a, asked, household_a.pk, True)
    with pytest.raises(ValidationError):  # decided once
        services.decide_member(staff_a, asked, household_a.pk, False)
    # Another cooperative cannot pick this cooperative's member, see it, or touch this lot.
    other = services.cooperatives_for(other_coop_user).get()
    other_lot = services.create_lot(other_coop_user, other, lot_input(code="OT2026-001"))
    with pytest.raises(ValidationError):
        services.set_lot_growers(other_coop_user, other_lot, [household_a.pk])
    with pytest.raises(PermissionDenied):
        services.set_lot_growers(other_coop_user, lot, [household_a.pk])
    client.force_login(other_coop_user)
    assert services.mask_name(household_a.name) not in client.get("/p/produce/coop/members/").content.decode()
    assert (
        client.post(
            f"/p/produce/coop/lots/{lot.pk}/", {"action": "growers", "households": [household_a.pk]}
        ).status_code
        == 404
    )
    # A household id that is not a confirmed member (refused, pending, unknown, garbage) is refused
    # on creation too (the path GraphQL and the import use), naming the field and no household.
    for ids in ([household_b.pk], [999999], ["x"]):
        with pytest.raises(ValidationError) as err:
            services.create_lot(
                other_coop_user, other, lot_input(code=f"OT2026-{len(str(ids))}", household_ids=ids)
            )
        assert "household_ids" in err.value.message_dict
    # A second request for the same phone is refused; bad input names the field.
    with pytest.raises(ValidationError) as err:
        services.request_member(
            coop_user, coop, household_a.station.code, household_a.name, household_a.phone
        )
    assert "phone" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        services.request_member(coop_user, coop, "NO-SUCH", "", "123")
    assert {"station", "name", "phone"} <= set(err.value.message_dict)
    assert CooperativeMember.objects.filter(status=MembershipStatus.CONFIRMED).count() == 1


def test_graphql_lot_growers_must_be_confirmed_members(gql, coop_user, coop, household_a):
    mutation = """mutation($input: ProduceLotInput!) { produceLotCreate(input: $input) { lot { code } errors { field code } } }"""
    data = {
        "partnerId": str(coop.pk), "code": "GQ2026-001", "crop": "rice", "variety": "稻花香", "grade": "特级",
        "harvestDate": "2026-10-01", "originVillage": "齐家村", "latitude": "43.47", "longitude": "125.74",
        "quantityKg": "100", "saleUnits": [{"unit": "bag", "packKg": "10", "price": "100", "units": 5}],
        "householdIds": [str(household_a.pk)],
    }  # fmt: skip
    out = gql(coop_user)(mutation, {"input": data})["data"]["produceLotCreate"]
    assert out["lot"] is None
    assert [(e["field"], e["code"]) for e in out["errors"]] == [
        ("householdIds", "INVALID")
    ]  # not_member: no core GraphQL code of its own
    services.request_member(coop_user, coop, household_a.station.code, household_a.name, household_a.phone)
    CooperativeMember.objects.update(status=MembershipStatus.CONFIRMED, household=household_a)
    out = gql(coop_user)(mutation, {"input": data})["data"]["produceLotCreate"]
    assert out == {"lot": {"code": "GQ2026-001"}, "errors": []}

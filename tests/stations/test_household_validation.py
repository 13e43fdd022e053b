"""Household validation: one set of rules for the storefront form, GraphQL and the service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from marketplace.stations import services
from marketplace.stations.models import Household
from marketplace.stations.validation import id_check_char, validate_resident_id

pytestmark = pytest.mark.django_db

VALID_ID = "11010519491231002X"  # the standard's own example (check character X)


def test_check_character_follows_gb_11643():
    assert id_check_char(VALID_ID[:17]) == "X"
    assert id_check_char("22010219800101001") == "2"  # weighted sum 120, 120 mod 11 = 10 → "2"
    validate_resident_id(VALID_ID)
    validate_resident_id(VALID_ID.lower())  # lower-case x is the same number
    for wrong, reason in (
        ("110105194912310021", "校验位"),
        ("11010519491231002", "18 位"),
        ("1101051949123100XX", "18 位"),
        ("110105194913310024", "出生日期"),
    ):
        with pytest.raises(ValidationError) as err:
            validate_resident_id(wrong)
        assert reason in err.value.messages[0], wrong


def _data(**extra):
    return {"name": "王立新", "phone": "13700001111", "farm_area_mu": Decimal("12.5"), **extra}


def test_service_refuses_wrong_id_zero_area_and_names_the_field(staff_a, station_a):
    with pytest.raises(ValidationError) as err:
        services.register_household(staff_a, station_a, _data(id_number="110105194912310021"))
    assert "校验位" in err.value.message_dict["id_number"][0]
    for area in ("0", "-3"):
        with pytest.raises(ValidationError) as err:
            services.register_household(staff_a, station_a, _data(farm_area_mu=Decimal(area)))
        assert err.value.message_dict["farm_area_mu"] == ["耕地面积须大于 0 亩"]
    assert not Household.objects.filter(name="王立新").exists()
    household = services.register_household(staff_a, station_a, _data(id_number=VALID_ID.lower()))
    assert household.id_number == VALID_ID  # stored in the standard's upper-case form


def test_duplicate_phone_is_a_clear_field_error_not_a_constraint_name(staff_a, station_a, household_a):
    with pytest.raises(ValidationError) as err:
        services.register_household(staff_a, station_a, _data(phone=household_a.phone))
    message = err.value.message_dict["phone"][0]
    assert household_a.name in message and "uniq_" not in message
    # the same number at another station is another household's business: allowed there
    other = services.update_household(staff_a, household_a, {"phone": "13812345678"})
    assert other.pk == household_a.pk  # keeping one's own number is not a duplicate


def test_storefront_form_shows_the_same_messages(client, staff_a, station_a, household_a):
    client.force_login(staff_a)
    url = reverse("storefront:household-create") + f"?station={station_a.pk}"
    r = client.post(
        url,
        {
            "station": station_a.pk,
            "name": "赵明",
            "phone": household_a.phone,
            "village": station_a.village_id,
            "id_number": "110105194912310021",
            "farm_area_mu": "-1",
        },
    )
    page = r.content.decode()
    assert r.status_code == 200
    assert "身份证号校验位不正确" in page and "耕地面积须大于 0 亩" in page
    assert "该手机号已在本站登记" in page and "uniq_household_phone_per_station" not in page
    assert not Household.objects.filter(name="赵明").exists()


def test_graphql_returns_typed_field_errors(gql, staff_a, station_a, household_a):
    query = """mutation($s: ID!, $i: HouseholdInput!) { householdCreate(stationId: $s, input: $i) {
      household { id } errors { field code message } } }"""
    result = gql(staff_a)(
        query,
        {
            "s": station_a.pk,
            "i": {
                "name": "赵明",
                "phone": household_a.phone,
                "idNumber": "110105194912310021",
                "farmAreaMu": "0",
            },
        },
    )
    errors = {e["field"]: e for e in result["data"]["householdCreate"]["errors"]}
    assert set(errors) >= {"idNumber", "farmAreaMu", "phone"}, errors
    assert "uniq_" not in errors["phone"]["message"]
    assert result["data"]["householdCreate"]["household"] is None

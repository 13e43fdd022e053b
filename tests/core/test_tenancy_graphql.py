"""Tenancy refusals through GraphQL: a station never sees another station's farmers or orders."""

from __future__ import annotations

import pytest

from marketplace.stations.models import Household

HOUSEHOLDS = "query($station: ID){ households(stationId: $station){ totalCount items{ id name phone } } }"
HOUSEHOLD = "query($id: ID!){ household(id: $id){ id name phone } }"
CREATE = """mutation($station: ID!, $input: HouseholdInput!){
  householdCreate(stationId: $station, input: $input){ household{ id name phone } errors{ field code message } }
}"""
UPDATE = """mutation($id: ID!, $input: HouseholdInput!){
  householdUpdate(id: $id, input: $input){ household{ id name } errors{ field code message } }
}"""

pytestmark = pytest.mark.django_db


def test_staff_lists_only_own_station_households(gql, staff_a, household_a, household_b):
    data = gql(staff_a)(HOUSEHOLDS)["data"]["households"]
    assert data["totalCount"] == 1
    assert [h["name"] for h in data["items"]] == ["张国华"]
    # Phone numbers are masked in lists.
    assert data["items"][0]["phone"] == "138****5678"


def test_staff_cannot_filter_into_other_station(gql, staff_a, household_b, station_b):
    data = gql(staff_a)(HOUSEHOLDS, {"station": str(station_b.pk)})["data"]["households"]
    assert data == {"totalCount": 0, "items": []}


def test_staff_cannot_read_other_station_household_by_id(gql, staff_a, household_a, household_b):
    client = gql(staff_a)
    assert client(HOUSEHOLD, {"id": str(household_b.pk)})["data"]["household"] is None
    own = client(HOUSEHOLD, {"id": str(household_a.pk)})["data"]["household"]
    assert own["phone"] == "13812345678"  # full number only for the household's own station


def test_staff_cannot_register_farmer_at_other_station(gql, staff_a, station_b):
    result = gql(staff_a)(CREATE, {"station": str(station_b.pk), "input": {"name": "王五"}})
    payload = result["data"]["householdCreate"]
    assert payload["household"] is None
    assert payload["errors"][0]["code"] == "NOT_FOUND"
    assert not Household.objects.filter(name="王五").exists()


def test_staff_cannot_update_other_station_household(gql, staff_a, household_b):
    payload = gql(staff_a)(UPDATE, {"id": str(household_b.pk), "input": {"name": "改名"}})["data"][
        "householdUpdate"
    ]
    assert payload["errors"][0]["code"] == "NOT_FOUND"
    household_b.refresh_from_db()
    assert household_b.name == "李春明"


def test_register_household_validates_fields(gql, staff_a, station_a):
    payload = gql(staff_a)(CREATE, {"station": str(station_a.pk), "input": {"name": "", "phone": "12345"}})[
        "data"
    ]["householdCreate"]
    fields = {(e["field"], e["code"]) for e in payload["errors"]}
    assert ("name", "REQUIRED") in fields
    assert ("phone", "INVALID") in fields
    assert Household.objects.count() == 0


def test_register_household_happy_path(gql, staff_a, station_a):
    payload = gql(staff_a)(
        CREATE,
        {
            "station": str(station_a.pk),
            "input": {"name": "赵玉兰", "phone": "13700001111", "farmAreaMu": "15.5"},
        },
    )["data"]["householdCreate"]
    assert payload["errors"] == []
    household = Household.objects.get(pk=payload["household"]["id"])
    assert household.station == station_a
    assert household.created_by == staff_a
    assert str(household.farm_area_mu) == "15.50"


def test_anonymous_sees_nothing(gql, household_a):
    assert gql()(HOUSEHOLDS)["data"]["households"]["totalCount"] == 0


def test_agronomist_reads_county_but_cannot_write(gql, agronomist, household_a, household_b, station_a):
    client = gql(agronomist)
    assert client(HOUSEHOLDS)["data"]["households"]["totalCount"] == 2
    payload = client(CREATE, {"station": str(station_a.pk), "input": {"name": "王五"}})["data"][
        "householdCreate"
    ]
    assert payload["errors"][0]["code"] == "PERMISSION_DENIED"  # role refusal: agronomists do not register households


def test_farmer_sees_only_own_household(gql, farmer_a, household_a, household_b):
    data = gql(farmer_a)(HOUSEHOLDS)["data"]["households"]
    assert [h["name"] for h in data["items"]] == ["张国华"]


def test_operator_sees_all(gql, operator, household_a, household_b):
    assert gql(operator)(HOUSEHOLDS)["data"]["households"]["totalCount"] == 2

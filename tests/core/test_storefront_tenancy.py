"""Storefront pages enforce the same tenancy as GraphQL (they call the same permission functions)."""

from __future__ import annotations

import pytest
from django.test import Client
from testkit import logged_in

from marketplace.stations.models import Household

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user)


def test_household_list_is_scoped_and_masked(staff_a, household_a, household_b):
    html = login(staff_a).get("/households/").content.decode()
    assert "张国华" in html and "138****5678" in html
    assert "13812345678" not in html
    assert "李春明" not in html


def test_other_station_household_detail_is_404(staff_a, household_b):
    assert login(staff_a).get(f"/households/{household_b.pk}/").status_code == 404


def test_own_household_detail_shows_full_phone(staff_a, household_a):
    html = login(staff_a).get(f"/households/{household_a.pk}/").content.decode()
    assert "13812345678" in html


def test_agronomist_sees_masked_phone_on_detail(agronomist, household_a):
    html = login(agronomist).get(f"/households/{household_a.pk}/").content.decode()
    assert "138****5678" in html and "13812345678" not in html


def test_register_household_at_own_station(staff_a, station_a):
    response = login(staff_a).post(
        f"/households/new/?station={station_a.pk}",
        {
            "station": station_a.pk,
            "name": "孙秀英",
            "phone": "13611112222",
            "village": station_a.village_id,
            "farm_area_mu": "20",
            "id_number": "",
            "notes": "",
        },
    )
    assert response.status_code == 302
    assert Household.objects.get(name="孙秀英").station == station_a


def test_register_household_at_other_station_is_refused(staff_a, station_a, station_b):
    client = login(staff_a)
    response = client.post(
        f"/households/new/?station={station_b.pk}",
        {
            "station": station_b.pk,
            "name": "越权",
            "phone": "",
            "village": station_b.village_id,
            "farm_area_mu": "1",
        },
    )
    assert response.status_code == 404
    assert not Household.objects.filter(name="越权").exists()


def test_register_household_bad_phone_names_the_field(staff_a, station_a):
    response = login(staff_a).post(
        f"/households/new/?station={station_a.pk}",
        {
            "station": station_a.pk,
            "name": "王五",
            "phone": "123",
            "village": station_a.village_id,
            "farm_area_mu": "1",
        },
    )
    assert response.status_code == 200
    assert "请输入11位中国大陆手机号码" in response.content.decode()
    assert not Household.objects.filter(name="王五").exists()


def test_buyer_cannot_reach_household_pages(buyer, household_a):
    client = login(buyer)
    assert "张国华" not in client.get("/households/").content.decode()
    assert client.get(f"/households/{household_a.pk}/").status_code == 404
    assert client.get("/households/new/").status_code == 404


def test_anonymous_is_sent_to_login(household_a):
    response = Client().get("/households/")
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.parametrize(
    "fixture", ["staff_a", "operator", "agronomist", "farmer_a", "buyer", "supplier_user"]
)
def test_role_aware_home_page(request, fixture):
    user = request.getfixturevalue(fixture)
    response = login(user).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert user.get_role_display() in html
    has_households_menu = 'href="/households/"' in html
    assert has_households_menu == (fixture in {"staff_a", "operator", "agronomist"})

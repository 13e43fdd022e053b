"""The produce pages in English (no Chinese outside stored data) and a complete plugin catalogue."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from testkit import CJK, data_strings, english_client, ui_outside_data

from plugins.produce.regions import REGIONS

pytestmark = pytest.mark.django_db

LOCALE = Path(__file__).resolve().parents[3] / "plugins" / "produce" / "locale" / "en" / "LC_MESSAGES"


def _places() -> list[str]:
    out = []
    for province, cities in REGIONS.items():
        out.append(province)
        for city, districts in cities.items():
            out += [city, *districts]
    return out


def _english(client, url: str, data: list[str], expect: tuple[str, ...]) -> None:
    response = client.get(url)
    assert response.status_code == 200, url
    html = response.content.decode()
    left = ui_outside_data(html, data)
    assert not CJK.findall(left), f"{url}: {''.join(CJK.findall(left))}"
    for label in expect:
        assert label in html, (url, label)


def test_buyer_and_cooperative_pages_are_english(city_buyer, coop_user, coop, lot, rnd):
    data = [*data_strings(coop, lot, rnd), lot.variety, lot.grade, lot.origin_village, lot.code, coop.name,
            rnd.title, *_places(), "红旗街自提点", str(city_buyer), str(coop_user)]  # fmt: skip
    buyer = english_client(city_buyer)
    _english(buyer, "/p/produce/", data, ("Produce", "Rounds taking orders"))
    _english(buyer, f"/p/produce/round/{rnd.pk}/", data, ("Add to basket", "Home delivery"))
    _english(buyer, f"/p/produce/lot/{lot.pk}/", data, ("See where it came from",))
    _english(
        buyer, f"/p/produce/checkout/{rnd.pk}/", data, ("Delivery address", "Pay and order", "WeChat Pay")
    )
    _english(buyer, "/p/produce/orders/", data, ("My produce orders",))
    _english(
        buyer,
        f"/p/produce/01/{lot.gtin}/10/{lot.code}",
        data,
        ("Product trace", "Pre-harvest interval check"),
    )
    coop_client = english_client(coop_user)
    _english(coop_client, "/p/produce/coop/", data, ("List a lot", "Open a selling round"))
    _english(coop_client, "/p/produce/coop/lots/new/", data, ("Harvest date", "Net weight per unit (kg)"))
    _english(coop_client, f"/p/produce/coop/rounds/{rnd.pk}/", data, ("Packing list PDF",))
    _english(coop_client, "/p/produce/coop/statement/", data, ("Platform commission",))
    _english(coop_client, "/p/produce/coop/members/", data, ("Cooperative members", "Station code"))
    _english(
        coop_client,
        f"/p/produce/coop/lots/{lot.pk}/",
        data,
        ("Grower households", "No confirmed members yet."),
    )
    anonymous = english_client()
    _english(anonymous, "/p/produce/signup/", [], ("Mobile number", "Sign up"))
    page = anonymous.post("/p/produce/signup/", {"phone": "12", "password": "x"}).content.decode()
    assert "Enter an 11-digit mainland China mobile number" in page


def test_plugin_catalogue_is_complete_and_compiled():
    po = (LOCALE / "django.po").read_text()
    assert 'msgstr ""\n\n' not in po.split("\n\n", 1)[1] + "\n\n"
    with (LOCALE / "django.mo").open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001
    ids = [m for m in re.findall(r'^msgid "(.+)"$', po, re.M)]
    assert len(ids) > 250
    for msgid in ids:
        text = catalogue.get(msgid) or catalogue.get((msgid, 0))
        assert text and not CJK.search(text), msgid


def test_member_and_payout_pages_are_english(coop_user, coop, staff_a, operator, household_a):
    from plugins.produce import services

    services.request_member(coop_user, coop, household_a.station.code, household_a.name, household_a.phone)
    data = [*data_strings(coop, household_a, household_a.station), coop.name, household_a.name,
            household_a.station.name, services.mask_name(household_a.name), str(staff_a), str(operator)]  # fmt: skip
    _english(english_client(staff_a), "/p/produce/station/members/", data, ("Confirm member", "Refuse"))
    _english(
        english_client(operator),
        "/p/produce/operator/payouts/",
        data,
        ("Cooperative payouts", "Nothing owed"),
    )
    _english(english_client(coop_user), "/p/produce/coop/members/", data, ("Waiting for the station",))

"""English UI: Chinese stays the default, switching to English translates the shell, the
navigation and the plugin pages (group buys, payments, fertilizer advice) apart from data, GraphQL
error messages follow the request language, and locale/en is complete (every msgid has a msgstr)
and compiled.
"""

from __future__ import annotations

import ast
import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from testkit import CJK, english_client

pytestmark = pytest.mark.django_db

LOCALE_EN = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES"
#: The core catalogue and every installed plugin's own (plugins/<name>/locale/en).
CATALOGUES = [LOCALE_EN] + sorted(
    path
    for plugin in settings.MARKETPLACE_PLUGINS
    if (path := Path(settings.BASE_DIR, *plugin.split("."), "locale", "en", "LC_MESSAGES")).is_dir()
)


def element(html: str, pattern: str) -> str:
    match = re.search(pattern, html, re.S)
    assert match, f"no element matching {pattern!r}"
    return match.group(0)


def main_of(html: str) -> str:
    return element(html, r"<main>.*?</main>")


def header_of(html: str) -> str:
    return element(html, r'<header class="top">.*?</header>')


def nav_of(html: str) -> str:
    return element(html, r'<nav class="main".*?</nav>')


# --- (a) Chinese by default ----------------------------------------------------------------


def test_pages_are_chinese_by_default(staff_a):
    client = Client()
    landing = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in landing
    assert "登录" in landing and "逛商城" in landing and "Log in" not in landing

    login_page = client.get(reverse("login")).content.decode()
    assert "用户名或手机号" in login_page and "密码" in login_page

    client.force_login(staff_a)
    home = client.get("/").content.decode()
    nav = nav_of(home)
    assert "首页" in nav and "农户" in nav and "订单" in nav
    assert "退出" in header_of(home) and "信息员" in header_of(home)


# --- (b) English after switching ------------------------------------------------------------


def test_landing_and_login_are_english(db):
    client = english_client()
    landing = client.get("/").content.decode()
    assert '<html lang="en">' in landing
    assert "Log in" in header_of(landing)
    assert "Browse the shop" in landing
    assert not CJK.search(main_of(landing)), main_of(landing)

    login_page = client.get(reverse("login")).content.decode()
    assert "Username or mobile number" in login_page and "Password" in login_page
    assert not CJK.search(main_of(login_page)), main_of(login_page)
    # The footer tagline is a setting, translated at render time.
    assert "Farm supplies direct" in login_page


def test_signed_in_station_staff_navigation_is_english(staff_a, household_a):
    client = english_client()
    client.force_login(staff_a)
    home = client.get("/").content.decode()

    nav = nav_of(home)
    for label in ("Home", "Households", "Orders"):
        assert f">{label}</a>" in nav
    assert 'aria-label="Main navigation"' in nav
    assert not CJK.search(nav), nav

    header = header_of(home)
    assert "Log out" in header and "Information officer" in header
    assert "退出" not in header

    # The language switch offers Chinese back.
    assert 'name="language" value="zh-hans"' in header

    assert "Registered households" in home and "My stations" in home

    households = client.get("/households/").content.decode()
    assert not CJK.search(nav_of(households))
    assert "1 household in total" in households and "Register household" in households


def test_switching_back_to_chinese(staff_a):
    client = english_client()
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/"})
    client.force_login(staff_a)
    assert "首页" in nav_of(client.get("/").content.decode())


# --- (c) The catalogue is complete and compiled ----------------------------------------------


def parse_po(path: Path) -> list[dict]:
    """Entries of a .po file: {"flags", "msgctxt", "msgid", "msgid_plural", "msgstr": {index: text}}."""
    entries: list[dict] = []
    entry: dict = {}
    key: tuple | None = None

    def flush():
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            flush()
            key = None
            continue
        if line.startswith("#,"):
            if "msgid" in entry:
                flush()
            entry.setdefault("flags", set()).update(f.strip() for f in line[2:].split(","))
            continue
        if line.startswith("#"):
            continue
        m = re.match(r"(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(\".*\")$", line)
        if m:
            name, index, text = m.group(1), m.group(2), ast.literal_eval(m.group(3))
            if name == "msgid" and "msgid" in entry and entry.get("msgstr"):
                flush()
            if name.startswith("msgstr"):
                key = ("msgstr", int(index) if index is not None else 0)
                entry.setdefault("msgstr", {})[key[1]] = text
            else:
                key = (name,)
                entry[name] = text
            continue
        assert line.startswith('"'), f"unexpected line in {path.name}: {raw!r}"
        assert key is not None
        text = ast.literal_eval(line)
        if key[0] == "msgstr":
            entry["msgstr"][key[1]] += text
        else:
            entry[key[0]] += text
    flush()
    return entries


PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w*\}|%[sd]")


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_every_msgid_has_an_english_msgstr(catalogue):
    po = catalogue / "django.po"
    entries = parse_po(po)
    header = next(e for e in entries if e["msgid"] == "")
    assert "fuzzy" not in header.get("flags", set()), "header is fuzzy: msgfmt would drop it"
    messages = [e for e in entries if e["msgid"] != ""]
    assert len(messages) > (200 if catalogue == LOCALE_EN else 10)

    for e in messages:
        label = f"{e.get('msgctxt', '')}|{e['msgid']}"
        assert "fuzzy" not in e.get("flags", set()), f"fuzzy entry: {label}"
        forms = e.get("msgstr", {})
        expected = 2 if "msgid_plural" in e else 1
        assert len(forms) == expected, f"missing plural forms: {label}"
        for text in forms.values():
            assert text.strip(), f"untranslated: {label}"
            assert text.strip() != e["msgid"].strip(), f"copied, not translated: {label}"
            assert not CJK.search(text), f"Chinese left in the English msgstr: {label}"
            assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(e["msgid"])), (
                f"placeholders differ: {label}"
            )


@pytest.mark.parametrize("catalogue", CATALOGUES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_compiled_catalogue_matches_po(catalogue):
    """django.mo is committed: it must hold every translation of django.po (compilemessages ran)."""
    po_path = catalogue / "django.po"
    mo = catalogue / "django.mo"
    assert mo.exists(), "run manage.py compilemessages -l en"
    with mo.open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001
    for e in parse_po(po_path):
        if e["msgid"] == "":
            continue
        msgid = f"{e['msgctxt']}\x04{e['msgid']}" if "msgctxt" in e else e["msgid"]
        if "msgid_plural" in e:
            for index, text in e["msgstr"].items():
                assert catalogue.get((msgid, index)) == text, f"stale django.mo: {e['msgid']}"
        else:
            assert catalogue.get(msgid) == e["msgstr"][0], f"stale django.mo: {e['msgid']}"


# --- (d) Plugin pages and GraphQL errors in English -------------------------------------------


@pytest.fixture
def group_buy(product_classes, supplier, supplier_user, operator):
    from testkit import make_fertilizer, make_group_buy

    product = make_fertilizer(product_classes, supplier, "NPK-I18N", "复合肥 15-15-15 40kg")
    return make_group_buy(supplier_user, operator, supplier, [product])


@pytest.fixture
def pledged(group_buy, staff_a, household_a):
    from plugins.group_orders import services

    item = group_buy.items.get()
    return services.place_pledge(staff_a, item, household_a, 5, "cash")


@pytest.fixture
def advised_field(staff_a, household_a):
    """A field of household A with a soil test and a fertilizer recommendation (and its plan)."""
    from decimal import Decimal

    from plugins.fertilizer import services
    from plugins.fertilizer.models import FarmField, SoilTest

    field = FarmField.objects.create(
        household=household_a,
        name="东大地",
        area_mu=Decimal("15"),
        crop="spring_maize_ne",
        zone="semi_humid",
        yield_1=Decimal("650"),
        yield_2=Decimal("700"),
        yield_3=Decimal("680"),
    )
    SoilTest.objects.create(
        field=field,
        lab="双阳区土肥站",
        sample_date="2026-04-10",
        ph=Decimal("6.4"),
        organic_matter_g_kg=Decimal("24.5"),
        alkali_n_mg_kg=Decimal("125"),
        olsen_p_mg_kg=Decimal("18"),
        available_k_mg_kg=Decimal("140"),
    )
    rec = services.create_recommendation(staff_a, field)
    services.create_plan(staff_a, rec)
    return field


def check_english(client: Client, url: str, data: list[str], expect: tuple[str, ...] = ()) -> str:
    """GET ``url`` in English: 200, the expected English labels, no Chinese outside ``data``; the
    same page in Chinese does show Chinese outside data (so the check can fail)."""
    from testkit import ui_outside_data

    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    html = response.content.decode()
    assert '<html lang="en">' in html
    left = ui_outside_data(html, data)
    found = CJK.findall(left)
    assert not found, f"{url}: Chinese outside data: {''.join(found)}\n{left}"
    for label in expect:
        assert label in html, f"{url}: {label!r} missing"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    try:
        chinese = ui_outside_data(client.get(url).content.decode(), data)
    finally:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert CJK.search(chinese), f"{url}: the check found nothing to translate even in Chinese"
    return html


def test_group_buy_and_payments_pages_are_english_for_station_staff(
    staff_a, station_a, household_a, group_buy, pledged, supplier
):
    from testkit import data_strings

    client = english_client(staff_a)
    item = group_buy.items.get()
    data = data_strings(staff_a, station_a, household_a, supplier, item.product, group_buy)

    home = check_english(client, "/", data, ("Open group buys", "Time left"))
    nav = nav_of(home)
    for label in ("Group buys", "Pickup check", "Daily cash reconciliation", "Station commission"):
        assert f">{label}</a>" in nav
    assert "Yinong Direct" in header_of(home)

    check_english(client, reverse("group-buy:campaigns"), data, ("<h1>Group buys</h1>", "Cut-off"))
    detail = check_english(
        client,
        reverse("group-buy:campaign", args=[group_buy.pk]),
        data,
        ("Pledge for a household", "Confirm pledge", "Payment method", "Pick list PDF"),
    )
    assert ">Cash</option>" in detail
    check_english(
        client, reverse("group-buy:station-pledges", args=[group_buy.pk, station_a.pk]), data, ("Cash",)
    )
    check_english(client, reverse("group-buy:pickup-verify"), data, ("Pickup code (6 digits)",))
    check_english(client, reverse("group-buy:cash"), data, ("Expected cash", "Save reconciliation"))
    check_english(client, reverse("group-buy:commission"), data, ("Commission owed",))

    # A refusal from the services reaches the page in English.
    response = client.post(reverse("group-buy:pickup-verify"), {"code": "12"}, follow=True)
    assert "The pickup code has 6 digits" in main_of(response.content.decode())


def test_group_buy_and_fertilizer_pages_are_english_for_farmers(
    farmer_a, household_a, station_a, group_buy, pledged, advised_field, supplier
):
    from testkit import data_strings

    from plugins.fertilizer.models import Recommendation

    client = english_client(farmer_a)
    item = group_buy.items.get()
    rec = Recommendation.objects.get(field=advised_field, is_current=True)
    plan = rec.plans.get()
    stored = [r["message"] for r in rec.reasons] + [r["message"] for r in plan.reasons]
    data = data_strings(farmer_a, household_a, station_a, supplier, item.product, group_buy, advised_field)
    data += [*stored, plan.usual_label, plan.error, advised_field.soil_tests.get().lab]

    check_english(client, reverse("group-buy:campaign", args=[group_buy.pk]), data, ("Pledges", "Pledge"))
    check_english(client, reverse("fertilizer:index"), data, ("My fields",))
    check_english(
        client,
        reverse("fertilizer:field", args=[advised_field.pk]),
        data,
        ("Fertilizer advice", "Soil tests", "Usual fertilization"),
    )
    check_english(
        client,
        reverse("fertilizer:recommendation", args=[rec.pk]),
        data,
        ("Nutrient rates (kg/mu)", "Print advice card A4", "Basal", "Top-dressing"),
    )


def test_fertilizer_pages_are_english_for_agronomists(agronomist, county, advised_field):
    from testkit import data_strings

    client = english_client(agronomist)
    data = data_strings(agronomist, county, advised_field)
    home = client.get("/").content.decode()
    assert ">Fertilizer advice</a>" in nav_of(home)
    check_english(client, reverse("fertilizer:index"), data, ("Agronomy tools", "Fertilizer parameters"))
    check_english(client, reverse("fertilizer:parameter-sets"), data, ("Northeast spring maize",))
    check_english(
        client,
        reverse("fertilizer:parameter-set", args=["spring_maize_ne", "semi_humid"]),
        data + ["默认参数", "东北春玉米"],  # the stored note of version 1; crop names inside the data dump
        ("Save as a new version", "N fertilizer use efficiency"),
    )
    accepted_units = ["毫克/千克", "克/千克"]  # unit spellings the lab files may use, listed as-is
    check_english(
        client, reverse("fertilizer:import"), data + accepted_units, ("Import soil tests", "File format")
    )
    check_english(
        client, reverse("fertilizer:demand", args=[county.pk]), data, ("County totals (per product)",)
    )


def test_graphql_errors_follow_the_request_language(supplier_user, supplier, product_classes):
    from testkit import GraphQLClient, make_fertilizer

    from marketplace.accounts.models import ApiToken

    product = make_fertilizer(product_classes, supplier, "NPK-GQL", "复合肥 15-15-15 40kg")
    create = """mutation($input: CampaignInput!){ groupBuyCampaignCreate(input: $input){
      campaign { id } errors { field code message } } }"""
    from datetime import timedelta

    from django.utils import timezone

    cutoff = timezone.now() + timedelta(days=2)
    bad = {
        "partnerId": str(supplier.pk),
        "title": "玉米种子团购",
        "cutoffAt": cutoff.isoformat(),
        "deliveryFrom": str((cutoff + timedelta(days=2)).date()),
        "deliveryUntil": str((cutoff + timedelta(days=6)).date()),
        "minTotalQuantity": 0,
        "items": [{"productId": str(product.pk), "basePrice": "100", "tiers": []}],
    }
    token = ApiToken.issue(supplier_user)[1]

    def errors(headers: dict) -> list:
        result = GraphQLClient(Client(), token, headers)(create, {"input": bad})
        return result["data"]["groupBuyCampaignCreate"]["errors"]

    english = errors({"HTTP_ACCEPT_LANGUAGE": "en"})
    assert english == [
        {
            "field": "minTotalQuantity",
            "code": "INVALID",
            "message": "The minimum total quantity must be greater than zero",
        }
    ]
    assert errors({})[0]["message"] == "成团最低总量须大于零"
    assert errors({"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"})[0]["message"] == "成团最低总量须大于零"

    # Session users get the language they chose with the switch (cookie).
    session = english_client()
    session.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    denied = GraphQLClient(session)(
        "mutation { groupBuyCampaignClose(id: 1, force: true){ errors { code message } } }"
    )
    message = denied["data"]["groupBuyCampaignClose"]["errors"][0]["message"]
    assert not CJK.search(message), message

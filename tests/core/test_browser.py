"""The storefront shell in Debian's Chromium, driven by Playwright, at a 360 px phone width."""

from __future__ import annotations

import os
import re

import pytest
from browserkit import fits, login

from marketplace.stations.models import Household

# Playwright's sync API runs an event loop in this thread; the ORM calls in this test are ours.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_station_staff_signs_in_and_registers_a_farmer(live_server, page, staff_a, household_a, household_b):
    transferred = []
    page.on(
        "response", lambda r: transferred.append(len(r.body()) if r.ok and r.request.method == "GET" else 0)
    )
    login(page, live_server.url, "staff_a")
    page.wait_for_selector("[data-testid=household-count]")
    assert page.inner_text("[data-testid=household-count]") == "1"
    # Usable at 360 px: nothing wider than the viewport.
    fits(page)
    # Light: the first signed-in page with its CSS is far below a few hundred KB.
    assert sum(transferred) < 100_000, sum(transferred)

    page.click("nav.main >> text=农户")
    items = page.inner_text("[data-testid=household-list]")
    assert "张国华" in items and "138****5678" in items and "李春明" not in items

    page.click("text=登记农户")
    page.fill("#id_name", "钱桂兰")
    page.fill("#id_phone", "13622223333")
    page.fill("#id_farm_area_mu", "18")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "钱桂兰" in page.inner_text("h1"), page.inner_text("main")
    assert re.search(r"13622223333", page.inner_text("[data-testid=phone]"))
    assert Household.objects.get(name="钱桂兰").station_id == staff_a.stations.get().pk


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_language_switch_to_english(live_server, page):
    page.goto(live_server.url + "/")
    assert "登录" in page.inner_text("header")
    page.click("header >> text=English")
    page.wait_for_load_state()
    assert page.evaluate("document.documentElement.lang") == "en"

"""Every role's pages, as the role reaches them: on the demo data (``seed_demo``, every plugin's
demo rows included), each demo login walks from its home through the navigation and the links of
the pages it finds (same origin, GET only, two levels, at most ``LIMIT`` kinds of page), in
Debian's Chromium at 360 px, in Chinese and then in English. Every page must answer without a
4xx/5xx, fit the phone (no horizontal overflow), show no Chinese, no "CN¥" and no full-width
punctuation outside data on the English page and no untranslated English UI on the Chinese page. Each page's first-load weight (document
+ CSS + JS + images, browser cache off) is printed.

The dispatcher is the supplier and the operator (both plan deliveries: their own warehouses' and
all of them), so the crawl covers the routing pages through those two logins."""

from __future__ import annotations

import os

import pytest
from browserkit import crawl_role, stored_texts

from marketplace.core.demo import DEMO_PASSWORD, seed_demo

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

#: The demo logins, one per role (seed_demo prints them).
ROLES = {
    "station staff": "station01",
    "farmer": "farmer01",
    "supplier / dispatcher": "supplier01",
    "cooperative": "coop01",
    "city buyer": "buyer01",
    "agronomist": "agronomist01",
    "county staff": "county01",
    "operator / dispatcher": "operator",
}
LIMIT = 20  # kinds of page per role and language (ids count once: /households/1/ = /households/2/)
WEIGHT_LIMIT = 300_000  # "a few hundred KB at most"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_every_role_reaches_only_working_phone_sized_pages_in_both_languages(live_server, settings, browser):
    settings.ROUTING_SOLVE_IN_THREAD = False
    summary = seed_demo(villages=12, households=80)
    assert set(ROLES.values()) <= set(summary.logins.values())
    data = stored_texts()
    problems: list[str] = []
    report: list[str] = []
    for role, username in ROLES.items():
        checks = crawl_role(browser, live_server.url, username, DEMO_PASSWORD, data, limit=LIMIT)
        zh = [c for c in checks if not c.url.endswith("[en]")]
        assert len(zh) >= 5, f"{role}: only {len(zh)} pages reachable"
        report.append(f"{role} ({username}): {len(zh)} pages × 2 languages")
        for c in checks:
            report.append(f"  {c.weight:>8,}  {c.url}")
            if c.weight >= WEIGHT_LIMIT:
                c.problems.append(f"{c.weight} bytes on first load")
            problems += [f"{role} {c.url}: {problem}" for problem in c.problems]
    print("\nfirst-load weight per page (bytes, 360 px, cache off):\n" + "\n".join(report))
    assert not problems, "\n".join(problems)

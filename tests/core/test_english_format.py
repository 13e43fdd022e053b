"""English pages are formatted as English: money is "¥1,234.50" as on the Chinese pages (never the
English locale's "CN¥", marketplace/core/money.py) and no full-width punctuation (（）：，。；、)
outside data. Checked three ways: Oscar's ``currency`` filter and our ``yuan`` filter against the one
rule in both languages; every compiled English catalogue; and the pages each demo role reaches from
its home (navigation and links, two levels deep, GET only) in English through the test client.
"""

from __future__ import annotations

import gettext
import re
from decimal import Decimal
from pathlib import Path

import pytest
from browserkit import SKIP, pattern, stored_texts
from django.conf import settings
from django.template import Context, Template
from django.test import Client
from django.utils import translation
from testkit import FULL_WIDTH, english_format_problems

from marketplace.accounts.models import User
from marketplace.core.demo import seed_demo
from marketplace.core.money import format_cny

ROLES = ("station01", "farmer01", "supplier01", "coop01", "buyer01", "agronomist01", "county01", "operator")
LIMIT = 30  # kinds of page per role (ids count once: /households/1/ = /households/2/)
AMOUNTS = ["0", "0.5", "12", "-12", "1234.5", "1234567.89"]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_money_reads_the_same_in_both_languages(language):
    """One rule: our filter, Oscar's filter (its templates and the order pages) and the rule agree."""
    assert format_cny("1234.5") == "¥1,234.50"
    assert format_cny(Decimal("-12")) == "-¥12.00"
    template = Template(
        "{% load money currency_filters %}{{ v|yuan }}|{{ v|currency }}|{{ v|currency:'CNY' }}"
    )
    with translation.override(language):
        for amount in AMOUNTS:
            rule = format_cny(amount)
            assert rule.startswith(("¥", "-¥")) and "CN" not in rule
            rendered = template.render(Context({"v": Decimal(amount)}))
            assert rendered == f"{rule}|{rule}|{rule}", (language, amount, rendered)


def catalogues() -> list[Path]:
    return [Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.mo"] + sorted(
        Path(settings.BASE_DIR, *plugin.split("."), "locale", "en", "LC_MESSAGES", "django.mo")
        for plugin in settings.MARKETPLACE_PLUGINS
        if Path(settings.BASE_DIR, *plugin.split("."), "locale", "en", "LC_MESSAGES", "django.mo").exists()
    )


@pytest.mark.parametrize("mo", catalogues(), ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_english_catalogue_has_english_punctuation(mo):
    with mo.open("rb") as fh:
        messages = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001
    bad = [
        f"{key!r} → {text!r}"
        for key, text in messages.items()
        if key and (FULL_WIDTH.search(text) or "CN¥" in text)
    ]
    assert len(messages) > 10
    assert not bad, "\n".join(bad)


def links(html: str) -> list[str]:
    """Same-origin GET links of the header, the navigation and <main>."""
    parts = re.findall(
        r'<header class="top">.*?</header>|<nav class="main".*?</nav>|<main>.*?</main>', html, re.S
    )
    found = []
    for href in re.findall(r'<a\b[^>]*\bhref="(/[^"]*)"', "\n".join(parts)):
        href = href.replace("&amp;", "&").split("#")[0]
        if href and not href.startswith("//") and not SKIP.search(href):
            found.append(href)
    return found


def crawl_english(client: Client, data: list[str]) -> tuple[int, list[str]]:
    """Visit the pages reachable from home (two levels, at most LIMIT kinds) in English."""
    seen: set[str] = set()
    queue: list[tuple[str, int]] = [("/", 0)]
    problems: list[str] = []
    while queue and len(seen) < LIMIT:
        path, level = queue.pop(0)
        if pattern(path) in seen:
            continue
        seen.add(pattern(path))
        response = client.get(path)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        if '<header class="top">' not in html:  # not one of our pages (Oscar's back office)
            continue
        assert '<html lang="en">' in html, path
        problems += [f"{path}: {p}" for p in english_format_problems(html, data)]
        if level < 2:
            queue += [(p, level + 1) for p in links(html) if pattern(p) not in seen]
    return len(seen), problems


@pytest.mark.django_db
def test_every_role_sees_english_pages_formatted_as_english(settings):
    settings.ROUTING_SOLVE_IN_THREAD = False
    seed_demo(villages=12, households=80)
    data = stored_texts()
    problems: list[str] = []
    for username in ROLES:
        client = Client()
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        client.force_login(User.objects.get(username=username))
        pages, found = crawl_english(client, data)
        assert pages >= 5, f"{username}: only {pages} pages reachable"
        problems += [f"{username} {p}" for p in found]
    assert not problems, "\n".join(problems)

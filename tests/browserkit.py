"""Browser-test helpers shared by the Playwright tests (Debian's Chromium): the ``browser`` and
``page`` fixtures (tests/conftest.py exposes them to every test), the 360 px check ``fits``, the
page ``login``, launch options, the first-load weight of a page, and the role crawl (log in, follow
the same-origin links of the navigation and the pages one or two levels deep, GET only, and check
each page at 360 px in Chinese and English).

The crawl can also run against a served demo (``scripts``-style use from a shell):
``crawl_role(browser, "http://127.0.0.1:8000", "station01", "nongzi-demo-2026", data)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from testkit import CJK, PASSWORD, english_format_problems, ui_outside_data

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 360, "height": 740}
#: What a page loaded: the document and every resource (CSS, scripts, images), as the browser's
#: resource timing reports their decoded bodies.
WEIGHT_JS = """() => [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
  .reduce((sum, e) => sum + (e.decodedBodySize || 0), 0)"""
WIDTH_JS = "document.documentElement.scrollWidth"
#: The first elements wider than the viewport (to say *what* overflows, not just that it does).
OVERFLOW_JS = """() => {
  const w = document.documentElement.clientWidth;
  const clipped = e => { for (let a = e.parentElement; a; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") return a !== document.body && a !== document.documentElement; }
    return false; };
  return [...document.body.querySelectorAll("*")]
    .filter(e => e.getBoundingClientRect().right > w + 1 && !clipped(e))
    .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).split(" ")[0] : "")
      + " " + Math.round(e.getBoundingClientRect().right) + "px " + (e.textContent || "").trim().slice(0, 30));
}"""

#: Links the crawl never follows: actions, downloads, back office, other languages, files.
SKIP = re.compile(
    r"^/(logout|i18n|admin|graphql|shop/dashboard|media|static|healthz|payments/stripe)"
    r"|\.(pdf|svg|json|csv|xlsx|png|jpe?g|txt|zip)(\?|$)|/file/|/download"
)
#: Words that are the same in Chinese UI (units, formats, brand-like abbreviations).
ENGLISH_OK = {
    "kg",
    "km",
    "pdf",
    "csv",
    "gbk",
    "xlsx",
    "sku",
    "npk",
    "eta",
    "sms",
    "api",
    "gps",
    "svg",
    "url",
    "id",
    "ok",
    "cny",
    "a4",
    "excel",
    "stripe",
    "graphql",
    "utf",
    "gb",
    "mm",
    "cm",
    "ph",
    "mg",
    "no",
    "vs",
    "qr",
    "mu",
    "n",
    "p",
    "k",
    "p2o5",
    "k2o",
    "s",
    "gtin",
    "epcis",
    "json-ld",
    "json",
}
ENGLISH_WORDS = re.compile(r"[A-Za-z][A-Za-z'’-]{2,}(?:\s+[A-Za-z][A-Za-z'’-]+)*")


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, for one test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def phone_context(browser: Any) -> Any:
    """A new browser context (its own cookies) the size of a phone, in Chinese."""
    return browser.new_context(viewport=PHONE, locale="zh-CN")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """One page of a new phone-sized (360 px) zh-CN context."""
    context = phone_context(browser)
    yield context.new_page()
    context.close()


def fits(page: Any, label: str | None = None) -> None:
    """The loaded page is usable at 360 px: nothing is wider than the phone."""
    page.wait_for_load_state()
    page.wait_for_function("document.documentElement !== null && document.readyState === 'complete'")
    width = page.evaluate(WIDTH_JS)
    assert width <= PHONE["width"], f"{label or page.url} is {width}px wide at 360px"


def fill_card(page: Any, number: str) -> None:
    """Type a test card (expiry 12/30, CVC 123) into the page's card Element (localstripe's
    Stripe.js), once the Element is there."""
    card = "#card-element"
    page.wait_for_selector(f"{card} input[placeholder=number]")
    page.fill(f"{card} input[placeholder=number]", number)
    page.fill(f"{card} input[placeholder=exp_month]", "12")
    page.fill(f"{card} input[placeholder=exp_year]", "30")
    page.fill(f"{card} input[placeholder=cvc]", "123")
    page.fill(f"{card} input[placeholder=postal_code]", "13000")


@dataclass
class PageCheck:
    url: str
    status: int
    width: int
    weight: int
    problems: list[str] = field(default_factory=list)


def visible_ui(html: str, data: Iterable[str]) -> str:
    """The page's UI text (header, navigation, main) without tags and without ``data``; keeps the
    texts a user also reads in attributes (placeholder, title, aria-label, alt, button values)."""
    ui = ui_outside_data(html, data)
    ui = re.sub(r"<(code|kbd|samp)\b.*?</\1>", " ", ui, flags=re.S)  # literal formats, not UI
    attrs = " ".join(m.group(2) for m in re.finditer(r'\b(placeholder|title|aria-label|alt)="([^"]*)"', ui))
    text = re.sub(r"<[^>]+>", " ", ui)
    text = re.sub(r"&[a-z]+;|&#\d+;", " ", text)
    return f"{text} {attrs}"


def english_left(text: str) -> list[str]:
    """English words (outside the allowed units and abbreviations) in a Chinese page's UI text."""
    found = []
    for match in ENGLISH_WORDS.finditer(text):
        words = [w for w in re.split(r"\s+", match.group(0)) if w.lower().strip("'’-") not in ENGLISH_OK]
        if words and any(len(w) > 2 for w in words):
            found.append(match.group(0))
    return found


def pattern(url: str) -> str:
    """One crawl key per kind of page: ids and query values become N, so /households/12/ and
    /households/13/ count once."""
    parts = urlsplit(url)
    path = re.sub(r"\d+", "N", parts.path)
    query = sorted(k for k, _v in parse_qsl(parts.query))
    return path + ("?" + "&".join(query) if query else "")


def same_origin_path(base: str, href: str | None) -> str | None:
    if not href or href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
        return None
    absolute = urljoin(base + "/", href)
    parts, origin = urlsplit(absolute), urlsplit(base)
    if (parts.scheme, parts.netloc) != (origin.scheme, origin.netloc):
        return None
    path = parts.path + ("?" + urlencode(parse_qsl(parts.query)) if parts.query else "")
    return None if SKIP.search(path) else path


def login(page: Any, base: str, username: str, password: str = PASSWORD, *, sign_out: bool = False) -> None:
    """Sign ``username`` in through the login page; ``sign_out`` first drops the context's cookies
    (whoever was signed in, and the language chosen)."""
    if sign_out:
        page.context.clear_cookies()
    page.goto(base + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert "/login/" not in page.url, f"{username} could not log in"


def check_page(page: Any, base: str, path: str, language: str, data: list[str]) -> PageCheck:
    response = page.goto(base + path)
    page.wait_for_load_state("load")
    status = response.status if response else 0
    width = page.evaluate(WIDTH_JS)
    weight = page.evaluate(WEIGHT_JS)
    result = PageCheck(path, status, width, weight)
    if status >= 400:
        result.problems.append(f"HTTP {status}")
        return result
    if width > PHONE["width"]:
        result.problems.append(f"{width}px wide at 360px: {page.evaluate(OVERFLOW_JS)}")
    html = page.content()
    if '<header class="top">' not in html:  # not one of our pages (e.g. Oscar's back office)
        return result
    if language == "en":
        result.problems += english_format_problems(html, data)  # "CN¥", full-width punctuation
        data = [d for d in data if CJK.search(d)]
        if CJK.search(visible_ui(html, data)):
            text = visible_ui(html, data)
            runs = sorted(set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", text)))
            result.problems.append(f"Chinese on the English page: {runs[:12]}")
    else:
        data = [d for d in data if len(d) > 2 and not CJK.search(d)]
        left_en = english_left(visible_ui(html, data))
        if left_en:
            result.problems.append(f"English on the Chinese page: {sorted(set(left_en))[:12]}")
    return result


def links_of(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "header.top a[href], nav.main a[href], main a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    return [p for h in hrefs if (p := same_origin_path(base, h))]


def crawl_role(
    browser: Any,
    base: str,
    username: str,
    password: str,
    data: list[str],
    limit: int = 24,
    depth: int = 2,
) -> list[PageCheck]:
    """Log in as ``username`` and visit the pages reachable from its home (navigation and links,
    ``depth`` levels, at most ``limit`` kinds of page) in Chinese, then the same pages in English."""
    context = phone_context(browser)
    page = context.new_page()
    # Every page is weighed as a first load: nothing comes from the browser's cache.
    context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})
    checks: list[PageCheck] = []
    try:
        login(page, base, username, password)
        seen: dict[str, str] = {}
        queue: list[tuple[str, int]] = [("/", 0)]
        while queue and len(seen) < limit:
            path, level = queue.pop(0)
            key = pattern(path)
            if key in seen:
                continue
            seen[key] = path
            check = check_page(page, base, path, "zh", data)
            checks.append(check)
            if check.status < 400 and level < depth:
                queue += [(p, level + 1) for p in links_of(page, base) if pattern(p) not in seen]
        context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
        for path in seen.values():
            check = check_page(page, base, path, "en", data)
            check.url = f"{path} [en]"
            checks.append(check)
    finally:
        context.close()
    return checks


def stored_texts() -> list[str]:
    """Every stored text of the project's models (names, titles, notes, addresses...): data, which
    may be in either language on any page. Choice labels and templates are UI, not data."""
    from django.apps import apps
    from django.db import models

    texts: set[str] = set()
    for model in apps.get_models():
        if model._meta.app_label in {"sessions", "admin", "contenttypes", "axes", "auth"}:
            continue
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.CharField | models.TextField) and not f.choices
            # A stored status (Oscar keeps the order status text itself) is shown as a label.
            and f.name != "status"
        ]
        if not fields:
            continue
        for row in model._default_manager.values_list(*fields)[:20000]:
            texts.update(v for v in row if isinstance(v, str) and len(v) > 1)
    return sorted(texts, key=len, reverse=True)

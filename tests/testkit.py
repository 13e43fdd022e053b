"""Test helpers shared by every test folder: `from testkit import make_station, PASSWORD, ...`.

They live outside conftest.py because several conftest modules exist and `from conftest import`
would pick whichever was imported first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from oscar.core.loading import get_model

from marketplace.accounts.models import User
from marketplace.apps.catalogue.product_types import FERTILIZER
from marketplace.apps.partner.credit_code import make_credit_code
from marketplace.apps.partner.models import PartnerKind, VerificationStatus
from marketplace.stations.models import (
    County,
    Station,
    Township,
    Village,
)

PASSWORD = "test-pass-123456"


def make_user(username: str, role: str, **extra: Any) -> User:
    user = User.objects.create(username=username, role=role, **extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def make_station(county: County, code: str, name: str) -> Station:
    township, _ = Township.objects.get_or_create(county=county, name=f"{name}镇")
    village = Village.objects.create(township=township, name=f"{name}村")
    return Station.objects.create(
        code=code,
        name=f"{name}益农信息社",
        village=village,
        latitude=Decimal("43.5"),
        longitude=Decimal("125.6"),
    )


def make_partner(code: str, name: str, kind: str = PartnerKind.SUPPLIER):
    Partner = get_model("partner", "Partner")
    return Partner.objects.create(
        code=code, name=name, kind=kind, verification_status=VerificationStatus.APPROVED
    )


def licensed(partner, product, restricted: bool = True):
    """The licence ``partner`` needs to sell ``product`` (fertilizer: its 肥料登记证; pesticide /
    seed: the partner's business licence). Stock records are born blocked without one."""
    from datetime import timedelta

    from django.utils import timezone

    from marketplace.apps.partner.models import LicenceKind, PartnerLicence

    today = timezone.localdate()
    slug = product.product_class.slug
    kind = {
        FERTILIZER: LicenceKind.FERTILIZER_REGISTRATION,
        "seed": LicenceKind.SEED_BUSINESS,
        "pesticide": LicenceKind.PESTICIDE_BUSINESS,
    }.get(slug)
    if kind is None:
        return None
    per_product = kind == LicenceKind.FERTILIZER_REGISTRATION
    existing = PartnerLicence.objects.valid_on(today).filter(partner=partner, kind=kind)
    if per_product:
        existing = existing.filter(product=product)
    found = existing.first()
    if found is not None:
        return found
    return PartnerLicence.objects.create(
        partner=partner,
        kind=kind,
        number=f"T-{kind[:4]}-{product.pk if per_product else partner.pk}",
        product=product if per_product else None,
        restricted_scope=restricted and kind == LicenceKind.PESTICIDE_BUSINESS,
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=365),
    )


def make_fertilizer(
    product_classes, partner, sku: str, title: str, npk=(15, 15, 15), price="150.00", stock=100
):
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    product = Product(title=title, product_class=product_classes[FERTILIZER], upc=f"UPC-{sku}")
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = map(float, npk)
    product.attr.chloride_class = "none"
    product.attr.bag_kg = 40.0
    product.attr.registration_no = f"REG-{sku}"
    product.save()
    licensed(partner, product)
    StockRecord.objects.create(
        product=product, partner=partner, partner_sku=sku, price=Decimal(price), num_in_stock=stock
    )
    return product


class GraphQLClient:
    """``headers``: extra request headers, e.g. ``{"HTTP_ACCEPT_LANGUAGE": "en"}``."""

    def __init__(self, client: Client, token: str | None = None, headers: dict | None = None) -> None:
        self.client = client
        self.token = token
        self.headers = headers or {}

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        headers = dict(self.headers)
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        response = self.client.post(
            "/graphql/",
            data=json.dumps({"query": query, "variables": variables or {}}),
            content_type="application/json",
            **headers,
        )
        assert response.status_code in (200, 400), response.content
        return response.json()


def make_warehouse(partner, code: str = "WH1", lat: str = "43.52", lon: str = "125.66"):
    Warehouse = get_model("partner", "Warehouse")
    return Warehouse.objects.create(
        partner=partner,
        code=code,
        name=f"{partner.name}{code}仓",
        latitude=Decimal(lat),
        longitude=Decimal(lon),
    )


def make_group_buy(supplier_user, operator, partner, products, title: str = "春耕复合肥团购", **extra: Any):
    """An approved (open) group-buy campaign of ``partner`` with two price tiers per product."""
    from datetime import timedelta

    from django.utils import timezone

    from plugins.group_orders import services

    campaign = services.create_campaign(
        supplier_user,
        partner=partner,
        title=title,
        cutoff_at=timezone.now() + timedelta(days=3),
        delivery_from=timezone.localdate() + timedelta(days=5),
        delivery_until=timezone.localdate() + timedelta(days=10),
        min_total_quantity=extra.pop("min_total_quantity", 100),
        items=[
            services.ItemSpec(p.pk, Decimal("150.00"), [(200, Decimal("140.00")), (1000, Decimal("130.00"))])
            for p in products
        ],
        **extra,
    )
    services.review_campaign(operator, campaign, True)
    campaign.refresh_from_db()
    return campaign


# --- Supplier sign-up ----------------------------------------------------------------------------

#: A small file the upload check takes as a PDF (a licence scan).
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def supplier_signup_data(**extra: Any) -> dict[str, Any]:
    """The supplier sign-up form (``/supplier/signup/``) filled in for 松原丰田农资有限公司, login
    ``fengtian``, with its business licence scan (a new upload each call); ``extra`` replaces or
    adds fields."""
    data: dict[str, Any] = {
        "kind": "supplier",
        "name": "松原丰田农资有限公司",
        "credit_code": make_credit_code("91220700MA0Y0001"[:16] + "1"),
        "legal_representative": "王丰田",
        "contact_name": "刘经理",
        "contact_mobile": "13900001111",
        "bank_name": "中国农业银行松原分行",
        "bank_account_name": "松原丰田农资有限公司",
        "bank_account_number": "622848000012345678",
        "username": "fengtian",
        "mobile": "13900002222",
        "password": "spring-2026-ok",
        "business_licence": SimpleUploadedFile("licence.pdf", PDF, content_type="application/pdf"),
    }
    data.update(extra)
    return data


# --- English UI checks ---------------------------------------------------------------------------

CJK = re.compile(r"[\u4e00-\u9fff]")
#: Chinese typography an English page must not show: CJK punctuation (、。【】「」, the ideographic
#: space) and full-width forms (（）：，；！？ ￥). Curly quotes “” are English too.
FULL_WIDTH = re.compile(r"[\u3000-\u303f\uff00-\uffef]+")


def english_format_problems(html: str, data: Iterable[str] = ()) -> list[str]:
    """What breaks an English page's formatting: the locale currency sign "CN¥" anywhere in the page
    (money is "¥1,234.50" in every language, marketplace/core/money.py) and full-width punctuation
    in its UI outside ``data`` (stored names and notes keep their own punctuation)."""
    problems = []
    if "CN¥" in html:
        start = html.index("CN¥")
        problems.append(f"CN¥ in {html[max(start - 60, 0) : start + 20]!r}")
    runs = [
        f"{m.group(0)!r} in {text[max(m.start() - 40, 0) : m.end() + 40]!r}"
        for text in [re.sub(r"\s+", " ", ui_outside_data(html, data))]
        for m in FULL_WIDTH.finditer(text)
    ]
    if runs:
        problems.append("full-width punctuation: " + "; ".join(runs[:8]))
    return problems


def english_client(user: User | None = None) -> Client:
    """A browser that chose English with the language switch (cookie), optionally logged in."""
    from django.conf import settings

    client = Client()
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    if user is not None:
        client.force_login(user)
    return client


def ui_outside_data(html: str, data: Iterable[str] = ()) -> str:
    """The page's header, navigation and <main> without the language switch (it offers 中文 on
    purpose) and without ``data`` (names, titles, stored texts): what must be in the page language."""
    parts = [
        m.group(0)
        for m in re.finditer(
            r'<header class="top">.*?</header>|<nav class="main".*?</nav>|<main>.*?</main>', html, re.S
        )
    ]
    assert parts, "no header / navigation / main in the page"
    text = "\n".join(parts)
    text = re.sub(r'<form[^>]*class="lang".*?</form>', " ", text, flags=re.S)
    text = re.sub(r"<(script|style|pre)\b.*?</\1>", " ", text, flags=re.S)  # <pre>: data dumps
    text = text.replace("&quot;", '"').replace("&#x27;", "'").replace("&amp;", "&")
    for value in sorted({str(d) for d in data if d}, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def data_strings(*objects: Any) -> list[str]:
    """Names and titles of the given model instances and of the places they belong to."""
    out: list[str] = []
    for obj in objects:
        if obj is None:
            continue
        out.append(str(obj))
        for attr in ("name", "title", "lab", "note", "usual_label", "error", "masked_phone"):
            value = getattr(obj, attr, None)
            if isinstance(value, str):
                out.append(value)
        for related in ("station", "village", "county", "partner", "household", "product"):
            value = getattr(obj, related, None)
            if value is not None and value is not obj and not isinstance(value, str | int):
                out += data_strings(value)
        village = getattr(obj, "village", None)
        if village is not None:
            out += [village.name, village.township.name, str(village.township.county)]
    return out


# --- Stripe (localstripe) helpers: what a browser with Stripe.js and Stripe's webhooks would do ----

#: localstripe test cards: 3-D Secure required (success depends on the payer's answer), plain.
CARD_3DS = "4000002760003184"
CARD_3DS_OTHER = "4000000000003220"
CARD_PLAIN = "4242424242424242"


def stripe_card_token(number: str) -> str:
    """A card token as Stripe.js ``createToken`` gives it (localstripe's POST /v1/tokens)."""
    from marketplace.payments import gateway

    token = gateway.client().v1.tokens.create(
        params={"card": {"number": number, "exp_month": "12", "exp_year": "2030", "cvc": "123"}}
    )
    return token.id


def stripe_authenticate(localstripe_url: str, intent_id: str, success: bool = True) -> dict:
    """The payer answers the 3-D Secure challenge, as localstripe's Stripe.js shim does in
    ``confirmCardPayment`` ("Complete authentication" / "Fail authentication")."""
    import requests

    from marketplace.payments import gateway

    secret = gateway.retrieve(intent_id).client_secret
    r = requests.post(
        f"{localstripe_url}/v1/payment_intents/{intent_id}/_authenticate?success={str(success).lower()}",
        json={"key": "pk_test_local", "client_secret": secret},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return r.json()


def signed_webhook(payload: dict, secret: str) -> tuple[bytes, str]:
    """Body and ``Stripe-Signature`` header of a webhook delivery signed with ``secret``."""
    import time

    import stripe

    body = json.dumps(payload).encode()
    ts = int(time.time())
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return body, f"t={ts},v1={sig}"


def post_stripe_event(client: Client, event_type: str, intent_id: str, secret: str, event_id: str):
    body, header = signed_webhook(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "data": {"object": {"id": intent_id, "object": "payment_intent"}},
        },
        secret,
    )
    return client.post(
        "/payments/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


def run_parallel(fn, args_list: list[tuple]) -> list:
    """Call ``fn(*args)`` for every ``args`` in its own thread (its own database connection), all
    released at once by a barrier; returns each call's result or the exception it raised, in order.
    For races on PostgreSQL (tests marked ``django_db(transaction=True)``)."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def worker(i: int, args: tuple) -> None:
        try:
            barrier.wait()
            results[i] = fn(*args)
        except Exception as exc:  # collected and checked by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def logged_in(user, *, with_password: bool = False):
    """A Django test client signed in as ``user``: by session (``force_login``), or with
    ``with_password`` through the authentication backends with :data:`PASSWORD` (django-axes needs
    the request), asserting that the sign-in worked."""
    from django.http import HttpRequest

    client = Client()
    if with_password:
        assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    else:
        client.force_login(user)
    return client

"""The extension points: a plugin contributes through hooks only, and the core works without it."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings

from marketplace.celery import beat_schedule
from marketplace.core import extensions
from marketplace.graphql.schema import build_schema

ROOT = Path(__file__).resolve().parents[2]
WITH_EXAMPLE = [*settings.INSTALLED_APPS, "example_plugin"]


@override_settings(INSTALLED_APPS=WITH_EXAMPLE)
def test_installed_plugin_contributes_through_every_hook(station_a, staff_a):
    assert "example_plugin" in [p.label for p in extensions.plugins()]
    schema = build_schema()
    assert schema.execute("{ examplePing }").data == {"examplePing": "pong"}
    assert "exampleEcho" in schema.graphql_schema.mutation_type.fields

    request = RequestFactory().get("/")
    request.user = staff_a
    assert "示例" in [e.label for e in extensions.menu_entries(request)]
    assert beat_schedule()["example.tick"]["schedule"] == 60.0
    offers = extensions.purchasable_offers(station_a)
    assert any(o.source == "example" and o.source_ref == "campaign-1" for o in offers)
    assert not hasattr(extensions, "price_adjustments")  # removed: no price path called it


@override_settings(INSTALLED_APPS=WITH_EXAMPLE)
def test_menu_entries_respect_roles(farmer_a):
    request = RequestFactory().get("/")
    request.user = farmer_a
    assert "示例" not in [e.label for e in extensions.menu_entries(request)]


def test_without_the_plugin_its_hooks_are_gone(station_a):
    assert "example_plugin" not in [p.label for p in extensions.plugins()]
    assert build_schema().execute("{ examplePing }").errors
    assert "example.tick" not in beat_schedule()
    assert not [o for o in extensions.purchasable_offers(station_a) if o.source == "example"]


def _run(code: str, plugins: list[str], var_dir: Path) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "MARKETPLACE_PLUGINS": ",".join(plugins),
        "DJANGO_SETTINGS_MODULE": "marketplace.settings",
    }
    for name in ("DATABASE_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    env["MARKETPLACE_VAR_DIR"] = str(var_dir)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


CHECK_CORE = """
import django, json
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("check", fail_level="ERROR")
call_command("migrate", verbosity=0)
call_command("seed_demo", villages=3, households=10, stdout=open("/dev/null", "w"))
from marketplace.core.extensions import plugins
c = Client()
assert c.get("/").status_code == 200
from marketplace.accounts.models import User
# force_login: axes' backend (first) needs a request, which Client.login does not pass.
c.force_login(User.objects.get(username="station01"))
for url in ("/", "/households/", "/orders/", "/catalogue/"):
    assert c.get(url).status_code == 200, url
r = c.post("/graphql/", data=json.dumps({"query": "{ __schema { queryType { fields { name } } } }"}),
           content_type="application/json")
assert r.status_code == 200, r.content
fields = [f["name"] for f in r.json()["data"]["__schema"]["queryType"]["fields"]]
print(json.dumps({"plugins": sorted(p.label for p in plugins()), "fields": fields}))
"""


def _removal_cases() -> list[list[str]]:
    installed = list(settings.MARKETPLACE_PLUGINS)
    return [[]] + [[p for p in installed if p != removed] for removed in installed]


@pytest.mark.parametrize("remaining", _removal_cases(), ids=lambda r: "keep:" + ("+".join(r) or "none"))
def test_removing_plugins_leaves_the_rest_working(remaining, tmp_path):
    import json

    result = _run(CHECK_CORE, remaining, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["plugins"] == sorted(p.rsplit(".", 1)[-1] for p in remaining)
    assert {"me", "households", "products", "orders"} <= set(out["fields"])


def test_core_stock_offers_only_sellable(station_a, product_classes, supplier, other_supplier):
    from testkit import make_fertilizer

    from marketplace.apps.partner.models import VerificationStatus

    urea = make_fertilizer(product_classes, supplier, "U-1", "尿素", npk=(46, 0, 0), price="108.00", stock=5)
    make_fertilizer(product_classes, other_supplier, "D-1", "二铵", npk=(18, 46, 0), price="185.00", stock=0)
    offers = extensions.purchasable_offers(station_a)
    assert [(o.sku, o.source, o.available, o.unit_price) for o in offers] == [
        ("U-1", "stock", 5, Decimal("108.00"))
    ]
    assert offers[0].product_id == urea.pk
    supplier.verification_status = VerificationStatus.SUSPENDED
    supplier.save()
    assert extensions.purchasable_offers(station_a) == []

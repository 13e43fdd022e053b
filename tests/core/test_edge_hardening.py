"""Issue 11 items 7 and 8: deploy checks, CSP, CSV formula injection, private licence files, Site
domain, production mail backend, catalogue import bounds and large imports as a task."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from oscar.core.loading import get_model

from marketplace.core.csv_safe import safe_row

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "MARKETPLACE_ENV": "production",
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "yinong.example.cn",
    "DJANGO_DEBUG": "0",
}


def _manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MARKETPLACE_ENV"))}
    env.update(env_overrides)
    env["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_check_deploy_has_no_hsts_or_ssl_warnings():
    result = _manage("check", "--deploy", **PRODUCTION_ENV)
    output = result.stdout + result.stderr
    for code in ("security.W004", "security.W008", "security.W012", "security.W016", "security.W006"):
        assert code not in output, output


def test_production_settings_do_not_print_mail_and_take_the_site_domain():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND); print(s.SITE_DOMAIN); print(s.GRAPHQL_PUBLIC_INTROSPECTION)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MARKETPLACE_ENV"))}
    env.update(PRODUCTION_ENV, DJANGO_SETTINGS_MODULE="marketplace.settings")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    backend, domain, introspection = out.stdout.split()
    assert backend == "django.core.mail.backends.smtp.EmailBackend"
    assert domain == "yinong.example.cn"
    assert introspection == "False"


@pytest.mark.django_db
def test_site_domain_follows_settings(settings):
    from django.contrib.sites.models import Site

    from marketplace.core.apps import sync_site_domain

    settings.SITE_DOMAIN = "yinong.example.cn"
    sync_site_domain()
    assert Site.objects.get(pk=settings.SITE_ID).domain == "yinong.example.cn"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_allowing_stripe_js(settings):
    response = Client().get("/login/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self' https://js.stripe.com" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'self'" in policy
    assert response["X-Content-Type-Options"] == "nosniff"


# --- CSV formula injection ------------------------------------------------------------------------


def test_formula_cells_are_neutralised():
    assert safe_row(['=HYPERLINK("http://evil")', "+1", "-2+3", "@SUM(A1)", "普通", 5, -5]) == [
        '\'=HYPERLINK("http://evil")',
        "'+1",
        "'-2+3",
        "'@SUM(A1)",
        "普通",
        5,
        -5,
    ]


@pytest.mark.django_db
def test_operator_product_report_csv_has_no_live_formula(operator, product_classes, supplier):
    from testkit import make_fertilizer

    product = make_fertilizer(product_classes, supplier, "EVIL-1", '=HYPERLINK("http://evil.example","点我")')
    ProductRecord = get_model("analytics", "ProductRecord")
    ProductRecord.objects.create(product=product, num_views=3)
    from django.contrib.auth.models import Permission

    operator.user_permissions.add(Permission.objects.get(codename="view_userrecord"))
    client = Client()
    client.force_login(operator)
    response = client.get(
        "/shop/dashboard/reports/", {"report_type": "product_analytics", "download": "true"}
    )
    assert response.status_code == 200, response.status_code
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    assert "'" + product.title in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


# --- Private licence files ------------------------------------------------------------------------


@pytest.fixture
def licence(supplier, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    PartnerLicence = get_model("partner", "PartnerLicence")
    lic = PartnerLicence(
        partner=supplier,
        kind=PartnerLicence._meta.get_field("kind").choices[0][0],
        number="LIC-1",
        valid_from=date.today() - timedelta(days=1),
        valid_until=date.today() + timedelta(days=300),
    )
    lic.file.save("scan.pdf", ContentFile(b"%PDF-1.4 licence scan"), save=False)
    lic.save()
    return lic


@pytest.mark.django_db
def test_licence_scans_only_for_their_supplier_and_operators(
    licence, supplier_user, other_supplier, operator, staff_a, settings
):
    from testkit import make_user

    from marketplace.accounts.models import Role

    url = f"/files/licences/{licence.pk}/"
    assert Client().get(url).status_code == 302  # to the login page
    outsider = make_user("sup_other", Role.SUPPLIER)
    other_supplier.users.add(outsider)
    for user in (outsider, staff_a):
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == 404
    for user in (supplier_user, operator):
        client = Client()
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content).startswith(b"%PDF")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "private" in response["Cache-Control"]
    # Not under the public media prefix in development either.
    assert licence.file.name.startswith(settings.PRIVATE_MEDIA_PREFIXES)


# --- Catalogue import bounds and large imports ----------------------------------------------------

HEADER = "SKU,商品类型,商品名称,价格,库存\n"


def _import(supplier_user, supplier, text: str):
    from marketplace.apps.catalogue.importer import import_catalogue

    return import_catalogue(supplier_user, supplier, io.BytesIO(text.encode()), filename="x.csv")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "column", "fragment"),
    [
        ("S1,农资用品,尿素,10000000000,5", "价格", "过大"),
        ("S1,农资用品,尿素,12.345,5", "价格", "两位小数"),
        ("S1,农资用品,尿素,12,2147483648", "库存", "过大"),
        ("S1,农资用品," + "长" * 300 + ",12,5", "商品名称", "255"),
        ("S" * 200 + ",农资用品,尿素,12,5", "SKU", "128"),
        ("S1,农资用品,尿\x00素,12,5", "商品名称", "NUL"),
    ],
)
def test_import_names_row_and_column_instead_of_a_500(
    supplier_user, supplier, product_classes, row, column, fragment
):
    report = _import(supplier_user, supplier, HEADER + row + "\n")
    assert not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(2, column)], report.errors
    assert fragment in report.errors[0].message


@pytest.mark.django_db
def test_large_import_runs_as_a_task_with_a_status_page(
    supplier_user, supplier, product_classes, settings, django_capture_on_commit_callbacks
):
    from marketplace.core.models import ImportJob

    settings.IMPORT_INLINE_MAX_BYTES = 100
    rows = "".join(f"BIG-{i},农资用品,复合肥 {i},{100 + i},{i}\n" for i in range(20))
    client = Client()
    client.force_login(supplier_user)
    upload = SimpleUploadedFile("big.csv", (HEADER + rows).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post("/supplier/import/", {"partner": supplier.pk, "file": upload})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED and job.file.name.startswith("imports/")
    page = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in page and "排队中" in page
    for callback in callbacks:  # the broker delivers the task (in-process without one)
        callback()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE and job.report["committed"]
    assert job.report["created"] == 20 and not job.file
    done = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in done and "导入完成" in done
    # Another supplier's user cannot read the job.
    from testkit import make_user

    from marketplace.accounts.models import Role

    other = make_user("sup_x", Role.SUPPLIER)
    supplier.users.add(other)
    peek = Client()
    peek.force_login(other)
    assert "导入完成" not in peek.get(response["Location"]).content.decode()

"""One product validator, every path (issue #10): the same bad product is refused with the same
field-named message through Oscar's dashboard product form, the storefront supplier product page,
the CSV import and GraphQL productCreate; a good one is accepted by all four.

Each path's errors are compared with what ``validate_product`` itself says, so a path that skips
the validator (or words its own message) fails: Oscar's own dashboard form, for one, would accept
every bad product below.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.formsets import BaseFormSet
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from oscar.core.loading import get_model

from marketplace.apps.catalogue.importer import import_catalogue
from marketplace.apps.catalogue.validation import validate_product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language_after():
    """English requests leave English active in this thread (LocaleMiddleware does not reset it);
    put the default back so later tests that call services directly see zh-Hans."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


Product = get_model("catalogue", "Product")
Category = get_model("catalogue", "Category")

FERT = {
    "n_pct": "18",
    "p2o5_pct": "18",
    "k2o_pct": "18",
    "chloride_class": "none",
    "bag_kg": "40",
    "registration_no": "吉农肥(2025)准字0018号",
}
PEST = {
    "registration_no": "PD20191000",
    "active_ingredient": "莠去津",
    "toxicity": "低毒",
    "net_content": "1 L",
}


def _produce(**changes: str) -> dict[str, str]:
    return {
        "origin": "吉林省长春市双阳区",
        "grade": "一级",
        "harvest_date": (timezone.localdate() - timedelta(days=3)).isoformat(),
        "lot_code": "SY2026-001",
    } | changes


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


#: (case, product type, title, attributes, the fields that must be refused)
BAD = [
    (
        "grade-and-chloride",
        "fertilizer",
        "复合肥 18-18-18",
        FERT | {"n_pct": "20", "chloride_class": "无"},
        {"n_pct", "chloride_class"},
    ),
    ("grade", "fertilizer", "复合肥 18-18-18 40kg", FERT | {"n_pct": "20"}, {"n_pct"}),
    ("harvest-in-future", "produce", "双阳梅花鹿鹿茸", None, {"harvest_date"}),
    ("lot-code", "produce", "双阳小町大米", _produce(lot_code="批次#1"), {"lot_code"}),
    ("registration", "pesticide", "莠去津悬浮剂", PEST | {"registration_no": "PD-2019"}, {"registration_no"}),
]
GOOD = [
    ("fertilizer", "复合肥 18-18-18 40kg", FERT),
    ("pesticide", "莠去津悬浮剂 1L", PEST),
    ("produce", "双阳小町大米 5kg", _produce()),
]


def _attrs(case: str, attrs: dict[str, str] | None) -> dict[str, str]:
    return attrs if attrs is not None else _produce(harvest_date=_tomorrow())


def expected_errors(product_type: str, title: str, attrs: dict[str, str]) -> dict[str, list[str]]:
    """What the validator itself says about this product."""
    with pytest.raises(ValidationError) as exc:
        validate_product({"product_type": product_type, "title": title, "attributes": attrs})
    return exc.value.message_dict


# --- The four paths: each returns {field: [messages]} ({} when the product was accepted) ---------


def _formsets(page: Any) -> list[BaseFormSet]:
    names = ("category_formset", "image_formset", "recommended_formset", "stockrecord_formset")
    return [page.context[name] for name in names if name in page.context]


def via_dashboard(ctx: dict[str, Any], product_type: str, title: str, attrs: dict[str, str]) -> dict:
    client = Client()
    client.force_login(ctx["operator"])
    url = reverse("dashboard:catalogue-product-create", kwargs={"product_class_slug": product_type})
    page = client.get(url)
    assert page.status_code == 200
    data: dict[str, Any] = {"title": title, "structure": "standalone", "is_public": "on"}
    for formset in _formsets(page):  # categories, images, stock records, recommendations
        management = formset.management_form
        data |= {management.add_prefix(name): 0 for name in ("TOTAL_FORMS", "INITIAL_FORMS")}
        if "category" in formset.form.base_fields:
            data[management.add_prefix("TOTAL_FORMS")] = 1
            data[f"{formset.prefix}-0-category"] = ctx["categories"][product_type].pk
    data |= {f"attr_{code}": value for code, value in attrs.items()}
    response = client.post(url, data)
    if response.status_code == 302:
        return {}
    form = response.context["form"]
    return {key.removeprefix("attr_"): list(messages) for key, messages in form.errors.items()}


def via_storefront(ctx: dict[str, Any], product_type: str, title: str, attrs: dict[str, str]) -> dict:
    client = Client()
    client.force_login(ctx["supplier_user"])
    wh = ctx["wh"]
    data = {"type": product_type, "title": title, f"sku_{wh.pk}": f"S-{title}", f"price_{wh.pk}": "99.50"}
    data[f"stock_{wh.pk}"] = "10"
    data |= {f"attr_{code}": value for code, value in attrs.items()}
    response = client.post(reverse("storefront:supplier-product-create"), data)
    if response.status_code == 302:
        return {}
    assert response.status_code == 200
    form = response.context["form"]
    return {key.removeprefix("attr_"): list(messages) for key, messages in form.errors.items()}


def via_import(ctx: dict[str, Any], product_type: str, title: str, attrs: dict[str, str]) -> dict:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["sku", "product_type", "title", "price", "num_in_stock", *attrs])
    writer.writerow([f"I-{title}", product_type, title, "99.50", "10", *attrs.values()])
    report = import_catalogue(
        ctx["supplier_user"], ctx["supplier"], io.BytesIO(buffer.getvalue().encode()), filename="p.csv"
    )
    errors: dict[str, list[str]] = {}
    for error in report.errors:
        assert error.row == 2
        errors.setdefault(error.column, []).append(error.message)
    assert report.committed is not bool(errors)
    return errors


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def via_graphql(ctx: dict[str, Any], product_type: str, title: str, attrs: dict[str, str]) -> dict:
    mutation = """mutation($p: ID!, $i: ProductInput!){ productCreate(partnerId: $p, input: $i){
      product{ id } errors{ field code message } } }"""
    result = ctx["gql"](ctx["supplier_user"])(
        mutation,
        {
            "p": str(ctx["supplier"].pk),
            "i": {"productType": product_type, "title": title, "attributes": attrs},
        },
    )
    payload = result["data"]["productCreate"]
    errors: dict[str, list[str]] = {}
    for error in payload["errors"]:
        errors.setdefault(_snake(error["field"]), []).append(error["message"])
    assert (payload["product"] is None) is bool(errors)
    return errors


PATHS = {
    "dashboard": via_dashboard,
    "storefront": via_storefront,
    "import": via_import,
    "graphql": via_graphql,
}


@pytest.fixture
def ctx(product_classes, supplier, supplier_user, wh, gql) -> dict[str, Any]:
    from testkit import make_user

    from marketplace.accounts.models import Role

    # Oscar's dashboard catalogue needs the staff flag and catalogue permissions: a back-office admin.
    operator = make_user("backoffice", Role.OPERATOR, is_staff=True, is_superuser=True)
    categories = {slug: Category.add_root(name=pc.name) for slug, pc in product_classes.items()}
    return {
        "operator": operator,
        "supplier": supplier,
        "supplier_user": supplier_user,
        "wh": wh,
        "gql": gql,
        "categories": categories,
    }


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(("case", "product_type", "title", "attrs", "fields"), BAD, ids=[b[0] for b in BAD])
def test_bad_product_is_refused_with_the_validators_field_message(
    ctx, path, case, product_type, title, attrs, fields
):
    attrs = _attrs(case, attrs)
    expected = expected_errors(product_type, title, attrs)
    assert set(expected) == fields  # the validator itself names exactly these fields
    before = Product.objects.count()
    errors = PATHS[path](ctx, product_type, title, attrs)
    for field in fields:
        assert field in errors, (path, case, errors)
        assert errors[field] == expected[field], (path, field)
    assert Product.objects.count() == before, f"{path} wrote a refused product"


@pytest.mark.parametrize("path", PATHS)
def test_good_products_are_accepted_by_every_path(ctx, path):
    for product_type, title, attrs in GOOD:
        validate_product({"product_type": product_type, "title": title, "attributes": attrs})
        unique = f"{title} {path}"
        assert PATHS[path](ctx, product_type, unique, attrs) == {}, (path, product_type)
        product = Product.objects.get(title=unique)
        assert product.product_class.slug == product_type
        if product_type == "fertilizer":
            assert (product.n_pct, product.chloride_class) == (18.0, "none")
        if product_type == "produce":
            assert product.attr.lot_code == "SY2026-001"


def test_english_message_is_the_same_on_every_path(ctx, settings):
    """The messages follow the request language: gettext, English catalogue."""
    from django.utils import translation

    title, attrs = "复合肥 18-18-18", FERT | {"n_pct": "20"}
    with translation.override("en"):
        expected = expected_errors("fertilizer", title, attrs)["n_pct"]
        assert expected == ["The N-P-K grade 18-18-18 in the title does not match the attributes 20-18-18"]
        assert via_import(ctx, "fertilizer", title, attrs)["n_pct"] == expected
    client = Client()
    client.force_login(ctx["supplier_user"])
    wh = ctx["wh"]
    response = client.post(
        reverse("storefront:supplier-product-create"),
        {"type": "fertilizer", "title": title}
        | {f"attr_{k}": v for k, v in attrs.items()}
        | {f"sku_{wh.pk}": ""},
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.context["form"].errors["attr_n_pct"] == expected
    graphql = ctx["gql"](ctx["supplier_user"])
    graphql.headers = {"HTTP_ACCEPT_LANGUAGE": "en"}
    result = graphql(
        """mutation($p: ID!, $i: ProductInput!){ productCreate(partnerId: $p, input: $i){ errors{ field message } } }""",
        {
            "p": str(ctx["supplier"].pk),
            "i": {"productType": "fertilizer", "title": title, "attributes": attrs},
        },
    )
    assert [
        e["message"] for e in result["data"]["productCreate"]["errors"] if e["field"] == "nPct"
    ] == expected


def test_dashboard_edit_runs_the_validator_too(ctx):
    """Editing an existing product in Oscar's dashboard: the same rule on update."""
    from testkit import make_fertilizer

    from marketplace.apps.catalogue.product_types import ensure_product_types

    product = make_fertilizer(ensure_product_types(), ctx["supplier"], "DX1", "复合肥 15-15-15")
    product.categories.add(ctx["categories"]["fertilizer"])
    client = Client()
    client.force_login(ctx["operator"])
    url = reverse("dashboard:catalogue-product", kwargs={"pk": product.pk})
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["form"]
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if value not in (None, False):
            data[name] = value
    for formset in _formsets(page):
        management = formset.management_form
        for name in ("INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
            data[management.add_prefix(name)] = management[name].value()
        data[management.add_prefix("TOTAL_FORMS")] = len(formset.initial_forms)  # no empty extras
        for sub in formset.initial_forms:
            for name in sub.fields:
                sub_value = sub[name].value()
                if sub_value not in (None, False):
                    data[sub.add_prefix(name)] = sub_value
    data["attr_n_pct"] = "20"
    response = client.post(url, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["attr_n_pct"] == ["标题中的养分配比 15-15-15 与属性 20-15-15 不一致"]
    product.refresh_from_db()
    assert product.n_pct == 15.0
    data["attr_n_pct"] = "15"
    data["attr_chloride_class"] = "low"
    response = client.post(url, data)
    assert response.status_code == 302, [
        (f.prefix, f.errors, f.non_form_errors()) for f in _formsets(response)
    ]
    product.refresh_from_db()
    assert product.chloride_class == "low"


def test_supplier_in_the_dashboard_is_refused_too(ctx):
    """The partner-restricted dashboard (a supplier with dashboard access, its own stock record)."""
    from marketplace.apps.partner.services import _dashboard_permission

    user = ctx["supplier_user"]
    user.user_permissions.add(_dashboard_permission())
    client = Client()
    client.force_login(user)
    url = reverse("dashboard:catalogue-product-create", kwargs={"product_class_slug": "fertilizer"})
    page = client.get(url)
    assert page.status_code == 200
    data: dict[str, Any] = {"title": "复合肥 18-18-18", "structure": "standalone", "is_public": "on"}
    for formset in _formsets(page):
        management = formset.management_form
        data |= {management.add_prefix(name): 0 for name in ("TOTAL_FORMS", "INITIAL_FORMS")}
        if "category" in formset.form.base_fields:
            data[management.add_prefix("TOTAL_FORMS")] = 1
            data[f"{formset.prefix}-0-category"] = ctx["categories"]["fertilizer"].pk
        if "partner_sku" in formset.form.base_fields:
            data[management.add_prefix("TOTAL_FORMS")] = 1
            data |= {
                f"{formset.prefix}-0-partner": ctx["supplier"].pk,
                f"{formset.prefix}-0-partner_sku": "DASH-1",
                f"{formset.prefix}-0-price_currency": "CNY",
                f"{formset.prefix}-0-price": "150.00",
                f"{formset.prefix}-0-num_in_stock": "10",
            }
    bad = data | {
        f"attr_{code}": value for code, value in (FERT | {"n_pct": "20", "chloride_class": "无"}).items()
    }
    response = client.post(url, bad)
    assert response.status_code == 200
    errors = response.context["form"].errors
    expected = expected_errors(
        "fertilizer", "复合肥 18-18-18", FERT | {"n_pct": "20", "chloride_class": "无"}
    )
    assert errors["attr_n_pct"] == expected["n_pct"]
    assert errors["attr_chloride_class"] == expected["chloride_class"]
    assert not Product.objects.filter(title="复合肥 18-18-18").exists()
    good = data | {f"attr_{code}": value for code, value in FERT.items()}
    response = client.post(url, good)
    assert response.status_code == 302, [
        (f.prefix, f.errors, f.non_form_errors()) for f in _formsets(response)
    ]
    product = Product.objects.get(title="复合肥 18-18-18")
    record = product.stockrecords.get()
    assert record.partner_sku == "DASH-1" and record.compliance_blocked  # no 肥料登记证: born blocked


def test_updates_are_validated_on_the_graphql_and_import_paths(ctx):
    """productUpdate and a re-import of an existing SKU validate the merged attributes too."""
    via_import(ctx, "fertilizer", "复合肥 18-18-18", FERT)
    product = Product.objects.get(title="复合肥 18-18-18")
    assert product.owner == ctx["supplier"]
    expected = expected_errors("fertilizer", "复合肥 18-18-18", FERT | {"chloride_class": "无"})[
        "chloride_class"
    ]
    result = ctx["gql"](ctx["supplier_user"])(
        """mutation($id: ID!, $i: ProductInput!){ productUpdate(id: $id, input: $i){
          product{ id } errors{ field message } } }""",
        {"id": str(product.pk), "i": {"attributes": {"chloride_class": "无"}}},
    )
    errors = result["data"]["productUpdate"]["errors"]
    assert [e["message"] for e in errors if e["field"] == "chlorideClass"] == expected
    assert via_import(ctx, "fertilizer", "复合肥 18-18-18", FERT | {"chloride_class": "无"}) == {
        "chloride_class": expected
    }
    product.refresh_from_db()
    assert product.chloride_class == "none"


def test_django_admin_cannot_edit_title_or_attributes(ctx):
    """Django's admin does not run the validator, so it cannot change what the validator decides."""
    from testkit import make_fertilizer

    from marketplace.apps.catalogue.product_types import ensure_product_types

    product = make_fertilizer(ensure_product_types(), ctx["supplier"], "ADM1", "复合肥 15-15-15")
    client = Client()
    client.force_login(ctx["operator"])  # a superuser
    value = product.attribute_values.get(attribute__code="n_pct")
    url = reverse("admin:catalogue_productattributevalue_change", args=[value.pk])
    client.post(url, {"attribute": value.attribute_id, "product": product.pk, "value_float": "20"})
    value.refresh_from_db()
    assert value.value_float == 15.0
    page = client.get(reverse("admin:catalogue_product_change", args=[product.pk])).content.decode()
    assert 'name="title"' not in page and 'name="attribute_values-0-value_float"' not in page

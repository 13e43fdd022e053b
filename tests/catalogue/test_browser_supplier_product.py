"""A supplier adds one fertilizer product with price and stock at its warehouse on the storefront
page, in Debian's Chromium at 360 px, in zh-Hans and in English: a bad grade is refused first with
the error on the nitrogen field, then the corrected product is saved (pages only)."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from browserkit import fits, login
from oscar.core.loading import get_model
from testkit import CJK

from marketplace.apps.partner.models import StockRecord

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

Product = get_model("catalogue", "Product")

TEXT = {
    "zh": {
        "grade_error": "标题中的养分配比 18-18-18 与属性 20-18-18 不一致",
        "saved": "已保存商品",
        "blocked": "缺少有效的肥料登记证",
    },
    "en": {
        "grade_error": "The N-P-K grade 18-18-18 in the title does not match the attributes 20-18-18",
        "saved": "Saved product",
        "blocked": "No valid fertilizer registration certificate",
    },
}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_supplier_adds_a_fertilizer_with_stock_on_the_page(
    live_server, page, lang, product_classes, supplier, supplier_user, wh
):
    text = TEXT[lang]
    if lang == "en":
        page.goto(live_server.url + "/login/")
        page.click("header >> text=English")
        page.wait_for_load_state()
    login(page, live_server.url, supplier_user.username)

    page.goto(live_server.url + "/supplier/stock/")
    page.click("[data-testid=product-create]")
    page.wait_for_selector("[data-testid=type-choice]")
    fits(page)
    transferred: list[int] = []
    page.on(
        "response", lambda r: transferred.append(len(r.body()) if r.ok and r.request.method == "GET" else 0)
    )
    page.click("[data-type=fertilizer]")
    page.wait_for_selector("[data-testid=product-form]")
    fits(page)
    assert sum(transferred) < 100_000, sum(transferred)  # light: the form page with its CSS
    if lang == "en":
        ui = page.inner_text("[data-testid=product-form]").replace(wh.name, "")  # data stays as entered
        assert not CJK.search(ui), CJK.findall(ui)

    title = "复合肥 18-18-18 40kg" if lang == "zh" else "NPK 18-18-18 40kg"
    page.fill("#id_title", title)
    page.fill("#id_attr_n_pct", "20")  # the grade in the title says 18
    page.fill("#id_attr_p2o5_pct", "18")
    page.fill("#id_attr_k2o_pct", "18")
    page.select_option("#id_attr_chloride_class", "low")
    page.fill("#id_attr_bag_kg", "40")
    page.fill("#id_attr_registration_no", "JF2025-0018")
    page.fill(f"#id_sku_{wh.pk}", f"NPK18-{lang}")
    page.fill(f"#id_price_{wh.pk}", "158.00")
    page.fill(f"#id_stock_{wh.pk}", "120")
    page.click("[data-testid=product-save]")
    page.wait_for_selector("[data-testid=form-errors]")
    fits(page)
    field = page.locator(".field", has=page.locator("#id_attr_n_pct"))
    assert text["grade_error"] in field.inner_text()
    assert not Product.objects.filter(title=title).exists()
    assert page.input_value("#id_attr_p2o5_pct") == "18"  # what was typed is kept

    page.fill("#id_attr_n_pct", "18")
    page.click("[data-testid=product-save]")
    page.wait_for_selector("[data-testid=product-stock]")
    fits(page)
    assert text["saved"] in page.inner_text("ul.messages")
    assert text["blocked"] in page.inner_text("[data-testid=product-stock]")
    product = Product.objects.get(title=title)
    assert product.owner_id == supplier.pk and product.n_pct == 18.0
    record = StockRecord.objects.get(product=product)
    assert (record.warehouse_id, record.price, record.num_in_stock) == (wh.pk, Decimal("158.00"), 120)
    assert record.compliance_blocked  # no 肥料登记证 yet: the licence rule still applies
    if lang == "en":
        assert not CJK.search(page.inner_text("[data-testid=product-form] fieldset legend"))

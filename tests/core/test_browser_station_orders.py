"""A station direct order in Debian's Chromium at 360 px, pages only: station staff find a product,
add it for a household, check out with cash and see the order; the supplier marks it shipped; the
station receives it and hands it out against the household's pickup code."""

from __future__ import annotations

import os

import pytest
from browserkit import fits, login
from oscar.core.loading import get_model
from testkit import make_fertilizer

from marketplace.apps.order import statuses
from marketplace.apps.order.models import DirectOrder
from marketplace.payments import services as pay

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

Order = get_model("order", "Order")
StockRecord = get_model("partner", "StockRecord")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_staff_orders_for_a_household_supplier_ships_station_hands_out(
    live_server, page, staff_a, household_a, product_classes, supplier, supplier_user
):
    urea = make_fertilizer(
        product_classes, supplier, "UREA-B", "尿素 46% 直购", npk=(46, 0, 0), price="120.00", stock=10
    )
    login(page, live_server.url, "staff_a")
    # find the product in the catalogue and order it for the household
    page.goto(live_server.url + "/catalogue/?q=尿素")
    page.click("text=尿素 46% 直购")
    fits(page)
    page.click("[data-testid=order-for-household]")
    page.fill("[data-testid=household-search]", household_a.name)
    page.press("[data-testid=household-search]", "Enter")
    page.wait_for_load_state()
    page.click(f"[data-testid=household-choices] >> text={household_a.name}")
    page.wait_for_load_state()
    fits(page)
    page.fill(f"#qty-{StockRecord.objects.get(product=urea).pk}", "3")
    page.click(f"[data-testid=add-{urea.pk}]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=basket-total]") == "¥360.00"
    fits(page)
    page.check("input[name=method][value=cash]")
    page.click("[data-testid=checkout-submit]")
    page.wait_for_load_state()
    order = Order.objects.get(household=household_a)
    code = DirectOrder.objects.get(order=order).pickup_code
    assert order.number in page.inner_text("h1") and code in page.inner_text("ul.messages")
    assert page.inner_text("[data-testid=order-status]") == statuses.ORDERED
    fits(page)
    assert pay.balance(pay.station_cash(household_a.station_id)) == order.total_incl_tax
    # the supplier sees the order in its list (without the household) and ships it
    login(page, live_server.url, "sup_user", sign_out=True)
    page.goto(live_server.url + "/orders/")
    page.click(f"text={order.number}")
    assert household_a.name not in page.content()
    page.click("[data-testid=order-ship]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=order-status]") == statuses.SHIPPED
    fits(page)
    # the station receives it and hands it out against the pickup code
    login(page, live_server.url, "staff_a", sign_out=True)
    page.goto(live_server.url + f"/orders/{order.number}/")
    page.click("[data-testid=order-receive]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=order-status]") == statuses.AT_STATION
    page.fill("[data-testid=pickup-input]", "000000" if code != "000000" else "111111")
    page.click("[data-testid=order-hand-out]")
    page.wait_for_load_state()
    assert "取货码不正确" in page.inner_text("ul.messages")
    page.fill("[data-testid=pickup-input]", code)
    page.click("[data-testid=order-hand-out]")
    page.wait_for_load_state()
    assert page.inner_text("[data-testid=order-status]") == statuses.COLLECTED
    fits(page)
    order.refresh_from_db()
    assert order.status == statuses.COLLECTED

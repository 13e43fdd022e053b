"""An operator refunds a delivered produce order through the pages only, in Debian's Chromium at
360 px: first in Chinese (menu → search by order number → partial refund → a refused amount →
confirmation → refund; the same form sent again refunds nothing more), then in English (the rest
of the order, in full). The buyer sees both refunds on their order page, in both languages."""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from browserkit import fits, login
from produce_kit import ADDRESS, delivery_slot, unit_of
from testkit import CARD_PLAIN, CJK, make_user, stripe_card_token

from marketplace.accounts.models import Role
from marketplace.payments.models import Refund
from plugins.produce import services

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.stripe
@pytest.mark.django_db(transaction=True)
def test_operator_refunds_a_produce_order_at_360px(
    live_server, page, stripe_settings, rnd, lot, coop, coop_user, operator
):
    base = live_server.url
    buyer = make_user("13812340001", Role.CITY_BUYER, phone="13812340001")
    po = services.start_checkout(
        buyer, rnd, {unit_of(lot).pk: 2}, delivery_slot(rnd).pk, ADDRESS, "card", "br-refund",
        token=stripe_card_token(CARD_PLAIN),
    ).order  # fmt: skip
    services.mark_packed(coop_user, po)
    services.confirm_delivery(coop_user, po, po.delivery_code)
    number = str(po.order.number)

    # 中文：从导航进入退款页，按订单号查找。
    login(page, base, operator.username, sign_out=True)
    with page.expect_navigation():
        page.click("nav.main >> text=农产品退款")
    fits(page)
    page.fill("#q", number)
    with page.expect_navigation():
        page.click("[data-testid=refund-search] button[type=submit]")
    fits(page)
    with page.expect_navigation():
        page.click(f"[data-testid=refund-orders] >> text={number}")
    fits(page)
    assert "¥256.00" in page.inner_text("[data-testid=refund-left]")
    # A refused amount is a field error; nothing is refunded.
    page.fill("#amount", "300")
    page.fill("#reason", "运输破损")
    with page.expect_navigation():
        page.click("[data-testid=refund-next]")
    fits(page)
    assert "退款金额不能超过可退金额 ¥256.00" in page.inner_text("[data-testid=error-amount]")
    page.fill("#amount", "56")
    with page.expect_navigation():
        page.click("[data-testid=refund-next]")
    fits(page)
    confirm = page.inner_text("[data-testid=refund-confirm]")
    assert "¥56.00" in confirm and "运输破损" in confirm and "¥200.00" in confirm
    assert Refund.objects.count() == 0  # nothing before the confirmation
    form = {
        name: page.get_attribute(f"[data-testid=refund-confirm] input[name={name}]", "value")
        for name in ("amount", "reason", "key", "csrfmiddlewaretoken")
    }
    with page.expect_navigation():
        page.click("[data-testid=refund-submit]")
    fits(page)
    assert "已退款" in page.inner_text("ul.messages")
    assert "¥200.00" in page.inner_text("[data-testid=refund-left]")
    assert "运输破损" in page.inner_text("[data-testid=refund-history]")
    # The same confirmation sent again (a double click, a resent form): refunded once.
    url = page.url
    page.request.post(url, form={**form, "step": "confirm"}, headers={"Referer": url})
    po.payment.refresh_from_db()
    assert po.payment.amount_refunded == Decimal("56.00") and Refund.objects.count() == 1

    # English: the rest, in full.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(base + "/p/produce/operator/refunds/")
    fits(page)
    assert "Produce refunds" in page.inner_text("h1")
    with page.expect_navigation():
        page.click(f"[data-testid=refund-orders] >> text={number}")
    fits(page)
    assert page.input_value("#amount") == "200.00"  # the full rest is offered
    page.fill("#reason", "Buyer returned the rest")
    with page.expect_navigation():
        page.click("[data-testid=refund-next]")
    fits(page)
    assert "Refund ¥200.00" in page.inner_text("[data-testid=refund-submit]")
    with page.expect_navigation():
        page.click("[data-testid=refund-submit]")
    fits(page)
    assert "refunded in full" in page.inner_text("[data-testid=refund-unavailable]")
    main = page.inner_text("main")
    for data in (coop.name, ADDRESS.contact_name, "运输破损"):  # stored data, not UI
        main = main.replace(data, "")
    assert not CJK.search(main), main
    po.payment.refresh_from_db()
    assert po.payment.amount_refunded == Decimal("256.00") and Refund.objects.count() == 2

    # The buyer sees both refunds on the order page, in English and in Chinese.
    login(page, base, buyer.username, sign_out=True)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(base + f"/p/produce/orders/{po.pk}/")
    fits(page)
    assert "Refunded ¥256.00" in page.inner_text("[data-testid=order-state]")
    refunds = page.inner_text("[data-testid=order-refunds]")
    assert "¥56.00" in refunds and "¥200.00" in refunds and "back to the original payment" in refunds
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": base}])
    page.goto(base + f"/p/produce/orders/{po.pk}/")
    fits(page)
    assert "已退款 ¥256.00" in page.inner_text("[data-testid=order-state]")
    assert "原路退回" in page.inner_text("[data-testid=order-refunds]")

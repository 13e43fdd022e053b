"""Issue 11: a station officer takes cash for a pledge whose card authorisation lapsed at the close,
through the product's own pages in Debian's Chromium at 360 px (zh-Hans): the home page lists the
lapsed pledge, the campaign's pledges page offers "改收现金", one click settles it (the page then
shows the order), and the household's pickup SMS carries its code. English: test_group_take_cash.py
checks the same page with the i18n helpers."""

from __future__ import annotations

import os

import pytest
from browserkit import fits, login

from marketplace.core.models import Notification
from marketplace.payments import gateway
from marketplace.payments.models import LedgerEntry
from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Pickup, Pledge, PledgeStatus

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.stripe
@pytest.mark.django_db(transaction=True)
def test_officer_takes_cash_for_a_lapsed_pledge_at_360px(
    live_server, page, stripe_settings, staff_a, station_a, item, campaign, households_a, expire
):
    services.place_pledge(staff_a, item, households_a[0], 100, "stripe", stripe_payment_method="pm_card_visa")
    lost = services.place_pledge(
        staff_a, item, households_a[1], 50, "stripe", stripe_payment_method="pm_card_visa"
    )
    gateway.cancel(lost.payment.stripe_payment_intent, "test-expired")
    expire(campaign)
    close_campaign(campaign.pk)
    assert Pledge.objects.get(pk=lost.pk).status == PledgeStatus.UNPAID

    login(page, live_server.url, staff_a.username)
    panel = page.locator("[data-unpaid-panel]")
    assert households_a[1].name in panel.inner_text()
    assert "支付失效，待改收现金" in page.inner_text("main")
    fits(page)
    with page.expect_navigation():
        panel.locator("a").first.click()
    fits(page)
    button = page.locator(f'[data-take-cash="{lost.pk}"]')
    assert button.inner_text().startswith("改收现金 ¥")
    with page.expect_navigation():
        button.click()
    fits(page)
    pickup = Pickup.objects.get(campaign=campaign, household=households_a[1])
    text = page.inner_text("body")
    assert "已收取现金" in text and pickup.order.number in text
    assert page.locator("[data-take-cash]").count() == 0  # nothing left to settle

    assert Pledge.objects.get(pk=lost.pk).status == PledgeStatus.CONFIRMED
    assert LedgerEntry.objects.filter(household=households_a[1], kind="sale").count() == 1
    sms = Notification.objects.get(dedupe_key=f"gb:{campaign.pk}:closed:household:{households_a[1].pk}")
    assert pickup.code in sms.text

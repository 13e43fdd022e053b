"""A farmer pays a pledge by card in Debian's Chromium: the localstripe card Element on the pledge
page, the 3-D Secure modal, and a confirmed pledge at the end (Playwright, no downloads)."""

from __future__ import annotations

import os

import pytest
from browserkit import fill_card, login
from testkit import CARD_3DS

from marketplace.payments import gateway
from marketplace.payments.models import PaymentStatus
from marketplace.settings import content_security_policy
from plugins.group_orders.models import Pledge, PledgeStatus

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.stripe
@pytest.mark.django_db(transaction=True)
def test_farmer_pays_by_card_with_3d_secure(
    live_server, page, stripe_settings, localstripe_url, farmer_a, household_a, campaign, item
):
    stripe_settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    stripe_settings.STRIPE_JS_URL = f"{localstripe_url}/js.stripe.com/v3/"
    stripe_settings.CONTENT_SECURITY_POLICY = content_security_policy(stripe_settings.STRIPE_JS_URL)
    login(page, live_server.url, "farmer_a")

    page.goto(f"{live_server.url}/p/group-buy/c/{campaign.pk}/")
    page.fill("input[name=quantity]", "10")
    page.select_option("select[name=payment_method]", "stripe")
    page.select_option("select[name=online_type]", "card")
    fill_card(page, CARD_3DS)
    page.click("form[data-pledge-form] button[type=submit]")

    # Our payment page runs stripe.confirmCardPayment: localstripe's 3-D Secure modal.
    page.wait_for_selector("text=Complete authentication", timeout=20_000)
    assert "/p/group-buy/pay/" in page.url
    assert not Pledge.objects.exists()
    page.click("text=Complete authentication")
    page.wait_for_url(f"{live_server.url}/p/group-buy/c/{campaign.pk}/", timeout=20_000)
    assert "已为 张国华 认购" in page.inner_text("ul.messages")

    pledge = Pledge.objects.get()
    assert (pledge.household_id, pledge.quantity, pledge.status) == (household_a.pk, 10, PledgeStatus.ACTIVE)
    assert pledge.payment.status == PaymentStatus.AUTHORISED
    assert pledge.payment.recorded_by_id == farmer_a.pk
    assert gateway.retrieve(pledge.payment.stripe_payment_intent).status == "requires_capture"

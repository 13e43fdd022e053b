"""Payments fixtures: a localstripe server for the session (no test touches the internet)."""

from __future__ import annotations

import pytest
import stripe

from marketplace.payments.testing import localstripe_server

WEBHOOK_SECRET = "whsec_test_local"


@pytest.fixture(scope="session")
def localstripe_url():
    with localstripe_server() as url:
        old = stripe.api_base
        stripe.api_base = url
        yield url
        stripe.api_base = old


@pytest.fixture
def stripe_settings(settings, localstripe_url):
    settings.STRIPE_API_BASE = localstripe_url
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings

"""Produce fixtures: a verified cooperative with a warehouse, a lot on sale in an open round, a city
buyer, and a localstripe server for payments (no test touches the internet)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import stripe
from django.utils import timezone
from produce_kit import lot_input
from testkit import make_partner, make_user, make_warehouse

from marketplace.accounts.models import Role
from marketplace.apps.partner.models import PartnerKind
from marketplace.payments.testing import localstripe_server
from plugins.produce import services


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
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_local"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_local"
    return settings


@pytest.fixture
def coop(db):
    partner = make_partner("coop-t1", "齐家镇有机大米专业合作社", PartnerKind.COOPERATIVE)
    make_warehouse(partner, "CP1", "43.47", "125.73")
    return partner


@pytest.fixture
def coop_user(coop):
    user = make_user("coop-t1-user", Role.COOPERATIVE)
    coop.users.add(user)
    return user


@pytest.fixture
def other_coop_user(db):
    partner = make_partner("coop-t2", "另一合作社", PartnerKind.COOPERATIVE)
    make_warehouse(partner, "CP2")
    user = make_user("coop-t2-user", Role.COOPERATIVE)
    partner.users.add(user)
    return user


@pytest.fixture
def city_buyer(db):
    return make_user("13800000011", Role.CITY_BUYER, phone="13800000011")


@pytest.fixture
def lot(coop_user, coop):
    return services.create_lot(coop_user, coop, lot_input())


@pytest.fixture
def rnd(coop_user, coop, lot):
    day = (timezone.localtime() + timedelta(days=3)).date()
    return services.open_round(
        coop_user, coop, "本周鲜米", timezone.now() + timedelta(days=2), [lot.pk],
        [{"kind": "delivery", "day": day, "start": "09:00", "end": "12:00"},
         {"kind": "pickup", "day": day, "start": "14:00", "end": "18:00", "place_name": "红旗街自提点",
          "latitude": "43.856", "longitude": "125.292"}],
    )  # fmt: skip

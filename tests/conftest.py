"""Shared fixtures: a small county with two stations, one user per role, a supplier with products.

Real database (PostgreSQL in CI, SQLite by default); nothing of our own is mocked.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from browserkit import browser, page  # noqa: F401  (the Playwright fixtures, for every browser test)
from django.test import Client
from testkit import (  # noqa: F401  (helpers used by the fixtures below and re-exported)
    PASSWORD,
    GraphQLClient,
    make_fertilizer,
    make_partner,
    make_station,
    make_user,
    make_warehouse,
)

from marketplace.accounts.models import ApiToken, Role, User
from marketplace.apps.catalogue.product_types import ensure_product_types
from marketplace.stations.models import (
    County,
    CountyAssignment,
    Household,
    Station,
    StationStaff,
)


def pytest_sessionfinish(session, exitstatus):
    """With FAIL_ON_SKIP=1 (bin/test, CI) a skipped test fails the run: CI must run everything."""
    if os.environ.get("FAIL_ON_SKIP") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        if reporter:
            reporter.write_line(f"FAIL_ON_SKIP: {skipped} test(s) were skipped", red=True)
        session.exitstatus = 1


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Unit tests run tasks in-process; tests/core/test_celery_broker.py exercises a real worker."""
    from marketplace.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The test database is rolled back between tests but the cache is not (Redis in CI, kept between
    runs): cached totals, lockout and rate-limit counters of one test must not leak into the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the site's default language (zh-Hans): a request or override in English
    elsewhere must not leak into the next test's messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def county(db) -> County:
    return County.objects.create(code="220112", name="双阳区", city="长春市")


@pytest.fixture
def other_county(db) -> County:
    return County.objects.create(code="220183", name="德惠市", city="长春市")


@pytest.fixture
def station_a(county) -> Station:
    return make_station(county, "ST-A", "东岗")


@pytest.fixture
def station_b(county) -> Station:
    return make_station(county, "ST-B", "西岗")


@pytest.fixture
def station_far(other_county) -> Station:
    return make_station(other_county, "ST-F", "远方")


@pytest.fixture
def staff_a(station_a) -> User:
    user = make_user("staff_a", Role.STATION_STAFF, display_name="甲站信息员")
    StationStaff.objects.create(station=station_a, user=user, is_manager=True)
    return user


@pytest.fixture
def staff_b(station_b) -> User:
    user = make_user("staff_b", Role.STATION_STAFF, display_name="乙站信息员")
    StationStaff.objects.create(station=station_b, user=user, is_manager=True)
    return user


@pytest.fixture
def operator(db) -> User:
    return make_user("op", Role.OPERATOR, is_staff=True)


@pytest.fixture
def agronomist(county) -> User:
    user = make_user("agro", Role.AGRONOMIST)
    CountyAssignment.objects.create(county=county, user=user)
    return user


@pytest.fixture
def buyer(db) -> User:
    return make_user("buyer", Role.CITY_BUYER, email="buyer@example.com")


@pytest.fixture
def household_a(station_a) -> Household:
    return Household.objects.create(
        station=station_a,
        village=station_a.village,
        name="张国华",
        phone="13812345678",
        farm_area_mu=Decimal("30"),
    )


@pytest.fixture
def household_b(station_b) -> Household:
    return Household.objects.create(
        station=station_b,
        village=station_b.village,
        name="李春明",
        phone="13987654321",
        farm_area_mu=Decimal("12"),
    )


@pytest.fixture
def farmer_a(household_a) -> User:
    user = make_user("farmer_a", Role.FARMER)
    household_a.user = user
    household_a.save()
    return user


@pytest.fixture
def product_classes(db) -> dict:
    return ensure_product_types()


@pytest.fixture
def supplier(db):
    return make_partner("sup-1", "甲农资公司")


@pytest.fixture
def other_supplier(db):
    return make_partner("sup-2", "乙农资公司")


@pytest.fixture
def supplier_user(supplier) -> User:
    user = make_user("sup_user", Role.SUPPLIER)
    supplier.users.add(user)
    return user


@pytest.fixture
def gql(client):
    """``gql(user)`` returns a GraphQL client authenticated with a bearer token for that user."""

    def make(user: User | None = None) -> GraphQLClient:
        token = ApiToken.issue(user)[1] if user else None
        return GraphQLClient(Client(), token)

    return make


# --- Catalogue: supplier warehouses (appended by the catalogue engineer) ------------------------


@pytest.fixture
def wh(supplier):
    """The supplier's warehouse near 双阳区 (about 5 km from the station fixtures)."""
    return make_warehouse(supplier)


@pytest.fixture
def other_wh(other_supplier):
    """The other supplier's warehouse, about 150 km away."""
    return make_warehouse(other_supplier, "WH9", lat="44.80", lon="126.50")

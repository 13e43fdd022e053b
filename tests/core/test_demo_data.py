from __future__ import annotations

import pytest
from oscar.core.loading import get_model

from marketplace.accounts.models import Role, User
from marketplace.core.demo import seed_demo
from marketplace.core.province import generate_province
from marketplace.stations.models import Household, Station

pytestmark = pytest.mark.django_db


def test_seed_demo_is_complete_and_idempotent():
    first = seed_demo()
    assert (first.stations, first.households, first.suppliers, first.cooperatives) == (60, 500, 8, 5)
    assert {u.role for u in User.objects.all()} == set(Role.values)
    counts = (
        Station.objects.count(),
        Household.objects.count(),
        get_model("catalogue", "Product").objects.count(),
    )
    seed_demo()
    assert (
        Station.objects.count(),
        Household.objects.count(),
        get_model("catalogue", "Product").objects.count(),
    ) == counts
    # Households are spread over stations; every station has some.
    assert Station.objects.filter(households__isnull=True).count() == 0


def test_generate_province_small():
    summary = generate_province(stations=96, farmers_per_station=3)
    assert summary.stations == 96 and summary.households == 288
    assert Station.objects.filter(code__startswith="PV").values("county").distinct().count() == 48
    with pytest.raises(ValueError):
        generate_province(stations=10, farmers_per_station=1)

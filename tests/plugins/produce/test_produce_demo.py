"""Demo data: two cooperatives with lots, an open round, a city buyer and a canteen with a standing
order; loading it twice changes nothing; the buyer can open the market and the round."""

from __future__ import annotations

import pytest
from django.http import HttpRequest  # axes' backend needs the request

from marketplace.core.demo import seed_demo
from plugins.produce.models import Lot, Round, StandingOrder
from plugins.produce.services import open_rounds

pytestmark = pytest.mark.django_db


def test_demo_walks_from_market_to_round(client):
    summary = seed_demo(villages=6, households=30)
    assert Lot.objects.values("partner").distinct().count() == 2
    assert open_rounds().count() == 2
    assert StandingOrder.objects.filter(buyer__username="canteen01").exists()
    assert {"食堂 canteen", "合作社二 cooperative 2"} <= set(summary.logins)
    counts = (Lot.objects.count(), Round.objects.count(), StandingOrder.objects.count())
    seed_demo(villages=6, households=30)
    assert (Lot.objects.count(), Round.objects.count(), StandingOrder.objects.count()) == counts
    assert client.login(request=HttpRequest(), username="buyer01", password="nongzi-demo-2026")
    market = client.get("/p/produce/").content.decode()
    assert "稻花香" in market and "黏玉米" in market
    rnd = open_rounds().first()
    assert "加入购物车" in client.get(f"/p/produce/round/{rnd.pk}/").content.decode()
    assert client.login(request=HttpRequest(), username="coop01", password="nongzi-demo-2026")
    assert "SY2026-RICE-01" in client.get("/p/produce/coop/").content.decode()

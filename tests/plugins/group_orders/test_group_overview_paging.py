"""The operator's province → county → station overview pages its station table and its open
campaigns: every station and every open campaign is reachable, the totals stay those of the whole
county."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from testkit import make_station

from plugins.group_orders import manage_views, services

pytestmark = pytest.mark.django_db


def test_station_table_and_open_campaigns_are_paged(
    monkeypatch, operator, staff_a, households_a, county, station_a, fertilizer, campaign_factory
):
    monkeypatch.setattr(manage_views, "OVERVIEW_ROWS", 2)
    monkeypatch.setattr(manage_views, "OVERVIEW_CAMPAIGNS", 2)
    stations = [station_a] + [make_station(county, f"ST-P{i}", f"翻页{i}") for i in range(4)]
    campaigns = [campaign_factory([fertilizer], title=f"翻页团购{i}") for i in range(5)]
    services.place_pledge(staff_a, campaigns[0].items.get(), households_a[0], 7, "cash")
    client = Client()
    client.force_login(operator)

    seen_stations: list[str] = []
    seen_campaigns: list[str] = []
    for page in (1, 2, 3):
        html = client.get(
            f"/p/group-buy/overview/?county={county.pk}&page={page}&cpage={page}"
        ).content.decode()
        table = re.search(r'<table data-testid="overview-rows">.*?</table>', html, re.S).group(0)
        seen_stations += [s.name for s in stations if s.name in table]
        seen_campaigns += [c.title for c in campaigns if f">{c.title}</a>" in html]
        # The totals are the county's, whatever the page.
        assert "7 件" in re.search(r'data-testid="overview-totals".*?</div>\s*</div>', html, re.S).group(0)
        assert f"{page} / 3" in html
    assert sorted(seen_stations) == sorted(s.name for s in stations)  # each once, none lost
    assert sorted(seen_campaigns) == sorted(c.title for c in campaigns)
    # Links keep the county and the other pager's position.
    html = client.get(f"/p/group-buy/overview/?county={county.pk}&page=2&cpage=2").content.decode()
    assert f"county={county.pk}&amp;page=3&amp;cpage=2" in html
    assert f"county={county.pk}&amp;page=2&amp;cpage=3" in html

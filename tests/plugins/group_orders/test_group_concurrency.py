"""Concurrent pledging into one campaign (PostgreSQL, real threads and connections): no lost pledge,
tier totals exact, the supply cap never exceeded."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from testkit import run_parallel

from plugins.group_orders import services
from plugins.group_orders.models import Campaign, CampaignItem, Pledge, PledgeStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_pledges_keep_exact_totals(
    staff_a, station_a, campaign_factory, fertilizer, make_households
):
    campaign = campaign_factory([fertilizer], title="并发团", max_total_quantity=300)
    item = campaign.items.get()
    households = make_households(station_a, 24)
    results = run_parallel(
        lambda h, q: services.place_pledge(staff_a, item, h, q, "cash"), [(h, 15) for h in households]
    )
    ok = [r for r in results if isinstance(r, Pledge)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(ok) + len(refused) == 24
    assert len(ok) == 20  # 20 × 15 = 300, the supply cap
    assert all(e.error_dict["quantity"][0].code == "out_of_stock" for e in refused)
    campaign.refresh_from_db()
    active = Pledge.objects.filter(campaign=campaign, status=PledgeStatus.ACTIVE)
    assert campaign.total_quantity == sum(p.quantity for p in active) == 300
    assert CampaignItem.objects.get(pk=item.pk).total_quantity == 300
    assert Campaign.objects.get(pk=campaign.pk).total_quantity <= campaign.max_total_quantity

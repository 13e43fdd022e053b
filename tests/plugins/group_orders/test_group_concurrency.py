"""Concurrent pledging into one campaign (PostgreSQL, real threads and connections): no lost pledge,
tier totals exact, the supply cap never exceeded."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from plugins.group_orders import services
from plugins.group_orders.models import Campaign, CampaignItem, Pledge, PledgeStatus

pytestmark = pytest.mark.django_db(transaction=True)


def _run_parallel(fn, args_list):
    barrier = threading.Barrier(len(args_list))
    results: list = [None] * len(args_list)

    def worker(i, args):
        try:
            barrier.wait()
            results[i] = fn(*args)
        except Exception as exc:  # collected and checked by the test
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_parallel_pledges_keep_exact_totals(
    staff_a, station_a, campaign_factory, fertilizer, make_households
):
    campaign = campaign_factory([fertilizer], title="并发团", max_total_quantity=300)
    item = campaign.items.get()
    households = make_households(station_a, 24)
    results = _run_parallel(
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

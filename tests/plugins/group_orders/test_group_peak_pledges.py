"""Issue #14 (pledge half): pledges are exact without a campaign row lock held to commit — one
conditional UPDATE moves the total within the cap; tiers, per-household limit and idempotent
retries hold under real concurrency (PostgreSQL, threads with their own connections); one pledge
request reads the campaign, the tiers and the user's stations once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from testkit import run_parallel

from marketplace.payments.models import Payment
from plugins.group_orders import services
from plugins.group_orders.models import Campaign, CampaignItem, CampaignStatus, Pledge, PledgeStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_parallel_pledges_across_tiers_are_priced_by_the_total_each_one_reached(
    staff_a, station_a, campaign_factory, fertilizer, make_households
):
    campaign = campaign_factory(
        [fertilizer], title="跨档并发", tiers=((100, "140.00"), (200, "130.00")), max_total_quantity=1000
    )
    item = campaign.items.get()
    households = make_households(station_a, 20)
    results = run_parallel(
        lambda h: services.place_pledge(staff_a, CampaignItem.objects.get(pk=item.pk), h, 15, "cash"),
        [(h,) for h in households],
    )
    assert all(isinstance(r, Pledge) for r in results), results
    campaign.refresh_from_db()
    active = list(Pledge.objects.filter(campaign=campaign, status=PledgeStatus.ACTIVE))
    assert campaign.total_quantity == sum(p.quantity for p in active) == 300
    assert CampaignItem.objects.get(pk=item.pk).total_quantity == 300
    # Every increment reached a different total (15, 30, …, 300); each pledge is priced at its own.
    item = CampaignItem.objects.get(pk=item.pk)
    expected = sorted(services.price_at(item, 15 * k)[1] for k in range(1, 21))
    assert sorted(p.unit_price_at_pledge for p in active) == expected
    assert {p.payment.amount_authorised for p in active} == {
        services.payments.money(price * 15) for price in expected
    }


def test_supply_cap_is_never_exceeded_by_parallel_pledges(
    staff_a, station_a, campaign_factory, fertilizer, make_households
):
    campaign = campaign_factory([fertilizer], title="限量并发", min_total=10, max_total_quantity=40)
    item = campaign.items.get()
    results = run_parallel(
        lambda h: services.place_pledge(staff_a, item, h, 7, "cash"),
        [(h,) for h in make_households(station_a, 10)],
    )
    ok = [r for r in results if isinstance(r, Pledge)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(ok) == 5 and len(refused) == 5  # 5 × 7 = 35 ≤ 40 < 6 × 7
    assert {e.error_dict["quantity"][0].code for e in refused} == {"out_of_stock"}
    campaign.refresh_from_db()
    assert campaign.total_quantity == 35 <= campaign.max_total_quantity
    # Refused pledges left nothing behind: no payment, no ledger entry.
    assert Payment.objects.filter(reference=f"GB{campaign.pk}").count() == 5


def test_same_request_sent_at_once_gives_one_pledge(staff_a, station_a, campaign, make_households):
    item = campaign.items.get()
    household = make_households(station_a, 1)[0]
    results = run_parallel(
        lambda: services.place_pledge(staff_a, item, household, 4, "cash", idempotency_key="tap-twice"),
        [() for _ in range(6)],
    )
    assert all(isinstance(r, Pledge) for r in results), results
    assert len({r.pk for r in results}) == 1
    assert Pledge.objects.filter(household=household).count() == 1
    assert Payment.objects.filter(household=household).count() == 1
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 4
    again = services.place_pledge(staff_a, item, household, 4, "cash", idempotency_key="tap-twice")
    assert again.pk == results[0].pk
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 4


def test_per_household_limit_holds_for_parallel_pledges_of_one_household(
    staff_a, station_a, fertilizer, urea, campaign_factory, make_households
):
    campaign = campaign_factory([fertilizer, urea], title="每户限购", per_household_limit=5)
    items = list(campaign.items.order_by("pk"))
    household = make_households(station_a, 1)[0]
    results = run_parallel(
        lambda i: services.place_pledge(staff_a, CampaignItem.objects.get(pk=i.pk), household, 3, "cash"),
        [(items[0],), (items[1],)],
    )
    ok = [r for r in results if isinstance(r, Pledge)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(ok) == 1 and len(refused) == 1, results
    assert refused[0].error_dict["quantity"][0].code == "limit_exceeded"
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 3


def test_campaign_closed_after_it_was_read_refuses_the_pledge(staff_a, households_a, campaign):
    item = CampaignItem.objects.select_related("campaign").get(campaign=campaign)
    assert item.campaign.is_open()
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CLOSING)  # the close began
    with pytest.raises(ValidationError) as refused:
        services.place_pledge(staff_a, item, households_a[0], 2, "cash")
    assert refused.value.code == "invalid_state"
    assert not Pledge.objects.exists() and not Payment.objects.exists()
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 0


PLEDGE = """mutation($item: ID!, $household: ID!, $key: String){
  groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: 2, paymentMethod: "cash",
    idempotencyKey: $key){ pledge { id unitPriceAtPledge { amount } } progress { totalQuantity }
    errors { code message } } }"""


def test_a_pledge_request_reads_campaign_tiers_and_stations_once(gql, staff_a, households_a, campaign):
    item = campaign.items.get()
    client = gql(staff_a)
    first = client(PLEDGE, {"item": item.pk, "household": households_a[0].pk, "key": "k0"})
    assert first["data"]["groupBuyPledgeCreate"]["errors"] == []
    with CaptureQueriesContext(connection) as ctx:
        data = client(PLEDGE, {"item": item.pk, "household": households_a[1].pk, "key": "k1"})
    answer = data["data"]["groupBuyPledgeCreate"]
    assert answer["errors"] == [] and answer["progress"]["totalQuantity"] == 4
    sqls = [q["sql"] for q in ctx.captured_queries]

    def count(prefix: str, table: str) -> int:
        return sum(1 for s in sqls if s.startswith(prefix) and f'FROM "{table}"' in s)

    # The campaign comes with its items (one statement), not on its own.
    assert sum(1 for s in sqls if '"group_orders_campaign"."cutoff_at"' in s) == 1
    assert not any(s.startswith('SELECT "group_orders_campaign"."id"') for s in sqls)
    assert count("SELECT", "group_orders_pricetier") == 1
    assert count("SELECT", "stations_stationstaff") == 1
    assert count("SELECT", "accounts_apitoken") == 1
    assert not any("FOR UPDATE" in s and "group_orders_campaign" in s for s in sqls)
    assert not any(s.startswith("UPDATE") and "accounts_apitoken" in s for s in sqls)
    assert sum(1 for s in sqls if s.startswith("UPDATE") and "group_orders_campaign " in s) == 1
    # Each money row is one INSERT … ON CONFLICT DO NOTHING (no read-then-write, no savepoint), and
    # the mutation runs in the pledge's own transaction (no savepoint inside an outer one).
    assert count("SELECT", "payments_payment") == 0 and count("SELECT", "payments_ledgerentry") == 0
    assert not any(s.startswith("SAVEPOINT") for s in sqls)
    # A first request reads nothing to find its idempotency key (the keyed writes do), and the
    # request's statement_timeout was set on this connection by the first request: no SET/RESET.
    assert not any(s.startswith('SELECT "group_orders_pledge"."id"') for s in sqls)
    assert not any("statement_timeout" in s for s in sqls)
    assert len(sqls) <= 16, "\n".join(sqls)
    assert Decimal(answer["pledge"]["unitPriceAtPledge"]["amount"]) == Decimal("150.00")


@pytest.mark.parametrize("method", ["cash", "credit"])
def test_a_retry_returns_the_first_pledge_after_it_was_cancelled_or_the_campaign_closed(
    method, staff_a, station_a, campaign, make_households
):
    """No lookup runs before a cash or credit pledge's writes: a retry meets the first pledge's
    keyed rows and gets that pledge back, whatever changed since, and moves nothing."""
    item = campaign.items.get()
    household = make_households(station_a, 1)[0]
    household.credit_limit = Decimal("5000")
    household.save(update_fields=["credit_limit"])

    def pledge() -> Pledge:
        return services.place_pledge(staff_a, item, household, 4, method, idempotency_key="retry")

    first = pledge()
    assert pledge().pk == first.pk
    services.cancel_pledge(staff_a, first)  # the household may pledge again, with a new key
    again = pledge()
    assert again.pk == first.pk and again.status == PledgeStatus.CANCELLED
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.CLOSING)
    assert pledge().pk == first.pk
    assert Pledge.objects.filter(household=household).count() == 1
    assert Payment.objects.filter(household=household).count() == 1
    assert Campaign.objects.get(pk=campaign.pk).total_quantity == 0

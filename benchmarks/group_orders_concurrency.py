"""Benchmark: 32 clients pledging into one campaign at once, through the GraphQL endpoint.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/group_orders_concurrency.py [--clients 32 --pledges 50]

Each client is a different station's staff member (own bearer token, own DB connection) pledging for
its own farmers. Checks: every accepted pledge is stored (no lost pledge), the campaign and item
totals equal the sum of stored pledges, and the unit price each pledge was authorised at matches the
tier its running total reached. Prints throughput and latency. Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

PLEDGE = """mutation($item: ID!, $household: ID!, $qty: Int!, $key: String){
  groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: $qty, paymentMethod: "cash", idempotencyKey: $key){
    pledge { id quantity } progress { totalQuantity } errors { code message } } }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--pledges", type=int, default=50, help="pledges per client")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from oscar.core.loading import get_model

    from marketplace.accounts.models import ApiToken, Role, User
    from marketplace.apps.catalogue.product_types import FERTILIZER, ensure_product_types
    from marketplace.apps.partner.models import VerificationStatus
    from marketplace.stations.models import County, Household, Station, StationStaff, Township, Village
    from plugins.group_orders import services
    from plugins.group_orders.models import Campaign, CampaignItem, Pledge, PledgeStatus

    run = int(time.time())
    county, _ = County.objects.get_or_create(code="229999", defaults={"name": "并发县", "city": "基准市"})
    township, _ = Township.objects.get_or_create(county=county, name="并发镇")
    Partner = get_model("partner", "Partner")
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    operator, _ = User.objects.get_or_create(username="bench-op", defaults={"role": Role.OPERATOR})
    supplier, _ = Partner.objects.get_or_create(
        code="bench-sup",
        defaults={"name": "基准测试农资公司", "verification_status": VerificationStatus.APPROVED},
    )
    product = Product.objects.filter(upc="BENCH-NPK").first()
    if product is None:
        product = Product(
            title="复合肥（基准）", product_class=ensure_product_types()[FERTILIZER], upc="BENCH-NPK"
        )
        product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = 15.0, 15.0, 15.0
        product.attr.chloride_class = "none"
        product.attr.bag_kg = 40.0
        product.attr.registration_no = "BENCH-REG"
        product.save()
        StockRecord.objects.create(
            product=product,
            partner=supplier,
            partner_sku="BENCH-NPK",
            price=Decimal("150"),
            num_in_stock=10**7,
        )
    total_expected = args.clients * args.pledges * 5
    campaign = services.create_campaign(
        operator,
        partner=supplier,
        title=f"并发基准 {run}",
        cutoff_at=timezone.now() + timedelta(days=1),
        delivery_from=timezone.localdate() + timedelta(days=2),
        delivery_until=timezone.localdate() + timedelta(days=5),
        min_total_quantity=10,
        items=[
            services.ItemSpec(
                product.pk,
                Decimal("150"),
                [(total_expected // 4, Decimal("145")), (total_expected // 2, Decimal("140"))],
            )
        ],
    )
    services.review_campaign(operator, campaign, True)
    item = campaign.items.get()

    clients = []
    for c in range(args.clients):
        village = Village.objects.create(township=township, name=f"并发村{run}-{c}")
        station = Station.objects.create(
            code=f"CC{run}-{c}",
            name=f"并发站{c}",
            village=village,
            latitude=Decimal("43.5"),
            longitude=Decimal("125.5"),
        )
        user = User.objects.create(username=f"cc{run}-{c}", role=Role.STATION_STAFF)
        StationStaff.objects.create(station=station, user=user)
        households = Household.objects.bulk_create(
            [Household(station=station, village=village, name=f"农户{c}-{i}") for i in range(args.pledges)]
        )
        clients.append((ApiToken.issue(user)[1], [h.pk for h in households]))
    connection.close()

    barrier = threading.Barrier(args.clients)
    latencies: list[float] = []
    accepted: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def worker(token: str, household_ids: list[int]) -> None:
        http = Client()
        barrier.wait()
        for n, hid in enumerate(household_ids):
            body = json.dumps(
                {
                    "query": PLEDGE,
                    "variables": {"item": item.pk, "household": hid, "qty": 5, "key": f"{token[:8]}-{n}"},
                }
            )
            t = time.perf_counter()
            r = http.post(
                "/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
            dt = time.perf_counter() - t
            payload = r.json()["data"]["groupBuyPledgeCreate"]
            with lock:
                latencies.append(dt)
                if payload["errors"]:
                    errors.append(payload["errors"][0]["message"])
                else:
                    accepted.append(int(payload["pledge"]["id"]))
        connection.close()

    threads = [threading.Thread(target=worker, args=c) for c in clients]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0

    campaign = Campaign.objects.get(pk=campaign.pk)
    stored = list(Pledge.objects.filter(campaign=campaign, status=PledgeStatus.ACTIVE).order_by("pk"))
    stored_sum = sum(p.quantity for p in stored)
    item_total = CampaignItem.objects.get(pk=item.pk).total_quantity
    # Each pledge is priced at the total its own increment reached (one conditional UPDATE per
    # pledge); all pledges have the same quantity, so the prices are those of the running totals.
    running, expected_prices = 0, []
    for p in stored:
        running += p.quantity
        expected_prices.append(services.price_at(item, running)[1])
    price_ok = sorted(p.unit_price_at_pledge for p in stored) == sorted(expected_prices)
    lat = sorted(latencies)
    print(
        f"clients={args.clients} attempted={len(latencies)} accepted={len(accepted)} errors={len(errors)} "
        f"wall={wall:.1f}s throughput={len(latencies) / wall:.0f} pledges/s "
        f"p50={statistics.median(lat) * 1000:.0f}ms p95={lat[int(len(lat) * 0.95) - 1] * 1000:.0f}ms"
    )
    print(
        f"stored={len(stored)} stored_sum={stored_sum} campaign_total={campaign.total_quantity} "
        f"item_total={item_total} lost={len(accepted) - len(set(accepted) & {p.pk for p in stored})} "
        f"tier_prices_consistent={price_ok}"
    )
    assert len(stored) == len(accepted) and stored_sum == campaign.total_quantity == item_total, (
        "totals drifted"
    )
    if errors:
        print("first errors:", errors[:3])


if __name__ == "__main__":
    main()

"""Benchmark: close one group-buy campaign at province scale on PostgreSQL.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/group_orders_close.py [--scales 3600,7200,14400]

Uses the province generator (marketplace.core.province) for stations and households (created once,
sized for the largest scale), then for each scale: one campaign, 30 pledges per station paid in cash
(¾) or on credit (¼), authorised at the base price; the close drops everyone to a lower tier, so every
cash payment also gets its change refund. Each scale runs in a fresh process; printed figures: wall
time of the close (and per phase), peak RSS during the close, SQL statements (all connections of
the close). Run it with a Celery broker (CELERY_BROKER_URL) so SMS delivery is queued, as in
production, rather than run inline by the close; purge that queue afterwards. Not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")


def setup_django() -> None:
    import logging

    import django

    django.setup()
    for name in ("marketplace.sms", "plugins.group_orders.close", "weasyprint"):
        logging.getLogger(name).setLevel(logging.WARNING)


def ensure_province(stations: int, per_station: int) -> None:
    from marketplace.core.province import STATION_PREFIX, generate_province
    from marketplace.stations.models import Station

    have = Station.objects.filter(code__startswith=STATION_PREFIX).count()
    if have >= stations:
        return
    if have:
        from marketplace.core.province import reset_province

        reset_province()
    t = time.perf_counter()
    generate_province(stations=stations, farmers_per_station=per_station)
    print(f"province data: {stations} stations × {per_station} households in {time.perf_counter() - t:.1f} s")


def make_campaign(n_stations: int):
    from django.utils import timezone
    from oscar.core.loading import get_model

    from marketplace.accounts.models import Role, User
    from marketplace.apps.catalogue.product_types import FERTILIZER, ensure_product_types
    from marketplace.apps.partner.models import VerificationStatus
    from plugins.group_orders import services

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
            title="复合肥 15-15-15 40kg（基准）",
            product_class=ensure_product_types()[FERTILIZER],
            upc="BENCH-NPK",
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
    campaign = services.create_campaign(
        operator,
        partner=supplier,
        title=f"省级团购基准 {n_stations} 站",
        cutoff_at=timezone.now() + timedelta(days=1),
        delivery_from=timezone.localdate() + timedelta(days=3),
        delivery_until=timezone.localdate() + timedelta(days=9),
        min_total_quantity=10_000,
        items=[
            services.ItemSpec(
                product.pk,
                Decimal("150"),
                [(n_stations * 60, Decimal("140")), (n_stations * 250, Decimal("132"))],
            )
        ],
        commission_rate=Decimal("2"),
    )
    services.review_campaign(operator, campaign, True)
    return campaign, operator


def seed_pledges(campaign, operator, n_stations: int, per_station: int) -> int:
    from django.db import transaction
    from django.db.models import F

    from marketplace.core.province import STATION_PREFIX
    from marketplace.payments import services as pay
    from marketplace.payments.models import LedgerEntry, Payment, PaymentMethod, PaymentStatus
    from marketplace.stations.models import Household, Station
    from plugins.group_orders.models import Campaign, CampaignItem, Pledge

    rng = random.Random(n_stations)
    item = campaign.items.get()
    station_ids = list(
        Station.objects.filter(code__startswith=STATION_PREFIX)
        .order_by("pk")
        .values_list("pk", flat=True)[:n_stations]
    )
    rows = list(
        Household.objects.filter(station_id__in=station_ids)
        .order_by("station_id", "pk")
        .values_list("pk", "station_id")
    )
    total = 0
    with transaction.atomic():
        for start in range(0, len(rows), 20_000):
            batch = rows[start : start + 20_000]
            payments, pledges, entries = [], [], []
            for i, (household_id, station_id) in enumerate(batch, start=start):
                qty = rng.randint(1, 20)
                total += qty
                amount = Decimal(150 * qty)
                method = PaymentMethod.CREDIT if i % 4 == 0 else PaymentMethod.CASH
                payments.append(
                    Payment(
                        method=method,
                        status=PaymentStatus.AUTHORISED,
                        household_id=household_id,
                        station_id=station_id,
                        amount_authorised=amount,
                        reference=f"GB{campaign.pk}",
                        idempotency_key=f"bench:{campaign.pk}:{i}",
                        recorded_by=operator,
                    )
                )
            Payment.objects.bulk_create(payments, batch_size=5000)
            for i, ((household_id, station_id), payment) in enumerate(
                zip(batch, payments, strict=True), start=start
            ):
                qty = int(payment.amount_authorised / 150)
                pledges.append(
                    Pledge(
                        campaign=campaign,
                        item=item,
                        household_id=household_id,
                        station_id=station_id,
                        placed_by=operator,
                        quantity=qty,
                        unit_price_at_pledge=Decimal("150"),
                        payment=payment,
                        payment_method=payment.method,
                        idempotency_key=f"bench:{campaign.pk}:{i}",
                    )
                )
                if payment.method == PaymentMethod.CASH:
                    entries.append(
                        pay.Move(
                            f"payment:{payment.pk}:cash-in",
                            "cash_in",
                            pay.station_cash(station_id),
                            pay.household_deposit(household_id),
                            payment.amount_authorised,
                            station_id,
                            household_id,
                            payment.pk,
                            f"GB{campaign.pk}",
                        ).entry()
                    )
            Pledge.objects.bulk_create(pledges, batch_size=5000)
            LedgerEntry.objects.bulk_create(entries, batch_size=5000)
        Campaign.objects.filter(pk=campaign.pk).update(total_quantity=F("total_quantity") + total)
        CampaignItem.objects.filter(pk=item.pk).update(total_quantity=total)
    return len(rows)


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run_one(n_stations: int, per_station: int) -> None:
    setup_django()
    from django.db import connection
    from django.utils import timezone

    from plugins.group_orders import closing
    from plugins.group_orders.models import Campaign, Pledge

    campaign, operator = make_campaign(n_stations)
    t = time.perf_counter()
    pledges = seed_pledges(campaign, operator, n_stations, per_station)
    seed_s = time.perf_counter() - t
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(seconds=1))

    counter = {"n": 0}
    slow: dict[str, float] = {}

    def count(execute, sql, params, many, context):
        counter["n"] += 1
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = " ".join(sql.split())[:70]
            slow[key] = slow.get(key, 0.0) + time.perf_counter() - started

    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS high-water mark
    base_rss = rss_kb("VmRSS")
    t = time.perf_counter()
    from django.db.backends.signals import connection_created

    def hook(sender, connection, **kwargs):  # the close's worker threads open their own connections
        connection.execute_wrappers.append(count)

    connection_created.connect(hook)
    with connection.execute_wrapper(count):
        done = closing.close_campaign(campaign.pk)
    connection_created.disconnect(hook)
    wall = time.perf_counter() - t
    peak = rss_kb("VmHWM")
    assert done.status == "succeeded", done.status
    assert Pledge.objects.filter(campaign=campaign, status="confirmed").count() == pledges
    phases = " ".join(f"{k}={v:.1f}s" for k, v in getattr(done, "close_timings", {}).items())
    print(
        f"stations={n_stations:6d} pledges={pledges:7d} close={wall:6.1f}s sql={counter['n']:6d} "
        f"peak_rss={peak / 1024:6.0f}MiB (+{(peak - base_rss) / 1024:.0f}MiB over start) seed={seed_s:.0f}s  {phases}",
        flush=True,
    )
    if os.environ.get("BENCH_SQL_PROFILE"):
        for key, seconds in sorted(slow.items(), key=lambda kv: -kv[1])[:12]:
            print(f"    {seconds:6.2f}s  {key}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scales", default="3600,7200,14400")
    parser.add_argument("--per-station", type=int, default=30)
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run_one(args.run, args.per_station)
        return
    setup_django()
    scales = [int(s) for s in args.scales.split(",")]
    ensure_province(max(scales), args.per_station)
    from django.db import connection

    print(f"PostgreSQL {connection.pg_version}, {os.cpu_count()} CPU(s)", flush=True)
    for n in scales:
        subprocess.run(
            [sys.executable, __file__, "--run", str(n), "--per-station", str(args.per_station)], check=True
        )


if __name__ == "__main__":
    main()

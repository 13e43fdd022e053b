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
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_CLOSE_WORKERS", "0")) or None  # None: the setting
CHUNK = int(os.environ.get("BENCH_CLOSE_CHUNK_STATIONS", "0")) or None  # None: the default
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
    from marketplace.apps.partner.models import LicenceKind, PartnerLicence, VerificationStatus
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
        # The supplier's 肥料登记证 for it: without one the stock record is born blocked and the
        # campaign refuses the product (the one sellable rule).
        today = timezone.localdate()
        PartnerLicence.objects.create(
            partner=supplier,
            kind=LicenceKind.FERTILIZER_REGISTRATION,
            number="BENCH-REG",
            product=product,
            valid_from=today - timedelta(days=30),
            valid_until=today + timedelta(days=365),
        )
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
    """One pledge per household of the first ``n_stations`` province stations, in three set-based
    statements (payments, pledges, cash-in ledger entries): the same rows the pledge service writes
    — ¾ cash, ¼ credit, 1–20 bags at the base price — without 216,000 round trips."""
    from django.db import connection, transaction

    from marketplace.core.province import STATION_PREFIX
    from plugins.group_orders.models import Campaign, CampaignItem

    item = campaign.items.get()
    p = {
        "c": campaign.pk,
        "item": item.pk,
        "op": operator.pk,
        "ref": f"GB{campaign.pk}",
        "key": f"bench:{campaign.pk}:",
        "prefix": STATION_PREFIX + "%",
        "n": n_stations,
        "seed": n_stations,
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            """
            CREATE TEMP TABLE bench_h ON COMMIT DROP AS
            SELECT h.id AS household_id, h.station_id,
                row_number() OVER (ORDER BY h.station_id, h.id) - 1 AS i,
                1 + floor(random() * 20)::int AS qty
            FROM stations_household h
            WHERE h.station_id IN (
                SELECT id FROM stations_station WHERE code LIKE %(prefix)s ORDER BY id LIMIT %(n)s)
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO payments_payment (method, status, online_type, amount_authorised, amount_captured,
                amount_refunded, reference, idempotency_key, stripe_payment_intent, purpose, created_at, updated_at,
                household_id, recorded_by_id, station_id)
            SELECT CASE WHEN i %% 4 = 0 THEN 'credit' ELSE 'cash' END, 'authorised', '', 150 * qty, 0, 0,
                %(ref)s, %(key)s || i, '', '{}', now(), now(), household_id, %(op)s, station_id
            FROM bench_h
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO group_orders_pledge (quantity, unit_price_at_pledge, payment_method, status,
                collected_quantity, forfeited_quantity, idempotency_key, created_at, campaign_id,
                household_id, item_id, payment_id, placed_by_id, station_id)
            SELECT b.qty, 150, pm.method, 'active', 0, 0, pm.idempotency_key, now(), %(c)s, b.household_id,
                %(item)s, pm.id, %(op)s, b.station_id
            FROM bench_h b JOIN payments_payment pm ON pm.idempotency_key = %(key)s || b.i
            """,
            p,
        )
        cur.execute(
            """
            INSERT INTO payments_ledgerentry (idempotency_key, kind, debit_account, credit_account, amount,
                reference, memo, created_at, household_id, station_id, payment_id)
            SELECT 'payment:' || pm.id || ':cash-in', 'cash_in', 'station:' || pm.station_id || ':cash',
                'household:' || pm.household_id || ':deposit', pm.amount_authorised, pm.reference, '', now(),
                pm.household_id, pm.station_id, pm.id
            FROM payments_payment pm
            WHERE pm.reference = %(ref)s AND pm.idempotency_key LIKE %(key)s || '%%' AND pm.method = 'cash'
            """,
            p,
        )
        cur.execute("SELECT count(*), coalesce(sum(qty), 0) FROM bench_h")
        pledges, total = cur.fetchone()
        Campaign.objects.filter(pk=campaign.pk).update(total_quantity=total)
        CampaignItem.objects.filter(pk=item.pk).update(total_quantity=total)
    with connection.cursor() as cur:  # as autovacuum would after a bulk load
        cur.execute("ANALYZE payments_payment, group_orders_pledge, payments_ledgerentry")
    return pledges


def rss_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def prepare(n_stations: int, per_station: int) -> tuple[int, int, float]:
    """A campaign past its cutoff with one pledge per household of ``n_stations`` stations."""
    from django.utils import timezone

    from plugins.group_orders.models import Campaign

    campaign, operator = make_campaign(n_stations)
    t = time.perf_counter()
    pledges = seed_pledges(campaign, operator, n_stations, per_station)
    seed_s = time.perf_counter() - t
    Campaign.objects.filter(pk=campaign.pk).update(cutoff_at=timezone.now() - timedelta(seconds=1))
    return campaign.pk, pledges, seed_s


def run_one(n_stations: int, per_station: int, campaign_id: int | None = None) -> None:
    setup_django()
    from django.db import connection

    from plugins.group_orders import closing
    from plugins.group_orders.models import Campaign, Pledge

    if campaign_id is None:
        campaign_id, pledges, seed_s = prepare(n_stations, per_station)
    else:  # prepared earlier with --prepare (e.g. in a template database copied for each run)
        pledges, seed_s = Pledge.objects.filter(campaign_id=campaign_id).count(), 0.0
    campaign = Campaign.objects.get(pk=campaign_id)

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
        done = closing.close_campaign(
            campaign.pk, workers=WORKERS, chunk_stations=CHUNK or closing.CHUNK_STATIONS
        )
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
    parser.add_argument("--prepare", type=int, metavar="STATIONS", help="seed a due campaign, print its id")
    parser.add_argument("--close-id", type=int, metavar="CAMPAIGN", help="close a prepared campaign")
    args = parser.parse_args()
    if args.run:
        run_one(args.run, args.per_station)
        return
    if args.prepare:
        setup_django()
        ensure_province(args.prepare, args.per_station)
        campaign_id, pledges, seed_s = prepare(args.prepare, args.per_station)
        print(f"campaign={campaign_id} pledges={pledges} seed={seed_s:.0f}s")
        return
    if args.close_id:
        run_one(0, args.per_station, args.close_id)
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

"""Province-scale data at full size: 7,200 stations, ~1.5 million households, 50,000 products and a
season of pledges (one spring campaign with a pledge per household), in bounded memory.

    psql -h 127.0.0.1 -U postgres -c 'create database province_full'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/province_full .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/province_full .venv/bin/python benchmarks/province_full.py

Phases, each timed, with the process's peak resident memory (VmHWM) after it:
1. ``generate_province`` (marketplace/core/province.py): counties, townships, villages, stations,
   households in batches of 5,000 (``--stations``, ``--farmers-per-station``; 7,200 × 209 =
   1,504,800 households).
2. 50,000 products from 200 suppliers (marketplace/core/province_catalogue.py; ``--skip-products``).
3. A season of pledges: a campaign over every station and one pledge per household, set-based
   (benchmarks/group_orders_close.py's seeding; ``--skip-pledges``).
Prints the conditions (CPUs, load average, PostgreSQL version) before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def conditions(label: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{label}: {os.cpu_count()} CPUs, load average {load}, PostgreSQL {version}", flush=True)


def phase(name: str, fn, *args):  # noqa: ANN001, ANN201
    started = time.perf_counter()
    result = fn(*args)
    print(f"{name}: {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB -> {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=7200)
    parser.add_argument("--farmers-per-station", type=int, default=209)
    parser.add_argument("--skip-products", action="store_true")
    parser.add_argument("--skip-pledges", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from marketplace.core.province import STATION_PREFIX, generate_province
    from marketplace.stations.models import Station

    if connection.vendor != "postgresql":
        raise SystemExit("run on PostgreSQL (DATABASE_URL)")
    conditions("before")
    if Station.objects.filter(code__startswith=STATION_PREFIX).exists():
        raise SystemExit("province data already present: use a fresh database")
    started = time.perf_counter()
    phase("province (stations, households)", generate_province, args.stations, args.farmers_per_station)
    if not args.skip_products:
        from marketplace.core.province_catalogue import generate_products

        phase("products (50,000, 200 suppliers)", generate_products)
    if not args.skip_pledges:
        import group_orders_close

        def season() -> str:
            campaign, operator = group_orders_close.make_campaign(args.stations)
            n = group_orders_close.seed_pledges(campaign, operator, args.stations, args.farmers_per_station)
            return f"campaign {campaign.pk}, {n} pledges"

        phase("season of pledges", season)
    print(f"total: {time.perf_counter() - started:.1f} s, peak RSS {peak_rss_mb():.0f} MB", flush=True)
    conditions("after")


if __name__ == "__main__":
    main()

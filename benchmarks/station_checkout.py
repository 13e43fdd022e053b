"""Benchmark: a station direct-order checkout (docs/station-orders.md), in process.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_station_orders \
        .venv/bin/python benchmarks/station_checkout.py [--lines 1 5 20] [--repeat 20] [--racers 8 --units 5]

Migrates the database, creates a station, its staff, households and a supplier with products, then
(1) per basket size: SQL statements, process CPU time and wall time of ``direct.checkout`` (cash),
median over ``--repeat`` checkouts; (2) ``--racers`` staff members, each with its own household
basket of 1 unit, check out at once (threads, one connection each) for the last ``--units`` units:
sold, refused (out_of_stock), stock left (never negative). Prints figures and the load average;
asserts nothing but the stock invariant.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--racers", type=int, default=8)
    parser.add_argument("--units", type=int, default=5)
    args = parser.parse_args()

    from django.core.exceptions import ValidationError
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from oscar.core.loading import get_model

    from marketplace.accounts.models import Role, User
    from marketplace.apps.catalogue.product_types import FERTILIZER, ensure_product_types
    from marketplace.apps.order import direct
    from marketplace.apps.partner.models import LicenceKind, PartnerLicence, VerificationStatus
    from marketplace.stations.models import County, Household, Station, StationStaff, Township, Village

    if connection.vendor != "postgresql":
        sys.exit("needs PostgreSQL: set DATABASE_URL")
    call_command("migrate", verbosity=0)
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    Partner = get_model("partner", "Partner")
    run = int(time.time())
    county, _ = County.objects.get_or_create(code="229999", defaults={"name": "基准县", "city": "基准市"})
    township, _ = Township.objects.get_or_create(county=county, name="基准镇")
    village = Village.objects.create(township=township, name=f"基准村{run}")
    station = Station.objects.create(
        code=f"B{run}",
        name=f"基准站{run}",
        village=village,
        latitude=Decimal("43.5"),
        longitude=Decimal("125.6"),
    )
    partner = Partner.objects.create(
        code=f"bench-{run}", name=f"基准供应商{run}", verification_status=VerificationStatus.APPROVED
    )
    classes = ensure_product_types()

    def product(i: int, stock: int) -> object:
        p = Product(title=f"基准肥{run}-{i}", product_class=classes[FERTILIZER], upc=f"B{run}-{i}")
        p.attr.n_pct, p.attr.p2o5_pct, p.attr.k2o_pct = 15.0, 15.0, 15.0
        p.attr.chloride_class, p.attr.bag_kg, p.attr.registration_no = "none", 40.0, f"REG-{run}-{i}"
        p.save()
        today = django.utils.timezone.localdate()
        PartnerLicence.objects.create(
            partner=partner, kind=LicenceKind.FERTILIZER_REGISTRATION, number=f"L{run}-{i}", product=p,
            valid_from=today, valid_until=today.replace(year=today.year + 1),
        )  # fmt: skip
        StockRecord.objects.create(
            product=p, partner=partner, partner_sku=f"B{run}-{i}", price=Decimal("150"), num_in_stock=stock
        )
        return p

    def staff(name: str) -> User:
        user = User.objects.create(username=f"{name}-{run}", role=Role.STATION_STAFF)
        StationStaff.objects.create(station=station, user=user)
        return user

    def household(name: str) -> Household:
        return Household.objects.create(station=station, village=village, name=name)

    products = [product(i, 100000) for i in range(max(args.lines))]
    clerk = staff("bench-staff")
    load = os.getloadavg()
    print(
        f"station direct-order checkout — load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, 2 cores shared"
    )
    print("lines  SQL statements  CPU ms (median)  wall ms (median)")
    for n in args.lines:
        cpu, wall, sql = [], [], []
        for r in range(args.repeat):
            h = household(f"户{n}-{r}")
            for p in products[:n]:
                direct.add_to_basket(clerk, h, p.pk, 2)
            c0, w0 = time.process_time(), time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                direct.checkout(clerk, h, "cash", f"bench-{run}-{n}-{r}")
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            sql.append(len(queries.captured_queries))
        print(
            f"{n:>5}  {statistics.median(sql):>14}  {statistics.median(cpu):>15.1f}  {statistics.median(wall):>16.1f}"
        )

    last = product(9999, args.units)
    racers = [(staff(f"racer{i}"), household(f"抢购户{i}")) for i in range(args.racers)]
    for user, h in racers:
        direct.add_to_basket(user, h, last.pk, 1)
    connection.close()
    barrier = threading.Barrier(len(racers))
    results: list[str] = []

    def race(i: int, user: User, h: Household) -> None:
        try:
            barrier.wait()
            direct.checkout(user, h, "cash", f"race-{run}-{i}")
            results.append("sold")
        except ValidationError as exc:
            results.append(exc.error_dict["quantity"][0].code if hasattr(exc, "error_dict") else "other")
        finally:
            connection.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=race, args=(i, u, h)) for i, (u, h) in enumerate(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    record = StockRecord.objects.get(product=last)
    assert record.net_stock_level >= 0
    print(
        f"race: {args.racers} staff, {args.units} units, 1 each: sold {results.count('sold')}, "
        f"out_of_stock {results.count('out_of_stock')}, other {len(results) - results.count('sold') - results.count('out_of_stock')}, "
        f"stock left {record.net_stock_level}, {elapsed * 1000:.0f} ms for all"
    )


if __name__ == "__main__":
    main()

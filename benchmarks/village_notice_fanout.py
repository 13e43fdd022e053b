"""Benchmark: one province-wide notice to every station and every opted-in household.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/village_notice_fanout.py \
        [--stations 7200] [--households-per-station 208] [--opt-in 0.4]

Province data comes from the province generator (created once, kept for later runs); ``--opt-in``
of the households get an information-SMS subscription (set-based, once). Then an operator publishes
one notice to the whole province with SMS; the fan-out (station receipts, SMS rows in batches, each
batch handed to the core delivery) runs in this process as the Celery task would, with the SMS
gateway faked at the edge (a backend that only counts). Printed: wall time of the fan-out and of
the delivery, peak RSS growth, rows written, SQL statements, and the conditions (load average,
database, cores). Not a test.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("SMS_BACKEND", "benchmarks.village_notice_fanout.CountingGateway")


class CountingGateway:
    """The SMS gateway, faked at the edge: counts messages, sends nothing."""

    sent = 0

    def send(self, phone: str, text: str) -> str:
        CountingGateway.sent += 1
        return f"bench-{CountingGateway.sent}"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stations", type=int, default=7200)
    parser.add_argument("--households-per-station", type=int, default=208)  # 7,200 × 208 ≈ 1.5 million
    parser.add_argument("--opt-in", type=float, default=0.4)
    args = parser.parse_args()

    import logging

    import django

    django.setup()
    logging.getLogger("marketplace.sms").setLevel(logging.WARNING)
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from marketplace.accounts.models import Role, User
    from marketplace.core import sms
    from marketplace.core.models import Notification
    from marketplace.core.province import STATION_PREFIX, generate_province, reset_province
    from marketplace.stations.models import Household, Station
    from plugins.village_info import services
    from plugins.village_info.models import NoticeReceipt, NoticeSms, SmsPreference

    have = Station.objects.filter(code__startswith=STATION_PREFIX).count()
    want = args.stations * args.households_per_station
    if have != args.stations or Household.objects.filter(station__code__startswith=STATION_PREFIX).count() < want:
        if have:
            reset_province()
        t = time.perf_counter()
        generate_province(stations=args.stations, farmers_per_station=args.households_per_station)
        print(f"province data: {args.stations} stations × {args.households_per_station} households "
              f"in {time.perf_counter() - t:.1f} s")
    if not SmsPreference.objects.exists():
        t = time.perf_counter()
        with connection.cursor() as cursor:
            # Households with a phone whose id mod 5 is below share × 5 (40 %: two in every five).
            cursor.execute(
                f"INSERT INTO {SmsPreference._meta.db_table} (household_id, opted_in, changed_at) "
                f"SELECT id, TRUE, NOW() FROM {Household._meta.db_table} "
                "WHERE phone <> '' AND (id %% 5) < %s",
                [int(round(args.opt_in * 5))],
            )
        print(f"opt-in rows: {SmsPreference.objects.count()} in {time.perf_counter() - t:.1f} s ")

    operator, _ = User.objects.get_or_create(username="bench-operator", defaults={"role": Role.OPERATOR})
    households = Household.objects.filter(is_active=True).count()
    opted = SmsPreference.objects.filter(opted_in=True).count()
    stations = Station.objects.filter(is_active=True).count()

    # The fan-out task, as a worker runs it; delivery queued per batch and run after it (as a worker
    # picking the delivery tasks from the queue would), so both are timed separately.
    delivered: list[list[int]] = []
    services.queue_delivery = lambda ids: delivered.append(list(ids))  # the broker queue, at the edge
    from plugins.village_info.models import Notice, NoticeStatus

    notice = Notice.objects.create(
        title=f"全省春耕农资保供通知 {timezone.now():%H%M%S}", body="各站点请组织农户按时备肥备种。", kind="procurement",
        author=operator, whole_province=True, publish_at=timezone.now(), status=NoticeStatus.PUBLISHED,
        send_sms=True, sms_text="春耕农资保供，详情到站查看", fanout_status="queued",
    )
    reset_queries()
    rss0 = rss_mib()
    load = os.getloadavg()
    with CaptureQueriesContext(connection) as queries:
        t = time.perf_counter()
        services.fan_out(notice.pk)
        fan_out_s = time.perf_counter() - t
    statements = len(queries.captured_queries)
    rss1 = rss_mib()
    t = time.perf_counter()
    sent = sum(sms.deliver_many(ids) for ids in delivered)
    deliver_s = time.perf_counter() - t
    notice.refresh_from_db()
    print("village notice fan-out benchmark")
    print(f"  conditions: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"before the run (other processes share the machine when this is high), database {connection.vendor}")
    print(f"  data: {stations} stations, {households} households, {opted} opted in to SMS")
    print(f"  fan-out: {fan_out_s:.1f} s, {statements} SQL statements, peak RSS +{rss1 - rss0:.0f} MiB "
          f"(total {rss1:.0f} MiB)")
    print(f"  receipts written: {NoticeReceipt.objects.filter(notice=notice).count()}, "
          f"SMS rows: {NoticeSms.objects.filter(notice=notice).count()} "
          f"(notifications {Notification.objects.filter(dedupe_key__startswith=f'village:notice:{notice.pk}:').count()}), "
          f"over daily cap: {notice.sms_over_cap}, delivery batches: {len(delivered)}")
    print(f"  delivery through the core SMS interface (fake gateway): {sent} sent in {deliver_s:.1f} s")


if __name__ == "__main__":
    main()

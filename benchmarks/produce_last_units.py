"""Benchmark: N buyers pay at the same time for the last U units of a produce lot, over HTTP.

    DATABASE_URL=postgres://… .venv/bin/python benchmarks/produce_last_units.py [--buyers 100 --units 20 --workers 8]

Starts localstripe and a gunicorn server (threads) on this database, creates a cooperative lot with
``--units`` units in an open round and ``--buyers`` city buyers (each with a bearer token and a card
token), then every buyer sends ``produceCheckout`` through /graphql/ at once. Prints sold, refused,
charged (authorised and held), voided (authorised then cancelled because the stock had gone),
throughput and latency percentiles, and checks that exactly ``--units`` were sold. Not a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

CHECKOUT = """mutation($round: ID!, $slot: ID!, $unit: ID!, $token: String, $key: String!, $address: ProduceAddressInput!) {
  produceCheckout(roundId: $round, slotId: $slot, lines: [{saleUnitId: $unit, quantity: 1}], address: $address,
                  onlineType: "card", stripeToken: $token, idempotencyKey: $key) {
    order { number paymentState } errors { field code message } } }"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=100)
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=8, help="gunicorn threads (each holds a DB connection)"
    )
    args = parser.parse_args()

    from marketplace.payments.testing import free_port, localstripe_server

    with localstripe_server() as stripe_url:
        os.environ.update(STRIPE_API_BASE=stripe_url, STRIPE_SECRET_KEY="sk_test_local")
        import django

        django.setup()
        import requests
        from django.db import connection
        from django.utils import timezone

        from marketplace.accounts.models import ApiToken, Role, User
        from marketplace.apps.partner.models import PartnerKind, VerificationStatus, Warehouse
        from marketplace.payments import gateway
        from marketplace.payments.models import Payment
        from plugins.produce import services
        from plugins.produce.models import Checkout, ProduceOrder

        if connection.vendor != "postgresql":
            sys.exit("needs PostgreSQL: set DATABASE_URL")
        from datetime import timedelta

        from oscar.core.loading import get_model

        run = int(time.time())
        Partner = get_model("partner", "Partner")
        coop, _ = Partner.objects.get_or_create(
            code="bench-coop",
            defaults={"name": "基准合作社", "kind": PartnerKind.COOPERATIVE,
                      "verification_status": VerificationStatus.APPROVED},
        )  # fmt: skip
        Warehouse.objects.get_or_create(
            partner=coop, code="BCP", defaults={"name": "基准集货点", "latitude": 43.5, "longitude": 125.6}
        )
        coop_user, _ = User.objects.get_or_create(
            username="bench-coop-user", defaults={"role": Role.COOPERATIVE}
        )
        coop.users.add(coop_user)
        lot = services.create_lot(
            coop_user, coop,
            services.LotInput(
                code=f"BENCH-{run}", crop="rice", variety="基准米", grade="一级",
                harvest_date=timezone.localdate() - timedelta(days=3), origin_village="基准村", latitude="43.5",
                longitude="125.6", quantity_kg=str(args.units * 10),
                sale_units=[{"unit": "bag", "pack_kg": "10", "price": "100.00", "units": args.units}],
            ),
        )  # fmt: skip
        day = timezone.localdate() + timedelta(days=3)
        rnd = services.open_round(
            coop_user, coop, f"基准轮 {run}", timezone.now() + timedelta(days=1), [lot.pk],
            [{"kind": "delivery", "day": day, "start": "09:00", "end": "12:00"}],
        )  # fmt: skip
        unit, slot = lot.sale_units.get(), rnd.slots.get()
        buyers = []
        for i in range(args.buyers):
            phone = f"17{run % 10**5:05d}{i:04d}"
            user = User.objects.create(username=f"bench-{run}-{i}", role=Role.CITY_BUYER, phone=phone)
            _, raw = ApiToken.issue(user, "bench")
            card = gateway.client().v1.tokens.create(
                params={
                    "card": {
                        "number": "4242424242424242",
                        "exp_month": "12",
                        "exp_year": "2030",
                        "cvc": "123",
                    }
                }
            )
            buyers.append((raw, card.id))
        connection.close()

        port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "marketplace.settings",
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "marketplace.wsgi", "-b", f"127.0.0.1:{port}",
             "--threads", str(args.workers), "-w", "1", "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    requests.get(f"{base}/healthz", timeout=10)
                    break
                except requests.RequestException:
                    if time.monotonic() > deadline or server.poll() is not None:
                        sys.exit("server did not start")
                    time.sleep(0.2)
            address = {"province": "吉林省", "city": "长春市", "district": "朝阳区", "street": "基准路 1 号",
                       "contactName": "基准", "contactPhone": "13800000000"}  # fmt: skip
            barrier = threading.Barrier(args.buyers)
            results: list = [None] * args.buyers

            def buyer(i: int) -> None:
                raw, card = buyers[i]
                barrier.wait()
                t0 = time.perf_counter()
                r = requests.post(
                    f"{base}/graphql/",
                    json={"query": CHECKOUT, "variables": {"round": str(rnd.pk), "slot": str(slot.pk),
                          "unit": str(unit.pk), "token": card, "key": f"bench-{run}-{i}", "address": address}},
                    headers={"Authorization": f"Bearer {raw}"}, timeout=300,
                )  # fmt: skip
                results[i] = (time.perf_counter() - t0, r.status_code, r.json())

            load_before = os.getloadavg()
            started = time.perf_counter()
            threads = [threading.Thread(target=buyer, args=(i,)) for i in range(args.buyers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            load_after = os.getloadavg()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()

        sold = refused = other = 0
        for _, status, body in results:
            data = (body.get("data") or {}).get("produceCheckout") or {}
            if status == 200 and data.get("order"):
                sold += 1
            elif status == 200 and data.get("errors") and data["errors"][0]["code"] == "OUT_OF_STOCK":
                refused += 1
            else:
                other += 1
        checkouts = list(Checkout.objects.filter(key__contains=f"bench-{run}-"))
        states = [gateway.retrieve(c.payment.stripe_payment_intent).status for c in checkouts]
        charged = sum(1 for s in states if s in ("requires_capture", "succeeded"))
        voided = sum(1 for s in states if s == "canceled")
        record = unit.product.stockrecords.get()
        latencies = sorted(r[0] for r in results)
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        print(f"produce last units over HTTP: {args.buyers} buyers, {args.units} units, gunicorn 1×{args.workers} threads, "
              f"PostgreSQL, localstripe")  # fmt: skip
        print(
            f"  sold {sold}  refused {refused}  other {other}  orders {ProduceOrder.objects.filter(round=rnd).count()}"
        )
        print(
            f"  charged (authorised, held) {charged}  voided {voided}  refused before paying {refused - voided}"
        )
        print(f"  stock {record.num_in_stock} allocated {record.num_allocated}")
        payments = Payment.objects.filter(idempotency_key__contains=f"bench-{run}-")
        print(
            f"  core payments {payments.count()} (authorised {payments.filter(status='authorised').count()}, "
            f"cancelled {payments.filter(status='cancelled').count()}, payer user on all: "
            f"{not payments.filter(payer_user__isnull=True).exists()})"
        )
        before = " ".join(f"{x:.2f}" for x in load_before)
        after = " ".join(f"{x:.2f}" for x in load_after)
        print(f"  load average before {before}, after {after} (2 CPUs, shared)")
        print(f"  wall {elapsed:.2f} s  throughput {args.buyers / elapsed:.1f} checkouts/s")
        print(f"  latency p50 {p(0.5) * 1000:.0f} ms  p95 {p(0.95) * 1000:.0f} ms  max {latencies[-1] * 1000:.0f} ms"
              f"  mean {statistics.mean(latencies) * 1000:.0f} ms")  # fmt: skip
        ok = (
            sold == args.units and charged == args.units and record.num_allocated == args.units and other == 0
        )
        print("  OK: exactly the last units were sold" if ok else "  FAILED: oversold or lost checkouts")
        sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

"""Spring-peak mix with locust against the production server (gunicorn, deploy/gunicorn.conf.py).

    uv sync --group bench        # locust and py-spy (bench dependency group)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pl_demo .venv/bin/python benchmarks/locust_mix.py \
        --users 40 --duration 60

The database must hold ``manage.py seed_demo`` data (optionally plus
``generate_province --products 50000``). The script, run with Python, is the driver:

1. issues API tokens for the demo's station officers, farmer, suppliers, city buyers and
   agronomist and looks up the ids the mix needs (open group-buy item, the officers' households,
   the suppliers' stock records, fields to recommend for) into a JSON file;
2. starts gunicorn (``deploy/gunicorn.conf.py``, production settings, ``--workers`` default 3, the conf's default on 2 cores) on a
   free loopback port;
3. runs locust headless with this same file as the locustfile (``--users``, ``--spawn-rate``,
   ``--duration``): station staff browsing (listing, searches, detail) and pledging for their
   households (cash), suppliers updating stock and price, the farmer checking orders, city buyers
   browsing produce, agronomists computing recommendations with a bag plan (queued as a background
   job in the worker; polled with ``fertPlan`` until worked out: ``bagPlanReady`` is the whole wait);
4. meanwhile samples ``pg_stat_activity`` (wait events of this database's active backends) every
   0.2 s and, with ``--py-spy``, records one gunicorn worker with py-spy for 20 s;
5. prints requests/s, failures and p50/p95/p99 per request kind and in total, the wait-event
   histogram and py-spy's hottest frames, the load average, and stops gunicorn.

Locust's own process uses CPU on the same 2 cores; it is counted in the load average printed.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ENV = "LOCUST_MIX_FIXTURE"

# --- The locustfile (imported by locust) -----------------------------------------------------------

if os.environ.get(FIXTURE_ENV):
    import itertools
    import time

    import gevent
    from locust import HttpUser, between, task

    FIXTURE = json.loads(Path(os.environ[FIXTURE_ENV]).read_text())
    LIST = (
        "query($first: Int, $offset: Int){ products(first: $first, offset: $offset){ totalCount items{ id title "
        "thumbnail(size: 256) minPrice{ amount } categories{ name } } } }"
    )
    SEARCH = (
        "query($q: String){ search(query: $q, first: 20){ totalCount items{ id title thumbnail(size: 256) "
        "minPrice{ amount } available } facets{ productTypes{ value count } suppliers{ value label count } } } }"
    )
    DETAIL = (
        "query($id: ID!){ product(id: $id){ id title description attributes thumbnail(size: 512) "
        "stockRecords{ sku price{ amount } available warehouse{ name } partner{ name } } } }"
    )
    PLEDGE = (
        "mutation($item: ID!, $hh: ID!, $key: String){ groupBuyPledgeCreate(itemId: $item, householdId: $hh, "
        'quantity: 1, paymentMethod: "cash", idempotencyKey: $key){ pledge{ id status } errors{ field code message } } }'
    )
    CANCEL = "mutation($id: ID!){ groupBuyPledgeCancel(id: $id){ errors{ field code message } } }"
    PLEDGES = "query($c: ID){ groupBuyPledges(campaignId: $c, first: 20){ totalCount items{ id quantity status } } }"
    STOCK = (
        "mutation($i: StockInput!){ stockUpdate(input: $i){ stockRecord{ sku available price{ amount } } "
        "errors{ field code message } } }"
    )
    MY_STOCK = "{ myStockRecords(first: 20){ totalCount items{ sku available price{ amount } } } }"
    ORDERS = (
        "{ orders(first: 10){ totalCount items{ number status total{ amount } lines{ title quantity } } } }"
    )
    PRODUCE = "{ produceLots{ id crop variety grade cooperative saleUnits{ id price{ amount } } } }"
    RECOMMEND = (
        "mutation($f: ID!){ recommendationCreate(fieldId: $f){ recommendation{ id } plan{ id status solving } "
        "errors{ field code message } } }"
    )
    PLAN = "query($id: ID!){ fertPlan(id: $id){ id status solving cost{ amount } lines{ bags } } }"
    SEARCHES = ["复合肥 15-15-15", "玉米 种子", "尿素", "除草剂", "大豆 种子"]

    class GraphQLUser(HttpUser):
        abstract = True
        wait_time = between(0.5, 2)
        role = ""

        def on_start(self) -> None:
            self.account = random.choice(FIXTURE["accounts"][self.role])
            self.headers = {
                "Authorization": f"Bearer {self.account['token']}",
                "Content-Type": "application/json",
            }

        def gql(self, name: str, query: str, variables: dict | None = None) -> dict:
            with self.client.post(
                "/graphql/", json={"query": query, "variables": variables or {}}, headers=self.headers,
                name=name, catch_response=True,
            ) as response:  # fmt: skip
                try:
                    body = response.json()
                except ValueError:
                    response.failure(f"HTTP {response.status_code}, not JSON")
                    return {}
                if response.status_code != 200 or body.get("errors"):
                    response.failure(str(body.get("errors") or response.status_code)[:300])
                    return body
                data = next(iter((body.get("data") or {}).values()), None)
                if isinstance(data, dict) and data.get("errors"):
                    response.failure(str(data["errors"])[:300])
                return body

    SEATS = itertools.count()
    HOUSEHOLDS = [
        (account, household)
        for account in FIXTURE["accounts"]["station_staff"]
        for household in account["households"]
    ]

    class StationStaff(GraphQLUser):
        """Each simulated officer works for one household of their station (no two share one: a
        household has one live pledge per item), pledging and then correcting (cancelling) it."""

        weight = 5
        role = "station_staff"

        def on_start(self) -> None:
            seat = next(SEATS)
            # More officers than free households: the extra ones browse only (never two on one).
            self.account, self.household = HOUSEHOLDS[seat % len(HOUSEHOLDS)]
            if seat >= len(HOUSEHOLDS):
                self.household = None
            self.headers = {
                "Authorization": f"Bearer {self.account['token']}",
                "Content-Type": "application/json",
            }

        @task(4)
        def browse(self) -> None:
            self.gql("products (list)", LIST, {"first": 20, "offset": random.choice([0, 0, 0, 20, 40])})

        @task(3)
        def search(self) -> None:
            self.gql("search", SEARCH, {"q": random.choice(SEARCHES)})

        @task(2)
        def detail(self) -> None:
            self.gql("product (detail)", DETAIL, {"id": random.choice(FIXTURE["product_ids"])})

        @task(2)
        def pledge(self) -> None:
            if not FIXTURE["item_id"] or self.household is None:
                return
            body = self.gql(
                "groupBuyPledgeCreate",
                PLEDGE,
                {"item": FIXTURE["item_id"], "hh": self.household, "key": f"mix-{random.getrandbits(64):x}"},
            )
            pledge = ((body.get("data") or {}).get("groupBuyPledgeCreate") or {}).get("pledge")
            if pledge:
                self.gql("groupBuyPledgeCancel", CANCEL, {"id": pledge["id"]})

        @task(1)
        def pledges(self) -> None:
            self.gql("groupBuyPledges", PLEDGES, {"c": FIXTURE["campaign_id"]})

    class Supplier(GraphQLUser):
        weight = 1
        role = "supplier"

        @task(2)
        def update_stock(self) -> None:
            if not self.account["records"]:
                return
            record = random.choice(self.account["records"])
            self.gql(
                "stockUpdate",
                STOCK,
                {
                    "i": {
                        **record,
                        "price": f"{float(record['price']) + random.choice([-1, 0, 1]):.2f}",
                        "numInStock": record["numInStock"] + random.randint(0, 50),
                    }
                },
            )

        @task(1)
        def my_stock(self) -> None:
            self.gql("myStockRecords", MY_STOCK)

    class Farmer(GraphQLUser):
        weight = 2
        role = "farmer"

        @task
        def orders(self) -> None:
            self.gql("orders (farmer)", ORDERS)

    class CityBuyer(GraphQLUser):
        weight = 2
        role = "city_buyer"

        @task
        def produce(self) -> None:
            self.gql("produceLots", PRODUCE)

    class Agronomist(GraphQLUser):
        weight = int(os.environ.get("LOCUST_MIX_RECOMMEND_WEIGHT", "1"))
        role = "agronomist"
        wait_time = between(3, 6)

        @task
        def recommend(self) -> None:
            """Create a recommendation (the bag plan is queued as a background job), then poll the
            plan as the page does (every second) until it is worked out; ``bagPlanReady`` records
            the time from the request to the finished plan (the wait the agronomist sees), so the
            background solve's cost stays visible beside the now quick web requests."""
            if not FIXTURE["field_ids"]:
                return
            t0 = time.perf_counter()
            body = self.gql("recommendationCreate", RECOMMEND, {"f": random.choice(FIXTURE["field_ids"])})
            plan = ((body.get("data") or {}).get("recommendationCreate") or {}).get("plan")
            if not plan:
                return
            deadline = t0 + 60
            while plan.get("solving") and time.perf_counter() < deadline:
                gevent.sleep(1)
                plan = (self.gql("fertPlan", PLAN, {"id": plan["id"]}).get("data") or {}).get(
                    "fertPlan"
                ) or {}
            ms = (time.perf_counter() - t0) * 1000
            exc = (
                None if plan and not plan.get("solving") else RuntimeError("bag plan not worked out in 60 s")
            )
            self.environment.events.request.fire(
                request_type="JOB", name="bagPlanReady", response_time=ms, response_length=0, exception=exc
            )


# --- The driver (python benchmarks/locust_mix.py) --------------------------------------------------


def build_fixture(path: Path) -> None:
    from oscar.core.loading import get_model

    from marketplace.accounts.models import ApiToken, Role, User
    from marketplace.core import permissions
    from plugins.fertilizer.access import recommendable_fields
    from plugins.group_orders.models import CampaignItem, CampaignStatus, Pledge

    StockRecord = get_model("partner", "StockRecord")
    Product = get_model("catalogue", "Product")
    item = (
        CampaignItem.objects.filter(campaign__status=CampaignStatus.OPEN)
        .select_related("campaign")
        .order_by("pk")
        .first()
    )
    accounts: dict[str, list[dict]] = {}
    for role in ("station_staff", "supplier", "farmer", "city_buyer", "agronomist"):
        accounts[role] = []
        for user in User.objects.filter(role=role, is_active=True).order_by("pk")[:20]:
            entry: dict = {"username": user.username, "token": ApiToken.issue(user)[1]}
            if role == Role.STATION_STAFF:
                pledged = Pledge.objects.filter(item=item, cancelled_at__isnull=True).values("household_id")
                entry["households"] = [
                    str(pk)
                    for pk in permissions.managed_households(user)
                    .exclude(pk__in=pledged)
                    .values_list("pk", flat=True)[:50]
                ]
            if role == Role.SUPPLIER:
                entry["records"] = [
                    {
                        "partnerId": str(r.partner_id),
                        "productId": str(r.product_id),
                        "sku": r.partner_sku,
                        "price": str(r.price),
                        "numInStock": r.num_in_stock,
                    }
                    for r in StockRecord.objects.filter(partner__users=user, price__isnull=False).order_by(
                        "pk"
                    )[:20]
                ]
            accounts[role].append(entry)
        if role == Role.SUPPLIER:  # suppliers with stock to update (a pending one has none)
            accounts[role] = [a for a in accounts[role] if a["records"]] or accounts[role]
        if not accounts[role]:
            raise SystemExit(f"no active {role} user: run manage.py seed_demo")
    fixture = {
        "accounts": accounts,
        "item_id": str(item.pk) if item else "",
        "campaign_id": str(item.campaign_id) if item else None,
        "product_ids": [
            str(pk)
            for pk in Product.objects.filter(is_public=True)
            .order_by("-pk")
            .values_list("pk", flat=True)[:200]
        ],
        "field_ids": [
            str(pk)
            for pk in recommendable_fields(User.objects.get(username=accounts["agronomist"][0]["username"]))
            .order_by("pk")
            .values_list("pk", flat=True)[:50]
        ],
    }
    path.write_text(json.dumps(fixture))


def main() -> None:
    import argparse
    import collections
    import csv
    import secrets
    import subprocess
    import tempfile
    import threading
    import time

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_DEBUG", "0")
    parser = argparse.ArgumentParser(description="spring-peak mix with locust")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn processes (the conf's default on 2 cores)")
    parser.add_argument(
        "--recommend-weight", type=int, default=1, help="agronomists computing recommendations (0: none)"
    )
    parser.add_argument("--py-spy", action="store_true", help="record a gunicorn worker for 20 s")
    parser.add_argument(
        "--celery",
        metavar="BROKER_URL",
        help="background jobs (bag plans) on a Celery worker with this broker, e.g. redis://127.0.0.1:6379/5 "
        "(default: no broker, they run in threads of the web processes, the embedded default)",
    )
    parser.add_argument("--celery-concurrency", type=int, default=1, help="worker processes with --celery")
    args = parser.parse_args()
    if args.celery:
        os.environ["CELERY_BROKER_URL"] = args.celery  # the web processes queue, the worker runs

    import django

    django.setup()
    import listing_load  # gunicorn start/stop and /proc CPU helpers
    from django.db import connection

    workdir = Path(tempfile.mkdtemp(prefix="locust-mix-"))
    fixture = workdir / "fixture.json"
    build_fixture(fixture)
    print(
        f"conditions: {os.cpu_count()} CPUs, data: {listing_load.data_size()}, users {args.users} "
        f"(recommendation weight {args.recommend_weight}), background jobs "
        f"{f'on a Celery worker ({args.celery_concurrency} process(es), broker {args.celery})' if args.celery else 'in web threads (no broker)'}, "
        f"{listing_load.db_binding()}, load average {listing_load.load_avg()}",
        flush=True,
    )
    dbname = connection.settings_dict["NAME"]
    waits: collections.Counter[str] = collections.Counter()
    samples = 0
    stop_sampling = threading.Event()

    def sample() -> None:
        nonlocal samples
        import psycopg

        params = connection.get_connection_params()
        with psycopg.connect(**params, autocommit=True) as conn:
            while not stop_sampling.wait(0.2):
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU (no wait)') FROM pg_stat_activity "
                    "WHERE datname = %s AND state = 'active' AND pid <> pg_backend_pid()",
                    [dbname],
                ).fetchall()
                samples += 1
                waits.update(r[0] for r in rows)

    proc, port = listing_load.start_gunicorn(
        args.workers, int(os.environ.get("GRAPHQL_LISTING_CACHE_SECONDS", "300"))
    )
    print(
        f"gunicorn: {args.workers} workers x {os.environ.get('GUNICORN_THREADS', '2')} threads (deploy/gunicorn.conf.py) on 127.0.0.1:{port}",
        flush=True,
    )
    worker_proc = None
    if args.celery:
        worker_proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "celery"), "-A", "marketplace", "worker", "--loglevel", "WARNING",
             "-c", str(args.celery_concurrency), "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env={**os.environ, "MARKETPLACE_ENV": "production", "DJANGO_SECRET_KEY": secrets.token_urlsafe(48)},
            stdout=open(workdir / "celery.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )  # fmt: skip
    sampler = threading.Thread(target=sample, daemon=True)
    spy = None
    try:
        cpu0 = listing_load.worker_cpu_seconds(proc.pid)
        celery_cpu0 = listing_load.worker_cpu_seconds(worker_proc.pid, True) if worker_proc else 0.0
        sampler.start()
        env = {
            **os.environ,
            FIXTURE_ENV: str(fixture),
            "LOCUST_MIX_RECOMMEND_WEIGHT": str(args.recommend_weight),
        }
        locust = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "locust"), "-f", __file__, "--headless", "-u", str(args.users),
             "-r", str(args.spawn_rate), "-t", f"{args.duration}s", "--host", f"http://127.0.0.1:{port}",
             "--csv", str(workdir / "mix"), "--only-summary", "--loglevel", "WARNING"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(workdir / "locust.log", "w"),  # noqa: SIM115
        )  # fmt: skip
        if args.py_spy:
            time.sleep(max(args.duration / 2 - 10, 5))
            worker = next(
                (int(p.parent.name) for p in Path("/proc").glob("[0-9]*/stat")
                 if p.read_text().rsplit(")", 1)[1].split()[1] == str(proc.pid)),
                None,
            )  # fmt: skip
            if worker:
                spy = subprocess.run(
                    [str(ROOT / ".venv" / "bin" / "py-spy"), "record", "-p", str(worker), "-d", "20", "-f", "raw",
                     "-o", str(workdir / "spy.txt"), "--nonblocking"],
                    capture_output=True, text=True,
                )  # fmt: skip
        locust.wait(timeout=args.duration + 120)
        cpu = listing_load.worker_cpu_seconds(proc.pid) - cpu0
        celery_cpu = listing_load.worker_cpu_seconds(worker_proc.pid, True) - celery_cpu0 if worker_proc else 0.0
    finally:
        stop_sampling.set()
        listing_load.stop(proc)
        if worker_proc is not None:
            listing_load.stop(worker_proc)
    rows = list(csv.DictReader(open(workdir / "mix_stats.csv")))  # noqa: SIM115
    total = next(r for r in rows if r["Name"] == "Aggregated")
    for r in rows:
        print(
            f"{r['Name']:<24} {int(r['Request Count']):>6} req  {float(r['Requests/s']):6.1f} req/s  "
            f"failures {r['Failure Count']:>4}  p50 {r['50%']:>5} ms  p95 {r['95%']:>5} ms  p99 {r['99%']:>5} ms",
            flush=True,
        )
    requests = int(total["Request Count"])
    print(
        f"TOTAL sustained {float(total['Requests/s']):.1f} req/s, p95 {total['95%']} ms, "
        f"failures {total['Failure Count']}, gunicorn worker CPU {cpu / max(requests, 1) * 1000:.1f} ms/request, "
        f"load average {listing_load.load_avg()}",
        flush=True,
    )
    if worker_proc is not None:
        print(f"celery worker CPU {celery_cpu:.1f} s over the run", flush=True)
    failures = workdir / "mix_failures.csv"
    if failures.exists():
        for r in list(csv.DictReader(open(failures)))[:5]:  # noqa: SIM115
            print(f"  failure: {r['Name']}: {r['Error'][:200]} x{r['Occurrences']}", flush=True)
    busy = sum(waits.values())
    print(
        f"pg_stat_activity: {samples} samples, mean {busy / max(samples, 1):.2f} active backends", flush=True
    )
    for event, n in waits.most_common(8):
        print(f"  {event:<32} {n / max(busy, 1) * 100:5.1f} %", flush=True)
    if spy is not None and (workdir / "spy.txt").exists():
        own: collections.Counter[str] = collections.Counter()
        for line in (workdir / "spy.txt").read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            mine = [f for f in frames if "/work/" in f and "/.venv/" not in f]
            own[(mine[-1] if mine else frames[-1])[:110]] += int(count)
        all_samples = sum(own.values())
        print(f"py-spy (one worker, 20 s, {all_samples} samples): innermost project frame", flush=True)
        for frame, n in own.most_common(10):
            print(f"  {n / max(all_samples, 1) * 100:5.1f} %  {frame}", flush=True)
    print(f"files: {workdir}", flush=True)


if __name__ == "__main__" and not os.environ.get(FIXTURE_ENV):
    main()

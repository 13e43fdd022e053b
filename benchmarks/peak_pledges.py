"""Benchmark (issue #14, pledge half): the province's spring peak of pledges through GraphQL on one
machine — gunicorn with deploy/gunicorn.conf.py (its default on 2 cores, 3 processes × 2 threads; ``--workers`` / ``--threads``), PostgreSQL, wrk over loopback.

    .venv/bin/python benchmarks/peak_pledges.py                   # 300 s per scenario
    .venv/bin/python benchmarks/peak_pledges.py --duration 30 --stations 2000   # a quick run

What it does:
1. Creates the PostgreSQL database ``--db`` (dropped first; ``<db>_template`` is migrated once),
   as a copy of a migrated template database, and seeds a province (``marketplace.core.province.generate_province``: ``--stations``
   stations × ``--farmers`` households), one staff member with an API token per station, a supplier
   with a product, ONE provincial campaign and 20 more (each: price tiers, per-household limit,
   supply cap), all approved.
2. Counts the SQL statements of one pledge request in-process (Django test client, same view, same
   token authentication, steady state: after a first request).
3. Starts gunicorn with deploy/gunicorn.conf.py (``--workers`` × ``--threads``, default 3 × 2, DEBUG off) on
   a free loopback port, and drives it with wrk (``--connections`` concurrent keep-alive clients,
   each request a new household's pledge with its own idempotency key, cash, quantity 2) for
   ``--duration`` seconds per scenario: every pledge into the provincial campaign, then spread over
   the 20 campaigns. The load generator is a separate process (wrk), never the server's.
4. Prints per scenario: pledges/s (accepted pledges counted in the database / duration), latency
   p50/p95/p99 (wrk), errors (socket errors, non-200 answers and GraphQL/mutation errors), app CPU
   ms per pledge (gunicorn master + workers, from /proc, exited workers included through the master's
   children times), PostgreSQL CPU ms per pledge (the backends serving this database, sampled every
   second from /proc; background writer / WAL writer / checkpointer not included), load average
   before and after, workers × threads, data size.
5. Recounts: every campaign's and item's total against the sum of its active pledges; then an
   idempotent retry: the same request (same token, same key) sent twice at once and once more
   afterwards gives one pledge, the same id three times, and moves the total once.

Needs wrk (``apt-get install wrk``) and a PostgreSQL server (``--pg``, default
postgres://postgres@127.0.0.1:5432). Not a test: it prints figures and their conditions.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

PLEDGE = (
    "mutation($item: ID!, $household: ID!, $qty: Int!, $key: String){"
    ' groupBuyPledgeCreate(itemId: $item, householdId: $household, quantity: $qty, paymentMethod: "cash",'
    " idempotencyKey: $key){ pledge { id quantity unitPriceAtPledge { amount } }"
    " progress { totalQuantity quantityToMinimum } errors { field code message } } }"
)
QUANTITY = 2
CAMPAIGNS = 20
TICK = os.sysconf("SC_CLK_TCK")

LUA = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  local n = tonumber(args[2])
  local query = args[3]
  reqs = {}
  local i = 0
  for line in io.lines(args[1]) do
    if i % n == tid then
      local token, hh, item, key = line:match("(%S+) (%S+) (%S+) (%S+)")
      local body = '{"query":' .. query .. ',"variables":{"item":"' .. item .. '","household":"' .. hh
        .. '","qty":' .. args[4] .. ',"key":"' .. key .. '"}}'
      reqs[#reqs + 1] = wrk.format("POST", "/graphql/",
        {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
    end
    i = i + 1
  end
  idx = 0
  ok = 0
  bad = 0
  wrapped = 0
  sample = ""
end
function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    wrapped = 1
  end
  return reqs[idx]
end
function response(status, headers, body)
  if status == 200 and string.find(body, '"errors":[]', 1, true) then
    ok = ok + 1
  else
    bad = bad + 1
    if sample == "" then sample = tostring(status) .. " " .. string.sub(body, 1, 300) end
  end
end
function done(summary, latency, requests)
  local tok, tbad, twrapped, tsample = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    twrapped = twrapped + t:get("wrapped")
    if tsample == "" then tsample = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"ok":%d,"bad":%d,"wrapped":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,"sample":%q}\n',
    summary.requests, summary.duration, tok, tbad, twrapped, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    tsample))
end
"""


# --- Database ---------------------------------------------------------------------------------


def admin_connect(pg: str) -> Any:
    import psycopg

    return psycopg.connect(f"{pg}/postgres", autocommit=True)


def create_database(pg: str, name: str) -> None:
    """``name`` as a copy of a migrated template database (``<name>_template``, migrated once and
    kept), so a run spends seconds, not minutes, on migrations."""
    template = f"{name}_template"
    with admin_connect(pg) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{template}"')
            subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
                check=True,
                cwd=ROOT,
                env=os.environ.copy() | {"DATABASE_URL": f"{pg}/{template}"},
            )
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def seed(stations: int, farmers: int, data_dir: Path) -> dict[str, Any]:
    """Province, staff with tokens, supplier, product, 1 + 20 open campaigns. Returns the plan."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone
    from oscar.core.loading import get_model

    from marketplace.accounts.models import ApiToken, Role, User
    from marketplace.apps.catalogue.product_types import FERTILIZER, ensure_product_types
    from marketplace.apps.partner.models import LicenceKind, PartnerLicence, VerificationStatus
    from marketplace.core.province import generate_province
    from marketplace.stations.models import Household, Station, StationStaff
    from plugins.group_orders import services

    t0 = time.perf_counter()
    summary = generate_province(stations=stations, farmers_per_station=farmers)
    print(
        f"seed: province {summary.stations} stations, {summary.households} households "
        f"in {time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    station_ids = list(Station.objects.order_by("pk").values_list("pk", flat=True))
    expires = timezone.now() + timedelta(days=30)
    tokens: dict[int, str] = {}
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(username=f"pp-staff-{sid}", role=Role.STATION_STAFF) for sid in station_ids],
            batch_size=2000,
        )
        StationStaff.objects.bulk_create(
            [StationStaff(station_id=sid, user=u) for sid, u in zip(station_ids, users, strict=True)],
            batch_size=2000,
        )
        rows = []
        for sid, user in zip(station_ids, users, strict=True):
            raw = secrets.token_urlsafe(24)
            tokens[sid] = raw
            rows.append(ApiToken(user=user, digest=ApiToken.hash(raw), name="bench", expires_at=expires))
        ApiToken.objects.bulk_create(rows, batch_size=2000)

    Partner = get_model("partner", "Partner")
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    operator = User.objects.create(username="pp-operator", role=Role.OPERATOR)
    supplier = Partner.objects.create(
        code="pp-sup", name="基准农资公司", verification_status=VerificationStatus.APPROVED
    )
    product = Product(
        title="复合肥 15-15-15（基准）", product_class=ensure_product_types()[FERTILIZER], upc="PP-NPK"
    )
    product.attr.n_pct, product.attr.p2o5_pct, product.attr.k2o_pct = 15.0, 15.0, 15.0
    product.attr.chloride_class = "none"
    product.attr.bag_kg = 40.0
    product.attr.registration_no = "PP-REG"
    product.save()
    PartnerLicence.objects.create(
        partner=supplier,
        kind=LicenceKind.FERTILIZER_REGISTRATION,
        number="PP-REG",
        product=product,
        valid_from=timezone.localdate() - timedelta(days=30),
        valid_until=timezone.localdate() + timedelta(days=365),
    )
    StockRecord.objects.create(
        product=product, partner=supplier, partner_sku="PP-NPK", price=Decimal("150"), num_in_stock=10**7
    )
    households = stations * farmers
    items: list[int] = []
    campaign_ids: list[int] = []
    for n in range(1 + CAMPAIGNS):
        scale = households * QUANTITY if n == 0 else households * QUANTITY // CAMPAIGNS
        campaign = services.create_campaign(
            operator,
            partner=supplier,
            title="全省春耕复合肥团购" if n == 0 else f"春耕团购 {n}",
            cutoff_at=timezone.now() + timedelta(days=7),
            delivery_from=timezone.localdate() + timedelta(days=8),
            delivery_until=timezone.localdate() + timedelta(days=12),
            min_total_quantity=1000,
            per_household_limit=20,
            max_total_quantity=scale * 2,
            items=[
                services.ItemSpec(
                    product.pk,
                    Decimal("150"),
                    [(500, Decimal("147")), (5000, Decimal("144")), (20000, Decimal("140"))],
                )
            ],
        )
        services.review_campaign(operator, campaign, True)
        campaign_ids.append(campaign.pk)
        items.append(campaign.items.get().pk)
    # (token, household) for every household, station by station.
    pairs = [
        (tokens[sid], hid)
        for sid, hid in Household.objects.order_by("station_id", "pk").values_list("station_id", "pk")
    ]
    plan = {
        "campaigns": campaign_ids,
        "items": items,
        "pairs": pairs,
        "stations": stations,
        "farmers": farmers,
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "plan.json").write_text(json.dumps(plan))
    print(f"seed: done in {time.perf_counter() - t0:.0f}s", flush=True)
    return plan


# --- Measurements ----------------------------------------------------------------------------


def cpu_ticks(pid: int, children: bool = False) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime (exited, waited-for workers)
    return ticks


def child_pids(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return out


def app_ticks(master: int) -> int:
    return cpu_ticks(master, children=True) + sum(cpu_ticks(p) for p in child_pids(master))


class PgSampler(threading.Thread):
    """CPU of the PostgreSQL backends serving ``db``, sampled every second (new backends count from
    their start; a backend that ends loses at most its last second)."""

    def __init__(self, pg: str, db: str) -> None:
        super().__init__(daemon=True)
        self.pg, self.db = pg, db
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.stop = threading.Event()
        self.started_at = 0.0

    def sample(self, conn: Any) -> None:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.db]
        ).fetchall()
        for (pid,) in rows:
            ticks = cpu_ticks(pid)
            if pid not in self.first:
                self.first[pid] = ticks if not self.started_at or time.time() - self.started_at < 0.5 else 0
            self.last[pid] = max(self.last.get(pid, 0), ticks)

    def run(self) -> None:
        with admin_connect(self.pg) as conn:
            self.started_at = time.time()
            self.sample(conn)
            while not self.stop.wait(1.0):
                self.sample(conn)
            self.sample(conn)

    def ticks(self) -> int:
        return sum(self.last[p] - self.first.get(p, 0) for p in self.last)


def statements_per_pledge(plan: dict[str, Any], show: bool) -> tuple[float, list[str]]:
    """SQL statements of one pledge request, in-process (same view and authentication), after a
    first request of the same token and document (steady state)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    pairs = plan["pairs"][-12:]  # reserved: never used by the load
    http = Client()
    counts = []
    last: list[str] = []
    for n, (token, hid) in enumerate(pairs[:10]):
        body = json.dumps(
            {
                "query": PLEDGE,
                "variables": {
                    "item": plan["items"][0],
                    "household": hid,
                    "qty": QUANTITY,
                    "key": f"sql-{hid}",
                },
            }
        )
        with CaptureQueriesContext(connection) as ctx:
            r = http.post(
                "/graphql/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
            )
        answer = r.json()["data"]["groupBuyPledgeCreate"]
        assert r.status_code == 200 and answer["errors"] == [] and answer["pledge"], r.content[:300]
        if n:  # the first request of a token writes its last_used_at (then once a minute)
            counts.append(len(ctx.captured_queries))
            last = [q["sql"] for q in ctx.captured_queries]
    if show:
        for sql in last:
            print("   ", sql[:160])
    return statistics.median(counts), last


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, log: Path, workers: int, threads: int) -> subprocess.Popen:
    env = os.environ.copy() | {
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "DJANGO_DEBUG": "0",
    }
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", str(ROOT / "deploy/gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("POST", "/graphql/", '{"query":"{ __typename }"}', {"Content-Type": "application/json"})
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"gunicorn did not start, see {log}")


def post(port: int, token: str, body: str) -> dict[str, Any]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(
        "POST", "/graphql/", body, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    return json.loads(c.getresponse().read())


def run_scenario(
    name: str, lines: list[str], args: argparse.Namespace, port: int, master: int, campaign_ids: list[int]
) -> dict[str, Any]:

    from plugins.group_orders.models import Pledge

    def pledged() -> int:
        return Pledge.objects.filter(campaign_id__in=campaign_ids).count()

    workdir = Path(tempfile.mkdtemp(prefix="peak-pledges-"))
    (workdir / "pledge.lua").write_text(LUA)
    warm = lines[: args.connections * 20]
    (workdir / "warm.txt").write_text("\n".join(warm) + "\n")
    (workdir / "load.txt").write_text("\n".join(lines[len(warm) :]) + "\n")
    query = json.dumps(PLEDGE)

    def wrk(seconds: int, path: Path) -> tuple[dict[str, Any], str]:
        out = subprocess.run(
            [
                "wrk",
                f"-t{args.wrk_threads}",
                f"-c{args.connections}",
                f"-d{seconds}s",
                "--timeout",
                "10s",
                "-s",
                str(workdir / "pledge.lua"),
                f"http://127.0.0.1:{port}/graphql/",
                "--",
                str(path),
                str(args.wrk_threads),
                query,
                str(QUANTITY),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
        return json.loads(line.removeprefix("WRKJSON ")), out

    wrk(5, workdir / "warm.txt")  # warm-up: connections, workers' document cache
    settle(pledged)  # requests wrk left in flight still land
    before = pledged()
    load_before = os.getloadavg()
    sampler = PgSampler(args.pg, args.db)
    sampler.start()
    time.sleep(1.2)
    app0 = app_ticks(master)
    t0 = time.perf_counter()
    result, raw = wrk(args.duration, workdir / "load.txt")
    wall = time.perf_counter() - t0
    app1 = app_ticks(master)
    sampler.stop.set()
    sampler.join()
    load_after = os.getloadavg()
    settle(pledged)
    stored = pledged() - before
    shutil.rmtree(workdir, ignore_errors=True)
    seconds = result["duration_us"] / 1e6
    errors = result["bad"] + result["connect"] + result["read"] + result["write"] + result["timeout"]
    # Accepted = answered with a pledge inside the window (wrk); the requests still in flight when
    # wrk stopped are stored too (``stored``), but they are not counted in the rate.
    accepted = result["ok"]
    figures = {
        "scenario": name,
        "seconds": seconds,
        "requests": result["requests"],
        "accepted": accepted,
        "rate": accepted / seconds,
        "p50": result["p50"] / 1000,
        "p95": result["p95"] / 1000,
        "p99": result["p99"] / 1000,
        "max": result["max"] / 1000,
        "errors": errors,
        "wrapped": result["wrapped"],
        "app_ms": (app1 - app0) * 1000 / TICK / max(accepted, 1),
        "pg_ms": sampler.ticks() * 1000 / TICK / max(accepted, 1),
        "stored": stored,
        "load_before": load_before,
        "load_after": load_after,
        "wall": wall,
    }
    print(
        f"[{name}] pledges/s={figures['rate']:.1f} accepted={accepted} stored={stored} "
        f"requests={result['requests']} "
        f"in {seconds:.0f}s  p50={figures['p50']:.0f}ms p95={figures['p95']:.0f}ms "
        f"p99={figures['p99']:.0f}ms max={figures['max']:.0f}ms  errors={errors}  "
        f"app_cpu={figures['app_ms']:.1f}ms/pledge pg_cpu={figures['pg_ms']:.1f}ms/pledge  "
        f"load {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f} -> "
        f"{load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f}",
        flush=True,
    )
    if errors:
        print(f"[{name}] first error: {result['sample']}")
    if result["wrapped"]:
        print(
            f"[{name}] WARNING: the household list ran out; later requests were retries (use more --stations)"
        )
    return figures


def settle(count: Any) -> None:
    """Wait until the server has finished the requests wrk left in flight."""
    from django.db import connection

    last = -1
    for _ in range(30):
        connection.close()
        now = count()
        if now == last:
            return
        last = now
        time.sleep(1.0)


def recount(campaign_ids: list[int]) -> bool:
    from django.db.models import Sum

    from plugins.group_orders.models import Campaign, CampaignItem, Pledge, PledgeStatus

    exact = True
    for cid in campaign_ids:
        campaign = Campaign.objects.get(pk=cid)
        counted = (
            Pledge.objects.filter(campaign_id=cid, status=PledgeStatus.ACTIVE).aggregate(s=Sum("quantity"))[
                "s"
            ]
            or 0
        )
        exact &= campaign.total_quantity == counted
        capped = campaign.max_total_quantity is None or campaign.total_quantity <= campaign.max_total_quantity
        exact &= capped
        for item in CampaignItem.objects.filter(campaign_id=cid):
            s = (
                Pledge.objects.filter(item=item, status=PledgeStatus.ACTIVE).aggregate(s=Sum("quantity"))["s"]
                or 0
            )
            exact &= item.total_quantity == s
    return exact


def idempotent_retry(port: int, plan: dict[str, Any]) -> str:
    """The same request twice at once, then once more: one pledge, one id, the total moved once."""
    from plugins.group_orders.models import Campaign, Pledge

    token, hid = plan["pairs"][-1]
    campaign_id, item = plan["campaigns"][0], plan["items"][0]
    body = json.dumps(
        {
            "query": PLEDGE,
            "variables": {"item": item, "household": hid, "qty": QUANTITY, "key": f"retry-{hid}"},
        }
    )
    total0 = Campaign.objects.get(pk=campaign_id).total_quantity
    answers: list[dict[str, Any]] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        barrier.wait()
        answers.append(post(port, token, body))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers.append(post(port, token, body))
    ids = {a["data"]["groupBuyPledgeCreate"]["pledge"]["id"] for a in answers}
    stored = Pledge.objects.filter(idempotency_key__endswith=f":retry-{hid}").count()
    moved = Campaign.objects.get(pk=campaign_id).total_quantity - total0
    ok = len(ids) == 1 and stored == 1 and moved == QUANTITY
    return f"{'OK' if ok else 'FAILED'} (3 requests, {len(ids)} pledge id(s), {stored} stored, total moved by {moved})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=300, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=16, help="concurrent wrk clients")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--stations", type=int, default=7200)
    parser.add_argument("--farmers", type=int, default=30, help="households per station")
    parser.add_argument("--scenario", choices=("both", "one", "twenty"), default="both")
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--db", default="bench_peak_pledges")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of one pledge")
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn processes (GUNICORN_WORKERS; the conf's default on 2 cores)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads per process (GUNICORN_THREADS)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")

    os.environ["DATABASE_URL"] = f"{args.pg}/{args.db}"
    os.environ["DJANGO_DEBUG"] = "0"
    data_dir = ROOT / "var" / "bench" / args.db
    t0 = time.perf_counter()  # a fresh copy every run: earlier pledges would refuse the households
    create_database(args.pg, args.db)
    print(f"database {args.db}: created (migrated template) in {time.perf_counter() - t0:.0f}s", flush=True)

    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.db import connection

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from listing_load import db_binding

    plan = seed(args.stations, args.farmers, data_dir)
    with connection.cursor() as cursor:
        cursor.execute("SELECT version(), pg_database_size(current_database())")
        version, size = cursor.fetchone()
    pairs = plan["pairs"]
    print(
        f"conditions: {os.cpu_count()} CPU(s), {version.split(',')[0]}, gunicorn deploy/gunicorn.conf.py "
        f"{args.workers} workers x {args.threads} threads (gthread), DEBUG off, wrk "
        f"-t{args.wrk_threads} -c{args.connections} over loopback; data: {plan['stations']} stations, "
        f"{len(pairs)} households, database {size / 2**20:.0f} MiB; {db_binding()}",
        flush=True,
    )
    statements, _ = statements_per_pledge(plan, args.show_sql)
    print(f"SQL statements per pledge request (in-process, steady state): {statements:.0f}", flush=True)
    connection.close()

    port = free_port()
    log = Path(tempfile.gettempdir()) / f"peak-pledges-gunicorn-{port}.log"
    server = start_gunicorn(port, log, args.workers, args.threads)
    results = []
    try:
        load = pairs[:-12]
        run_id = int(time.time())
        if args.scenario in ("both", "one"):
            item = plan["items"][0]
            lines = [f"{t} {h} {item} one{run_id}-{h}" for t, h in load]
            results.append(run_scenario("1 campaign", lines, args, port, server.pid, plan["campaigns"][:1]))
        if args.scenario in ("both", "twenty"):
            items = plan["items"][1:]
            lines = [f"{t} {h} {items[n % CAMPAIGNS]} tw{run_id}-{h}" for n, (t, h) in enumerate(load)]
            results.append(run_scenario("20 campaigns", lines, args, port, server.pid, plan["campaigns"][1:]))
        print(f"idempotent retry: {idempotent_retry(port, plan)}", flush=True)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    exact = recount(plan["campaigns"])
    print(f"recount: campaign and item totals equal the sum of active pledges, caps kept: {exact}")
    for r in results:
        verdict = r["rate"] >= 120 and r["p95"] < 300 and r["errors"] == 0
        print(
            f"target (>= 120 pledges/s, p95 < 300 ms, 0 errors) [{r['scenario']}, {r['seconds']:.0f}s]: "
            f"{'met' if verdict else 'NOT met'}"
        )


if __name__ == "__main__":
    main()

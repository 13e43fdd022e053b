"""Catalogue listing, detail and search under load: gunicorn (deploy/gunicorn.conf.py) + wrk over loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pl_demo .venv/bin/python benchmarks/listing_load.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pl_50k  .venv/bin/python benchmarks/listing_load.py

The database must be migrated and hold data: ``manage.py seed_demo`` (the demo catalogue) and,
for the province catalogue, ``manage.py generate_province --stations 200 --products 50000`` (or
``--generate 50000`` here). For each request shape — the listing ``products(first: 20)`` with price,
categories and thumbnail (the shape of Saleor's list, benchmarks/listing_vs_saleor.md), the product
detail, and the searches "复合肥 15-15-15" and "玉米 种子" — it prints:

1. in-process (Django test client, DEBUG off): SQL statements and CPU ms per request, with the
   response cache off (every request resolved) and on (repeated request);
2. over HTTP: gunicorn with ``--workers`` (default 2, as in the issue) × ``GUNICORN_THREADS`` (the conf's 2),
   production settings, a 5 s warm-up and then ``wrk -t2 -c<connections> -d<duration>``, as an
   anonymous visitor (``--viewer public``, like the issue's wrk runs against both shops) or with a
   station officer's bearer token (``--viewer officer``): requests/s, p50/p95/p99, non-2xx responses, and the
   gunicorn workers' CPU ms per request (from /proc), how many workers were recycled
   (``max_requests``) during the run, the load average before and after, for the cache on and off.

Needs ``wrk`` (Debian package). Stops gunicorn whatever happens.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()
logging.disable(logging.INFO)  # the in-process part: no per-request log lines between the figures

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

LIST_QUERY = (
    "query($first: Int){ products(first: $first){ totalCount items{ id title thumbnail(size: 256) "
    "minPrice{ amount } categories{ name } } } }"
)
DETAIL_QUERY = (
    "query($id: ID!){ product(id: $id){ id title description productType thumbnail(size: 512) attributes "
    "minPrice{ amount } available categories{ name } stockRecords{ sku price{ amount } available "
    "warehouse{ name } partner{ name } } } }"
)
SEARCH_QUERY = (
    "query($q: String, $first: Int){ search(query: $q, first: $first){ totalCount items{ id title "
    "thumbnail(size: 256) minPrice{ amount } categories{ name } } } }"
)
SEARCHES = ["复合肥 15-15-15", "玉米 种子"]
# deploy/gunicorn.conf.py recycles a worker after 2,000 (+ up to 1,000 jitter) requests: at 100+ req/s
# on 2 workers that is a restart every ~30 s per worker. Before the master preloaded and warmed the
# application (GUNICORN_PRELOAD) each restart cost seconds of CPU (Django + jieba start-up) and made
# the p99; now it is a fork, but a fresh worker still refills its per-process cache. The peak
# configuration (docs/capacity.md) raises the limit; so does this benchmark, which prints how many
# workers were recycled during each run ("recycled").
MAX_REQUESTS = 20_000

LUA = r"""
wrk.method = "POST"
wrk.body = os.getenv("WRK_BODY")
wrk.headers["Content-Type"] = "application/json"
if os.getenv("WRK_TOKEN") ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WRK_TOKEN")
end
done = function(summary, latency, requests)
  io.write(string.format("WRKJSON {\"requests\": %d, \"seconds\": %f, \"non2xx\": %d, \"socket_errors\": %d, "
    .. "\"p50\": %f, \"p95\": %f, \"p99\": %f, \"max\": %f}\n",
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def load_avg() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def data_size() -> str:
    from oscar.core.loading import get_model

    from marketplace.apps.partner.strategy import sellable_q

    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    products = Product.objects.filter(is_public=True).count()
    sellable = StockRecord.objects.filter(sellable_q()).values("product_id").distinct().count()
    images = get_model("catalogue", "ProductImage").objects.count()
    return f"{products} public products ({sellable} with sellable stock, {images} images)"


def officer_token() -> str:
    from marketplace.accounts.models import ApiToken, Role, User

    user = User.objects.filter(role=Role.STATION_STAFF, is_active=True).order_by("pk").first()
    if user is None:
        raise SystemExit("no station officer: run manage.py seed_demo first")
    return ApiToken.issue(user)[1]


def scenarios() -> list[tuple[str, dict]]:
    client = Client()
    first = client.post(
        "/graphql/",
        json.dumps({"query": LIST_QUERY, "variables": {"first": 1}}),
        content_type="application/json",
    ).json()
    product_id = first["data"]["products"]["items"][0]["id"]
    return [
        ("products(first: 20)", {"query": LIST_QUERY, "variables": {"first": 20}}),
        ("product(id) detail", {"query": DETAIL_QUERY, "variables": {"id": product_id}}),
        *[(f"search {q!r}", {"query": SEARCH_QUERY, "variables": {"q": q, "first": 20}}) for q in SEARCHES],
    ]


# --- In-process ----------------------------------------------------------------------------------


def in_process(label: str, body: dict, token: str, cached: bool, repeat: int = 30) -> tuple[int, float]:
    """(SQL statements, median CPU ms) per request."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}") if token else Client()
    payload = json.dumps(body)
    ttl = settings.GRAPHQL_LISTING_CACHE_SECONDS if cached else 0
    with override_settings(GRAPHQL_LISTING_CACHE_SECONDS=ttl):
        cache.clear()
        client.post("/graphql/", payload, content_type="application/json")  # warm (and fill the cache)
        statements: list[str] = []

        def count(execute, sql, params, many, context):  # noqa: ANN001, ANN202
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            response = client.post("/graphql/", payload, content_type="application/json")
        data = response.json()
        if response.status_code != 200 or "errors" in data:
            raise SystemExit(f"{label}: {data}")
        cpu = []
        for _ in range(repeat):
            t0 = time.process_time()
            client.post("/graphql/", payload, content_type="application/json")
            cpu.append((time.process_time() - t0) * 1000)
    return len(statements), statistics.median(cpu)


# --- HTTP ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_pids(master_pid: int) -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master_pid:  # ppid
                pids.add(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return pids


def db_binding() -> str:
    """How this process's database connection sends statements (the production setting in use)."""
    from django.db import connection

    options = connection.settings_dict.get("OPTIONS", {})
    if options.get("server_side_binding"):
        return f"PostgreSQL prepared statements (server-side binding, prepare_threshold {options.get('prepare_threshold')})"
    return "client-side parameter binding"


def worker_cpu_seconds(master_pid: int, include_master: bool = False) -> float:
    """CPU of the gunicorn (or Celery) workers: utime + stime of the live ones plus the master's
    cutime + cstime (workers it has reaped after a ``max_requests`` recycle); with
    ``include_master`` the master's own utime + stime too."""
    tick = os.sysconf("SC_CLK_TCK")
    master = (Path("/proc") / str(master_pid) / "stat").read_text().rsplit(")", 1)[1].split()
    total = (int(master[13]) + int(master[14])) / tick
    if include_master:
        total += (int(master[11]) + int(master[12])) / tick
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:  # ppid
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def start_gunicorn(workers: int, cache_seconds: int) -> tuple[subprocess.Popen, int]:
    import http.client

    port = free_port()
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "production",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GRAPHQL_LISTING_CACHE_SECONDS": str(cache_seconds),
        "DJANGO_DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "SECURE_SSL_REDIRECT": "0",  # nginx terminates TLS and redirects in production; plain loopback here
        "GUNICORN_MAX_REQUESTS": os.environ.get("GUNICORN_MAX_REQUESTS", str(MAX_REQUESTS)),
    }
    (ROOT / "var").mkdir(exist_ok=True)
    log = open(ROOT / "var" / "listing_load_gunicorn.log", "a")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode} (var/listing_load_gunicorn.log)")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(
                "POST",
                "/graphql/",
                '{"query": "{ categories { name } }"}',
                {"Content-Type": "application/json"},
            )
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError("gunicorn did not become ready")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wrk(port: int, body: dict, token: str, seconds: int, connections: int, script: str) -> dict:
    env = {**os.environ, "WRK_BODY": json.dumps(body), "WRK_TOKEN": token}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", script,
         f"http://127.0.0.1:{port}/graphql/"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"WRKJSON (\{.*\})", out)
    if not match:
        raise RuntimeError(out)
    return json.loads(match.group(1))


def check_body(port: int, body: dict, token: str) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=180)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", "/graphql/", json.dumps(body), headers)
    response = conn.getresponse()
    data = json.loads(response.read())
    if response.status != 200 or "errors" in data:
        raise SystemExit(f"error response: {data}")


def http_runs(args: argparse.Namespace, runs: list[tuple[str, dict]], token: str, cache_seconds: int) -> None:
    proc, port = start_gunicorn(args.workers, cache_seconds)
    mode = f"cache {cache_seconds} s" if cache_seconds else "cache off"
    print(
        f"gunicorn: {args.workers} workers x {os.environ.get('GUNICORN_THREADS', '2')} threads (deploy/gunicorn.conf.py), {mode}, "
        f"max_requests {os.environ.get('GUNICORN_MAX_REQUESTS', MAX_REQUESTS)}",
        flush=True,
    )
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA)
        for label, body in runs:
            check_body(port, body, token)
            wrk(port, body, token, args.warmup, args.connections, script.name)
            before_load = load_avg()
            cpu0 = worker_cpu_seconds(proc.pid)
            pids0 = worker_pids(proc.pid)
            r = wrk(port, body, token, args.duration, args.connections, script.name)
            cpu = (worker_cpu_seconds(proc.pid) - cpu0) / max(r["requests"], 1) * 1000
            recycled = len(worker_pids(proc.pid) - pids0)
            print(
                f"HTTP  {label:<24} {mode:<11} {r['requests'] / r['seconds']:7.1f} req/s  "
                f"p50 {r['p50']:6.1f} ms  p95 {r['p95']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
                f"non-2xx {r['non2xx']}  socket errors {r['socket_errors']}  "
                f"worker CPU {cpu:5.1f} ms/req  recycled {recycled}  "
                f"({r['requests']} req in {r['seconds']:.0f} s, c={args.connections}; "
                f"load average before {before_load}, after {load_avg()})",
                flush=True,
            )
        os.unlink(script.name)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generate", type=int, default=0, help="generate this many products first")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--viewer", choices=["public", "officer"], default="public")
    parser.add_argument(
        "--no-uncached-http", action="store_true", help="skip the HTTP runs with the cache off"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("run on PostgreSQL (DATABASE_URL)")
    if args.generate:
        from marketplace.core.province_catalogue import generate_products

        generate_products(args.generate, log=lambda line: print(line, flush=True))
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    print(
        f"conditions: {os.cpu_count()} CPUs, PostgreSQL {version}, {db_binding()}, DEBUG off, "
        f"data: {data_size()}, load average {load_avg()}",
        flush=True,
    )
    token = officer_token() if args.viewer == "officer" else ""
    print(f"viewer: {'station officer (bearer token)' if token else 'anonymous'}", flush=True)
    runs = scenarios()
    for label, body in runs:
        for cached in (False, True):
            statements, cpu = in_process(label, body, token, cached)
            print(
                f"in-process  {label:<24} {'cached' if cached else 'resolved':<8}  "
                f"SQL statements {statements:>2}  CPU {cpu:5.1f} ms/request (median of 30)",
                flush=True,
            )
    http_runs(args, runs, token, settings.GRAPHQL_LISTING_CACHE_SECONDS or 300)
    if not args.no_uncached_http:
        http_runs(args, runs, token, 0)
    print(f"done: load average {load_avg()}", flush=True)


if __name__ == "__main__":
    main()

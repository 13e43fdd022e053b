"""Catalogue read load: 50,000 products / 200 suppliers, GraphQL list and search under gunicorn.

    psql -h 127.0.0.1 -U postgres -c 'create database h_load'
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_load .venv/bin/python benchmarks/catalogue_load.py

1. Migrates its own database and generates (once, deterministic, ``bulk_create``) 200 approved
   suppliers with a warehouse and licences, and 50,000 fertilizer / seed / pesticide products with
   typed attributes, jieba ``search_text``, categories and one or two stock records each.
2. In-process (``CaptureQueriesContext`` + the test ``Client``): SQL queries per request for page
   sizes 10 and 100 of each request kind; exits non-zero if the count grows with the page size.
3. Starts gunicorn (``deploy/gunicorn.conf.py``, MARKETPLACE_ENV=production, 4 workers) on a free
   127.0.0.1 port, hits ``products(first: N)`` and ``search`` at concurrency 16 with a bounded
   client (threads + http.client, fixed request count and time limit), prints requests/s and
   p50/p95 latency, and always stops gunicorn (try/finally).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")  # no SQL log while generating 50,000 products

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from marketplace.core.province_catalogue import CODE_PREFIX, PRODUCTS, SUPPLIERS  # noqa: E402,F401

LIST_QUERY = (
    "query($first: Int){ products(first: $first){ totalCount items{ id title productType attributes "
    "minPrice{ amount } available stockRecords{ sku price{ amount } available warehouse{ name } "
    "partner{ name } } } } }"
)
SEARCH_QUERY = (
    "query($q: String, $first: Int){ search(query: $q, first: $first){ totalCount engine "
    "items{ id title minPrice{ amount } available stockRecords{ sku warehouse{ name } } } "
    "facets{ productTypes{ value count } suppliers{ value label count } chlorideClasses{ value count } } } }"
)
SEARCHES = ["复合肥 15-15-15", "玉米 种子 吉单"]


# --- Data -----------------------------------------------------------------------------------------


def generate() -> None:
    from marketplace.core.province_catalogue import generate_products

    generate_products(PRODUCTS, SUPPLIERS, log=lambda line: print(line, flush=True))


# --- In-process query counts -----------------------------------------------------------------------


def requests_under_test(first: int) -> list[tuple[str, dict]]:
    return [("products", {"query": LIST_QUERY, "variables": {"first": first}})] + [
        (f"search {q!r}", {"query": SEARCH_QUERY, "variables": {"q": q, "first": first}}) for q in SEARCHES
    ]


def query_counts() -> bool:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    counts: dict[str, dict[int, int]] = {}
    from django.core.cache import cache

    from marketplace.search.sync import LISTING_TOTAL_KEY

    for first in (10, 100):
        for label, body in requests_under_test(first):
            cache.delete(LISTING_TOTAL_KEY)  # count the uncached case (the list total is cached 60 s)
            with CaptureQueriesContext(connection) as ctx:
                response = client.post("/graphql/", json.dumps(body), content_type="application/json")
            data = response.json()
            assert response.status_code == 200 and "errors" not in data, data
            items = next(iter(data["data"].values()))["items"]
            assert len(items) == first, (label, first, len(items))
            counts.setdefault(label, {})[first] = len(ctx.captured_queries)
    ok = True
    for label, by_size in counts.items():
        flat = by_size[10] == by_size[100]
        ok &= flat
        print(
            f"SQL queries per request  {label:<28} first=10: {by_size[10]:>2}  first=100: {by_size[100]:>2}  "
            f"{'constant' if flat else 'GROWS WITH PAGE SIZE'}",
            flush=True,
        )
    return ok


# --- Load over HTTP ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request(
                "POST",
                "/graphql/",
                json.dumps({"query": "{ __typename }"}),
                {"Content-Type": "application/json"},
            )
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError("gunicorn did not become ready")


def load(port: int, label: str, body: dict, total: int, concurrency: int, time_limit: float) -> None:
    payload = json.dumps(body).encode()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    issued = 0
    deadline = time.monotonic() + time_limit

    def take() -> bool:
        nonlocal issued
        with lock:
            if issued >= total or time.monotonic() > deadline:
                return False
            issued += 1
            return True

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            while take():
                t0 = time.perf_counter()
                try:
                    conn.request("POST", "/graphql/", payload, {"Content-Type": "application/json"})
                    response = conn.getresponse()
                    raw = response.read()
                    ok = response.status == 200 and b'"errors"' not in raw
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    ok, raw = False, str(exc).encode()
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(raw[:200].decode(errors="replace"))
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(time_limit + 60)
    wall = time.perf_counter() - started
    if not latencies:
        print(f"{label}: no responses", flush=True)
        return
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]
    print(
        f"HTTP  {label:<34} {len(latencies):>5} req in {wall:5.1f} s  {len(latencies) / wall:6.1f} req/s  "
        f"p50 {statistics.median(ordered) * 1000:6.0f} ms  p95 {p95 * 1000:6.0f} ms  errors {len(errors)}",
        flush=True,
    )
    if errors:
        print(f"  first error: {errors[0]}", flush=True)


def run_gunicorn(args: argparse.Namespace) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MARKETPLACE_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(args.workers),
        "DJANGO_DEBUG": "0",
    }
    log = open(ROOT / "var" / "catalogue_load_gunicorn.log", "w")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "marketplace.wsgi", "-c", "deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_ready(port, proc)
        print(f"gunicorn pid {proc.pid} on 127.0.0.1:{port}, {args.workers} workers", flush=True)
        scenarios = [(f"products(first: {args.first})", requests_under_test(args.first)[0][1])]
        scenarios += [(label, body) for label, body in requests_under_test(args.first)[1:]]
        for label, body in scenarios:
            load(port, f"{label}", body, min(50, args.requests), args.concurrency, args.time_limit)  # warm-up
        for label, body in scenarios:
            load(port, label, body, args.requests, args.concurrency, args.time_limit)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        print(f"gunicorn stopped (exit {proc.returncode})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=800, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per scenario")
    parser.add_argument("--first", type=int, default=20, help="page size of the HTTP load")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--skip-http", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("set DATABASE_URL to a PostgreSQL database of its own")
    call_command("migrate", verbosity=0)
    generate()
    constant = query_counts()
    connection.close()
    if not args.skip_http:
        run_gunicorn(args)
    if not constant:
        raise SystemExit("query count grows with page size")


if __name__ == "__main__":
    main()

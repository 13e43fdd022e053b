"""Benchmark: one ``recommendationCreate`` with a bag plan (the spring-peak mix's agronomist request),
in process, and the offers it reads.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/reco_50k \
        .venv/bin/python benchmarks/recommendation_offers.py [--repeat 5] [--field ID]

The database must hold ``manage.py seed_demo`` data plus ``generate_province --stations 200
--products 50000`` (the mix's data). As the demo's first agronomist (API token, the GraphQL
endpoint through Django's test client, the same mutation as ``benchmarks/locust_mix.py``), one warm-up
call, then per call: SQL statements, process CPU ms and wall ms, the offers
``extensions.purchasable_offers`` returned to the plan (all calls of the request), and the plan's
status, cost and lines (so runs before and after a change can be compared), and the time the
garbage collector took during the call. Prints the data size
and the load average beside every figure; asserts nothing. Each call writes a recommendation and
a plan (as the mix does).

The bag plan is a background job (``plugins.fertilizer.services.run_plan_job``); here it runs inline,
inside the call (``JOBS_IN_THREAD=0``, no broker), so one call still covers request and solve, and
each line splits the figures into the request step and the job (wall, CPU, SQL of each).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("JOBS_IN_THREAD", "0")  # the bag plan's job runs inline: measured within the call

import django  # noqa: E402

django.setup()

RECOMMEND = (
    "mutation($f: ID!){ recommendationCreate(fieldId: $f){ recommendation{ id } plan{ id } "
    "errors{ field code message } } }"
)


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--field", type=int, default=None, help="field id (default: the agronomist's first)")
    parser.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() after the warm-up (what a server could do after start-up): full collections "
        "then skip the objects of the start-up",
    )
    args = parser.parse_args()

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from oscar.core.loading import get_model

    from marketplace.accounts.models import ApiToken, Role, User
    from marketplace.apps.catalogue.product_types import FERTILIZER
    from marketplace.core import extensions
    from plugins.fertilizer.access import recommendable_fields
    from plugins.fertilizer.models import BagPlan

    if connection.vendor != "postgresql":
        sys.exit("needs PostgreSQL: set DATABASE_URL")
    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    Station = get_model("stations", "Station")
    agronomist = User.objects.filter(role=Role.AGRONOMIST, is_active=True).order_by("pk").first()
    if agronomist is None:
        sys.exit("no agronomist: run manage.py seed_demo")
    fields = recommendable_fields(agronomist).order_by("pk")
    field = fields.get(pk=args.field) if args.field else fields.first()
    if field is None:
        sys.exit("no field to recommend for: run manage.py seed_demo")
    print(
        f"data: {Product.objects.count():,} products ({Product.objects.filter(product_class__slug=FERTILIZER).count():,}"
        f" fertilizer), {StockRecord.objects.count():,} stock records, {Station.objects.count():,} stations; "
        f"field {field.pk} ({field.area_mu} mu) of station {field.household.station_id}; load average {load()}"
    )

    # Count what the extension point hands the plan (every call in the request), whatever its arguments.
    read: list[int] = []
    original = extensions.purchasable_offers

    def counting(*a: Any, **kw: Any) -> list[Any]:
        offers = original(*a, **kw)
        read.append(len(offers))
        return offers

    extensions.purchasable_offers = counting

    # The background job's share of a call (it runs inline, see the module docstring).
    from plugins.fertilizer import services as fert_services

    job = {"wall": 0.0, "cpu": 0.0, "sql": 0}
    run_plan_job = fert_services.run_plan_job

    def timed_job(plan_id: int) -> str:
        q0, c0, w0 = len(connection.queries_log), time.process_time(), time.perf_counter()
        try:
            return run_plan_job(plan_id)
        finally:
            job["cpu"] += (time.process_time() - c0) * 1000
            job["wall"] += (time.perf_counter() - w0) * 1000
            job["sql"] += len(connection.queries_log) - q0

    fert_services.run_plan_job = timed_job

    # Time spent in the cyclic garbage collector during a call (allocation-heavy code triggers it).
    gc_time = {"ms": 0.0, "full": 0, "t0": 0.0}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_time["t0"] = time.perf_counter()
        else:
            gc_time["ms"] += (time.perf_counter() - gc_time["t0"]) * 1000
            gc_time["full"] += info["generation"] == 2

    gc.callbacks.append(on_gc)

    client = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(agronomist)[1]}")
    body = json.dumps({"query": RECOMMEND, "variables": {"f": str(field.pk)}})

    def call() -> tuple[int, float, float, dict]:
        read.clear()
        gc_time.update(ms=0.0, full=0)
        job.update(wall=0.0, cpu=0.0, sql=0)
        with CaptureQueriesContext(connection) as ctx:
            c0, w0 = time.process_time(), time.perf_counter()
            response = client.post("/graphql/", body, content_type="application/json")
            cpu, wall = (time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000
        data = response.json()
        if response.status_code != 200 or data.get("errors"):
            sys.exit(f"request failed: {response.status_code} {str(data)[:500]}")
        return len(ctx.captured_queries), cpu, wall, data["data"]["recommendationCreate"]

    call()  # warm-up (imports, caches, first connection)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
        print(f"gc.freeze(): {gc.get_freeze_count():,} objects frozen")
    rows = []
    for i in range(args.repeat):
        statements, cpu, wall, out = call()
        if out["errors"]:
            sys.exit(f"mutation errors: {out['errors']}")
        plan = BagPlan.objects.get(pk=out["plan"]["id"])
        lines = sorted((x.phase, x.sku, x.bags) for x in plan.lines.all())
        rows.append((statements, cpu, wall))
        print(
            f"call {i + 1}: {statements} SQL statements, CPU {cpu:,.1f} ms, wall {wall:,.1f} ms "
            f"(request step {statements - job['sql']} SQL, CPU {cpu - job['cpu']:,.1f} ms, wall "
            f"{wall - job['wall']:,.1f} ms; background job {job['sql']} SQL, CPU {job['cpu']:,.1f} ms, "
            f"wall {job['wall']:,.1f} ms), "
            f"(garbage collector {gc_time['ms']:,.1f} ms, {gc_time['full']} full collections), "
            f"offers read {' + '.join(str(n) for n in read)}; plan {plan.status} cost {plan.cost} "
            f"lines {lines}; load average {load()}"
        )
    print(
        f"median of {args.repeat}: {statistics.median(r[0] for r in rows):.0f} SQL statements, "
        f"CPU {statistics.median(r[1] for r in rows):,.1f} ms, wall {statistics.median(r[2] for r in rows):,.1f} ms; "
        f"load average {load()}"
    )


if __name__ == "__main__":
    main()

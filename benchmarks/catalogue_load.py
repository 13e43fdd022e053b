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
import random
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
from django.db import connection, transaction  # noqa: E402

SUPPLIERS = 200
PRODUCTS = 50_000
CODE_PREFIX = "load-sup-"

FERT_BRANDS = ["史丹利", "金正大", "中化", "司尔特", "新洋丰", "云天化", "芭田", "心连心"]
FERT_KINDS = ["复合肥", "掺混肥", "硫酸钾复合肥", "缓释复合肥", "水溶肥"]
GRADES = [(15, 15, 15), (16, 16, 16), (17, 17, 17), (28, 6, 6), (26, 10, 12), (18, 18, 18), (20, 10, 15)]
STRAIGHT = [("尿素", (46, 0, 0)), ("磷酸二铵", (18, 46, 0)), ("氯化钾", (0, 0, 60)), ("硫酸钾", (0, 0, 50))]
CROPS = ["玉米", "大豆", "水稻", "小麦", "高粱"]
VARIETIES = {
    "玉米": ["吉单27", "吉单50", "郑单958", "先玉335", "京科968", "良玉99"],
    "大豆": ["吉育86", "黑农84", "合农95"],
    "水稻": ["吉粳511", "龙粳31", "通禾899"],
    "小麦": ["济麦22", "百农207"],
    "高粱": ["吉杂127", "辽杂37"],
}
INGREDIENTS = ["草甘膦", "吡虫啉", "阿维菌素", "莠去津", "烟嘧磺隆", "多菌灵", "甲拌磷", "高效氯氟氰菊酯"]
FORMS = ["水剂", "乳油", "可湿性粉剂", "悬浮剂", "颗粒剂"]

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
    from datetime import timedelta

    from django.utils import timezone
    from oscar.checks import use_productcategory_materialised_view
    from oscar.core.loading import get_model

    from marketplace.apps.catalogue.product_types import ensure_product_types
    from marketplace.apps.catalogue.search_fields import apply_search_fields
    from marketplace.apps.catalogue.services import _category_for
    from marketplace.apps.partner.models import (
        LicenceKind,
        Partner,
        PartnerLicence,
        StockRecord,
        Warehouse,
    )

    Product = get_model("catalogue", "Product")
    ProductAttribute = get_model("catalogue", "ProductAttribute")
    ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
    ProductCategory = get_model("catalogue", "ProductCategory")

    existing = Product.objects.filter(owner__code__startswith=CODE_PREFIX).count()
    if existing >= PRODUCTS:
        print(f"data: {existing} products already generated", flush=True)
        return
    if existing:
        raise SystemExit(f"{existing} products of an interrupted run: drop and recreate the database")
    started = time.perf_counter()
    rng = random.Random(20260101)
    classes = ensure_product_types()
    categories = {slug: _category_for(pc) for slug, pc in classes.items()}
    attributes = {
        (a.product_class_id, a.code): a for a in ProductAttribute.objects.filter(product_class__isnull=False)
    }
    today = timezone.localdate()
    with transaction.atomic():
        partners = Partner.objects.bulk_create(
            Partner(
                code=f"{CODE_PREFIX}{i:03d}",
                name=f"压测农资{i:03d}有限公司",
                verification_status="approved",
                verified_at=timezone.now(),
            )
            for i in range(SUPPLIERS)
        )
        warehouses = Warehouse.objects.bulk_create(
            Warehouse(
                partner=p,
                code="WH1",
                name=f"{p.name}仓",
                latitude=round(43.2 + rng.random(), 6),
                longitude=round(125.2 + rng.random(), 6),
            )
            for p in partners
        )
        PartnerLicence.objects.bulk_create(
            PartnerLicence(
                partner=p,
                kind=kind,
                number=f"{kind[:3].upper()}-{p.pk}",
                restricted_scope=kind == LicenceKind.PESTICIDE_BUSINESS,
                valid_from=today - timedelta(days=30),
                valid_until=today + timedelta(days=700),
            )
            for p in partners
            for kind in (LicenceKind.PESTICIDE_BUSINESS, LicenceKind.SEED_BUSINESS)
        )
    print(f"data: {SUPPLIERS} suppliers", flush=True)
    chunk = 5_000
    for start in range(0, PRODUCTS, chunk):
        rows = []
        for i in range(start, min(start + chunk, PRODUCTS)):
            owner = rng.randrange(SUPPLIERS)
            roll = rng.random()
            if roll < 0.5:
                slug = "fertilizer"
                if rng.random() < 0.8:
                    n, p, k = rng.choice(GRADES)
                    title = f"{rng.choice(FERT_BRANDS)}{rng.choice(FERT_KINDS)} {n}-{p}-{k} 40kg"
                else:
                    name, (n, p, k) = rng.choice(STRAIGHT)
                    title = f"{rng.choice(FERT_BRANDS)}{name} 40kg"
                attrs = {
                    "n_pct": float(n),
                    "p2o5_pct": float(p),
                    "k2o_pct": float(k),
                    "chloride_class": rng.choice(["none", "low", "medium"]),
                    "bag_kg": 40.0,
                    "registration_no": f"吉农肥(2024)准字{i:05d}号",
                }
            elif roll < 0.8:
                slug = "seed"
                crop = rng.choice(CROPS)
                variety = rng.choice(VARIETIES[crop])
                title = f"{variety} {crop}种子 {rng.choice([1, 2, 5, 10])}kg 批次{i}"
                attrs = {
                    "crop": crop,
                    "variety": variety,
                    "variety_approval_no": f"吉审{crop[0]}{2010 + i % 14}{i % 1000:03d}",
                    "licence_no": f"C(吉)农种许字({2020 + i % 5})第{i % 900:04d}号",
                    "germination_pct": float(rng.choice([85, 90, 93, 95])),
                    "net_content_kg": float(rng.choice([1, 2, 5, 10])),
                }
            else:
                slug = "pesticide"
                ingredient = rng.choice(INGREDIENTS)
                restricted = ingredient == "甲拌磷"
                title = f"{rng.choice([3, 5, 10, 20, 41])}% {ingredient}{rng.choice(FORMS)} 批次{i}"
                attrs = {
                    "registration_no": f"PD{20100000 + i:08d}",
                    "active_ingredient": ingredient,
                    "toxicity": "高毒" if restricted else rng.choice(["低毒", "微毒"]),
                    "restricted_use": restricted,
                    "net_content": rng.choice(["100 ml", "500 g", "1 kg"]),
                }
            product = Product(
                product_class=classes[slug],
                structure=Product.STANDALONE,
                owner=partners[owner],
                title=title,
                slug=f"load-{i}",
                upc=f"69{i:011d}",
            )
            apply_search_fields(product, classes[slug], attrs)
            rows.append((product, attrs, owner))
        with transaction.atomic():
            products = Product.objects.bulk_create([r[0] for r in rows])
            values, links, records, licences = [], [], [], []
            for product, attrs, owner in rows:
                slug = product.product_class.slug
                for code, value in attrs.items():
                    attribute = attributes[(product.product_class_id, code)]
                    values.append(
                        ProductAttributeValue(
                            attribute=attribute, product=product, **{f"value_{attribute.type}": value}
                        )
                    )
                links.append(ProductCategory(product=product, category=categories[slug]))
                sellers = [owner] + (
                    [(owner + 1 + product.pk % 7) % SUPPLIERS] if product.pk % 5 == 0 else []
                )
                for n, seller in enumerate(sellers):
                    records.append(
                        StockRecord(
                            product=product,
                            partner=partners[seller],
                            warehouse=warehouses[seller],
                            partner_sku=f"L-{product.pk}-{n}",
                            price=round(20 + (product.pk * 37 % 3000) / 10 + n, 2),
                            price_currency="CNY",
                            num_in_stock=(product.pk * 13) % 500,
                        )
                    )
                    if slug == "fertilizer":
                        licences.append(
                            PartnerLicence(
                                partner=partners[seller],
                                kind=LicenceKind.FERTILIZER_REGISTRATION,
                                number=f"FR-{product.pk}-{n}",
                                product=product,
                                valid_from=today - timedelta(days=30),
                                valid_until=today + timedelta(days=700),
                            )
                        )
            ProductAttributeValue.objects.bulk_create(values, batch_size=10_000)
            ProductCategory.objects.bulk_create(links, batch_size=10_000)
            StockRecord.objects.bulk_create(records, batch_size=10_000)
            PartnerLicence.objects.bulk_create(licences, batch_size=10_000)
        print(f"data: {start + len(products)} products ({time.perf_counter() - started:.0f} s)", flush=True)
    if use_productcategory_materialised_view():
        with connection.cursor() as cursor:
            cursor.execute("REFRESH MATERIALIZED VIEW catalogue_product_category_hierarchy;")
    from marketplace.apps.catalogue.compliance import enforce_licences

    print(f"data: licence check {enforce_licences(notify=False)}", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE;")
    print(f"data: generated in {time.perf_counter() - started:.0f} s", flush=True)


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

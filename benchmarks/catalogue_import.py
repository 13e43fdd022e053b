"""Import benchmark: time and peak Python memory for a generated CSV of N rows (default 50,000 and 10,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_catalogue_bench \
        .venv/bin/python benchmarks/catalogue_import.py --rows 10000 50000

Uses its own database (migrated on the fly); each size runs in a fresh process (so ``ru_maxrss`` is
per size) for new suppliers: first import and idempotent re-import timed without tracing (all
sizes), then the first import again under ``tracemalloc`` for the Python peak. DEBUG is off. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
# DEBUG keeps every SQL statement (with its parameters) in connection.queries: that alone would
# make memory grow with the file. Production runs without DEBUG, so does the benchmark.
os.environ.setdefault("DJANGO_DEBUG", "0")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

HEADER = [
    "SKU",
    "商品类型",
    "商品名称",
    "价格",
    "库存",
    "仓库编号",
    "n_pct",
    "p2o5_pct",
    "k2o_pct",
    "chloride_class",
    "bag_kg",
    "registration_no",
]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            n, p, k = 15 + i % 5, 15 - i % 3, 10 + i % 6
            w.writerow(
                [
                    f"B-{i:06d}",
                    "化肥",
                    f"复合肥 {n}-{p}-{k} 批次{i}",
                    f"{120 + i % 50}.00",
                    100 + i % 900,
                    "WH1",
                    n,
                    p,
                    k,
                    ["none", "low", "medium"][i % 3],
                    40,
                    f"吉肥{i}",
                ]
            )


def run_size(rows: int, tag: str, traced: bool) -> None:
    """One size in this (fresh) process, so ``ru_maxrss`` belongs to this size alone."""
    from marketplace.accounts.models import Role, User
    from marketplace.apps.catalogue.importer import import_catalogue
    from marketplace.apps.catalogue.product_types import ensure_product_types
    from marketplace.apps.partner.models import Partner, Warehouse

    ensure_product_types()
    operator, _ = User.objects.get_or_create(
        username="bench-op", defaults={"role": Role.OPERATOR, "is_superuser": True}
    )

    def fresh_partner(label: str) -> Partner:
        partner = Partner.objects.create(
            code=f"bench-import-{rows}-{tag}-{label}",
            name=f"导入基准{rows}{label}",
            verification_status="approved",
        )
        Warehouse.objects.create(partner=partner, code="WH1", name="仓", latitude=43.5, longitude=125.6)
        return partner

    def line(label: str, elapsed: float, report, peak: float | None = None) -> None:
        traced = f"tracemalloc peak {peak / 2**20:6.1f} MiB" if peak is not None else " " * 26
        print(
            f"{rows:>6} rows  {label:<30} {elapsed:6.1f} s {rows / elapsed:6.0f} rows/s  {traced}  "
            f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:4.0f} MiB  "
            f"created={report.created} updated={report.updated} unchanged={report.unchanged} "
            f"blocked={report.blocked} errors={len(report.errors)}",
            flush=True,
        )

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        write_csv(path, rows)
        if not traced:
            partner = fresh_partner("a")
            for label in ("first import", "re-import (idempotent)"):
                started = time.perf_counter()
                report = import_catalogue(operator, partner, path)
                line(label, time.perf_counter() - started, report)
            return
        # Memory: the same file for another supplier under tracemalloc (much slower while tracing).
        partner = fresh_partner("b")
        from marketplace.search.text import index_text

        index_text("预热 复合肥")  # load the jieba dictionary (~40 MiB, once per process) before tracing
        tracemalloc.start()
        started = time.perf_counter()
        report = import_catalogue(operator, partner, path)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        line("first import, traced", elapsed, report, peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args()
    tag = f"{int(time.time())}"
    if args.child:
        run_size(args.rows[0], tag, args.traced)
        return
    call_command("migrate", verbosity=0)
    # Each size in its own process: ru_maxrss is a high-water mark per process. Timed runs first,
    # then the (slow) tracemalloc runs, whose duration is not a figure of interest.
    for traced in (False, True) if not args.no_trace else (False,):
        for rows in args.rows:
            extra = ["--traced"] if traced else []
            subprocess.run([sys.executable, __file__, "--child", "--rows", str(rows), *extra], check=True)


if __name__ == "__main__":
    main()

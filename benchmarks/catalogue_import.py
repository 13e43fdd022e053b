"""Import benchmark: time and peak Python memory for a generated CSV of N rows (default 50,000 and 10,000).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_catalogue_bench \
        .venv/bin/python benchmarks/catalogue_import.py --rows 10000 50000

Uses its own database (migrated on the fly); prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from marketplace.accounts.models import Role, User
    from marketplace.apps.catalogue.importer import import_catalogue
    from marketplace.apps.catalogue.product_types import ensure_product_types
    from marketplace.apps.partner.models import Partner, Warehouse

    ensure_product_types()
    operator, _ = User.objects.get_or_create(
        username="bench-op", defaults={"role": Role.OPERATOR, "is_superuser": True}
    )
    for rows in args.rows:
        partner, _ = Partner.objects.get_or_create(
            code=f"bench-import-{rows}",
            defaults={"name": f"导入基准{rows}", "verification_status": "approved"},
        )
        Warehouse.objects.get_or_create(
            partner=partner, code="WH1", defaults={"name": "仓", "latitude": 43.5, "longitude": 125.6}
        )
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "rows.csv"
            write_csv(path, rows)
            for label in ("first import", "re-import (idempotent)"):
                tracemalloc.start()
                started = time.perf_counter()
                report = import_catalogue(operator, partner, path)
                elapsed = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(
                    f"{rows:>6} rows {label:<24} {elapsed:7.1f} s  {rows / elapsed:7.0f} rows/s  "
                    f"peak traced {peak / 2**20:6.1f} MiB  created={report.created} updated={report.updated} "
                    f"unchanged={report.unchanged} errors={len(report.errors)}  "
                    f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
                    flush=True,
                )


if __name__ == "__main__":
    main()

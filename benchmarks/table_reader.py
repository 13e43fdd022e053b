"""Table reader benchmark: time and peak Python memory to read a generated catalogue file of N rows
(CSV in UTF-8 and GB18030, XLSX) through ``marketplace.core.tables`` with the catalogue's spec.

    .venv/bin/python benchmarks/table_reader.py --rows 10000 50000

No database: it reads, it does not import. For each size and format it prints the file size, the
time (wall and process CPU), rows/s and the ``tracemalloc`` peak while reading (a second, traced
pass), with the load average. Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from openpyxl import Workbook  # noqa: E402

from marketplace.apps.catalogue.importer import import_spec  # noqa: E402
from marketplace.core.tables import TableSpec, read_table  # noqa: E402

HEADER = ["SKU", "商品类型", "商品名称", "价格", "库存", "仓库编号", "n_pct", "p2o5_pct", "k2o_pct",
          "chloride_class", "bag_kg", "registration_no"]  # fmt: skip


def row(i: int) -> list:
    return [f"B-{i:07d}", "化肥", f"复合肥 15-15-15 吉林第{i}号", 150.5 + i % 100 / 10, 100 + i % 50, "WH1",
            15, 15, 15, "none", 40, f"吉肥{i}"]  # fmt: skip


def write_csv(path: Path, n: int, encoding: str) -> None:
    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(n):
            writer.writerow(row(i))


def write_xlsx(path: Path, n: int) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(HEADER)
    for i in range(n):
        ws.append(row(i))
    wb.save(path)


def read_all(path: Path, spec: TableSpec) -> int:
    count = 0
    with read_table(path, spec) as table:
        for r in table:
            count += 1
            assert not r.errors
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 50_000])
    args = parser.parse_args()
    spec = import_spec()
    print(f"python {sys.version.split()[0]}, load average {os.getloadavg()}")
    print(
        f"{'rows':>7} {'format':<12} {'size':>9} {'wall s':>7} {'cpu s':>6} {'rows/s':>8} {'traced peak':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            files = []
            for encoding in ("utf-8-sig", "gb18030"):
                path = Path(tmp) / f"{n}-{encoding}.csv"
                write_csv(path, n, encoding)
                files.append((f"csv {encoding}", path))
            path = Path(tmp) / f"{n}.xlsx"
            write_xlsx(path, n)
            files.append(("xlsx", path))
            for label, path in files:
                wall, cpu = time.perf_counter(), time.process_time()
                count = read_all(path, spec)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                tracemalloc.start()
                read_all(path, spec)
                peak = tracemalloc.get_traced_memory()[1]
                tracemalloc.stop()
                size = path.stat().st_size / 1024 / 1024
                print(f"{count:>7} {label:<12} {size:>7.1f}MB {wall:>7.2f} {cpu:>6.2f} {count / wall:>8.0f} "
                      f"{peak / 1024 / 1024:>10.2f}MB")  # fmt: skip
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Side by side in one run (issue #14): the catalogue listing of this marketplace and of a running
Saleor, same query shape, same load generator, same machine.

    # Saleor runs outside this repository (benchmarks/listing_vs_saleor.md says how), e.g.
    #   gunicorn saleor.asgi:application -k uvicorn.workers.UvicornWorker -w 2 -b 127.0.0.1:8100 --pid saleor.pid
    .venv/bin/python benchmarks/listing_vs_saleor.py --saleor-port 8100 --saleor-pid "$(cat saleor.pid)" \
        --saleor-db saleor_50k --ours-db pl_50k

For each shop: a check that the answer has 20 products, a warm-up (``--warmup`` s), then ``wrk -t2
-c<connections> -d<duration>`` (10 s request timeout; a timed-out request counts as a socket
error). Printed per shop: requests/s, p50/p95/p99, non-2xx and socket errors, the web workers' CPU
per request (utime + stime from /proc of the server's children, before/after), the PostgreSQL CPU
per request (the backends connected to the shop's database, sampled every second), load average
before and after. Ours is started here with deploy/gunicorn.conf.py (``--workers`` × the conf's
threads, production settings) twice: with the response cache and without it. Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SALEOR_LIST = (
    'query{ products(first: 20, channel: "default-channel"){ totalCount edges{ node{ id name '
    "thumbnail(size: 256){ url } pricing{ priceRange{ start{ gross{ amount } } } } category{ name } } } } }"
)
TICK = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class BackendCpu:
    """CPU seconds of the PostgreSQL backends connected to ``db`` while the block runs."""

    def __init__(self, pg_url: str, db: str) -> None:
        self.pg_url, self.db = pg_url, db
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.stop = threading.Event()

    def _pids(self, conn) -> list[int]:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.db]
        ).fetchall()
        return [r[0] for r in rows]

    def __enter__(self) -> BackendCpu:
        import psycopg

        self.conn = psycopg.connect(self.pg_url, autocommit=True)
        for pid in self._pids(self.conn):
            self.first[pid] = self.last[pid] = _ticks(pid)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            self._sample()

    def _sample(self) -> None:
        for pid in self._pids(self.conn):
            ticks = _ticks(pid)
            self.first.setdefault(pid, 0)  # a backend started during the run: all its CPU counts
            self.last[pid] = max(self.last.get(pid, 0), ticks)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self._sample()
        self.conn.close()

    @property
    def seconds(self) -> float:
        return sum(self.last[p] - self.first.get(p, 0) for p in self.last) / TICK


def run(
    label: str, port: int, master_pid: int, body: dict, args: argparse.Namespace, pg_db: str, script: str
) -> None:
    import listing_load as L

    L.check_body(port, body, "")
    L.wrk(port, body, "", args.warmup, args.connections, script)
    before = L.load_avg()
    cpu0 = L.worker_cpu_seconds(master_pid)
    with BackendCpu(args.pg, pg_db) as pg:
        r = L.wrk(port, body, "", args.duration, args.connections, script)
    n = max(r["requests"], 1)
    print(
        f"{label:<34} {r['requests'] / r['seconds']:7.1f} req/s  p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  "
        f"p99 {r['p99']:7.1f} ms  non-2xx {r['non2xx']}  socket errors {r['socket_errors']}  "
        f"web CPU {(L.worker_cpu_seconds(master_pid) - cpu0) / n * 1000:6.1f} ms/req  "
        f"PostgreSQL CPU {pg.seconds / n * 1000:6.1f} ms/req  ({r['requests']} req in {r['seconds']:.0f} s; "
        f"load average before {before}, after {L.load_avg()})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--saleor-port", type=int, required=True)
    parser.add_argument("--saleor-pid", type=int, required=True, help="Saleor's gunicorn master pid")
    parser.add_argument("--saleor-db", required=True)
    parser.add_argument("--saleor-label", default="Saleor", help="e.g. its version and workers")
    parser.add_argument("--ours-db", required=True)
    parser.add_argument(
        "--workers", type=int, default=3, help="our gunicorn processes (the conf's default on 2 cores)"
    )
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = f"{args.pg}/{args.ours_db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ["DJANGO_DEBUG"] = "0"
    import django

    django.setup()
    import listing_load as L

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(L.LUA)
    print(
        f"conditions: {os.cpu_count()} CPUs, wrk -t2 -c{args.connections} {args.duration} s after a "
        f"{args.warmup} s warm-up, anonymous; Saleor: {args.saleor_label}, database {args.saleor_db}; ours: "
        f"gunicorn deploy/gunicorn.conf.py {args.workers} workers x {os.environ.get('GUNICORN_THREADS', '2')} "
        f"threads, {L.db_binding()}, database {args.ours_db} ({L.data_size()}); load average {L.load_avg()}",
        flush=True,
    )
    run(
        args.saleor_label,
        args.saleor_port,
        args.saleor_pid,
        {"query": SALEOR_LIST},
        args,
        args.saleor_db,
        f.name,
    )
    ours = {"query": L.LIST_QUERY, "variables": {"first": 20}}
    for cache in (300, 0):
        proc, port = L.start_gunicorn(args.workers, cache)
        try:
            run(
                f"ours, response cache {'300 s' if cache else 'off'}",
                port,
                proc.pid,
                ours,
                args,
                args.ours_db,
                f.name,
            )
        finally:
            L.stop(proc)
    os.unlink(f.name)


if __name__ == "__main__":
    main()

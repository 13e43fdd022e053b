"""Where a cached catalogue read's p99 tail comes from: worker recycles and full garbage collections.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pl_50k .venv/bin/python benchmarks/gunicorn_tail.py
    DATABASE_URL=… .venv/bin/python benchmarks/gunicorn_tail.py --config /path/to/old/gunicorn.conf.py

Runs the request shapes of benchmarks/listing_load.py (cache on, in its order, one gunicorn for all
of them) through a gunicorn configuration (default deploy/gunicorn.conf.py) extended only by a
``post_fork`` hook that times every garbage collection in each worker (``gc.callbacks``), and prints
per run: requests/s, p50/p95/p99/max, workers recycled and when, wrk's own CPU, whether the
catalogue generation moved (cache invalidation), the load average; then per worker the number of
collections per generation, their total and their longest wall time. ``--config`` points at
another configuration (e.g. an older checkout's) for a before/after in the same conditions.
``GUNICORN_MAX_REQUESTS`` as in listing_load.py (default 20,000).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import listing_load as L  # noqa: E402  (sets up Django)

from marketplace.search.sync import current_generation  # noqa: E402

GC_HOOK = r"""
import gc as _gc, json as _json, os as _os, time as _time
exec(compile(open(_os.environ["TAIL_BASE_CONF"]).read(), _os.environ["TAIL_BASE_CONF"], "exec"))
_base_post_fork = globals().get("post_fork")


def post_fork(server, worker):
    if _base_post_fork:
        _base_post_fork(server, worker)
    stats = {"n": [0, 0, 0], "ms": [0.0, 0.0, 0.0], "max": [0.0, 0.0, 0.0]}
    started = {}
    out = _os.path.join(_os.environ["TAIL_GC_DIR"], f"{_os.getpid()}.json")

    def timed(phase, info):
        if phase == "start":
            started["t"] = _time.perf_counter()
            return
        g, ms = info["generation"], (_time.perf_counter() - started.get("t", _time.perf_counter())) * 1000
        stats["n"][g] += 1
        stats["ms"][g] += ms
        stats["max"][g] = max(stats["max"][g], ms)
        if g == 2 or stats["n"][g] % 100 == 0:
            with open(out, "w") as f:
                _json.dump(stats, f)

    _gc.callbacks.append(timed)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(L.ROOT / "deploy" / "gunicorn.conf.py"))
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    gc_dir = tempfile.mkdtemp(prefix="gunicorn-tail-")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as hook:
        hook.write(GC_HOOK)
    os.environ.update({"TAIL_BASE_CONF": str(Path(args.config).resolve()), "TAIL_GC_DIR": gc_dir})
    print(
        f"conditions: {os.cpu_count()} CPUs, data: {L.data_size()}, config {args.config} + GC timing, "
        f"max_requests {os.environ.get('GUNICORN_MAX_REQUESTS', L.MAX_REQUESTS)}, load average {L.load_avg()}",
        flush=True,
    )
    runs = L.scenarios()
    real_popen = L.subprocess.Popen

    def popen(argv, **kwargs):  # noqa: ANN001, ANN202  (start_gunicorn with the extended config)
        return real_popen([hook.name if a == "deploy/gunicorn.conf.py" else a for a in argv], **kwargs)

    L.subprocess.Popen = popen
    proc, port = L.start_gunicorn(2, 300)
    L.subprocess.Popen = real_popen
    t0 = time.monotonic()
    changes: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        seen = L.worker_pids(proc.pid)
        while not stop.wait(0.2):
            now = L.worker_pids(proc.pid)
            if now - seen:
                changes.append(f"{time.monotonic() - t0:.1f} s")
            seen |= now

    threading.Thread(target=watch, daemon=True).start()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(L.LUA)
        for label, body in runs:
            L.check_body(port, body, "")
            L.wrk(port, body, "", args.warmup, args.connections, script.name)
            load, generation, recycles = L.load_avg(), current_generation(), len(changes)
            start = f"{time.monotonic() - t0:.0f} s"
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = L.wrk(port, body, "", args.duration, args.connections, script.name)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            wrk_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
            print(
                f"{label:<24} {r['requests'] / r['seconds']:6.1f} req/s  p50 {r['p50']:6.1f}  p95 {r['p95']:6.1f}  "
                f"p99 {r['p99']:7.1f}  max {r['max']:7.1f} ms  recycled {len(changes) - recycles} "
                f"(run from {start}: {', '.join(changes[recycles:]) or '-'})  wrk CPU {wrk_cpu:.1f} s  "
                f"generation {generation} -> {current_generation()}  load average {load} -> {L.load_avg()}",
                flush=True,
            )
        os.unlink(script.name)
    finally:
        stop.set()
        L.stop(proc)
        os.unlink(hook.name)
    for path in sorted(Path(gc_dir).glob("*.json")):
        s = json.loads(path.read_text())
        print(
            f"worker {path.stem}: collections gen0/1/2 {s['n'][0]}/{s['n'][1]}/{s['n'][2]}, total "
            f"{'/'.join(f'{x:.0f}' for x in s['ms'])} ms, longest {'/'.join(f'{x:.0f}' for x in s['max'])} ms (wall)",
            flush=True,
        )
    print(f"done: load average {L.load_avg()}", flush=True)


if __name__ == "__main__":
    main()

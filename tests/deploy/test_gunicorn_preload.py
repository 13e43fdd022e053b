"""deploy/gunicorn.conf.py loads and warms the application once, in the master (issue #14's p99).

A worker recycled by ``max_requests`` used to import Django, the URLconf, the GraphQL schema and
jieba's dictionary again (seconds of CPU) while its connections waited. Now the master preloads
the application and :func:`marketplace.core.warmup.warm_up` builds the rest before the first fork.
These tests check what warm_up leaves behind in a fresh interpreter, and that real preloaded
workers, recycled every few requests, keep answering concurrent requests (a database connection
opened in the master and shared by the forks would garble them).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]

WARM_UP_PROBE = """
import gc, json, sys, threading
import django
django.setup()
from django.db import connections
from marketplace.core.warmup import warm_up
before = {m: m in sys.modules for m in ("storefront.urls", "marketplace.graphql.schema")}
warm_up()
import jieba
print(json.dumps({
    "before": before,
    "after": {m: m in sys.modules for m in ("storefront.urls", "marketplace.graphql.schema")},
    "jieba": jieba.dt.initialized,
    "frozen": gc.get_freeze_count(),
    "threads": threading.active_count(),
    "connections": [c.connection is not None for c in connections.all(initialized_only=True)],
}))
"""


def test_warm_up_builds_what_the_first_requests_would_and_keeps_no_connection():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "marketplace.settings"}
    out = subprocess.run(
        [sys.executable, "-c", WARM_UP_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    state = json.loads(out.strip().splitlines()[-1])
    assert state["before"] == {"storefront.urls": False, "marketplace.graphql.schema": False}
    assert state["after"] == {"storefront.urls": True, "marketplace.graphql.schema": True}
    assert state["jieba"] is True
    assert state["frozen"] > 10_000  # the loaded application, out of the collector's reach
    assert state["threads"] == 1, "no thread may be running in a process about to fork"
    assert not any(state["connections"]), "a forked worker must not inherit a database connection"


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ask(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST", "/graphql/", '{"query": "{ categories { name } }"}', {"Content-Type": "application/json"}
        )
        response = conn.getresponse()
        return {"status": response.status, "body": json.loads(response.read())}
    finally:
        conn.close()


@pytest.mark.django_db(transaction=True)
def test_preloaded_workers_recycled_every_few_requests_answer_concurrent_requests(tmp_path):
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "MARKETPLACE_ENV": "production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_MAX_REQUESTS": "3",  # + up to 1 of jitter: a recycle every 3-4 requests per worker
        "LOG_LEVEL": "INFO",
    }
    env.pop("REDIS_URL", None)  # per-process cache: each recycled worker starts with an empty one
    with open(log, "w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                first = _ask(port)
                break
            except OSError:
                assert server.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.5)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = [first, *pool.map(lambda _: _ask(port), range(40))]
    finally:
        server.terminate()
        server.wait(timeout=60)
    text = log.read_text()
    assert all(a == {"status": 200, "body": {"data": {"categories": []}}} for a in answers), answers
    assert text.count("Application preloaded and warmed in the master") == 1
    assert text.count("Autorestarting worker") >= 6, text[-3000:]

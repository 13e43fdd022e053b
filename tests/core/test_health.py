"""/healthz and /readyz against the real database and a real Redis the test starts and stops."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from django.test import Client, override_settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def own_redis() -> Iterator[tuple[int, subprocess.Popen]]:
    """A Redis server of the test's own on a free port (not the suite's Redis)."""
    assert shutil.which("redis-server"), "redis-server must be installed (Debian: redis-server)"
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="readyz-redis-")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not _answers(port):
        assert proc.poll() is None and time.monotonic() < deadline, "own redis-server did not start"
        time.sleep(0.05)
    yield port, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(10)
    shutil.rmtree(workdir, ignore_errors=True)


def _redis_settings(port: int) -> dict:
    return {
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{port}/0",
        "CACHES": {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{port}/1",
                "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
            }
        },
    }


@pytest.mark.django_db
def test_healthz_is_alive_without_dependencies():
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_embedded_default_reports_each_dependency():
    with override_settings(CELERY_BROKER_URL="", ELASTICSEARCH_URL=""):
        response = Client().get("/readyz")
    assert response.status_code == 200
    checks = response.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "disabled"
    assert checks["cache"]["status"] == "ok"
    assert checks["search"]["status"] == "database"


@pytest.mark.django_db
def test_readyz_with_redis_up_then_stopped(own_redis):
    port, proc = own_redis
    with override_settings(**_redis_settings(port), ELASTICSEARCH_URL=""):
        up = Client().get("/readyz")
        assert up.status_code == 200, up.content
        assert up.json()["status"] == "ready"
        assert {k: v["status"] for k, v in up.json()["checks"].items()} == {
            "database": "ok",
            "broker": "ok",
            "cache": "ok",
            "search": "database",
        }
        proc.terminate()
        proc.wait(10)
        assert not _answers(port)
        down = Client().get("/readyz")
    assert down.status_code == 503
    body = down.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "error"
    assert body["checks"]["cache"]["status"] == "error"
    assert "127.0.0.1" not in down.content.decode()  # no internal addresses leave the process
    assert Client().get("/healthz").status_code == 200  # still alive: not restarted for an outage


@pytest.mark.django_db
def test_readyz_search_backend_unreachable():
    port = _free_port()  # nothing listens there
    with override_settings(ELASTICSEARCH_URL=f"http://127.0.0.1:{port}", CELERY_BROKER_URL=""):
        response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["search"]["status"] == "error"
    assert response.json()["checks"]["database"]["status"] == "ok"


@pytest.mark.django_db(transaction=True)
def test_readyz_database_unreachable():
    from django.db import connections

    db = connections["default"]
    original = dict(db.settings_dict)
    db.close()
    if db.vendor == "postgresql":
        db.settings_dict["PORT"] = str(_free_port())  # nothing listens there
    else:
        db.settings_dict["NAME"] = "/nonexistent-folder/marketplace.sqlite3"
    try:
        response = Client().get("/readyz")
    finally:
        db.close()
        db.settings_dict.clear()
        db.settings_dict.update(original)
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "error"

"""Health endpoints for load balancers and orchestrators.

* ``/healthz`` — liveness: the process answers (touches nothing else, so a database outage does
  not make the orchestrator restart every web process).
* ``/readyz`` — readiness: database, broker, cache and search backend, each reported with its
  state and time; any failing dependency answers 503 so the instance is taken out of rotation.
  A dependency that is not configured (embedded default: no broker, database search) is reported
  as ``disabled`` and does not count as a failure.

Errors are reported by exception class only (no host names or messages leave the process).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

CHECK_TIMEOUT_SECONDS = 2.0


def check_database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_broker() -> str:
    if not settings.CELERY_BROKER_URL:
        return "disabled"
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT_SECONDS)
        conn.default_channel  # noqa: B018  (opens a channel: Redis is pinged, AMQP handshakes)
    return "ok"


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value written")
    cache.delete(key)
    return "ok"


def check_search() -> str:
    if not settings.ELASTICSEARCH_URL:
        return "database"
    from marketplace.search.es import client, index_name

    health = client().options(request_timeout=CHECK_TIMEOUT_SECONDS).cluster.health(index=index_name())
    if health["status"] == "red":
        raise RuntimeError("search index is red")
    return "ok"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "cache": check_cache,
    "search": check_search,
}


def readiness() -> tuple[bool, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, object]] = {}
    ready = True
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            state: dict[str, object] = {"status": check()}
        except Exception as exc:  # every failure is reported, none is raised
            ready = False
            state = {"status": "error", "error": type(exc).__name__}
        state["ms"] = round((time.monotonic() - started) * 1000, 1)
        results[name] = state
    return ready, results


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    ready, checks = readiness()
    return JsonResponse(
        {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
    )

"""A task goes through the configured broker (Redis in CI) to a real worker and back."""

from __future__ import annotations

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from marketplace.celery import app
from marketplace.core.tasks import purge_expired_api_tokens


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_broker():
    broker = settings.CELERY_BROKER_URL or "memory://"
    backend = "redis://127.0.0.1:6379/2" if broker.startswith("redis://") else "cache+memory://"
    app.conf.update(task_always_eager=False, broker_url=broker, result_backend=backend)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            result = purge_expired_api_tokens.delay()
            assert result.get(timeout=30) == 0
    finally:
        app.conf.update(task_always_eager=True)

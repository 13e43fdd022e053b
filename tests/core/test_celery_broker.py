"""A task goes through the configured broker (Redis in CI) to a real worker, which does the work."""

from __future__ import annotations

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from marketplace.celery import app
from marketplace.core.models import Notification
from marketplace.core.tasks import deliver_notification


@pytest.mark.django_db(transaction=True)
def test_task_round_trip_through_broker():
    note = Notification.objects.create(recipient="13812345678", text="到货通知")
    broker = settings.CELERY_BROKER_URL or "memory://"
    app.conf.update(task_always_eager=False, broker_url=broker)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            deliver_notification.delay(note.pk)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                note.refresh_from_db()
                if note.status != Notification.Status.QUEUED:
                    break
                time.sleep(0.2)
    finally:
        app.conf.update(task_always_eager=True)
    assert note.status == Notification.Status.SENT
    assert note.provider_id.startswith("log-")

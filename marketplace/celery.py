"""Celery application. With CELERY_BROKER_URL unset, tasks run in-process (CELERY_TASK_ALWAYS_EAGER)
and `manage.py run_periodic` runs the beat schedule without a broker."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def beat_schedule() -> dict[str, dict[str, Any]]:
    """The core's periodic tasks plus every installed plugin's (extension point `periodic_tasks`)."""
    from marketplace.core.extensions import collect
    from marketplace.core.tasks import CORE_PERIODIC_TASKS

    schedule = dict(CORE_PERIODIC_TASKS)
    schedule.update(dict(collect("periodic_tasks")))
    return schedule


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs: Any) -> None:
    sender.conf.beat_schedule = beat_schedule()


# The request id of whoever queued a task goes with it into the worker's log lines.
from marketplace.core.logs import install_celery_signals  # noqa: E402

install_celery_signals()

"""Run the Celery beat schedule without a broker (embedded default).

Uses Celery's own schedule objects (`schedule`, `crontab`) to decide what is due, then runs the
task in-process. With a broker, run `celery -A marketplace beat` instead.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from typing import Any

from celery.schedules import BaseSchedule, schedule
from django.utils import timezone

logger = logging.getLogger("marketplace.periodic")


def _as_schedule(value: Any) -> BaseSchedule:
    if isinstance(value, BaseSchedule):
        return value
    if isinstance(value, timedelta):
        return schedule(run_every=value)
    return schedule(run_every=timedelta(seconds=float(value)))


class EmbeddedBeat:
    def __init__(self, entries: dict[str, dict[str, Any]] | None = None) -> None:
        from marketplace.celery import app, beat_schedule

        self.app = app
        app.loader.import_default_modules()  # runs autodiscovery: every app's tasks.py is registered
        self.entries = entries if entries is not None else beat_schedule()
        self.last_run: dict[str, datetime] = {}

    def run_due(self, now: datetime | None = None, force: bool = False) -> list[str]:
        """Run every due entry once; returns the names that ran."""
        now = now or timezone.now()
        ran = []
        for name, entry in self.entries.items():
            sched = _as_schedule(entry["schedule"])
            last = self.last_run.get(name)
            due = force or last is None or sched.is_due(last).is_due
            if not due:
                continue
            self.last_run[name] = now
            try:
                task = self.app.tasks[entry["task"]]
                task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}), throw=True)
                ran.append(name)
            except Exception:
                logger.exception("periodic task %s failed", name)
        return ran

    def run_forever(self, interval: float = 30.0, stop: threading.Event | None = None) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            self.run_due()
            stop.wait(interval)


def start_in_thread(interval: float = 30.0) -> threading.Event:
    stop = threading.Event()
    beat = EmbeddedBeat()
    thread = threading.Thread(
        target=beat.run_forever, args=(interval, stop), daemon=True, name="embedded-beat"
    )
    time.sleep(0)
    thread.start()
    return stop

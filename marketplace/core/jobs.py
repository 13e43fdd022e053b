"""Background jobs on a row: queued → running → done/failed, resumed when its process dies.

A record whose slow part runs in the background (a delivery plan being solved, a bag plan being
worked out) mixes in :class:`JobFields`; its plugin's services then call, in this order:

- in the request: :func:`mark_queued` and :func:`enqueue` (after the commit: the Celery task when
  there is a broker; a daemon thread of this process when there is none — the embedded default;
  inline at once when the model's in-thread setting is off, as in tests);
- in the task body: :func:`claim` first (once: a redelivered task finds the row claimed and does
  nothing), the work inside :func:`heartbeat`, and :func:`fail` when it raised;
- from the plugin's periodic task and its page poll: :func:`resume_stale`, which queues again a job
  whose process died (no heartbeat) and gives up after ``max_attempts``.

The settings each model reads are named by its class attributes (``job_in_thread_setting`` …);
they default to ``JOBS_IN_THREAD``, ``JOBS_HEARTBEAT_SECONDS`` and ``JOBS_HEARTBEAT_STALE_SECONDS``
(docs/settings.md), which a model's own setting overrides when it names another (the delivery
planner keeps its ``ROUTING_*`` names).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.db import connections, models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)

DEFAULT_IN_THREAD = True
DEFAULT_HEARTBEAT_SECONDS = 5.0
DEFAULT_STALE_SECONDS = 30.0


class JobStatus(models.TextChoices):
    """State of the background job, shown and polled by the record's page."""

    QUEUED = "queued", _("排队中")
    RUNNING = "running", _("求解中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("失败")


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobFields(models.Model):
    """The job fields of a record computed in the background, and what they say."""

    Job: ClassVar[type[JobStatus]] = JobStatus
    #: Names of the settings this model's jobs read (each falls back to the generic JOBS_* one).
    job_in_thread_setting: ClassVar[str] = "JOBS_IN_THREAD"
    job_heartbeat_setting: ClassVar[str] = "JOBS_HEARTBEAT_SECONDS"
    job_stale_setting: ClassVar[str] = "JOBS_HEARTBEAT_STALE_SECONDS"
    #: Threads of this model's jobs are named ``<prefix>-<pk>`` and ``<prefix>-heartbeat-<pk>``.
    job_thread_prefix: ClassVar[str] = "job"

    job_status = models.CharField(_("求解任务"), max_length=8, choices=JobStatus.choices, blank=True)
    job_queued_at = models.DateTimeField(null=True, blank=True)
    job_started_at = models.DateTimeField(null=True, blank=True)
    #: Touched every few seconds by the process that runs the job: a running job whose heartbeat
    #: stopped lost its process (a restart of the web process that ran it in a thread, a killed
    #: worker) and is queued again (:func:`resume_stale`).
    job_heartbeat_at = models.DateTimeField(null=True, blank=True)
    #: How many times this job was started; > 1 means it was resumed after its process died.
    job_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def job_budget_s(self) -> float:
        """How long the job may take (a queued job with a broker may wait behind others this long
        twice over before it counts as lost). Models with a time budget override it."""
        return 0.0

    @property
    def job_active(self) -> bool:
        return self.job_status in ACTIVE

    @property
    def job_stale(self) -> bool:
        """A job whose process died: running without a heartbeat for the stale setting's seconds,
        or queued and never picked up (in a thread: within that time too; with a broker the task
        may wait behind others, so only after twice its budget and ten minutes more)."""
        now = timezone.now()
        limit = timedelta(seconds=setting(type(self), "stale"))
        if self.job_status == JobStatus.RUNNING:
            beat = self.job_heartbeat_at or self.job_started_at
            return beat is None or now - beat > limit
        if self.job_status == JobStatus.QUEUED and self.job_queued_at is not None:
            if has_broker():  # the task may be waiting in line
                limit += timedelta(seconds=self.job_budget_s * 2 + 600)
            return now - self.job_queued_at > limit
        return False

    @property
    def job_resumed(self) -> bool:
        """Queued or running again after an earlier attempt lost its process."""
        if self.job_status == JobStatus.QUEUED:
            return self.job_attempts >= 1
        return self.job_status == JobStatus.RUNNING and self.job_attempts > 1

    @property
    def job_elapsed_s(self) -> float:
        """Seconds the running job has used so far (0 while queued or when not running)."""
        if self.job_status != JobStatus.RUNNING or self.job_started_at is None:
            return 0.0
        return max(0.0, (timezone.now() - self.job_started_at).total_seconds())


M = TypeVar("M", bound=JobFields)

_SETTINGS: dict[str, tuple[str, str, Any]] = {
    "in_thread": ("job_in_thread_setting", "JOBS_IN_THREAD", DEFAULT_IN_THREAD),
    "heartbeat": ("job_heartbeat_setting", "JOBS_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS),
    "stale": ("job_stale_setting", "JOBS_HEARTBEAT_STALE_SECONDS", DEFAULT_STALE_SECONDS),
}


def setting(model: type[JobFields], which: str) -> Any:
    """The model's value of ``in_thread`` / ``heartbeat`` / ``stale``: its own setting if set, else
    the generic ``JOBS_*`` one, else the default."""
    attr, generic, default = _SETTINGS[which]
    value: Any = getattr(settings, getattr(model, attr), None)
    if value is None:
        value = getattr(settings, generic, default)
    return bool(value) if which == "in_thread" else float(value)


def has_broker() -> bool:
    """Tasks go to a Celery broker (else they run in this process)."""
    from marketplace.celery import app

    return not app.conf.task_always_eager


def mark_queued(obj: JobFields, *, reset_attempts: bool = True) -> list[str]:
    """Set ``obj``'s job fields to a fresh queued job (not saved); returns the fields changed."""
    obj.job_status = JobStatus.QUEUED
    obj.job_queued_at, obj.job_started_at, obj.job_heartbeat_at = timezone.now(), None, None
    fields = ["job_status", "job_queued_at", "job_started_at", "job_heartbeat_at"]
    if reset_attempts:
        obj.job_attempts = 0
        fields.append("job_attempts")
    return fields


def enqueue(model: type[JobFields], task: Any, pk: int) -> None:
    """Run the Celery ``task`` for row ``pk``: queued after the commit when there is a broker; in a
    daemon thread of this process after the commit when there is none and the model's in-thread
    setting is on (the embedded default); at once, inline, when it is off (tests)."""
    if has_broker():
        transaction.on_commit(lambda: task.delay(pk))
    elif setting(model, "in_thread"):
        transaction.on_commit(lambda: start_thread(task, pk, name=f"{model.job_thread_prefix}-{pk}"))
    else:
        task.apply(args=(pk,), throw=True)


def start_thread(task: Any, pk: int, *, name: str) -> threading.Thread:
    """Run ``task`` for ``pk`` in a daemon thread (its own database connection, closed at the end)."""

    def run() -> None:
        try:
            task.apply(args=(pk,), throw=False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def claim(model: type[JobFields], pk: int) -> bool:
    """Take the queued job of row ``pk`` (running, attempt + 1); False when it is not queued (a
    redelivered task, a job already run, a row gone): the caller then does nothing."""
    now = timezone.now()
    return bool(
        model._default_manager.filter(pk=pk, job_status=JobStatus.QUEUED).update(
            job_status=JobStatus.RUNNING,
            job_started_at=now,
            job_heartbeat_at=now,
            job_attempts=F("job_attempts") + 1,
        )
    )


@contextmanager
def heartbeat(model: type[JobFields], pk: int) -> Iterator[None]:
    """Touch the running row's ``job_heartbeat_at`` every heartbeat-setting seconds until the block
    ends (a daemon thread: it dies with the process, which is the point)."""
    stop = threading.Event()
    every = setting(model, "heartbeat")

    def beat() -> None:
        try:
            while not stop.wait(every):
                model._default_manager.filter(pk=pk, job_status=JobStatus.RUNNING).update(
                    job_heartbeat_at=timezone.now()
                )
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"{model.job_thread_prefix}-heartbeat-{pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=every + 5)


def fail(model: type[JobFields], pk: int, **fields: Any) -> None:
    """Mark the job of row ``pk`` failed, with the record's own outcome ``fields`` (status, message)."""
    model._default_manager.filter(pk=pk).update(job_status=JobStatus.FAILED, **fields)


def resume_stale(
    model: type[M],
    rows: Iterable[M] | None,
    *,
    requeue: Callable[[int], None],
    give_up: Callable[[M], None],
    max_attempts: int,
) -> list[int]:
    """Queue again every job of ``model`` (of ``rows`` when given) whose process died
    (:attr:`JobFields.job_stale`): ``requeue(pk)`` is called inside the row's transaction after it
    was marked queued (attempts kept). A job that already lost its process ``max_attempts`` times is
    handed to ``give_up(row)`` instead (it may be what kills the process). Returns the ids queued
    again; rows another caller is resuming right now are skipped."""
    candidates = model._default_manager.filter(job_status__in=ACTIVE)
    if rows is not None:
        candidates = candidates.filter(pk__in=[r.pk for r in rows])
    label = model._meta.label_lower
    resumed: list[int] = []
    for row in candidates:
        if not row.job_stale:
            continue
        with transaction.atomic():
            locked = model._default_manager.select_for_update(skip_locked=True).filter(pk=row.pk).first()
            if locked is None or not locked.job_active or not locked.job_stale:
                continue
            if locked.job_status == JobStatus.RUNNING and locked.job_attempts >= max_attempts:
                logger.error(
                    "%s %s: job lost its process %s times, given up", label, locked.pk, locked.job_attempts
                )
                give_up(locked)
                continue
            logger.warning(
                "%s %s: job %s without a live process, queued again", label, locked.pk, locked.job_status
            )
            locked.save(update_fields=mark_queued(locked, reset_attempts=False))
            requeue(locked.pk)
        resumed.append(locked.pk)
    return resumed

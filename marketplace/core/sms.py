"""SMS gateway interface. Production plugs in a provider by dotted path (settings.SMS_BACKEND)."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from . import ratelimits
from .models import Notification

logger = logging.getLogger("marketplace.sms")


class SMSBackend(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Send one message; return the provider's message id or raise on failure."""


class LoggingSMSBackend:
    """Default backend (no gateway): the Notification row is the record; the log says only that a
    message was handled, never the number or the text (pickup codes, names)."""

    def send(self, phone: str, text: str) -> str:
        message_id = f"log-{uuid.uuid4().hex[:12]}"
        logger.info("SMS %s recorded (%d characters, no gateway configured)", message_id, len(text))
        return message_id


def get_backend() -> SMSBackend:
    return import_string(settings.SMS_BACKEND)()


def send_sms(phone: str, text: str, dedupe_key: str | None = None) -> Notification | None:
    """Record and send one SMS. With a dedupe_key, a second call for the same event sends nothing."""
    if not phone:
        return None
    try:
        with transaction.atomic():
            note = Notification.objects.create(
                channel=Notification.Channel.SMS, recipient=phone, text=text, dedupe_key=dedupe_key
            )
    except IntegrityError:
        return None
    from .tasks import deliver_notification

    transaction.on_commit(lambda: deliver_notification.delay(note.pk))
    return note


def queue_delivery(notification_ids: list[int]) -> None:
    """After the current transaction commits, enqueue ONE task that delivers these rows (a batch of a
    bulk insert), not one task per message. Outside a transaction it is enqueued at once."""
    if not notification_ids:
        return
    from .tasks import deliver_notifications

    ids = list(notification_ids)
    transaction.on_commit(lambda: deliver_notifications.delay(ids))


def deliver_many(notification_ids: list[int], batch: int = 1000) -> int:
    """Send the still-queued rows among ``notification_ids``; returns how many were sent.

    Each batch is one transaction: rows are locked while they are sent (``SKIP LOCKED``: two workers
    never send the same message; rows already sent or failed are skipped, so re-running is harmless)
    and their results are written back in one statement."""
    backend = get_backend()
    sent = 0
    for start in range(0, len(notification_ids), batch):
        with transaction.atomic():
            notes = list(
                Notification.objects.select_for_update(skip_locked=True)
                .filter(pk__in=notification_ids[start : start + batch], status=Notification.Status.QUEUED)
                .order_by("pk")
            )
            for note in notes:
                if not ratelimits.sms_send_allowed(note.recipient):
                    _refuse_flood(note)
                    continue
                try:
                    note.provider_id = backend.send(note.recipient, note.text)
                    note.status = Notification.Status.SENT
                    note.sent_at = timezone.now()
                    sent += 1
                except Exception as exc:  # recorded, not raised: one bad number must not stop the batch
                    logger.warning("SMS %s delivery failed: %s", note.pk, type(exc).__name__)
                    note.status = Notification.Status.FAILED
                    note.error = str(exc)[:255]
            _save_results(notes)
    return sent


def _refuse_flood(note: Notification) -> None:
    """Over SMS_PER_PHONE_RATE for this number: recorded as failed, not sent."""
    logger.warning("SMS %s not sent: per-number rate limit reached", note.pk)
    note.status = Notification.Status.FAILED
    note.error = "rate_limited"


def _save_results(notes: list[Notification]) -> None:
    """One UPDATE … FROM (VALUES …) per batch on PostgreSQL (Django's bulk_update CASE chains are slow)."""
    from django.db import connection

    if not notes:
        return
    if connection.vendor != "postgresql":
        Notification.objects.bulk_update(notes, ["provider_id", "status", "sent_at", "error"], batch_size=500)
        return
    table = Notification._meta.db_table
    rows = ", ".join(["(%s::bigint, %s, %s, %s::timestamptz, %s)"] * len(notes))
    params: list = []
    for n in notes:
        params += [n.pk, n.provider_id, n.status, n.sent_at, n.error]
    with connection.cursor() as cursor:
        cursor.execute(
            f'UPDATE "{table}" AS n SET provider_id = v.pid, status = v.st, sent_at = v.sent, error = v.err '
            f"FROM (VALUES {rows}) AS v(id, pid, st, sent, err) WHERE n.id = v.id",
            params,
        )


def deliver(notification_id: int) -> None:
    note = Notification.objects.filter(pk=notification_id, status=Notification.Status.QUEUED).first()
    if note is None:
        return
    if not ratelimits.sms_send_allowed(note.recipient):
        _refuse_flood(note)
        note.save(update_fields=["status", "error"])
        return
    try:
        note.provider_id = get_backend().send(note.recipient, note.text)
        note.status = Notification.Status.SENT
        note.sent_at = timezone.now()
    except Exception as exc:  # the provider's failure is recorded, not raised into the caller
        logger.exception("SMS delivery failed")
        note.status = Notification.Status.FAILED
        note.error = str(exc)[:255]
    note.save(update_fields=["provider_id", "status", "sent_at", "error"])

"""SMS gateway interface. Production plugs in a provider by dotted path (settings.SMS_BACKEND)."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import Notification

logger = logging.getLogger("marketplace.sms")


class SMSBackend(Protocol):
    def send(self, phone: str, text: str) -> str:
        """Send one message; return the provider's message id or raise on failure."""


class LoggingSMSBackend:
    """Default backend: writes the message to the log. The Notification row is the record."""

    def send(self, phone: str, text: str) -> str:
        logger.info("SMS to %s: %s", phone, text)
        return f"log-{uuid.uuid4().hex[:12]}"


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


def deliver(notification_id: int) -> None:
    note = Notification.objects.filter(pk=notification_id, status=Notification.Status.QUEUED).first()
    if note is None:
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

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(name="plugins.group_orders.tasks.close_due_campaigns", acks_late=True)
def close_due_campaigns() -> list[int]:
    from .closing import close_due_campaigns as run

    return run()


@shared_task(name="plugins.group_orders.tasks.close_campaign", acks_late=True)
def close_campaign(campaign_id: int) -> int:
    from .closing import close_campaign as run

    return run(campaign_id, force=False).pk


@shared_task(name="plugins.group_orders.tasks.expire_uncollected")
def expire_uncollected() -> int:
    from .services import expire_uncollected as run

    return run()


@shared_task(name="plugins.group_orders.tasks.monthly_commission_statements")
def monthly_commission_statements() -> int:
    """On the 1st: statements for the month that just ended (re-running rebuilds them)."""
    from datetime import timedelta

    from marketplace.payments.services import generate_monthly_statements

    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    return generate_monthly_statements(last_month)


@shared_task(
    name="plugins.group_orders.tasks.deliver_notifications", autoretry_for=(ConnectionError,), max_retries=5
)
def deliver_notifications(dedupe_keys: list[str]) -> int:
    """Send queued SMS rows in one batch through the configured gateway (settings.SMS_BACKEND)."""
    from django.db import transaction

    from marketplace.core.models import Notification
    from marketplace.core.sms import get_backend

    backend = get_backend()
    sent = 0
    for start in range(0, len(dedupe_keys), 1000):
        with transaction.atomic():
            # Rows are locked while they are sent: two workers never send the same message.
            notes = list(
                Notification.objects.select_for_update(skip_locked=True).filter(
                    dedupe_key__in=dedupe_keys[start : start + 1000], status=Notification.Status.QUEUED
                )
            )
            for note in notes:
                try:
                    note.provider_id = backend.send(note.recipient, note.text)
                    note.status = Notification.Status.SENT
                    note.sent_at = timezone.now()
                    sent += 1
                except Exception as exc:  # recorded, not raised: one bad number must not stop the batch
                    note.status = Notification.Status.FAILED
                    note.error = str(exc)[:255]
            _save_results(notes)
    return sent


def _save_results(notes: list) -> None:
    """One UPDATE … FROM (VALUES …) per batch on PostgreSQL (Django's bulk_update CASE chains are slow)."""
    from django.db import connection

    from marketplace.core.models import Notification

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

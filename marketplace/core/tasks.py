from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

CORE_PERIODIC_TASKS = {
    "core.purge-expired-api-tokens": {
        "task": "marketplace.core.tasks.purge_expired_api_tokens",
        "schedule": timedelta(hours=6).total_seconds(),
    },
    "catalogue.enforce-licences": {
        "task": "marketplace.catalogue.enforce_licences",
        "schedule": timedelta(hours=1).total_seconds(),
    },
}


@shared_task(
    name="marketplace.core.tasks.deliver_notification", autoretry_for=(ConnectionError,), max_retries=5
)
def deliver_notification(notification_id: int) -> None:
    from .sms import deliver

    deliver(notification_id)


@shared_task(
    name="marketplace.core.tasks.deliver_notifications", autoretry_for=(ConnectionError,), max_retries=5
)
def deliver_notifications(notification_ids: list[int]) -> int:
    """Deliver a batch of queued notifications (one task per bulk insert, not one per message)."""
    from .sms import deliver_many

    return deliver_many(notification_ids)


@shared_task(name="marketplace.core.tasks.purge_expired_api_tokens")
def purge_expired_api_tokens() -> int:
    from marketplace.accounts.models import ApiToken

    deleted, _ = ApiToken.objects.filter(expires_at__lt=timezone.now() - timedelta(days=30)).delete()
    return deleted

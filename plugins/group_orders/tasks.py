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


@shared_task(name="plugins.group_orders.tasks.announce_orders", acks_late=True)
def announce_orders(campaign_id: int, step: str, order_ids: list[int]) -> int:
    """Oscar's ``order_placed`` for the orders of one settled close chunk (exactly once)."""
    from .closing import announce_orders as run

    return run(campaign_id, step, order_ids)


@shared_task(name="plugins.group_orders.tasks.cancel_abandoned_payments")
def cancel_abandoned_payments() -> int:
    """Pending online pledge payments older than an hour: completed if Stripe says so, else cancelled."""
    from .online import cancel_abandoned_payments as run

    return run()


@shared_task(name="plugins.group_orders.tasks.reauthorise_card_pledges")
def reauthorise_card_pledges() -> int:
    """Hourly: card authorisations of open pledges renewed before Stripe's ~7-day window ends."""
    from .online import reauthorise_card_pledges as run

    return run()


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
    """Kept for messages queued before delivery moved to the core task (by dedupe key, not id)."""
    from marketplace.core.models import Notification
    from marketplace.core.sms import deliver_many

    ids = list(Notification.objects.filter(dedupe_key__in=dedupe_keys).values_list("pk", flat=True))
    return deliver_many(ids)

from __future__ import annotations

from celery import shared_task


@shared_task(name="plugins.produce.tasks.close_due_rounds")
def close_due_rounds() -> int:
    from .services import close_due_rounds as close

    return close()


@shared_task(name="plugins.produce.tasks.cancel_abandoned_checkouts")
def cancel_abandoned_checkouts() -> int:
    from .services import cancel_abandoned_checkouts as cancel

    return cancel()


@shared_task(name="plugins.produce.tasks.reauthorise_due_payments")
def reauthorise_due_payments() -> int:
    from .services import reauthorise_due_payments as renew

    return renew()

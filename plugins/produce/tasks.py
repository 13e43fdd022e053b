from __future__ import annotations

from celery import shared_task


@shared_task(name="plugins.produce.tasks.close_due_rounds")
def close_due_rounds() -> int:
    from .services import close_due_rounds as close

    return close()

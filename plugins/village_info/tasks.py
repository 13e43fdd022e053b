from __future__ import annotations

from celery import shared_task


@shared_task(
    name="plugins.village_info.tasks.fan_out_notice",
    acks_late=True,
    max_retries=3,
    autoretry_for=(ConnectionError,),
)
def fan_out_notice(notice_id: int) -> int:
    """Deliver a published notice to its stations and opted-in households (re-runnable)."""
    from .services import fan_out

    notice = fan_out(notice_id)
    return notice.sms_queued if notice else 0


@shared_task(name="plugins.village_info.tasks.publish_due_notices")
def publish_due_notices() -> int:
    from .services import publish_due_notices as publish

    return publish()


@shared_task(name="plugins.village_info.tasks.snapshot_input_prices")
def snapshot_input_prices() -> int:
    from .services import snapshot_input_prices as snapshot

    return snapshot()

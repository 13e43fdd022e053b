"""Celery tasks of the fertilizer plugin: bag plans are worked out in the background."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="fertilizer.solve_bag_plan", acks_late=True)
def solve_bag_plan(plan_id: int) -> str:
    """Work out a queued bag plan (offers → least-cost whole bags); returns the plan's status.

    Queued by ``services.create_plan``; a redelivered task finds the plan no longer queued and does
    nothing."""
    from .services import run_plan_job

    return run_plan_job(plan_id)


@shared_task(name="fertilizer.resume_stale_plans")
def resume_stale_plans() -> list[int]:
    """Periodic: queue again the bag plans whose job lost its process; returns their ids."""
    from .services import resume_stale_plans as resume

    return resume()

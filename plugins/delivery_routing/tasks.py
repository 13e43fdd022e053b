"""Celery tasks of the delivery planner."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="delivery_routing.solve_plan", acks_late=True)
def solve_plan(plan_id: int) -> str:
    """Solve (or re-solve) a queued plan within its time budget; returns the resulting status.

    Queued by ``services.request_solve``; a redelivered task finds the plan no longer queued and
    does nothing."""
    from .services import run_solve_job

    return run_solve_job(plan_id)


@shared_task(name="delivery_routing.resume_stale_solves")
def resume_stale_solves() -> list[int]:
    """Periodic: queue again the solves whose process died (no heartbeat); returns their plan ids."""
    from .services import resume_stale_solves as resume

    return resume()

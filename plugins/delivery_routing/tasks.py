"""Celery tasks of the delivery planner."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="delivery_routing.solve_plan", acks_late=True)
def solve_plan(plan_id: int, time_limit_s: float | None = None) -> str:
    """Solve (or re-solve) a plan within its time budget; returns the resulting status."""
    from .services import plan_deliveries

    return plan_deliveries(plan_id, time_limit_s=time_limit_s).status

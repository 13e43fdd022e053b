from __future__ import annotations

from celery import shared_task


@shared_task(name="marketplace.catalogue.enforce_licences")
def enforce_licences_task() -> dict[str, int]:
    """Periodic: stop selling stock whose licence expired or is missing; text the supplier."""
    from .compliance import enforce_licences

    return enforce_licences()


@shared_task(name="marketplace.catalogue.run_import", acks_late=True)
def run_import_task(job_id: int) -> None:
    """A large catalogue import (marketplace/apps/catalogue/import_jobs.py)."""
    from .import_jobs import run_import

    run_import(job_id)

from __future__ import annotations

from celery import shared_task


@shared_task(name="marketplace.catalogue.enforce_licences")
def enforce_licences_task() -> dict[str, int]:
    """Periodic: stop selling stock whose licence expired or is missing; text the supplier."""
    from .compliance import enforce_licences

    return enforce_licences()

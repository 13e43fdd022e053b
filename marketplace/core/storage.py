"""Private files — licence scans, station licences, crop photos of farmers' questions, pending
imports — live in the ``private`` storage (settings.STORAGES), never under MEDIA_ROOT / MEDIA_URL:

- filesystem: ``PRIVATE_MEDIA_ROOT`` (its own folder; no web server serves it);
- S3-compatible (``MEDIA_STORAGE_BACKEND=storages.backends.s3.S3Storage``): its own bucket
  ``MEDIA_S3_PRIVATE_BUCKET`` (no anonymous access), under the ``private/`` prefix.

Only views that check who is asking hand them out (marketplace/core/private_media.py and the
plugins' own file views), streaming the bytes with ``nosniff`` and private caching."""

from __future__ import annotations

from typing import Any

from django.core.files.storage import Storage, default_storage, storages

PRIVATE = "private"


def private_storage() -> Storage:
    """The private storage (a callable, so migrations do not freeze the settings of one machine)."""
    return storages[PRIVATE]


def move_to_private(model: Any, field_name: str) -> int:
    """Data migrations: move the files of ``model.field_name`` from the public (default) storage to
    the private one, keeping their names (a clash gets a new name, saved on the row). Files already
    private are left alone; a row whose file is missing everywhere keeps its name (nothing to move).
    Returns how many files moved."""
    private = private_storage()
    moved = 0
    for row in model.objects.exclude(**{field_name: ""}).only("pk", field_name).iterator(chunk_size=500):
        name = getattr(row, field_name).name
        if not name or private.exists(name) or not default_storage.exists(name):
            continue
        with default_storage.open(name, "rb") as handle:
            stored = private.save(name, handle)
        if stored != name:
            model.objects.filter(pk=row.pk).update(**{field_name: stored})
        default_storage.delete(name)
        moved += 1
    return moved

"""Private files (licence scans, pending imports): never under MEDIA_URL, only through views that
check who is asking (marketplace/core/private_media.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import FileSystemStorage


def private_storage() -> FileSystemStorage:
    return FileSystemStorage(location=settings.PRIVATE_MEDIA_ROOT, base_url=None)

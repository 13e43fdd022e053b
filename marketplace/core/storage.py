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
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

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


class S3MediaStorage(S3Storage):
    """django-storages' S3 storage whose signed URLs name the endpoint browsers can reach.

    In one host or one cluster the app talks to the object store on its in-network address
    (``MEDIA_S3_ENDPOINT_URL``, e.g. ``http://minio:9000``), which no browser can open. A presigned
    URL's signature covers its host, so it must be made for the public address: with
    ``MEDIA_S3_PUBLIC_ENDPOINT_URL`` set, ``url()`` signs with a client for that address (no request is
    sent: signing is local); uploads, reads and deletes still use the in-network one."""

    def get_default_settings(self) -> dict[str, Any]:
        return {**super().get_default_settings(), "public_endpoint_url": None}

    def _public_client(self) -> Any:
        client = getattr(self._connections, "public_client", None)
        if client is None:
            client = self._create_session().client(
                "s3",
                region_name=self.region_name,
                use_ssl=self.use_ssl,
                endpoint_url=self.public_endpoint_url,
                config=self.client_config,
                verify=self.verify,
            )
            self._connections.public_client = client
        return client

    def url(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        if not self.public_endpoint_url or self.custom_domain or not self.querystring_auth:
            return super().url(name, parameters=parameters, expire=expire, http_method=http_method)
        params = dict(parameters or {})
        params["Bucket"] = self.bucket_name
        params["Key"] = self._normalize_name(clean_name(name))
        return self._public_client().generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )

"""Private files — licence scans, crop photos of questions — live in the private storage
(marketplace/core/storage.py: ``PRIVATE_MEDIA_ROOT`` or a private bucket), never under MEDIA_ROOT,
so no web server can hand them out. Only these views (and the plugins' own views, through
:func:`file_response`) stream them, to the people who may see them (the supplier's own users or
operators; the station's managers or operators), with the content type the bytes show, ``nosniff``
and ``private`` caching. The DEBUG media server also refuses ``PRIVATE_MEDIA_PREFIXES`` (files of
older releases that the data migrations could not find keep their names)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.static import serve

from marketplace.core import permissions, uploads

#: Content types shown inline; anything else is a download.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp"}


def file_response(field_file, cache: str = "private, no-store") -> FileResponse:
    """Stream a stored file to a caller the view has authorised; the content type comes from the
    bytes (marketplace/core/uploads.py), not from the name."""
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    detected = uploads.sniff(handle.read(4096))
    handle.seek(0)
    content_type = uploads.CONTENT_TYPES.get(detected or "", "application/octet-stream")
    response = FileResponse(
        handle,
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=field_file.name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = cache
    return response


@never_cache
@login_required
def partner_licence_file(request: HttpRequest, pk: int) -> FileResponse:
    licence = permissions.licences_for(request.user).filter(pk=pk).first()
    if licence is None:
        raise Http404
    return file_response(licence.file)


@never_cache
@login_required
def station_licence_file(request: HttpRequest, pk: int) -> FileResponse:
    from marketplace.stations.models import StationPesticideLicence

    licence = StationPesticideLicence.objects.filter(pk=pk).select_related("station").first()
    if licence is None or not (
        permissions.is_operator(request.user) or permissions.can_manage_station(request.user, licence.station)
    ):
        raise Http404
    return file_response(licence.file)


def public_media(request: HttpRequest, path: str) -> HttpResponse:
    """DEBUG-only media server that keeps the private prefixes private."""
    if path.startswith(settings.PRIVATE_MEDIA_PREFIXES):
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)

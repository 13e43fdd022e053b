"""Licence scans are personal/business documents: handed out only by these views, to the people
who may see them (the supplier's own users or operators; the station's managers or operators).

Production: nginx must not serve ``/media/licences/`` or ``/media/station-licences/`` itself
(``PRIVATE_MEDIA_PREFIXES``); these views stream the file with ``nosniff`` and ``private``
caching. In DEBUG, the development media server refuses those prefixes too (marketplace/urls.py)."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.static import serve

from marketplace.core import permissions

#: Content types shown inline; anything else is a download.
INLINE_TYPES = {"application/pdf", "image/jpeg", "image/png", "image/webp"}


def _file_response(field_file) -> FileResponse:
    if not field_file:
        raise Http404
    try:
        handle = field_file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    content_type = mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    response = FileResponse(
        handle,
        content_type=content_type,
        as_attachment=content_type not in INLINE_TYPES,
        filename=field_file.name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@login_required
def partner_licence_file(request: HttpRequest, pk: int) -> FileResponse:
    licence = permissions.licences_for(request.user).filter(pk=pk).first()
    if licence is None:
        raise Http404
    return _file_response(licence.file)


@never_cache
@login_required
def station_licence_file(request: HttpRequest, pk: int) -> FileResponse:
    from marketplace.stations.models import StationPesticideLicence

    licence = StationPesticideLicence.objects.filter(pk=pk).select_related("station").first()
    if licence is None or not (
        permissions.is_operator(request.user) or permissions.can_manage_station(request.user, licence.station)
    ):
        raise Http404
    return _file_response(licence.file)


def public_media(request: HttpRequest, path: str) -> HttpResponse:
    """DEBUG-only media server that keeps the private prefixes private."""
    if path.startswith(settings.PRIVATE_MEDIA_PREFIXES):
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)

"""Storefront catalogue pages (search, product detail) and supplier portal pages (licences, import).

Thin: search, permissions and imports live in marketplace.search / core.permissions / services.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext

from marketplace.apps.catalogue import import_jobs
from marketplace.apps.catalogue.importer import csv_template, import_catalogue
from marketplace.apps.catalogue.product_types import PRODUCT_TYPES
from marketplace.apps.partner.strategy import is_sellable
from marketplace.core import permissions, uploads
from marketplace.core.permissions import permission_required
from marketplace.graphql.catalogue.schema import product_queryset, products_in_order
from marketplace.search.services import SearchParams, search

PAGE_SIZE = 20


def _dec(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def catalogue_search(request: HttpRequest) -> HttpResponse:
    g = request.GET
    try:
        page = max(int(g.get("page") or 1), 1)
    except ValueError:
        page = 1
    params = SearchParams(
        query=g.get("q", ""),
        product_types=[t for t in g.getlist("type") if t],
        chloride_classes=[c for c in g.getlist("cl") if c],
        n_min=_dec(g.get("n_min")),
        in_stock=g.get("in_stock") == "1",
        sort=g.get("sort") or "relevance",
        first=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    error = ""
    try:
        result = search(params)
        products, total, facets = products_in_order(result.ids), result.total, result.facets
    except ValidationError as exc:
        products, total, facets, error = [], 0, {}, "; ".join(exc.messages)
    return render(
        request,
        "storefront/catalogue/search.html",
        {
            "products": products,
            "total": total,
            "facets": facets,
            "params": params,
            "error": error,
            "page": page,
            "has_next": page * PAGE_SIZE < total,
            "types": PRODUCT_TYPES,
        },
    )


def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(product_queryset(), pk=pk)
    records = [r for r in product.stockrecords.all() if is_sellable(r)]
    if not records:
        raise Http404(gettext("商品暂不可售"))
    attrs = [(av.attribute.name, av.value) for av in product.attribute_values.all()]
    return render(
        request,
        "storefront/catalogue/product.html",
        {
            "product": product,
            "records": records,
            "attrs": attrs,
            "can_order_for_households": permissions.allowed(request.user, (permissions.STATION_STAFF,)),
        },
    )


def product_thumbnail(request: HttpRequest, image_id: int, size: int) -> HttpResponse:
    """A public product's image resized to ``size`` (one of ``thumbnails.SIZES``): made on first
    request, then a redirect to the stored file (``Product.thumbnail`` in GraphQL links here)."""
    from oscar.core.loading import get_model

    from marketplace.apps.catalogue.thumbnails import SIZES, render_thumbnail

    if size not in SIZES:
        raise Http404(gettext("不支持的缩略图尺寸"))
    image = get_object_or_404(
        get_model("catalogue", "ProductImage").objects.select_related("product"),
        pk=image_id,
        product__is_public=True,
    )
    try:
        url = render_thumbnail(image, size)
    except OSError as exc:  # the file is missing or not an image
        raise Http404(gettext("图片不存在")) from exc
    response = redirect(url)
    response["Cache-Control"] = "public, max-age=86400"
    return response


@permission_required()
def supplier_portal(request: HttpRequest, section: str = "") -> HttpResponse:
    """The supplier portal; ``section`` (licences / warehouses / import) shows just that part."""
    partners = list(permissions.partners_for(request.user).order_by("name"))
    if not partners:
        raise Http404(gettext("您没有关联的供应商"))
    partner = next(
        (p for p in partners if str(p.pk) == request.POST.get("partner", request.GET.get("partner"))),
        partners[0],
    )
    report = None
    job = import_jobs.job_for(request.user, request.GET.get("job")) if request.GET.get("job") else None
    if job is not None and job.finished:
        report = job.report
    if request.method == "POST" and request.FILES.get("file"):
        upload = request.FILES["file"]
        try:
            uploads.check_upload(upload, uploads.TABLE)  # CSV or XLSX by content, within its limit
            if upload.size > settings.IMPORT_INLINE_MAX_BYTES:
                job = import_jobs.start_import(request.user, partner, upload)
                return redirect(f"{request.path}?partner={partner.pk}&job={job.pk}")
            report = import_catalogue(request.user, partner, upload.file, filename=upload.name)
        except ValidationError as exc:
            report = {"file_error": "; ".join(exc.messages)}
    licences = permissions.licences_for(request.user).filter(partner=partner).select_related("product")
    blocked = permissions.stockrecords_for(request.user).filter(partner=partner, compliance_blocked=True)
    return render(
        request,
        "storefront/catalogue/portal.html",
        {
            "partners": partners,
            "partner": partner,
            "licences": licences,
            "blocked": blocked.select_related("product")[:100],
            "warehouses": permissions.warehouses_for(request.user).filter(partner=partner),
            "report": report,
            "job": job,
            "section": section,
        },
    )


@permission_required()
def import_template(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(csv_template(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="catalogue-import-template.csv"'
    return response

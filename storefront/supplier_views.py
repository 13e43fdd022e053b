"""Supplier pages (sign-up, warehouses with a map pin, licences, stock per warehouse) and the
operators' supplier review queue. Thin: marketplace.apps.partner.services does the work and
marketplace.core.permissions decides who may see what."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.accounts.backends import SESSION_BACKEND
from marketplace.apps.partner import services
from marketplace.apps.partner.models import LicenceKind, Partner, VerificationStatus
from marketplace.core import charts, permissions, private_media
from marketplace.core.permissions import OPERATOR, PARTNER, REVIEW_PARTNERS, permission_required
from marketplace.stations.models import Station

from .forms import LicenceForm, RenewLicenceForm, ReviewForm, SignUpForm, WarehouseForm, apply_errors


def _partner(request: HttpRequest) -> Partner:
    partner = services.acting_partner(request.user, request.POST.get("partner", request.GET.get("partner")))
    if partner is None:
        raise Http404(_("您没有关联的供应商"))
    return partner


def signup(request: HttpRequest) -> HttpResponse:
    """Public page: a business creates its login and registration, with licence scans."""
    if request.user.is_authenticated and permissions.partners_for(request.user).exists():
        return redirect("storefront:supplier-portal")
    form = SignUpForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            with transaction.atomic():
                user, partner = services.sign_up(
                    form.registration(),
                    username=d["username"],
                    password=d["password"],
                    mobile=d["mobile"],
                    display_name=d["contact_name"],
                )
                today = timezone.localdate()
                services.add_licence(
                    user,
                    partner,
                    kind=LicenceKind.BUSINESS_LICENCE,
                    number=partner.credit_code,
                    valid_from=today,
                    valid_until=today.replace(year=today.year + 20),
                    file=d["business_licence"],
                )
                if d.get("licence_kind"):
                    services.add_licence(
                        user,
                        partner,
                        kind=d["licence_kind"],
                        number=d["licence_number"],
                        valid_from=d["licence_valid_from"],
                        valid_until=d["licence_valid_until"],
                        file=d.get("licence_file"),
                    )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            login(request, user, backend=SESSION_BACKEND)
            messages.success(request, _("已提交入驻申请，平台审核通过后即可销售"))
            return redirect("storefront:supplier-portal")
    return render(request, "storefront/supplier/signup.html", {"form": form})


def _map(partner: Partner) -> str:
    points = [
        charts.Point(float(lat), float(lon), name)
        for lat, lon, name in Station.objects.filter(is_active=True).values_list(
            "latitude", "longitude", "name"
        )[:2000]
    ]
    points += [
        charts.Point(float(w.latitude), float(w.longitude), w.name, "pin") for w in partner.warehouses.all()
    ]
    return charts.map_svg(points)


@permission_required(PARTNER, OPERATOR)
def warehouses(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    editing = None
    if request.GET.get("edit"):
        editing = (
            permissions.warehouses_for(request.user).filter(partner=partner, pk=request.GET["edit"]).first()
        )
    initial = (
        {k: getattr(editing, k) for k in ("code", "name", "address", "latitude", "longitude", "is_active")}
        if editing
        else {"is_active": True}
    )
    form = WarehouseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            warehouse = services.save_warehouse(request.user, partner, form.cleaned_data)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已保存仓库 %(name)s") % {"name": warehouse.name})
            return redirect(f"{request.path}?partner={partner.pk}")
    return render(
        request,
        "storefront/supplier/warehouses.html",
        {
            "partner": partner,
            "warehouses": permissions.warehouses_for(request.user).filter(partner=partner),
            "form": form,
            "editing": editing,
            "map": _map(partner),
        },
    )


@permission_required(PARTNER, OPERATOR)
def licences(request: HttpRequest) -> HttpResponse:
    partner = _partner(request)
    products = (
        permissions.products_for(request.user)
        .filter(Q(owner=partner) | Q(stockrecords__partner=partner))
        .distinct()
        .order_by("title")
    )
    form = LicenceForm(request.POST or None, request.FILES or None, products=products)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.add_licence(
                request.user,
                partner,
                kind=d["kind"],
                number=d["number"],
                valid_from=d["valid_from"],
                valid_until=d["valid_until"],
                restricted_scope=d["restricted_scope"],
                product=d.get("product"),
                file=d.get("file"),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("已添加证照"))
            return redirect(f"{request.path}?partner={partner.pk}")
    today = timezone.localdate()
    rows = [
        {
            "licence": lic,
            "valid": lic.is_valid_on(today),
            "days_left": (lic.valid_until - today).days,
            "renew": RenewLicenceForm(auto_id=f"renew{lic.pk}_%s"),
        }
        for lic in permissions.licences_for(request.user).filter(partner=partner).select_related("product")
    ]
    blocked = (
        permissions.stockrecords_for(request.user)
        .filter(partner=partner, compliance_blocked=True)
        .select_related("product")
        .order_by("partner_sku")[:200]
    )
    return render(
        request,
        "storefront/supplier/licences.html",
        {
            "partner": partner,
            "rows": rows,
            "blocked": blocked,
            "form": form,
            "renew_form": RenewLicenceForm(),
        },
    )


@permission_required(PARTNER, OPERATOR)
@require_POST
def licence_renew(request: HttpRequest, pk: int) -> HttpResponse:
    licence = get_object_or_404(permissions.licences_for(request.user).select_related("partner"), pk=pk)
    form = RenewLicenceForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.renew_licence(
                request.user,
                licence,
                valid_from=form.cleaned_data.get("valid_from"),
                valid_until=form.cleaned_data["valid_until"],
                file=form.cleaned_data.get("file"),
            )
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        else:
            messages.success(request, _("证照已续期"))
    else:
        messages.error(request, _("；").join(m for errs in form.errors.values() for m in errs))
    return redirect(f"{redirect('storefront:supplier-licences').url}?partner={licence.partner_id}")


@permission_required(PARTNER, REVIEW_PARTNERS)
def licence_file(request: HttpRequest, pk: int) -> FileResponse:
    """A licence scan, only for its supplier and operators (not a public media URL)."""
    licence = get_object_or_404(permissions.licences_for(request.user), pk=pk)
    return private_media.file_response(licence.file)


@permission_required(PARTNER, OPERATOR)
def stock(request: HttpRequest) -> HttpResponse:
    """Products and stock per warehouse: set stock, price and dispatch warehouse per record."""
    partner = _partner(request)
    records = (
        permissions.stockrecords_for(request.user)
        .filter(partner=partner)
        .select_related("product", "warehouse")
        .order_by("warehouse__code", "partner_sku")
    )
    if request.method == "POST":
        record = get_object_or_404(records, pk=request.POST.get("record") or 0)
        warehouse = None
        if request.POST.get("warehouse"):
            warehouse = get_object_or_404(
                permissions.warehouses_for(request.user).filter(partner=partner), pk=request.POST["warehouse"]
            )
        try:
            from decimal import Decimal, InvalidOperation

            try:
                num = int(request.POST.get("num_in_stock", ""))
                price = Decimal(request.POST.get("price", ""))
            except (ValueError, InvalidOperation) as exc:
                raise ValidationError(_("库存须为整数、价格须为数字")) from exc
            services.set_stock(request.user, record, num_in_stock=num, price=price, warehouse=warehouse)
        except ValidationError as exc:
            messages.error(request, f"{record.partner_sku}: " + _("；").join(exc.messages))
        else:
            messages.success(request, _("已更新 %(sku)s") % {"sku": record.partner_sku})
        return redirect(f"{request.path}?partner={partner.pk}")
    q = request.GET.get("q", "").strip()
    if q:
        records = records.filter(Q(partner_sku__icontains=q) | Q(product__title__icontains=q))
    return render(
        request,
        "storefront/supplier/stock.html",
        {
            "partner": partner,
            "records": records[:200],
            "q": q,
            "warehouses": permissions.warehouses_for(request.user).filter(partner=partner, is_active=True),
        },
    )


# --- Operators: supplier review queue -----------------------------------------------------------


@permission_required(REVIEW_PARTNERS)
def review_queue(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or VerificationStatus.PENDING
    if status not in VerificationStatus.values:
        status = VerificationStatus.PENDING
    partners = Partner.objects.filter(verification_status=status).order_by("pk")[:200]
    counts = {s: Partner.objects.filter(verification_status=s).count() for s in VerificationStatus.values}
    return render(
        request,
        "storefront/operator/suppliers.html",
        {"partners": partners, "status": status, "statuses": VerificationStatus.choices, "counts": counts},
    )


@permission_required(REVIEW_PARTNERS)
def review_detail(request: HttpRequest, pk: int) -> HttpResponse:
    partner = get_object_or_404(Partner, pk=pk)
    form = ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.transition(
                request.user, partner, form.cleaned_data["action"], form.cleaned_data.get("reason", "")
            )
        except ValidationError as exc:
            messages.error(request, _("；").join(exc.messages))
        else:
            partner.refresh_from_db()
            messages.success(
                request,
                _("%(name)s：%(status)s")
                % {"name": partner.name, "status": partner.get_verification_status_display()},
            )
            return redirect("storefront:operator-supplier", pk=pk)
    licences = list(partner.licences.select_related("product").order_by("kind", "valid_until"))
    return render(
        request,
        "storefront/operator/supplier_detail.html",
        {
            "partner": partner,
            "licences": licences,
            "history": partner.status_changes.select_related("actor").order_by("-created_at")[:20],
            "today": timezone.localdate(),
            "form": form,
        },
    )

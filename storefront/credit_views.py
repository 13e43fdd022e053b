"""Household credit (赊销) pages for station staff: the station's aged list, a household's credit
account, taking a repayment, its printable receipt, and (station manager) approving the limit.
Thin: rules live in marketplace.payments.credit and marketplace.core.permissions."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from marketplace.core import permissions
from marketplace.core.documents import render_pdf
from marketplace.core.money import format_cny
from marketplace.payments import credit
from marketplace.payments.models import CreditRepayment, LedgerEntry


class RepaymentForm(forms.Form):
    amount = forms.DecimalField(
        label=gettext_lazy("还款金额（元）"),
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0.01", "inputmode": "decimal"}),
    )
    notes = forms.CharField(label=gettext_lazy("备注"), max_length=128, required=False)
    key = forms.CharField(widget=forms.HiddenInput, max_length=100)


class LimitForm(forms.Form):
    credit_limit = forms.DecimalField(
        label=gettext_lazy("赊销额度（元）"),
        min_value=Decimal("0"),
        max_digits=12,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "100", "min": "0", "inputmode": "decimal"}),
    )


def _household(request: HttpRequest, pk: int):
    household = get_object_or_404(
        permissions.households_for(request.user).select_related("station", "village"), pk=pk
    )
    if not permissions.credit_stations(request.user).filter(pk=household.station_id).exists():
        raise PermissionDenied(_("只能查看本站点农户的赊销账户"))
    return household


@login_required
def station_credit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    stations = permissions.credit_stations(request.user).order_by("code")
    if pk is None:
        if stations.count() == 1:
            return redirect("storefront:station-credit", pk=stations.get().pk)
        if not stations.exists():
            raise PermissionDenied(_("您没有可管理的站点"))
        return render(request, "storefront/credit_stations.html", {"stations": stations[:200]})
    station = get_object_or_404(stations, pk=pk)
    aged = credit.aged_list(request.user, station)
    return render(request, "storefront/credit_station.html", {"station": station, "aged": aged})


@login_required
def household_credit(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    account = credit.credit_account(household, with_repayments=50)
    sales = LedgerEntry.objects.filter(
        household=household, kind__in=("credit_sale", "credit_reversal")
    ).order_by("-created_at", "-pk")[:50]
    can_repay = permissions.can_record_repayment(request.user, household.station_id) and account.owed > 0
    can_limit = permissions.can_approve_credit(request.user, household.station_id)
    return render(
        request,
        "storefront/household_credit.html",
        {
            "household": household,
            "account": account,
            "sales": sales,
            "repay_form": RepaymentForm(initial={"key": uuid.uuid4().hex}) if can_repay else None,
            "limit_form": LimitForm(initial={"credit_limit": household.credit_limit}) if can_limit else None,
        },
    )


@login_required
@require_POST
def record_repayment(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    form = RepaymentForm(request.POST)
    if form.is_valid():
        try:
            repayment, created = credit.record_repayment(
                request.user,
                household,
                form.cleaned_data["amount"],
                form.cleaned_data["key"],
                form.cleaned_data["notes"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            if created:
                messages.success(
                    request,
                    _("已收到 %(name)s 还款 %(amount)s，收据号 %(no)s")
                    % {
                        "name": household.name,
                        "amount": format_cny(repayment.amount),
                        "no": repayment.receipt_no,
                    },
                )
            return redirect("storefront:credit-repayment", pk=repayment.pk)
    else:
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}：{error}" if label else error)
    return redirect("storefront:household-credit", pk=household.pk)


@login_required
@require_POST
def set_limit(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    form = LimitForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("credit_limit", []):
            messages.error(request, _("赊销额度：%(error)s") % {"error": error})
        return redirect("storefront:household-credit", pk=household.pk)
    try:
        credit.set_credit_limit(request.user, household, form.cleaned_data["credit_limit"])
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("赊销额度已设为 %(limit)s") % {"limit": format_cny(form.cleaned_data["credit_limit"])}
        )
    return redirect("storefront:household-credit", pk=household.pk)


def _repayment(request: HttpRequest, pk: int) -> CreditRepayment:
    repayment = get_object_or_404(
        CreditRepayment.objects.select_related("household__village", "station", "recorded_by"), pk=pk
    )
    if not permissions.credit_stations(request.user).filter(pk=repayment.station_id).exists():
        raise Http404
    return repayment


@login_required
def repayment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    repayment = _repayment(request, pk)
    return render(request, "storefront/credit_repayment.html", {"repayment": repayment})


@login_required
def repayment_receipt(request: HttpRequest, pk: int) -> HttpResponse:
    repayment = _repayment(request, pk)
    size = "A4" if request.GET.get("size", "").upper() == "A4" else "A5"
    pdf = render_pdf("documents/credit_receipt.html", {"repayment": repayment, "page_size": size})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{repayment.receipt_no}.pdf"'
    return response

"""Pages for station staff, farmers, county staff, agronomists and operators. Thin: services decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.core import permissions, private_media
from marketplace.core.documents import render_pdf
from marketplace.core.permissions import permission_required
from marketplace.stations.models import County, Station, Township

from . import access, charts, imports, services
from .models import (
    AnswerMethod,
    NoticeKind,
    NoticeReceipt,
    PriceKind,
    PriceSource,
    QuestionStatus,
    SmsPreference,
    SurveyAnswer,
    Topic,
)

PAGE_SIZE = 30


def _errors(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {
            ("general" if k == "__all__" else k): [str(m) for e in v for m in e.messages]
            for k, v in exc.error_dict.items()
        }
    return {"general": list(exc.messages)}


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


def _local_datetime(value: str) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValidationError(_("时间格式不正确"))
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _ids(request: HttpRequest, name: str) -> list[int]:
    out = []
    for value in request.POST.getlist(name):
        if value.strip().isdigit():
            out.append(int(value))
    return out


@permission_required()
def index(request: HttpRequest) -> HttpResponse:
    return redirect("info:notices")


# --- Notices ------------------------------------------------------------------------------------


@permission_required()
def notices(request: HttpRequest) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {"can_publish": access.can_publish(user)}
    if access.can_publish(user):
        managed = (
            access.managed_notices(user)
            .annotate(n_read=Count("receipts__read_at"), n_posted=Count("receipts__posted_at"))
            .order_by("-publish_at", "-pk")
        )
        context["managed"] = Paginator(managed, PAGE_SIZE).get_page(request.GET.get("page"))
    else:
        context["receipts"] = Paginator(services.visible_notices(user), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
    return render(request, "village_info/notices.html", context)


def _audience(user: Any) -> dict[str, Any]:
    counties = access.counties_for(user).order_by("code")
    return {
        "counties": counties[:200],
        "townships": Township.objects.filter(county__in=counties)
        .select_related("county")
        .order_by("county", "name")[:300],
        "stations": Station.objects.filter(county__in=counties, is_active=True).order_by("code")[:500],
        "province_wide": access.can_publish_province_wide(user),
        "kinds": NoticeKind.choices,
    }


@permission_required(access.PUBLISH)
def notice_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    user = request.user
    notice = get_object_or_404(access.managed_notices(user), pk=pk) if pk else None
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            data = services.NoticeInput(
                title=request.POST.get("title", ""),
                body=request.POST.get("body", ""),
                kind=request.POST.get("kind", ""),
                issuer=request.POST.get("issuer", ""),
                whole_province=request.POST.get("whole_province") == "on",
                county_ids=_ids(request, "counties"),
                township_ids=_ids(request, "townships"),
                station_ids=_ids(request, "stations"),
                publish_at=_local_datetime(request.POST.get("publish_at", "")),
                expires_at=_local_datetime(request.POST.get("expires_at", "")),
                send_sms=request.POST.get("send_sms") == "on",
                sms_text=request.POST.get("sms_text", ""),
            )
            saved = services.save_notice(user, data, notice)
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(
                request, _("通知已发布") if saved.status == "published" else _("通知已定时，将于发布时间送达")
            )
            return redirect("info:notice", saved.pk)
    if request.method == "POST":
        form: dict[str, Any] = request.POST.dict()
        form["whole_province"] = request.POST.get("whole_province") == "on"
        form["send_sms"] = request.POST.get("send_sms") == "on"
    elif notice is not None:
        form = {
            "title": notice.title,
            "kind": notice.kind,
            "issuer": notice.issuer,
            "body": notice.body,
            "whole_province": notice.whole_province,
            "send_sms": notice.send_sms,
            "sms_text": notice.sms_text,
            "publish_at": timezone.localtime(notice.publish_at).strftime("%Y-%m-%dT%H:%M"),
            "expires_at": timezone.localtime(notice.expires_at).strftime("%Y-%m-%dT%H:%M")
            if notice.expires_at
            else "",
        }
    else:
        form = {"kind": NoticeKind.GUIDANCE}
    context = {"notice": notice, "errors": errors, "form": form, **_audience(user)}
    if notice is not None and request.method != "POST":
        context["selected"] = {
            "counties": set(notice.counties.values_list("pk", flat=True)),
            "townships": set(notice.townships.values_list("pk", flat=True)),
            "stations": set(notice.stations.values_list("pk", flat=True)),
        }
    return render(request, "village_info/notice_form.html", context)


@permission_required()
def notice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    managed = access.managed_notices(user).filter(pk=pk).first()
    if managed is not None:
        receipts = (
            NoticeReceipt.objects.filter(notice=managed)
            .select_related("station")
            .order_by("posted_at", "read_at", "station__code")
        )
        show = request.GET.get("show", "")
        if show == "unread":
            receipts = receipts.filter(read_at__isnull=True)
        elif show == "unposted":
            receipts = receipts.filter(posted_at__isnull=True)
        return render(
            request,
            "village_info/notice_manage.html",
            {
                "notice": managed,
                "summary": services.receipt_summary(managed),
                "page": Paginator(receipts, PAGE_SIZE).get_page(request.GET.get("page")),
                "show": show,
            },
        )
    receipt = services.visible_notices(user).filter(notice_id=pk).first()
    if receipt is None:
        raise Http404(_("没有这条通知"))
    services.mark_read(user, receipt)
    return render(
        request,
        "village_info/notice_detail.html",
        {
            "receipt": receipt,
            "notice": receipt.notice,
            "is_staff": access.managed_receipts(user).filter(pk=receipt.pk).exists(),
        },
    )


@permission_required(access.STATION_WORK)
@require_POST
def notice_posted(request: HttpRequest, pk: int) -> HttpResponse:
    receipt = get_object_or_404(access.managed_receipts(request.user), pk=pk)
    services.confirm_posted(request.user, receipt)
    messages.success(request, _("已确认张贴"))
    return redirect("info:notice", receipt.notice_id)


@permission_required(access.PUBLISH)
@require_POST
def notice_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    notice = get_object_or_404(access.managed_notices(request.user), pk=pk)
    services.withdraw_notice(request.user, notice)
    messages.success(request, _("通知已撤回"))
    return redirect("info:notice", pk)


@permission_required()
def notice_sheet(request: HttpRequest, pk: int) -> HttpResponse:
    """The A4 sheet for the station wall."""
    user = request.user
    notice = access.managed_notices(user).filter(pk=pk).first()
    station = None
    if notice is None:
        receipt = services.visible_notices(user).filter(notice_id=pk).first()
        if receipt is None:
            raise Http404(_("没有这条通知"))
        notice, station = receipt.notice, receipt.station
    pdf = render_pdf("village_info/documents/notice_sheet.html", {"notice": notice, "station": station})
    return _pdf(pdf, f"notice-{notice.pk}.pdf")


@permission_required(access.STATION_WORK)
def sms_preferences(request: HttpRequest) -> HttpResponse:
    """Station staff record which households want information SMS (and who withdrew)."""
    user = request.user
    households = (
        permissions.managed_households(user).filter(is_active=True).select_related("station", "info_sms")
    )
    if request.method == "POST":
        household = get_object_or_404(households, pk=request.POST.get("household") or 0)
        try:
            services.set_sms_preference(user, household, request.POST.get("opted_in") == "1")
        except ValidationError as exc:
            messages.error(request, _("；").join(m for msgs in _errors(exc).values() for m in msgs))
        else:
            messages.success(request, _("已更新 %(name)s 的短信订阅") % {"name": household.name})
        return redirect(
            f"{reverse('info:sms')}?q={request.POST.get('q', '')}&page={request.POST.get('page', '')}"
        )
    q = request.GET.get("q", "").strip()
    if q:
        households = households.filter(Q(name__icontains=q) | Q(phone__endswith=q))
    page = Paginator(households.order_by("name", "pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    subscribed = SmsPreference.objects.filter(
        household__in=permissions.managed_households(user), opted_in=True
    ).count()
    return render(
        request, "village_info/sms_preferences.html", {"page": page, "q": q, "subscribed": subscribed}
    )


# --- Prices -------------------------------------------------------------------------------------


def _county_choice(request: HttpRequest) -> tuple[County | None, Any]:
    user = request.user
    readable = County.objects.filter(
        Q(pk__in=permissions.stations_for(user).values("county_id")) | Q(pk__in=access.counties_for(user))
    ).order_by("code")
    raw = request.GET.get("county") or request.POST.get("county")
    county = readable.filter(pk=raw).first() if raw and str(raw).isdigit() else None
    return county or readable.first(), readable


@permission_required()
def prices(request: HttpRequest) -> HttpResponse:
    user = request.user
    county, counties = _county_choice(request)
    errors: dict[str, list[str]] = {}
    can_record = county is not None and access.can_record_prices(user, county)
    if request.method == "POST":
        if not can_record:
            raise PermissionDenied(_("只能录入您负责县区的价格"))
        try:
            observed = parse_date(request.POST.get("observed_on", "")) or timezone.localdate()
            services.record_grain_price(
                user,
                county,
                request.POST.get("commodity", ""),
                request.POST.get("unit", ""),
                request.POST.get("price", ""),
                observed,
                request.POST.get("note", ""),
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("价格已录入"))
            return redirect(f"{reverse('info:prices')}?county={county.pk}")
    board = services.price_board(county)
    return render(
        request,
        "village_info/prices.html",
        {
            "county": county,
            "counties": counties[:100],
            "grain": [r for r in board if r.kind == PriceKind.GRAIN],
            "inputs": [r for r in board if r.kind == PriceKind.INPUT],
            "can_record": can_record,
            "errors": errors,
            "post": request.POST,
            "today": timezone.localdate(),
            "sources": dict(PriceSource.choices),
        },
    )


@permission_required()
def price_history(request: HttpRequest) -> HttpResponse:
    county, _counties = _county_choice(request)
    commodity = request.GET.get("commodity", "")[:128]
    points = services.price_history(commodity, county)
    series: dict[str, list] = {}
    labels = dict(PriceSource.choices)
    for p in points:
        series.setdefault(str(labels.get(p.source, p.source)), []).append((p.observed_on, p.price))
    return render(
        request,
        "village_info/price_history.html",
        {
            "county": county,
            "commodity": commodity,
            "points": points[-60:],
            "chart": charts.line_chart(series),
        },
    )


@permission_required()
def price_sheet(request: HttpRequest) -> HttpResponse:
    county, _counties = _county_choice(request)
    board = services.price_board(county)
    pdf = render_pdf(
        "village_info/documents/price_sheet.html",
        {
            "county": county,
            "grain": [r for r in board if r.kind == PriceKind.GRAIN],
            "inputs": [r for r in board if r.kind == PriceKind.INPUT],
            "today": timezone.localdate(),
            "sources": dict(PriceSource.choices),
        },
    )
    return _pdf(pdf, "price-board.pdf")


@permission_required(access.COUNTY_WORK)
def price_template(request: HttpRequest) -> HttpResponse:
    """The grain price file to fill in: the import's own header (``imports.PRICE_SPEC``)."""
    response = HttpResponse(imports.PRICE_SPEC.template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="grain-prices.csv"'
    return response


@permission_required(access.COUNTY_WORK)
def price_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    county, counties = _county_choice(request)
    if county is None or not access.can_record_prices(user, county):
        raise PermissionDenied(_("只能录入您负责县区的价格"))
    result = None
    if request.method == "POST":
        result = imports.import_grain_prices(user, county, request.FILES.get("file"))
        if result.ok:
            messages.success(request, _("已导入 %(n)d 条价格") % {"n": result.created})
            return redirect(f"{reverse('info:prices')}?county={county.pk}")
    return render(request, "village_info/price_import.html", {"county": county, "result": result})


# --- Surveys ------------------------------------------------------------------------------------


@permission_required()
def surveys(request: HttpRequest) -> HttpResponse:
    user = request.user
    rows = [
        {"survey": s, "open": services.survey_is_open(s), "progress": services.survey_progress(user, s)}
        for s in access.surveys_for(user).select_related("county")[:50]
    ]
    return render(
        request, "village_info/surveys.html", {"rows": rows, "can_create": access.is_county_user(user)}
    )


@permission_required(access.COUNTY_WORK)
def survey_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    counties = access.counties_for(user).order_by("code")
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        county = counties.filter(pk=request.POST.get("county") or 0).first()
        try:
            if county is None:
                raise ValidationError({"county": _("请选择县区")})
            opens = parse_date(request.POST.get("opens_on", "") or "")
            closes = parse_date(request.POST.get("closes_on", "") or "")
            if opens is None:
                raise ValidationError({"opens_on": _("请填写日期")})
            if closes is None:
                raise ValidationError({"closes_on": _("请填写日期")})
            crops = [
                c for c in request.POST.get("crops", "").replace("，", ",").replace("、", ",").split(",")
            ]
            survey = services.create_survey(
                user,
                county,
                request.POST.get("title", ""),
                request.POST.get("season", ""),
                opens,
                closes,
                crops,
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("调查已发起，各站点即可登记"))
            return redirect("info:survey", survey.pk)
    return render(
        request,
        "village_info/survey_form.html",
        {"counties": counties, "errors": errors, "post": request.POST, "today": timezone.localdate()},
    )


LEVEL_LABELS = {"village": "行政村", "township": "乡镇", "county": "县区", "station": "站点"}


@permission_required()
def survey_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    survey = get_object_or_404(access.surveys_for(user).select_related("county"), pk=pk)
    level = request.GET.get("level", "township" if access.is_county_user(user) else "village")
    if level not in services.LEVELS:
        level = "village"
    totals = services.survey_totals(user, survey, level)
    by_crop: dict[str, Any] = {}
    for row in totals:
        agg = by_crop.setdefault(row.crop, {"area": 0, "fert": 0, "seed": 0, "households": 0})
        agg["area"] += row.area_mu
        agg["fert"] += row.fertilizer_kg
        agg["seed"] += row.seed_kg
        agg["households"] += row.households
    area_by_place: dict[str, Any] = {}
    for row in totals:
        area_by_place[row.label] = area_by_place.get(row.label, 0) + row.area_mu
    context: dict[str, Any] = {
        "survey": survey,
        "open": services.survey_is_open(survey),
        "progress": services.survey_progress(user, survey),
        "totals": totals,
        "by_crop": by_crop,
        "chart": charts.bar_chart(sorted(area_by_place.items(), key=lambda kv: -kv[1])[:20], _("亩")),
        "level": level,
        "levels": [(k, _(v)) for k, v in LEVEL_LABELS.items()],
        "can_manage": access.managed_surveys(user).filter(pk=survey.pk).exists(),
    }
    households = access.answerable_households(user).filter(station__county=survey.county)
    if households.exists():
        q = request.GET.get("q", "").strip()
        if q:
            households = households.filter(Q(name__icontains=q) | Q(phone__endswith=q))
        answered = set(
            SurveyAnswer.objects.filter(survey=survey, household__in=households).values_list(
                "household_id", flat=True
            )
        )
        context["page"] = Paginator(households.order_by("name", "pk"), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context["answered"] = answered
        context["q"] = q
    return render(request, "village_info/survey_detail.html", context)


@permission_required(access.STATION_WORK)
def survey_answer(request: HttpRequest, pk: int, household_id: int) -> HttpResponse:
    user = request.user
    survey = get_object_or_404(access.surveys_for(user), pk=pk)
    household = get_object_or_404(
        access.answerable_households(user).select_related("station"), pk=household_id
    )
    crops = list(survey.crops.all())
    existing = {a.crop_id: a for a in SurveyAnswer.objects.filter(survey=survey, household=household)}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        rows = [
            services.AnswerRow(
                crop=c.name,
                area_mu=request.POST.get(f"area_{c.pk}", "").strip() or None,
                fertilizer_kg=request.POST.get(f"fert_{c.pk}", "").strip() or 0,
                seed_kg=request.POST.get(f"seed_{c.pk}", "").strip() or 0,
            )
            for c in crops
        ]
        try:
            services.save_answers(
                user, survey, household, rows, request.POST.get("method", ""), field_prefix="row"
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("已登记 %(name)s 的种植计划") % {"name": household.name})
            return redirect("info:survey", survey.pk)
    lines = []
    for i, crop in enumerate(crops):
        a = existing.get(crop.pk)
        lines.append(
            {
                "crop": crop,
                "area": request.POST.get(f"area_{crop.pk}", a.area_mu if a else ""),
                "fert": request.POST.get(f"fert_{crop.pk}", a.fertilizer_kg if a else ""),
                "seed": request.POST.get(f"seed_{crop.pk}", a.seed_kg if a else ""),
                "errors": [m for k, v in errors.items() if k.startswith(f"row{i}.") for m in v],
            }
        )
    return render(
        request,
        "village_info/survey_answer.html",
        {
            "survey": survey,
            "household": household,
            "lines": lines,
            "errors": errors,
            "methods": [m for m in AnswerMethod.choices if m[0] != AnswerMethod.IMPORT],
            "method": request.POST.get("method", AnswerMethod.PHONE),
            "open": services.survey_is_open(survey),
        },
    )


@permission_required(access.COUNTY_WORK)
@require_POST
def survey_close(request: HttpRequest, pk: int) -> HttpResponse:
    survey = get_object_or_404(access.managed_surveys(request.user), pk=pk)
    services.close_survey(request.user, survey)
    messages.success(request, _("调查已结束"))
    return redirect("info:survey", pk)


@permission_required(access.STATION_WORK)
def survey_import(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    survey = get_object_or_404(access.surveys_for(user), pk=pk)
    if not access.answerable_households(user).exists():
        raise PermissionDenied(_("只有站点工作人员可以导入本站农户的调查表"))
    result = None
    if request.method == "POST":
        result = imports.import_survey_answers(user, survey, request.FILES.get("file"))
        if result.ok:
            messages.success(request, _("已导入 %(n)d 行") % {"n": result.created})
            return redirect("info:survey", survey.pk)
    return render(request, "village_info/survey_import.html", {"survey": survey, "result": result})


@permission_required(access.STATION_WORK)
def survey_template(request: HttpRequest, pk: int) -> HttpResponse:
    """A CSV sheet with this station's households and one column set per crop, ready to fill in."""
    user = request.user
    survey = get_object_or_404(access.surveys_for(user), pk=pk)
    households = (
        access.answerable_households(user).filter(station__county=survey.county).order_by("name", "pk")
    )
    first_crop = survey.crops.first()
    rows = ([h.pk, h.name, first_crop.name if first_crop else "", "", "", ""] for h in households[:5000])
    response = HttpResponse(imports.SURVEY_SPEC.template_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="survey-{survey.pk}.csv"'
    return response


# --- Questions ----------------------------------------------------------------------------------


@permission_required()
def questions(request: HttpRequest) -> HttpResponse:
    user = request.user
    qs = access.questions_for(user).select_related("station", "county").annotate(n_answers=Count("answers"))
    status = request.GET.get("status", "open" if access.is_county_user(user) else "")
    if status in QuestionStatus.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "village_info/questions.html",
        {
            "page": page,
            "status": status,
            "can_ask": access.askable_stations(user).exists(),
            "is_county": access.is_county_user(user),
        },
    )


@permission_required(access.STATION_WORK)
def question_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    stations = access.askable_stations(user).order_by("code")
    if not stations.exists():
        raise PermissionDenied(_("只有站点工作人员可以代农户提问"))
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        station = stations.filter(pk=request.POST.get("station") or 0).first() or stations.first()
        household = None
        if request.POST.get("household", "").strip():
            household = permissions.managed_households(user).filter(pk=request.POST["household"]).first()
        try:
            if request.POST.get("household", "").strip() and household is None:
                raise ValidationError({"household": _("请选择本站农户")})
            question = services.ask_question(
                user,
                station,
                request.POST.get("crop", ""),
                request.POST.get("topic", ""),
                request.POST.get("text", ""),
                household=household,
                photos=request.FILES.getlist("photos"),
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(request, _("问题已提交给县农技专家"))
            return redirect("info:question", question.pk)
    households = permissions.managed_households(user).filter(is_active=True).order_by("name")[:500]
    return render(
        request,
        "village_info/question_form.html",
        {
            "stations": stations,
            "households": households,
            "topics": Topic.choices,
            "errors": errors,
            "post": request.POST,
        },
    )


@permission_required()
def question_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    question = get_object_or_404(
        access.questions_for(user)
        .select_related("station", "household")
        .prefetch_related("answers__author", "photos"),
        pk=pk,
    )
    errors: dict[str, list[str]] = {}
    can_answer = access.can_answer(user, question)
    if request.method == "POST":
        if not can_answer:
            raise PermissionDenied(_("只能解答您负责县区的问题"))
        try:
            services.answer_question(user, question, request.POST.get("text", ""))
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            messages.success(
                request,
                _("解答已发送到站点%(sms)s")
                % {"sms": _("并短信通知农户") if question.household_id and question.household.phone else ""},
            )
            return redirect("info:question", pk)
    return render(
        request,
        "village_info/question_detail.html",
        {"question": question, "can_answer": can_answer, "errors": errors, "post": request.POST},
    )


@permission_required()
def question_photo(request: HttpRequest, pk: int, photo_id: int) -> HttpResponse:
    """Crop photos are served only to those who may read the question (not from public /media/)."""
    question = get_object_or_404(access.questions_for(request.user), pk=pk)
    photo = get_object_or_404(question.photos, pk=photo_id)
    return private_media.file_response(photo.image, cache="private, max-age=3600")


@permission_required()
def question_archive(request: HttpRequest) -> HttpResponse:
    user = request.user
    q = request.GET.get("q", "").strip()[:64]
    crop = request.GET.get("crop", "").strip()[:32]
    topic = request.GET.get("topic", "")
    qs = services.question_archive(user, q=q, crop=crop, topic=topic if topic in Topic.values else "")
    crops = (
        access.questions_for(user)
        .filter(status=QuestionStatus.ANSWERED)
        .values_list("crop", flat=True)
        .distinct()
        .order_by("crop")[:50]
    )
    page = Paginator(qs.order_by("-answered_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "village_info/question_archive.html",
        {"page": page, "q": q, "crop": crop, "topic": topic, "topics": Topic.choices, "crops": crops},
    )


@permission_required(access.COUNTY_WORK)
def question_stats(request: HttpRequest) -> HttpResponse:
    return render(
        request, "village_info/question_stats.html", {"rows": services.response_times(request.user)}
    )

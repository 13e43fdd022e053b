"""Storefront pages of the fertilizer plugin (mounted under /p/fertilizer/). Thin: rules live in
services / access."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from marketplace.accounts.models import Role
from marketplace.core import permissions
from marketplace.core.documents import render_pdf
from marketplace.core.money import format_cny
from marketplace.core.permissions import check, permission_required
from marketplace.stations import services as station_services
from marketplace.stations.models import County

from . import access, charts, paramstore, services
from .agronomy.nutrients import MU_PER_HA, NUTRIENTS
from .models import CROPS, ZONES, BagPlan, FarmField, ParameterSetVersion, PlanStatus, Recommendation

GRADE_ZH = {
    1: gettext_lazy("极丰"),
    2: gettext_lazy("丰"),
    3: gettext_lazy("中"),
    4: gettext_lazy("缺"),
    5: gettext_lazy("很缺"),
    6: gettext_lazy("极缺"),
}
INDICATORS = (
    ("N", gettext_lazy("碱解氮"), "alkali_n_mg_kg", "mg/kg"),
    ("P2O5", gettext_lazy("有效磷"), "olsen_p_mg_kg", "mg/kg"),
    ("K2O", gettext_lazy("速效钾"), "available_k_mg_kg", "mg/kg"),
    ("organic_matter", gettext_lazy("有机质"), "organic_matter_g_kg", "g/kg"),
)
TIMING = {
    "spring_maize_ne": (
        gettext_lazy("播种前整地或播种时侧深施（种肥隔离 5 cm 以上）"),
        gettext_lazy("拔节期至大喇叭口期（约 6 月下旬–7 月上旬）追施，开沟深施覆土"),
    ),
    "maize": (
        gettext_lazy("播种前整地或播种时侧深施（种肥隔离 5 cm 以上）"),
        gettext_lazy("拔节期至大喇叭口期追施，开沟深施覆土"),
    ),
    "rice": (
        gettext_lazy("泡田耙地前全层施入"),
        gettext_lazy("分蘖期、穗分化期分次追施"),
    ),
    "soybean": (
        gettext_lazy("播种时侧深施（种肥隔离 5 cm 以上）"),
        gettext_lazy("一般不追肥；花荚期视长势叶面喷施"),
    ),
}


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for msg in exc.messages:
        messages.error(request, msg)


# --- forms ------------------------------------------------------------------------------------


class FieldForm(forms.ModelForm):
    class Meta:
        model = FarmField
        fields = [
            "name",
            "area_mu",
            "crop",
            "zone",
            "latitude",
            "longitude",
            "yield_1",
            "yield_2",
            "yield_3",
            "usual_product",
            "usual_bags",
            "usual_n_kg_mu",
            "usual_p2o5_kg_mu",
            "usual_k2o_kg_mu",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["usual_product"].queryset = self.fields["usual_product"].queryset.filter(
            product_class__slug="fertilizer"
        )


class SoilTestForm(forms.Form):
    lab = forms.CharField(label=gettext_lazy("检测机构"), max_length=128)
    sample_date = forms.DateField(
        label=gettext_lazy("采样日期"), widget=forms.DateInput(attrs={"type": "date"})
    )
    ph = forms.DecimalField(label="pH", max_digits=4, decimal_places=2)
    organic_matter_g_kg = forms.DecimalField(
        label=gettext_lazy("有机质 (g/kg)"), max_digits=6, decimal_places=2
    )
    alkali_n_mg_kg = forms.DecimalField(label=gettext_lazy("碱解氮 (mg/kg)"), max_digits=7, decimal_places=2)
    olsen_p_mg_kg = forms.DecimalField(label=gettext_lazy("有效磷 (mg/kg)"), max_digits=7, decimal_places=2)
    available_k_mg_kg = forms.DecimalField(
        label=gettext_lazy("速效钾 (mg/kg)"), max_digits=7, decimal_places=2
    )


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("化验结果文件（CSV 或 XLSX）"))


class ParameterForm(forms.Form):
    uptake_n = forms.FloatField(label=gettext_lazy("百公斤产量吸氮量 N (kg)"))
    uptake_p = forms.FloatField(label=gettext_lazy("百公斤产量吸磷量 P₂O₅ (kg)"))
    uptake_k = forms.FloatField(label=gettext_lazy("百公斤产量吸钾量 K₂O (kg)"))
    util_n = forms.FloatField(label=gettext_lazy("氮肥利用率"))
    util_p = forms.FloatField(label=gettext_lazy("磷肥利用率"))
    util_k = forms.FloatField(label=gettext_lazy("钾肥利用率"))
    corr_n = forms.FloatField(label=gettext_lazy("碱解氮校正系数"))
    corr_p = forms.FloatField(label=gettext_lazy("有效磷校正系数"))
    corr_k = forms.FloatField(label=gettext_lazy("速效钾校正系数"))
    n_basal_fraction = forms.FloatField(label=gettext_lazy("氮肥基施比例"))
    chloride_sensitive = forms.BooleanField(label=gettext_lazy("忌氯作物"), required=False)
    tolerance = forms.FloatField(label=gettext_lazy("配肥容差（如 0.15）"))
    basal_n_max_share = forms.FloatField(label=gettext_lazy("基肥带入氮上限比例"), required=False)
    note = forms.CharField(label=gettext_lazy("修改说明"), max_length=255)

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        plan = paramstore.plan_settings(data)
        keys = {"n": "N", "p": "P2O5", "k": "K2O"}
        initial: dict[str, Any] = {}
        for prefix, key in (
            ("uptake", "uptake_per_100kg"),
            ("util", "utilisation_rate"),
            ("corr", "correction_coefficient"),
        ):
            for s, n in keys.items():
                initial[f"{prefix}_{s}"] = data[key][n]
        initial.update(
            n_basal_fraction=data["n_basal_fraction"],
            chloride_sensitive=data.get("chloride_sensitive", False),
            tolerance=max(plan["tolerance"].values()),
            basal_n_max_share=plan.get("basal_n_max_share"),
        )
        return initial

    def changes(self) -> dict[str, Any]:
        d = self.cleaned_data
        keys = {"n": "N", "p": "P2O5", "k": "K2O"}
        return {
            "uptake_per_100kg": {n: d[f"uptake_{s}"] for s, n in keys.items()},
            "utilisation_rate": {n: d[f"util_{s}"] for s, n in keys.items()},
            "correction_coefficient": {n: d[f"corr_{s}"] for s, n in keys.items()},
            "n_basal_fraction": d["n_basal_fraction"],
            "chloride_sensitive": d["chloride_sensitive"],
            "plan": {
                "tolerance": {n: d["tolerance"] for n in NUTRIENTS},
                "basal_n_max_share": d["basal_n_max_share"],
            },
        }


# --- pages ------------------------------------------------------------------------------------


@permission_required()
def index(request: HttpRequest) -> HttpResponse:
    user = request.user
    fields = access.fields_for(user).select_related("household").order_by("household__name", "name")
    q = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", "")
    page = None
    if user.role != Role.FARMER:
        households = station_services.search_households(
            permissions.households_for(user)
            .filter(is_active=True)
            .select_related("village", "station")
            .annotate(n_fields=Count("fert_fields")),
            q,
            sort,
        )
        page = Paginator(households, 30).get_page(request.GET.get("page"))
    return render(
        request,
        "fertilizer/index.html",
        {
            "is_farmer": user.role == Role.FARMER,
            "fields": fields[:100] if user.role == Role.FARMER else [],
            "page": page,
            "q": q,
            "sort": sort if sort in station_services.HOUSEHOLD_SORTS else "name",
            "sorts": [(k, gettext(label)) for k, (label, _o) in station_services.HOUSEHOLD_SORTS.items()],
            "can_import": access.can_import(user),
            "can_params": access.can_read_parameters(user),
            "counties": access.demand_counties(user),
            "is_supplier": access.is_supplier(user),
        },
    )


@permission_required()
def household_fields(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(permissions.households_for(request.user).select_related("station"), pk=pk)
    can_manage = permissions.can_manage_household(request.user, household)
    form = FieldForm(request.POST or None) if can_manage else None
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if form.is_valid():
            try:
                data = {k: v for k, v in form.cleaned_data.items() if k != "usual_product"}
                data["usual_product_id"] = (
                    form.cleaned_data["usual_product"].pk if form.cleaned_data["usual_product"] else None
                )
                with transaction.atomic():
                    field = services.create_field(request.user, household, data)
                messages.success(request, gettext("已登记地块 %(name)s") % {"name": field.name})
                return redirect("fertilizer:field", field.pk)
            except ValidationError as e:
                _errors(request, e)
    fields = household.fert_fields.prefetch_related(
        Prefetch(
            "recommendations", queryset=Recommendation.objects.filter(is_current=True), to_attr="current_recs"
        )
    )
    return render(
        request,
        "fertilizer/household.html",
        {"household": household, "fields": fields, "form": form, "can_manage": can_manage},
    )


def _field(request: HttpRequest, pk: int) -> FarmField:
    return get_object_or_404(
        access.fields_for(request.user).select_related("household__station", "usual_product"), pk=pk
    )


@permission_required()
def field_detail(request: HttpRequest, pk: int) -> HttpResponse:
    field = _field(request, pk)
    can_soil = access.soil_writable_fields(request.user).filter(pk=pk).exists()
    form = SoilTestForm(request.POST or None) if can_soil else None
    if request.method == "POST":
        if not can_soil:
            raise PermissionDenied
        if form.is_valid():
            try:
                with transaction.atomic():
                    services.create_soil_test(request.user, field, form.cleaned_data)
                messages.success(request, gettext("测土结果已保存"))
                return redirect("fertilizer:field", pk)
            except ValidationError as e:
                _errors(request, e)
    tests = list(field.soil_tests.all())
    return render(
        request,
        "fertilizer/field.html",
        {
            "field": field,
            "area_ha": (field.area_mu / Decimal(str(MU_PER_HA))).quantize(Decimal("0.01")),
            "tests": [_graded(t) for t in tests],
            "recommendations": field.recommendations.select_related("parameter_set")[:10],
            "form": form,
            "can_manage": access.managed_fields(request.user).filter(pk=pk).exists(),
            "can_recommend": access.recommendable_fields(request.user).filter(pk=pk).exists(),
        },
    )


def _graded(test: Any) -> dict[str, Any]:
    from .agronomy.methods import soil_grade

    rows = []
    for key, label, attr, unit in INDICATORS:
        indicator = {"N": "alkali_n", "P2O5": "available_p", "K2O": "available_k"}.get(key, key)
        value = getattr(test, attr)
        g = soil_grade(float(value), indicator)
        rows.append({"label": label, "value": value, "unit": unit, "grade": g, "grade_zh": GRADE_ZH[g]})
    return {"test": test, "rows": rows}


@permission_required()
def field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(access.managed_fields(request.user).select_related("household"), pk=pk)
    form = FieldForm(request.POST or None, instance=field)
    if request.method == "POST" and form.is_valid():
        try:
            data = {k: v for k, v in form.cleaned_data.items() if k != "usual_product"}
            data["usual_product_id"] = (
                form.cleaned_data["usual_product"].pk if form.cleaned_data["usual_product"] else None
            )
            with transaction.atomic():
                services.update_field(request.user, field, data)
            messages.success(request, gettext("地块已更新"))
            return redirect("fertilizer:field", pk)
        except ValidationError as e:
            _errors(request, e)
    return render(request, "fertilizer/field_form.html", {"form": form, "field": field})


@permission_required()
@require_POST
def field_recommend(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(
        access.recommendable_fields(request.user).select_related("household__station"), pk=pk
    )
    try:
        with transaction.atomic():
            rec = services.create_recommendation(request.user, field)
            services.create_plan(request.user, rec)
    except ValidationError as e:
        _errors(request, e)
        return redirect("fertilizer:field", pk)
    return redirect("fertilizer:recommendation", rec.pk)


def _rec(request: HttpRequest, pk: int) -> Recommendation:
    return get_object_or_404(
        access.recommendations_for(request.user).select_related(
            "field__household__station", "parameter_set", "soil_test"
        ),
        pk=pk,
    )


NUTRIENT_LABELS = {"N": "N", "P2O5": "P₂O₅", "K2O": "K₂O"}


def plan_comparison(plan: BagPlan | None) -> dict[str, Any] | None:
    """The plan against the household's usual practice, told honestly: a saving when it saves, and
    when it costs more, how much more and why (which nutrients it adds, or that usual practice was
    priced at the cheapest straight fertilizers while the plan buys whole bags on offer)."""
    if plan is None or plan.saving_cost is None or plan.usual_cost is None:
        return None
    diff = plan.saving_kg() or {}
    more = [(NUTRIENT_LABELS[n], round(-v, 1)) for n, v in diff.items() if v < -0.05]
    less = [(NUTRIENT_LABELS[n], round(v, 1)) for n, v in diff.items() if v > 0.05]
    sep = gettext("、")
    more_text = sep.join(f"{n} {kg:g} kg" for n, kg in more)
    less_text = sep.join(f"{n} {kg:g} kg" for n, kg in less)
    if plan.saving_cost >= 0:
        headline = gettext("比习惯施肥节省 %(amount)s") % {"amount": format_cny(plan.saving_cost)}
        why = gettext("少施 %(less)s") % {"less": less_text} if less_text else ""
        return {"saves": True, "headline": headline, "why": why, "more": more_text, "less": less_text}
    extra = -plan.saving_cost
    headline = gettext("比习惯施肥多花 %(amount)s") % {"amount": format_cny(extra)}
    if more_text:
        why = gettext(
            "因为本方案多施 %(more)s：按测土结果和目标产量，习惯施肥这些养分不足，补足后才能达到目标产量"
        ) % {"more": more_text}
    else:
        why = gettext(
            "养分并不比习惯施肥多；差价来自习惯施肥按今天最便宜的单质肥估价，而本方案按站点现有产品整袋购买"
        )
    return {"saves": False, "headline": headline, "why": why, "more": more_text, "less": less_text}


def card_context(rec: Recommendation) -> dict[str, Any]:
    plan = rec.plans.prefetch_related("lines").order_by("-created_at", "-pk").first()
    field = rec.field
    lines = list(plan.lines.all()) if plan else []
    timing = TIMING.get(field.crop, TIMING["maize"])
    area = float(rec.area_mu)
    nutrients_rows = []
    for n, label in (
        ("N", gettext("氮 N")),
        ("P2O5", gettext("磷 P₂O₅")),
        ("K2O", gettext("钾 K₂O")),
    ):
        b, t = rec.targets["basal"][n], rec.targets["topdress"][n]
        nutrients_rows.append(
            {
                "label": label,
                "basal": round(b, 2),
                "top": round(t, 2),
                "total": round(b + t, 2),
                "field": round((b + t) * area, 1),
            }
        )
    saving_kg = plan.saving_kg() if plan else None
    return {
        "comparison": plan_comparison(plan),
        "rec": rec,
        "field": field,
        "household": field.household,
        "station": field.household.station,
        "area_ha": round(area / MU_PER_HA, 2),
        "soil": _graded(rec.soil_test) if rec.soil_test else None,
        "nutrients": nutrients_rows,
        "plan": plan,
        "basal_lines": [x for x in lines if x.phase == "basal"],
        "top_lines": [x for x in lines if x.phase == "topdress"],
        "timing_basal": timing[0],
        "timing_top": timing[1],
        "saving_kg": saving_kg,
        "crop_zh": CROPS.get(field.crop, field.crop),
        "zone_zh": ZONES.get(field.zone, field.zone),
        "method_zh": {
            "nutrient_balance": gettext("养分平衡法（测土配方）"),
            "zone_formula": gettext("区域大配方"),
            "zone_graded": gettext("区域大配方＋测土分级"),
        }.get(rec.method, rec.method),
    }


@permission_required()
def recommendation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rec = _rec(request, pk)
    newest = rec.plans.order_by("-created_at", "-pk").first()
    if newest is not None:
        services.watch_plan(newest)
    ctx = card_context(rec)
    plan = ctx["plan"]
    ctx["progress"] = services.plan_progress(plan) if plan is not None and plan.job_active else None
    ctx["can_order"] = (
        plan is not None
        and plan.status == PlanStatus.PROPOSED
        and access.orderable_plans(request.user).filter(pk=plan.pk).exists()
    )
    ctx["can_replan"] = access.managed_fields(request.user).filter(pk=rec.field_id).exists()
    ctx["n_optimum"], ctx["n_optimum_missing"] = services.n_economic_optimum(rec, ctx["station"])
    return render(request, "fertilizer/recommendation.html", ctx)


@permission_required()
@require_POST
def recommendation_replan(request: HttpRequest, pk: int) -> HttpResponse:
    rec = _rec(request, pk)
    if not access.managed_fields(request.user).filter(pk=rec.field_id).exists():
        raise PermissionDenied
    with transaction.atomic():
        plan = services.create_plan(request.user, rec)
    if plan.is_solved:  # worked out inside the request (no background worker configured)
        messages.success(request, gettext("已按当前价格重新配肥"))
    return redirect("fertilizer:recommendation", pk)


@permission_required()
def plan_status(request: HttpRequest, pk: int) -> JsonResponse:
    """Polled by the recommendation page while its plan is worked out; a job whose process died
    is queued again."""
    plan = services.watch_plan(get_object_or_404(access.plans_for(request.user), pk=pk))
    return JsonResponse(services.plan_progress(plan))


@permission_required()
def plan_order(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand a plan over: ask how each line is paid (cash collected now, credit, online at checkout),
    then book exactly that."""
    plan = get_object_or_404(
        access.orderable_plans(request.user).select_related("station", "recommendation__field__household"),
        pk=pk,
    )
    household = plan.recommendation.field.household
    try:
        services.check_orderable(plan)
    except ValidationError as e:
        if plan.status != PlanStatus.ORDERED or request.method == "POST":
            _errors(request, e)
            return redirect("fertilizer:recommendation", plan.recommendation_id)
    lines = services.handover_lines(request.user, plan)
    chosen: dict[int, str] = {}
    if request.method == "POST":
        chosen = {h.key: request.POST.get(f"method_{h.key}", "") for h in lines}
        try:
            done, _ = services.add_plan_to_order(request.user, plan, chosen)
        except ValidationError as e:
            _errors(request, e)
        else:
            taken = sorted({x.accepted_by for x in done})
            where = gettext("、").join(
                gettext("购物篮") if t == "stock" else gettext("%(source)s（团购）") % {"source": t}
                for t in taken
            )
            messages.success(request, gettext("已加入%(where)s") % {"where": where})
            if "stock" in taken:  # stock lines wait in the household's basket for the station checkout
                return redirect("storefront:station-basket", household.pk)
            return redirect("fertilizer:recommendation", plan.recommendation_id)
    from marketplace.payments.credit import credit_account

    return render(
        request,
        "fertilizer/plan_order.html",
        {
            "plan": plan,
            "household": household,
            "lines": lines,
            "chosen": chosen,
            "credit": credit_account(household),
        },
    )


@permission_required()
def recommendation_card(request: HttpRequest, pk: int) -> HttpResponse:
    rec = _rec(request, pk)
    size = "A5" if request.GET.get("size", "").upper() == "A5" else "A4"
    pdf = render_pdf("fertilizer/card.html", {**card_context(rec), "page_size": size})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="fertilizer-card-{rec.pk}-{size}.pdf"'
    return response


@permission_required(access.ENTER_SOIL_TESTS)
def soil_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = ImportForm(request.POST or None, request.FILES or None)
    row_errors = []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = services.import_soil_tests(user, upload.name, upload)
            messages.success(request, gettext("已导入 %(n)s 条测土结果") % {"n": batch.row_count})
            return redirect("fertilizer:import")
        except services.ImportFailed as e:
            row_errors = e.row_errors
            messages.error(
                request, gettext("导入失败：发现 %(n)s 处错误，未导入任何数据") % {"n": len(row_errors)}
            )
        except ValidationError as e:
            _errors(request, e)
    return render(
        request,
        "fertilizer/import.html",
        {
            "form": form,
            "row_errors": row_errors,
            "columns": services.COLUMNS,
            "micro": services.MICRO_COLUMNS,
        },
    )


@permission_required(access.READ_PARAMETERS)
def parameter_sets(request: HttpRequest) -> HttpResponse:
    rows = []
    for crop, crop_zh in CROPS.items():
        for zone, zone_zh in ZONES.items():
            v = (
                ParameterSetVersion.objects.filter(crop=crop, zone=zone)
                .order_by("-version")
                .only("version", "created_at")
                .first()
            )
            rows.append({"crop": crop, "zone": zone, "crop_zh": crop_zh, "zone_zh": zone_zh, "version": v})
    return render(
        request,
        "fertilizer/parameters.html",
        {"rows": rows, "can_edit": access.can_edit_parameters(request.user)},
    )


@permission_required(access.READ_PARAMETERS)
def parameter_set_edit(request: HttpRequest, crop: str, zone: str) -> HttpResponse:
    user = request.user
    if crop not in CROPS or zone not in ZONES:
        raise Http404
    current = services.latest_parameter_version(crop, zone)
    can_edit = access.can_edit_parameters(user)
    form = ParameterForm(request.POST or None, initial=ParameterForm.initial_from(current.data))
    if request.method == "POST":
        check(user, (access.EDIT_PARAMETERS,))
        if form.is_valid():
            try:
                with transaction.atomic():
                    v = services.update_parameter_set(
                        user, crop, zone, form.changes(), form.cleaned_data["note"]
                    )
                messages.success(request, gettext("已保存为第 %(version)s 版") % {"version": v.version})
                return redirect("fertilizer:parameter-set", crop, zone)
            except ValidationError as e:
                _errors(request, e)
    history = (
        ParameterSetVersion.objects.filter(crop=crop, zone=zone)
        .select_related("created_by")
        .order_by("-version")[:50]
    )
    return render(
        request,
        "fertilizer/parameter_set.html",
        {
            "crop_zh": CROPS[crop],
            "zone_zh": ZONES[zone],
            "current": current,
            "form": form,
            "can_edit": can_edit,
            "history": history,
        },
    )


@permission_required()
def demand(request: HttpRequest, county_id: int) -> HttpResponse:
    county = get_object_or_404(County, pk=county_id)
    try:
        d = services.county_demand(request.user, county)
    except PermissionDenied:
        raise Http404 from None
    commitments, clusters = services.county_commitments(request.user, county, d)
    return render(
        request,
        "fertilizer/demand.html",
        {
            "d": d,
            "county": county,
            "bars": charts.bar_chart(d.totals),
            "map": charts.township_map(d.stations, clusters) if not d.aggregated_only else "",
            "clusters": clusters,
            "commitments": commitments,
            "planned": services.county_planned(county) if not d.aggregated_only else [],
            "sums": {
                "tonnes": sum((c.tonnes for c in clusters), Decimal(0)),
                "area_mu": sum((c.area_mu for c in clusters), Decimal(0)),
                "stations": sum(c.stations for c in clusters),
                "recommended": sum(r.recommended_bags for r in commitments),
                "pledged": sum((r.pledged for r in commitments), Decimal(0)),
                "ordered": sum((r.ordered for r in commitments), Decimal(0)),
            },
        },
    )


@permission_required()
def demand_index(request: HttpRequest) -> HttpResponse:
    user = request.user
    counties = access.demand_counties(user)
    if access.is_supplier(user):
        counties = County.objects.filter(Q(stations__fert_plans__is_current=True)).distinct()
    counties = list(counties.order_by("code")[:200])
    if len(counties) == 1:
        return redirect(reverse("fertilizer:demand", args=[counties[0].pk]))
    return render(request, "fertilizer/demand_index.html", {"counties": counties})


__all__ = ["BagPlan"]


TEMPLATE_MAX_FIELDS = 5000


@permission_required()
def soil_import_template(request: HttpRequest) -> HttpResponse:
    """The soil import file to fill in: the header the import reads, one row per field the user may
    import results for (its 地块编号 filled in, household and field name beside it for orientation;
    the import ignores those two columns). ``?household=`` limits it to one household."""
    fields = (
        access.soil_writable_fields(request.user)
        .select_related("household")
        .order_by("household__name", "name", "pk")
    )
    household = request.GET.get("household", "")
    if household.isdigit():
        fields = fields.filter(household_id=household)
    rows = services.soil_template_rows(fields[:TEMPLATE_MAX_FIELDS])
    if request.GET.get("format") == "xlsx":
        content = services.rows_to_xlsx(rows)
        response = HttpResponse(
            content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = 'attachment; filename="soil-import-template.xlsx"'
        return response
    response = HttpResponse(services.rows_to_csv(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="soil-import-template.csv"'
    return response

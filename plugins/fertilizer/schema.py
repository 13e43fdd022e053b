"""GraphQL for the fertilizer plugin (merged into the root schema through the AppConfig hooks).

List resolvers select/prefetch everything their types read, so their query count does not grow
with the page size (tested in tests/plugins/fertilizer/test_fert_graphql.py).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import graphene
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils.translation import gettext
from graphene.types.generic import GenericScalar

from marketplace.core import permissions
from marketplace.graphql.core.errors import CommonErrorCode, errors_from_exception
from marketplace.graphql.core.mutations import BaseMutation
from marketplace.graphql.core.types import money, page, page_args
from marketplace.stations.models import County

from . import access, services
from .agronomy.methods import SOIL_INDICATOR_FOR_NUTRIENT, soil_grade
from .agronomy.params import DEFAULT_SOIL_GRADING
from .models import BagPlan, FarmField, ParameterSetVersion, Recommendation, SoilTest


class Nutrients(graphene.ObjectType):
    n = graphene.Float(required=True, name="N")
    p2o5 = graphene.Float(required=True, name="P2O5")
    k2o = graphene.Float(required=True, name="K2O")

    class Meta:
        name = "FertNutrients"


def nutrients(d: dict[str, float] | None) -> Nutrients | None:
    if not d:
        return None
    return Nutrients(n=d["N"], p2o5=d["P2O5"], k2o=d["K2O"])


class Reason(graphene.ObjectType):
    code = graphene.String(required=True)
    message = graphene.String(required=True)

    class Meta:
        name = "FertReason"


class SoilTestType(graphene.ObjectType):
    id = graphene.ID(required=True)
    field_id = graphene.ID(required=True)
    lab = graphene.String(required=True)
    sample_date = graphene.Date(required=True)
    ph = graphene.Decimal(required=True)
    organic_matter_g_kg = graphene.Decimal(required=True)
    alkali_n_mg_kg = graphene.Decimal(required=True)
    olsen_p_mg_kg = graphene.Decimal(required=True)
    available_k_mg_kg = graphene.Decimal(required=True)
    micronutrients = GenericScalar(required=True)
    grades = GenericScalar(required=True, description="Soil class 1 (rich) .. 6 (poor) per indicator.")

    class Meta:
        name = "SoilTest"

    @staticmethod
    def resolve_grades(test: SoilTest, info) -> dict[str, int]:
        out = {
            n: soil_grade(float(getattr(test, attr)), SOIL_INDICATOR_FOR_NUTRIENT[n], DEFAULT_SOIL_GRADING)
            for n, attr in (("N", "alkali_n_mg_kg"), ("P2O5", "olsen_p_mg_kg"), ("K2O", "available_k_mg_kg"))
        }
        out["organic_matter"] = soil_grade(float(test.organic_matter_g_kg), "organic_matter")
        return out


class ParameterSetType(graphene.ObjectType):
    id = graphene.ID(required=True)
    crop = graphene.String(required=True)
    zone = graphene.String(required=True)
    version = graphene.Int(required=True)
    data = GenericScalar(required=True)
    note = graphene.String(required=True)
    created_at = graphene.DateTime(required=True)

    class Meta:
        name = "FertParameterSet"


class PlanLineType(graphene.ObjectType):
    id = graphene.ID(required=True)
    phase = graphene.String(required=True)
    product_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    grade = graphene.String(required=True)
    bag_kg = graphene.Decimal(required=True)
    bags = graphene.Int(required=True)
    unit_price = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    source = graphene.String(required=True)
    accepted_by = graphene.String(required=True)
    accepted_ref = graphene.String(required=True)

    class Meta:
        name = "FertPlanLine"

    @staticmethod
    def resolve_unit_price(line, info):
        return money(line.unit_price)


class PlanType(graphene.ObjectType):
    id = graphene.ID(required=True)
    status = graphene.String(
        required=True,
        description="solving (worked out in the background: poll fertPlan(id)) | proposed | infeasible | "
        "failed (recompute) | ordered",
    )
    job_status = graphene.String(description="Background job: queued | running | done | failed (null: none).")
    solving = graphene.Boolean(
        required=True, description="True while the plan is queued or being worked out."
    )
    station_id = graphene.ID(required=True)
    cost = graphene.Field("marketplace.graphql.core.types.Money", required=True)
    usual_cost = graphene.Field("marketplace.graphql.core.types.Money")
    usual_label = graphene.String(required=True)
    saving_cost = graphene.Field("marketplace.graphql.core.types.Money")
    delivered_kg = graphene.Field(Nutrients)
    usual_kg = graphene.Field(Nutrients)
    saving_kg = graphene.Field(Nutrients)
    tolerance = graphene.Float(required=True)
    error = graphene.String(required=True)
    reasons = graphene.List(graphene.NonNull(Reason), required=True)
    lines = graphene.List(graphene.NonNull(PlanLineType), required=True)

    class Meta:
        name = "FertPlan"

    @staticmethod
    def resolve_job_status(plan, info):
        return plan.job_status or None

    @staticmethod
    def resolve_solving(plan, info):
        return plan.job_active

    @staticmethod
    def resolve_cost(plan, info):
        return money(plan.cost)

    @staticmethod
    def resolve_usual_cost(plan, info):
        return money(plan.usual_cost)

    @staticmethod
    def resolve_saving_cost(plan, info):
        return money(plan.saving_cost)

    @staticmethod
    def resolve_delivered_kg(plan, info):
        return nutrients(plan.delivered_kg)

    @staticmethod
    def resolve_usual_kg(plan, info):
        return nutrients(plan.usual_kg)

    @staticmethod
    def resolve_saving_kg(plan, info):
        return nutrients(plan.saving_kg())

    @staticmethod
    def resolve_reasons(plan, info):
        return [Reason(**r) for r in plan.reasons]

    @staticmethod
    def resolve_lines(plan, info):
        return plan.lines.all()


class RecommendationType(graphene.ObjectType):
    id = graphene.ID(required=True)
    field_id = graphene.ID(required=True)
    method = graphene.String(required=True)
    reasons = graphene.List(graphene.NonNull(Reason), required=True)
    target_yield_kg_mu = graphene.Decimal(required=True)
    area_mu = graphene.Decimal(required=True)
    total_kg_mu = graphene.Field(Nutrients, required=True)
    basal_kg_mu = graphene.Field(Nutrients, required=True)
    topdress_kg_mu = graphene.Field(Nutrients, required=True)
    soil_grades = GenericScalar(required=True)
    parameter_set = graphene.Field(ParameterSetType, required=True)
    is_current = graphene.Boolean(required=True)
    created_at = graphene.DateTime(required=True)
    plan = graphene.Field(PlanType, description="The newest bag plan for this recommendation.")

    class Meta:
        name = "FertRecommendation"

    @staticmethod
    def resolve_reasons(rec, info):
        return [Reason(**r) for r in rec.reasons]

    @staticmethod
    def resolve_total_kg_mu(rec, info):
        return Nutrients(n=rec.n_kg_mu, p2o5=rec.p2o5_kg_mu, k2o=rec.k2o_kg_mu)

    @staticmethod
    def resolve_basal_kg_mu(rec, info):
        return nutrients(rec.targets["basal"])

    @staticmethod
    def resolve_topdress_kg_mu(rec, info):
        return nutrients(rec.targets["topdress"])

    @staticmethod
    def resolve_plan(rec, info):
        plans = list(rec.plans.all())  # prefetched, newest first
        return plans[0] if plans else None


class FertFieldType(graphene.ObjectType):
    id = graphene.ID(required=True)
    household_id = graphene.ID(required=True)
    household_name = graphene.String(required=True)
    station_id = graphene.ID(required=True)
    name = graphene.String(required=True)
    area_mu = graphene.Decimal(required=True)
    area_ha = graphene.Decimal(required=True)
    crop = graphene.String(required=True)
    zone = graphene.String(required=True)
    latitude = graphene.Float()
    longitude = graphene.Float()
    recent_yields_kg_mu = graphene.List(graphene.NonNull(graphene.Float), required=True)
    usual_product_id = graphene.ID()
    usual_bags = graphene.Int()
    soil_tests = graphene.List(graphene.NonNull(SoilTestType), required=True)
    current_recommendation = graphene.Field(RecommendationType)

    class Meta:
        name = "FertField"

    @staticmethod
    def resolve_household_name(field, info):
        return field.household.name

    @staticmethod
    def resolve_station_id(field, info):
        return field.household.station_id

    @staticmethod
    def resolve_recent_yields_kg_mu(field, info):
        return list(field.recent_yields)

    @staticmethod
    def resolve_soil_tests(field, info):
        return field.soil_tests.all()

    @staticmethod
    def resolve_current_recommendation(field, info):
        current = getattr(field, "current_recs", None)
        if current is None:
            current = list(field.recommendations.filter(is_current=True))
        return current[0] if current else None


def _page_type(name: str, item: type) -> type:
    return type(
        name,
        (graphene.ObjectType,),
        {
            "total_count": graphene.Int(required=True),
            "items": graphene.List(graphene.NonNull(item), required=True),
        },
    )


FertFieldPage = _page_type("FertFieldPage", FertFieldType)
SoilTestPage = _page_type("SoilTestPage", SoilTestType)
RecommendationPage = _page_type("FertRecommendationPage", RecommendationType)


class DemandRowType(graphene.ObjectType):
    product_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    grade = graphene.String(required=True)
    bags = graphene.Int(required=True)
    tonnes = graphene.Decimal(required=True)
    cost = graphene.Decimal(required=True)
    station_id = graphene.ID()
    station_name = graphene.String()

    class Meta:
        name = "FertDemandRow"


class StationDemandType(graphene.ObjectType):
    station_id = graphene.ID(required=True)
    name = graphene.String(required=True)
    latitude = graphene.Float(required=True)
    longitude = graphene.Float(required=True)
    area_mu = graphene.Decimal(required=True)
    tonnes = graphene.Decimal(required=True)
    nutrients_kg = graphene.Field(Nutrients, required=True)

    class Meta:
        name = "FertStationDemand"


class CountyDemandType(graphene.ObjectType):
    county_id = graphene.ID(required=True)
    aggregated_only = graphene.Boolean(required=True)
    totals = graphene.List(graphene.NonNull(DemandRowType), required=True)
    rows = graphene.List(graphene.NonNull(DemandRowType), required=True)
    stations = graphene.List(graphene.NonNull(StationDemandType), required=True)

    class Meta:
        name = "FertCountyDemand"


def _recs_prefetch() -> Prefetch:
    return Prefetch(
        "plans",
        queryset=BagPlan.objects.prefetch_related("lines").order_by("-created_at", "-pk"),
    )


def _field_qs(user):
    return (
        access.fields_for(user)
        .select_related("household")
        .prefetch_related(
            "soil_tests",
            Prefetch(
                "recommendations",
                queryset=Recommendation.objects.filter(is_current=True)
                .select_related("parameter_set")
                .prefetch_related(_recs_prefetch()),
                to_attr="current_recs",
            ),
        )
    )


class FertilizerQueries(graphene.ObjectType):
    fert_fields = graphene.Field(
        FertFieldPage, required=True, household_id=graphene.ID(), station_id=graphene.ID(), **page_args()
    )
    fert_field = graphene.Field(FertFieldType, id=graphene.ID(required=True))
    soil_tests = graphene.Field(SoilTestPage, required=True, field_id=graphene.ID(), **page_args())
    recommendations = graphene.Field(RecommendationPage, required=True, field_id=graphene.ID(), **page_args())
    recommendation = graphene.Field(RecommendationType, id=graphene.ID(required=True))
    fert_plan = graphene.Field(
        PlanType,
        id=graphene.ID(required=True),
        description="One bag plan (null if unknown or not yours); poll it while its status is solving.",
    )
    parameter_sets = graphene.List(
        graphene.NonNull(ParameterSetType),
        required=True,
        crop=graphene.String(),
        zone=graphene.String(),
        all_versions=graphene.Boolean(default_value=False),
    )
    county_demand = graphene.Field(CountyDemandType, county_id=graphene.ID(required=True))

    @staticmethod
    def resolve_fert_fields(root, info, household_id=None, station_id=None, first=None, offset=None):
        qs = _field_qs(info.context.user)
        if household_id:
            qs = qs.filter(household_id=household_id)
        if station_id:
            qs = qs.filter(household__station_id=station_id)
        items, total = page(qs.order_by("household__name", "name", "pk"), first, offset)
        return FertFieldPage(items=items, total_count=total)

    @staticmethod
    def resolve_fert_field(root, info, id):
        return _field_qs(info.context.user).filter(pk=id).first()

    @staticmethod
    def resolve_soil_tests(root, info, field_id=None, first=None, offset=None):
        qs = access.soil_tests_for(info.context.user)
        if field_id:
            qs = qs.filter(field_id=field_id)
        items, total = page(qs.order_by("-sample_date", "-pk"), first, offset)
        return SoilTestPage(items=items, total_count=total)

    @staticmethod
    def resolve_recommendations(root, info, field_id=None, first=None, offset=None):
        qs = access.recommendations_for(info.context.user).select_related("parameter_set")
        if field_id:
            qs = qs.filter(field_id=field_id)
        qs = qs.prefetch_related(_recs_prefetch()).order_by("-created_at", "-pk")
        items, total = page(qs, first, offset)
        return RecommendationPage(items=items, total_count=total)

    @staticmethod
    def resolve_recommendation(root, info, id):
        return (
            access.recommendations_for(info.context.user)
            .select_related("parameter_set")
            .prefetch_related(_recs_prefetch())
            .filter(pk=id)
            .first()
        )

    @staticmethod
    def resolve_fert_plan(root, info, id):
        if not str(id).isdigit():
            return None
        plan = access.plans_for(info.context.user).filter(pk=id).first()
        return services.watch_plan(plan) if plan is not None else None

    @staticmethod
    def resolve_parameter_sets(root, info, crop=None, zone=None, all_versions=False):
        if not access.can_read_parameters(info.context.user):
            return []
        qs = ParameterSetVersion.objects.all()
        if crop:
            qs = qs.filter(crop=crop)
        if zone:
            qs = qs.filter(zone=zone)
        if not all_versions:
            latest: dict[tuple[str, str], ParameterSetVersion] = {}
            for v in qs.order_by("crop", "zone", "-version").defer("data"):
                latest.setdefault((v.crop, v.zone), v)
            qs = ParameterSetVersion.objects.filter(pk__in=[v.pk for v in latest.values()])
        return list(qs.order_by("crop", "zone", "-version"))

    @staticmethod
    def resolve_county_demand(root, info, county_id):
        county = County.objects.filter(pk=county_id).first()
        if county is None:
            return None
        try:
            d = services.county_demand(info.context.user, county)
        except PermissionDenied:
            return None
        return CountyDemandType(
            county_id=county.pk,
            aggregated_only=d.aggregated_only,
            totals=d.totals,
            rows=d.rows,
            stations=[
                StationDemandType(
                    station_id=s["id"],
                    name=s["name"],
                    latitude=s["lat"],
                    longitude=s["lon"],
                    area_mu=s["area_mu"],
                    tonnes=s["tonnes"],
                    nutrients_kg=Nutrients(n=s["n_kg"], p2o5=s["p2o5_kg"], k2o=s["k2o_kg"]),
                )
                for s in d.stations
            ],
        )


# ---------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------


class FieldInput(graphene.InputObjectType):
    name = graphene.String()
    area_mu = graphene.Decimal()
    crop = graphene.String()
    zone = graphene.String()
    latitude = graphene.Decimal()
    longitude = graphene.Decimal()
    yield_1 = graphene.Decimal(name="yield1")
    yield_2 = graphene.Decimal(name="yield2")
    yield_3 = graphene.Decimal(name="yield3")
    usual_product_id = graphene.ID()
    usual_bags = graphene.Int()
    usual_n_kg_mu = graphene.Decimal()
    usual_p2o5_kg_mu = graphene.Decimal()
    usual_k2o_kg_mu = graphene.Decimal()

    class Meta:
        name = "FertFieldInput"


class FieldCreate(BaseMutation):
    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        household_id = graphene.ID(required=True)
        input = FieldInput(required=True)

    field = graphene.Field(FertFieldType)

    @classmethod
    def perform(cls, info: Any, household_id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        household = permissions.managed_households(user).get(pk=household_id)
        return {"field": services.create_field(user, household, dict(input))}


class FieldUpdate(BaseMutation):
    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        id = graphene.ID(required=True)
        input = FieldInput(required=True)

    field = graphene.Field(FertFieldType)

    @classmethod
    def perform(cls, info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        field = access.managed_fields(user).get(pk=id)
        return {"field": services.update_field(user, field, dict(input))}


class SoilTestInput(graphene.InputObjectType):
    lab = graphene.String(required=True)
    sample_date = graphene.Date(required=True)
    ph = graphene.Decimal(required=True)
    organic_matter_g_kg = graphene.Decimal(required=True)
    alkali_n_mg_kg = graphene.Decimal(required=True)
    olsen_p_mg_kg = graphene.Decimal(required=True)
    available_k_mg_kg = graphene.Decimal(required=True)
    micronutrients = GenericScalar()


class SoilTestCreate(BaseMutation):
    class Meta:
        permissions = (access.ENTER_SOIL_TESTS,)

    class Arguments:
        field_id = graphene.ID(required=True)
        input = SoilTestInput(required=True)

    soil_test = graphene.Field(SoilTestType)

    @classmethod
    def perform(cls, info: Any, field_id: str, input: dict[str, Any]) -> dict[str, Any]:
        user = info.context.user
        field = access.soil_writable_fields(user).get(pk=field_id)
        return {"soil_test": services.create_soil_test(user, field, dict(input))}


class ImportRowError(graphene.ObjectType):
    row = graphene.Int(required=True)
    column = graphene.String(required=True)
    code = graphene.String(required=True)
    message = graphene.String(required=True)


_ROW_CODES = {
    "required": CommonErrorCode.REQUIRED,
    "duplicate": CommonErrorCode.UNIQUE,
    "not_found": CommonErrorCode.NOT_FOUND,
}


class SoilTestImport(BaseMutation):
    """All-or-nothing import of a lab result file: CSV text, or an XLSX file as base64."""

    class Meta:
        permissions = (access.ENTER_SOIL_TESTS,)

    class Arguments:
        csv = graphene.String(description="CSV text (header row + one row per sample).")
        xlsx_base64 = graphene.String(description="An .xlsx file, base64-encoded.")
        filename = graphene.String()

    imported = graphene.Int(required=True)
    batch_id = graphene.ID()
    row_errors = graphene.List(graphene.NonNull(ImportRowError), required=True)

    @classmethod
    def failure(cls, errors: list[dict[str, Any]]):
        return cls(imported=0, row_errors=[], errors=errors)

    @classmethod
    def mutate(cls, root: Any, info: Any, **data: Any):
        try:
            with transaction.atomic():
                result = cls.perform(info, **data)
        except services.ImportFailed as exc:
            return cls(
                imported=0,
                row_errors=[ImportRowError(**e.as_dict()) for e in exc.row_errors],
                errors=[
                    {
                        "field": f"row{e.row}.{e.column}" if e.column else f"row{e.row}",
                        "code": _ROW_CODES.get(e.code, CommonErrorCode.INVALID),
                        "message": str(e),
                    }
                    for e in exc.row_errors
                ],
            )
        except (ValidationError, PermissionDenied, ObjectDoesNotExist) as exc:
            return cls.failure(errors_from_exception(exc))
        return cls(errors=[], row_errors=[], **result)

    @classmethod
    def perform(cls, info: Any, csv: str | None = None, xlsx_base64: str | None = None, filename=None):
        user = info.context.user
        if bool(csv) == bool(xlsx_base64):
            raise ValidationError(
                {"csv": ValidationError(gettext("请提供 csv 或 xlsxBase64 之一"), code="required")}
            )
        if xlsx_base64:
            try:
                content: bytes | str = base64.b64decode(xlsx_base64, validate=True)
            except (binascii.Error, ValueError):
                raise ValidationError(
                    {"xlsxBase64": ValidationError(gettext("不是有效的 base64"), code="invalid")}
                ) from None
            name = filename or "upload.xlsx"
            if not name.lower().endswith(".xlsx"):
                name += ".xlsx"
        else:
            content, name = csv or "", filename or "upload.csv"
            if not name.lower().endswith((".csv", ".txt")):
                name += ".csv"
        batch = services.import_soil_tests(user, name, content)
        return {"imported": batch.row_count, "batch_id": batch.pk}


class ParameterSetInput(graphene.InputObjectType):
    uptake_per_100kg = GenericScalar()
    utilisation_rate = GenericScalar()
    correction_coefficient = GenericScalar()
    demand_share = GenericScalar()
    n_basal_fraction = graphene.Float()
    chloride_sensitive = graphene.Boolean()
    soil_grading = GenericScalar()
    abundance_thresholds = graphene.List(graphene.Float)
    zone_formula = GenericScalar()
    plan = GenericScalar(description="{tolerance: {N, P2O5, K2O}, basal_n_max_share, zero_target_cap_kg_mu}")

    class Meta:
        name = "FertParameterSetInput"


class ParameterSetUpdate(BaseMutation):
    """Save a new immutable version of the parameters of a crop + zone."""

    class Meta:
        permissions = (access.EDIT_PARAMETERS,)

    class Arguments:
        crop = graphene.String(required=True)
        zone = graphene.String(required=True)
        input = ParameterSetInput(required=True)
        note = graphene.String()

    parameter_set = graphene.Field(ParameterSetType)

    @classmethod
    def perform(
        cls, info: Any, crop: str, zone: str, input: dict[str, Any], note: str = ""
    ) -> dict[str, Any]:
        user = info.context.user
        changes = {k: v for k, v in dict(input).items() if v is not None}
        return {"parameter_set": services.update_parameter_set(user, crop, zone, changes, note or "")}


class RecommendationCreate(BaseMutation):
    """Recommend nutrients for a field (latest parameters) and price a bag plan at its station.

    The plan is worked out in the background: it comes back with status ``solving`` (``solving``
    true); poll ``fertPlan(id)`` until it is ``proposed`` / ``infeasible`` / ``failed``."""

    class Meta:
        permissions = (access.RECOMMEND,)

    class Arguments:
        field_id = graphene.ID(required=True)
        with_plan = graphene.Boolean(default_value=True)

    recommendation = graphene.Field(RecommendationType)
    plan = graphene.Field(PlanType)

    @classmethod
    def perform(cls, info: Any, field_id: str, with_plan: bool = True) -> dict[str, Any]:
        user = info.context.user
        field = access.recommendable_fields(user).select_related("household__station").get(pk=field_id)
        rec = services.create_recommendation(user, field)
        plan = services.create_plan(user, rec) if with_plan else None
        return {"recommendation": rec, "plan": plan}


class AcceptedLineType(graphene.ObjectType):
    product_id = graphene.ID(required=True)
    title = graphene.String(required=True)
    bags = graphene.Int(required=True)
    accepted_by = graphene.String(required=True)
    ref = graphene.String(required=True)

    class Meta:
        name = "FertAcceptedLine"


class PlanLinePaymentInput(graphene.InputObjectType):
    line_id = graphene.ID(required=True, description="The plan line (FertPlanLine.id) of the product.")
    method = graphene.String(required=True, description="cash (collected now) | credit | online")

    class Meta:
        name = "FertPlanLinePaymentInput"


class PlanAddToOrder(BaseMutation):
    """加入团购/购物篮: hand the plan to the group buy (or whichever plugin offered it) or the basket,
    each group-buy product paid as chosen in ``paymentMethods`` (stock lines: online at checkout)."""

    class Meta:
        permissions = (permissions.ACT_FOR_HOUSEHOLD,)

    class Arguments:
        plan_id = graphene.ID(required=True)
        payment_methods = graphene.List(graphene.NonNull(PlanLinePaymentInput))

    plan = graphene.Field(PlanType)
    accepted = graphene.List(graphene.NonNull(AcceptedLineType), required=True)

    @classmethod
    def failure(cls, errors: list[dict[str, Any]]):
        return cls(accepted=[], errors=errors)

    @classmethod
    def perform(cls, info: Any, plan_id: str, payment_methods=None) -> dict[str, Any]:
        user = info.context.user
        plan = (
            access.orderable_plans(user)
            .select_related("recommendation__field__household", "station")
            .get(pk=plan_id)
        )
        methods: dict[int, str] = {}
        for choice in payment_methods or []:
            if not str(choice.line_id).isdigit():
                raise ValidationError(
                    {"paymentMethods": ValidationError(gettext("无效的方案行"), code="invalid")}
                )
            methods[int(choice.line_id)] = choice.method
        done, _missing = services.add_plan_to_order(user, plan, methods)
        return {
            "plan": plan,
            "accepted": [
                AcceptedLineType(
                    product_id=x.product_id,
                    title=x.title,
                    bags=x.bags,
                    accepted_by=x.accepted_by,
                    ref=x.accepted_ref,
                )
                for x in done
            ],
        }


class FertilizerMutations(graphene.ObjectType):
    field_create = FieldCreate.Field()
    field_update = FieldUpdate.Field()
    soil_test_create = SoilTestCreate.Field()
    soil_test_import = SoilTestImport.Field()
    parameter_set_update = ParameterSetUpdate.Field()
    recommendation_create = RecommendationCreate.Field()
    plan_add_to_order = PlanAddToOrder.Field()


__all__ = ["FertilizerMutations", "FertilizerQueries", "FarmField"]

"""Fertilizer advice services: fields, soil tests (entry + bulk import), versioned parameter sets,
recommendations, purchasable bag plans, hand-over to the basket/group buy, county demand.

Views, GraphQL and the management command are thin wrappers around these functions; every function
takes the acting ``user`` and checks tenancy through :mod:`plugins.fertilizer.access`.
"""

from __future__ import annotations

import io
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, gettext_noop
from oscar.core.loading import get_model

from marketplace.apps.catalogue.product_types import FERTILIZER
from marketplace.core import extensions, jobs, permissions
from marketplace.core.extensions import PlanLine, PurchasableOffer
from marketplace.core.money import cny
from marketplace.core.tables import Column as TableColumn
from marketplace.core.tables import RowError, TableInvalid, TableSpec, read_table

from . import access, paramstore
from .agronomy import blend as blend_mod
from .agronomy.methods import AgronomyError, zone_formula_lookup
from .agronomy.nutrients import MU_PER_HA, NPK, NUTRIENTS
from .agronomy.recommend import FieldInfo
from .agronomy.recommend import SoilTest as SoilTestData
from .agronomy.recommend import recommend as agronomy_recommend
from .models import (
    CROPS,
    ZONES,
    BagPlan,
    BagPlanLine,
    FarmField,
    ParameterSetVersion,
    PlanPhase,
    PlanStatus,
    Recommendation,
    SoilImportBatch,
    SoilTest,
)

logger = logging.getLogger(__name__)

TWO = Decimal("0.01")
FERT_ATTRS = ("n_pct", "p2o5_pct", "k2o_pct", "chloride_class", "bag_kg")
NUTRIENT_ZH = {"N": "氮(N)", "P2O5": "磷(P₂O₅)", "K2O": "钾(K₂O)"}


def _dec(value: float, q: Decimal = TWO) -> Decimal:
    return Decimal(str(round(float(value), 6))).quantize(q)


# =============================================================================================
# Fields
# =============================================================================================

FIELD_INPUTS = (
    "name",
    "area_mu",
    "crop",
    "zone",
    "latitude",
    "longitude",
    "yield_1",
    "yield_2",
    "yield_3",
    "usual_product_id",
    "usual_bags",
    "usual_n_kg_mu",
    "usual_p2o5_kg_mu",
    "usual_k2o_kg_mu",
)


def _apply_field(field: FarmField, data: dict[str, Any]) -> FarmField:
    for key in FIELD_INPUTS:
        if key in data:
            value = data[key]
            if value == "":
                value = None
            setattr(field, key, value)
    if field.usual_product_id is not None:
        Product = get_model("catalogue", "Product")
        if not Product.objects.filter(pk=field.usual_product_id, product_class__slug=FERTILIZER).exists():
            raise ValidationError(
                {"usual_product_id": ValidationError(gettext("不是化肥产品"), code="invalid")}
            )
    field.full_clean(validate_constraints=False)  # the unique name is reported below, on "name"
    try:
        with transaction.atomic():
            field.save()
    except IntegrityError:
        raise ValidationError(
            {"name": ValidationError(gettext("该农户已有同名地块"), code="unique")}
        ) from None
    return field


def create_field(user: Any, household: Any, data: dict[str, Any]) -> FarmField:
    permissions.require(permissions.can_manage_household(user, household), gettext("无权为该农户登记地块"))
    return _apply_field(FarmField(household=household), data)


def update_field(user: Any, field: FarmField, data: dict[str, Any]) -> FarmField:
    permissions.require(access.managed_fields(user).filter(pk=field.pk).exists(), gettext("无权修改该地块"))
    return _apply_field(field, {k: v for k, v in data.items() if k != "household"})


# =============================================================================================
# Soil tests: one record and bulk import
# =============================================================================================


@dataclass(frozen=True)
class Column:
    key: str
    aliases: tuple[str, ...]
    label: str  # lazily translated; str(label) in the active language
    kind: str = "number"  # number | text | date | id
    units: dict[str, float] | None = None  # accepted unit -> factor to the stored unit
    low: float | None = None
    high: float | None = None
    required: bool = True


MG = {"mg/kg": 1.0, "ppm": 1.0, "毫克/千克": 1.0, "g/kg": 1000.0}
COLUMNS: tuple[Column, ...] = (
    Column("field_id", ("field_id", "地块编号", "地块id"), gettext_lazy("地块编号"), "id"),
    Column("lab", ("lab", "检测机构", "化验室"), gettext_lazy("检测机构"), "text"),
    Column("sample_date", ("sample_date", "采样日期"), gettext_lazy("采样日期"), "date"),
    Column("ph", ("ph", "酸碱度"), "pH", units={"": 1.0}, low=3.5, high=10.0),
    Column(
        "organic_matter_g_kg",
        ("organic_matter", "有机质"),
        gettext_lazy("有机质"),
        units={"g/kg": 1.0, "%": 10.0, "克/千克": 1.0},
        low=2.0,
        high=200.0,
    ),
    Column("alkali_n_mg_kg", ("alkali_n", "碱解氮"), gettext_lazy("碱解氮"), units=MG, low=5.0, high=600.0),
    Column("olsen_p_mg_kg", ("olsen_p", "有效磷"), gettext_lazy("有效磷"), units=MG, low=0.5, high=300.0),
    Column(
        "available_k_mg_kg",
        ("available_k", "速效钾"),
        gettext_lazy("速效钾"),
        units=MG,
        low=10.0,
        high=1500.0,
    ),
)
MICRO_COLUMNS: tuple[Column, ...] = (
    Column("zn", ("zn", "有效锌"), gettext_lazy("有效锌"), units=MG, low=0.0, high=100.0, required=False),
    Column("b", ("b", "有效硼"), gettext_lazy("有效硼"), units=MG, low=0.0, high=20.0, required=False),
    Column("fe", ("fe", "有效铁"), gettext_lazy("有效铁"), units=MG, low=0.0, high=500.0, required=False),
    Column("mn", ("mn", "有效锰"), gettext_lazy("有效锰"), units=MG, low=0.0, high=500.0, required=False),
    Column("cu", ("cu", "有效铜"), gettext_lazy("有效铜"), units=MG, low=0.0, high=100.0, required=False),
    Column("s", ("s", "有效硫"), gettext_lazy("有效硫"), units=MG, low=0.0, high=500.0, required=False),
)
ALL_COLUMNS = COLUMNS + MICRO_COLUMNS
MAX_IMPORT_ROWS = 20000

#: Nothing was imported; ``row_errors`` lists every problem (the core table reader's error type,
#: so file, header and row problems arrive in one list).
ImportFailed = TableInvalid


def _err(row: int, column: Any, code: str, message: Any) -> RowError:
    return RowError(row, column, message, code)


def _table_column(col: Column, required: bool) -> TableColumn:
    """The reader's view of a soil column: Chinese header first (the template's), the English key
    and the label in the active language also accepted; ``名称(单位)`` checked against its units."""
    zh = col.aliases[1] if len(col.aliases) > 1 else col.key
    return TableColumn(
        col.key,
        (zh, *col.aliases, col.label),
        label=col.label,
        required=required,
        units=tuple(col.units) if col.units is not None else None,
    )


#: The lab file: 地块编号 and the main results required; micronutrients optional; 农户 / 地块 are in
#: the template for orientation; other columns (sample code, remarks ...) are ignored.
SOIL_SPEC = TableSpec(
    (
        _table_column(COLUMNS[0], True),
        TableColumn("household_name", ("农户", "household")),
        TableColumn("field_name", ("地块", "field")),
        *(_table_column(c, True) for c in COLUMNS[1:]),
        *(_table_column(c, False) for c in MICRO_COLUMNS),
    ),
    unknown="ignore",
    max_rows=MAX_IMPORT_ROWS,
    max_bytes=10 * 1024 * 1024,
)


def _parse_number(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValueError
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        value = float(Decimal(str(raw).strip().replace(",", "")))
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError
    return value


def _parse_date(raw: Any) -> date:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip().replace("/", "-").replace(".", "-")
    parts = text.split(" ")[0].split("-")
    if len(parts) != 3:
        raise ValueError
    return date(int(parts[0]), int(parts[1]), int(parts[2]))


def _check_value(col: Column, raw: Any, factor: float, row: int, errors: list[RowError]) -> Any:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if col.required:
            errors.append(_err(row, col.label, "required", gettext("不能为空")))
        return None
    if col.kind == "text":
        text = str(raw).strip()
        if len(text) > 128:
            errors.append(_err(row, col.label, "invalid", gettext("超过128个字符")))
        return text
    if col.kind == "id":
        try:
            value = _parse_number(raw)
            if value != int(value) or value <= 0:
                raise ValueError
            return int(value)
        except (ValueError, InvalidOperation):
            errors.append(
                _err(row, col.label, "invalid", gettext("“%(value)s” 不是有效的地块编号") % {"value": raw})
            )
            return None
    if col.kind == "date":
        try:
            value = _parse_date(raw)
        except (ValueError, TypeError):
            errors.append(
                _err(
                    row, col.label, "invalid", gettext("“%(value)s” 不是日期（YYYY-MM-DD）") % {"value": raw}
                )
            )
            return None
        if value > timezone.localdate():
            errors.append(_err(row, col.label, "invalid", gettext("%(date)s 晚于今天") % {"date": value}))
        elif value < date(2000, 1, 1):
            errors.append(
                _err(row, col.label, "invalid", gettext("%(date)s 早于 2000-01-01") % {"date": value})
            )
        return value
    try:
        value = _parse_number(raw) * factor
    except (ValueError, InvalidOperation):
        errors.append(_err(row, col.label, "invalid", gettext("“%(value)s” 不是数字") % {"value": raw}))
        return None
    if (col.low is not None and value < col.low) or (col.high is not None and value > col.high):
        errors.append(
            _err(
                row,
                col.label,
                "out_of_range",
                gettext("%(value)s 超出合理范围 %(low)s–%(high)s（请检查单位）")
                % {"value": f"{value:g}", "low": f"{col.low:g}", "high": f"{col.high:g}"},
            )
        )
        return None
    return Decimal(str(round(value, 2)))


def _unit_factor(col: Column, unit: str) -> float:
    if col.units is None:
        return 1.0
    return col.units[unit] if unit else next(iter(col.units.values()))


def parse_soil_file(user: Any, filename: str, content: bytes | str | IO[bytes]) -> list[dict[str, Any]]:
    """Validate a whole lab file; returns the rows ready to save or raises :class:`ImportFailed`."""
    errors: list[RowError] = []
    rows: list[tuple[int, dict[str, Any]]] = []
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with read_table(data, SOIL_SPEC, filename) as table:
            present = [
                (col, _unit_factor(col, table.units[col.key]))
                for col in ALL_COLUMNS
                if col.key in table.columns
            ]
            for row in table:
                if row.errors:  # NUL bytes, over-long cells
                    errors.extend(row.errors)
                    continue
                record: dict[str, Any] = {"micronutrients": {}}
                for col, factor in present:
                    value = _check_value(col, row.values[col.key], factor, row.number, errors)
                    if col in MICRO_COLUMNS:
                        if value is not None:
                            record["micronutrients"][col.key] = float(value)
                    else:
                        record[col.key] = value
                rows.append((row.number, record))
    except TableInvalid as exc:  # the file, its header, or too many rows
        raise ImportFailed(errors + exc.row_errors) from None

    # tenancy + duplicates (in file and in the database), one query each
    ids = {r["field_id"] for _, r in rows if r.get("field_id")}
    allowed = set(access.soil_writable_fields(user).filter(pk__in=ids).values_list("pk", flat=True))
    dates = {r["sample_date"] for _, r in rows if r.get("sample_date")}
    existing = set(
        SoilTest.objects.filter(field_id__in=allowed, sample_date__in=dates).values_list(
            "field_id", "sample_date"
        )
    )
    first_seen: dict[tuple[int, date], int] = {}
    for rownum, r in rows:
        fid, day = r.get("field_id"), r.get("sample_date")
        if fid is None:
            continue
        if fid not in allowed:
            errors.append(
                _err(
                    rownum,
                    gettext("地块编号"),
                    "not_found",
                    gettext("地块 %(field)s 不存在或无权录入") % {"field": fid},
                )
            )
            continue
        if day is None:
            continue
        if (fid, day) in first_seen:
            errors.append(
                _err(
                    rownum,
                    gettext("采样日期"),
                    "duplicate",
                    gettext("与第%(row)s行重复（同一地块同一采样日期）") % {"row": first_seen[(fid, day)]},
                )
            )
        else:
            first_seen[(fid, day)] = rownum
        if (fid, day) in existing:
            errors.append(
                _err(
                    rownum,
                    gettext("采样日期"),
                    "duplicate",
                    gettext("地块 %(field)s 在 %(date)s 已有测土结果") % {"field": fid, "date": day},
                )
            )
    if errors:
        errors.sort(key=lambda e: (e.row, e.column))
        raise ImportFailed(errors)
    return [r for _, r in rows]


def import_soil_tests(user: Any, filename: str, content: bytes | str | IO[bytes]) -> SoilImportBatch:
    """All-or-nothing import of a CSV or XLSX lab file (bytes, text or an uploaded file; one
    transaction)."""
    permissions.require(access.can_import(user), gettext("无权导入测土结果"))
    records = parse_soil_file(user, filename, content)
    with transaction.atomic():
        batch = SoilImportBatch.objects.create(
            filename=filename[:255], uploaded_by=user, row_count=len(records)
        )
        SoilTest.objects.bulk_create(
            [SoilTest(batch=batch, created_by=user, field_id=r.pop("field_id"), **r) for r in records]
        )
    return batch


def soil_template_rows(fields: Iterable[FarmField]) -> list[list[Any]]:
    """Header and one row per field for the soil import template: the import's own columns
    (``SOIL_SPEC``: Chinese, with the stored unit), 地块编号 filled in, 农户 / 地块 beside it."""
    head = SOIL_SPEC.template_headers()
    rows: list[list[Any]] = [head]
    for f in fields:
        rows.append([f.pk, f.household.name, f.name, *([""] * (len(head) - 3))])
    return rows


def _safe_cell(value: Any) -> Any:
    """Keep a spreadsheet from reading a name as a formula."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def rows_to_csv(rows: Sequence[Sequence[Any]]) -> bytes:
    """The template as CSV (UTF-8 with BOM, formula-safe); ``rows[0]`` is ``SOIL_SPEC``'s header."""
    return SOIL_SPEC.template_csv(rows[1:])


def rows_to_xlsx(rows: Sequence[Sequence[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("soil")
    for row in rows:
        ws.append([_safe_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def create_soil_test(user: Any, field: FarmField, data: dict[str, Any]) -> SoilTest:
    permissions.require(
        access.soil_writable_fields(user).filter(pk=field.pk).exists(), gettext("无权录入该地块的测土结果")
    )
    errors: list[RowError] = []
    record: dict[str, Any] = {"micronutrients": {}}
    for col in COLUMNS[1:]:
        record[col.key] = _check_value(col, data.get(col.key), 1.0, 0, errors)
    micro = data.get("micronutrients") or {}
    for col in MICRO_COLUMNS:
        if col.key in micro:
            value = _check_value(col, micro[col.key], 1.0, 0, errors)
            if value is not None:
                record["micronutrients"][col.key] = float(value)
    unknown = set(micro) - {c.key for c in MICRO_COLUMNS}
    if unknown:
        errors.append(
            _err(0, "micronutrients", "invalid", gettext("未知元素 %(names)s") % {"names": sorted(unknown)})
        )
    by_key = {str(c.label): c.key for c in ALL_COLUMNS}
    if errors:
        raise ValidationError(
            {by_key.get(e.column, e.column): ValidationError(e.message, code=e.code) for e in errors}
        )
    if SoilTest.objects.filter(field=field, sample_date=record["sample_date"]).exists():
        raise ValidationError(
            {"sample_date": ValidationError(gettext("该地块该采样日期已有测土结果"), code="unique")}
        )
    return SoilTest.objects.create(field=field, created_by=user, **record)


# =============================================================================================
# Parameter sets (immutable versions)
# =============================================================================================


def latest_parameter_version(crop: str, zone: str) -> ParameterSetVersion:
    """Newest version for crop + zone; version 1 (the core defaults) is created on first use."""
    if crop not in CROPS or zone not in ZONES:
        raise ValidationError(
            {
                "crop": ValidationError(
                    gettext("未知作物/生态区 %(crop)s/%(zone)s") % {"crop": crop, "zone": zone},
                    code="invalid",
                )
            }
        )
    version = ParameterSetVersion.objects.filter(crop=crop, zone=zone).order_by("-version").first()
    if version is not None:
        return version
    try:
        with transaction.atomic():
            return ParameterSetVersion.objects.create(
                crop=crop, zone=zone, version=1, data=paramstore.default_data(crop, zone), note="默认参数"
            )
    except IntegrityError:
        return ParameterSetVersion.objects.filter(crop=crop, zone=zone).order_by("-version").first()


def update_parameter_set(
    user: Any, crop: str, zone: str, changes: dict[str, Any], note: str = ""
) -> ParameterSetVersion:
    """Every change is a new immutable version; recommendations keep pointing at theirs."""
    permissions.require(access.can_edit_parameters(user), gettext("只有农技人员可以修改施肥参数"))
    with transaction.atomic():
        base = latest_parameter_version(crop, zone)
        # serialise concurrent edits of the same crop + zone (the next version number must be free)
        list(ParameterSetVersion.objects.select_for_update().filter(crop=crop, zone=zone).values_list("pk"))
        data = paramstore.merge_changes(base.data, changes)
        top = ParameterSetVersion.objects.filter(crop=crop, zone=zone).aggregate(v=Max("version"))["v"] or 0
        return ParameterSetVersion.objects.create(
            crop=crop, zone=zone, version=top + 1, data=data, note=note[:255], created_by=user
        )


# =============================================================================================
# Recommendations
# =============================================================================================


def _npk_json(x: NPK, scale: float = 1.0) -> dict[str, float]:
    return {n: round(x.get(n) * scale, 6) for n in NUTRIENTS}


def field_info(field: FarmField) -> FieldInfo:
    return FieldInfo(
        area_ha=float(field.area_mu) / MU_PER_HA,
        recent_yields_kg_ha=tuple(y * MU_PER_HA for y in field.recent_yields),
        name=field.name,
    )


def soil_data(test: SoilTest | None) -> SoilTestData | None:
    if test is None:
        return None
    return SoilTestData(
        float(test.alkali_n_mg_kg),
        float(test.olsen_p_mg_kg),
        float(test.available_k_mg_kg),
        float(test.organic_matter_g_kg),
    )


def create_recommendation(user: Any, field: FarmField) -> Recommendation:
    permissions.require(
        access.recommendable_fields(user).filter(pk=field.pk).exists(), gettext("无权为该地块生成建议")
    )
    if not field.recent_yields:
        raise ValidationError(
            {"yield_1": ValidationError(gettext("请先填写近三年产量（kg/亩）"), code="required")}
        )
    version = latest_parameter_version(field.crop, field.zone)
    params = paramstore.from_data(version.data)
    test = field.soil_tests.order_by("-sample_date", "-pk").first()
    try:
        rec = agronomy_recommend(field_info(field), soil_data(test), params)
    except AgronomyError as e:
        raise ValidationError(e.message, code="invalid") from None
    per_mu = 1.0 / MU_PER_HA
    total = rec.total_kg_mu
    with transaction.atomic():
        for old in Recommendation.objects.filter(field=field, is_current=True):
            old.is_current = False
            old.save(update_fields=["is_current"])
        BagPlan.objects.filter(recommendation__field=field, is_current=True).update(is_current=False)
        return Recommendation.objects.create(
            field=field,
            soil_test=test,
            parameter_set=version,
            method=rec.method,
            reasons=[r.as_dict() for r in rec.reasons],
            target_yield_kg_mu=_dec(rec.target_yield_kg_ha / MU_PER_HA, Decimal("0.1")),
            area_mu=field.area_mu,
            n_kg_mu=_dec(total.N),
            p2o5_kg_mu=_dec(total.P2O5),
            k2o_kg_mu=_dec(total.K2O),
            targets={
                "basal": _npk_json(rec.basal_kg_ha, per_mu),
                "topdress": _npk_json(rec.topdress_kg_ha, per_mu),
                "base_grade": rec.base_grade.as_dict() if rec.base_grade else None,
                "base_blend_kg_mu": round(rec.base_blend_kg_ha * per_mu, 2),
                "topdress_urea_kg_mu": round(rec.topdress_urea_kg_ha * per_mu, 2),
                "covered_by_soil": list(rec.covered_by_soil),
            },
            soil_grades=rec.soil_grades,
            created_by=user,
        )


# =============================================================================================
# Catalogue from purchasable offers, bag plans, usual practice
# =============================================================================================


@dataclass(frozen=True)
class FertOffer:
    offer: PurchasableOffer
    grade: NPK
    bag_kg: float
    chloride: str

    @property
    def grade_label(self) -> str:
        return "-".join(f"{v:g}" for v in self.grade.as_tuple())


def fertilizer_attributes(product_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """N/P/K %, chloride class and bag kg of fertilizer products: one query for all ids."""
    ProductAttributeValue = get_model("catalogue", "ProductAttributeValue")
    out: dict[int, dict[str, Any]] = defaultdict(dict)
    rows = ProductAttributeValue.objects.filter(
        product_id__in=list(product_ids),
        attribute__code__in=FERT_ATTRS,
        attribute__product_class__slug=FERTILIZER,
    ).values_list("product_id", "attribute__code", "value_float", "value_text")
    for pid, code, vf, vt in rows:
        out[pid][code] = vt if code == "chloride_class" else vf
    return {pid: a for pid, a in out.items() if all(a.get(k) is not None for k in FERT_ATTRS)}


def fertilizer_offers(station: Any) -> list[FertOffer]:
    """The station's purchasable fertilizer offers (core stock + plugins) that one household can
    still buy from, cheapest first per product (every offer is kept: a cheap offer's short stock
    can be topped up from the next one).

    Only what a plan can use is read: offers of fertilizer products with their N/P/K %, chloride
    class and bag kg (``purchasable_offers(product_classes=…, attributes=…)``: the product class
    filter and the attribute join run in SQL), not the whole catalogue."""
    offers = [
        o
        for o in extensions.purchasable_offers(station, product_classes=(FERTILIZER,), attributes=FERT_ATTRS)
        if o.limit_for_household() > 0
    ]
    offers.sort(key=lambda o: (o.product_id, o.unit_price, o.source, o.source_ref))
    out = []
    for o in offers:
        a = o.attributes
        chloride = a["chloride_class"] if a["chloride_class"] in blend_mod.CHLORIDE_CLASSES else "unknown"
        out.append(
            FertOffer(
                o,
                NPK(float(a["n_pct"]), float(a["p2o5_pct"]), float(a["k2o_pct"])),
                float(a["bag_kg"]),
                chloride,
            )
        )
    return out


def build_catalogue(offers: Sequence[FertOffer]) -> tuple[blend_mod.Catalogue, dict[str, FertOffer]]:
    """Blend catalogue of the offers, each bounded by what one household can buy from it now (its
    own ``available`` / ``household_limit``, or its pool's: offers of one pool share the cap)."""
    by_sku = {f"o{i}": f for i, f in enumerate(offers)}
    titles = Counter(f.offer.title for f in offers)
    pool_caps: dict[str, int] = {}
    products = []
    for sku, f in by_sku.items():
        o = f.offer
        limit = o.limit_for_household()
        pool = f"{o.source}:{o.available_pool}" if o.available_pool else ""
        if pool:
            pool_caps[pool] = min(pool_caps.get(pool, limit), limit)
        products.append(
            blend_mod.Product(
                sku,
                f.grade,
                f.bag_kg,
                o.unit_price,
                f.chloride,
                max_bags=limit,
                pool=pool,
                label=o.title if titles[o.title] == 1 else f"{o.title}（{o.sku}）",
            )
        )
    return blend_mod.Catalogue(products, pool_caps), by_sku


def _targets(rec: Recommendation, phase: str) -> NPK:
    t = rec.targets[phase]
    area = float(rec.area_mu)
    return NPK(t["N"] * area, t["P2O5"] * area, t["K2O"] * area)


def solve_split(
    catalogue: blend_mod.Catalogue, rec: Recommendation, params: Any, plan_cfg: dict[str, Any]
) -> tuple[blend_mod.SplitPlan, float, list[dict[str, str]]]:
    """Least-cost split plan; if the configured tolerance is infeasible, retry once at 30 %."""
    tol = plan_cfg["tolerance"]
    cap = float(plan_cfg["zero_target_cap_kg_mu"]) * float(rec.area_mu)
    notes: list[dict[str, str]] = []
    attempts = [NPK.from_mapping(tol)]
    if max(tol.values()) < 0.3:
        attempts.append(NPK(*(max(0.3, tol[n]) for n in NUTRIENTS)))
    last: blend_mod.NoFeasiblePlan | None = None
    for i, t in enumerate(attempts):
        try:
            split = blend_mod.plan_split(
                catalogue,
                _targets(rec, "basal"),
                _targets(rec, "topdress"),
                tolerance=t,
                max_products=3,
                chloride_sensitive=params.chloride_sensitive,
                zero_target_cap_kg=cap,
                basal_n_max_share=plan_cfg.get("basal_n_max_share"),
            )
        except blend_mod.NoFeasiblePlan as e:
            last = e
            continue
        if i > 0:
            notes.append(
                {
                    "code": "tolerance_relaxed",
                    "message": f"按设定容差无整袋方案（{last.message}），已放宽到 30%",
                }
            )
        return split, max(t.as_tuple()), notes
    assert last is not None
    raise last


def _usual(
    field: FarmField,
    rec: Recommendation,
    params: Any,
    catalogue: blend_mod.Catalogue,
    offers: Sequence[FertOffer],
) -> tuple[NPK | None, Decimal | None, str]:
    """Usual practice of the household (whole-field kg, cost at today's offers, label)."""
    area = float(field.area_mu)
    if field.usual_product_id and field.usual_bags:
        attrs = fertilizer_attributes([field.usual_product_id]).get(field.usual_product_id)
        if attrs:
            kg = float(attrs["bag_kg"]) * field.usual_bags
            nutrients = NPK(
                kg * attrs["n_pct"] / 100, kg * attrs["p2o5_pct"] / 100, kg * attrs["k2o_pct"] / 100
            )
            offer = next((f.offer for f in offers if f.offer.product_id == field.usual_product_id), None)
            cost = cny(offer.unit_price * field.usual_bags) if offer else None
            title = offer.title if offer else field.usual_product.title
            return nutrients, cost, f"习惯施肥：{title} {field.usual_bags} 袋"
    if any(v is not None for v in (field.usual_n_kg_mu, field.usual_p2o5_kg_mu, field.usual_k2o_kg_mu)):
        per_mu = NPK(
            float(field.usual_n_kg_mu or 0),
            float(field.usual_p2o5_kg_mu or 0),
            float(field.usual_k2o_kg_mu or 0),
        )
        label = "习惯施肥：N-P₂O₅-K₂O {:g}-{:g}-{:g} kg/亩".format(*per_mu.as_tuple())
    elif params.zone_formula is not None:
        zr = zone_formula_lookup(params.zone_formula, float(rec.target_yield_kg_mu), "low")
        per_mu = zr.total_kg
        if zr.base_blend_kg:
            label = f"习惯施肥（按区域配方上限估计）：基肥 {zr.base_blend_kg:g} kg/亩 + 追施尿素 {zr.topdress_urea_kg:g} kg/亩"
        else:
            label = "习惯施肥（按区域推荐上限估计）：N-P₂O₅-K₂O {:g}-{:g}-{:g} kg/亩".format(
                *per_mu.as_tuple()
            )
    else:
        return None, None, ""
    nutrients = per_mu.scale(area)
    try:  # priced as the cheapest way to buy those nutrients today (a conservative saving)
        p = blend_mod.plan(
            catalogue.without_limits(), nutrients, tolerance=0.3, max_products=None, zero_target_cap_kg=1e9
        )
        cost: Decimal | None = p.cost
    except blend_mod.NoFeasiblePlan:
        cost = None
    return nutrients, cost, label


def create_plan(
    user: Any, rec: Recommendation, station: Any | None = None, *, run_now: bool = False
) -> BagPlan:
    """A least-cost whole-bag plan for ``rec`` from what the household's station can buy now.

    The request step only: checks, supersedes the field's current plan, and creates the new one in
    status ``solving`` with its job queued (:func:`run_plan_job` reads the offers and solves:
    1–2.5 s at 30k offers, too long for a web request). After the commit the job runs as a Celery
    task (broker), in a thread of this process (no broker, ``JOBS_IN_THREAD``), or — setting off,
    as in tests — at once, inside this call; ``run_now`` runs it here regardless (demo data).
    Returns the plan as it is then (solving, or solved when the job already ran)."""
    field = rec.field
    household = field.household
    permissions.require(access.fields_for(user).filter(pk=field.pk).exists(), gettext("无权访问该地块"))
    station = station or household.station
    if station.pk != household.station_id and not permissions.is_operator(user):
        raise PermissionDenied(gettext("只能按农户所属站点的商品配肥"))
    with transaction.atomic():
        BagPlan.objects.filter(recommendation__field=field, is_current=True).update(is_current=False)
        plan = BagPlan(recommendation=rec, station=station, created_by=user, status=PlanStatus.SOLVING)
        jobs.mark_queued(plan)
        plan.save()
        if run_now:
            run_plan_job(plan.pk)
        else:
            _enqueue(plan.pk)
    plan.refresh_from_db()
    return plan


def _enqueue(plan_id: int) -> None:
    from .tasks import solve_bag_plan

    jobs.enqueue(BagPlan, solve_bag_plan, plan_id)


def run_plan_job(plan_id: int) -> str:
    """The body of the background job: claim the queued plan (once: a redelivered task does
    nothing), work it out under a heartbeat, record the outcome; returns the plan's status."""
    if not jobs.claim(BagPlan, plan_id):
        return BagPlan.objects.filter(pk=plan_id).values_list("status", flat=True).first() or ""
    with jobs.heartbeat(BagPlan, plan_id):
        try:
            return solve_plan(plan_id).status
        except Exception:
            logger.exception("bag plan %s: solve failed", plan_id)
            _fail_job(plan_id, "solver_error", gettext_noop("计算配肥方案时出错，请重新计算或联系平台。"))
            return PlanStatus.FAILED


def _fail_job(plan_id: int, code: str, message: str) -> None:
    """Record a failed job; ``message`` is stored untranslated (a msgid: the page translates it)."""
    jobs.fail(
        BagPlan,
        plan_id,
        status=PlanStatus.FAILED,
        error=message[:255],
        reasons=[{"code": code, "message": message}],
    )


#: A plan whose job lost its process this many times is given up (it may be what kills it).
MAX_PLAN_ATTEMPTS = 3


def resume_stale_plans(plans: Iterable[BagPlan] | None = None) -> list[int]:
    """Queue again every plan whose job lost its process (no heartbeat; queued and never picked
    up): from the periodic task every minute and from the recommendation page and its status poll.
    After ``MAX_PLAN_ATTEMPTS`` lost processes the plan is marked failed. Returns the ids queued."""
    return jobs.resume_stale(
        BagPlan,
        plans,
        requeue=_enqueue,
        give_up=lambda plan: _fail_job(
            plan.pk, "solver_interrupted", gettext_noop("计算进程多次中断，请重新计算或联系平台。")
        ),
        max_attempts=MAX_PLAN_ATTEMPTS,
    )


def watch_plan(plan: BagPlan) -> BagPlan:
    """A plan somebody is looking at (its page, the page's status poll, ``fertPlan``): if its job
    lost its process it is queued again at once, not at the next periodic run; the plan as now."""
    if plan.job_active and resume_stale_plans([plan]):
        plan.refresh_from_db()
    return plan


def plan_progress(plan: BagPlan) -> dict[str, Any]:
    """What the recommendation page polls while its plan is worked out."""
    note = ""
    if plan.job_resumed:
        attempt = plan.job_attempts + (1 if plan.job_status == jobs.JobStatus.QUEUED else 0)
        note = gettext("上次计算的进程已中断，已自动重新开始（第 %(n)s 次）") % {"n": attempt}
    return {
        "id": plan.pk,
        "status": plan.status,
        "status_label": plan.get_status_display(),
        "job_status": plan.job_status,
        "solving": plan.job_active,
        "note": note,
    }


#: What the job writes (not ``is_current``: a newer plan may have superseded this one meanwhile;
#: not the heartbeat, which the heartbeat thread owns).
_JOB_RESULT_FIELDS = [
    "status",
    "error",
    "reasons",
    "tolerance",
    "cost",
    "delivered_kg",
    "usual_kg",
    "usual_cost",
    "usual_label",
    "saving_cost",
    "job_status",
]


def solve_plan(plan_id: int) -> BagPlan:
    """Work out a plan created by :func:`create_plan`: read the station's offers, solve the least-cost
    split (or record why there is none), write the lines."""
    plan = BagPlan.objects.select_related(
        "station", "recommendation__parameter_set", "recommendation__field__usual_product"
    ).get(pk=plan_id)
    rec, station = plan.recommendation, plan.station
    field = rec.field
    params = paramstore.from_data(rec.parameter_set.data)
    plan_cfg = paramstore.plan_settings(rec.parameter_set.data)
    offers = fertilizer_offers(station)
    catalogue, by_sku = build_catalogue(offers)
    usual_kg, usual_cost, usual_label = _usual(field, rec, params, catalogue, offers)
    with transaction.atomic():
        plan.usual_label = usual_label
        if usual_kg is not None:
            plan.usual_kg = usual_kg.rounded(2)
            plan.usual_cost = usual_cost
        plan.job_status = jobs.JobStatus.DONE
        try:
            split, tol, notes = solve_split(catalogue, rec, params, plan_cfg)
        except blend_mod.NoFeasiblePlan as e:
            plan.status = PlanStatus.INFEASIBLE
            plan.error = e.message[:255]
            plan.reasons = [{"code": e.code, "message": e.message}]
            plan.tolerance = _dec(max(plan_cfg["tolerance"].values()), Decimal("0.001"))
            plan.save(update_fields=_JOB_RESULT_FIELDS)
            return plan
        plan.status = PlanStatus.PROPOSED
        plan.tolerance = _dec(tol, Decimal("0.001"))
        plan.cost = split.cost
        delivered = split.basal.nutrients_kg + split.topdress.nutrients_kg
        plan.delivered_kg = delivered.rounded(2)
        seen: set[tuple[str, str]] = set()
        reasons = []
        for r in (*split.basal.reasons, *split.topdress.reasons):
            if (r.code, r.message) not in seen:
                seen.add((r.code, r.message))
                reasons.append(r.as_dict())
        plan.reasons = reasons + notes
        if usual_cost is not None:
            plan.saving_cost = cny(usual_cost - split.cost)
        plan.save(update_fields=_JOB_RESULT_FIELDS)
        lines = []
        for phase, sub in ((PlanPhase.BASAL, split.basal), (PlanPhase.TOPDRESS, split.topdress)):
            for sku, bags in sub.bags.items():
                f = by_sku[sku]
                lines.append(
                    BagPlanLine(
                        plan=plan,
                        phase=phase,
                        product_id=f.offer.product_id,
                        sku=f.offer.sku,
                        title=f.offer.title[:255],
                        grade=f.grade_label,
                        bag_kg=_dec(f.bag_kg),
                        bags=bags,
                        unit_price=f.offer.unit_price,
                        source=f.offer.source,
                        source_ref=f.offer.source_ref[:64],
                        partner_id=f.offer.partner_id,
                    )
                )
        BagPlanLine.objects.bulk_create(lines)
    return plan


def check_orderable(plan: BagPlan) -> None:
    """Refuse to hand over a plan that is not worked out yet, failed, infeasible or already ordered."""
    if plan.status == PlanStatus.SOLVING:
        raise ValidationError(gettext("配肥方案还在计算中，请等计算完成后再下单"), code="invalid_state")
    if plan.status == PlanStatus.FAILED:
        raise ValidationError(gettext("配肥方案计算失败，请重新计算后再下单"), code="invalid_state")
    if plan.status == PlanStatus.INFEASIBLE:
        raise ValidationError(gettext("该方案不可行，无法下单"), code="invalid_state")
    if plan.status == PlanStatus.ORDERED:
        raise ValidationError(gettext("该方案已加入团购/购物篮"), code="invalid_state")


def _check_still_available(plan: BagPlan, plan_lines: Sequence[PlanLine]) -> None:
    """Refuse (``out_of_stock``; ``limit_exceeded`` when only per-household limits are exceeded)
    when an offer of the plan can no longer supply its bags (stock sold meanwhile, a group buy's cap
    or per-household limit reached, offer withdrawn)."""
    now = extensions.purchasable_offers(plan.station, sorted({line.product_id for line in plan_lines}))
    offers = {(o.source, o.source_ref, o.product_id): o for o in now}
    pools: dict[tuple[str, str], list[PlanLine]] = defaultdict(list)
    short: list[str] = []
    codes: set[str] = set()
    for line in plan_lines:
        offer = offers.get((line.source, line.source_ref, line.product_id))
        left = offer.limit_for_household() if offer is not None else 0
        if offer is not None and line.quantity > left and line.quantity <= offer.available:
            codes.add("limit_exceeded")  # enough supply, but more than one household may take
            short.append(
                gettext("%(title)s 需 %(need)s 袋、每户限购 %(left)s 袋")
                % {"title": line.title, "need": line.quantity, "left": left}
            )
        elif line.quantity > left:
            codes.add("out_of_stock")
            short.append(
                gettext("%(title)s 需 %(need)s 袋、现可买 %(left)s 袋")
                % {"title": line.title, "need": line.quantity, "left": left}
            )
        elif offer is not None and offer.available_pool:
            pools[(offer.source, offer.available_pool)].append(line)
    for group in pools.values():
        need = sum(line.quantity for line in group)
        left = min(offers[(x.source, x.source_ref, x.product_id)].limit_for_household() for x in group)
        if need > left:
            codes.add("out_of_stock")
            short.append(
                gettext("%(titles)s 合计需 %(need)s 袋、现可买 %(left)s 袋")
                % {"titles": gettext("、").join(x.title for x in group), "need": need, "left": left}
            )
    if short:
        raise ValidationError(
            gettext("可买数量已变化，无法按方案下单：%(items)s。请重新生成方案。")
            % {"items": gettext("；").join(short)},
            code="limit_exceeded" if codes == {"limit_exceeded"} else "out_of_stock",
        )


#: How a household may pay for one line of a plan handed over (see ``PlanLine.payment_method``).
PAYMENT_CHOICES: dict[str, Any] = {
    "cash": gettext_lazy("现金：现在向农户收取"),
    "credit": gettext_lazy("赊销：计入农户赊销额度"),
    # Stock lines: into the household's station basket, paid at its checkout (cash or credit).
    "online": gettext_lazy("购物篮：加入农户购物篮，在站点结账时付款（现金或赊销）"),
}


@dataclass
class HandoverLine:
    """One product of a plan as it is handed over (basal and top-dress bags of a product together).
    ``key`` (the first plan line's id) names the line in the payment choice."""

    key: int
    title: str
    source: str
    bags: int
    unit_price: Decimal
    amount: Decimal
    choices: tuple[str, ...]
    lines: list[BagPlanLine]

    @property
    def choice_labels(self) -> list[tuple[str, str]]:
        return [(c, str(PAYMENT_CHOICES[c])) for c in self.choices]


def handover_lines(user: Any, plan: BagPlan) -> list[HandoverLine]:
    """The plan's products and the payment methods each may use: stock goes into a basket and is
    paid at the station checkout (cash or credit); a group-buy line is paid in cash now (station staff only) or on credit."""
    household = plan.recommendation.field.household
    staff = permissions.can_manage_station(user, household.station_id)
    merged: dict[tuple[str, str, int], list[BagPlanLine]] = defaultdict(list)
    for line in plan.lines.order_by("pk"):
        merged[(line.source, line.source_ref, line.product_id)].append(line)
    out = []
    for (source, _ref, _pid), group in merged.items():
        bags = sum(x.bags for x in group)
        choices: tuple[str, ...] = (
            ("online",) if source == "stock" else (("cash", "credit") if staff else ("credit",))
        )
        out.append(
            HandoverLine(
                group[0].pk,
                group[0].title,
                source,
                bags,
                group[0].unit_price,
                (group[0].unit_price * bags).quantize(TWO),
                choices,
                group,
            )
        )
    return out


def add_plan_to_order(
    user: Any, plan: BagPlan, methods: dict[int, str] | None = None
) -> tuple[list[BagPlanLine], list[BagPlanLine]]:
    """Hand the plan to whichever plugin made the offers (group buy …) or the core basket, each line
    paid exactly as chosen in ``methods`` (:func:`handover_lines` key → ``cash`` / ``credit`` /
    ``online``; a stock line is always ``online``, at basket checkout). A group-buy line without a
    choice is refused: nothing is booked that nobody chose.

    Atomic: the bags are first checked against what the offers can supply now (refused with
    ``out_of_stock`` naming each short offer); a line nobody takes refuses the whole hand-over."""
    with transaction.atomic():
        result = _add_plan_to_order(user, plan, methods or {})
    plan.refresh_from_db()
    return result


def _add_plan_to_order(
    user: Any, plan: BagPlan, methods: dict[int, str]
) -> tuple[list[BagPlanLine], list[BagPlanLine]]:
    permissions.require(access.orderable_plans(user).filter(pk=plan.pk).exists(), gettext("无权为该农户下单"))
    plan = BagPlan.objects.select_for_update().select_related("station").get(pk=plan.pk)  # one hand-over
    check_orderable(plan)
    household = plan.recommendation.field.household
    handover = handover_lines(user, plan)
    merged = {(h.lines[0].source, h.lines[0].source_ref, h.lines[0].product_id): h.lines for h in handover}
    missing_choice = []
    plan_lines = []
    for h in handover:
        method = "online" if h.choices == ("online",) else str(methods.get(h.key) or "")
        if method not in h.choices:
            missing_choice.append(h.title)
        first = h.lines[0]
        plan_lines.append(
            PlanLine(
                product_id=first.product_id,
                sku=first.sku,
                title=first.title,
                quantity=h.bags,
                unit_price=first.unit_price,
                source=first.source,
                source_ref=first.source_ref,
                partner_id=first.partner_id,
                note="+".join(x.phase for x in h.lines),
                payment_method=method,
            )
        )
    if missing_choice:
        raise ValidationError(
            {
                "paymentMethods": ValidationError(
                    gettext("请为以下商品选择付款方式：%(names)s")
                    % {"names": gettext("、").join(missing_choice)},
                    code="required",
                )
            }
        )
    _check_still_available(plan, plan_lines)
    accepted, _rest = extensions.accept_plan_lines(plan.station, household, plan_lines, user)
    taken = {(a.line.source, a.line.source_ref, a.line.product_id): a for a in accepted}
    done, missing = [], []
    for key, group in merged.items():
        a = taken.get(key)
        for line in group:
            if a is None:
                missing.append(line)
                continue
            line.accepted_by, line.accepted_ref = a.accepted_by[:32], a.ref[:64]
            line.save(update_fields=["accepted_by", "accepted_ref"])
            done.append(line)
    if missing:
        names = gettext("、").join(sorted({x.title for x in missing}))
        raise ValidationError(
            gettext("以下商品无法加入团购或购物篮（已停售或无库存）：%(names)s") % {"names": names},
            code="out_of_stock",
        )
    plan.status = PlanStatus.ORDERED
    plan.ordered_at = timezone.now()
    plan.save(update_fields=["status", "ordered_at"])
    return done, missing


# =============================================================================================
# County demand
# =============================================================================================


@dataclass
class DemandRow:
    product_id: int
    title: str
    grade: str
    bags: int
    tonnes: Decimal
    cost: Decimal
    station_id: int | None = None
    station_name: str = ""


@dataclass
class CountyDemand:
    county: Any
    aggregated_only: bool
    rows: list[DemandRow]  # per station and product (empty for aggregated views)
    totals: list[DemandRow]  # per product
    stations: list[dict[str, Any]]  # per station: name, lat, lon, area_mu, fields, N/P/K kg, tonnes


def county_demand(user: Any, county: Any) -> CountyDemand:
    from marketplace.stations.models import Station

    full = access.demand_counties(user).filter(pk=county.pk).exists()
    supplier = access.is_supplier(user)
    if not full and not supplier:
        raise PermissionDenied(gettext("无权查看该县需求"))
    lines = BagPlanLine.objects.filter(
        plan__is_current=True,
        plan__status__in=(PlanStatus.PROPOSED, PlanStatus.ORDERED),
        plan__station__county=county,
    )
    if not full:
        lines = lines.filter(product__in=permissions.products_for(user).values("pk"))
    totals = [
        DemandRow(
            r["product_id"],
            r["title"],
            r["grade"],
            r["n_bags"],
            (r["kg"] / 1000).quantize(Decimal("0.001")),
            cny(r["amount"]),
        )
        for r in lines.values("product_id", "title", "grade")
        .annotate(
            n_bags=Sum("bags"),
            kg=Sum(models_mul("bags", "bag_kg")),
            amount=Sum(models_mul("bags", "unit_price")),
        )
        .order_by("-kg", "product_id")
    ]
    if not full:
        return CountyDemand(county, True, [], totals, [])
    rows = [
        DemandRow(
            r["product_id"],
            r["title"],
            r["grade"],
            r["n_bags"],
            (r["kg"] / 1000).quantize(Decimal("0.001")),
            cny(r["amount"]),
            r["plan__station_id"],
            r["plan__station__name"],
        )
        for r in lines.values("plan__station_id", "plan__station__name", "product_id", "title", "grade")
        .annotate(
            n_bags=Sum("bags"),
            kg=Sum(models_mul("bags", "bag_kg")),
            amount=Sum(models_mul("bags", "unit_price")),
        )
        .order_by("plan__station__name", "-kg")
    ]
    recs = (
        Recommendation.objects.filter(is_current=True, field__household__station__county=county)
        .values("field__household__station_id")
        .annotate(
            planned_mu=Sum("area_mu"),
            n=Sum(models_mul("n_kg_mu", "area_mu")),
            p=Sum(models_mul("p2o5_kg_mu", "area_mu")),
            k=Sum(models_mul("k2o_kg_mu", "area_mu")),
        )
    )
    by_station = {r["field__household__station_id"]: r for r in recs}
    tonnes: dict[int, Decimal] = defaultdict(Decimal)
    for r in rows:
        tonnes[r.station_id] += r.tonnes  # type: ignore[index]
    stations = []
    for s in (
        Station.objects.filter(county=county).order_by("code").only("pk", "name", "latitude", "longitude")
    ):
        r = by_station.get(s.pk, {})
        stations.append(
            {
                "id": s.pk,
                "name": s.name,
                "lat": float(s.latitude),
                "lon": float(s.longitude),
                "area_mu": r.get("planned_mu") or Decimal("0"),
                "n_kg": (r.get("n") or Decimal("0")).quantize(Decimal("0.1")),
                "p2o5_kg": (r.get("p") or Decimal("0")).quantize(Decimal("0.1")),
                "k2o_kg": (r.get("k") or Decimal("0")).quantize(Decimal("0.1")),
                "tonnes": tonnes.get(s.pk, Decimal("0")),
            }
        )
    return CountyDemand(county, False, rows, totals, stations)


@dataclass
class CommitmentRow:
    """Demand people have committed to, per product: open group-buy pledges and orders."""

    title: str
    recommended_bags: int
    pledged: Decimal
    ordered: Decimal


@dataclass
class PlannedRow:
    """Planned demand declared by households before the season (e.g. a planting-intention survey),
    from the core ``demand_figures`` extension point: one row per label and unit."""

    label: str
    category: str
    unit: str
    quantity: Decimal
    stations: int


def county_planned(county: Any) -> list[PlannedRow]:
    """Survey-type demand figures of the county (whoever provides them), summed per label and unit."""
    from marketplace.core.extensions import demand_figures

    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    stations: dict[tuple[str, str, str], set] = defaultdict(set)
    for f in demand_figures([county.pk]):
        if f.kind == "survey" and f.county_id == county.pk:
            key = (f.label, f.category, f.unit)
            sums[key] += Decimal(f.quantity)
            stations[key].add(f.station_id)
    return [
        PlannedRow(label, category, unit, quantity, len(stations[(label, category, unit)]))
        for (label, category, unit), quantity in sorted(sums.items())
    ]


@dataclass
class TownshipCluster:
    """Stations of one township, drawn as one numbered circle on the county map."""

    number: int
    name: str
    stations: int
    lat: float
    lon: float
    tonnes: Decimal
    area_mu: Decimal
    pledged: Decimal
    ordered: Decimal


def county_commitments(
    user: Any, county: Any, demand: CountyDemand
) -> tuple[list[CommitmentRow], list[TownshipCluster]]:
    """Pledges (through the core ``demand_figures`` extension point, whoever provides them) and
    core orders (Oscar order lines of the county's stations) beside the recommendations, per
    product and per township. Full county views only (agronomists, county staff, operators)."""
    from django.db.models import Sum
    from oscar.core.loading import get_model

    from marketplace.core.extensions import demand_figures
    from marketplace.stations.models import Station

    if demand.aggregated_only:
        return [], []
    Line = get_model("order", "Line")
    pledged: dict[str, Decimal] = defaultdict(Decimal)
    pledged_at: dict[int, Decimal] = defaultdict(Decimal)
    for f in demand_figures([county.pk]):
        if f.kind == "pledges" and f.county_id == county.pk:
            pledged[f.label] += f.quantity
            if f.station_id is not None:
                pledged_at[f.station_id] += f.quantity
    ordered: dict[str, Decimal] = defaultdict(Decimal)
    ordered_at: dict[int, Decimal] = defaultdict(Decimal)
    lines = (
        Line.objects.filter(order__station__county=county)
        .exclude(order__status__icontains="cancel")
        .values("title", "order__station_id")
        .annotate(q=Sum("quantity"))
    )
    for r in lines:
        ordered[r["title"]] += Decimal(r["q"])
        ordered_at[r["order__station_id"]] += Decimal(r["q"])
    recommended = {t.title: t.bags for t in demand.totals}
    titles = sorted(set(recommended) | set(pledged) | set(ordered), key=lambda t: (-recommended.get(t, 0), t))
    rows = [
        CommitmentRow(t, recommended.get(t, 0), pledged.get(t, Decimal(0)), ordered.get(t, Decimal(0)))
        for t in titles
    ]
    info = {s["id"]: s for s in demand.stations}
    groups: dict[str, list[int]] = defaultdict(list)
    for pk, township in Station.objects.filter(county=county).values_list("pk", "village__township__name"):
        groups[township or ""].append(pk)
    clusters = []
    ordered_groups = sorted(
        groups.items(), key=lambda g: (-sum(info[p]["tonnes"] for p in g[1] if p in info), g[0])
    )
    for number, (name, pks) in enumerate(ordered_groups, start=1):
        members = [info[p] for p in pks if p in info]
        if not members:
            continue
        clusters.append(
            TownshipCluster(
                number=number,
                name=name,
                stations=len(members),
                lat=sum(m["lat"] for m in members) / len(members),
                lon=sum(m["lon"] for m in members) / len(members),
                tonnes=sum((m["tonnes"] for m in members), Decimal(0)),
                area_mu=sum((m["area_mu"] for m in members), Decimal(0)),
                pledged=sum((pledged_at.get(p, Decimal(0)) for p in pks), Decimal(0)),
                ordered=sum((ordered_at.get(p, Decimal(0)) for p in pks), Decimal(0)),
            )
        )
    return rows, clusters


def models_mul(a: str, b: str) -> Any:
    from django.db.models import DecimalField, ExpressionWrapper, F

    return ExpressionWrapper(F(a) * F(b), output_field=DecimalField(max_digits=18, decimal_places=4))


# =============================================================================================
# Demo data
# =============================================================================================

#: Demo soil tests: (alkali N, Olsen P, available K mg/kg, organic matter g/kg) typical of the
#: black soils of central Jilin, from rich to P-poor.
DEMO_SOILS = ((135, 26, 165, 28), (118, 17, 140, 24), (96, 9, 110, 19), (142, 32, 190, 31))
DEMO_FIELDS_PER_STATION = 4
DEMO_N_TRIAL = [[0, 520], [6, 640], [12, 700], [18, 705]]  # kg N/mu, yield kg/mu (demo, not a source)
DEMO_PLANNED_STATIONS = 6


def seed_demo_fields(demo: Any) -> int:
    """Fields with yields and a soil test for the first households of each demo station, and a
    current recommendation with a purchasable bag plan at the first stations (so the agronomist,
    the station and the farmer open on advice they can buy). Deterministic: a second run adds
    nothing. Returns how many plans were made."""
    from marketplace.accounts.models import Role

    operator = next((u for u in demo.users.values() if u.role == Role.OPERATOR), None)
    version = latest_parameter_version("spring_maize_ne", "semi_humid")
    if not version.data.get("n_trials"):
        # The demo county's N-series trial (3414 N0/N1/N2/N3 at medium P and K) and grain price:
        # DEMO numbers, so the economic optimum shows; a real county enters its own trial.
        ParameterSetVersion.objects.create(
            crop="spring_maize_ne",
            zone="semi_humid",
            version=version.version + 1,
            data={**version.data, "n_trials": DEMO_N_TRIAL, "grain_price_yuan_kg": 2.2},
            note="演示数据：本县氮肥试验与粮价",
            created_by=operator,
        )
    made = 0
    for s_i, station in enumerate(demo.stations):
        households = list(station.households.filter(is_active=True).order_by("pk")[:DEMO_FIELDS_PER_STATION])
        for h_i, household in enumerate(households):
            area = Decimal(min(max(household.farm_area_mu, Decimal("5")), Decimal("60"))).quantize(TWO)
            base = 600 + ((s_i * 7 + h_i * 13) % 9) * 15  # 600–720 kg/mu in the last three years
            field, created = FarmField.objects.get_or_create(
                household=household,
                name="东大地",
                defaults={
                    "area_mu": area,
                    "crop": "spring_maize_ne",
                    "zone": "semi_humid",  # 双阳区: central Jilin
                    "yield_1": Decimal(base),
                    "yield_2": Decimal(base + 30),
                    "yield_3": Decimal(base - 20),
                },
            )
            if not created:
                continue
            n, p, k, om = DEMO_SOILS[(s_i + h_i) % len(DEMO_SOILS)]
            SoilTest.objects.create(
                field=field,
                lab="双阳区农业技术推广中心土肥站",
                sample_date=date(2026, 3, 20),
                ph=Decimal("6.3"),
                organic_matter_g_kg=Decimal(om),
                alkali_n_mg_kg=Decimal(n),
                olsen_p_mg_kg=Decimal(p),
                available_k_mg_kg=Decimal(k),
            )
            if operator is not None and s_i < DEMO_PLANNED_STATIONS:
                rec = create_recommendation(operator, field)
                create_plan(operator, rec, run_now=True)  # the demo opens on finished plans
                made += 1
    return made


# =============================================================================================
# Economic optimum N rate (MRTN-style)
# =============================================================================================


@dataclass
class NOptimum:
    rate: float  # kg N/mu
    low: float
    high: float
    yield_kg: float
    n_price: Decimal  # ¥/kg N today, cheapest straight N fertilizer at the station
    n_product: str
    grain_price: float
    recommended: float  # kg N/mu of the recommendation

    @property
    def position(self) -> str:
        if self.recommended < self.low - 0.05:
            return "below"
        if self.recommended > self.high + 0.05:
            return "above"
        return "within"


def n_economic_optimum(rec: Recommendation, station: Any) -> tuple[NOptimum | None, str]:
    """The economic optimum N rate and its profitable range at today's prices (the station's
    cheapest straight N fertilizer, the parameter set's grain price), from the parameter set's
    N-series trial. ``(None, why)`` when it cannot be computed honestly."""
    from .agronomy.economics import economic_optimum, fit_response

    params = paramstore.from_data(rec.parameter_set.data)
    if not params.n_trials or params.grain_price_yuan_kg <= 0:
        return None, gettext("未设置本县氮肥试验（3414）产量和粮价，暂不显示经济最佳施氮量")
    straight = [
        (f.offer.unit_price / Decimal(str(f.bag_kg * f.grade.N / 100)), f.offer.title)
        for f in fertilizer_offers(station)
        if f.grade.N > 0 and f.grade.P2O5 == 0 and f.grade.K2O == 0 and f.bag_kg > 0
    ]
    if not straight:
        return None, gettext("站点今天没有单质氮肥在售，无法按今日价格计算经济最佳施氮量")
    n_price, title = min(straight)
    try:
        opt = economic_optimum(fit_response(params.n_trials), float(n_price), params.grain_price_yuan_kg)
    except AgronomyError as e:
        return None, e.message
    return (
        NOptimum(
            round(opt.rate, 1), round(opt.low, 1), round(opt.high, 1), round(opt.yield_kg),
            n_price.quantize(TWO), title, params.grain_price_yuan_kg, float(rec.n_kg_mu),
        ),
        "",
    )  # fmt: skip

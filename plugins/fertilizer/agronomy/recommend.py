"""Choose a method for one field and produce a per-hectare recommendation split basal / top-dress."""

from __future__ import annotations

from dataclasses import dataclass, field

from .methods import (
    SOIL_INDICATOR_FOR_NUTRIENT,
    AgronomyError,
    nutrient_balance,
    soil_grade,
    target_yield_from_history,
    zone_formula_lookup,
)
from .nutrients import MU_PER_HA, NPK, NUTRIENTS, Reason
from .params import ParameterSet


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What we know about a field. Yields are kg/ha (SI); give a target or recent yields."""

    area_ha: float
    target_yield_kg_ha: float | None = None
    recent_yields_kg_ha: tuple[float, ...] = ()
    yield_increase: float = 0.10  # target = (1 + increase) x mean of recent yields
    fertility: str | None = None  # "low" | "medium" | "high" (used by zone formulas)
    name: str = ""


@dataclass(frozen=True, slots=True)
class SoilTest:
    """Available nutrients of the 0-20 cm layer (mg/kg) and organic matter (g/kg)."""

    alkali_n_mg_kg: float
    olsen_p_mg_kg: float
    available_k_mg_kg: float
    organic_matter_g_kg: float | None = None

    def as_npk(self) -> NPK:
        return NPK(self.alkali_n_mg_kg, self.olsen_p_mg_kg, self.available_k_mg_kg)


@dataclass(frozen=True, slots=True)
class Recommendation:
    """Nutrients in kg/ha, split basal / top-dress. ``topdress_kg_ha`` is N applied as urea."""

    crop: str
    method: str  # "nutrient_balance" | "zone_formula" | "zone_graded"
    area_ha: float
    target_yield_kg_ha: float
    basal_kg_ha: NPK
    topdress_kg_ha: NPK
    reasons: tuple[Reason, ...]
    covered_by_soil: tuple[str, ...] = ()
    soil_grades: dict[str, int] = field(default_factory=dict)
    zone: str | None = None
    # zone formulas are published as products: base blend grade and kg/ha, urea kg/ha
    base_grade: NPK | None = None
    base_blend_kg_ha: float = 0.0
    topdress_urea_kg_ha: float = 0.0

    @property
    def total_kg_ha(self) -> NPK:
        return self.basal_kg_ha + self.topdress_kg_ha

    @property
    def total_kg_mu(self) -> NPK:
        return self.total_kg_ha.scale(1.0 / MU_PER_HA)

    def field_targets(self) -> tuple[NPK, NPK]:
        """Whole-field (basal, top-dress) nutrient kg: the targets for :func:`blend.plan_split`."""
        return self.basal_kg_ha.scale(self.area_ha), self.topdress_kg_ha.scale(self.area_ha)


def _target_yield(field_info: FieldInfo) -> tuple[float, Reason]:
    if field_info.target_yield_kg_ha is not None:
        return field_info.target_yield_kg_ha, Reason("target_yield_given", "使用给定的目标产量")
    y = target_yield_from_history(field_info.recent_yields_kg_ha, field_info.yield_increase)
    return y, Reason(
        "target_yield_from_history",
        f"目标产量=近{len(field_info.recent_yields_kg_ha)}年平均产量×(1+{field_info.yield_increase:.0%}) = {y:.0f} kg/公顷",
    )


def recommend(field_info: FieldInfo, soil_test: SoilTest | None, params: ParameterSet) -> Recommendation:
    """Recommend fertilizer nutrients for one field.

    - soil test present -> nutrient balance with soil-test correction (per ha, c = 2.25); N split
      ``params.n_basal_fraction`` basal, rest top-dress urea; P2O5 and K2O all basal.
    - no soil test -> the zone formula of ``params`` (read per mu, converted to per ha).
    - neither -> :class:`AgronomyError` ``no_method``.
    """
    if field_info.area_ha <= 0:
        raise AgronomyError("bad_area", "地块面积必须大于 0")
    y_ha, y_reason = _target_yield(field_info)
    if y_ha <= 0:
        raise AgronomyError("bad_target_yield", "目标产量必须大于 0")

    if soil_test is not None and params.soil_test_method == "zone_graded" and params.zone_formula is not None:
        return _zone_graded(field_info, soil_test, params, y_ha, y_reason)

    if soil_test is not None:
        res = nutrient_balance(
            y_ha,
            params.effective_uptake(),
            soil_test.as_npk(),
            params.correction_coefficient,
            params.utilisation_rate,
            area_unit="ha",
        )
        total = res.nutrients_kg
        f = params.n_basal_fraction
        basal = NPK(total.N * f, total.P2O5, total.K2O)
        top = NPK(total.N * (1.0 - f), 0.0, 0.0)
        grades = _soil_grades(soil_test, params)
        split = (
            Reason("n_split", f"氮肥 {f:.0%} 作基肥，其余 {1 - f:.0%} 以尿素追施；磷、钾肥全部作基肥")
            if f < 1.0
            else Reason("all_basal", "全部作基肥一次施用")
        )
        reasons = (
            Reason(
                "soil_test_present", f"{params.name_zh}：有测土数据，采用养分平衡法（土壤有效养分校正系数法）"
            ),
            y_reason,
            *res.reasons,
            split,
        )
        return Recommendation(
            crop=params.crop,
            method="nutrient_balance",
            area_ha=field_info.area_ha,
            target_yield_kg_ha=y_ha,
            basal_kg_ha=basal,
            topdress_kg_ha=top,
            reasons=reasons,
            covered_by_soil=res.covered_by_soil,
            soil_grades=grades,
            zone=params.zone,
        )

    if params.zone_formula is None:
        raise AgronomyError(
            "no_method",
            f"{params.name_zh}：没有测土数据，且该作物/区域没有区域大配方，无法推荐；请提供测土结果或选择区域",
        )
    zr = zone_formula_lookup(params.zone_formula, y_ha / MU_PER_HA, field_info.fertility)
    return Recommendation(
        crop=params.crop,
        method="zone_formula",
        area_ha=field_info.area_ha,
        target_yield_kg_ha=y_ha,
        basal_kg_ha=zr.basal_kg.scale(MU_PER_HA),
        topdress_kg_ha=zr.topdress_kg.scale(MU_PER_HA),
        reasons=(
            Reason(
                "no_soil_test", f"{params.name_zh}：没有测土数据，采用区域大配方（按亩公布，已换算为每公顷）"
            ),
            y_reason,
            *zr.reasons,
        ),
        zone=zr.zone,
        base_grade=zr.base_grade,
        base_blend_kg_ha=zr.base_blend_kg * MU_PER_HA,
        topdress_urea_kg_ha=zr.topdress_urea_kg * MU_PER_HA,
    )


def _soil_grades(soil_test: SoilTest, params: ParameterSet) -> dict[str, int]:
    grades = {
        n: soil_grade(soil_test.as_npk().get(n), SOIL_INDICATOR_FOR_NUTRIENT[n], params.soil_grading)
        for n in NUTRIENTS
    }
    if soil_test.organic_matter_g_kg is not None:
        grades["organic_matter"] = soil_grade(
            soil_test.organic_matter_g_kg, "organic_matter", params.soil_grading
        )
    return grades


#: Soil grades (1 richest … 6 poorest) read at the low end of a zone range ("medium-to-high
#: fertility soils take the low end"); poorer grades take the high end.
LOW_END_GRADES = (1, 2, 3)
GRADE_ZH = {1: "极丰", 2: "丰", 3: "中", 4: "缺", 5: "很缺", 6: "极缺"}


def _zone_graded(
    field_info: FieldInfo, soil_test: SoilTest, params: ParameterSet, y_ha: float, y_reason: Reason
) -> Recommendation:
    """The ministry zone formula with each nutrient graded by the soil test (see ParameterSet)."""
    assert params.zone_formula is not None
    grades = _soil_grades(soil_test, params)
    y_mu = y_ha / MU_PER_HA
    picked = {}
    for n in NUTRIENTS:
        fertility = "high" if grades[n] in LOW_END_GRADES else "low"
        picked[n] = zone_formula_lookup(params.zone_formula, y_mu, fertility)
    basal = NPK(picked["N"].basal_kg.N, picked["P2O5"].basal_kg.P2O5, picked["K2O"].basal_kg.K2O)
    top = NPK(picked["N"].topdress_kg.N, 0.0, 0.0)
    names = {"N": "碱解氮", "P2O5": "有效磷", "K2O": "速效钾"}
    graded = "；".join(
        f"{names[n]}{GRADE_ZH.get(grades[n], grades[n])}（{grades[n]}级）→ "
        f"{'范围低端' if grades[n] in LOW_END_GRADES else '范围高端'}"
        for n in NUTRIENTS
    )
    reasons = (
        Reason(
            "soil_test_zone_graded",
            f"{params.name_zh}：有测土数据，采用{params.zone_formula.name_zh}区域大配方，按测土分级取用量",
        ),
        y_reason,
        *picked["N"].reasons[1:],  # (the first says "no soil test": not so here)
        Reason("soil_grades", graded),
    )
    first = picked["N"]
    return Recommendation(
        crop=params.crop,
        method="zone_graded",
        area_ha=field_info.area_ha,
        target_yield_kg_ha=y_ha,
        basal_kg_ha=basal.scale(MU_PER_HA),
        topdress_kg_ha=top.scale(MU_PER_HA),
        reasons=reasons,
        covered_by_soil=(),
        soil_grades=grades,
        zone=first.zone,
        base_grade=first.base_grade,
        base_blend_kg_ha=first.base_blend_kg * MU_PER_HA,
        topdress_urea_kg_ha=first.topdress_urea_kg * MU_PER_HA,
    )

"""ParameterSet <-> JSON (the ``data`` of a :class:`ParameterSetVersion`), plus plan settings.

The JSON is flat and editable by agronomists::

    {"crop": "spring_maize_ne", "name_zh": "东北春玉米", "zone": "semi_humid",
     "uptake_per_100kg": {"N": 2.86, "P2O5": 1.14, "K2O": 2.63},
     "utilisation_rate": {...}, "correction_coefficient": {...}, "demand_share": {...},
     "n_basal_fraction": 0.4, "chloride_sensitive": false,
     "soil_grading": {"alkali_n": [150, 120, 90, 60, 30], ...},
     "abundance_thresholds": [50, 75, 95],
     "zone_formula": {"kind": "blend", "code": ..., "base_grade": {...}, "bands": [...]} | null,
     "plan": {"tolerance": {"N": 0.15, ...}, "basal_n_max_share": 0.6, "zero_target_cap_kg_mu": 0.0}}
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from .agronomy.nutrients import NPK, NUTRIENTS
from .agronomy.params import (
    BlendBand,
    BlendZoneFormula,
    NutrientBand,
    NutrientZoneFormula,
    ParameterSet,
    get_parameter_set,
)

SOIL_TEST_METHODS = ("nutrient_balance", "zone_graded")

DEFAULT_PLAN = {
    "tolerance": {"N": 0.15, "P2O5": 0.15, "K2O": 0.15},
    "basal_n_max_share": 0.6,
    "zero_target_cap_kg_mu": 0.0,
}

#: (key, low, high) plausible bounds checked when an agronomist saves a version
NPK_BOUNDS = {
    "uptake_per_100kg": (0.0, 20.0),
    "utilisation_rate": (0.01, 1.0),
    "correction_coefficient": (0.0, 2.0),
    "demand_share": (0.0, 1.0),
}


def _npk(x: NPK) -> dict[str, float]:
    return {n: float(x.get(n)) for n in NUTRIENTS}


def _formula_to_data(f: Any) -> dict[str, Any] | None:
    if f is None:
        return None
    if isinstance(f, BlendZoneFormula):
        return {
            "kind": "blend",
            "code": f.code,
            "name_zh": f.name_zh,
            "base_grade": _npk(f.base_grade),
            "note": f.note,
            "bands": [
                {
                    "min_yield": b.min_yield,
                    "max_yield": b.max_yield,
                    "base_kg": list(b.base_kg),
                    "topdress_urea_kg": list(b.topdress_urea_kg) if b.topdress_urea_kg else None,
                    "note": b.note,
                }
                for b in f.bands
            ],
        }
    return {
        "kind": "nutrient",
        "code": f.code,
        "name_zh": f.name_zh,
        "note": f.note,
        "bands": [
            {"min_yield": b.min_yield, "max_yield": b.max_yield, "low": _npk(b.low), "high": _npk(b.high)}
            for b in f.bands
        ],
    }


def _formula_from_data(d: dict[str, Any] | None) -> Any:
    if not d:
        return None
    if d["kind"] == "blend":
        return BlendZoneFormula(
            code=d["code"],
            name_zh=d["name_zh"],
            base_grade=NPK.from_mapping(d["base_grade"]),
            note=d.get("note", ""),
            bands=tuple(
                BlendBand(
                    b["min_yield"],
                    b["max_yield"],
                    tuple(b["base_kg"]),
                    tuple(b["topdress_urea_kg"]) if b.get("topdress_urea_kg") else None,
                    b.get("note", ""),
                )
                for b in d["bands"]
            ),
        )
    return NutrientZoneFormula(
        code=d["code"],
        name_zh=d["name_zh"],
        note=d.get("note", ""),
        bands=tuple(
            NutrientBand(
                b["min_yield"], b["max_yield"], NPK.from_mapping(b["low"]), NPK.from_mapping(b["high"])
            )
            for b in d["bands"]
        ),
    )


def to_data(p: ParameterSet, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "crop": p.crop,
        "name_zh": p.name_zh,
        "zone": p.zone,
        "uptake_per_100kg": _npk(p.uptake_per_100kg),
        "utilisation_rate": _npk(p.utilisation_rate),
        "correction_coefficient": _npk(p.correction_coefficient),
        "demand_share": _npk(p.demand_share),
        "n_basal_fraction": p.n_basal_fraction,
        "chloride_sensitive": p.chloride_sensitive,
        "soil_grading": {k: list(v) for k, v in p.soil_grading.items()},
        "abundance_thresholds": list(p.abundance_thresholds),
        "zone_formula": _formula_to_data(p.zone_formula),
        "source": p.source,
        "soil_test_method": p.soil_test_method,
        "n_trials": [list(t) for t in p.n_trials],
        "grain_price_yuan_kg": p.grain_price_yuan_kg,
        "plan": {**DEFAULT_PLAN, **(plan or {})},
    }


def from_data(d: dict[str, Any]) -> ParameterSet:
    return ParameterSet(
        crop=d["crop"],
        name_zh=d["name_zh"],
        zone=d.get("zone"),
        uptake_per_100kg=NPK.from_mapping(d["uptake_per_100kg"]),
        utilisation_rate=NPK.from_mapping(d["utilisation_rate"]),
        correction_coefficient=NPK.from_mapping(d["correction_coefficient"]),
        demand_share=NPK.from_mapping(d["demand_share"]),
        n_basal_fraction=float(d["n_basal_fraction"]),
        chloride_sensitive=bool(d.get("chloride_sensitive", False)),
        soil_grading={k: tuple(float(x) for x in v) for k, v in d["soil_grading"].items()},
        abundance_thresholds=tuple(float(x) for x in d["abundance_thresholds"]),  # type: ignore[arg-type]
        zone_formula=_formula_from_data(d.get("zone_formula")),
        source=d.get("source", ""),
        soil_test_method=d.get("soil_test_method", "nutrient_balance"),
        n_trials=tuple((float(x), float(y)) for x, y in d.get("n_trials") or ()),
        grain_price_yuan_kg=float(d.get("grain_price_yuan_kg") or 0.0),
    )


def plan_settings(d: dict[str, Any]) -> dict[str, Any]:
    return {**DEFAULT_PLAN, **(d.get("plan") or {})}


def default_data(crop: str, zone: str) -> dict[str, Any]:
    """Version 1 of a crop + zone: the agronomy core's defaults (Jilin maize zone formulas attached)."""
    return to_data(get_parameter_set(crop, zone))


def merge_changes(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply an agronomist's edit to a version's data and validate the result (ValidationError)."""
    data = {**base}
    errors: dict[str, ValidationError] = {}
    for key, value in changes.items():
        if value is None:
            continue
        if key in NPK_BOUNDS:
            lo, hi = NPK_BOUNDS[key]
            merged = {**data[key]}
            for n, v in dict(value).items():
                if n not in NUTRIENTS:
                    errors[key] = ValidationError(gettext("未知养分 %(name)s") % {"name": n}, code="invalid")
                    continue
                v = float(v)
                if not lo <= v <= hi or (key == "utilisation_rate" and v <= 0):
                    errors[key] = ValidationError(
                        gettext("%(name)s 须在 %(low)s–%(high)s 之间") % {"name": n, "low": lo, "high": hi},
                        code="invalid",
                    )
                merged[n] = v
            data[key] = merged
        elif key == "n_basal_fraction":
            v = float(value)
            if not 0.0 <= v <= 1.0:
                errors[key] = ValidationError(gettext("须在 0–1 之间"), code="invalid")
            data[key] = v
        elif key == "chloride_sensitive":
            data[key] = bool(value)
        elif key == "soil_grading":
            grading = {**data[key]}
            for indicator, bounds in dict(value).items():
                bounds = [float(b) for b in bounds]
                if indicator not in grading:
                    errors[key] = ValidationError(
                        gettext("未知指标 %(name)s") % {"name": indicator}, code="invalid"
                    )
                elif len(bounds) != 5 or any(a <= b for a, b in zip(bounds, bounds[1:], strict=False)):
                    errors[key] = ValidationError(
                        gettext("%(name)s: 须为 5 个递减的分级界限") % {"name": indicator}, code="invalid"
                    )
                grading[indicator] = bounds
            data[key] = grading
        elif key == "abundance_thresholds":
            t = [float(x) for x in value]
            if len(t) != 3 or not (0 < t[0] < t[1] < t[2] <= 100):
                errors[key] = ValidationError(gettext("须为 3 个递增的百分数"), code="invalid")
            data[key] = t
        elif key == "zone_formula":
            try:
                _formula_from_data(value)
            except (KeyError, TypeError, ValueError) as e:
                errors[key] = ValidationError(
                    gettext("区域配方格式错误: %(error)s") % {"error": e}, code="invalid"
                )
            data[key] = value
        elif key == "plan":
            plan = plan_settings(data)
            for k, v in dict(value).items():
                if k == "tolerance":
                    tol = {**plan["tolerance"], **{n: float(x) for n, x in dict(v).items()}}
                    if any(not 0.01 <= x <= 1.0 for x in tol.values()) or set(tol) != set(NUTRIENTS):
                        errors["plan"] = ValidationError(gettext("容差须在 0.01–1 之间"), code="invalid")
                    plan["tolerance"] = tol
                elif k == "basal_n_max_share":
                    if v is not None and not 0.0 < float(v) <= 1.0:
                        errors["plan"] = ValidationError(
                            gettext("基肥氮上限比例须在 0–1 之间"), code="invalid"
                        )
                    plan[k] = None if v is None else float(v)
                elif k == "zero_target_cap_kg_mu":
                    if float(v) < 0:
                        errors["plan"] = ValidationError(gettext("须 ≥ 0"), code="invalid")
                    plan[k] = float(v)
                else:
                    errors["plan"] = ValidationError(
                        gettext("未知设置 %(name)s") % {"name": k}, code="invalid"
                    )
            data["plan"] = plan
        elif key == "source":
            data[key] = str(value)
        elif key == "n_trials":
            try:
                trials = [[float(x), float(y)] for x, y in value]
            except (TypeError, ValueError):
                trials = None
            if trials is None or any(not (0 <= x <= 60 and 0 < y <= 2000) for x, y in trials):
                errors[key] = ValidationError(
                    gettext("试验数据须为（施氮量 0–60 kg/亩，产量 kg/亩）"), code="invalid"
                )
            data[key] = trials or []
        elif key == "grain_price_yuan_kg":
            price = float(value)
            if not 0 <= price <= 20:
                errors[key] = ValidationError(gettext("粮价须在 0–20 元/kg 之间"), code="invalid")
            data[key] = price
        elif key == "soil_test_method":
            if value not in SOIL_TEST_METHODS:
                errors[key] = ValidationError(gettext("未知方法"), code="invalid")
            data[key] = str(value)
        else:
            errors[key] = ValidationError(gettext("不可修改的字段"), code="invalid")
    if errors:
        raise ValidationError(errors)
    try:
        from_data(data)
    except (KeyError, TypeError, ValueError) as e:
        raise ValidationError({"data": ValidationError(str(e), code="invalid")}) from None
    return data

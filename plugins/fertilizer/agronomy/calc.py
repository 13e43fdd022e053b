"""JSON calculator: ``handle(request) -> answer`` (see docs/fertilizer-calculator.md).

Validation errors raise :class:`CalcError` whose ``field`` is the path of the offending value
(``utilisation_rate.N``, ``products[2].bag_kg``). Output kg are rounded to 2 decimals; money is a
string with exactly 2 decimals (``"2815.00"``) so it survives JSON without float error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from . import blend as blend_mod
from . import methods
from .nutrients import NPK, NUTRIENTS, SOIL_FACTOR, Reason

Json = dict[str, Any]


class CalcError(ValueError):
    """Bad request. ``field`` is the path of the offending value ("" for the whole request)."""

    def __init__(self, field: str, message: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.code = code

    def as_dict(self) -> Json:
        return {"field": self.field, "code": self.code, "message": self.message}


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CalcError(path, "must be an object", "wrong_type")
    return value


def _no_extra(obj: dict[str, Any], allowed: set[str], path: str) -> None:
    for key in obj:
        if key not in allowed:
            raise CalcError(
                _join(path, key), f"unknown field (allowed: {', '.join(sorted(allowed))})", "unknown_field"
            )


def _get(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise CalcError(_join(path, key), "missing", "missing")
    return obj[key]


def _number(
    value: Any,
    path: str,
    *,
    minimum: float | None = None,
    exclusive_min: bool = False,
    maximum: float | None = None,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CalcError(path, "must be a number", "wrong_type")
    v = float(value)
    if not math.isfinite(v):
        raise CalcError(path, "must be finite", "out_of_range")
    if minimum is not None:
        if exclusive_min and v <= minimum:
            raise CalcError(path, f"must be > {minimum:g}", "out_of_range")
        if not exclusive_min and v < minimum:
            raise CalcError(
                path, "must not be negative" if minimum == 0 else f"must be >= {minimum:g}", "out_of_range"
            )
    if maximum is not None and v > maximum:
        raise CalcError(path, f"must be <= {maximum:g}", "out_of_range")
    return v


def _num_field(obj: dict[str, Any], key: str, path: str, **bounds: Any) -> float:
    return _number(_get(obj, key, path), _join(path, key), **bounds)


def _npk(obj: dict[str, Any], key: str, path: str, **bounds: Any) -> NPK:
    p = _join(path, key)
    sub = _object(_get(obj, key, path), p)
    _no_extra(sub, set(NUTRIENTS), p)
    return NPK(*(_num_field(sub, n, p, **bounds) for n in NUTRIENTS))


def _per_nutrient_or_number(value: Any, path: str, **bounds: Any) -> NPK:
    if isinstance(value, dict):
        _no_extra(value, set(NUTRIENTS), path)
        return NPK(*(_num_field(value, n, path, **bounds) for n in NUTRIENTS))
    return NPK.uniform(_number(value, path, **bounds))


def _area_unit(obj: dict[str, Any], path: str = "", default: str | None = None) -> str:
    if "area_unit" not in obj and default is not None:
        return default
    unit = _get(obj, "area_unit", path)
    if not isinstance(unit, str) or unit not in SOIL_FACTOR:
        raise CalcError(_join(path, "area_unit"), 'must be "mu" or "ha"', "wrong_unit")
    return unit


def _kg(x: NPK) -> dict[str, float]:
    return x.rounded(2)


def _notes(reasons: tuple[Reason, ...] | list[Reason]) -> list[dict[str, str]]:
    return [r.as_dict() for r in reasons]


# --------------------------------------------------------------------------------------------
# methods
# --------------------------------------------------------------------------------------------

_RATE = {"minimum": 0.0, "exclusive_min": True, "maximum": 1.0}


def _nutrient_balance(req: Json) -> Json:
    _no_extra(
        req,
        {
            "method",
            "area_unit",
            "target_yield_kg",
            "uptake_per_100kg",
            "soil_test_mg_kg",
            "correction_coefficient",
            "utilisation_rate",
        },
        "",
    )
    unit = _area_unit(req)
    y = _num_field(req, "target_yield_kg", "", minimum=0.0)
    uptake = _npk(req, "uptake_per_100kg", "", minimum=0.0)
    soil = _npk(req, "soil_test_mg_kg", "", minimum=0.0)
    k = _npk(req, "correction_coefficient", "", minimum=0.0)
    r = _npk(req, "utilisation_rate", "", **_RATE)
    res = methods.nutrient_balance(y, uptake, soil, k, r, area_unit=unit)
    return {
        "method": "nutrient_balance",
        "area_unit": unit,
        "nutrients_kg": _kg(res.nutrients_kg),
        "demand_kg": _kg(res.demand_kg),
        "soil_supply_kg": _kg(res.soil_supply_kg),
        "covered_by_soil": list(res.covered_by_soil),
        "notes": _notes(res.reasons),
    }


def _yield_difference(req: Json) -> Json:
    _no_extra(
        req,
        {"method", "area_unit", "target_yield_kg", "blank_yield_kg", "uptake_per_100kg", "utilisation_rate"},
        "",
    )
    unit = _area_unit(req, default="mu")
    y = _num_field(req, "target_yield_kg", "", minimum=0.0)
    y0 = _num_field(req, "blank_yield_kg", "", minimum=0.0)
    uptake = _npk(req, "uptake_per_100kg", "", minimum=0.0)
    r = _npk(req, "utilisation_rate", "", **_RATE)
    res = methods.yield_difference(y, y0, uptake, r, area_unit=unit)
    return {
        "method": "yield_difference",
        "area_unit": unit,
        "nutrients_kg": _kg(res.nutrients_kg),
        "covered_by_soil": list(res.covered_by_soil),
        "notes": _notes(res.reasons),
    }


def _effect_function(req: Json) -> Json:
    _no_extra(req, {"method", "coefficients", "nutrient_price", "crop_price"}, "")
    coef = _object(_get(req, "coefficients", ""), "coefficients")
    _no_extra(coef, {"b0", "b1", "b2"}, "coefficients")
    b0, b1, b2 = (_num_field(coef, b, "coefficients") for b in ("b0", "b1", "b2"))
    px = _num_field(req, "nutrient_price", "", minimum=0.0)
    py = _num_field(req, "crop_price", "", minimum=0.0, exclusive_min=True)
    if b2 >= 0:
        raise CalcError(
            "coefficients.b2", "must be < 0: with b2 >= 0 the response curve has no maximum", "no_maximum"
        )
    res = methods.effect_function(b0, b1, b2, px, py)
    return {
        "method": "effect_function",
        "max_yield_rate": round(res.max_yield_rate, 2),
        "max_yield": round(res.max_yield, 2),
        "economic_rate": round(res.economic_rate, 2),
        "economic_yield": round(res.economic_yield, 2),
        "price_ratio": round(res.price_ratio, 4),
        "notes": _notes(res.reasons),
    }


def _fit_3414(req: Json) -> Json:
    _no_extra(req, {"method", "trials", "prices"}, "")
    trials_raw = _get(req, "trials", "")
    if not isinstance(trials_raw, list):
        raise CalcError("trials", "must be a list", "wrong_type")
    if len(trials_raw) < len(methods.QUAD3_TERMS):
        raise CalcError(
            "trials", f"need at least {len(methods.QUAD3_TERMS)} treatments, got {len(trials_raw)}", "too_few"
        )
    trials: list[tuple[NPK, float]] = []
    for i, t in enumerate(trials_raw):
        p = _join("trials", i)
        t = _object(t, p)
        _no_extra(t, {*NUTRIENTS, "yield"}, p)
        rates = NPK(*(_num_field(t, n, p, minimum=0.0) for n in NUTRIENTS))
        trials.append((rates, _num_field(t, "yield", p, minimum=0.0)))
    prices = _object(_get(req, "prices", ""), "prices")
    _no_extra(prices, {*NUTRIENTS, "crop"}, "prices")
    px = NPK(*(_num_field(prices, n, "prices", minimum=0.0) for n in NUTRIENTS))
    py = _num_field(prices, "crop", "prices", minimum=0.0, exclusive_min=True)
    try:
        model = methods.fit_quadratic3(trials)
    except methods.AgronomyError as e:
        raise CalcError("trials", e.message, e.code) from None
    opt = methods.economic_rates_quadratic3(model, px, py, methods.trial_upper_bounds(trials))
    return {
        "method": "fit_3414",
        "coefficients": {k: round(v, 6) for k, v in model.as_dict().items()},
        "r_squared": round(model.r_squared, 4),
        "negative_definite": opt.negative_definite,
        "optimum_method": opt.method,
        "economic_rates": _kg(opt.rates),
        "economic_yield": round(opt.yield_kg, 2),
        "trial_range_max": _kg(opt.upper_bounds),
        "notes": _notes(opt.reasons),
    }


def _price(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CalcError(path, "must be a number or a decimal string", "wrong_type")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise CalcError(path, "must be a number or a decimal string", "wrong_type") from None
    if not d.is_finite():
        raise CalcError(path, "must be finite", "out_of_range")
    if d < 0:
        raise CalcError(path, "must not be negative", "out_of_range")
    return d


def _products(value: Any) -> list[blend_mod.Product]:
    if not isinstance(value, list):
        raise CalcError("products", "must be a list", "wrong_type")
    if not value:
        raise CalcError("products", "must not be empty", "empty")
    out: list[blend_mod.Product] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        p = _join("products", i)
        obj = _object(raw, p)
        _no_extra(obj, {"sku", *NUTRIENTS, "bag_kg", "price_per_bag", "chloride"}, p)
        sku = _get(obj, "sku", p)
        if not isinstance(sku, str) or not sku.strip():
            raise CalcError(_join(p, "sku"), "must be a non-empty string", "wrong_type")
        if sku in seen:
            raise CalcError(_join(p, "sku"), f"duplicate sku {sku!r}", "duplicate")
        seen.add(sku)
        grade = NPK(*(_num_field(obj, n, p, minimum=0.0, maximum=100.0) for n in NUTRIENTS))
        if sum(grade.as_tuple()) > 100.0:
            raise CalcError(p, "N + P2O5 + K2O must not exceed 100 %", "out_of_range")
        bag = _num_field(obj, "bag_kg", p, minimum=0.0, exclusive_min=True)
        price = _price(_get(obj, "price_per_bag", p), _join(p, "price_per_bag"))
        chloride = obj.get("chloride", "unknown")
        if chloride == "":
            chloride = "unknown"
        if chloride not in blend_mod.CHLORIDE_CLASSES:
            raise CalcError(
                _join(p, "chloride"),
                f"must be one of {', '.join(blend_mod.CHLORIDE_CLASSES)}",
                "invalid_choice",
            )
        out.append(blend_mod.Product(sku, grade, bag, price, chloride))
    return out


def _plan_json(plan: blend_mod.BlendPlan) -> Json:
    return {
        "bags": dict(plan.bags),
        "cost": f"{plan.cost:.2f}",
        "nutrients_kg": _kg(plan.nutrients_kg),
        "targets_kg": _kg(plan.targets_kg),
        "upper_kg": _kg(plan.upper_kg),
        "notes": _notes(plan.reasons),
    }


def _blend(req: Json) -> Json:
    _no_extra(
        req,
        {
            "method",
            "targets_kg",
            "products",
            "tolerance",
            "max_products",
            "chloride_sensitive",
            "zero_target_cap_kg",
        },
        "",
    )
    targets = _npk(req, "targets_kg", "", minimum=0.0)
    products = _products(_get(req, "products", ""))
    tol = _per_nutrient_or_number(req.get("tolerance", 0.10), "tolerance", minimum=0.0)
    cap = _per_nutrient_or_number(req.get("zero_target_cap_kg", 0.0), "zero_target_cap_kg", minimum=0.0)
    max_products = req.get("max_products", 3)
    if max_products is not None and (isinstance(max_products, bool) or not isinstance(max_products, int)):
        raise CalcError("max_products", "must be an integer or null", "wrong_type")
    if max_products is not None and max_products < 1:
        raise CalcError("max_products", "must be >= 1", "out_of_range")
    chloride_sensitive = req.get("chloride_sensitive", False)
    if not isinstance(chloride_sensitive, bool):
        raise CalcError("chloride_sensitive", "must be true or false", "wrong_type")
    catalogue = blend_mod.Catalogue(products)
    try:
        plan = blend_mod.plan(catalogue, targets, tol, max_products, chloride_sensitive, cap)
    except blend_mod.NoFeasiblePlan as e:
        field = f"targets_kg.{e.nutrient}" if e.nutrient else "targets_kg"
        raise CalcError(field, e.message, e.code) from None
    return {"method": "blend", **_plan_json(plan)}


HANDLERS: dict[str, Callable[[Json], Json]] = {
    "nutrient_balance": _nutrient_balance,
    "yield_difference": _yield_difference,
    "effect_function": _effect_function,
    "fit_3414": _fit_3414,
    "blend": _blend,
}


def handle(request: Any) -> Json:
    """Answer one calculator request (a JSON object); raises :class:`CalcError` on a bad request."""
    req = _object(request, "")
    method = _get(req, "method", "")
    if not isinstance(method, str) or method not in HANDLERS:
        raise CalcError("method", f"must be one of {', '.join(HANDLERS)}", "invalid_choice")
    try:
        return HANDLERS[method](req)
    except methods.AgronomyError as e:  # a method refused the inputs after validation
        raise CalcError("", e.message, e.code) from None

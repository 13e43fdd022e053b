"""Soil-test formulated fertilization methods (测土配方施肥, NY/T 1118).

Pure functions, no Django. Amounts are per *area unit* of the caller ("mu" or "ha") unless a name
says otherwise. Every result records the ``method`` used and ``reasons`` (English code + Chinese
message) so the UI can explain the number to a farmer or agronomist.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .nutrients import NPK, NUTRIENTS, SOIL_FACTOR, Reason
from .params import (
    DEFAULT_ABUNDANCE_THRESHOLDS,
    DEFAULT_SOIL_GRADING,
    UREA_N_PCT,
    BlendZoneFormula,
    NutrientZoneFormula,
    ZoneFormula,
)

NUTRIENT_ZH = {"N": "氮(N)", "P2O5": "磷(P₂O₅)", "K2O": "钾(K₂O)"}


class AgronomyError(ValueError):
    """A method cannot produce a meaningful answer for these inputs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _check_unit(area_unit: str) -> float:
    try:
        return SOIL_FACTOR[area_unit]
    except KeyError:
        raise AgronomyError("bad_area_unit", f"面积单位必须是 'mu' 或 'ha'，收到 {area_unit!r}") from None


# --------------------------------------------------------------------------------------------
# Target-yield methods
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NutrientRequirement:
    """Fertilizer nutrient per area unit, never negative."""

    method: str
    area_unit: str
    nutrients_kg: NPK
    demand_kg: NPK  # crop demand that soil + fertilizer must meet (U x Y / 100)
    soil_supply_kg: NPK  # S x c x k (nutrient balance) or blank-plot uptake (yield difference)
    covered_by_soil: tuple[str, ...]
    reasons: tuple[Reason, ...]


def nutrient_balance(
    target_yield_kg: float,
    uptake_per_100kg: NPK,
    soil_test_mg_kg: NPK,
    correction_coefficient: NPK,
    utilisation_rate: NPK,
    area_unit: str = "mu",
) -> NutrientRequirement:
    """养分平衡法 (soil-test coefficient variant).

    fertilizer nutrient = (U x Y/100 - S x c x k) / r per area unit, c = 0.15 (mu) or 2.25 (ha).
    Clamped at 0; nutrients whose soil supply already covers the demand are listed in
    ``covered_by_soil``.
    """
    c = _check_unit(area_unit)
    demand = uptake_per_100kg.scale(target_yield_kg / 100.0)
    soil = NPK(
        *(soil_test_mg_kg.get(n) * c * correction_coefficient.get(n) for n in NUTRIENTS),
    )
    values: list[float] = []
    covered: list[str] = []
    reasons = [
        Reason(
            "nutrient_balance_soil_test",
            f"有测土数据：养分平衡法（土壤有效养分校正系数法），施肥量=(U×Y/100−S×{c}×k)/r，单位 kg/{area_unit}",
        )
    ]
    for n in NUTRIENTS:
        gap = demand.get(n) - soil.get(n)
        if gap <= 0:
            covered.append(n)
            values.append(0.0)
            reasons.append(
                Reason(
                    f"covered_by_soil_{n}",
                    f"{NUTRIENT_ZH[n]}：土壤供应 {soil.get(n):.2f} kg ≥ 作物需求 {demand.get(n):.2f} kg，本季可不施",
                )
            )
        else:
            values.append(gap / utilisation_rate.get(n))
    return NutrientRequirement(
        method="nutrient_balance",
        area_unit=area_unit,
        nutrients_kg=NPK(*values),
        demand_kg=demand,
        soil_supply_kg=soil,
        covered_by_soil=tuple(covered),
        reasons=tuple(reasons),
    )


def yield_difference(
    target_yield_kg: float,
    blank_yield_kg: float,
    uptake_per_100kg: NPK,
    utilisation_rate: NPK,
    area_unit: str = "mu",
) -> NutrientRequirement:
    """地力差减法: nutrient = (Y - Y0)/100 x U / r, Y0 = blank-plot yield. Never negative."""
    _check_unit(area_unit)
    demand = uptake_per_100kg.scale(target_yield_kg / 100.0)
    soil = uptake_per_100kg.scale(blank_yield_kg / 100.0)
    reasons = [
        Reason("yield_difference", f"地力差减法：施肥量=(Y−Y0)/100×U/r，单位 kg/{area_unit}"),
    ]
    covered: tuple[str, ...] = ()
    if blank_yield_kg >= target_yield_kg:
        covered = NUTRIENTS
        values = NPK()
        reasons.append(
            Reason("covered_by_soil", "空白区产量已达到目标产量，土壤供肥即可满足，本季可不施肥"),
        )
    else:
        gap = (target_yield_kg - blank_yield_kg) / 100.0
        values = NPK(*(gap * uptake_per_100kg.get(n) / utilisation_rate.get(n) for n in NUTRIENTS))
    return NutrientRequirement(
        method="yield_difference",
        area_unit=area_unit,
        nutrients_kg=values,
        demand_kg=demand,
        soil_supply_kg=soil,
        covered_by_soil=covered,
        reasons=tuple(reasons),
    )


def target_yield_from_history(recent_yields: Sequence[float], increase: float = 0.10) -> float:
    """Target yield = (1 + 10-15 %) x mean yield of the last (usually 3) years."""
    if not recent_yields:
        raise AgronomyError("no_yield_history", "没有历年产量数据，无法推算目标产量")
    return (1.0 + increase) * float(np.mean(recent_yields))


# --------------------------------------------------------------------------------------------
# One-nutrient fertilizer-effect function
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EffectFunctionResult:
    method: str
    max_yield_rate: float
    max_yield: float
    economic_rate: float
    economic_yield: float
    price_ratio: float
    reasons: tuple[Reason, ...]


def effect_function(
    b0: float, b1: float, b2: float, nutrient_price: float, crop_price: float
) -> EffectFunctionResult:
    """肥料效应函数法 y = b0 + b1 x + b2 x^2.

    Maximum-yield rate -b1/(2 b2); economic optimum where dy/dx = Px/Py, x = (Px/Py - b1)/(2 b2).
    Both clamped at 0. ``b2 >= 0`` has no maximum -> :class:`AgronomyError`.
    """
    if b2 >= 0:
        raise AgronomyError(
            "no_maximum",
            f"二次项系数 b2={b2} ≥ 0，效应曲线没有最高点，无法计算最高产量和经济最佳施肥量（请检查试验数据）",
        )
    if crop_price <= 0:
        raise AgronomyError("bad_crop_price", "作物价格必须大于 0")
    ratio = nutrient_price / crop_price
    reasons = [
        Reason(
            "effect_function_quadratic",
            "一元二次肥料效应函数：最高产量施肥量 x=−b1/(2b2)，经济最佳施肥量 x=(Px/Py−b1)/(2b2)",
        )
    ]
    x_max = -b1 / (2.0 * b2)
    if x_max < 0:
        x_max = 0.0
        reasons.append(Reason("max_rate_clamped", "b1 ≤ 0：施肥不增产，最高产量施肥量取 0"))
    x_eco = (ratio - b1) / (2.0 * b2)
    if x_eco < 0:
        x_eco = 0.0
        reasons.append(Reason("economic_rate_clamped", "价格比 Px/Py ≥ b1：施肥不经济，经济最佳施肥量取 0"))

    def y(x: float) -> float:
        return b0 + b1 * x + b2 * x * x

    return EffectFunctionResult(
        method="effect_function",
        max_yield_rate=x_max,
        max_yield=y(x_max),
        economic_rate=x_eco,
        economic_yield=y(x_eco),
        price_ratio=ratio,
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------------------------
# Three-nutrient quadratic with interactions ("3414")
# --------------------------------------------------------------------------------------------

#: Coefficient names of y = b0 + b1 N + b2 P + b3 K + b4 N^2 + b5 P^2 + b6 K^2 + b7 NP + b8 NK + b9 PK
QUAD3_TERMS: tuple[str, ...] = (
    "b0",
    "N",
    "P2O5",
    "K2O",
    "N^2",
    "P2O5^2",
    "K2O^2",
    "N*P2O5",
    "N*K2O",
    "P2O5*K2O",
)

#: The 14 treatments of the "3414" design as (N level, P level, K level); level 0/1/2/3 means
#: 0, 0.5x, 1x, 1.5x the local recommended rate. Treatment 1 is the blank, 6 the full NPK,
#: 2/4/8 the minus-N/P/K plots.
DESIGN_3414: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (0, 2, 2),
    (1, 2, 2),
    (2, 0, 2),
    (2, 1, 2),
    (2, 2, 2),
    (2, 3, 2),
    (2, 2, 0),
    (2, 2, 1),
    (2, 2, 3),
    (3, 2, 2),
    (1, 1, 2),
    (1, 2, 1),
    (2, 1, 1),
)
LEVEL_FACTORS = (0.0, 0.5, 1.0, 1.5)


def design_3414(recommended: NPK) -> list[NPK]:
    """Rates of the 14 treatments given the local recommended (level 2) rates."""
    return [
        NPK(
            LEVEL_FACTORS[a] * recommended.N,
            LEVEL_FACTORS[b] * recommended.P2O5,
            LEVEL_FACTORS[c] * recommended.K2O,
        )
        for a, b, c in DESIGN_3414
    ]


def _quad3_row(n: float, p: float, k: float) -> list[float]:
    return [1.0, n, p, k, n * n, p * p, k * k, n * p, n * k, p * k]


@dataclass(frozen=True, slots=True)
class Quadratic3:
    """Fitted y(N, P2O5, K2O) with interactions; ``coef`` ordered as :data:`QUAD3_TERMS`."""

    coef: tuple[float, ...]
    r_squared: float = 1.0
    n_trials: int = 0

    def yield_at(self, x: NPK) -> float:
        return float(np.dot(self.coef, _quad3_row(*x.as_tuple())))

    @property
    def linear(self) -> np.ndarray:
        return np.array(self.coef[1:4])

    @property
    def hessian(self) -> np.ndarray:
        b = self.coef
        return np.array(
            [
                [2 * b[4], b[7], b[8]],
                [b[7], 2 * b[5], b[9]],
                [b[8], b[9], 2 * b[6]],
            ]
        )

    def as_dict(self) -> dict[str, float]:
        return dict(zip(QUAD3_TERMS, self.coef, strict=True))


def fit_quadratic3(trials: Sequence[tuple[NPK, float]]) -> Quadratic3:
    """Least-squares fit of the three-nutrient quadratic to (rates, yield) trial plots.

    Needs a design that identifies all 10 coefficients (the 14-treatment "3414" design does).
    """
    if len(trials) < len(QUAD3_TERMS):
        raise AgronomyError(
            "too_few_trials",
            f"三元二次模型有 {len(QUAD3_TERMS)} 个系数，至少需要 {len(QUAD3_TERMS)} 个处理，收到 {len(trials)}",
        )
    X = np.array([_quad3_row(*rates.as_tuple()) for rates, _ in trials])
    y = np.array([float(v) for _, v in trials])
    coef, _res, rank, _sv = np.linalg.lstsq(X, y, rcond=None)
    if rank < len(QUAD3_TERMS):
        raise AgronomyError(
            "design_not_identifiable",
            f"试验设计不足以估计全部 {len(QUAD3_TERMS)} 个系数（秩={rank}），请使用完整的“3414”设计",
        )
    fitted = X @ coef
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    ss_res = float(np.sum((y - fitted) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return Quadratic3(coef=tuple(float(c) for c in coef), r_squared=r2, n_trials=len(trials))


@dataclass(frozen=True, slots=True)
class Quadratic3Optimum:
    method: str  # "stationary_point" | "box_constrained"
    rates: NPK
    yield_kg: float
    negative_definite: bool
    upper_bounds: NPK
    reasons: tuple[Reason, ...]


def _box_optimum(model: Quadratic3, ratio: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Global maximiser of y(x) - ratio.x over 0 <= x <= upper (any Hessian).

    A quadratic's maximum over a box is attained at a stationary point of the objective restricted
    to some face; enumerate all 3^3 faces (each variable at 0, at its upper bound or free).
    """
    b = model.linear
    H = model.hessian
    best_x = np.zeros(3)
    best_val = -np.inf
    for states in itertools.product((0, 1, 2), repeat=3):
        x = np.zeros(3)
        free = [i for i, s in enumerate(states) if s == 2]
        for i, s in enumerate(states):
            if s == 1:
                x[i] = upper[i]
        if free:
            fixed = [i for i in range(3) if i not in free]
            Hff = H[np.ix_(free, free)]
            rhs = ratio[free] - b[free] - (H[np.ix_(free, fixed)] @ x[fixed] if fixed else 0.0)
            try:
                xf = np.linalg.solve(Hff, rhs)
            except np.linalg.LinAlgError:
                continue
            if np.any(xf < -1e-9) or np.any(xf > upper[free] + 1e-9):
                continue
            x[free] = np.clip(xf, 0.0, upper[free])
        val = float(b @ x + 0.5 * x @ H @ x - ratio @ x)
        if val > best_val + 1e-12:
            best_val, best_x = val, x
    return best_x


def economic_rates_quadratic3(
    model: Quadratic3,
    prices: NPK,
    crop_price: float,
    upper_bounds: NPK,
) -> Quadratic3Optimum:
    """Economic-optimum N, P2O5, K2O rates: solve grad y = price ratios (Px/Py).

    If the Hessian is negative definite and the stationary point lies in [0, upper], that point is
    the answer. Otherwise (saddle / convex surface, or optimum outside the tested range) the
    constrained optimum of profit within the trial range 0..upper is returned, and ``reasons`` says so.
    """
    if crop_price <= 0:
        raise AgronomyError("bad_crop_price", "作物价格必须大于 0")
    ratio = np.array(prices.as_tuple()) / crop_price
    upper = np.array(upper_bounds.as_tuple())
    H = model.hessian
    eig = np.linalg.eigvalsh(H)
    neg_def = bool(np.all(eig < 0))
    reasons: list[Reason] = []
    if neg_def:
        x = np.linalg.solve(H, ratio - model.linear)
        if np.all(x >= -1e-9) and np.all(x <= upper + 1e-9):
            x = np.clip(x, 0.0, upper)
            reasons.append(
                Reason(
                    "stationary_point",
                    "海森矩阵负定：经济最佳施肥量为“边际产量=价格比”方程组的解，位于试验范围内",
                )
            )
            return Quadratic3Optimum(
                "stationary_point",
                NPK(*map(float, x)),
                model.yield_at(NPK(*map(float, x))),
                True,
                upper_bounds,
                tuple(reasons),
            )
        reasons.append(
            Reason(
                "stationary_outside_trial_range",
                "海森矩阵负定，但“边际产量=价格比”的解超出试验范围（负值或高于最高施肥水平），改用试验范围内的约束最优解",
            )
        )
    else:
        reasons.append(
            Reason(
                "not_negative_definite",
                f"拟合的三元二次函数不是凹函数（海森矩阵特征值 {', '.join(f'{v:.4g}' for v in eig)}），"
                "不存在唯一的经济最佳点；改用试验范围内（0 至最高试验施肥量）的约束最优解，建议复核试验数据",
            )
        )
    x = _box_optimum(model, ratio, upper)
    return Quadratic3Optimum(
        "box_constrained",
        NPK(*map(float, x)),
        model.yield_at(NPK(*map(float, x))),
        neg_def,
        upper_bounds,
        tuple(reasons),
    )


def trial_upper_bounds(trials: Sequence[tuple[NPK, float]], factor: float = 1.0) -> NPK:
    """Upper end of the trial range: ``factor`` x the highest rate tested for each nutrient.

    With a "3414" design the highest tested rate is already level 3 = 1.5 x the recommended rate.
    """
    return NPK(*(factor * max(r.get(n) for r, _ in trials) for n in NUTRIENTS))


# --------------------------------------------------------------------------------------------
# Abundance-deficiency index, soil grading
# --------------------------------------------------------------------------------------------

ABUNDANCE_CLASSES: tuple[tuple[str, str], ...] = (
    ("very_low", "极低"),
    ("low", "低"),
    ("medium", "中"),
    ("high", "高"),
)


@dataclass(frozen=True, slots=True)
class AbundanceClass:
    nutrient: str
    relative_yield_pct: float
    code: str
    name_zh: str


def classify_relative_yield(
    relative_yield_pct: float, thresholds: Sequence[float] = DEFAULT_ABUNDANCE_THRESHOLDS
) -> tuple[str, str]:
    """Class of a relative yield (%): below thresholds[0] very low, ... at/above thresholds[-1] high.

    Lower boundaries are inclusive (75 % with 50/75/95 is "medium").
    """
    if list(thresholds) != sorted(thresholds) or len(thresholds) != len(ABUNDANCE_CLASSES) - 1:
        raise AgronomyError("bad_thresholds", "丰缺指标分级阈值必须是 3 个递增的数")
    idx = sum(1 for t in thresholds if relative_yield_pct >= t)
    return ABUNDANCE_CLASSES[idx]


def abundance_deficiency(
    full_npk_yield: float,
    minus_yields: Mapping[str, float],
    thresholds: Sequence[float] = DEFAULT_ABUNDANCE_THRESHOLDS,
) -> dict[str, AbundanceClass]:
    """丰缺指标法: relative yield = minus-nutrient plot yield / full-NPK plot yield x 100."""
    if full_npk_yield <= 0:
        raise AgronomyError("bad_full_yield", "全肥区产量必须大于 0")
    out: dict[str, AbundanceClass] = {}
    for n, y in minus_yields.items():
        ry = 100.0 * y / full_npk_yield
        code, zh = classify_relative_yield(ry, thresholds)
        out[n] = AbundanceClass(n, ry, code, zh)
    return out


SOIL_INDICATOR_FOR_NUTRIENT = {"N": "alkali_n", "P2O5": "available_p", "K2O": "available_k"}


def soil_grade(
    value: float, indicator: str, grading: Mapping[str, Sequence[float]] = DEFAULT_SOIL_GRADING
) -> int:
    """Soil nutrient class 1 (richest) .. 6 (poorest), 2nd National Soil Survey table.

    A value exactly on a boundary goes to the poorer class (e.g. alkali N 150 mg/kg is class 2).
    """
    try:
        bounds = grading[indicator]
    except KeyError:
        raise AgronomyError("unknown_indicator", f"未知的土壤养分指标 {indicator!r}") from None
    return 1 + sum(1 for t in bounds if value <= t)


# --------------------------------------------------------------------------------------------
# Zone formulas (no soil test)
# --------------------------------------------------------------------------------------------

FERTILITY_LEVELS = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class ZoneFormulaResult:
    """Per-mu zone recommendation. ``base_blend_kg`` / ``topdress_urea_kg`` are product kg/mu
    (0 for nutrient-type formulas); nutrients are kg/mu split into basal and top-dress."""

    method: str
    zone: str
    base_grade: NPK | None
    base_blend_kg: float
    topdress_urea_kg: float
    basal_kg: NPK
    topdress_kg: NPK
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def total_kg(self) -> NPK:
        return self.basal_kg + self.topdress_kg


def _pick(lo: float, hi: float, fertility: str | None) -> float:
    if fertility in ("medium", "high"):
        return lo
    if fertility == "low":
        return hi
    return (lo + hi) / 2.0


def _find_band(bands: Sequence, y: float) -> tuple[int, bool]:
    """Index of the band containing ``y`` ([min, max)); clamps to the first/last band (extrapolated)."""
    for i, band in enumerate(bands):
        lo = -np.inf if band.min_yield is None else band.min_yield
        hi = np.inf if band.max_yield is None else band.max_yield
        if lo <= y < hi:
            return i, False
    first_lo = bands[0].min_yield
    if first_lo is not None and y < first_lo:
        return 0, True
    return len(bands) - 1, True


def _band_label(band: object) -> str:
    lo = getattr(band, "min_yield", None)
    hi = getattr(band, "max_yield", None)
    if lo is None:
        return f"<{hi:g}"
    if hi is None:
        return f">{lo:g}"
    return f"{lo:g}–{hi:g}"


def zone_formula_lookup(
    formula: ZoneFormula, target_yield_kg_mu: float, fertility: str | None = None
) -> ZoneFormulaResult:
    """Look up a zone formula by target yield (kg/mu).

    Ranges are read at the low end for medium-to-high fertility soils, at the high end for low
    fertility, and at the midpoint when the fertility level is unknown.
    """
    if fertility is not None and fertility not in FERTILITY_LEVELS:
        raise AgronomyError(
            "bad_fertility", f"土壤肥力等级必须是 {FERTILITY_LEVELS} 之一，收到 {fertility!r}"
        )
    idx, extrapolated = _find_band(formula.bands, target_yield_kg_mu)
    band = formula.bands[idx]
    end = {
        "medium": "低端（中高肥力）",
        "high": "低端（中高肥力）",
        "low": "高端（低肥力）",
        None: "中值（肥力未知）",
    }[fertility]
    reasons = [
        Reason(
            "zone_formula",
            f"无测土数据：采用{formula.name_zh}区域大配方，目标产量 {target_yield_kg_mu:g} kg/亩 属于 "
            f"{_band_label(band)} kg/亩 档，用量取范围{end}",
        )
    ]
    if extrapolated:
        reasons.append(
            Reason(
                "yield_outside_bands",
                f"目标产量超出配方表的产量档，按最接近的 {_band_label(band)} kg/亩 档推荐",
            )
        )
    if isinstance(formula, BlendZoneFormula):
        base = _pick(band.base_kg[0], band.base_kg[1], fertility)
        urea = 0.0
        if band.topdress_urea_kg is not None:
            urea = _pick(band.topdress_urea_kg[0], band.topdress_urea_kg[1], fertility)
        if band.note == "slow_release_required":
            reasons.append(Reason("slow_release_required", "目标产量700公斤/亩以上的一次性施肥需含30%缓释氮"))
        basal = formula.base_grade.scale(base / 100.0)
        top = NPK(urea * UREA_N_PCT / 100.0, 0.0, 0.0)
        return ZoneFormulaResult(
            "zone_formula", formula.code, formula.base_grade, base, urea, basal, top, tuple(reasons)
        )
    assert isinstance(formula, NutrientZoneFormula)
    lo_v, hi_v = band.low, band.high
    nutrients = NPK(*(_pick(lo_v.get(n), hi_v.get(n), fertility) for n in NUTRIENTS))
    return ZoneFormulaResult("zone_formula", formula.code, None, 0.0, 0.0, nutrients, NPK(), tuple(reasons))

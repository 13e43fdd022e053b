"""Default agronomic parameters (see /work/shared/reference/agronomy.md).

Every number here is a *default*: agronomists override any of them per county, crop and season by
building their own :class:`ParameterSet` (``dataclasses.replace(default, ...)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .nutrients import NPK

UREA_N_PCT = 46.0

# --------------------------------------------------------------------------------------------
# Soil nutrient grading (2nd National Soil Survey; class 1 = richest)
# --------------------------------------------------------------------------------------------

#: Lower boundaries of classes 1..5 (descending). A value strictly above boundary i is class i+1;
#: a value exactly on a boundary goes to the poorer class; below the last boundary is class 6.
DEFAULT_SOIL_GRADING: dict[str, tuple[float, ...]] = {
    "alkali_n": (150.0, 120.0, 90.0, 60.0, 30.0),  # alkali-hydrolysable N, mg/kg
    "available_p": (40.0, 20.0, 10.0, 5.0, 3.0),  # Olsen-P, mg/kg
    "available_k": (200.0, 150.0, 100.0, 50.0, 30.0),  # available K, mg/kg
    "organic_matter": (40.0, 30.0, 20.0, 10.0, 6.0),  # g/kg
}

#: Abundance-deficiency classes by relative yield (%): < 50 very low, 50-75 low, 75-95 medium,
#: >= 95 high (lower boundary inclusive). Some sources use (50, 70, 90).
DEFAULT_ABUNDANCE_THRESHOLDS: tuple[float, float, float] = (50.0, 75.0, 95.0)


# --------------------------------------------------------------------------------------------
# Zone formulas ("大配方", per mu)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlendBand:
    """Yield band [min_yield, max_yield) in kg/mu -> base blend kg/mu range + top-dress urea kg/mu range."""

    min_yield: float | None
    max_yield: float | None
    base_kg: tuple[float, float]
    topdress_urea_kg: tuple[float, float] | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class BlendZoneFormula:
    """A ministry zone formula: one base blend grade applied by yield band, plus urea top-dressing."""

    code: str
    name_zh: str
    base_grade: NPK  # % N-P2O5-K2O of the base blend
    bands: tuple[BlendBand, ...]
    note: str = ""


@dataclass(frozen=True, slots=True)
class NutrientBand:
    """Yield band [min_yield, max_yield) in kg/mu -> nutrient kg/mu (low end, high end)."""

    min_yield: float | None
    max_yield: float | None
    low: NPK
    high: NPK


@dataclass(frozen=True, slots=True)
class NutrientZoneFormula:
    """A zone recommendation published directly as nutrient amounts per mu (e.g. NE soybean)."""

    code: str
    name_zh: str
    bands: tuple[NutrientBand, ...]
    note: str = ""


ZoneFormula = BlendZoneFormula | NutrientZoneFormula

JILIN_MAIZE_ZONES: dict[str, BlendZoneFormula] = {
    "semi_humid": BlendZoneFormula(
        code="semi_humid",
        name_zh="吉林中部半湿润区",
        base_grade=NPK(15, 18, 12),
        bands=(
            BlendBand(None, 550, (20, 24), (10, 13)),
            BlendBand(550, 700, (24, 31), (13, 16)),
            BlendBand(700, 800, (31, 35), (16, 18)),
            BlendBand(800, None, (35, 40), (18, 21)),
        ),
    ),
    "semi_humid_one_shot": BlendZoneFormula(
        code="semi_humid_one_shot",
        name_zh="吉林中部半湿润区（一次性施肥）",
        base_grade=NPK(29, 13, 10),
        bands=(
            BlendBand(550, 700, (33, 41), None),
            BlendBand(700, None, (33, 41), None, note="slow_release_required"),
        ),
        note="目标产量700公斤/亩以上需含30%缓释氮",
    ),
    "semi_arid": BlendZoneFormula(
        code="semi_arid",
        name_zh="吉林西部半干旱区",
        base_grade=NPK(13, 20, 12),
        bands=(
            BlendBand(None, 450, (19, 25), (8, 10)),
            BlendBand(450, 600, (25, 33), (10, 14)),
            BlendBand(600, None, (33, 38), (14, 16)),
        ),
    ),
    "cool": BlendZoneFormula(
        code="cool",
        name_zh="吉林东部冷凉区",
        base_grade=NPK(14, 18, 13),
        bands=(
            BlendBand(500, 600, (23, 28), (11, 13)),
            BlendBand(600, 700, (28, 32), (13, 16)),
            BlendBand(700, None, (32, 37), (16, 18)),
        ),
    ),
}

NE_SOYBEAN_FORMULA = NutrientZoneFormula(
    code="ne_soybean",
    name_zh="东北大豆",
    bands=(
        NutrientBand(130, 150, NPK(2, 2, 1), NPK(3, 3, 2)),
        NutrientBand(150, 175, NPK(3, 3, 2), NPK(4, 4, 3)),
        NutrientBand(175, None, NPK(3, 4, 2), NPK(4, 5, 3)),
    ),
)


# --------------------------------------------------------------------------------------------
# Parameter sets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterSet:
    """All agronomic parameters a recommendation needs for one crop (and optionally zone).

    - ``uptake_per_100kg``: kg nutrient taken up per 100 kg harvest (U).
    - ``demand_share``: share of that uptake that must come from soil + fertilizer (soybean N ~1/3,
      the rest is biological fixation).
    - ``utilisation_rate``: fertilizer utilisation rate r (fraction, (0, 1]).
    - ``correction_coefficient``: soil-test correction coefficient k (fraction of the plough-layer
      available nutrient the crop uses).
    - ``n_basal_fraction``: share of fertilizer N applied basally; the rest is top-dressed as urea.
      P2O5 and K2O are always all basal.
    - ``soil_test_method``: how a soil test is used. ``"nutrient_balance"`` (养分平衡法 with the
      coefficients above) or ``"zone_graded"`` (the ministry zone formula, each nutrient read at the
      low end of its range on medium-to-rich soil and at the high end on poor soil, graded by the
      soil test — the published guidance for Jilin maize, which the nutrient-balance coefficients
      above, without local 3414 trials, overshoot several times over).
    """

    crop: str
    name_zh: str
    uptake_per_100kg: NPK
    utilisation_rate: NPK = NPK(0.33, 0.15, 0.45)
    correction_coefficient: NPK = NPK(0.5, 0.45, 0.6)
    demand_share: NPK = NPK(1.0, 1.0, 1.0)
    n_basal_fraction: float = 0.4
    chloride_sensitive: bool = False
    zone: str | None = None
    zone_formula: ZoneFormula | None = None
    soil_grading: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_SOIL_GRADING))
    abundance_thresholds: tuple[float, float, float] = DEFAULT_ABUNDANCE_THRESHOLDS
    source: str = ""
    soil_test_method: str = "nutrient_balance"
    #: The county's N-series trial (kg N/mu, yield kg/mu) for the economic optimum; empty: not shown.
    n_trials: tuple[tuple[float, float], ...] = ()
    #: Grain price (¥/kg) the economic optimum is computed at; 0: not shown.
    grain_price_yuan_kg: float = 0.0

    def effective_uptake(self) -> NPK:
        """Uptake per 100 kg that must come from soil + fertilizer."""
        return NPK(
            self.uptake_per_100kg.N * self.demand_share.N,
            self.uptake_per_100kg.P2O5 * self.demand_share.P2O5,
            self.uptake_per_100kg.K2O * self.demand_share.K2O,
        )


DEFAULT_PARAMETER_SETS: dict[str, ParameterSet] = {
    "maize": ParameterSet(
        crop="maize",
        name_zh="玉米",
        uptake_per_100kg=NPK(2.57, 0.86, 2.14),
        n_basal_fraction=0.4,
        source="textbook uptake table",
    ),
    "spring_maize_ne": ParameterSet(
        crop="spring_maize_ne",
        name_zh="东北春玉米",
        uptake_per_100kg=NPK(2.86, 1.14, 2.63),
        n_basal_fraction=0.4,
        zone="semi_humid",
        zone_formula=JILIN_MAIZE_ZONES["semi_humid"],
        source="seed-company extension page; Jilin ministry zone formulas",
        soil_test_method="zone_graded",
    ),
    "rice": ParameterSet(
        crop="rice",
        name_zh="水稻",
        uptake_per_100kg=NPK(2.25, 1.10, 2.70),
        n_basal_fraction=0.5,
        source="textbook uptake table",
    ),
    "soybean": ParameterSet(
        crop="soybean",
        name_zh="大豆",
        uptake_per_100kg=NPK(7.20, 1.80, 4.00),
        demand_share=NPK(1.0 / 3.0, 1.0, 1.0),
        n_basal_fraction=1.0,
        zone_formula=NE_SOYBEAN_FORMULA,
        source="textbook uptake table; NE China soybean recommendation",
    ),
}


def get_parameter_set(crop: str, zone: str | None = None) -> ParameterSet:
    """Default parameters for ``crop``; for maize a Jilin ``zone`` attaches that zone formula."""
    try:
        params = DEFAULT_PARAMETER_SETS[crop]
    except KeyError:
        raise KeyError(
            f"no default parameters for crop {crop!r}; known: {sorted(DEFAULT_PARAMETER_SETS)}"
        ) from None
    if zone is not None:
        if crop in ("maize", "spring_maize_ne"):
            if zone not in JILIN_MAIZE_ZONES:
                raise KeyError(f"unknown maize zone {zone!r}; known: {sorted(JILIN_MAIZE_ZONES)}")
            params = replace(params, zone=zone, zone_formula=JILIN_MAIZE_ZONES[zone])
        else:
            params = replace(params, zone=zone)
    return params

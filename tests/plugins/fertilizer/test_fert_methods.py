"""Agronomy methods: hand-computed expectations (see comments)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from plugins.fertilizer.agronomy.methods import (
    DESIGN_3414,
    AgronomyError,
    Quadratic3,
    abundance_deficiency,
    classify_relative_yield,
    design_3414,
    economic_rates_quadratic3,
    effect_function,
    fit_quadratic3,
    nutrient_balance,
    soil_grade,
    target_yield_from_history,
    trial_upper_bounds,
    yield_difference,
    zone_formula_lookup,
)
from plugins.fertilizer.agronomy.nutrients import NPK
from plugins.fertilizer.agronomy.params import JILIN_MAIZE_ZONES, NE_SOYBEAN_FORMULA

U = NPK(2.57, 0.86, 2.14)  # maize uptake per 100 kg
S = NPK(120, 25, 150)  # soil test mg/kg
K = NPK(0.5, 0.45, 0.6)  # correction coefficients
R = NPK(0.33, 0.15, 0.45)  # utilisation rates


def test_nutrient_balance_per_mu_hand_computed():
    # Y = 700 kg/mu, c = 0.15
    # N:    (2.57*7 - 120*0.15*0.5) / 0.33 = (17.99 - 9.0)    / 0.33 = 8.99   / 0.33 = 27.242424...
    # P2O5: (0.86*7 - 25*0.15*0.45) / 0.15 = (6.02 - 1.6875)  / 0.15 = 4.3325 / 0.15 = 28.883333...
    # K2O:  (2.14*7 - 150*0.15*0.6) / 0.45 = (14.98 - 13.5)   / 0.45 = 1.48   / 0.45 = 3.288888...
    res = nutrient_balance(700, U, S, K, R, area_unit="mu")
    assert res.method == "nutrient_balance"
    assert res.nutrients_kg.N == pytest.approx(27.242424, abs=1e-5)
    assert res.nutrients_kg.P2O5 == pytest.approx(28.883333, abs=1e-5)
    assert res.nutrients_kg.K2O == pytest.approx(3.288889, abs=1e-5)
    assert res.demand_kg.N == pytest.approx(17.99)
    assert res.soil_supply_kg.P2O5 == pytest.approx(1.6875)
    assert res.covered_by_soil == ()
    assert res.reasons[0].code == "nutrient_balance_soil_test"


def test_nutrient_balance_per_ha_hand_computed():
    # Y = 700 kg/mu * 15 = 10500 kg/ha, c = 2.25
    # N:    (2.57*105 - 120*2.25*0.5) / 0.33 = (269.85 - 135)   / 0.33 = 134.85 / 0.33 = 408.636363...
    # P2O5: (0.86*105 - 25*2.25*0.45) / 0.15 = (90.3 - 25.3125) / 0.15 = 64.9875 / 0.15 = 433.25
    # K2O:  (2.14*105 - 150*2.25*0.6) / 0.45 = (224.7 - 202.5)  / 0.45 = 22.2 / 0.45 = 49.333333...
    res = nutrient_balance(10500, U, S, K, R, area_unit="ha")
    assert res.nutrients_kg.N == pytest.approx(408.636364, abs=1e-5)
    assert res.nutrients_kg.P2O5 == pytest.approx(433.25, abs=1e-6)
    assert res.nutrients_kg.K2O == pytest.approx(49.333333, abs=1e-5)
    # per ha is exactly 15 x per mu
    per_mu = nutrient_balance(700, U, S, K, R, area_unit="mu")
    assert res.nutrients_kg.N == pytest.approx(15 * per_mu.nutrients_kg.N)


def test_nutrient_balance_never_negative_and_flags_covered():
    # K: soil 300 mg/kg -> 300*0.15*0.6 = 27 kg/mu supply > demand 14.98 -> 0, covered
    # N: soil 250 -> 250*0.15*0.5 = 18.75 > 17.99 -> 0, covered
    res = nutrient_balance(700, U, NPK(250, 25, 300), K, R, area_unit="mu")
    assert res.nutrients_kg.K2O == 0.0
    assert res.nutrients_kg.N == 0.0
    assert res.nutrients_kg.P2O5 > 0
    assert res.covered_by_soil == ("N", "K2O")
    assert {r.code for r in res.reasons} >= {"covered_by_soil_N", "covered_by_soil_K2O"}


def test_nutrient_balance_bad_unit():
    with pytest.raises(AgronomyError) as e:
        nutrient_balance(700, U, S, K, R, area_unit="acre")
    assert e.value.code == "bad_area_unit"


def test_yield_difference_hand_computed():
    # (700 - 450)/100 = 2.5
    # N 2.5*2.57/0.33 = 19.469697, P 2.5*0.86/0.15 = 14.333333, K 2.5*2.14/0.45 = 11.888889
    res = yield_difference(700, 450, U, R)
    assert res.nutrients_kg.N == pytest.approx(19.469697, abs=1e-5)
    assert res.nutrients_kg.P2O5 == pytest.approx(14.333333, abs=1e-5)
    assert res.nutrients_kg.K2O == pytest.approx(11.888889, abs=1e-5)
    assert res.covered_by_soil == ()


def test_yield_difference_blank_above_target_is_zero():
    res = yield_difference(500, 520, U, R)
    assert res.nutrients_kg == NPK(0, 0, 0)
    assert res.covered_by_soil == ("N", "P2O5", "K2O")


def test_target_yield_from_history():
    # mean(600, 650, 700) = 650; x 1.1 = 715
    assert target_yield_from_history([600, 650, 700]) == pytest.approx(715.0)
    with pytest.raises(AgronomyError):
        target_yield_from_history([])


def test_effect_function_max_and_economic():
    # y = 400 + 12x - 0.3x^2; x_max = -12/(2*-0.3) = 20, y = 400 + 240 - 120 = 520
    # Px/Py = 5/2.5 = 2; x_eco = (2 - 12)/(-0.6) = 16.6667; y = 400 + 200 - 0.3*277.78 = 516.667
    res = effect_function(400, 12, -0.3, 5, 2.5)
    assert res.max_yield_rate == pytest.approx(20.0)
    assert res.max_yield == pytest.approx(520.0)
    assert res.economic_rate == pytest.approx(16.666667, abs=1e-5)
    assert res.economic_yield == pytest.approx(516.666667, abs=1e-5)
    assert res.method == "effect_function"


def test_effect_function_clamps_at_zero():
    # price ratio 20/1 = 20 > b1 = 12: economic rate negative -> 0
    res = effect_function(400, 12, -0.3, 20, 1)
    assert res.economic_rate == 0.0
    assert res.economic_yield == 400.0
    assert "economic_rate_clamped" in {r.code for r in res.reasons}
    # b1 < 0: fertilizer lowers yield, max rate 0
    res = effect_function(400, -1, -0.3, 1, 1)
    assert res.max_yield_rate == 0.0


@pytest.mark.parametrize("b2", [0.0, 0.1])
def test_effect_function_no_maximum(b2):
    with pytest.raises(AgronomyError) as e:
        effect_function(400, 12, b2, 5, 2.5)
    assert e.value.code == "no_maximum"


# ------------------------------------------------------------------------------------------
# 3414
# ------------------------------------------------------------------------------------------

TRUE_COEF = (450.0, 14.0, 20.0, 12.0, -0.45, -1.5, -0.8, 0.1, 0.05, 0.2)


REC = NPK(15, 6, 6)


def _trials(coef=TRUE_COEF, recommended=REC, noise=None):
    model = Quadratic3(coef)
    rates = design_3414(recommended)
    out = []
    for i, r in enumerate(rates):
        y = model.yield_at(r)
        if noise is not None:
            y += noise[i]
        out.append((r, y))
    return out


def test_design_3414_levels():
    rates = design_3414(NPK(15, 6, 6))
    assert len(rates) == 14 == len(DESIGN_3414)
    assert rates[0] == NPK(0, 0, 0)  # treatment 1 blank
    assert rates[5] == NPK(15, 6, 6)  # treatment 6 full NPK
    assert rates[1] == NPK(0, 6, 6)  # treatment 2 minus N
    assert rates[3] == NPK(15, 0, 6)  # treatment 4 minus P
    assert rates[7] == NPK(15, 6, 0)  # treatment 8 minus K
    assert rates[10] == NPK(22.5, 6, 6)  # treatment 11: N level 3 = 1.5x


def test_fit_3414_recovers_known_coefficients():
    model = fit_quadratic3(_trials())
    assert model.coef == pytest.approx(TRUE_COEF, abs=1e-6)
    assert model.r_squared == pytest.approx(1.0)


def test_economic_rates_solve_gradient_equals_price_ratio():
    model = fit_quadratic3(_trials())
    prices, crop = NPK(5, 6, 5), 2.5
    opt = economic_rates_quadratic3(model, prices, crop, NPK(22.5, 9, 9))
    assert opt.method == "stationary_point"
    assert opt.negative_definite
    x = np.array(opt.rates.as_tuple())
    grad = model.linear + model.hessian @ x
    assert grad == pytest.approx(np.array(prices.as_tuple()) / crop, abs=1e-8)
    # hand-check the N component of the gradient: 14 - 0.9 N + 0.1 P + 0.05 K = 2
    n, p, k = x
    assert 14 - 0.9 * n + 0.1 * p + 0.05 * k == pytest.approx(2.0)


def _grid_best(model, prices, crop, upper, steps=31):
    ratio = np.array(prices.as_tuple()) / crop
    best = -np.inf
    for pt in itertools.product(*(np.linspace(0, u, steps) for u in upper.as_tuple())):
        x = NPK(*pt)
        best = max(best, model.yield_at(x) - model.coef[0] - float(ratio @ np.array(pt)))
    return best


def test_economic_rates_not_negative_definite_falls_back_to_box():
    # positive N^2 term: convex in N -> no interior economic optimum
    coef = (450.0, 14.0, 20.0, 12.0, 0.2, -1.5, -0.8, 0.1, 0.05, 0.2)
    model = fit_quadratic3(_trials(coef))
    upper = trial_upper_bounds(_trials(coef))
    assert upper == NPK(22.5, 9, 9)
    prices, crop = NPK(5, 6, 5), 2.5
    opt = economic_rates_quadratic3(model, prices, crop, upper)
    assert opt.method == "box_constrained"
    assert not opt.negative_definite
    assert opt.reasons[0].code == "not_negative_definite"
    for n in ("N", "P2O5", "K2O"):
        assert 0.0 <= opt.rates.get(n) <= upper.get(n) + 1e-9
    ratio = np.array(prices.as_tuple()) / crop
    got = opt.yield_kg - coef[0] - float(ratio @ np.array(opt.rates.as_tuple()))
    assert got >= _grid_best(model, prices, crop, upper) - 1e-9


def test_economic_rates_stationary_outside_range_is_constrained():
    # expensive P: stationary P would be negative -> constrained optimum with P = 0
    model = fit_quadratic3(_trials())
    opt = economic_rates_quadratic3(model, NPK(5, 80, 5), 2.5, NPK(22.5, 9, 9))
    assert opt.negative_definite
    assert opt.method == "box_constrained"
    assert opt.rates.P2O5 == pytest.approx(0.0)
    assert opt.reasons[0].code == "stationary_outside_trial_range"


def test_fit_3414_with_noise_close():
    rng = np.random.default_rng(7)
    model = fit_quadratic3(_trials(noise=rng.normal(0, 0.5, 14)))
    assert model.coef[1] == pytest.approx(14.0, abs=1.0)
    assert 0.9 < model.r_squared <= 1.0


def test_fit_rejects_unidentifiable_design():
    # K never varies -> K, K^2, N*K, P*K not identifiable
    trials = [(NPK(r.N, r.P2O5, 6.0), 500.0 + i) for i, r in enumerate(design_3414(NPK(15, 6, 6)))]
    with pytest.raises(AgronomyError) as e:
        fit_quadratic3(trials)
    assert e.value.code == "design_not_identifiable"
    with pytest.raises(AgronomyError) as e:
        fit_quadratic3(trials[:9])
    assert e.value.code == "too_few_trials"


# ------------------------------------------------------------------------------------------
# abundance-deficiency, soil grading
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ry", "code"),
    [
        (10, "very_low"),
        (49.99, "very_low"),
        (50, "low"),
        (74.9, "low"),
        (75, "medium"),
        (94.9, "medium"),
        (95, "high"),
    ],
)
def test_classify_relative_yield_default_thresholds(ry, code):
    assert classify_relative_yield(ry)[0] == code


def test_classify_relative_yield_custom_thresholds():
    assert classify_relative_yield(72)[0] == "low"
    assert classify_relative_yield(72, (50, 70, 90))[0] == "medium"
    with pytest.raises(AgronomyError):
        classify_relative_yield(72, (90, 70, 50))


def test_abundance_deficiency_from_plots():
    # full NPK 600; minus-N 270 -> 45 % very low; minus-P 480 -> 80 % medium; minus-K 582 -> 97 % high
    res = abundance_deficiency(600, {"N": 270, "P2O5": 480, "K2O": 582})
    assert res["N"].relative_yield_pct == pytest.approx(45.0)
    assert (res["N"].code, res["P2O5"].code, res["K2O"].code) == ("very_low", "medium", "high")


@pytest.mark.parametrize(
    ("indicator", "value", "grade"),
    [
        ("alkali_n", 151, 1),
        ("alkali_n", 150, 2),  # on the boundary -> poorer class
        ("alkali_n", 121, 2),
        ("alkali_n", 100, 3),
        ("alkali_n", 75, 4),
        ("alkali_n", 45, 5),
        ("alkali_n", 29, 6),
        ("available_p", 28, 2),
        ("available_p", 4, 5),
        ("available_p", 2, 6),
        ("available_k", 250, 1),
        ("available_k", 120, 3),
        ("organic_matter", 25, 3),
        ("organic_matter", 5, 6),
    ],
)
def test_soil_grade(indicator, value, grade):
    assert soil_grade(value, indicator) == grade


# ------------------------------------------------------------------------------------------
# zone formulas
# ------------------------------------------------------------------------------------------


def test_zone_formula_semi_humid_high_fertility_low_end():
    # 650 kg/mu -> band 550-700: base 24-31, urea 13-16; high fertility -> low end 24 + 13
    res = zone_formula_lookup(JILIN_MAIZE_ZONES["semi_humid"], 650, "high")
    assert (res.base_blend_kg, res.topdress_urea_kg) == (24, 13)
    # 24 kg of 15-18-12 = 3.6 N, 4.32 P2O5, 2.88 K2O; 13 kg urea x 46 % = 5.98 N
    assert res.basal_kg.as_tuple() == pytest.approx((3.6, 4.32, 2.88))
    assert res.topdress_kg.as_tuple() == pytest.approx((5.98, 0, 0))
    assert res.method == "zone_formula"


def test_zone_formula_fertility_ends():
    f = JILIN_MAIZE_ZONES["semi_humid"]
    low = zone_formula_lookup(f, 650, "low")
    assert (low.base_blend_kg, low.topdress_urea_kg) == (31, 16)
    unknown = zone_formula_lookup(f, 650, None)
    assert (unknown.base_blend_kg, unknown.topdress_urea_kg) == (27.5, 14.5)
    # 700 belongs to the 700-800 band (lower bound inclusive)
    assert zone_formula_lookup(f, 700, "medium").base_blend_kg == 31
    assert zone_formula_lookup(f, 500, "medium").base_blend_kg == 20
    assert zone_formula_lookup(f, 900, "medium").base_blend_kg == 35


def test_zone_formula_semi_arid_and_cool():
    res = zone_formula_lookup(JILIN_MAIZE_ZONES["semi_arid"], 500, "medium")
    assert (res.base_blend_kg, res.topdress_urea_kg) == (25, 10)
    assert res.base_grade == NPK(13, 20, 12)
    cool = zone_formula_lookup(JILIN_MAIZE_ZONES["cool"], 450, "medium")  # below the table
    assert cool.base_blend_kg == 23
    assert "yield_outside_bands" in {r.code for r in cool.reasons}


def test_zone_formula_one_shot_has_no_topdress_and_flags_slow_release():
    res = zone_formula_lookup(JILIN_MAIZE_ZONES["semi_humid_one_shot"], 750, "high")
    assert res.topdress_urea_kg == 0
    assert res.topdress_kg == NPK(0, 0, 0)
    assert "slow_release_required" in {r.code for r in res.reasons}


def test_soybean_table():
    res = zone_formula_lookup(NE_SOYBEAN_FORMULA, 160, "medium")
    assert res.basal_kg == NPK(3, 3, 2)
    res = zone_formula_lookup(NE_SOYBEAN_FORMULA, 180, "low")
    assert res.basal_kg == NPK(4, 5, 3)
    assert res.topdress_kg == NPK(0, 0, 0)


def test_zone_formula_bad_fertility():
    with pytest.raises(AgronomyError):
        zone_formula_lookup(NE_SOYBEAN_FORMULA, 160, "rich")

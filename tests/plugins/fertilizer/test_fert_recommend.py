"""recommend(): method choice, per-ha numbers and basal/top-dress split."""

from __future__ import annotations

from dataclasses import replace

import pytest

from plugins.fertilizer.agronomy import (
    AgronomyError,
    FieldInfo,
    SoilTest,
    get_parameter_set,
    recommend,
)
from plugins.fertilizer.agronomy.nutrients import NPK


def test_soil_test_uses_nutrient_balance_per_ha_with_n_split():
    # spring maize NE: U = 2.86/1.14/2.63, Y = 10500 kg/ha, c = 2.25, k = 0.5/0.45/0.6, r = 0.33/0.15/0.45
    # N: (2.86*105 - 120*2.25*0.5)/0.33 = (300.3 - 135)/0.33       = 500.909
    # P: (1.14*105 - 25*2.25*0.45)/0.15 = (119.7 - 25.3125)/0.15   = 629.25
    # K: (2.63*105 - 150*2.25*0.6)/0.45 = (276.15 - 202.5)/0.45    = 163.667
    params = replace(get_parameter_set("spring_maize_ne"), soil_test_method="nutrient_balance")
    rec = recommend(FieldInfo(area_ha=2.0, target_yield_kg_ha=10500), SoilTest(120, 25, 150), params)
    assert rec.method == "nutrient_balance"
    assert rec.total_kg_ha.N == pytest.approx(500.909, abs=1e-3)
    assert rec.total_kg_ha.P2O5 == pytest.approx(629.25)
    assert rec.total_kg_ha.K2O == pytest.approx(163.667, abs=1e-3)
    # 40 % of N basal, the rest top-dress urea; P and K all basal
    assert rec.basal_kg_ha.N == pytest.approx(0.4 * 500.909, abs=1e-3)
    assert rec.topdress_kg_ha == NPK(pytest.approx(0.6 * 500.909, abs=1e-3), 0.0, 0.0)
    assert rec.basal_kg_ha.P2O5 == pytest.approx(629.25)
    basal, top = rec.field_targets()
    assert basal.K2O == pytest.approx(2 * 163.667, abs=1e-2)
    assert top.N == pytest.approx(2 * 0.6 * 500.909, abs=1e-2)
    assert rec.soil_grades == {"N": 3, "P2O5": 2, "K2O": 3}
    codes = [r.code for r in rec.reasons]
    assert codes[0] == "soil_test_present" and "n_split" in codes
    assert rec.total_kg_mu.N == pytest.approx(500.909 / 15, abs=1e-3)


def test_jilin_maize_default_reads_the_zone_formula_graded_by_the_soil_test():
    """The day-one default for Jilin spring maize: the ministry zone formula (semi-humid 15-18-12,
    700–800 kg/mu band: base 31–35 kg + urea 16–18 kg per mu), each nutrient at the low end on
    medium-to-rich soil and the high end on poor soil — not the nutrient balance's 42 kg P2O5/mu."""
    params = get_parameter_set("spring_maize_ne", zone="semi_humid")
    assert params.soil_test_method == "zone_graded"
    field = FieldInfo(area_ha=1.0, target_yield_kg_ha=750 * 15)
    rich = recommend(field, SoilTest(125, 25, 160), params)  # N grade 2, P 2, K 2: low ends
    assert rich.method == "zone_graded"
    assert rich.total_kg_mu.N == pytest.approx(31 * 0.15 + 16 * 0.46)
    assert rich.total_kg_mu.P2O5 == pytest.approx(31 * 0.18)
    assert rich.total_kg_mu.K2O == pytest.approx(31 * 0.12)
    poor_p = recommend(field, SoilTest(125, 8, 160), params)  # Olsen-P 8 mg/kg: grade 4, high end
    assert poor_p.total_kg_mu.P2O5 == pytest.approx(35 * 0.18)
    assert poor_p.total_kg_mu.N == pytest.approx(rich.total_kg_mu.N)  # the others unchanged
    assert poor_p.soil_grades["P2O5"] == 4 and "有效磷缺（4级）→ 范围高端" in poor_p.reasons[-1].message
    for zone, grade in (("semi_arid", NPK(13, 20, 12)), ("cool", NPK(14, 18, 13))):
        rec = recommend(field, SoilTest(125, 25, 160), get_parameter_set("spring_maize_ne", zone=zone))
        assert rec.method == "zone_graded" and rec.base_grade == grade
        assert 2 < rec.total_kg_mu.P2O5 < 8  # the published range, per mu


def test_soybean_n_share_and_all_basal():
    # soybean N demand from soil + fertilizer = 7.2/3 = 2.4 per 100 kg; 2700 kg/ha -> 64.8 kg
    # soil supply 120*2.25*0.5 = 135 > 64.8 -> N covered; K: 4.0*27 = 108 < 150*2.25*0.6 = 202.5 -> covered
    # P: (1.8*27 - 25*2.25*0.45)/0.15 = (48.6 - 25.3125)/0.15 = 155.25
    rec = recommend(FieldInfo(1.0, 2700), SoilTest(120, 25, 150), get_parameter_set("soybean"))
    assert rec.covered_by_soil == ("N", "K2O")
    assert rec.total_kg_ha.P2O5 == pytest.approx(155.25)
    assert rec.total_kg_ha.N == 0
    assert rec.topdress_kg_ha == NPK(0, 0, 0)
    assert rec.basal_kg_ha.P2O5 > 0


def test_no_soil_test_uses_zone_formula_per_ha():
    # 9750 kg/ha = 650 kg/mu, semi-humid, high fertility: 24 kg/mu 15-18-12 + 13 kg/mu urea
    params = get_parameter_set("spring_maize_ne", zone="semi_humid")
    rec = recommend(FieldInfo(1.5, 9750, fertility="high"), None, params)
    assert rec.method == "zone_formula"
    assert rec.base_blend_kg_ha == pytest.approx(24 * 15)
    assert rec.topdress_urea_kg_ha == pytest.approx(13 * 15)
    assert rec.basal_kg_ha.as_tuple() == pytest.approx((54.0, 64.8, 43.2))
    assert rec.topdress_kg_ha.as_tuple() == pytest.approx((89.7, 0, 0))
    assert rec.reasons[0].code == "no_soil_test"
    assert rec.zone == "semi_humid"


def test_zone_choice_and_target_from_history():
    params = get_parameter_set("maize", zone="cool")
    # mean(8250, 9000, 9750) = 9000 kg/ha x 1.1 = 9900 kg/ha = 660 kg/mu -> cool 600-700 band
    rec = recommend(FieldInfo(1.0, recent_yields_kg_ha=(8250, 9000, 9750), fertility="medium"), None, params)
    assert rec.target_yield_kg_ha == pytest.approx(9900)
    assert rec.base_blend_kg_ha == pytest.approx(28 * 15)
    assert "target_yield_from_history" in [r.code for r in rec.reasons]


def test_no_soil_test_and_no_zone_formula_is_explained():
    with pytest.raises(AgronomyError) as e:
        recommend(FieldInfo(1.0, 8000), None, get_parameter_set("rice"))
    assert e.value.code == "no_method"


def test_bad_inputs():
    with pytest.raises(AgronomyError):
        recommend(FieldInfo(0, 8000), None, get_parameter_set("soybean"))
    with pytest.raises(KeyError):
        get_parameter_set("maize", zone="tropical")
    with pytest.raises(KeyError):
        get_parameter_set("wheat")

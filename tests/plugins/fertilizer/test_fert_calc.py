"""JSON calculator: answers, validation errors naming the field, and the management command."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.fertilizer.agronomy.calc import CalcError, handle
from plugins.fertilizer.agronomy.methods import design_3414
from plugins.fertilizer.agronomy.nutrients import NPK

REPO = Path(__file__).resolve().parents[3]

NB = {
    "method": "nutrient_balance",
    "area_unit": "mu",
    "target_yield_kg": 700,
    "uptake_per_100kg": {"N": 2.57, "P2O5": 0.86, "K2O": 2.14},
    "soil_test_mg_kg": {"N": 120, "P2O5": 25, "K2O": 150},
    "correction_coefficient": {"N": 0.5, "P2O5": 0.45, "K2O": 0.6},
    "utilisation_rate": {"N": 0.33, "P2O5": 0.15, "K2O": 0.45},
}
YD = {
    "method": "yield_difference",
    "target_yield_kg": 700,
    "blank_yield_kg": 450,
    "uptake_per_100kg": {"N": 2.57, "P2O5": 0.86, "K2O": 2.14},
    "utilisation_rate": {"N": 0.33, "P2O5": 0.15, "K2O": 0.45},
}
EF = {
    "method": "effect_function",
    "coefficients": {"b0": 400, "b1": 12, "b2": -0.3},
    "nutrient_price": 5,
    "crop_price": 2.5,
}


def _q(n, p, k):
    return (
        450
        + 14 * n
        + 20 * p
        + 12 * k
        - 0.45 * n * n
        - 1.5 * p * p
        - 0.8 * k * k
        + 0.1 * n * p
        + 0.05 * n * k
        + 0.2 * p * k
    )


FIT = {
    "method": "fit_3414",
    "trials": [
        {"N": r.N, "P2O5": r.P2O5, "K2O": r.K2O, "yield": _q(r.N, r.P2O5, r.K2O)}
        for r in design_3414(NPK(15, 6, 6))
    ],
    "prices": {"N": 5, "P2O5": 6, "K2O": 5, "crop": 2.5},
}
BL = {
    "method": "blend",
    "targets_kg": {"N": 100, "P2O5": 46, "K2O": 60},
    "products": [
        {
            "sku": "urea",
            "N": 46,
            "P2O5": 0,
            "K2O": 0,
            "bag_kg": 40,
            "price_per_bag": "110.00",
            "chloride": "none",
        },
        {"sku": "dap", "N": 18, "P2O5": 46, "K2O": 0, "bag_kg": 50, "price_per_bag": 190, "chloride": "none"},
        {
            "sku": "kcl",
            "N": 0,
            "P2O5": 0,
            "K2O": 60,
            "bag_kg": 50,
            "price_per_bag": 160.0,
            "chloride": "high",
        },
        {
            "sku": "sop",
            "N": 0,
            "P2O5": 0,
            "K2O": 50,
            "bag_kg": 50,
            "price_per_bag": "210",
            "chloride": "none",
        },
    ],
    "tolerance": 0.1,
    "max_products": 3,
}


def test_nutrient_balance_per_mu():
    # see test_fert_methods: 27.242424 / 28.883333 / 3.288889 kg/mu
    out = handle(copy.deepcopy(NB))
    assert out["nutrients_kg"] == {"N": 27.24, "P2O5": 28.88, "K2O": 3.29}
    assert out["area_unit"] == "mu"
    assert out["covered_by_soil"] == []


def test_nutrient_balance_per_ha_and_covered():
    req = copy.deepcopy(NB)
    req.update(area_unit="ha", target_yield_kg=10500)
    req["soil_test_mg_kg"]["K2O"] = 250
    # N 408.636 (see methods test); K: 250*2.25*0.6 = 337.5 > 2.14*105 = 224.7 -> 0, covered
    out = handle(req)
    assert out["nutrients_kg"] == {"N": 408.64, "P2O5": 433.25, "K2O": 0.0}
    assert out["covered_by_soil"] == ["K2O"]
    assert any(n["code"] == "covered_by_soil_K2O" for n in out["notes"])


def test_yield_difference():
    assert handle(copy.deepcopy(YD))["nutrients_kg"] == {"N": 19.47, "P2O5": 14.33, "K2O": 11.89}


def test_effect_function():
    out = handle(copy.deepcopy(EF))
    assert out["max_yield_rate"] == 20.0
    assert out["max_yield"] == 520.0
    assert out["economic_rate"] == 16.67
    assert out["economic_yield"] == 516.67


def test_fit_3414():
    out = handle(copy.deepcopy(FIT))
    c = out["coefficients"]
    assert c["b0"] == pytest.approx(450)
    assert c["N"] == pytest.approx(14)
    assert c["N^2"] == pytest.approx(-0.45)
    assert c["P2O5*K2O"] == pytest.approx(0.2)
    assert out["optimum_method"] == "stationary_point"
    assert set(out["economic_rates"]) == {"N", "P2O5", "K2O"}
    # gradient in N at the optimum equals the price ratio 5/2.5 = 2
    r = out["economic_rates"]
    assert 14 - 0.9 * r["N"] + 0.1 * r["P2O5"] + 0.05 * r["K2O"] == pytest.approx(2.0, abs=0.01)


def test_blend():
    out = handle(copy.deepcopy(BL))
    assert out["bags"] == {"urea": 5, "dap": 2, "kcl": 2}
    assert out["cost"] == "1250.00"
    assert out["nutrients_kg"] == {"N": 110.0, "P2O5": 46.0, "K2O": 60.0}


def test_blend_chloride_and_per_nutrient_tolerance():
    req = copy.deepcopy(BL)
    req.update(chloride_sensitive=True, tolerance={"N": 0.1, "P2O5": 0.1, "K2O": 0.3})
    out = handle(req)
    assert "kcl" not in out["bags"] and out["bags"]["sop"] in (2, 3)


def test_blend_infeasible_names_nutrient():
    req = copy.deepcopy(BL)
    req["products"] = req["products"][:2]  # no K carrier
    with pytest.raises(CalcError) as e:
        handle(req)
    assert e.value.field == "targets_kg.K2O"
    assert e.value.code == "no_carrier"


def _set(path, value):
    def mutate(req):
        obj = req
        keys = path.replace("[", ".").replace("]", "").split(".")
        for k in keys[:-1]:
            obj = obj[int(k)] if k.isdigit() else obj[k]
        last = keys[-1]
        if value is _DELETE:
            del obj[int(last) if last.isdigit() else last]
        else:
            obj[int(last) if last.isdigit() else last] = value

    return mutate


_DELETE = object()

ERROR_CASES = [
    # (base request, path to change, new value, expected error field)
    (NB, "method", "magic", "method"),
    (NB, "method", _DELETE, "method"),
    (NB, "area_unit", "acre", "area_unit"),
    (NB, "area_unit", _DELETE, "area_unit"),
    (NB, "target_yield_kg", -1, "target_yield_kg"),
    (NB, "target_yield_kg", "700", "target_yield_kg"),
    (NB, "target_yield_kg", True, "target_yield_kg"),
    (NB, "uptake_per_100kg", [1, 2, 3], "uptake_per_100kg"),
    (NB, "uptake_per_100kg.K2O", _DELETE, "uptake_per_100kg.K2O"),
    (NB, "uptake_per_100kg.P", 1, "uptake_per_100kg.P"),
    (NB, "soil_test_mg_kg.N", -5, "soil_test_mg_kg.N"),
    (NB, "correction_coefficient.P2O5", None, "correction_coefficient.P2O5"),
    (NB, "utilisation_rate.N", 0, "utilisation_rate.N"),
    (NB, "utilisation_rate.N", 33, "utilisation_rate.N"),
    (NB, "utilisation_rate", _DELETE, "utilisation_rate"),
    (NB, "utilization_rate", {}, "utilization_rate"),
    (YD, "blank_yield_kg", -10, "blank_yield_kg"),
    (YD, "blank_yield_kg", _DELETE, "blank_yield_kg"),
    (YD, "utilisation_rate.K2O", 1.5, "utilisation_rate.K2O"),
    (YD, "area_unit", "hectare", "area_unit"),
    (EF, "coefficients.b2", 0.1, "coefficients.b2"),
    (EF, "coefficients.b1", _DELETE, "coefficients.b1"),
    (EF, "coefficients", 3, "coefficients"),
    (EF, "nutrient_price", -1, "nutrient_price"),
    (EF, "crop_price", 0, "crop_price"),
    (FIT, "trials", "all", "trials"),
    (FIT, "trials[3].yield", -1, "trials[3].yield"),
    (FIT, "trials[2].N", "x", "trials[2].N"),
    (FIT, "trials[5]", 7, "trials[5]"),
    (FIT, "prices.crop", 0, "prices.crop"),
    (FIT, "prices.K2O", _DELETE, "prices.K2O"),
    (BL, "targets_kg.N", -1, "targets_kg.N"),
    (BL, "products", [], "products"),
    (BL, "products", {"sku": "x"}, "products"),
    (BL, "products[2].bag_kg", 0, "products[2].bag_kg"),
    (BL, "products[2].bag_kg", -50, "products[2].bag_kg"),
    (BL, "products[1].P2O5", 146, "products[1].P2O5"),
    (BL, "products[1].N", -1, "products[1].N"),
    (BL, "products[0].price_per_bag", -1, "products[0].price_per_bag"),
    (BL, "products[0].price_per_bag", "abc", "products[0].price_per_bag"),
    (BL, "products[0].sku", "", "products[0].sku"),
    (BL, "products[1].sku", "urea", "products[1].sku"),
    (BL, "products[3].chloride", "lots", "products[3].chloride"),
    (BL, "products[3].K2O", _DELETE, "products[3].K2O"),
    (BL, "tolerance", -0.1, "tolerance"),
    (BL, "tolerance", {"N": 0.1, "P2O5": 0.1}, "tolerance.K2O"),
    (BL, "max_products", 0, "max_products"),
    (BL, "max_products", 2.5, "max_products"),
    (BL, "chloride_sensitive", "yes", "chloride_sensitive"),
    (BL, "zero_target_cap_kg", -1, "zero_target_cap_kg"),
]


@pytest.mark.parametrize(
    ("base", "path", "value", "field"), ERROR_CASES, ids=[c[1] + "-" + repr(c[2])[:12] for c in ERROR_CASES]
)
def test_validation_errors_name_the_field(base, path, value, field):
    req = copy.deepcopy(base)
    _set(path, value)(req)
    with pytest.raises(CalcError) as e:
        handle(req)
    assert e.value.field == field, e.value
    assert e.value.message


def test_percentages_sum_over_100():
    req = copy.deepcopy(BL)
    req["products"][0].update(N=60, P2O5=30, K2O=20)
    with pytest.raises(CalcError) as e:
        handle(req)
    assert e.value.field == "products[0]"


def test_request_not_an_object():
    with pytest.raises(CalcError):
        handle([1, 2])


# ------------------------------------------------------------------------------------------
# management command (subprocess: real stdin/stdout/stderr and exit code)
# ------------------------------------------------------------------------------------------

VENV_PYTHON = REPO / ".venv" / "bin" / "python"


def _run(stdin: str) -> subprocess.CompletedProcess[str]:
    python = VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable)
    return subprocess.run(
        [str(python), "manage.py", "fertilizer", "calc"],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_command_blend_prints_one_json_answer():
    proc = _run(json.dumps(BL))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == handle(copy.deepcopy(BL))  # stdout is exactly one JSON document


def _call_command_in_process(stdin_text, monkeypatch):
    import io

    from django.core.management import call_command

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin_text))
    out = io.StringIO()
    call_command("fertilizer", "calc", stdout=out)
    return out.getvalue()


def test_command_in_process_ok(monkeypatch):
    out = _call_command_in_process(json.dumps(EF), monkeypatch)
    assert json.loads(out)["economic_rate"] == 16.67


def test_command_bad_field_names_field(monkeypatch):
    from django.core.management.base import CommandError

    req = copy.deepcopy(NB)
    req["utilisation_rate"]["N"] = 0
    with pytest.raises(CommandError) as e:
        _call_command_in_process(json.dumps(req), monkeypatch)
    assert "utilisation_rate.N" in str(e.value)
    assert e.value.returncode == 2


def test_command_invalid_json(monkeypatch):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as e:
        _call_command_in_process("{not json", monkeypatch)
    assert "invalid JSON" in str(e.value)
    assert e.value.returncode == 2


def test_command_subprocess_error_exit_code_and_stderr():
    proc = _run(json.dumps({"method": "blend", "targets_kg": {"N": 1, "P2O5": 1, "K2O": 1}, "products": []}))
    assert proc.returncode == 2
    assert "products" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""

"""Models: immutable parameter versions and recommendations, field validation, parameter edits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from plugins.fertilizer import paramstore, services
from plugins.fertilizer.agronomy.params import get_parameter_set
from plugins.fertilizer.models import FarmField, ParameterSetVersion, SoilTest


def test_parameter_version_1_is_the_core_default_and_round_trips(db):
    v = services.latest_parameter_version("spring_maize_ne", "cool")
    assert v.version == 1
    params = paramstore.from_data(v.data)
    assert params == get_parameter_set("spring_maize_ne", "cool")
    assert params.zone_formula.code == "cool"
    assert paramstore.plan_settings(v.data)["tolerance"] == {"N": 0.15, "P2O5": 0.15, "K2O": 0.15}


def test_every_change_is_a_new_immutable_version(agronomist):
    v1 = services.latest_parameter_version("soybean", "semi_arid")
    v2 = services.update_parameter_set(
        agronomist,
        "soybean",
        "semi_arid",
        {"utilisation_rate": {"N": 0.35}, "plan": {"tolerance": {"K2O": 0.2}}},
        "县试验",
    )
    assert (v1.version, v2.version) == (1, 2)
    assert v2.data["utilisation_rate"] == {"N": 0.35, "P2O5": 0.15, "K2O": 0.45}
    assert v2.data["plan"]["tolerance"]["K2O"] == 0.2 and v2.created_by == agronomist and v2.note == "县试验"
    v1.refresh_from_db()
    assert v1.data["utilisation_rate"]["N"] == 0.33
    v2.note = "changed"
    with pytest.raises(ValidationError):
        v2.save()
    with pytest.raises(ValidationError):
        v2.delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        ParameterSetVersion.objects.create(crop="soybean", zone="semi_arid", version=2, data=v2.data)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"utilisation_rate": {"N": 0}}, "utilisation_rate"),
        ({"utilisation_rate": {"X": 0.3}}, "utilisation_rate"),
        ({"n_basal_fraction": 1.5}, "n_basal_fraction"),
        ({"soil_grading": {"alkali_n": [1, 2, 3, 4, 5]}}, "soil_grading"),
        ({"abundance_thresholds": [90, 75, 50]}, "abundance_thresholds"),
        ({"plan": {"tolerance": {"N": 0}}}, "plan"),
        ({"crop": "rice"}, "crop"),
    ],
)
def test_bad_parameter_changes_are_refused(agronomist, changes, key):
    with pytest.raises(ValidationError) as e:
        services.update_parameter_set(agronomist, "maize", "cool", changes)
    assert key in e.value.message_dict
    assert not ParameterSetVersion.objects.filter(crop="maize", zone="cool", version__gt=1).exists()


def test_only_agronomists_edit_parameters(staff_a, supplier_user):
    for user in (staff_a, supplier_user):
        with pytest.raises(PermissionDenied):
            services.update_parameter_set(user, "maize", "cool", {"n_basal_fraction": 0.5})


def test_recommendation_is_immutable(staff_a, field_a, soil_a):
    rec = services.create_recommendation(staff_a, field_a)
    rec.method = "other"
    with pytest.raises(ValidationError):
        rec.save()
    with pytest.raises(ValidationError):
        rec.delete()


def test_field_validation_and_units(staff_a, household_a):
    field = services.create_field(
        staff_a, household_a, {"name": "北岗", "area_mu": Decimal("22.5"), "yield_1": 700}
    )
    assert field.area_ha == Decimal("1.500")
    with pytest.raises(ValidationError) as e:
        services.create_field(staff_a, household_a, {"name": "北岗", "area_mu": Decimal("3")})
    assert "name" in e.value.message_dict  # unique per household
    with pytest.raises(ValidationError) as e:
        services.create_field(
            staff_a, household_a, {"name": "x", "area_mu": Decimal("0"), "yield_2": 5000, "zone": "moon"}
        )
    assert {"area_mu", "yield_2", "zone"} <= set(e.value.message_dict)
    with pytest.raises(ValidationError) as e:
        services.create_field(staff_a, household_a, {"name": "y", "area_mu": 5, "usual_bags": 3})
    assert "usual_bags" in e.value.message_dict


def test_soil_test_entry_validation(staff_a, field_a):
    good = {
        "lab": "站",
        "sample_date": "2026-04-01",
        "ph": 6.5,
        "organic_matter_g_kg": 25,
        "alkali_n_mg_kg": 120,
        "olsen_p_mg_kg": 15,
        "available_k_mg_kg": 150,
        "micronutrients": {"zn": 0.8},
    }
    t = services.create_soil_test(staff_a, field_a, good)
    assert t.micronutrients == {"zn": 0.8}
    with pytest.raises(ValidationError) as e:
        services.create_soil_test(staff_a, field_a, good)
    assert "sample_date" in e.value.message_dict
    with pytest.raises(ValidationError) as e:
        services.create_soil_test(
            staff_a, field_a, {**good, "sample_date": "2026-04-02", "ph": 2, "micronutrients": {"pb": 1}}
        )
    assert {"ph", "micronutrients"} <= set(e.value.message_dict)
    assert SoilTest.objects.count() == 1
    assert FarmField.objects.get(pk=field_a.pk).soil_tests.count() == 1

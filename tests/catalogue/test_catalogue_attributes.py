"""Typed attribute validation per product type, supplier product services, station purchase rule."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from catalogue_helpers import make_pesticide
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from marketplace.apps.catalogue import services
from marketplace.apps.catalogue.validation import clean_attributes
from marketplace.stations.models import StationPesticideLicence

FERT = {
    "n_pct": "15",
    "p2o5_pct": "15",
    "k2o_pct": "15",
    "chloride_class": "none",
    "bag_kg": "40",
    "registration_no": "吉农肥(2024)准字1001号",
}


def errors_of(product_type: str, values: dict, title: str = "") -> dict:
    with pytest.raises(ValidationError) as exc:
        clean_attributes(product_type, values, title)
    return exc.value.message_dict


def test_fertilizer_ok_and_coerced():
    cleaned = clean_attributes("fertilizer", FERT, "复合肥 15-15-15")
    assert cleaned["n_pct"] == 15.0 and cleaned["chloride_class"] == "none"


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"n_pct": "120"}, "n_pct", "不能大于 100"),
        ({"n_pct": "-1"}, "n_pct", "不能小于 0"),
        ({"n_pct": "abc"}, "n_pct", "须为数字"),
        ({"chloride_class": "some"}, "chloride_class", "none, low, medium, high"),
        ({"n_pct": "8", "p2o5_pct": "8", "k2o_pct": "8"}, "n_pct", "≥ 25%"),
        (
            {"n_pct": "12", "p2o5_pct": "12", "k2o_pct": "12", "concentration": "high"},
            "concentration",
            "≥ 40%",
        ),
        ({"n_pct": "60", "p2o5_pct": "30", "k2o_pct": "20"}, "n_pct", "超过 100%"),
        ({"registration_no": ""}, "registration_no", "必填"),
        ({"colour": "red"}, "colour", "没有属性"),
    ],
)
def test_fertilizer_rules(changes, field, fragment):
    errors = errors_of("fertilizer", FERT | changes)
    assert field in errors
    assert fragment in " ".join(errors[field])


def test_title_grade_must_match_attributes():
    errors = errors_of("fertilizer", FERT, "复合肥 17-17-17")
    assert "17-17-17" in errors["n_pct"][0]


def test_single_nutrient_fertilizer_has_no_compound_minimum():
    clean_attributes("fertilizer", FERT | {"n_pct": "20", "p2o5_pct": "0", "k2o_pct": "0"}, "硫酸铵 20%")


def test_seed_pesticide_produce_rules():
    seed = {"crop": "玉米", "variety": "吉单27", "variety_approval_no": "吉审玉2003001", "licence_no": "X"}
    assert "germination_pct" in errors_of("seed", seed | {"germination_pct": "101", "net_content_kg": "10"})
    pest = {"active_ingredient": "莠去津", "toxicity": "低毒", "net_content": "1 L"}
    errors = errors_of("pesticide", pest | {"registration_no": "LS-123"})
    assert "PD20191000" in errors["registration_no"][0]
    assert clean_attributes("pesticide", pest | {"registration_no": "PD20191000", "restricted_use": "是"})[
        "restricted_use"
    ]
    produce = {"origin": "双阳", "grade": "一级", "lot_code": "SY2026-001"}
    errors = errors_of("produce", produce | {"harvest_date": (date.today() + timedelta(days=3)).isoformat()})
    assert "harvest_date" in errors
    assert "lot_code" in errors_of("produce", produce | {"harvest_date": "2025-10-01", "lot_code": "批次1"})


@pytest.mark.django_db
def test_supplier_creates_and_updates_only_own_products(
    product_classes, supplier, supplier_user, other_supplier
):
    product = services.create_product(
        supplier_user,
        supplier,
        {"product_type": "fertilizer", "title": "复合肥 15-15-15 硫酸钾型", "attributes": FERT},
    )
    assert product.owner == supplier
    assert product.n_pct == 15 and product.chloride_class == "none"
    assert " 复合肥 " in product.search_text and " 15-15-15 " in product.search_text
    services.update_product(supplier_user, product, {"attributes": {"chloride_class": "low"}})
    product.refresh_from_db()
    assert product.chloride_class == "low"
    with pytest.raises(ValidationError) as exc:
        services.update_product(supplier_user, product, {"attributes": {"k2o_pct": "150"}})
    assert "k2o_pct" in exc.value.message_dict
    with pytest.raises(PermissionDenied):
        services.create_product(supplier_user, other_supplier, {"product_type": "fertilizer", "title": "x"})
    foreign = services.create_product(
        _operator(),
        other_supplier,
        {"product_type": "fertilizer", "title": "尿素", "attributes": FERT | _urea()},
    )
    with pytest.raises(PermissionDenied):
        services.update_product(supplier_user, foreign, {"title": "改名"})


def _urea() -> dict:
    return {"n_pct": "46", "p2o5_pct": "0", "k2o_pct": "0"}


def _operator():
    from marketplace.accounts.models import Role, User

    return User.objects.get_or_create(username="op2", defaults={"role": Role.OPERATOR})[0]


@pytest.mark.django_db
def test_restricted_pesticide_needs_station_licence(product_classes, supplier, station_a):
    restricted, _ = make_pesticide(product_classes, supplier, "P1", restricted=True)
    normal, _ = make_pesticide(product_classes, supplier, "P2", restricted=False)
    assert services.can_station_buy(station_a, normal) == (True, "")
    ok, reason = services.can_station_buy(station_a, restricted)
    assert not ok and "限制使用农药" in reason
    today = timezone.localdate()
    lic = StationPesticideLicence.objects.create(
        station=station_a, number="吉农药经许1", restricted_scope=False, valid_from=today, valid_until=today
    )
    assert not services.can_station_buy(station_a, restricted).allowed
    lic.restricted_scope = True
    lic.save()
    assert services.can_station_buy(station_a, restricted).allowed
    assert not services.can_station_buy(station_a, restricted, day=today + timedelta(days=1)).allowed

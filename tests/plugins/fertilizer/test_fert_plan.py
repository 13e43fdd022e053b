"""Recommendation + purchasable bag plan + hand-over (services, real DB, real solver)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from oscar.core.loading import get_model
from testkit import licensed

from plugins.fertilizer import services
from plugins.fertilizer.agronomy import blend
from plugins.fertilizer.agronomy.batch import plan_split_batch
from plugins.fertilizer.agronomy.nutrients import NPK
from plugins.fertilizer.models import BagPlan, PlanStatus, Recommendation

WITH_TEST_PLUGIN = [*settings.INSTALLED_APPS, "fert_test_plugin"]


def test_attributes_loaded_in_one_query(fert_catalogue):
    ids = [p.pk for p in fert_catalogue.values()]
    with CaptureQueriesContext(connection) as ctx:
        attrs = services.fertilizer_attributes(ids)
    assert len(ctx.captured_queries) == 1
    assert attrs[fert_catalogue["DAP"].pk] == {
        "n_pct": 18.0,
        "p2o5_pct": 46.0,
        "k2o_pct": 0.0,
        "chloride_class": "none",
        "bag_kg": 50.0,
    }


def test_offers_skip_non_fertilizers_and_keep_cheapest(
    fert_catalogue, station_a, product_classes, other_supplier
):
    from marketplace.apps.catalogue.product_types import SEED

    Product = get_model("catalogue", "Product")
    StockRecord = get_model("partner", "StockRecord")
    seed = Product.objects.create(title="玉米种子", product_class=product_classes[SEED], upc="SEED-1")
    licensed(other_supplier, seed)
    licensed(other_supplier, fert_catalogue["UREA"])
    StockRecord.objects.create(
        product=seed, partner=other_supplier, partner_sku="S1", price=Decimal("50"), num_in_stock=5
    )
    StockRecord.objects.create(
        product=fert_catalogue["UREA"],
        partner=other_supplier,
        partner_sku="UREA-2",
        price=Decimal("99.00"),
        num_in_stock=5,
    )
    offers = services.fertilizer_offers(station_a)
    assert {o.offer.product_id for o in offers} == {p.pk for p in fert_catalogue.values()}
    urea = next(o for o in offers if o.offer.product_id == fert_catalogue["UREA"].pk)
    assert urea.offer.unit_price == Decimal("99.00") and urea.grade == NPK(46, 0, 0) and urea.bag_kg == 40


def test_recommendation_with_soil_test_and_plan(fert_catalogue, staff_a, field_a, soil_a):
    rec = services.create_recommendation(staff_a, field_a)
    assert rec.method == "zone_graded"  # Jilin maize default: the zone formula graded by the soil test
    assert rec.soil_test == soil_a
    assert rec.parameter_set.version == 1
    assert rec.reasons[0]["code"] == "soil_test_zone_graded"
    assert rec.soil_grades["P2O5"] == 3
    assert float(rec.target_yield_kg_mu) == pytest.approx(1.1 * (650 + 700 + 680) / 3, abs=0.1)
    # basal N from the zone blend, the rest top-dressed as urea; P2O5 within the published range
    t = rec.targets
    assert 0 < t["basal"]["N"] < t["basal"]["N"] + t["topdress"]["N"]
    assert 4 <= t["basal"]["P2O5"] + t["topdress"]["P2O5"] <= 7
    plan = services.create_plan(staff_a, rec)
    assert plan.status == PlanStatus.PROPOSED, plan.error
    lines = list(plan.lines.all())
    assert lines and {line.phase for line in lines} == {"basal", "topdress"}
    assert len({line.product_id for line in lines if line.phase == "basal"}) <= 3
    # delivered nutrients meet the targets within the tolerance; cost is the sum of lines
    assert plan.cost == sum(line.unit_price * line.bags for line in lines)
    total_target = {n: (t["basal"][n] + t["topdress"][n]) * 15 for n in ("N", "P2O5", "K2O")}
    for n in ("P2O5", "K2O"):
        assert (
            total_target[n] - 0.01
            <= plan.delivered_kg[n]
            <= total_target[n] * (1 + float(plan.tolerance)) + 0.01
        )
    # the same plan is what the agronomy core finds for the same catalogue (exact)
    catalogue, _ = services.build_catalogue(services.fertilizer_offers(field_a.household.station))
    ref = blend.plan_split(
        catalogue,
        NPK(*(t["basal"][n] * 15 for n in ("N", "P2O5", "K2O"))),
        NPK(*(t["topdress"][n] * 15 for n in ("N", "P2O5", "K2O"))),
        tolerance=float(plan.tolerance),
        max_products=3,
        basal_n_max_share=0.6,
    )
    assert ref.cost == plan.cost
    # saving against the usual practice (default: zone formula, high end)
    assert plan.usual_label.startswith("习惯施肥（按区域配方上限估计）")
    assert plan.usual_kg["N"] > 0 and plan.usual_cost is not None
    assert plan.saving_cost == plan.usual_cost - plan.cost
    assert plan.saving_kg()["N"] == pytest.approx(plan.usual_kg["N"] - plan.delivered_kg["N"], abs=0.01)


def test_zone_formula_without_soil_test_and_usual_product(fert_catalogue, staff_a, field_a):
    field_a.usual_product = fert_catalogue["B151812"]
    field_a.usual_bags = 20
    field_a.save()
    rec = services.create_recommendation(staff_a, field_a)
    assert rec.method == "zone_formula" and rec.soil_test is None
    plan = services.create_plan(staff_a, rec)
    assert plan.usual_label == "习惯施肥：玉米配方肥 20 袋"
    assert plan.usual_kg == {"N": 120.0, "P2O5": 144.0, "K2O": 96.0}
    assert plan.usual_cost == Decimal("2500.00")
    assert plan.saving_cost == Decimal("2500.00") - plan.cost


def test_chloride_sensitive_crop_gets_chloride_free_products(
    fert_catalogue, staff_a, agronomist, field_a, soil_a
):
    services.update_parameter_set(
        agronomist, "spring_maize_ne", "semi_humid", {"chloride_sensitive": True}, "忌氯试验"
    )
    rec = services.create_recommendation(staff_a, field_a)
    assert rec.parameter_set.version == 2
    plan = services.create_plan(staff_a, rec)
    assert plan.status == PlanStatus.PROPOSED, plan.error
    used = {line.product_id for line in plan.lines.all()}
    assert fert_catalogue["KCL"].pk not in used and fert_catalogue["B151812"].pk not in used
    assert any(r["code"] == "chloride_filter" for r in plan.reasons)


def test_new_recommendation_supersedes_old_and_keeps_its_version(
    fert_catalogue, staff_a, agronomist, field_a, soil_a
):
    first = services.create_recommendation(staff_a, field_a)
    services.create_plan(staff_a, first)
    services.update_parameter_set(agronomist, "spring_maize_ne", "semi_humid", {"n_basal_fraction": 0.5}, "")
    second = services.create_recommendation(staff_a, field_a)
    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert first.parameter_set.version == 1 and second.parameter_set.version == 2
    assert not BagPlan.objects.filter(recommendation=first, is_current=True).exists()
    assert Recommendation.objects.filter(field=field_a, is_current=True).count() == 1


def test_infeasible_plan_is_recorded_with_reason(staff_a, field_a, soil_a, fert_factory):
    fert_factory("K-ONLY", "氯化钾", 0, 0, 60, 50, "high", "160.00")
    rec = services.create_recommendation(staff_a, field_a)
    plan = services.create_plan(staff_a, rec)
    assert plan.status == PlanStatus.INFEASIBLE
    assert "N" in plan.error or "氮" in plan.error
    with pytest.raises(ValidationError):
        services.add_plan_to_order(staff_a, plan)


def test_recommendation_needs_yields(staff_a, field_a):
    field_a.yield_1 = field_a.yield_2 = field_a.yield_3 = None
    field_a.save()
    with pytest.raises(ValidationError) as e:
        services.create_recommendation(staff_a, field_a)
    assert "yield_1" in e.value.message_dict


def test_tenancy_in_services(staff_b, farmer_a, field_a, household_b):
    with pytest.raises(PermissionDenied):
        services.create_recommendation(staff_b, field_a)
    with pytest.raises(PermissionDenied):
        services.create_field(staff_b, field_a.household, {"name": "x", "area_mu": 1})
    with pytest.raises(PermissionDenied):
        services.create_field(farmer_a, household_b, {"name": "x", "area_mu": 1})


def test_add_to_order_puts_stock_lines_into_basket(fert_catalogue, staff_a, field_a, soil_a):
    rec = services.create_recommendation(staff_a, field_a)
    plan = services.create_plan(staff_a, rec)
    done, missing = services.add_plan_to_order(staff_a, plan)
    assert not missing and done
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ORDERED
    from marketplace.apps.order import direct

    basket = direct.open_basket(staff_a, field_a.household, create=False)  # the household's station basket
    assert basket.owner_id == staff_a.pk
    bags = {}
    for line in plan.lines.all():
        bags[line.product_id] = bags.get(line.product_id, 0) + line.bags
        assert line.accepted_by == "stock" and line.accepted_ref == f"basket:{basket.pk}"
    assert {bl.product_id: bl.quantity for bl in basket.lines.all()} == bags
    with pytest.raises(ValidationError):  # twice is refused
        services.add_plan_to_order(staff_a, plan)


def test_add_to_order_uses_the_staff_basket_for_the_household_even_with_a_login(
    fert_catalogue, staff_a, farmer_a, field_a, soil_a
):
    """Stock lines wait in the station's basket for the household (checked out at the station with
    cash or credit), not in the farmer's own Oscar basket, which nobody can check out."""
    from marketplace.apps.order.models import StationBasket

    rec = services.create_recommendation(staff_a, field_a)
    plan = services.create_plan(staff_a, rec)
    services.add_plan_to_order(staff_a, plan)
    Basket = get_model("basket", "Basket")
    link = StationBasket.objects.get(staff=staff_a, household=field_a.household, is_open=True)
    assert link.basket.lines.exists()
    assert not Basket.objects.filter(owner=farmer_a).exists()


@override_settings(INSTALLED_APPS=WITH_TEST_PLUGIN)
def test_plugin_offer_is_used_and_takes_its_lines(fert_catalogue, staff_a, field_a, soil_a):
    import fert_test_plugin.apps as tp

    tp.TAKEN.clear()
    tp.LINES.clear()
    tp.CAMPAIGN["product_id"] = fert_catalogue["UREA"].pk
    try:
        rec = services.create_recommendation(staff_a, field_a)
        plan = services.create_plan(staff_a, rec)
        urea = [line for line in plan.lines.all() if line.product_id == fert_catalogue["UREA"].pk]
        assert urea and all(
            line.source == "fert-test" and line.unit_price == Decimal("90.00") for line in urea
        )
        choice = {h.key: "credit" for h in services.handover_lines(staff_a, plan) if h.source != "stock"}
        done, _ = services.add_plan_to_order(staff_a, plan, choice)
        by = {line.product_id: line.accepted_by for line in done}
        assert by[fert_catalogue["UREA"].pk] == "fert-test"
        assert {(x.source, x.payment_method) for x in tp.LINES} <= {
            ("fert-test", "credit"),
            ("stock", "online"),
        }
        assert ("fert-test", "credit") in {(x.source, x.payment_method) for x in tp.LINES}
        assert {v for k, v in by.items() if k != fert_catalogue["UREA"].pk} <= {"stock"}
        assert tp.TAKEN == [
            (
                field_a.household.station_id,
                field_a.household_id,
                fert_catalogue["UREA"].pk,
                sum(x.bags for x in urea),
            )
        ]
    finally:
        tp.CAMPAIGN["product_id"] = None


def test_batch_solver_equals_highs_on_random_fields():
    P = blend.Product
    cat = blend.Catalogue(
        [
            P("urea", NPK(46, 0, 0), 40, Decimal("105")),
            P("as", NPK(21, 0, 0), 50, Decimal("70"), "none"),
            P("dap", NPK(18, 46, 0), 50, Decimal("185"), "none"),
            P("kcl", NPK(0, 0, 60), 50, Decimal("160"), "high"),
            P("b151812", NPK(15, 18, 12), 40, Decimal("125"), "low"),
            P("s151515", NPK(15, 15, 15), 40, Decimal("150"), "none"),
        ]
    )
    rng = np.random.default_rng(7)
    n = 25
    area = rng.uniform(0.2, 2.0, n)
    basal = np.c_[rng.uniform(50, 90, n), rng.uniform(40, 110, n), rng.uniform(0, 90, n)] * area[:, None]
    basal[::5, 2] = 0.0
    top = np.c_[rng.uniform(80, 140, n), np.zeros(n), np.zeros(n)] * area[:, None]
    for chloride in (False, True):
        got = plan_split_batch(cat, basal, top, 0.15, 3, chloride, 0.0, 0.6)
        for f in range(n):
            try:
                ref = blend.plan_split(
                    cat,
                    NPK(*basal[f]),
                    NPK(*top[f]),
                    tolerance=0.15,
                    max_products=3,
                    chloride_sensitive=chloride,
                    basal_n_max_share=0.6,
                    mip_rel_gap=0,
                )
            except blend.NoFeasiblePlan:
                assert not got["feasible"][f]
                continue
            assert got["feasible"][f]
            assert got["cost"][f] == pytest.approx(float(ref.cost), abs=1e-6)
            delivered = (got["basal_bags"][f] + got["topdress_bags"][f]) @ cat.matrix.T
            assert delivered[1] >= basal[f, 1] - 1e-6

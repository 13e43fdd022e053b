"""Day-one defaults: the demo county's soil tests give purchasable plans with published-range rates,
and the plan is compared with usual practice honestly (a cost above it is said, with the reason)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from marketplace.accounts.models import Role, User
from marketplace.core.demo import seed_demo
from plugins.fertilizer.models import BagPlan, FarmField, PlanStatus, Recommendation
from plugins.fertilizer.views import plan_comparison

pytestmark = pytest.mark.django_db


def test_seed_demo_soil_tests_produce_purchasable_plans(client):
    seed_demo(villages=8, households=60)
    recs = Recommendation.objects.filter(is_current=True)
    assert recs.count() >= 8
    for rec in recs:
        assert rec.method == "zone_graded"
        assert 2 <= float(rec.p2o5_kg_mu) <= 8, rec.p2o5_kg_mu  # not the 44 kg/mu of the old defaults
        assert 8 <= float(rec.n_kg_mu) <= 16
    plans = BagPlan.objects.filter(is_current=True)
    assert plans.count() == recs.count()
    assert all(p.status == PlanStatus.PROPOSED and p.lines.exists() for p in plans), [
        p.error for p in plans if p.status != PlanStatus.PROPOSED
    ]
    fields = FarmField.objects.count()
    seed_demo(villages=8, households=60)  # idempotent
    assert FarmField.objects.count() == fields and BagPlan.objects.count() == plans.count()
    plan = plans.first()
    client.force_login(User.objects.get(role=Role.OPERATOR))
    page = client.get(reverse("fertilizer:recommendation", args=[plan.recommendation_id])).content.decode()
    assert 'data-testid="add-to-order"' in page and "可节省 -" not in page and "节省 ¥-" not in page


@translation.override("zh-hans")
def test_comparison_says_when_the_plan_costs_more_and_why():
    plan = BagPlan(usual_cost=Decimal("900.00"), cost=Decimal("1100.00"), saving_cost=Decimal("-200.00"))
    plan.usual_kg = {"N": 150.0, "P2O5": 60.0, "K2O": 30.0}
    plan.delivered_kg = {"N": 150.0, "P2O5": 84.0, "K2O": 55.0}
    c = plan_comparison(plan)
    assert not c["saves"] and c["headline"] == "比习惯施肥多花 ¥200.00"
    assert "多施 P₂O₅ 24 kg、K₂O 25 kg" in c["why"] and "-" not in c["headline"]
    plan.delivered_kg = {"N": 140.0, "P2O5": 60.0, "K2O": 30.0}  # fewer nutrients, still dearer
    c = plan_comparison(plan)
    assert not c["saves"] and "单质肥" in c["why"]
    plan.saving_cost = Decimal("120.00")
    c = plan_comparison(plan)
    assert c["saves"] and c["headline"] == "比习惯施肥节省 ¥120.00" and "少施 N 10 kg" in c["why"]
    assert plan_comparison(BagPlan(usual_cost=None)) is None


def test_economic_optimum_and_profitable_range_follow_prices():
    import math

    from plugins.fertilizer.agronomy.economics import economic_optimum, fit_response
    from plugins.fertilizer.agronomy.methods import AgronomyError

    # exact quadratic y = 500 + 30x − x² (kg/mu): x* = (Px/Py − 30) / −2
    response = fit_response([(0, 500), (5, 625), (10, 700), (15, 725)])
    assert (round(response.b1, 6), round(response.b2, 6)) == (30.0, -1.0)
    opt = economic_optimum(response, n_price_yuan_kg=6.0, grain_price_yuan_kg=2.0)
    assert opt.rate == pytest.approx((3.0 - 30) / -2)  # 13.5 kg N/mu
    half = math.sqrt(1.0 / (1.0 * 2.0))  # within ¥1/mu of the best return
    assert (opt.low, opt.high) == (pytest.approx(13.5 - half), pytest.approx(min(13.5 + half, 15)))
    dearer = economic_optimum(response, n_price_yuan_kg=12.0, grain_price_yuan_kg=2.0)
    assert dearer.rate < opt.rate  # dearer N: less N pays
    with pytest.raises(AgronomyError):
        fit_response([(0, 500), (10, 700)])
    with pytest.raises(AgronomyError):  # no diminishing return: no optimum
        fit_response([(0, 500), (5, 520), (10, 560), (15, 620)])


def test_recommendation_page_shows_the_optimum_or_says_why_not(client):
    seed_demo(villages=4, households=30)
    rec = Recommendation.objects.filter(is_current=True).first()
    client.force_login(User.objects.get(role=Role.OPERATOR))
    page = client.get(reverse("fertilizer:recommendation", args=[rec.pk])).content.decode()
    assert 'data-testid="n-optimum"' in page
    assert rec.parameter_set.data["n_trials"]  # the demo county's trial: optimum and range shown
    assert "kg N/亩</strong>，盈利范围" in page and "按今日价格" in page
    from plugins.fertilizer.models import ParameterSetVersion

    ParameterSetVersion.objects.filter(pk=rec.parameter_set_id).update(
        data={**rec.parameter_set.data, "n_trials": []}
    )
    page = client.get(reverse("fertilizer:recommendation", args=[rec.pk])).content.decode()
    assert "暂不显示经济最佳施氮量" in page

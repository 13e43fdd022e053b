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

"""The demo opens with depots and trucks ready to plan (seed_demo → demo_data hook)."""

from __future__ import annotations

import pytest
from django.test import Client
from routing_fixtures import DAY

from marketplace.accounts.models import User
from marketplace.core.demo import seed_demo
from marketplace.stations.models import Station
from plugins.delivery_routing import services
from plugins.delivery_routing.models import DeliveryPlan, Depot, Vehicle

pytestmark = pytest.mark.django_db


def test_demo_has_depots_and_trucks_a_supplier_can_plan_with():
    seed_demo(villages=6, households=30)
    depots = Depot.objects.count()
    assert depots >= 13  # 8 supplier warehouses + 5 cooperative collection points
    assert Vehicle.objects.count() == 2 * depots
    assert Vehicle.objects.filter(max_reloads__gt=0).count() == depots
    assert Depot.objects.filter(kind=Depot.Kind.COLLECTION_POINT).count() == 5
    seed_demo(villages=6, households=30)  # idempotent
    assert Depot.objects.count() == depots and Vehicle.objects.count() == 2 * depots

    supplier = User.objects.get(username="supplier01")
    client = Client()
    client.force_login(supplier)
    fleet = client.get("/p/routing/fleet/").content.decode()
    own = Depot.objects.get(partner__users=supplier)
    assert own.name in fleet and "5吨厢货" in fleet
    assert Depot.objects.exclude(pk=own.pk).first().name not in fleet

    station = Station.objects.order_by("code").first()
    plan = services.create_plan(
        supplier,
        DAY,
        time_limit_s=0.5,
        stops=[services.StopInput(depot=own, station=station, weight_kg=2000)],
    )
    plan = services.request_solve(plan, supplier)
    assert plan.status == DeliveryPlan.Status.DRAFT, plan.problems

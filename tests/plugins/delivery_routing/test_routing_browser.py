"""The dispatcher's day in Debian's Chromium at 360 px, pages only (no admin, no GraphQL): add a
truck, plan (the solve runs in the background: progress first, then the result without a manual
reload), publish, open the route sheet; no page is wider than the phone."""

from __future__ import annotations

import os

import pytest
from browserkit import fits, login
from routing_fixtures import DAY

from plugins.delivery_routing.models import DeliveryPlan, Vehicle

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_dispatcher_adds_a_truck_plans_publishes_and_opens_the_route_sheet(
    settings, live_server, page, supplier_user, depot, standard_loads
):
    settings.ROUTING_SOLVE_IN_THREAD = True  # as in the embedded default: the page does not wait
    login(page, live_server.url, supplier_user.username)

    page.click("nav.main >> text=配送调度")
    fits(page)
    assert "还没有车辆" in page.inner_text("main")
    page.click("[data-testid=fleet-link]")
    fits(page)
    page.click("text=添加车辆")
    fits(page)
    page.fill("#id_name", "丁车")
    page.fill("#id_plate", "吉A24680")
    page.fill("#id_capacity_kg", "6000")
    page.fill("#id_fixed_cost", "250")
    page.fill("#id_cost_per_km", "2.8")
    page.fill("#id_max_reloads", "1")
    page.fill("#id_driver_name", "孙师傅")
    page.fill("#id_driver_phone", "13700000077")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert "丁车" in page.inner_text("main")
    truck = Vehicle.objects.get(name="丁车")
    assert truck.home_depot == depot and truck.capacity_kg == 6000

    page.click("text=返回配送调度")
    page.fill("#plan-date", DAY.isoformat())
    page.fill("#plan-seconds", "3")
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-testid=solve-progress]")  # the solve runs in the background
    fits(page)
    assert "正在后台排线" in page.inner_text("main")
    # The page polls status.json and shows the result by itself.
    page.wait_for_selector("[data-testid=map-legend]", timeout=60_000)
    page.wait_for_selector("text=发布计划", timeout=60_000)
    fits(page)
    plan = DeliveryPlan.objects.get()
    assert plan.status == DeliveryPlan.Status.DRAFT and plan.job_status == DeliveryPlan.Job.DONE
    legend = page.inner_text("[data-testid=map-legend]")
    for stop in plan.stops.all():
        assert stop.name in legend  # station names in the legend, numbers on the map
    assert page.locator("svg.route-map g.stop text").count() == plan.stops.count()

    page.click("text=发布计划")
    page.wait_for_load_state()
    assert "已发布" in page.inner_text("h1")
    fits(page)
    link = page.locator("a", has_text="路线单 PDF").first
    response = page.context.request.get(live_server.url + link.get_attribute("href"))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

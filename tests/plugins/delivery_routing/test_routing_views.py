"""Storefront pages: dispatcher list/detail with the SVG map, lock/move/publish forms, route sheet
PDF (session or signed driver link), and the station's upcoming deliveries with ETA."""

from __future__ import annotations

import pytest
from django.test import Client
from routing_fixtures import DAY, FAST
from testkit import logged_in

from plugins.delivery_routing import services
from plugins.delivery_routing.models import DeliveryPlan

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user)


def solved(user) -> DeliveryPlan:
    return services.plan_deliveries(services.create_plan(user, DAY, time_limit_s=FAST))


def test_dispatcher_pages_and_workflow(operator, standard_loads, trucks, geo_stations):
    client = login(operator)
    page = client.get("/p/routing/")
    assert page.status_code == 200 and "甲车" in page.content.decode()
    response = client.post("/p/routing/new/", {"date": DAY.isoformat(), "vehicles": [t.pk for t in trucks]})
    plan = DeliveryPlan.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/p/routing/plan/{plan.pk}/"
    assert plan.status == DeliveryPlan.Status.DRAFT  # solved in-process (no broker)
    html = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html and 'class="route"' in html
    assert 'class="depot"' in html and html.count('class="stop"') == 3
    assert "tile" not in html.lower()  # no online map tiles
    assert 'name="viewport"' in html and "发布计划" in html and "路线单 PDF" in html
    svg = client.get(f"/p/routing/plan/{plan.pk}/map.svg")
    assert svg["Content-Type"] == "image/svg+xml"

    stop = plan.stops.get(ref="routing_test_loads:po:1")
    client.post(f"/p/routing/plan/{plan.pk}/stop/{stop.pk}/lock/", {"locked": "1"})
    stop.refresh_from_db()
    assert stop.locked_vehicle == stop.route.vehicle
    other = next(t for t in trucks if t != stop.route.vehicle)
    client.post(f"/p/routing/plan/{plan.pk}/stop/{stop.pk}/move/", {"vehicle": other.pk})
    stop.refresh_from_db()
    assert stop.locked_vehicle == other and stop.route.vehicle == other
    client.post(f"/p/routing/plan/{plan.pk}/reoptimise/")
    stop.refresh_from_db()
    assert stop.route.vehicle == other

    route = plan.routes.first()
    pdf = client.get(f"/p/routing/plan/{plan.pk}/route/{route.pk}/sheet.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    client.post(f"/p/routing/plan/{plan.pk}/publish/")
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.PUBLISHED
    assert "发布计划" not in client.get(f"/p/routing/plan/{plan.pk}/").content.decode()


def test_driver_link_works_without_login_only_with_a_valid_token(operator, standard_loads, trucks):
    plan = solved(operator)
    route = plan.routes.first()
    anonymous = Client()
    url = f"/p/routing/plan/{plan.pk}/route/{route.pk}/sheet.pdf"
    assert anonymous.get(url).status_code == 302  # to the login page
    token = services.route_sheet_token(route)
    assert anonymous.get(f"{url}?t={token}").status_code == 404  # draft: not published yet
    services.publish_plan(plan, operator)
    sheet_url = services.route_sheet_url(route)  # tokens carry a timestamp: compare path and route
    assert sheet_url.split("?t=")[0].endswith(url)
    assert services.route_from_token(sheet_url.split("?t=")[1]) == route
    assert anonymous.get(f"{url}?t={token}").content.startswith(b"%PDF")
    assert anonymous.get(f"{url}?t=forged").status_code == 404
    other = plan.routes.exclude(pk=route.pk).first()
    if other is not None:
        assert anonymous.get(f"/p/routing/plan/{plan.pk}/route/{other.pk}/sheet.pdf?t={token}").status_code == 404


def test_station_staff_cannot_dispatch_and_see_only_their_published_eta(
    operator, staff_a, staff_b, standard_loads, trucks, geo_stations
):
    a, b = geo_stations
    plan = solved(operator)
    staff = login(staff_a)
    assert staff.get("/p/routing/").status_code == 403
    assert staff.get(f"/p/routing/plan/{plan.pk}/").status_code == 403
    assert staff.post(f"/p/routing/plan/{plan.pk}/publish/").status_code == 403
    assert "近期没有" in staff.get("/p/routing/deliveries/").content.decode()  # draft: not visible
    services.publish_plan(plan, operator)
    eta = plan.stops.get(station=a).eta
    page = staff.get("/p/routing/deliveries/").content.decode()
    assert a.name in page and eta in page and b.name not in page
    home = staff.get("/").content.decode()
    assert "到货预告" in home and eta in home
    other = login(staff_b).get("/p/routing/deliveries/").content.decode()
    assert b.name in other and a.name not in other


def test_supplier_sees_own_plans_only(supplier_user, other_dispatcher, standard_loads, trucks):
    plan = solved(supplier_user)
    mine = login(supplier_user)
    assert mine.get(f"/p/routing/plan/{plan.pk}/").status_code == 200
    foreign = login(other_dispatcher)
    assert foreign.get("/p/routing/").status_code == 200
    assert foreign.get(f"/p/routing/plan/{plan.pk}/").status_code == 404
    assert foreign.post(f"/p/routing/plan/{plan.pk}/publish/").status_code == 404
    plan.refresh_from_db()
    assert plan.status == DeliveryPlan.Status.DRAFT


def test_menu_entries_by_role(operator, staff_a, supplier_user, farmer_a, trucks):
    assert "配送调度" in login(operator).get("/").content.decode()
    staff_home = login(staff_a).get("/").content.decode()
    assert "到货预告" in staff_home and "配送调度" not in staff_home
    assert "配送调度" in login(supplier_user).get("/").content.decode()
    farmer_home = login(farmer_a).get("/").content.decode()
    assert "配送调度" not in farmer_home and "到货预告" not in farmer_home

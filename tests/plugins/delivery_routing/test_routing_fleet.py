"""Depots and vehicles in the dispatcher's own pages: operators manage any, suppliers and
cooperatives only their own (refusals tested), bad input named per field, English page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from testkit import CJK, data_strings, english_client, logged_in, ui_outside_data

from plugins.delivery_routing.models import Depot, Vehicle

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    return logged_in(user)


DEPOT = {
    "name": "鹿乡镇配送点",
    "kind": "warehouse",
    "address": "双阳区鹿乡镇长青路 8 号",
    "contact_phone": "043184111111",
    "latitude": "43.600000",
    "longitude": "125.800000",
    "opens_at": "07:00",
    "closes_at": "18:00",
    "is_active": "on",
}


def vehicle_data(depot, **extra) -> dict:
    data = {
        "name": "丙车",
        "plate": "吉A55555",
        "home_depot": depot.pk,
        "capacity_kg": "8000",
        "fixed_cost": "300",
        "cost_per_km": "3.2",
        "shift_start": "06:00",
        "shift_end": "18:00",
        "max_route_minutes": "",
        "max_reloads": "2",
        "driver_name": "赵师傅",
        "driver_phone": "13700000009",
        "is_active": "on",
    }
    data.update(extra)
    return data


def test_supplier_adds_a_depot_and_a_vehicle_and_edits_them(supplier_user, supplier):
    client = login(supplier_user)
    page = client.get("/p/routing/fleet/")
    assert page.status_code == 200 and "还没有仓库" in page.content.decode()
    form = client.get("/p/routing/fleet/depot/new/").content.decode()
    assert 'name="latitude"' in form and "平台配送中心" not in form  # partners cannot add platform depots

    response = client.post("/p/routing/fleet/depot/new/", {**DEPOT, "partner": supplier.pk})
    assert response.status_code == 302, response.content.decode()
    depot = Depot.objects.get(name="鹿乡镇配送点")
    assert depot.partner == supplier and depot.latitude == Decimal("43.600000")

    response = client.post("/p/routing/fleet/vehicle/new/", vehicle_data(depot))
    assert response.status_code == 302, response.content.decode()
    truck = Vehicle.objects.get(name="丙车")
    assert truck.home_depot == depot and truck.capacity_kg == 8000 and truck.max_reloads == 2
    fleet = client.get("/p/routing/fleet/").content.decode()
    assert "丙车" in fleet and "8000 kg" in fleet and "可回仓装货 2 次" in fleet

    client.post(f"/p/routing/fleet/vehicle/{truck.pk}/", vehicle_data(depot, capacity_kg="6000"))
    truck.refresh_from_db()
    assert truck.capacity_kg == 6000
    # The new truck is offered when planning.
    assert "丙车" in client.get("/p/routing/").content.decode()


def test_bad_vehicle_and_depot_input_is_named_per_field(supplier_user, supplier, depot):
    client = login(supplier_user)
    bad = vehicle_data(depot, capacity_kg="0", shift_end="05:00", driver_phone="123", cost_per_km="-1")
    page = client.post("/p/routing/fleet/vehicle/new/", bad)
    assert page.status_code == 200
    html = page.content.decode()
    assert "载重必须大于 0" in html and "班次结束须晚于开始" in html
    assert "请输入 11 位手机号" in html and "成本不能为负数" in html
    assert not Vehicle.objects.filter(name="丙车").exists()

    page = client.post(
        "/p/routing/fleet/depot/new/",
        {**DEPOT, "partner": supplier.pk, "latitude": "95", "closes_at": "06:00"},
    )
    html = page.content.decode()
    assert page.status_code == 200 and "关门时间须晚于开门时间" in html and "90" in html
    assert not Depot.objects.filter(name="鹿乡镇配送点").exists()


def test_other_partners_depots_and_vehicles_are_refused(
    supplier_user, other_dispatcher, other_supplier, supplier, depot, trucks
):
    foreign = login(other_dispatcher)
    fleet = foreign.get("/p/routing/fleet/").content.decode()
    assert depot.name not in fleet and "甲车" not in fleet
    assert foreign.get(f"/p/routing/fleet/depot/{depot.pk}/").status_code == 404
    assert (
        foreign.post(
            f"/p/routing/fleet/depot/{depot.pk}/", {**DEPOT, "partner": other_supplier.pk}
        ).status_code
        == 404
    )
    assert foreign.get(f"/p/routing/fleet/vehicle/{trucks[0].pk}/").status_code == 404
    # Neither a depot for another partner nor a truck at another partner's depot.
    page = foreign.post("/p/routing/fleet/depot/new/", {**DEPOT, "partner": supplier.pk})
    assert page.status_code == 200 and not Depot.objects.filter(name="鹿乡镇配送点").exists()
    page = foreign.post("/p/routing/fleet/vehicle/new/", vehicle_data(depot))
    assert page.status_code == 200 and not Vehicle.objects.filter(name="丙车").exists()
    depot.refresh_from_db()
    assert depot.name == "双阳农资仓" and depot.partner == supplier


def test_station_staff_and_farmers_cannot_manage_the_fleet(staff_a, farmer_a, depot):
    for user in (staff_a, farmer_a):
        client = login(user)
        assert client.get("/p/routing/fleet/").status_code == 403
        assert client.post("/p/routing/fleet/depot/new/", DEPOT).status_code == 403
        assert client.get(f"/p/routing/fleet/depot/{depot.pk}/").status_code == 403
    assert Depot.objects.count() == 1


def test_operator_manages_any_partners_fleet_and_platform_depots(operator, supplier, depot):
    client = login(operator)
    assert depot.name in client.get("/p/routing/fleet/").content.decode()
    response = client.post("/p/routing/fleet/depot/new/", {**DEPOT, "kind": "platform", "name": "平台中心仓"})
    assert response.status_code == 302
    assert Depot.objects.get(name="平台中心仓").partner is None
    response = client.post("/p/routing/fleet/vehicle/new/", vehicle_data(depot, name="平台调度车"))
    assert response.status_code == 302 and Vehicle.objects.get(name="平台调度车").home_depot == depot


def test_fleet_pages_are_english(supplier_user, supplier, depot, trucks):
    client = english_client(supplier_user)
    data = data_strings(supplier, supplier_user, depot, *trucks) + [depot.address]
    data += [t.driver_name for t in trucks] + [t.plate for t in trucks]
    for url in (
        "/p/routing/fleet/",
        "/p/routing/fleet/depot/new/",
        f"/p/routing/fleet/vehicle/{trucks[0].pk}/",
    ):
        html = client.get(url).content.decode()
        left = ui_outside_data(html, data)
        assert not CJK.search(left), (url, CJK.findall(left))
    assert "Depots and vehicles" in client.get("/p/routing/fleet/").content.decode()


def test_plan_pages_are_english_while_solving_and_solved(settings, operator, standard_loads, trucks):
    from routing_fixtures import DAY, FAST

    from plugins.delivery_routing import services

    client = english_client(operator)
    plan = services.create_plan(operator, DAY, time_limit_s=FAST)
    plan.status, plan.job_status = plan.Status.SOLVING, plan.Job.QUEUED
    plan.save()
    data = data_strings(operator, *trucks) + [t.plate for t in trucks] + [str(plan)]
    data += [s.name for s in plan.stops.all()] + [s.depot.name for s in plan.stops.all()]
    for url in ("/p/routing/", f"/p/routing/plan/{plan.pk}/"):
        html = client.get(url).content.decode()
        left = ui_outside_data(html, data)
        assert not CJK.search(left), (url, CJK.findall(left))
    assert "Planning routes in the background" in client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    plan.job_status = ""
    plan.save()
    services.request_solve(plan, operator)
    html = client.get(f"/p/routing/plan/{plan.pk}/").content.decode()
    left = ui_outside_data(html, data)
    assert "Publish plan" in html and not CJK.search(left), CJK.findall(left)


def test_plugin_catalogue_is_complete_and_compiled():
    import gettext
    import re
    from pathlib import Path

    from plugins.delivery_routing import apps

    folder = Path(apps.__file__).parent / "locale" / "en" / "LC_MESSAGES"
    po = (folder / "django.po").read_text(encoding="utf-8")
    with (folder / "django.mo").open("rb") as fh:
        catalogue = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001
    msgids = [m for m in re.findall(r'^msgid "(.+)"$', po, re.M)]
    assert len(msgids) > 40
    for msgid in msgids:
        text = catalogue.get(msgid) or catalogue.get((msgid, 0))
        assert text and not CJK.search(text), f"untranslated or stale .mo: {msgid}"


def test_a_supplier_dispatches_from_its_own_warehouse_with_one_click(
    supplier_user, other_dispatcher, warehouse
):
    """The fleet page offers the supplier's warehouses that are no depot yet; one click makes the
    linked depot (its purchase orders' loads then go on its own trucks) and opens the truck form.
    Another partner can neither see nor use it; a second click does not make a second depot."""
    client = login(supplier_user)
    page = client.get("/p/routing/fleet/").content.decode()
    assert 'data-testid="warehouses-to-use"' in page and warehouse.name in page
    other = login(other_dispatcher)
    assert warehouse.name not in other.get("/p/routing/fleet/").content.decode()
    assert other.post("/p/routing/fleet/", {"warehouse": warehouse.pk}).status_code == 403
    assert not Depot.objects.exists()

    response = client.post("/p/routing/fleet/", {"warehouse": warehouse.pk})
    depot = Depot.objects.get()
    assert (
        response.status_code == 302
        and response["Location"] == f"/p/routing/fleet/vehicle/new/?depot={depot.pk}"
    )
    assert (depot.warehouse, depot.partner, depot.external_ref) == (
        warehouse,
        warehouse.partner,
        f"warehouse:{warehouse.pk}",
    )
    assert (depot.latitude, depot.longitude) == (warehouse.latitude, warehouse.longitude)
    client.post("/p/routing/fleet/", {"warehouse": warehouse.pk})
    assert Depot.objects.count() == 1
    assert 'data-testid="warehouses-to-use"' not in client.get("/p/routing/fleet/").content.decode()
    form = client.get(response["Location"]).content.decode()
    assert f'<option value="{depot.pk}" selected>' in form

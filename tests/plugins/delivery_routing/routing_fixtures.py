"""Delivery-routing Django fixtures: a supplier warehouse with two trucks, a platform depot, two
stations ~10 km apart, and loads provided by the test-only plugin ``routing_test_loads``."""

from __future__ import annotations

from datetime import date, time, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import override_settings
from oscar.core.loading import get_model
from routing_test_loads import apps as loads_app

from marketplace.accounts.models import Role, User
from marketplace.core.extensions import DeliveryRequest
from plugins.delivery_routing.models import Depot, Vehicle

WITH_LOADS = [*settings.INSTALLED_APPS, "routing_test_loads"]
DAY = date(2030, 4, 16)  # a Tuesday, far enough ahead to count as "upcoming"
FAST = 0.4  # solver seconds per solve in tests


@pytest.fixture
def loads_plugin():
    """Installs the test plugin; yields its LOADS list (emptied afterwards)."""
    loads_app.LOADS.clear()
    with override_settings(INSTALLED_APPS=WITH_LOADS):
        yield loads_app.LOADS
    loads_app.LOADS.clear()


@pytest.fixture
def geo_stations(station_a, station_b):
    station_a.latitude, station_a.longitude, station_a.phone = Decimal("43.450000"), Decimal("125.600000"), "13900000001"
    station_b.latitude, station_b.longitude, station_b.phone = Decimal("43.600000"), Decimal("125.760000"), "13900000002"
    station_a.opens_at, station_a.closes_at = time(8, 0), time(17, 0)
    station_b.opens_at, station_b.closes_at = time(9, 0), time(16, 0)
    station_a.save()
    station_b.save()
    return station_a, station_b


@pytest.fixture
def warehouse(supplier):
    Warehouse = get_model("partner", "Warehouse")
    return Warehouse.objects.create(
        partner=supplier, code="W1", name="双阳农资仓", latitude=Decimal("43.520000"), longitude=Decimal("125.660000")
    )


@pytest.fixture
def depot(warehouse, supplier):
    return Depot.objects.create(
        name="双阳农资仓", kind=Depot.Kind.WAREHOUSE, partner=supplier, warehouse=warehouse,
        external_ref=f"warehouse:{warehouse.pk}", latitude=warehouse.latitude, longitude=warehouse.longitude,
        contact_phone="043184000000",
    )


@pytest.fixture
def trucks(depot):
    return [
        Vehicle.objects.create(
            name="甲车", plate="吉A12345", home_depot=depot, capacity_kg=5000, fixed_cost=Decimal("200"),
            cost_per_km=Decimal("2.6"), driver_name="王师傅", driver_phone="13700000001",
        ),
        Vehicle.objects.create(
            name="乙车", plate="吉A67890", home_depot=depot, capacity_kg=5000, fixed_cost=Decimal("200"),
            cost_per_km=Decimal("2.6"), driver_name="刘师傅", driver_phone="13700000002",
        ),
    ]


@pytest.fixture
def short_shift_truck(depot):
    """Works only 06:30–07:00: cannot reach any station inside its opening hours."""
    return Vehicle.objects.create(
        name="短班车", plate="吉A00000", home_depot=depot, capacity_kg=5000,
        shift_start=time(6, 30), shift_end=time(7, 0),
    )


@pytest.fixture
def other_dispatcher(other_supplier):
    user = User.objects.create(username="other_sup", role=Role.SUPPLIER)
    other_supplier.users.add(user)
    return user


def po_load(warehouse, station, kg: int, ref: str, lines=(("复合肥 15-15-15 40kg", 30),)) -> DeliveryRequest:
    return DeliveryRequest(
        ref=ref, source="routing_test_loads", origin_kind="warehouse", origin_id=warehouse.pk,
        origin_name=warehouse.name, origin_lat=float(warehouse.latitude), origin_lon=float(warehouse.longitude),
        destination_kind="station", destination_id=station.pk, destination_name=station.name,
        destination_lat=float(station.latitude), destination_lon=float(station.longitude),
        weight_kg=Decimal(kg), ready_on=DAY - timedelta(days=1), service_minutes=20,
        contact=f"站长 {station.phone}", lines=tuple(lines),
    )


def produce_load(kg: int, ref: str = "routing_test_loads:produce:1") -> DeliveryRequest:
    return DeliveryRequest(
        ref=ref, source="routing_test_loads", origin_kind="collection_point", origin_id=7,
        origin_name="东岗合作社集货点", origin_lat=43.480, origin_lon=125.630,
        destination_kind="buyer", destination_id=3, destination_name="长春市绿源超市",
        destination_lat=43.560, destination_lon=125.700, weight_kg=Decimal(kg),
        window_start=time(9, 0), window_end=time(16, 0), service_minutes=10, lines=(("鲜玉米", 200),),
    )


@pytest.fixture
def standard_loads(loads_plugin, warehouse, geo_stations):
    a, b = geo_stations
    loads_plugin.extend(
        [
            po_load(warehouse, a, 1200, "routing_test_loads:po:1"),
            po_load(warehouse, b, 800, "routing_test_loads:po:2", lines=(("尿素 40kg", 20),)),
            produce_load(600),
        ]
    )
    return loads_plugin

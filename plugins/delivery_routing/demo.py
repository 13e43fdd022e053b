"""Demo depots and trucks (``seed_demo`` through the ``demo_data`` hook): every supplier warehouse
and cooperative collection point of the demo county becomes a depot with a 5 t and a 10 t truck,
so a dispatcher can plan as soon as purchase orders are waiting.  Idempotent."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.db.models import Q
from oscar.core.loading import get_model

from .models import Depot, Vehicle

TRUCKS = [
    # name, plate suffix, capacity kg, fixed ¥, ¥/km, reloads, driver
    ("5吨厢货", "5", 5000, Decimal("260"), Decimal("2.60"), 1, "王师傅"),
    ("10吨平板", "10", 10000, Decimal("420"), Decimal("3.90"), 0, "李师傅"),
]


def seed_depots_and_vehicles() -> tuple[int, int]:
    Warehouse = get_model("partner", "Warehouse")
    warehouses = (
        Warehouse.objects.filter(
            Q(partner__code__startswith="supplier-") | Q(partner__code__startswith="coop-")
        )
        .select_related("partner")
        .order_by("partner__code", "pk")
    )
    depots = vehicles = 0
    for n, wh in enumerate(warehouses, start=1):
        if wh.latitude is None or wh.longitude is None:
            continue
        is_coop = wh.partner.code.startswith("coop-")
        depot = Depot.objects.filter(warehouse=wh).first() or Depot(warehouse=wh)
        depot.name = wh.name
        depot.kind = Depot.Kind.COLLECTION_POINT if is_coop else Depot.Kind.WAREHOUSE
        depot.partner = wh.partner
        depot.external_ref = depot.external_ref or f"warehouse:{wh.pk}"
        depot.address = wh.address or ""
        depot.contact_phone = (wh.partner.contact_phone or "")[:20]
        depot.latitude, depot.longitude = wh.latitude, wh.longitude
        depot.opens_at, depot.closes_at = time(6, 0), time(19, 0)
        depot.save()
        depots += 1
        for i, (name, plate, kg, fixed, per_km, reloads, driver) in enumerate(TRUCKS):
            Vehicle.objects.update_or_create(
                home_depot=depot,
                name=name,
                defaults={
                    "plate": f"吉A{n:03d}{plate}"[:16],
                    "capacity_kg": kg,
                    "fixed_cost": fixed,
                    "cost_per_km": per_km,
                    "shift_start": time(6, 30),
                    "shift_end": time(18, 30),
                    "max_route_minutes": 600,
                    "max_reloads": reloads,
                    "driver_name": driver,
                    "driver_phone": f"137{n:04d}{i:04d}",
                },
            )
            vehicles += 1
    return depots, vehicles

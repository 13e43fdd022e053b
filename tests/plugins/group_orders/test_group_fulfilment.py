"""After a successful close: supplier ships per station, the station receives (shortage, damage),
farmers collect with a pickup code (partial pickups), commission is credited, uncollected goods expire."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from marketplace.core.models import Notification
from marketplace.payments import services as pay
from marketplace.payments.models import Refund
from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import (
    DeliveryStatus,
    Pickup,
    PickupEvent,
    PickupStatus,
    Pledge,
    StationDelivery,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed(staff_a, item, campaign, households_a, expire):
    households_a[1].credit_limit = Decimal("20000")
    households_a[1].save()
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    services.place_pledge(staff_a, item, households_a[1], 50, "credit")
    expire(campaign)
    close_campaign(campaign.pk)
    return campaign


def test_ship_and_receive_with_shortage_and_damage(
    closed, staff_a, staff_b, supplier_user, item, households_a
):
    delivery = StationDelivery.objects.get(campaign=closed)
    with pytest.raises(PermissionDenied):
        services.mark_shipped(staff_a, delivery)
    services.mark_shipped(supplier_user, delivery)
    with pytest.raises(PermissionDenied):
        services.receive_delivery(staff_b, delivery, {item.pk: (200, 0)})
    with pytest.raises(ValidationError):
        services.receive_delivery(staff_a, delivery, {item.pk: (201, 0)})
    services.receive_delivery(staff_a, delivery, {item.pk: (190, 5)}, "短少10袋，破损5袋")
    delivery.refresh_from_db()
    line = delivery.lines.get()
    assert (delivery.status, line.shortage, line.usable) == (DeliveryStatus.RECEIVED, 10, 185)
    assert set(Pickup.objects.values_list("status", flat=True)) == {PickupStatus.READY}
    assert Notification.objects.filter(dedupe_key__startswith="gb-pickup:").count() == 2
    assert services.station_stock(closed.pk, households_a[0].station_id, item.pk) == 185


def test_pickup_with_code_partial_commission_and_stock_never_negative(
    closed, staff_a, staff_b, item, households_a, station_a
):
    delivery = StationDelivery.objects.get(campaign=closed)
    services.receive_delivery(staff_a, delivery, {item.pk: (180, 0)})
    pickup = Pickup.objects.get(household=households_a[0])
    pledge = Pledge.objects.get(household=households_a[0])
    with pytest.raises(ValidationError):
        services.collect(staff_a, pickup, "000000" if pickup.code != "000000" else "111111")
    with pytest.raises(PermissionDenied):
        services.collect(staff_b, pickup, pickup.code)
    assert services.find_pickups(staff_b, pickup.code) == []
    assert [p.pk for p in services.find_pickups(staff_a, pickup.code)] == [pickup.pk]
    services.collect(staff_a, pickup, pickup.code, {pledge.pk: 100}, "tap-1")
    services.collect(staff_a, pickup, pickup.code, {pledge.pk: 100}, "tap-1")  # double tap: once
    pickup.refresh_from_db()
    pledge.refresh_from_db()
    assert (pickup.status, pledge.collected_quantity) == (PickupStatus.PARTIAL, 100)
    # 3% of 100 × ¥140 = ¥420 commission for the station.
    assert pay.commission_balance(station_a) == Decimal("420.00")
    other = Pickup.objects.get(household=households_a[1])
    services.collect(staff_a, other, other.code)  # takes all 50 → 150 of 180 gone
    with pytest.raises(ValidationError) as err:
        services.collect(staff_a, pickup, pickup.code, {pledge.pk: 50})  # only 30 left at the station
    assert err.value.error_dict["quantities"][0].code == "out_of_stock"
    services.collect(staff_a, pickup, pickup.code, {pledge.pk: 30})
    assert services.station_stock(closed.pk, station_a.pk, item.pk) == 0
    assert PickupEvent.objects.count() == 3
    assert pay.commission_balance(station_a) == Decimal("756.00")  # 180 × 140 × 3%
    other.refresh_from_db()
    assert other.status == PickupStatus.COLLECTED and other.order.status == "已取货"


def test_uncollected_goods_expire_and_are_refunded(closed, staff_a, item, households_a):
    delivery = StationDelivery.objects.get(campaign=closed)
    services.receive_delivery(staff_a, delivery, {item.pk: (200, 0)})
    pickup = Pickup.objects.get(household=households_a[0])
    pledge = Pledge.objects.get(household=households_a[0])
    services.collect(staff_a, pickup, pickup.code, {pledge.pk: 40})
    assert services.expire_uncollected() == 0  # not yet N days
    later = timezone.now() + timedelta(days=closed.uncollected_days + 1)
    assert services.expire_uncollected(later) == 2
    assert services.expire_uncollected(later) == 0
    pledge.refresh_from_db()
    assert (pledge.collected_quantity, pledge.forfeited_quantity) == (40, 110)
    refund = Refund.objects.get(idempotency_key=f"pledge:{pledge.pk}:forfeit")
    assert refund.amount == Decimal("15400.00")  # 110 × ¥140, cash handed back at the station
    credit_pledge = Pledge.objects.get(household=households_a[1])
    assert pay.balance(pay.household_receivable(households_a[1].pk)) == Decimal("0.00")
    assert Refund.objects.get(idempotency_key=f"pledge:{credit_pledge.pk}:forfeit").amount == Decimal(
        "7000.00"
    )

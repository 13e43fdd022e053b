"""Issue 11 item 4: pickup codes cannot be guessed (42 guesses a second went unanswered before)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from plugins.group_orders import services
from plugins.group_orders.closing import close_campaign
from plugins.group_orders.models import Pickup, StationDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready_pickup(staff_a, item, campaign, households_a, expire):
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    services.place_pledge(staff_a, item, households_a[1], 50, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    delivery = StationDelivery.objects.get(campaign=campaign)
    services.receive_delivery(staff_a, delivery, {item.pk: (200, 0)})
    return Pickup.objects.get(household=households_a[0])


def wrong_codes(right: str):
    n = 0
    while True:
        code = f"{n:06d}"
        if code != right:
            yield code
        n += 1


def test_guessing_pickup_codes_locks_the_staff_account_out(ready_pickup, staff_a, settings):
    limit = int(settings.PICKUP_CODE_FAILURE_RATE.split("/")[0])
    guesses = wrong_codes(ready_pickup.code)
    for _ in range(limit + 1):
        assert services.find_pickups(staff_a, next(guesses)) == []
    # Locked: even the right code is refused now, by lookup and by direct hand-out.
    with pytest.raises(ValidationError) as exc:
        services.find_pickups(staff_a, ready_pickup.code)
    assert exc.value.message_dict["code"] and exc.value.error_dict["code"][0].code == "limit_exceeded"
    with pytest.raises(ValidationError):
        services.collect(staff_a, ready_pickup, ready_pickup.code)
    ready_pickup.refresh_from_db()
    assert ready_pickup.status != "collected"


def test_wrong_code_on_hand_out_counts_too(ready_pickup, staff_a, settings):
    limit = int(settings.PICKUP_CODE_FAILURE_RATE.split("/")[0])
    guesses = wrong_codes(ready_pickup.code)
    for _ in range(limit + 1):
        with pytest.raises(ValidationError):
            services.collect(staff_a, ready_pickup, next(guesses))
    with pytest.raises(ValidationError) as exc:
        services.collect(staff_a, ready_pickup, ready_pickup.code)
    assert exc.value.error_dict["code"][0].code == "limit_exceeded"


def test_successful_lookups_do_not_count(ready_pickup, staff_a, settings):
    limit = int(settings.PICKUP_CODE_FAILURE_RATE.split("/")[0])
    for _ in range(limit * 3):
        assert [p.pk for p in services.find_pickups(staff_a, ready_pickup.code)] == [ready_pickup.pk]

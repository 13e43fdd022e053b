"""Business buyers: a weekly standing order saved with a card gets an order in each new round,
charged like any order; paused or skipped rounds get none; when stock is short every standing order
gets the same share of its request, and the allocation says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from produce_kit import ADDRESS, lot_input
from testkit import CARD_PLAIN, make_user, stripe_card_token

from marketplace.payments import gateway
from plugins.produce import services
from plugins.produce.models import StandingAllocation

pytestmark = [pytest.mark.django_db, pytest.mark.stripe]


def test_fair_shares_are_proportional_and_exact():
    assert services.fair_shares(20, [(1, 15), (2, 10)]) == {1: 12, 2: 8}
    assert services.fair_shares(10, [(1, 3), (2, 3), (3, 3), (4, 3)]) == {1: 3, 2: 3, 3: 2, 4: 2}
    assert services.fair_shares(50, [(1, 5), (2, 7)]) == {1: 5, 2: 7}
    assert sum(services.fair_shares(7, [(1, 100), (2, 1)]).values()) == 7


def _open(coop_user, coop, lot, title):
    day = (timezone.localtime() + timedelta(days=3)).date()
    return services.open_round(
        coop_user, coop, title, timezone.now() + timedelta(days=2), [lot.pk],
        [{"kind": "delivery", "day": day, "start": "09:00", "end": "12:00"}],
    )  # fmt: skip


def test_standing_orders_get_fair_orders_in_each_round(stripe_settings, coop_user, coop):
    canteen = make_user("13900000201", "city_buyer")
    shop = make_user("13900000202", "city_buyer")
    a = services.create_standing_order(
        canteen, coop, "rice", "10", 15, ADDRESS, stripe_card_token(CARD_PLAIN)
    )
    b = services.create_standing_order(shop, coop, "rice", "10", 10, ADDRESS, stripe_card_token(CARD_PLAIN))
    lot = services.create_lot(coop_user, coop, lot_input(units=20))
    first = _open(coop_user, coop, lot, "第一周")
    allocs = {x.standing_order_id: x for x in StandingAllocation.objects.filter(round=first)}
    assert (allocs[a.pk].allocated, allocs[b.pk].allocated) == (12, 8)
    assert "按相同比例分配" in allocs[a.pk].explanation
    po = allocs[a.pk].order
    assert po.buyer == canteen and po.order.lines.get().quantity == 12
    assert po.amount == 12 * services.unit_price(lot.sale_units.get(), 12)
    assert gateway.retrieve(po.payment.stripe_payment_intent).status == "requires_capture"
    # Pause one, skip the next round for the other: no orders for them.
    a.paused = True
    a.save()
    lot2 = services.create_lot(coop_user, coop, lot_input(code="QJ2026-002", units=50))
    second = _open(coop_user, coop, lot2, "第二周")
    assert list(
        StandingAllocation.objects.filter(round=second).values_list("standing_order_id", "allocated")
    ) == [(b.pk, 10)]
    # Skipping an open round cancels that round's order and voids its authorisation.
    skipped = StandingAllocation.objects.get(round=second, standing_order=b).order
    services.skip_round(shop, b, second)
    skipped.refresh_from_db()
    assert (skipped.state, skipped.payment_state) == ("cancelled", "cancelled")
    assert gateway.retrieve(skipped.payment.stripe_payment_intent).status == "canceled"
    with pytest.raises(PermissionDenied):
        services.skip_round(canteen, b, second)

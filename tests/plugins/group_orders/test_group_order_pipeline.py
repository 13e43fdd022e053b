"""Group-buy orders go through Oscar's order machinery: ``order_placed`` once per order (after each
close chunk commits), the ``OSCAR_ORDER_STATUS_PIPELINE`` (ordered → shipped → at station →
collected / refunded) through Oscar's EventHandler, and Oscar's dashboard offering the next statuses."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from oscar.apps.order.signals import order_placed, order_status_changed
from oscar.core.loading import get_model

from marketplace.apps.order import services as order_services
from marketplace.apps.order import statuses
from plugins.group_orders import services
from plugins.group_orders.closing import announce_orders, close_campaign
from plugins.group_orders.models import CloseStep, Pickup, StationDelivery

pytestmark = pytest.mark.django_db

Order = get_model("order", "Order")
OrderStatusChange = get_model("order", "OrderStatusChange")


@pytest.fixture
def placed():
    seen: Counter = Counter()

    def receiver(sender, order, user, **kwargs):
        seen[order.number] += 1

    order_placed.connect(receiver, dispatch_uid="test-group-order-placed")
    yield seen
    order_placed.disconnect(dispatch_uid="test-group-order-placed")


@pytest.mark.parametrize("use_sql", [True, False], ids=["postgres-set-based", "orm"])
def test_order_placed_fires_once_per_order_after_each_chunk(
    placed,
    staff_a,
    staff_b,
    item,
    campaign,
    households_a,
    household_b,
    expire,
    use_sql,
    django_capture_on_commit_callbacks,
):
    for household in households_a[:3]:
        services.place_pledge(staff_a, item, household, 50, "cash")
    services.place_pledge(staff_b, item, household_b, 60, "cash")
    expire(campaign)
    with django_capture_on_commit_callbacks(execute=True):
        close_campaign(campaign.pk, chunk_stations=1, use_sql=use_sql)
    numbers = set(Order.objects.values_list("number", flat=True))
    assert len(numbers) == 4 and placed == Counter({n: 1 for n in numbers})
    # Every way of running it again announces nothing twice: a re-run of the close, the same task
    # delivered again, or the finish sweep.
    with django_capture_on_commit_callbacks(execute=True):
        close_campaign(campaign.pk, use_sql=use_sql)
    for step in CloseStep.objects.filter(campaign=campaign, step__startswith="settle:"):
        assert announce_orders(campaign.pk, step.step, list(Order.objects.values_list("pk", flat=True))) == 0
    assert placed == Counter({n: 1 for n in numbers})
    assert set(Order.objects.values_list("status", flat=True)) == {statuses.ORDERED}


def test_pipeline_ship_receive_collect_and_expiry_refund(
    staff_a, supplier_user, item, campaign, households_a, expire
):
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    services.place_pledge(staff_a, item, households_a[1], 50, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    changes: list[tuple[str, str]] = []

    def on_change(sender, order, old_status, new_status, **kwargs):
        changes.append((old_status, new_status))

    order_status_changed.connect(on_change, dispatch_uid="test-pipeline")
    try:
        delivery = StationDelivery.objects.get(campaign=campaign)
        services.mark_shipped(supplier_user, delivery)
        assert set(Order.objects.values_list("status", flat=True)) == {statuses.SHIPPED}
        services.receive_delivery(staff_a, delivery, {item.pk: (200, 0)})
        assert set(Order.objects.values_list("status", flat=True)) == {statuses.AT_STATION}
        first = Pickup.objects.get(household=households_a[0])
        services.collect(staff_a, first, first.code)
        first.order.refresh_from_db()
        assert first.order.status == statuses.COLLECTED
        assert set(first.order.lines.values_list("status", flat=True)) == {statuses.COLLECTED}  # cascade
        # The second household never comes: after the deadline the goods are forfeited and refunded.
        Pickup.objects.filter(household=households_a[1]).update(ready_at=timezone.now() - timedelta(days=30))
        assert services.expire_uncollected() == 1
        second = Pickup.objects.get(household=households_a[1]).order
        assert second.status == statuses.REFUNDED
        assert second.notes.filter(message__contains="¥7000.00").exists()
    finally:
        order_status_changed.disconnect(dispatch_uid="test-pipeline")
    assert Counter(changes) == Counter(
        {
            (statuses.ORDERED, statuses.SHIPPED): 2,
            (statuses.SHIPPED, statuses.AT_STATION): 2,
            (statuses.AT_STATION, statuses.COLLECTED): 1,
            (statuses.AT_STATION, statuses.REFUNDED): 1,
        }
    )
    assert list(
        OrderStatusChange.objects.filter(order=first.order)
        .order_by("pk")
        .values_list("new_status", flat=True)
    ) == [statuses.SHIPPED, statuses.AT_STATION, statuses.COLLECTED]
    # Nothing goes backwards: a collected order cannot be shipped again.
    assert order_services.change_status([first.order], statuses.SHIPPED) == 0
    first.order.refresh_from_db()
    assert first.order.status == statuses.COLLECTED


def test_receiving_before_shipping_records_both_steps(staff_a, item, campaign, households_a, expire):
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    services.receive_delivery(staff_a, StationDelivery.objects.get(campaign=campaign), {item.pk: (150, 0)})
    order = Order.objects.get()
    assert order.status == statuses.AT_STATION
    assert list(order.status_changes.order_by("pk").values_list("new_status", flat=True)) == [
        statuses.SHIPPED,
        statuses.AT_STATION,
    ]


def test_dashboard_order_page_offers_the_pipeline(
    client, operator, staff_a, item, campaign, households_a, expire
):
    services.place_pledge(staff_a, item, households_a[0], 150, "cash")
    expire(campaign)
    close_campaign(campaign.pk)
    order = Order.objects.get()
    from django.contrib.auth.models import Permission

    # Oscar's dashboard asks for the order permissions (what an operator account carries).
    operator.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="order", codename__in=("view_order", "change_order")
        )
    )
    client.force_login(operator)
    page = client.get(f"/shop/dashboard/orders/{order.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "此订单的状态无法更改" not in html
    form = page.context["order_status_form"]
    assert {value for value, _ in form.fields["new_status"].choices} >= {
        statuses.SHIPPED,
        statuses.CANCELLED,
        statuses.REFUNDED,
    }
    # The dashboard's own status change goes through the same pipeline.
    r = client.post(
        f"/shop/dashboard/orders/{order.number}/",
        {"order_action": "change_order_status", "new_status": statuses.SHIPPED},
    )
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.status == statuses.SHIPPED
    assert order.status_changes.get().new_status == statuses.SHIPPED

"""Order status changes: the ONE path every page, task and plugin uses to move orders through
``OSCAR_ORDER_STATUS_PIPELINE`` — Oscar's own order processing (``EventHandler`` →
``Order.set_status``: pipeline check, line cascade, ``OrderStatusChange`` row, ``order_status_changed``
signal), never a bare ``UPDATE`` of the status column."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from oscar.apps.order.exceptions import InvalidOrderStatus
from oscar.core.loading import get_class, get_model

from . import statuses

EventHandler = get_class("order.processing", "EventHandler")


def path_to(current: str, target: str) -> list[str]:
    """The statuses an order passes through from ``current`` to ``target`` along the pipeline (the
    shortest way; empty when already there). Raises InvalidOrderStatus when ``target`` cannot be
    reached (e.g. a collected order cannot be shipped again)."""
    if current == target:
        return []
    pipeline = statuses.ORDER_STATUS_PIPELINE
    paths: dict[str, list[str]] = {current: []}
    frontier = [current]
    while frontier:
        nxt = []
        for status in frontier:
            for following in pipeline.get(status, ()):
                if following not in paths:
                    paths[following] = [*paths[status], following]
                    if following == target:
                        return paths[following]
                    nxt.append(following)
        frontier = nxt
    raise InvalidOrderStatus(f"'{target}' cannot follow '{current}'")


def change_status(orders: Iterable[Any], target: str, *, user: Any = None, note: str = "") -> int:
    """Move each order to ``target`` through Oscar's ``EventHandler`` — step by step along the
    pipeline, so intermediate statuses are recorded too (a delivery received before anyone marked it
    shipped records shipped, then at station). Orders already at ``target`` are left alone; orders
    that cannot reach it (e.g. refunded) are skipped. Returns how many orders changed."""
    Order = get_model("order", "Order")
    handler = EventHandler(user)
    changed = 0
    with transaction.atomic():
        for order in orders:
            locked = Order.objects.select_for_update().get(pk=order.pk)
            try:
                steps = path_to(locked.status, target)
            except InvalidOrderStatus:
                continue
            for i, status in enumerate(steps, 1):
                handler.handle_order_status_change(
                    locked, status, note_msg=(note or None) if i == len(steps) else None
                )
            changed += bool(steps)
    return changed

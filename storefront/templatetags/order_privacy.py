"""``{% if request.user|sees_order_buyers %}``: the one rule (``permissions.can_see_order_buyers``)
for showing an order's farmer household and station; suppliers never see them."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext_lazy

from marketplace.apps.order import statuses
from marketplace.core import permissions

register = template.Library()


@register.filter
def sees_order_buyers(user: Any) -> bool:
    return permissions.can_see_order_buyers(user)


#: Oscar stores the status text itself (``statuses.py``, Chinese); pages show it in their language.
STATUS_LABELS = {
    statuses.ORDERED: gettext_lazy("待发货"),
    statuses.SHIPPED: gettext_lazy("已发货"),
    statuses.AT_STATION: gettext_lazy("已到站"),
    statuses.COLLECTED: gettext_lazy("已取货"),
    statuses.REFUNDED: gettext_lazy("已退款"),
    statuses.CANCELLED: gettext_lazy("已取消"),
}


@register.filter
def order_status(status: str) -> str:
    """``{{ order.status|order_status }}``: the stored status in the page language."""
    return str(STATUS_LABELS.get(status, status))

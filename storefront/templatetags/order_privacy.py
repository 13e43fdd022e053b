"""``{% if request.user|sees_order_buyers %}``: the one rule (``permissions.can_see_order_buyers``)
for showing an order's farmer household and station; suppliers never see them."""

from __future__ import annotations

from typing import Any

from django import template

from marketplace.core import permissions

register = template.Library()


@register.filter
def sees_order_buyers(user: Any) -> bool:
    return permissions.can_see_order_buyers(user)

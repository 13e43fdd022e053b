"""``{% load money %}{{ amount|yuan }}``: money as every page shows it ("¥1,234.50" in Chinese and
English alike), by the one rule in :func:`marketplace.core.money.format_cny`."""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any

from django import template

from marketplace.core.money import format_cny

register = template.Library()


@register.filter
def yuan(value: Any) -> str:
    """``""`` for no amount (``None``, ``""``) or something that is not a number."""
    if value is None or value == "":
        return ""
    try:
        return format_cny(value)
    except (InvalidOperation, ValueError, TypeError):
        return ""

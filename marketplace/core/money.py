"""Money: CNY as ``Decimal``, one rounding rule (ROUND_HALF_UP to the fen, 0.01) for every path —
prices, pledges, ledger, refunds, plan costs, imports. Convert to and from fen (Stripe's minor
unit) here too."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


def cny(value: Any) -> Decimal:
    """``value`` as yuan rounded half-up to the fen. Floats go through ``str`` (no binary noise);
    raises ``decimal.InvalidOperation`` / ``ValueError`` for something that is not a number."""
    if isinstance(value, float):
        value = repr(value)
    amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    if not amount.is_finite():
        raise InvalidOperation(f"not a finite amount: {value!r}")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def to_fen(amount: Any) -> int:
    """Yuan → integer fen (half-up)."""
    return int((cny(amount) * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_fen(fen: int) -> Decimal:
    return cny(Decimal(int(fen)) / 100)


#: The one display rule for money, in every language: "¥1,234.50" (the yuan sign, thousands
#: separated by ",", two decimals; "-¥12.00" below zero). Never the locale's currency sign (English
#: locales would say "CN¥"). Oscar's ``currency`` filter gets the same rule as a Babel pattern
#: (``OSCAR_CURRENCY_FORMAT`` in settings); our templates use ``{% load money %}…|yuan``.
CNY_DISPLAY_PATTERN = "¥#,##0.00"


def format_cny(value: Any) -> str:
    """``value`` as shown on every page and document: ``format_cny(1234.5) == "¥1,234.50"``."""
    amount = cny(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"

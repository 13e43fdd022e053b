"""CSV cells that spreadsheets would run as formulas (OWASP "CSV injection").

A cell starting with ``= + - @`` (or a tab / carriage return, which some spreadsheets skip before
one of those) is prefixed with an apostrophe, so ``=HYPERLINK(…)`` in a product title reaches the
operator's spreadsheet as text. Numbers are left alone (``-5`` stays a number)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from oscar.core.compat import UnicodeCSVWriter

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    if isinstance(value, int | float | Decimal) or value is None:
        return value
    text = str(value)
    if text.startswith(_TRIGGERS):
        return "'" + text
    return text


def safe_row(row: Iterable[Any]) -> list[Any]:
    return [safe_cell(value) for value in row]


class FormulaSafeCSVWriter(UnicodeCSVWriter):
    def writerow(self, row: Iterable[Any]) -> None:
        super().writerow(safe_row(row))

"""One money rule (CNY, ROUND_HALF_UP to the fen) and one haversine, used by every caller."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest

from marketplace.core.geo import haversine_km, haversine_m, haversine_matrix_m
from marketplace.core.money import cny, from_fen, to_fen
from marketplace.payments import gateway
from marketplace.payments.services import money


def test_cny_rounds_half_up_to_the_fen():
    assert cny("0.125") == Decimal("0.13")  # HALF_EVEN would give 0.12
    assert cny("2.345") == Decimal("2.35")
    assert cny("-0.125") == Decimal("-0.13")
    assert cny(2.675) == Decimal("2.68")  # the float's shortest repr, not its binary expansion
    assert cny(3) == Decimal("3.00")
    with pytest.raises(InvalidOperation):
        cny("abc")
    with pytest.raises(InvalidOperation):
        cny("NaN")


def test_every_money_path_uses_the_same_rule():
    assert money("0.125") == cny("0.125") == Decimal("0.13")
    assert to_fen(Decimal("1.005")) == 101 and gateway.to_fen(Decimal("1.005")) == 101
    assert from_fen(12345) == Decimal("123.45") and gateway.from_fen(5) == Decimal("0.05")


def test_haversine_one_formula_three_shapes():
    # 1° of latitude ≈ 111.2 km
    assert 111.1 < haversine_km(43.5, 125.6, 44.5, 125.6) < 111.3
    assert haversine_m(43.5, 125.6, 44.5, 125.6) == pytest.approx(haversine_km(43.5, 125.6, 44.5, 125.6) * 1000)
    matrix = haversine_matrix_m([43.5, 44.5, 43.9], [125.6, 125.6, 126.1])
    assert matrix[0][1] == pytest.approx(haversine_m(43.5, 125.6, 44.5, 125.6))
    assert matrix[2][0] == pytest.approx(haversine_m(43.9, 126.1, 43.5, 125.6))
    assert matrix[1][1] == 0

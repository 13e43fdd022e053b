"""Economic optimum N rate with its profitable range, as Iowa State's MRTN calculator reports it.

The yield response to N is the fertilizer-effect function of NY/T 1118 (肥料效应函数法), a quadratic
``y = b0 + b1·x + b2·x²`` fitted to a county's own N-series trial (the 3414 design's N0, N1, N2, N3
plots at medium P and K). The economic optimum is where one more kg of N pays for itself,
``x* = (Px/Py − b1) / (2·b2)``; the profitable range is every rate whose return to N (value of the
extra yield minus the N cost) is within ``tolerance`` per mu of the maximum (MRTN: $1/acre ≈ ¥1/mu).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .methods import AgronomyError


@dataclass(frozen=True, slots=True)
class Response:
    b0: float
    b1: float
    b2: float
    max_rate: float  # the highest rate tried: the curve is not extrapolated beyond it

    def yield_at(self, x: float) -> float:
        return self.b0 + self.b1 * x + self.b2 * x * x


@dataclass(frozen=True, slots=True)
class Optimum:
    rate: float  # kg N/mu
    low: float
    high: float
    yield_kg: float
    net_return: float  # ¥/mu over no N
    price_ratio: float


def fit_response(points: Sequence[tuple[float, float]]) -> Response:
    """Least-squares quadratic through (kg N/mu, yield kg/mu) trial points; refused unless it bends
    down (a diminishing return) and has at least three rates."""
    import numpy as np

    rates = sorted({float(x) for x, _ in points})
    if len(rates) < 3:
        raise AgronomyError("too_few_trial_rates", "氮肥效应函数至少需要 3 个施氮水平的试验产量")
    xs = np.array([float(x) for x, _ in points])
    ys = np.array([float(y) for _, y in points])
    b2, b1, b0 = (float(v) for v in np.polyfit(xs, ys, 2))
    if b2 >= 0 or b1 <= 0:
        raise AgronomyError("no_diminishing_return", "试验产量没有呈现报酬递减，无法求经济最佳施氮量")
    return Response(b0, b1, b2, max(rates))


def economic_optimum(
    response: Response, n_price_yuan_kg: float, grain_price_yuan_kg: float, tolerance_yuan_mu: float = 1.0
) -> Optimum:
    if n_price_yuan_kg <= 0 or grain_price_yuan_kg <= 0:
        raise AgronomyError("no_prices", "需要今日的氮肥价格和粮价")
    ratio = n_price_yuan_kg / grain_price_yuan_kg
    b1, b2 = response.b1, response.b2

    def net(x: float) -> float:
        return grain_price_yuan_kg * (b1 * x + b2 * x * x) - n_price_yuan_kg * x

    rate = min(max((ratio - b1) / (2 * b2), 0.0), response.max_rate)
    half_width = math.sqrt(tolerance_yuan_mu / (-b2 * grain_price_yuan_kg))
    low = max(rate - half_width, 0.0)
    high = min(rate + half_width, response.max_rate)
    return Optimum(rate, low, high, response.yield_at(rate), net(rate), ratio)

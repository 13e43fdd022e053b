"""Small server-rendered SVG charts (no JavaScript): price history lines and survey bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ["#2f7d32", "#1565c0", "#b7791f", "#6a1b9a", "#c53030"]


def line_chart(
    series: dict[str, list[tuple[date, Decimal]]], width: int = 340, height: int = 180
) -> SafeString:
    """One line per series (e.g. per price source); x = date, y = price. Scales to its container."""
    points = [p for s in series.values() for p in s]
    if not points:
        return mark_safe("")
    left, right, top, bottom = 44, 8, 10, 34
    days = [p[0] for p in points]
    values = [float(p[1]) for p in points]
    d0, d1 = min(days), max(days)
    span = max((d1 - d0).days, 1)
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo * 0.95, hi * 1.05 + 0.01
    pad = (hi - lo) * 0.1
    lo, hi = lo - pad, hi + pad

    def x(d: date) -> float:
        return left + (width - left - right) * (d - d0).days / span

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'style="width:100%;height:auto;max-width:640px" font-size="10" font-family="sans-serif">'
    ]
    for i in range(4):
        v = lo + (hi - lo) * i / 3
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e4e7eb"/>'
            f'<text x="{left - 4}" y="{y(v) + 3:.1f}" text-anchor="end" fill="#616e7c">{v:.2f}</text>'
        )
    parts.append(f'<text x="{left}" y="{height - 20}" fill="#616e7c">{d0:%m-%d}</text>')
    parts.append(
        f'<text x="{width - right}" y="{height - 20}" text-anchor="end" fill="#616e7c">{d1:%m-%d}</text>'
    )
    for n, (name, pts) in enumerate(series.items()):
        colour = COLOURS[n % len(COLOURS)]
        pts = sorted(pts)
        path = " ".join(f"{x(d):.1f},{y(float(v)):.1f}" for d, v in pts)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for d, v in pts[-1:]:
            parts.append(f'<circle cx="{x(d):.1f}" cy="{y(float(v)):.1f}" r="3" fill="{colour}"/>')
        lx = left + n * 110
        parts.append(
            f'<rect x="{lx}" y="{height - 11}" width="10" height="4" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="{height - 6}" fill="#1f2933">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(rows: Sequence[tuple[str, Decimal]], unit: str, width: int = 340) -> SafeString:
    """Horizontal bars with the label above each bar, so long names never overlap on a phone."""
    if not rows:
        return mark_safe("")
    top = max(float(v) for _, v in rows) or 1.0
    row_h = 30
    height = row_h * len(rows) + 4
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'style="width:100%;height:auto;max-width:640px" font-size="11" font-family="sans-serif">'
    ]
    for i, (label, value) in enumerate(rows):
        y0 = i * row_h
        w = max((width - 8) * float(value) / top, 1)
        parts.append(
            f'<text x="0" y="{y0 + 11}" fill="#1f2933">{escape(label)} · {value:,.0f} {escape(unit)}</text>'
            f'<rect x="0" y="{y0 + 15}" width="{w:.1f}" height="10" rx="2" fill="#2f7d32"/>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))

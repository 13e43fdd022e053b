"""Server-side SVG plots (no JavaScript, no online map tiles): demand bars and a station dot map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


def bar_chart(rows: Sequence[Any], width: int = 340, bar_h: int = 12) -> SafeString:
    """Horizontal bars, one per product (``title``, ``grade``, ``tonnes``): the label on its own
    line above its bar and the tonnes after the bar, so no label runs into a bar at 360 px."""
    if not rows:
        return mark_safe("")
    row = bar_h + 22
    height = len(rows) * row + 4
    peak = max(float(r.tonnes) for r in rows) or 1.0
    span = width - 70
    aria = escape(gettext("各产品需求（吨）"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{aria}" class="fert-chart">'
    ]
    for i, r in enumerate(rows):
        y = i * row
        w = max(1.0, span * float(r.tonnes) / peak)
        label = escape(f"{r.grade} {r.title}"[:44])
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="12" fill="#1f2933">{label}</text>'
            f'<rect x="0" y="{y + 16}" width="{w:.1f}" height="{bar_h}" rx="2" fill="#2f855a"/>'
            f'<text x="{w + 4:.1f}" y="{y + 16 + bar_h - 1}" font-size="11" fill="#616e7c">{r.tonnes} t</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _projection(stations: Sequence[dict[str, Any]], width: int, height: int, pad: int) -> Any:
    """Equirectangular lat/lon → SVG x/y fitting the stations into the box (county scale)."""
    lats = [s["lat"] for s in stations]
    lons = [s["lon"] for s in stations]
    lat0, lat1 = min(lats), max(lats)
    lon0, lon1 = min(lons), max(lons)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span = max((lon1 - lon0) * kx, lat1 - lat0, 1e-3)
    scale = (min(width, height) - 2 * pad) / span
    ox = (width - (lon1 - lon0) * kx * scale) / 2

    def xy(lat: float, lon: float) -> tuple[float, float]:
        return ox + (lon - lon0) * kx * scale, height - pad - (lat - lat0) * scale

    return xy


def township_map(
    stations: Sequence[dict[str, Any]], clusters: Sequence[Any], width: int = 340, height: int = 260
) -> SafeString:
    """The county map readable on a phone at any number of stations: stations as small dots
    without labels, each township as one numbered circle (area ∝ recommended tonnes) at the
    centre of its stations; the legend under the map names the numbers. Circles that would
    overlap are moved apart (a leader line joins them to their centre)."""
    if not stations:
        return mark_safe("")
    xy = _projection(stations, width, height, pad=22)

    aria = escape(gettext("按乡镇汇总的需求分布"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{aria}" class="fert-map" font-family="sans-serif">'
        f'<rect width="{width}" height="{height}" fill="#f7faf7" stroke="#cbd2d9"/>'
    ]
    for s in stations:
        x, y = xy(s["lat"], s["lon"])
        parts.append(f'<circle class="station" cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="#7b8794"/>')
    peak = max((float(c.tonnes) for c in clusters), default=0.0) or 1.0
    placed: list[tuple[float, float, float]] = []
    for c in clusters:
        x, y = xy(c.lat, c.lon)
        r = 9 + 11 * math.sqrt(float(c.tonnes) / peak) if c.tonnes else 9
        best = (x, y)
        for ring in range(0, 10):
            steps = 1 if ring == 0 else 8 * ring
            options = [
                (
                    x + ring * 6 * math.cos(2 * math.pi * i / steps),
                    y + ring * 6 * math.sin(2 * math.pi * i / steps),
                )
                for i in range(steps)
            ]
            free = [
                (cx, cy)
                for cx, cy in options
                if r <= cx <= width - r
                and r <= cy <= height - r
                and all((cx - px) ** 2 + (cy - py) ** 2 >= (r + pr + 1) ** 2 for px, py, pr in placed)
            ]
            if free:
                best = min(free, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2)
                break
        bx, by = best
        placed.append((bx, by, r))
        leader = (
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="#22543d" stroke-width="1"/>'
            if (bx, by) != (x, y)
            else ""
        )
        parts.append(
            f'<g class="township" data-number="{c.number}">{leader}<circle cx="{bx:.1f}" cy="{by:.1f}" '
            f'r="{r:.1f}" fill="#2f855a" fill-opacity="0.75" stroke="#fff" stroke-width="1.5"/>'
            f'<text x="{bx:.1f}" y="{by + 4:.1f}" font-size="11" font-weight="700" fill="#fff" '
            f'text-anchor="middle">{c.number}</text><title>{c.number}. {escape(c.name)}: {c.tonnes} t</title></g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))

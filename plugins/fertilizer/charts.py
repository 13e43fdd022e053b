"""Server-side SVG plots (no JavaScript, no online map tiles): demand bars and a station dot map."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext


def bar_chart(rows: Sequence[Any], width: int = 340, bar_h: int = 22) -> SafeString:
    """Horizontal bars: one per product (``title``, ``grade``, ``tonnes``)."""
    if not rows:
        return mark_safe("")
    label_w = 130
    top = 8
    height = top + len(rows) * (bar_h + 6) + 8
    peak = max(float(r.tonnes) for r in rows) or 1.0
    span = width - label_w - 60
    aria = escape(gettext("各产品需求（吨）"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{aria}" class="fert-chart">'
    ]
    for i, r in enumerate(rows):
        y = top + i * (bar_h + 6)
        w = max(1.0, span * float(r.tonnes) / peak)
        label = escape(f"{r.grade} {r.title}")[:40]
        parts.append(
            f'<text x="0" y="{y + bar_h * 0.7:.1f}" font-size="11">{label}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#2f855a"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h * 0.7:.1f}" font-size="11">{r.tonnes} t</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def station_map(stations: Sequence[dict[str, Any]], width: int = 340, height: int = 260) -> SafeString:
    """Stations as dots at their lat/lon (equirectangular), area proportional to demand (t)."""
    if not stations:
        return mark_safe("")
    lats = [s["lat"] for s in stations]
    lons = [s["lon"] for s in stations]
    lat0, lat1 = min(lats), max(lats)
    lon0, lon1 = min(lons), max(lons)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    span = max((lon1 - lon0) * kx, lat1 - lat0, 1e-3)
    pad = 24
    scale = (min(width, height) - 2 * pad) / span
    peak = max(float(s["tonnes"]) for s in stations) or 1.0
    aria = escape(gettext("站点需求分布"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="{aria}" class="fert-map">'
        f'<rect width="{width}" height="{height}" fill="#f7faf7" stroke="#cbd2d9"/>'
    ]
    for s in stations:
        x = pad + (s["lon"] - lon0) * kx * scale
        y = height - pad - (s["lat"] - lat0) * scale
        t = float(s["tonnes"] or Decimal("0"))
        r = 3 + 17 * math.sqrt(t / peak) if t > 0 else 2.5
        name = escape(s["name"])
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#2f855a" fill-opacity="0.55" stroke="#22543d">'
            f"<title>{name}: {t:g} t</title></circle>"
            f'<text x="{x + r + 2:.1f}" y="{y + 4:.1f}" font-size="10">{name[:8]}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))

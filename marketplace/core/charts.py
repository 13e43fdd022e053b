"""Small server-rendered SVG charts and maps for the light pages: no script, a few hundred bytes
each, readable at 360 px (they scale to the width of their container)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2f7d32", "#1e6fb8", "#b7791f", "#8e44ad", "#c53030", "#00897b")


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal | int | float
    display: str = ""  # the value as shown (e.g. "¥1,234.00"); defaults to the number


def bar_chart(bars: Sequence[Bar], title: str = "", width: int = 320) -> SafeString:
    """Horizontal bars, one per row: label above, bar and value below (fits a phone)."""
    if not bars:
        return mark_safe("")
    top = max((float(b.value) for b in bars), default=0.0) or 1.0
    row = 34
    height = row * len(bars) + 4
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    if title:
        parts.append(f"<title>{escape(title)}</title>")
    for i, bar in enumerate(bars):
        y = i * row
        w = max(int((width - 90) * float(bar.value) / top), 1 if float(bar.value) > 0 else 0)
        text = bar.display or f"{bar.value}"
        parts.append(
            f'<text x="0" y="{y + 12}" font-size="12" fill="#1f2933">{escape(bar.label)}</text>'
            f'<rect x="0" y="{y + 16}" width="{w}" height="12" rx="2" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{w + 4}" y="{y + 27}" font-size="11" fill="#616e7c">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


@dataclass(frozen=True)
class Point:
    lat: float
    lon: float
    label: str = ""
    kind: str = "dot"  # dot (e.g. a station) or pin (e.g. a warehouse)


def map_svg(points: Sequence[Point], width: int = 320, height: int = 240, pad: float = 0.02) -> SafeString:
    """An equirectangular sketch of the points' bounding box: dots for stations, labelled pins
    for warehouses. ``data-*`` attributes carry the box so a click can be turned into lat/lon."""
    if not points:
        return mark_safe("")
    lats = [p.lat for p in points]
    lons = [p.lon for p in points]
    south, north = min(lats) - pad, max(lats) + pad
    west, east = min(lons) - pad, max(lons) + pad

    def xy(p: Point) -> tuple[float, float]:
        x = (p.lon - west) / (east - west) * width
        y = (north - p.lat) / (north - south) * height
        return round(x, 1), round(y, 1)

    parts = [
        f'<svg class="map" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'data-north="{north:.6f}" data-south="{south:.6f}" data-west="{west:.6f}" data-east="{east:.6f}" '
        f'xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="{height}" fill="#eef4ec"/>'
    ]
    for p in points:
        x, y = xy(p)
        if p.kind == "pin":
            parts.append(
                f'<g class="pin"><path d="M{x} {y} l-6 -14 a7 7 0 1 1 12 0 z" fill="#c53030"/>'
                f'<text x="{x + 8}" y="{y - 8}" font-size="11" fill="#1f2933">{escape(p.label)}</text></g>'
            )
        else:
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="2.5" fill="#1e6fb8"><title>{escape(p.label)}</title></circle>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))

"""Server-side SVG map of a plan: no online tiles, just depots, stops and routes.

Projection: equirectangular around the plan's centre (x = lon · cos(mean lat), y = −lat), scaled
to fit the viewBox with a margin.  Good enough at county scale (< 100 km).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.translation import gettext

from .models import DeliveryPlan, PlanVisit

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#ff7f0e",
    "#17becf",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#7f7f7f",
]
WIDTH, HEIGHT, MARGIN = 640, 480, 28


def route_colour(number: int) -> str:
    return PALETTE[(number - 1) % len(PALETTE)]


class _Projection:
    def __init__(self, points: Iterable[tuple[float, float]]) -> None:
        pts = list(points) or [(0.0, 0.0)]
        lats = [p[0] for p in pts]
        lons = [p[1] for p in pts]
        self.k = math.cos(math.radians(sum(lats) / len(lats)))
        self.x0, self.x1 = min(lons) * self.k, max(lons) * self.k
        self.y0, self.y1 = min(lats), max(lats)
        span = max(self.x1 - self.x0, self.y1 - self.y0, 1e-4)
        self.scale = min((WIDTH - 2 * MARGIN) / span, (HEIGHT - 2 * MARGIN) / span)
        self.dx = (WIDTH - (self.x1 - self.x0) * self.scale) / 2
        self.dy = (HEIGHT - (self.y1 - self.y0) * self.scale) / 2

    def __call__(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon * self.k - self.x0) * self.scale + self.dx
        y = (self.y1 - lat) * self.scale + self.dy
        return round(x, 1), round(y, 1)


def render_plan_svg(plan: DeliveryPlan) -> str:
    routes = list(plan.routes.select_related("vehicle", "depot").order_by("number"))
    visits = list(
        PlanVisit.objects.filter(route__plan=plan)
        .select_related("stop__depot")
        .order_by("route_id", "sequence")
    )
    stops = list(plan.stops.select_related("depot"))
    depots = {s.depot_id: s.depot for s in stops} | {r.depot_id: r.depot for r in routes}
    coords = [(float(d.latitude), float(d.longitude)) for d in depots.values()]
    coords += [(float(s.latitude), float(s.longitude)) for s in stops]
    proj = _Projection(coords)
    by_route: dict[int, list[PlanVisit]] = {}
    for v in visits:
        by_route.setdefault(v.route_id, []).append(v)

    aria = escape(gettext("%(plan)s 线路图") % {"plan": plan})
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="route-map" '
        f'role="img" aria-label="{aria}">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f8faf7" stroke="#d9e2d5"/>',
    ]
    for route in routes:
        colour = route_colour(route.number)
        d = route.depot
        pts = [proj(float(d.latitude), float(d.longitude))]
        for v in by_route.get(route.pk, []):
            place = v.stop.depot if v.kind == PlanVisit.Kind.PICKUP else v.stop
            pts.append(proj(float(place.latitude), float(place.longitude)))
        pts.append(pts[0])
        path = " ".join(f"{x},{y}" for x, y in pts)
        title = escape(gettext("线路%(number)s") % {"number": route.number})
        out.append(
            f'<polyline class="route" data-route="{route.number}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="2.5" stroke-linejoin="round" opacity="0.85">'
            f"<title>{title} {escape(str(route.vehicle))}</title>"
            "</polyline>"
        )
    for depot in depots.values():
        x, y = proj(float(depot.latitude), float(depot.longitude))
        out.append(
            f'<rect class="depot" x="{x - 7}" y="{y - 7}" width="14" height="14" fill="#222" stroke="#fff">'
            f"<title>{escape(depot.name)}（{escape(depot.get_kind_display())}）</title></rect>"
        )
    seq: dict[int, str] = {}
    for route in routes:
        for v in by_route.get(route.pk, []):
            if v.kind != PlanVisit.Kind.PICKUP:
                seq.setdefault(v.stop_id, f"{route.number}-{v.sequence}")
    for stop in stops:
        x, y = proj(float(stop.latitude), float(stop.longitude))
        colour = route_colour(stop.route.number) if stop.route_id and stop.route else "#9aa5b1"
        label = seq.get(stop.pk, "")
        lock = "🔒" if stop.locked_vehicle_id else ""
        out.append(
            f'<g class="stop" data-stop="{stop.pk}"><circle cx="{x}" cy="{y}" r="6" fill="{colour}" '
            f'stroke="#fff" stroke-width="1.5"/><title>{escape(stop.name)} {stop.window} '
            f"{stop.weight_kg}kg {escape(stop.eta)}{lock}</title>"
            f'<text x="{x + 8}" y="{y - 6}" font-size="11" fill="#333">{escape(label)}{lock}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)

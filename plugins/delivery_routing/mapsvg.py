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
# Drawn at about 1:1 on a 360 px phone so marker numbers stay legible; wider screens scale it up.
WIDTH, HEIGHT, MARGIN = 360, 300, 16
MARKER_R = 9  # stop markers: numbered circles (the names are in the legend under the map)


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


def _place_markers(points: list[tuple[float, float]], r: float) -> list[tuple[float, float]]:
    """Marker positions that do not overlap: each marker stays at its point if free, otherwise moves
    to the nearest free spot on rings around it (a leader line then joins it to the point)."""
    placed: list[tuple[float, float]] = []
    gap = 2 * r + 1
    for x, y in points:
        best = (x, y)
        for ring in range(0, 12):
            candidates = (
                [(x, y)]
                if ring == 0
                else [
                    (x + ring * gap * math.cos(a), y + ring * gap * math.sin(a))
                    for a in (i * math.pi / (4 * ring) for i in range(8 * ring))
                ]
            )
            free = [
                (cx, cy)
                for cx, cy in candidates
                if r <= cx <= WIDTH - r
                and r <= cy <= HEIGHT - r
                and all((cx - px) ** 2 + (cy - py) ** 2 >= gap**2 for px, py in placed)
            ]
            if free:
                best = min(free, key=lambda c: (c[0] - x) ** 2 + (c[1] - y) ** 2)
                break
        placed.append((round(best[0], 1), round(best[1], 1)))
    return placed


def depot_letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"D{i + 1}"


def plan_map_context(plan: DeliveryPlan) -> dict:
    """The plan's SVG map and the legend that names what its numbered markers are.

    Stops are numbered 1..n in route order (unplanned stops last), depots lettered A, B, …; only
    numbers are drawn on the map, so nothing piles up on a phone; the legend lists the names."""
    routes = list(plan.routes.select_related("vehicle", "depot").order_by("number"))
    visits = list(
        PlanVisit.objects.filter(route__plan=plan)
        .select_related("stop__depot")
        .order_by("route_id", "sequence")
    )
    stops = list(plan.stops.select_related("depot", "route", "station"))
    depots = {s.depot_id: s.depot for s in stops} | {r.depot_id: r.depot for r in routes}
    depot_list = sorted(depots.values(), key=lambda d: d.pk)
    coords = [(float(d.latitude), float(d.longitude)) for d in depot_list]
    coords += [(float(s.latitude), float(s.longitude)) for s in stops]
    proj = _Projection(coords)
    by_route: dict[int, list[PlanVisit]] = {}
    for v in visits:
        by_route.setdefault(v.route_id, []).append(v)

    order: dict[int, tuple[int, int]] = {}
    for route in routes:
        for v in by_route.get(route.pk, []):
            if v.stop_id is not None and v.kind != PlanVisit.Kind.PICKUP:
                order.setdefault(v.stop_id, (route.number, v.sequence))
    big = (10**6, 10**6)
    stops.sort(key=lambda s: (order.get(s.pk, big), s.name, s.pk))
    number = {s.pk: i for i, s in enumerate(stops, start=1)}

    aria = escape(gettext("%(plan)s 线路图") % {"plan": plan})
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="route-map" '
        f'role="img" aria-label="{aria}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#f8faf7" stroke="#d9e2d5"/>',
    ]
    for route in routes:
        colour = route_colour(route.number)
        d = route.depot
        pts = [proj(float(d.latitude), float(d.longitude))]
        for v in by_route.get(route.pk, []):
            if v.kind == PlanVisit.Kind.RELOAD:
                place = route.depot
            elif v.kind == PlanVisit.Kind.PICKUP:
                place = v.stop.depot
            else:
                place = v.stop
            pts.append(proj(float(place.latitude), float(place.longitude)))
        pts.append(pts[0])
        path = " ".join(f"{x},{y}" for x, y in pts)
        title = escape(gettext("线路%(number)s") % {"number": route.number})
        out.append(
            f'<polyline class="route" data-route="{route.number}" points="{path}" fill="none" '
            f'stroke="{colour}" stroke-width="2" stroke-linejoin="round" opacity="0.8">'
            f"<title>{title} {escape(str(route.vehicle))}</title>"
            "</polyline>"
        )
    depot_pts = [proj(float(d.latitude), float(d.longitude)) for d in depot_list]
    stop_pts = [proj(float(s.latitude), float(s.longitude)) for s in stops]
    placed = _place_markers(depot_pts + stop_pts, MARKER_R)
    legend_depots = []
    for i, depot in enumerate(depot_list):
        (x, y), (mx, my) = depot_pts[i], placed[i]
        letter = depot_letter(i)
        legend_depots.append({"letter": letter, "depot": depot})
        out.append(
            f'<g class="depot" data-depot="{depot.pk}">'
            + (
                f'<line x1="{x}" y1="{y}" x2="{mx}" y2="{my}" stroke="#222" stroke-width="1"/>'
                if (x, y) != (mx, my)
                else ""
            )
            + f'<rect x="{mx - MARKER_R}" y="{my - MARKER_R}" width="{2 * MARKER_R}" height="{2 * MARKER_R}" '
            f'fill="#222" stroke="#fff"/><text x="{mx}" y="{my + 4}" font-size="11" font-weight="700" '
            f'fill="#fff" text-anchor="middle">{letter}</text>'
            f"<title>{escape(depot.name)}（{escape(depot.get_kind_display())}）</title></g>"
        )
    legend_stops = []
    offset = len(depot_list)
    for j, stop in enumerate(stops):
        (x, y), (mx, my) = stop_pts[j], placed[offset + j]
        colour = route_colour(stop.route.number) if stop.route_id and stop.route else "#9aa5b1"
        n = number[stop.pk]
        lock = "🔒" if stop.locked_vehicle_id else ""
        legend_stops.append({"number": n, "stop": stop, "colour": colour, "locked": bool(lock)})
        leader = (
            f'<line x1="{x}" y1="{y}" x2="{mx}" y2="{my}" stroke="{colour}" stroke-width="1"/>'
            f'<circle cx="{x}" cy="{y}" r="2" fill="{colour}"/>'
            if (x, y) != (mx, my)
            else ""
        )
        font = 10 if n < 100 else 8
        out.append(
            f'<g class="stop" data-stop="{stop.pk}">{leader}<circle cx="{mx}" cy="{my}" r="{MARKER_R}" '
            f'fill="{colour}" stroke="#fff" stroke-width="1.5"/><text x="{mx}" y="{my + 3.5}" '
            f'font-size="{font}" font-weight="700" fill="#fff" text-anchor="middle">{n}</text>'
            f"<title>{n}. {escape(stop.name)} {stop.window} {stop.weight_kg}kg {escape(stop.eta)}{lock}</title></g>"
        )
    out.append("</svg>")
    return {"svg": "".join(out), "depots": legend_depots, "stops": legend_stops}


def render_plan_svg(plan: DeliveryPlan) -> str:
    return plan_map_context(plan)["svg"]

"""Typed domain model of a delivery-routing problem (no Django, no PyVRP).

Units used everywhere in this package:

* weights in whole kilograms (``int``);
* times in whole seconds since midnight of the planning day (``int``);
* distances in whole metres (``int``);
* money in yuan (``float``) on the domain side.

Coordinates are WGS84 latitude/longitude by default.  For planar test
instances the same fields carry ``y``/``x`` (see :class:`Point`), combined with
a planar distance provider.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

DAY_END = 24 * 3600


def hm(text: str) -> int:
    """Parse ``"HH:MM"`` into seconds since midnight (``"24:00"`` allowed)."""
    hours, _, minutes = text.partition(":")
    value = int(hours) * 3600 + int(minutes or 0) * 60
    if not 0 <= value <= 48 * 3600:
        raise ValueError(f"time of day out of range: {text!r}")
    return value


def fmt_hm(seconds: int) -> str:
    """Format seconds since midnight as ``HH:MM`` (rounded down)."""
    minutes = seconds // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True, slots=True)
class Point:
    """A coordinate: ``lat``/``lon`` in degrees, or ``y``/``x`` for planar data."""

    lat: float
    lon: float

    @classmethod
    def xy(cls, x: float, y: float) -> Point:
        return cls(lat=y, lon=x)

    @property
    def x(self) -> float:
        return self.lon

    @property
    def y(self) -> float:
        return self.lat


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Closed interval ``[start, end]`` in seconds since midnight."""

    start: int = 0
    end: int = DAY_END

    @classmethod
    def parse(cls, start: str, end: str) -> TimeWindow:
        return cls(hm(start), hm(end))

    @property
    def is_valid(self) -> bool:
        return 0 <= self.start <= self.end

    def __str__(self) -> str:
        return f"{fmt_hm(self.start)}–{fmt_hm(self.end)}"


@dataclass(frozen=True, slots=True)
class Depot:
    """A supplier warehouse or a cooperative collection point."""

    id: str
    name: str
    location: Point
    time_window: TimeWindow = field(default_factory=TimeWindow)


@dataclass(frozen=True, slots=True)
class VehicleType:
    """A group of identical trucks based at one home depot (start and end).

    ``max_reloads`` > 0: multi-trip — a truck may come back to its home depot up to that many
    times within its shift to reload and go out again (PyVRP ``reload_depots``)."""

    name: str
    capacity_kg: int
    num_available: int
    home_depot: str
    fixed_cost: float = 0.0
    cost_per_km: float = 1.0
    cost_per_hour: float = 0.0
    shift: TimeWindow = field(default_factory=TimeWindow)
    max_route_duration_s: int | None = None
    max_reloads: int = 0

    @property
    def max_trips(self) -> int:
        return 1 + max(0, self.max_reloads)


@dataclass(frozen=True, slots=True)
class Stop:
    """A delivery stop (e.g. a village service station) with a load to drop.

    ``source_depot``: when set, the goods sit in that warehouse, so only
    trucks based there may serve the stop (typical for campaign orders, whose
    goods belong to one supplier).  When ``None`` any depot may supply it.
    """

    id: str
    name: str
    location: Point
    demand_kg: int
    time_window: TimeWindow = field(default_factory=TimeWindow)
    service_s: int = 0
    source_depot: str | None = None
    #: Dispatcher lock: only these vehicle types may serve the stop (``None`` → any eligible).
    vehicle_types: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Shipment:
    """Produce going from a collection point (depot) to a city buyer.

    Modelled as a true pickup-and-delivery pair (PyVRP ``Model.add_shipment``):
    the same truck must pick the load up at ``origin_depot``'s location and
    drop it at ``destination`` later on the same route.  The truck may be
    based anywhere; the pickup happens when it passes by the collection point.
    """

    id: str
    name: str
    origin_depot: str
    destination: Point
    weight_kg: int
    pickup_window: TimeWindow | None = None  # None → the origin depot's window
    delivery_window: TimeWindow = field(default_factory=TimeWindow)
    pickup_service_s: int = 0
    delivery_service_s: int = 0
    #: Dispatcher lock: only these vehicle types may carry the shipment (``None`` → any).
    vehicle_types: frozenset[str] | None = None


@dataclass(slots=True)
class RoutingProblem:
    depots: list[Depot]
    vehicle_types: list[VehicleType]
    stops: list[Stop] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    name: str = "routing"

    def depot(self, depot_id: str) -> Depot:
        for depot in self.depots:
            if depot.id == depot_id:
                return depot
        raise KeyError(depot_id)

    def depot_ids(self) -> set[str]:
        return {d.id for d in self.depots}

    def validate(self) -> list[str]:
        """Structural errors (duplicate ids, unknown depots, negative values)."""
        errors: list[str] = []
        seen: set[str] = set()
        for kind, ids in (
            ("depot", [d.id for d in self.depots]),
            ("stop/shipment", [s.id for s in self.stops] + [s.id for s in self.shipments]),
            ("vehicle type", [v.name for v in self.vehicle_types]),
        ):
            seen.clear()
            for ident in ids:
                if ident in seen:
                    errors.append(f"duplicate {kind} id {ident!r}")
                seen.add(ident)
        depots = self.depot_ids()
        for vt in self.vehicle_types:
            if vt.home_depot not in depots:
                errors.append(f"vehicle type {vt.name!r}: unknown home depot {vt.home_depot!r}")
            if vt.capacity_kg < 0 or vt.num_available < 0:
                errors.append(f"vehicle type {vt.name!r}: negative capacity or count")
        for stop in self.stops:
            if stop.demand_kg < 0 or stop.service_s < 0:
                errors.append(f"stop {stop.id!r}: negative demand or service time")
            if stop.source_depot is not None and stop.source_depot not in depots:
                errors.append(f"stop {stop.id!r}: unknown source depot {stop.source_depot!r}")
        names = {vt.name for vt in self.vehicle_types}
        for item in [*self.stops, *self.shipments]:
            if item.vehicle_types is not None and not item.vehicle_types <= names:
                unknown = sorted(item.vehicle_types - names)
                errors.append(f"stop/shipment {item.id!r}: unknown locked vehicle type(s) {unknown}")
        for sh in self.shipments:
            if sh.origin_depot not in depots:
                errors.append(f"shipment {sh.id!r}: unknown origin depot {sh.origin_depot!r}")
            if sh.weight_kg < 0:
                errors.append(f"shipment {sh.id!r}: negative weight")
        return errors


# --------------------------------------------------------------------------
# Expansion into solver "tasks": split loads, one location index per place.
# --------------------------------------------------------------------------

TaskKind = Literal["delivery", "shipment"]


@dataclass(frozen=True, slots=True)
class Task:
    """One solver-level job: a delivery chunk of a stop, or a shipment chunk.

    ``ref`` is the original stop / shipment id; ``chunk`` its 0-based index.
    For deliveries ``loc`` is the stop location index; for shipments
    ``pickup_loc``/``loc`` are the pickup and drop-off location indices.
    """

    kind: TaskKind
    ref: str
    chunk: int
    amount_kg: int
    loc: int
    window: TimeWindow
    service_s: int
    pickup_loc: int = -1
    pickup_window: TimeWindow = field(default_factory=TimeWindow)
    pickup_service_s: int = 0
    allowed_depots: frozenset[str] | None = None  # None → every depot
    allowed_vehicles: frozenset[str] | None = None  # None → every vehicle type (no lock)


@dataclass(slots=True)
class ExpandedProblem:
    """Problem flattened to location indices and split tasks.

    Location order: depots first (index = position in ``problem.depots``),
    then stops, then shipment destinations.
    """

    problem: RoutingProblem
    points: list[Point]
    depot_loc: dict[str, int]
    stop_loc: dict[str, int]
    shipment_dest_loc: dict[str, int]
    deliveries: list[Task]
    shipments: list[Task]


def split_amount(total: int, chunk_max: int) -> list[int]:
    """Split ``total`` into full ``chunk_max`` chunks plus a remainder.

    Full chunks keep the number of visits minimal; the remainder can ride
    along with other loads.  ``total <= 0`` yields ``[total]`` (one visit).
    """
    if total <= chunk_max or chunk_max <= 0:
        return [total]
    full, rest = divmod(total, chunk_max)
    return [chunk_max] * full + ([rest] if rest else [])


def eligible_vehicle_types(
    problem: RoutingProblem, source_depot: str | None, allowed: frozenset[str] | None = None
) -> list[VehicleType]:
    return [
        vt
        for vt in problem.vehicle_types
        if vt.num_available > 0
        and vt.capacity_kg > 0
        and (source_depot is None or vt.home_depot == source_depot)
        and (allowed is None or vt.name in allowed)
    ]


def expand(problem: RoutingProblem) -> ExpandedProblem:
    points: list[Point] = []
    depot_loc: dict[str, int] = {}
    for depot in problem.depots:
        depot_loc[depot.id] = len(points)
        points.append(depot.location)
    stop_loc: dict[str, int] = {}
    for stop in problem.stops:
        stop_loc[stop.id] = len(points)
        points.append(stop.location)
    dest_loc: dict[str, int] = {}
    for sh in problem.shipments:
        dest_loc[sh.id] = len(points)
        points.append(sh.destination)

    deliveries: list[Task] = []
    for stop in problem.stops:
        if stop.demand_kg == 0:
            continue
        caps = [
            vt.capacity_kg for vt in eligible_vehicle_types(problem, stop.source_depot, stop.vehicle_types)
        ]
        chunk_max = max(caps) if caps else stop.demand_kg
        allowed = None if stop.source_depot is None else frozenset({stop.source_depot})
        for i, amount in enumerate(split_amount(stop.demand_kg, chunk_max)):
            deliveries.append(
                Task(
                    kind="delivery",
                    ref=stop.id,
                    chunk=i,
                    amount_kg=amount,
                    loc=stop_loc[stop.id],
                    window=stop.time_window,
                    service_s=stop.service_s,
                    allowed_depots=allowed,
                    allowed_vehicles=stop.vehicle_types,
                )
            )

    shipments: list[Task] = []
    max_cap = max((vt.capacity_kg for vt in eligible_vehicle_types(problem, None)), default=0)
    for sh in problem.shipments:
        origin = problem.depot(sh.origin_depot)
        pickup_window = sh.pickup_window or origin.time_window
        cap = max_cap
        if sh.vehicle_types is not None:
            cap = max(
                (vt.capacity_kg for vt in eligible_vehicle_types(problem, None, sh.vehicle_types)), default=0
            )
        for i, amount in enumerate(split_amount(sh.weight_kg, cap or sh.weight_kg)):
            shipments.append(
                Task(
                    kind="shipment",
                    ref=sh.id,
                    chunk=i,
                    amount_kg=amount,
                    loc=dest_loc[sh.id],
                    window=sh.delivery_window,
                    service_s=sh.delivery_service_s,
                    pickup_loc=depot_loc[sh.origin_depot],
                    pickup_window=pickup_window,
                    pickup_service_s=sh.pickup_service_s,
                    allowed_vehicles=sh.vehicle_types,
                )
            )
    return ExpandedProblem(problem, points, depot_loc, stop_loc, dest_loc, deliveries, shipments)


def total_fleet_capacity(vehicle_types: Iterable[VehicleType]) -> int:
    """What the fleet can carry in a day at most: every truck full on every trip it may make."""
    return sum(vt.capacity_kg * vt.num_available * vt.max_trips for vt in vehicle_types)


def haversine_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (no detour factor): the core haversine."""
    from marketplace.core.geo import haversine_m as core_haversine_m

    return core_haversine_m(a.lat, a.lon, b.lat, b.lon)


def as_points(coords: Sequence[tuple[float, float]]) -> list[Point]:
    """``[(lat, lon), ...]`` → points."""
    return [Point(lat, lon) for lat, lon in coords]

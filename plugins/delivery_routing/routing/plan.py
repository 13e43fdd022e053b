"""Typed solver output and typed failure reasons (no PyVRP objects)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .problem import fmt_hm

VisitKind = Literal["delivery", "pickup", "dropoff", "reload"]


@dataclass(slots=True)
class Visit:
    """One stop on a route.  Split chunks of the same stop that the solver put
    back to back on one route are merged into a single visit (``chunks``)."""

    kind: VisitKind
    ref: str  # stop id (delivery), shipment id (pickup / dropoff) or depot id (reload)
    name: str
    loc: int  # index into ExpandedProblem.points
    amount_kg: int  # unloaded (delivery, dropoff) or loaded (pickup; reload: the next trip's load)
    chunks: tuple[int, ...]
    arrival_s: int
    start_s: int  # service start (arrival + waiting)
    departure_s: int
    service_s: int
    load_after_kg: int

    @property
    def wait_s(self) -> int:
        return self.start_s - self.arrival_s


@dataclass(slots=True)
class PlannedRoute:
    vehicle_type: str
    depot_id: str
    start_s: int  # departure from the depot
    end_s: int  # return to the depot
    start_load_kg: int
    distance_m: int
    duration_s: int
    cost: float  # yuan: fixed + per km (+ per hour)
    visits: list[Visit] = field(default_factory=list)

    @property
    def trips(self) -> int:
        return 1 + sum(1 for v in self.visits if v.kind == "reload")

    @property
    def max_load_kg(self) -> int:
        return max([self.start_load_kg, *(v.load_after_kg for v in self.visits)])

    def describe(self) -> str:
        steps = " → ".join(f"{v.name}({v.kind[0]}{v.amount_kg}kg@{fmt_hm(v.start_s)})" for v in self.visits)
        return (
            f"[{self.vehicle_type} @ {self.depot_id}] {fmt_hm(self.start_s)}–{fmt_hm(self.end_s)} "
            f"{self.distance_m / 1000:.1f} km, {self.start_load_kg} kg: {steps}"
        )


@dataclass(slots=True)
class Plan:
    routes: list[PlannedRoute]
    cost: float
    distance_m: int
    duration_s: int
    solve_time_s: float
    matrix_provider: str
    seed: int = 0

    def trucks_by_type(self) -> dict[str, int]:
        return dict(Counter(r.vehicle_type for r in self.routes))

    def delivered_by_stop(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for r in self.routes:
            for v in r.visits:
                if v.kind == "delivery":
                    out[v.ref] += v.amount_kg
        return dict(out)

    def visits_by_stop(self) -> dict[str, list[tuple[int, int, int]]]:
        """Original stop id → [(route index, visit index, kg), ...] (split loads merged)."""
        out: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
        for ri, r in enumerate(self.routes):
            for vi, v in enumerate(r.visits):
                if v.kind == "delivery":
                    out[v.ref].append((ri, vi, v.amount_kg))
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["trucks_by_type"] = self.trucks_by_type()
        return data


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a request cannot be planned.  ``stop_id`` None → whole problem."""

    stop_id: str | None
    code: str  # stable English code, e.g. "time_window_unreachable"
    message: str  # Chinese explanation for the dispatcher
    detail: str = ""  # English detail for logs

    def __str__(self) -> str:
        who = self.stop_id or "*"
        return f"{who}: [{self.code}] {self.message}" + (f" ({self.detail})" if self.detail else "")


class InfeasibleProblem(Exception):
    """Raised instead of returning a partial or infeasible plan."""

    def __init__(self, reasons: list[Reason]) -> None:
        self.reasons = reasons
        super().__init__("infeasible routing request:\n" + "\n".join(f"  - {r}" for r in reasons))

    def stop_ids(self) -> set[str]:
        return {r.stop_id for r in self.reasons if r.stop_id is not None}

    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}


@dataclass(frozen=True, slots=True)
class Violation:
    code: str  # e.g. "over_capacity", "late_arrival", "not_served"
    message: str
    route: int | None = None
    ref: str | None = None

    def __str__(self) -> str:
        where = f"route {self.route}" if self.route is not None else "plan"
        return f"{where}{' / ' + self.ref if self.ref else ''}: [{self.code}] {self.message}"


class PlanRejected(RuntimeError):
    """The independent feasibility checker rejected a solver plan."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__(
            "plan rejected by feasibility checker:\n" + "\n".join(f"  - {v}" for v in violations)
        )

"""Distance (metres) and travel-time (seconds) matrices, with caching.

Providers:

* :class:`HaversineProvider` – great-circle distance × detour factor, duration
  from an average speed.  Default; needs no server.
* :class:`OsrmProvider` – OSRM ``/table/v1/{profile}`` (road network), queried
  in blocks so the server's ``max-table-size`` is respected.
* :class:`ValhallaProvider` – Valhalla ``/sources_to_targets``.
* :class:`EuclideanProvider` – planar distances for test / VRPLIB instances.

:func:`build_matrices` wraps any provider with a cache (anything with
``get(key)`` / ``set(key, value, timeout)``: a :class:`DictCache` by default,
Django's ``cache`` in the web app).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import requests

from .problem import Point, haversine_m

logger = logging.getLogger(__name__)

IntMatrix = npt.NDArray[np.int64]


class MatrixError(RuntimeError):
    """A road-network server could not produce a usable matrix."""


@dataclass(frozen=True, slots=True)
class Matrices:
    distance_m: IntMatrix
    duration_s: IntMatrix
    provider: str

    def __post_init__(self) -> None:
        if self.distance_m.shape != self.duration_s.shape or self.distance_m.ndim != 2:
            raise ValueError("distance and duration matrices must be square and of equal shape")


class DistanceProvider(Protocol):
    def fingerprint(self) -> str:
        """Identifies the provider and every parameter that changes results."""
        ...

    def matrices(self, points: Sequence[Point]) -> Matrices: ...


class MatrixCache(Protocol):
    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any, timeout: int | None = ...) -> None: ...


class DictCache:
    """In-process cache with the (subset of the) Django cache API we use."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        self.data[key] = value


def _zero_diagonal(m: IntMatrix) -> IntMatrix:
    np.fill_diagonal(m, 0)
    return m


@dataclass(frozen=True, slots=True)
class HaversineProvider:
    detour_factor: float = 1.3
    speed_kmh: float = 40.0

    def __post_init__(self) -> None:
        if self.detour_factor <= 0 or self.speed_kmh <= 0:
            raise ValueError("detour_factor and speed_kmh must be positive")

    def fingerprint(self) -> str:
        return f"haversine:detour={self.detour_factor}:speed={self.speed_kmh}"

    def matrices(self, points: Sequence[Point]) -> Matrices:
        from marketplace.core.geo import haversine_matrix_m

        metres = haversine_matrix_m([p.lat for p in points], [p.lon for p in points]) * self.detour_factor
        seconds = metres / (self.speed_kmh / 3.6)
        return Matrices(
            _zero_diagonal(np.rint(metres).astype(np.int64)),
            _zero_diagonal(np.rint(seconds).astype(np.int64)),
            self.fingerprint(),
        )


@dataclass(frozen=True, slots=True)
class EuclideanProvider:
    """Planar coordinates (``Point.x``/``Point.y`` in metres or abstract units)."""

    speed: float = 1.0  # distance units per second
    rounding: str = "round"  # "round" | "trunc"

    def fingerprint(self) -> str:
        return f"euclidean:speed={self.speed}:{self.rounding}"

    def matrices(self, points: Sequence[Point]) -> Matrices:
        xy = np.array([(p.x, p.y) for p in points], dtype=float)
        diff = xy[:, None, :] - xy[None, :, :]
        dist = np.sqrt((diff**2).sum(axis=-1))
        conv = np.rint if self.rounding == "round" else np.trunc
        return Matrices(
            conv(dist).astype(np.int64),
            conv(dist / self.speed).astype(np.int64),
            self.fingerprint(),
        )


def _fill_missing(
    values: list[list[float | None]], points_from: Sequence[Point], points_to: Sequence[Point], kind: str
) -> tuple[list[list[float]], int]:
    """Replace ``null`` cells (unroutable pairs) by a haversine estimate."""
    missing = 0
    out: list[list[float]] = []
    for i, row in enumerate(values):
        new_row: list[float] = []
        for j, v in enumerate(row):
            if v is None:
                missing += 1
                est = haversine_m(points_from[i], points_to[j]) * 1.5
                new_row.append(est if kind == "distance" else est / (30 / 3.6))
            else:
                new_row.append(float(v))
        out.append(new_row)
    return out, missing


@dataclass(frozen=True, slots=True)
class OsrmProvider:
    """OSRM ``table`` service.  ``base_url`` like ``http://osrm:5000``."""

    base_url: str
    profile: str = "driving"
    timeout_s: float = 10.0
    block_size: int = 100  # keep ≤ the server's --max-table-size

    def fingerprint(self) -> str:
        return f"osrm:{self.base_url.rstrip('/')}:{self.profile}"

    def _block(
        self, src: Sequence[Point], dst: Sequence[Point]
    ) -> tuple[list[list[float]], list[list[float]]]:
        coords = ";".join(f"{p.lon:.6f},{p.lat:.6f}" for p in [*src, *dst])
        url = f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
        params = {
            "sources": ";".join(str(i) for i in range(len(src))),
            "destinations": ";".join(str(len(src) + j) for j in range(len(dst))),
            "annotations": "distance,duration",
        }
        try:
            resp = requests.get(url, params=params, timeout=self.timeout_s)
        except requests.RequestException as exc:
            raise MatrixError(f"OSRM request failed: {exc}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise MatrixError(f"OSRM returned non-JSON (HTTP {resp.status_code})") from exc
        if resp.status_code != 200 or body.get("code") != "Ok":
            raise MatrixError(
                f"OSRM error HTTP {resp.status_code}: {body.get('code')} {body.get('message', '')}"
            )
        if "distances" not in body or "durations" not in body:
            raise MatrixError("OSRM response lacks distances/durations (server too old for annotations?)")
        dist, n1 = _fill_missing(body["distances"], src, dst, "distance")
        dur, n2 = _fill_missing(body["durations"], src, dst, "duration")
        if n1 or n2:
            logger.warning("OSRM: %d unroutable pairs replaced by haversine estimates", max(n1, n2))
        return dist, dur

    def matrices(self, points: Sequence[Point]) -> Matrices:
        n = len(points)
        dist = np.zeros((n, n), dtype=float)
        dur = np.zeros((n, n), dtype=float)
        step = max(1, self.block_size // 2)
        for i0 in range(0, n, step):
            for j0 in range(0, n, step):
                src, dst = points[i0 : i0 + step], points[j0 : j0 + step]
                d, t = self._block(src, dst)
                dist[i0 : i0 + len(src), j0 : j0 + len(dst)] = d
                dur[i0 : i0 + len(src), j0 : j0 + len(dst)] = t
        return Matrices(
            _zero_diagonal(np.rint(dist).astype(np.int64)),
            _zero_diagonal(np.rint(dur).astype(np.int64)),
            self.fingerprint(),
        )


@dataclass(frozen=True, slots=True)
class ValhallaProvider:
    """Valhalla ``sources_to_targets`` (matrix) service."""

    base_url: str
    costing: str = "truck"
    timeout_s: float = 20.0
    block_size: int = 50

    def fingerprint(self) -> str:
        return f"valhalla:{self.base_url.rstrip('/')}:{self.costing}"

    def _block(
        self, src: Sequence[Point], dst: Sequence[Point]
    ) -> tuple[list[list[float]], list[list[float]]]:
        payload = {
            "sources": [{"lat": p.lat, "lon": p.lon} for p in src],
            "targets": [{"lat": p.lat, "lon": p.lon} for p in dst],
            "costing": self.costing,
            "units": "kilometers",
        }
        url = f"{self.base_url.rstrip('/')}/sources_to_targets"
        try:
            resp = requests.post(url, json=payload, timeout=self.timeout_s)
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise MatrixError(f"Valhalla request failed: {exc}") from exc
        if resp.status_code != 200 or "sources_to_targets" not in body:
            raise MatrixError(f"Valhalla error HTTP {resp.status_code}: {body.get('error', body)}")
        table = body["sources_to_targets"]
        dist_raw: list[list[float | None]]
        dur_raw: list[list[float | None]]
        if isinstance(table, Mapping):  # verbose=false: {"distances": [[]], "durations": [[]]}
            dist_raw = [[None if v is None else v * 1000 for v in row] for row in table["distances"]]
            dur_raw = table["durations"]
        else:  # verbose (default): rows of {"distance": km, "time": s, ...}
            dist_raw = [
                [None if c.get("distance") is None else c["distance"] * 1000 for c in row] for row in table
            ]
            dur_raw = [[c.get("time") for c in row] for row in table]
        dist, _ = _fill_missing(dist_raw, src, dst, "distance")
        dur, _ = _fill_missing(dur_raw, src, dst, "duration")
        return dist, dur

    def matrices(self, points: Sequence[Point]) -> Matrices:
        n = len(points)
        dist = np.zeros((n, n), dtype=float)
        dur = np.zeros((n, n), dtype=float)
        step = max(1, self.block_size)
        for i0 in range(0, n, step):
            for j0 in range(0, n, step):
                src, dst = points[i0 : i0 + step], points[j0 : j0 + step]
                d, t = self._block(src, dst)
                dist[i0 : i0 + len(src), j0 : j0 + len(dst)] = d
                dur[i0 : i0 + len(src), j0 : j0 + len(dst)] = t
        return Matrices(
            _zero_diagonal(np.rint(dist).astype(np.int64)),
            _zero_diagonal(np.rint(dur).astype(np.int64)),
            self.fingerprint(),
        )


def provider_from_config(config: Mapping[str, Any] | None) -> DistanceProvider:
    """Build a provider from a settings dict.

    Examples: ``{"backend": "osrm", "base_url": "http://osrm:5000", "profile": "driving"}``,
    ``{"backend": "valhalla", "base_url": "http://valhalla:8002", "costing": "truck"}``,
    ``{"backend": "haversine", "detour_factor": 1.3, "speed_kmh": 40}``.  Without
    ``backend``, a ``base_url`` means OSRM, otherwise haversine.
    """
    cfg = dict(config or {})
    backend = str(cfg.pop("backend", "osrm" if cfg.get("base_url") else "haversine")).lower()
    cfg.pop("cache_timeout", None)
    if backend == "haversine":
        return HaversineProvider(**cfg)
    if backend == "osrm":
        return OsrmProvider(**cfg)
    if backend == "valhalla":
        return ValhallaProvider(**cfg)
    if backend == "euclidean":
        return EuclideanProvider(**cfg)
    raise ValueError(f"unknown distance backend {backend!r}")


def cache_key(points: Sequence[Point], provider: DistanceProvider) -> str:
    h = hashlib.sha256(provider.fingerprint().encode())
    for p in points:
        if not (math.isfinite(p.lat) and math.isfinite(p.lon)):
            raise ValueError(f"non-finite coordinate {p}")
        h.update(f"{p.lat:.6f},{p.lon:.6f};".encode())
    return f"delivery_routing:matrix:{h.hexdigest()}"


def build_matrices(
    points: Sequence[Point],
    provider: DistanceProvider | None = None,
    cache: MatrixCache | None = None,
    timeout: int | None = 7 * 24 * 3600,
) -> Matrices:
    """Matrices for ``points`` from ``provider`` (haversine by default), cached."""
    provider = provider or HaversineProvider()
    key = cache_key(points, provider)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return Matrices(
                np.asarray(hit["distance_m"], dtype=np.int64),
                np.asarray(hit["duration_s"], dtype=np.int64),
                str(hit["provider"]),
            )
    result = provider.matrices(points)
    if result.distance_m.shape != (len(points), len(points)):
        raise MatrixError(f"{provider.fingerprint()} returned a matrix of shape {result.distance_m.shape}")
    if (result.distance_m < 0).any() or (result.duration_s < 0).any():
        raise MatrixError(f"{provider.fingerprint()} returned negative values")
    if cache is not None:
        cache.set(
            key,
            {
                "distance_m": result.distance_m.tolist(),
                "duration_s": result.duration_s.tolist(),
                "provider": result.provider,
            },
            timeout,
        )
    return result

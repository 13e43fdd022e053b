"""Haversine maths, the matrix cache, and the OSRM / Valhalla clients against a local fake server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from plugins.delivery_routing.routing.distances import (
    DictCache,
    HaversineProvider,
    Matrices,
    MatrixError,
    OsrmProvider,
    ValhallaProvider,
    build_matrices,
    cache_key,
    provider_from_config,
)
from plugins.delivery_routing.routing.problem import Point

SHUANGYANG = Point(43.52, 125.66)


def test_haversine_one_degree_latitude_with_detour_and_speed() -> None:
    pts = [Point(43.0, 125.66), Point(44.0, 125.66)]
    m = HaversineProvider(detour_factor=1.3, speed_kmh=40).matrices(pts)
    one_degree = 111_195.0  # metres, mean Earth radius
    assert m.distance_m[0, 1] == pytest.approx(one_degree * 1.3, rel=1e-3)
    assert m.duration_s[0, 1] == pytest.approx(one_degree * 1.3 / (40 / 3.6), rel=1e-3)
    assert m.distance_m[0, 0] == 0 and m.distance_m.dtype == np.int64
    plain = HaversineProvider(detour_factor=1.0, speed_kmh=60).matrices(pts)
    assert plain.distance_m[1, 0] == pytest.approx(one_degree, rel=1e-3)
    assert plain.duration_s[1, 0] == pytest.approx(one_degree / (60 / 3.6), rel=1e-3)


def test_cache_hit_skips_provider_and_key_depends_on_provider() -> None:
    calls = []

    class Counting(HaversineProvider):
        def matrices(self, points):  # type: ignore[no-untyped-def]
            calls.append(len(points))
            return HaversineProvider.matrices(self, points)

    pts = [SHUANGYANG, Point(43.60, 125.70), Point(43.45, 125.55)]
    cache = DictCache()
    prov = Counting()
    a = build_matrices(pts, prov, cache)
    b = build_matrices(pts, prov, cache)
    assert calls == [3]
    assert np.array_equal(a.distance_m, b.distance_m) and np.array_equal(a.duration_s, b.duration_s)
    assert cache_key(pts, HaversineProvider(1.3)) != cache_key(pts, HaversineProvider(1.4))
    assert cache_key(pts, HaversineProvider()) != cache_key(pts[::-1], HaversineProvider())
    assert isinstance(provider_from_config({"backend": "osrm", "base_url": "http://x"}), OsrmProvider)
    assert isinstance(provider_from_config(None), HaversineProvider)


class _FakeRouting(BaseHTTPRequestHandler):
    """OSRM/Valhalla stand-in: distance between points i and j = 1000·|lon_i − lon_j| m,
    duration = 100·|lon_i − lon_j| s, where test points use lon = 0, 1, 2, ..."""

    requests_seen: list[str] = []
    fail = False

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlsplit(self.path)  # not urlparse: it would cut the path at ";"
        type(self).requests_seen.append(url.path)
        if type(self).fail:
            return self._send(400, {"code": "TooBig", "message": "Too many table coordinates"})
        assert url.path.startswith("/table/v1/driving/")
        coords = [tuple(map(float, c.split(","))) for c in url.path.rsplit("/", 1)[1].split(";")]
        q = parse_qs(url.query)
        assert q["annotations"] == ["distance,duration"]
        src = [int(i) for i in q["sources"][0].split(";")]
        dst = [int(i) for i in q["destinations"][0].split(";")]
        lon = [c[0] for c in coords]
        dist: list[list[float | None]] = [[1000.0 * abs(lon[i] - lon[j]) for j in dst] for i in src]
        dur: list[list[float | None]] = [[100.0 * abs(lon[i] - lon[j]) for j in dst] for i in src]
        if lon[src[0]] == 0 and lon[dst[-1]] == 4:  # one unroutable pair → null
            dist[0][-1] = None
            dur[0][-1] = None
        self._send(200, {"code": "Ok", "distances": dist, "durations": dur})

    def do_POST(self) -> None:
        type(self).requests_seen.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert self.path == "/sources_to_targets" and body["costing"] == "truck"
        table = [
            [
                {"distance": abs(s["lon"] - t["lon"]), "time": 100 * abs(s["lon"] - t["lon"])}
                for t in body["targets"]
            ]
            for s in body["sources"]
        ]
        self._send(200, {"sources_to_targets": table})


@pytest.fixture()
def server() -> Iterator[str]:
    _FakeRouting.requests_seen = []
    _FakeRouting.fail = False
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _FakeRouting)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _expected(n: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(n)
    diff = np.abs(idx[:, None] - idx[None, :])
    return 1000 * diff, 100 * diff


def test_osrm_table_client_in_blocks(server: str) -> None:
    pts = [Point(lat=43.5, lon=float(i)) for i in range(5)]
    m = build_matrices(pts, OsrmProvider(server, block_size=4, timeout_s=5))
    dist, dur = _expected(5)
    dist[0, 4] = m.distance_m[0, 4]  # the null cell is estimated (haversine), checked below
    dur[0, 4] = m.duration_s[0, 4]
    assert np.array_equal(m.distance_m, dist)
    assert np.array_equal(m.duration_s, dur)
    assert m.distance_m[0, 4] > 4 * 80_000  # 4° of longitude at 43.5° N ≈ 322 km, ×1.5
    # 5 points, blocks of 2 sources × 2 destinations → 3 × 3 requests
    assert len(_FakeRouting.requests_seen) == 9
    assert m.provider.startswith("osrm:")


def test_osrm_error_raises_matrix_error(server: str) -> None:
    _FakeRouting.fail = True
    with pytest.raises(MatrixError, match="TooBig"):
        OsrmProvider(server).matrices([Point(43.5, 0.0), Point(43.5, 1.0)])
    with pytest.raises(MatrixError, match="request failed"):
        OsrmProvider("http://127.0.0.1:9", timeout_s=0.5).matrices([Point(43.5, 0.0), Point(43.5, 1.0)])


def test_osrm_results_are_cached(server: str) -> None:
    pts = [Point(lat=43.5, lon=float(i)) for i in range(3)]
    cache = DictCache()
    first: Matrices = build_matrices(pts, OsrmProvider(server), cache)
    n = len(_FakeRouting.requests_seen)
    second = build_matrices(pts, OsrmProvider(server), cache)
    assert len(_FakeRouting.requests_seen) == n == 1
    assert np.array_equal(first.distance_m, second.distance_m)


def test_valhalla_sources_to_targets(server: str) -> None:
    pts = [Point(lat=43.5, lon=float(i)) for i in range(4)]
    m = ValhallaProvider(server, block_size=3).matrices(pts)
    dist, dur = _expected(4)
    assert np.array_equal(m.distance_m, dist)  # km → m
    assert np.array_equal(m.duration_s, dur)
    assert set(_FakeRouting.requests_seen) == {"/sources_to_targets"}

"""VRPLIB reading/solving and the `routes solve` management command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from plugins.delivery_routing.routing.vrplib_io import (
    InstanceError,
    check_routes,
    read_instance,
    route_cost,
    solve_instance,
)

# One X instance and its best-known solution (MIT, PyVRP's instance set), kept with the tests so a
# clone anywhere runs them; benchmarks/routing_bks.py reads the full set from ../shared/data/routing.
REPO = Path(__file__).resolve().parents[3]
DATA = Path(__file__).resolve().parent / "data"
X101 = DATA / "X-n101-k25.vrp"

VRPTW = """NAME : tiny-tw
TYPE : VRPTW
DIMENSION : 5
VEHICLES : 2
CAPACITY : 10
EDGE_WEIGHT_TYPE : EUC_2D
NODE_COORD_SECTION
1 0 0
2 10 0
3 0 10
4 -10 0
5 0 -10
DEMAND_SECTION
1 0
2 4
3 4
4 4
5 4
TIME_WINDOW_SECTION
1 0 200
2 50 60
3 0 15
4 0 200
5 0 200
SERVICE_TIME_SECTION
1 0
2 5
3 5
4 5
5 5
DEPOT_SECTION
1
-1
EOF
"""


def test_x_n101_k25_within_a_few_percent_of_bks() -> None:
    result = solve_instance(X101, seconds=2.0, seed=1)
    assert set(result) == {"cost", "routes", "feasible"}
    assert result["feasible"] is True
    visited = sorted(c for r in result["routes"] for c in r)
    assert visited == list(range(1, 101))  # clients 1..n, depot excluded, each once
    inst = read_instance(X101)
    assert result["cost"] == route_cost(inst, result["routes"])
    assert 27591 <= result["cost"] <= 27591 * 1.03
    assert json.loads(json.dumps(result)) == result


def test_bks_solution_file_cost_matches_rounding_convention() -> None:
    inst = read_instance(X101)
    routes = [
        [int(x) for x in line.split(":", 1)[1].split()]
        for line in (DATA / "X-n101-k25.sol").read_text().splitlines()
        if line.startswith("Route")
    ]
    assert check_routes(inst, routes) == []
    assert route_cost(inst, routes) == 27591


def test_vrptw_sections_are_honoured(tmp_path: Path) -> None:
    path = tmp_path / "tiny.vrp"
    path.write_text(VRPTW)
    inst = read_instance(path)
    assert inst.has_time_windows and inst.num_vehicles == 2
    assert inst.service[1:] == [5, 5, 5, 5]
    result = solve_instance(path, seconds=0.3, seed=0)
    assert result["feasible"] is True
    assert sorted(c for r in result["routes"] for c in r) == [1, 2, 3, 4]
    assert len(result["routes"]) == 2  # 16 units of demand, capacity 10
    # node 2 (0,10) closes at 15: it must be first on its route; node 1 opens at 50.
    route_with_2 = next(r for r in result["routes"] if 2 in r)
    assert route_with_2[0] == 2
    assert check_routes(inst, result["routes"]) == []
    # A deliberately bad order violates node 2's window.
    assert any("client 2" in p for p in check_routes(inst, [[3, 2], [1, 4]]))


def test_bad_instances_raise_instance_error(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match="not found"):
        read_instance(tmp_path / "missing.vrp")
    junk = tmp_path / "junk.vrp"
    junk.write_text("this is not\na VRPLIB file\n")
    with pytest.raises(InstanceError):
        read_instance(junk)
    with pytest.raises(ValueError):
        solve_instance(junk, seconds=0)


def _run_command(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from plugins.delivery_routing.management.commands.routes import Command; "
        "Command().run_from_argv(['manage.py', 'routes', *sys.argv[1:]])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )


def test_routes_command_prints_one_json_line(tmp_path: Path) -> None:
    path = tmp_path / "tiny.vrp"
    path.write_text(VRPTW)
    proc = _run_command("solve", "--instance", str(path), "--seconds", "0.3", "--seed", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert out["feasible"] is True and isinstance(out["cost"], int)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["solve", "--instance", "/nonexistent/x.vrp", "--seconds", "1"], "not found"),
        (["solve", "--instance", "__JUNK__", "--seconds", "1"], "cannot read"),
        (["solve", "--instance", "__TINY__", "--seconds", "0"], "must be positive"),
        (["solve", "--instance", "__TINY__", "--seconds", "-3"], "must be positive"),
    ],
)
def test_routes_command_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    junk = tmp_path / "junk.vrp"
    junk.write_text("garbage\n")
    tiny = tmp_path / "tiny.vrp"
    tiny.write_text(VRPTW)
    args = [str(junk) if a == "__JUNK__" else str(tiny) if a == "__TINY__" else a for a in args]
    proc = _run_command(*args)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""

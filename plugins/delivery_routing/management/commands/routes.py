"""``python manage.py routes solve --instance FILE --seconds S --seed N``

Prints one JSON line ``{"cost": …, "routes": [[client, …], …], "feasible": …}``.
All logic lives in :mod:`plugins.delivery_routing.routing.vrplib_io`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from plugins.delivery_routing.routing.vrplib_io import ROUNDING, InstanceError, solve_instance


class Command(BaseCommand):
    help = "Delivery routing tools. `routes solve` solves a VRPLIB/Solomon instance and prints JSON."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        solve = sub.add_parser("solve", help="solve a VRPLIB (CVRP / VRPTW) or Solomon instance")
        solve.add_argument("--instance", required=True, help="path of the .vrp / .txt instance")
        solve.add_argument("--seconds", type=float, default=10.0, help="time budget in seconds (> 0)")
        solve.add_argument("--seed", type=int, default=0, help="random seed")
        solve.add_argument(
            "--rounding",
            choices=sorted(ROUNDING),
            default=None,
            help="distance rounding convention (default: round for VRPLIB, dimacs for Solomon)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] != "solve":  # pragma: no cover - argparse enforces the choice
            raise CommandError(f"unknown action {options['action']!r}")
        seconds = options["seconds"]
        if not seconds > 0:
            raise CommandError(f"--seconds must be positive, got {seconds}")
        path = Path(options["instance"])
        if not path.is_file():
            raise CommandError(f"instance file not found: {path}")
        try:
            result = solve_instance(path, seconds, options["seed"], options["rounding"])
        except InstanceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(result, separators=(", ", ": ")))

import time

from django.core.management.base import BaseCommand, CommandError

from marketplace.core.province import generate_province, reset_province


class Command(BaseCommand):
    help = "Generate province-scale benchmark data (7,200 stations by default). Not for production."

    def add_arguments(self, parser):
        parser.add_argument("--stations", type=int, default=7200)
        parser.add_argument("--farmers-per-station", type=int, default=30)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--reset", action="store_true", help="Delete previously generated data first.")

    def handle(self, *args, stations: int, farmers_per_station: int, seed: int, reset: bool, **options):
        if stations <= 0 or farmers_per_station < 0:
            raise CommandError("--stations must be positive and --farmers-per-station not negative")
        started = time.perf_counter()
        if reset:
            reset_province()
        try:
            summary = generate_province(stations, farmers_per_station, seed)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Generated {summary.stations} stations in {summary.counties} counties with "
            f"{summary.households} households in {time.perf_counter() - started:.1f}s"
        )

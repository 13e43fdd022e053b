import time

from django.core.management.base import BaseCommand, CommandError

from marketplace.core.province import generate_province, reset_province
from marketplace.core.province_catalogue import SUPPLIERS, generate_products


class Command(BaseCommand):
    help = (
        "Generate province-scale benchmark data (7,200 stations by default; --products N adds a "
        "catalogue of N products, e.g. 50000). Not for production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--stations", type=int, default=7200, help="0: no stations (catalogue only).")
        parser.add_argument("--farmers-per-station", type=int, default=30)
        parser.add_argument(
            "--products", type=int, default=0, help="Products to generate (50000 at full size)."
        )
        parser.add_argument("--suppliers", type=int, default=SUPPLIERS, help="Suppliers selling them.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--reset", action="store_true", help="Delete previously generated stations first."
        )

    def handle(
        self,
        *args,
        stations: int,
        farmers_per_station: int,
        products: int,
        suppliers: int,
        seed: int,
        reset: bool,
        **options,
    ):
        if stations < 0 or farmers_per_station < 0 or products < 0 or suppliers <= 0:
            raise CommandError("--stations, --farmers-per-station and --products must not be negative")
        if stations == 0 and products == 0:
            raise CommandError("nothing to generate: give --stations and/or --products")
        started = time.perf_counter()
        if reset:
            reset_province()
        try:
            if stations:
                summary = generate_province(stations, farmers_per_station, seed)
                self.stdout.write(
                    f"Generated {summary.stations} stations in {summary.counties} counties with "
                    f"{summary.households} households in {time.perf_counter() - started:.1f}s"
                )
            if products:
                count = generate_products(products, suppliers, log=lambda line: self.stdout.write(line))
                self.stdout.write(f"{count} generated products in {time.perf_counter() - started:.1f}s")
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

from django.core.management.base import BaseCommand

from marketplace.core.demo import DEMO_PASSWORD, seed_demo


class Command(BaseCommand):
    help = "Load deterministic demo data (one county: 长春市双阳区). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument("--villages", type=int, default=60)
        parser.add_argument("--households", type=int, default=500)
        parser.add_argument("--seed", type=int, default=2020)

    def handle(self, *args, villages: int, households: int, seed: int, **options):
        summary = seed_demo(villages=villages, households=households, seed=seed)
        self.stdout.write(
            f"Demo data: {summary.stations} stations, {summary.households} households, "
            f"{summary.suppliers} suppliers, {summary.cooperatives} cooperatives, {summary.products} stock records"
        )
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for role, username in summary.logins.items():
            self.stdout.write(f"  {role:<32} {username}")

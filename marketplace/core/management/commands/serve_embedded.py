"""Serve the marketplace in the embedded default: one process, periodic tasks in a thread."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from marketplace.core.demo import DEMO_PASSWORD


class Command(BaseCommand):
    help = "Migrate, load demo data and serve (embedded default: SQLite, no broker, database search)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")

    def handle(self, *args, addr: str, no_demo: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            call_command("seed_demo", stdout=self.stdout)
        if settings.CELERY_TASK_ALWAYS_EAGER:
            from marketplace.core.periodic import start_in_thread

            start_in_thread(interval=60)
            self.stdout.write("Periodic tasks: running in-process (no broker configured).")
        self.stdout.write(
            self.style.SUCCESS(f"\nMarketplace: http://{addr}/   (GraphQL: http://{addr}/graphql/)")
        )
        if not no_demo:
            self.stdout.write(f"Log in with any demo login above, password {DEMO_PASSWORD}\n")
        call_command("runserver", addr, use_reloader=False, use_threading=True)

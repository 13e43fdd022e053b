from django.core.management.base import BaseCommand

from marketplace.core.periodic import EmbeddedBeat


class Command(BaseCommand):
    help = (
        "Run the periodic-task schedule (core + plugins) in this process, without a broker. "
        "With a broker, run `celery -A marketplace beat` instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run every task once now and exit.")
        parser.add_argument("--interval", type=float, default=30.0, help="Seconds between schedule checks.")
        parser.add_argument("--list", action="store_true", help="List the schedule and exit.")

    def handle(self, *args, once: bool, interval: float, list: bool, **options):
        beat = EmbeddedBeat()
        if list:
            for name, entry in sorted(beat.entries.items()):
                self.stdout.write(f"{name:<48} {entry['task']}  every {entry['schedule']}")
            return
        if once:
            ran = beat.run_due(force=True)
            self.stdout.write(f"Ran {len(ran)} periodic task(s): {', '.join(ran)}")
            return
        self.stdout.write(
            f"Running {len(beat.entries)} periodic task(s); checking every {interval:.0f}s. Ctrl-C stops."
        )
        try:
            beat.run_forever(interval)
        except KeyboardInterrupt:
            pass

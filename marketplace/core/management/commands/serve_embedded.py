"""Serve the marketplace in the embedded default through gunicorn (what bin/demo runs).

Migrates, loads the demo data, collects the static files (hashed names, Brotli + gzip, served by
WhiteNoise with far-future caching; skipped when nothing changed since the last run), then
replaces this process with gunicorn using deploy/gunicorn.conf.py — the production server and
configuration — with one worker whose thread runs the periodic tasks when there is no broker.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from marketplace.core.demo import DEMO_PASSWORD

GUNICORN_CONF = Path(settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"
FINGERPRINT_FILE = ".collectstatic-fingerprint"


def static_fingerprint() -> str:
    """A hash of every static source file's path, size and mtime (stat only: fast)."""
    digest = hashlib.sha256()
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            full = storage.path(path)
            st = os.stat(full)
            digest.update(f"{path}\0{full}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def collect_static(env: dict[str, str], stdout) -> bool:  # noqa: ANN001
    """Run collectstatic with the manifest storage unless the sources are unchanged; True if it ran."""
    root = Path(settings.STATIC_ROOT)
    stamp = root / FINGERPRINT_FILE
    fingerprint = static_fingerprint()
    if stamp.exists() and stamp.read_text() == fingerprint and (root / "staticfiles.json").exists():
        return False
    stdout.write("Collecting and compressing static files (once; later starts reuse them)...")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "-v0"],
        cwd=settings.BASE_DIR,
        env=env,
        check=True,
    )
    stamp.write_text(fingerprint)
    return True


class Command(BaseCommand):
    help = "Migrate, load demo data and serve through gunicorn (embedded default: SQLite, no broker)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--no-demo", action="store_true", help="Do not load demo data.")
        parser.add_argument(
            "--workers",
            type=int,
            default=int(os.environ.get("GUNICORN_WORKERS", "1")),
            help="gunicorn worker processes (default 1: the periodic thread runs in each).",
        )

    def handle(self, *args, addr: str, no_demo: bool, workers: int, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not no_demo:
            call_command("seed_demo", stdout=self.stdout)
        env = dict(os.environ)
        env["STATIC_MANIFEST"] = "1"
        # Serve as production does: DEBUG off (hashed static URLs, no debug pages) unless asked.
        env.setdefault("DJANGO_DEBUG", "0")
        env["GUNICORN_BIND"] = addr
        env["GUNICORN_WORKERS"] = str(workers)
        env.setdefault("GUNICORN_THREADS", "8")
        if settings.CELERY_TASK_ALWAYS_EAGER:
            env["MARKETPLACE_EMBEDDED_BEAT"] = "1"
        collect_static(env, self.stdout)
        self.stdout.write(
            self.style.SUCCESS(f"\nMarketplace: http://{addr}/   (GraphQL: http://{addr}/graphql/)")
        )
        if not no_demo:
            self.stdout.write(f"Log in with any demo login above, password {DEMO_PASSWORD}\n")
        self.stdout.flush()
        argv = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "marketplace.wsgi:application"]
        os.chdir(settings.BASE_DIR)
        try:
            os.execve(sys.executable, argv, env)
        except OSError as exc:
            raise CommandError(f"could not start gunicorn: {exc}") from exc

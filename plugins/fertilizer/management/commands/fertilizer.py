"""``python manage.py fertilizer calc``: one JSON request on stdin -> one JSON answer on stdout.
``python manage.py fertilizer import FILE --user NAME``: all-or-nothing import of a lab result file
(CSV or XLSX) as that user (an agronomist or operator; tenancy applies).

Errors (invalid JSON, a bad field, no feasible blend, bad import rows) exit non-zero with one line
per problem on stderr naming the field (import: row and column); no traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from plugins.fertilizer.agronomy.calc import CalcError, handle


class Command(BaseCommand):
    help = (
        "Fertilizer calculator and soil-test import. 'calc' reads one JSON request from stdin and prints "
        "one JSON answer; 'import FILE --user NAME' imports a CSV/XLSX lab result file."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["calc", "import"], help="calc | import")
        parser.add_argument("file", nargs="?", help="import: the CSV or XLSX file")
        parser.add_argument("--user", help="import: username of the agronomist/operator importing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            self._import(options)
            return
        raw = sys.stdin.read()
        try:
            request = json.loads(raw)
        except json.JSONDecodeError as e:
            raise CommandError(f"invalid JSON request: {e}", returncode=2) from None
        try:
            answer = handle(request)
        except CalcError as e:
            where = e.field or "request"
            raise CommandError(f"{where}: {e.message} [{e.code}]", returncode=2) from None
        self.stdout.write(json.dumps(answer, ensure_ascii=False))

    def _import(self, options: dict[str, Any]) -> None:
        from marketplace.accounts.models import User
        from plugins.fertilizer.services import ImportFailed, import_soil_tests

        if not options.get("file") or not options.get("user"):
            raise CommandError("usage: fertilizer import FILE --user USERNAME", returncode=2)
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"file not found: {path}", returncode=2)
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"unknown user {options['user']!r}", returncode=2)
        try:
            batch = import_soil_tests(user, path.name, path.read_bytes())
        except ImportFailed as e:
            for err in e.row_errors:
                self.stderr.write(f"row {err.row}, {err.column or '-'}: {err.message} [{err.code}]")
            raise CommandError(f"nothing imported: {len(e.row_errors)} error(s)", returncode=2) from None
        except (ValidationError, PermissionDenied) as e:
            raise CommandError(f"{e}", returncode=2) from None
        self.stdout.write(f"imported {batch.row_count} soil test(s), batch {batch.pk}")

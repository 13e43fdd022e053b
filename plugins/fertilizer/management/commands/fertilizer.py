"""``python manage.py fertilizer calc``: one JSON request on stdin -> one JSON answer on stdout.

Errors (invalid JSON, a bad field, no feasible blend) exit non-zero with a one-line message on
stderr naming the field; no traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from plugins.fertilizer.agronomy.calc import CalcError, handle


class Command(BaseCommand):
    help = "Fertilizer calculator. 'calc' reads one JSON request from stdin and prints one JSON answer."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["calc"], help="calc: JSON request on stdin, answer on stdout")

    def handle(self, *args: Any, **options: Any) -> None:
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

"""deploy/backup.sh and deploy/restore.sh against the real PostgreSQL: back up a database with
money in it and media files, drop it, restore, and compare row counts, money-table checksums
(computed here, independently of the scripts' own check) and the media files."""

from __future__ import annotations

import hashlib
import os
import subprocess
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connection, connections

from marketplace.payments import services as pay

ROOT = Path(__file__).resolve().parents[2]
MONEY_TABLES = [
    "payments_payment",
    "payments_ledgerentry",
    "order_order",
    "order_line",
    "group_orders_pledge",
]


def _url(dbname: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{dbname}"


def _state(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema='public' AND table_type='BASE TABLE'"
            )
        ]
        state = {f"rows:{t}": str(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in tables}
        for t in MONEY_TABLES:
            rows = conn.execute(f'SELECT x::text FROM "{t}" x ORDER BY 1').fetchall()
            state[f"sha:{t}"] = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
        state["sum:ledger"] = str(
            conn.execute("SELECT coalesce(sum(amount), 0) FROM payments_ledgerentry").fetchone()[0]
        )
    return state


def _media_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def _run(script: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(ROOT / "deploy" / script), str(folder)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_backup_drop_restore_round_trip(staff_a, household_a, tmp_path):
    assert connection.vendor == "postgresql", "backup/restore is tested on PostgreSQL (set DATABASE_URL)"
    pay.record_cash(staff_a, household_a, Decimal("300.00"), "GB1", "backup-cash-1")
    pay.record_cash(staff_a, household_a, Decimal("125.50"), "GB2", "backup-cash-2")

    scratch = f"mk_backup_{uuid.uuid4().hex[:8]}"
    connections.close_all()
    source = connection.settings_dict["NAME"]
    with psycopg.connect(_url("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{scratch}"')
    # A copy of the test database to back up and destroy. Not CREATE DATABASE … TEMPLATE: that needs
    # every other session off the source, and the live server of the browser tests keeps one.
    dump = subprocess.run(
        ["pg_dump", "--no-owner", "--no-privileges", _url(source)], capture_output=True, check=True
    )
    subprocess.run(
        ["psql", "-q", "-v", "ON_ERROR_STOP=1", _url(scratch)], input=dump.stdout, capture_output=True, check=True
    )
    url = _url(scratch)
    media = tmp_path / "media"
    (media / "licences" / "2026").mkdir(parents=True)
    (media / "licences" / "2026" / "licence.pdf").write_bytes(b"%PDF-1.4 licence " + os.urandom(2048))
    (media / "images").mkdir()
    (media / "images" / "p1.png").write_bytes(os.urandom(4096))
    env = {"DATABASE_URL": url, "MEDIA_ROOT": str(media)}
    try:
        before = _state(url)
        assert before["rows:payments_ledgerentry"] != "0" and before["sum:ledger"] != "0"
        files_before = _media_digest(media)

        backup = tmp_path / "backup"
        result = _run("backup.sh", backup, env)
        assert result.returncode == 0, result.stderr
        assert {"db.dump", "media.tar.gz", "fingerprint.tsv", "SHA256SUMS"} <= {
            p.name for p in backup.iterdir()
        }

        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{scratch}"')
        for p in sorted(media.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()

        result = _run("restore.sh", backup, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "money checksums match" in result.stdout
        assert _state(url) == before
        assert _media_digest(media) == files_before

        # Restoring over a live database is refused; a corrupt dump is refused.
        again = _run("restore.sh", backup, env)
        assert again.returncode == 2 and "not empty" in again.stderr
        with open(backup / "db.dump", "r+b") as f:
            f.seek(100)
            f.write(b"corrupt")
        corrupt = _run("restore.sh", backup, {**env, "DATABASE_URL": _url(scratch + "_x")})
        assert corrupt.returncode != 0
    finally:
        with psycopg.connect(_url("postgres"), autocommit=True) as admin:
            for name in (scratch, scratch + "_x"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

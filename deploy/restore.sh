#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh into DATABASE_URL (created when missing; must be empty
# or absent) and MEDIA_ROOT, then compare row counts and money-table checksums with the backup's.
#   DATABASE_URL=postgres://... MEDIA_ROOT=/srv/marketplace/media deploy/restore.sh /backups/2026-03-01
# Exits non-zero when a file is corrupt, the restore fails or the fingerprints differ.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${1:?usage: restore.sh BACKUP_FOLDER}"
: "${DATABASE_URL:?DATABASE_URL must be set}"
(cd "$src" && sha256sum --quiet -c SHA256SUMS)

# Create the database when it does not exist (connect to the server's "postgres" database).
read -r admin_url db_name < <(python3 - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
u = urlsplit(sys.argv[1])
print(urlunsplit(u._replace(path="/postgres")), u.path.lstrip("/"))
PY
)
exists=$(psql "$admin_url" -X -tAc "SELECT 1 FROM pg_database WHERE datname = '${db_name//\'/\'\'}'")
if [ "$exists" != "1" ]; then
  psql "$admin_url" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"${db_name//\"/\"\"}\""
fi
tables=$(psql "$DATABASE_URL" -X -tAc "SELECT count(*) FROM information_schema.tables WHERE table_schema='public'")
if [ "$tables" != "0" ]; then
  echo "restore: database $db_name is not empty ($tables tables); restore into a new or dropped database" >&2
  exit 2
fi

pg_restore --no-owner --no-privileges --exit-on-error --single-transaction --dbname "$DATABASE_URL" "$src/db.dump"
psql "$DATABASE_URL" -X -q -c "ANALYZE" >/dev/null

if [ -f "$src/media.tar.gz" ]; then
  : "${MEDIA_ROOT:?MEDIA_ROOT must be set to restore media}"
  mkdir -p "$MEDIA_ROOT"
  tar -C "$MEDIA_ROOT" -xzf "$src/media.tar.gz"
fi
if [ -f "$src/private.tar.gz" ]; then
  : "${PRIVATE_MEDIA_ROOT:?PRIVATE_MEDIA_ROOT must be set to restore private files}"
  mkdir -p "$PRIVATE_MEDIA_ROOT"
  tar -C "$PRIVATE_MEDIA_ROOT" -xzf "$src/private.tar.gz"
fi

psql "$DATABASE_URL" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 -f "$here/db_fingerprint.sql" > "$src/fingerprint.restored.tsv"
if ! diff -u "$src/fingerprint.tsv" "$src/fingerprint.restored.tsv"; then
  echo "restore: row counts or money checksums differ from the backup" >&2
  exit 3
fi
echo "restore: $db_name restored; $(grep -c '^rows:' "$src/fingerprint.tsv") tables and $(grep -c '^md5:' "$src/fingerprint.tsv") money checksums match"

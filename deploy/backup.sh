#!/usr/bin/env bash
# Back up the database (pg_dump, custom format) and the media files into one folder.
#   DATABASE_URL=postgres://... MEDIA_ROOT=/srv/marketplace/media deploy/backup.sh /backups/2026-03-01
# Writes db.dump, media.tar.gz (when MEDIA_ROOT is a folder; S3 media: see docs/runbook.md),
# private.tar.gz (when PRIVATE_MEDIA_ROOT is a folder: licence scans, question photos),
# fingerprint.tsv (row counts + money-table checksums, checked by restore.sh) and SHA256SUMS.
# The dump is consistent (one snapshot) and taken while the site runs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:?usage: backup.sh DESTINATION_FOLDER}"
: "${DATABASE_URL:?DATABASE_URL must be set}"
mkdir -p "$dest"
umask 077

# One snapshot for the dump and the fingerprint: a read-only REPEATABLE READ transaction exports
# its snapshot, writes the fingerprint, and stays open while pg_dump reads the same snapshot.
work="$(mktemp -d)"
trap 'exec 3>&- 2>/dev/null || true; rm -rf "$work"' EXIT
mkfifo "$work/in"
psql "$DATABASE_URL" -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 < "$work/in" > "$work/psql.log" 2>&1 &
psql_pid=$!
exec 3>"$work/in"
cat >&3 <<SQL
BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
\\o $work/snapshot
SELECT pg_export_snapshot();
\\o $work/fingerprint.tsv
\\i $here/db_fingerprint.sql
\\o $work/ready
SELECT 'ready';
\\o
SQL
for _ in $(seq 1 600); do
  [ -s "$work/ready" ] && break
  kill -0 "$psql_pid" 2>/dev/null || { cat "$work/psql.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/ready" ] || { echo "backup: no snapshot from PostgreSQL" >&2; exit 1; }
pg_dump --snapshot="$(tr -d '[:space:]' < "$work/snapshot")" --format=custom --compress=6 \
  --no-owner --no-privileges --file "$dest/db.dump" "$DATABASE_URL"
echo "COMMIT;" >&3
exec 3>&-
wait "$psql_pid"
cp "$work/fingerprint.tsv" "$dest/fingerprint.tsv"

if [ -n "${MEDIA_ROOT:-}" ] && [ -d "$MEDIA_ROOT" ]; then
  tar -C "$MEDIA_ROOT" -czf "$dest/media.tar.gz" .
fi
if [ -n "${PRIVATE_MEDIA_ROOT:-}" ] && [ -d "$PRIVATE_MEDIA_ROOT" ]; then
  tar -C "$PRIVATE_MEDIA_ROOT" -czf "$dest/private.tar.gz" .
fi
(cd "$dest" && sha256sum db.dump $( [ -f media.tar.gz ] && echo media.tar.gz ) \
  $( [ -f private.tar.gz ] && echo private.tar.gz ) > SHA256SUMS)
echo "backup: $(du -sh "$dest" | cut -f1) in $dest ($(grep -c '^rows:' "$dest/fingerprint.tsv") tables)"

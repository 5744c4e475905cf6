#!/usr/bin/env bash
# Backup-and-restore drill (issue 20): pg_dump a campusid database, restore the dump into a new
# database, and check the copy with `campusid db check` (migrations at head, tables match the
# models, every table's row count equal to the source's).
#
#   scripts/restore_drill.sh postgresql://USER@HOST:5432/campusid
#
# The URL is libpq's (as psql takes it; a password comes from ~/.pgpass or PGPASSWORD, never the
# command line). The copy is `<name>_restore_drill`, dropped at the end (KEEP=1 keeps it). The
# dump is pg_dump's custom format (-Fc), what production backups should be too: pg_restore can
# then restore a single table. CAMPUSID names the command (default: campusid on the PATH).
set -euo pipefail

source_url="${1:?usage: restore_drill.sh postgresql://user@host:port/database}"
campusid="${CAMPUSID:-campusid}"
base="${source_url%/*}"
name="${source_url##*/}"
name="${name%%\?*}"
copy="${name}_restore_drill"
work="$(mktemp -d)"
to_sqlalchemy() { printf '%s' "${1/#postgresql:\/\//postgresql+psycopg://}"; }

cleanup() {
  rm -rf "$work"
  if [ "${KEEP:-0}" != "1" ]; then
    psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS \"$copy\" WITH (FORCE)" >/dev/null || true
  fi
}
trap cleanup EXIT

started=$(date +%s)
echo "restore drill: dumping $name"
pg_dump --format=custom --no-owner --file="$work/dump" "$source_url"
echo "restore drill: counting the source's rows"
CAMPUSID_DATABASE_URL="$(to_sqlalchemy "$source_url")" $campusid db check --write-counts "$work/source.json"
echo "restore drill: restoring into $copy"
psql -q -v ON_ERROR_STOP=1 "$base/postgres" -c "DROP DATABASE IF EXISTS \"$copy\" WITH (FORCE)" \
  -c "CREATE DATABASE \"$copy\""
pg_restore --no-owner --exit-on-error --dbname="$base/$copy" "$work/dump"
echo "restore drill: checking the copy"
CAMPUSID_DATABASE_URL="$(to_sqlalchemy "$base/$copy")" $campusid db check --expect-counts "$work/source.json"
echo "restore drill: passed in $(( $(date +%s) - started )) s"

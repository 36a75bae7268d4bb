#!/usr/bin/env bash
# Plain-SQL, gzipped backup of Baton's database into storage/backups/baton-<UTC timestamp>.sql.gz.
# Backs up DATABASE_URL when set, else the embedded database of `npm start`
# (postgres://postgres:postgres@127.0.0.1:${BATON_PG_PORT:-54329}/baton).
# pg_dump must be at least as new as the server (the embedded server is PostgreSQL 18).
# Restore: gunzip -c storage/backups/baton-....sql.gz | psql "$DATABASE_URL"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
url="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:${BATON_PG_PORT:-54329}/baton}"
dir="${root}/storage/backups"
file="${dir}/baton-$(date -u +%Y%m%dT%H%M%SZ).sql.gz"

command -v pg_dump >/dev/null || { echo "pg_dump not found: install the PostgreSQL client tools" >&2; exit 1; }
mkdir -p "${dir}"
# Remove a partial file if pg_dump or gzip fails (pipefail makes the pipeline fail with either).
trap 'rm -f "${file}"' ERR
pg_dump --dbname="${url}" --no-owner --no-privileges --format=plain | gzip -9 >"${file}"
trap - ERR
echo "${file}"

#!/usr/bin/env bash
# Backs up one PostgreSQL database with pg_dump in directory format, 4 jobs in parallel, streamed into S3 by
# `diskless run`: every file pg_dump writes (toc.dat, one NNNN.dat.gz per table, the large objects) becomes one object
# under a dated prefix, several at once, and nothing lands on the local disk. The backup is complete only once
# PREFIX/diskless-manifest.json exists: diskless writes it last, and only if pg_dump exited 0 and every file was
# stored. Any failure: no manifest, the run's objects deleted, and a non-zero exit (4: S3 failed, 5: pg_dump failed).
#
# Prerequisites:
#   - diskless (Node.js >= 20) on PATH, or DISKLESS=/path/to/bin/diskless.js
#   - pg_dump of the server's major version or newer (Debian 12: apt-get install postgresql-client-15)
#   - the server reachable without a password prompt: PGHOST/PGPORT/PGUSER as usual, and a password (if any) in
#     ~/.pgpass or PGPASSWORD; the user needs SELECT on everything dumped
#   - S3 credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in ~/.aws, and an existing bucket
# Do not add --no-sync: pg_dump's sync pass works under diskless. Other formats, what differs from a local dump, and
# how to restore (download the prefix, then pg_restore -j 4 -d NEWDB DIR/db): docs/tools/postgresql.md.
set -euo pipefail

DBNAME=${DBNAME:-postgres}                   # the database to dump
BUCKET=${BUCKET:-backups}
PREFIX=${PREFIX:-postgresql/$(hostname -s)/$DBNAME/$(date -u +%Y-%m-%dT%H%M%SZ)}
ENDPOINT=${ENDPOINT:-}                       # empty for AWS; e.g. http://127.0.0.1:19001 for a local Ceph RGW
JOBS=${JOBS:-4}                              # pg_dump -j: tables dumped (and files streamed) at once
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin} # Debian's /usr/bin/pg_dump is a wrapper script: name the binary
OUT=${OUT:-/tmp/diskless-pg_dump.$$}         # the virtual directory: must be empty or absent; stays empty
DISKLESS=${DISKLESS:-diskless}

endpoint=()
[ -n "$ENDPOINT" ] && endpoint=(--endpoint-url "$ENDPOINT")
# Afterwards only the empty directory the tool made is left in $OUT: remove it (rmdir: never anything else).
trap 'rmdir "$OUT/db" "$OUT" 2>/dev/null || true' EXIT

# The objects: $PREFIX/db/toc.dat, $PREFIX/db/*.dat.gz, $PREFIX/diskless-manifest.json.
"$DISKLESS" run "${endpoint[@]}" --to "s3://$BUCKET/$PREFIX/" --dir "$OUT" -- \
  "$PG_BIN/pg_dump" -Fd -j "$JOBS" -f "$OUT/db" -d "$DBNAME"

echo "backup stored: s3://$BUCKET/$PREFIX/ (manifest: s3://$BUCKET/$PREFIX/diskless-manifest.json)"

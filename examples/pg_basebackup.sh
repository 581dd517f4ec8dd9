#!/usr/bin/env bash
# Takes a base backup of a whole PostgreSQL cluster with pg_basebackup in tar format, streamed into S3 by
# `diskless run`: base.tar (the data directory, with the WAL needed to make it consistent inside) and backup_manifest
# become two objects under a dated prefix; nothing lands on the local disk. The backup is complete only once
# PREFIX/diskless-manifest.json exists: diskless writes it last, and only if pg_basebackup exited 0 and both files
# were stored. Any failure: no manifest, the run's objects deleted, and a non-zero exit (4: S3 failed, 5: the tool
# failed).
#
# -X fetch, not the default -X stream: in stream mode pg_basebackup writes pg_wal.tar with seeks, which a stream to
# S3 cannot do (it fails, and diskless exits 5 with a hint). -X fetch copies the WAL at the end of the backup, so the
# server must still have it then: set wal_keep_size above the WAL written during a backup. WAL_METHOD=none is for
# servers whose WAL is archived elsewhere (the backup then needs that archive to be restored).
#
# Prerequisites:
#   - diskless (Node.js >= 20) on PATH, or DISKLESS=/path/to/bin/diskless.js
#   - pg_basebackup of the server's major version (Debian 12: apt-get install postgresql-client-15)
#   - a role with REPLICATION, a `replication` line in pg_hba.conf, max_wal_senders >= 1 (the default is 10);
#     PGHOST/PGPORT/PGUSER as usual, a password (if any) in ~/.pgpass or PGPASSWORD
#   - S3 credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in ~/.aws, and an existing bucket
# Restore (extract base.tar into an empty data directory owned by postgres, mode 0700, optionally pg_verifybackup,
# then start): docs/tools/postgresql.md.
set -euo pipefail

BUCKET=${BUCKET:-backups}
PREFIX=${PREFIX:-postgresql/$(hostname -s)/basebackup/$(date -u +%Y-%m-%dT%H%M%SZ)}
ENDPOINT=${ENDPOINT:-}                       # empty for AWS; e.g. http://127.0.0.1:19001 for a local Ceph RGW
WAL_METHOD=${WAL_METHOD:-fetch}              # fetch or none; never stream (see above)
CHECKPOINT=${CHECKPOINT:-fast}               # fast: start now; spread: gentler on the server, may wait minutes
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin} # Debian's /usr/bin/pg_basebackup is a wrapper script: name the binary
OUT=${OUT:-/tmp/diskless-pg_basebackup.$$}   # the virtual directory: must be empty or absent; stays empty
DISKLESS=${DISKLESS:-diskless}

case "$WAL_METHOD" in
  fetch | none) ;;
  *) echo "WAL_METHOD must be fetch or none (stream needs seeks on pg_wal.tar)" >&2; exit 2 ;;
esac
endpoint=()
[ -n "$ENDPOINT" ] && endpoint=(--endpoint-url "$ENDPOINT")
# Afterwards only the empty directory the tool made is left in $OUT: remove it (rmdir: never anything else).
trap 'rmdir "$OUT/base" "$OUT" 2>/dev/null || true' EXIT

# The objects: $PREFIX/base/base.tar, $PREFIX/base/backup_manifest, $PREFIX/diskless-manifest.json.
"$DISKLESS" run "${endpoint[@]}" --to "s3://$BUCKET/$PREFIX/" --dir "$OUT" -- \
  "$PG_BIN/pg_basebackup" -Ft -X "$WAL_METHOD" -c "$CHECKPOINT" -D "$OUT/base"

echo "backup stored: s3://$BUCKET/$PREFIX/ (manifest: s3://$BUCKET/$PREFIX/diskless-manifest.json)"

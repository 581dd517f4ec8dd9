#!/usr/bin/env bash
# Backs up all databases of a MariaDB (or MySQL) server with mysqldump (mariadb-dump) into one S3 object,
# PREFIX/all.sql, streamed by `diskless run` while mysqldump writes it: nothing lands on the local disk. The backup is
# complete only once PREFIX/diskless-manifest.json exists: diskless writes it last, and only if mysqldump exited 0 and
# the file was stored. Any failure: no manifest, the object deleted, and a non-zero exit (4: S3 failed, 5: mysqldump
# failed). --single-transaction gives a consistent snapshot of InnoDB tables without locking them.
#
# Prerequisites:
#   - diskless (Node.js >= 20) on PATH, or DISKLESS=/path/to/bin/diskless.js
#   - mysqldump from mariadb-client (Debian 12: apt-get install mariadb-client)
#   - a server reachable through SOCKET as DB_USER without a password prompt (unix_socket authentication as root, or a
#     [client] password in ~/.my.cnf, readable by this user only)
#   - S3 credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in ~/.aws, and an existing bucket
# Restore: diskless get s3://BUCKET/PREFIX/all.sql | mariadb   (docs/tools/mariadb.md)
set -euo pipefail

BUCKET=${BUCKET:-backups}
PREFIX=${PREFIX:-mariadb/$(hostname -s)/mysqldump/$(date -u +%Y-%m-%dT%H%M%SZ)}
ENDPOINT=${ENDPOINT:-}                       # empty for AWS; e.g. http://127.0.0.1:19001 for a local Ceph RGW
SOCKET=${SOCKET:-/run/mysqld/mysqld.sock}
DB_USER=${DB_USER:-root}
OUT=${OUT:-/tmp/diskless-mysqldump.$$}       # the virtual directory: must be empty or absent; stays empty
DISKLESS=${DISKLESS:-diskless}

endpoint=()
[ -n "$ENDPOINT" ] && endpoint=(--endpoint-url "$ENDPOINT")

# -r (--result-file) makes mysqldump open the file itself; `mysqldump … > "$OUT/all.sql"` works too, but only with the
# shell under diskless: diskless run … -- sh -c 'mysqldump … > DIR/all.sql'.
"$DISKLESS" run "${endpoint[@]}" --to "s3://$BUCKET/$PREFIX/" --dir "$OUT" -- \
  mysqldump --socket="$SOCKET" --user="$DB_USER" --single-transaction --all-databases --routines --events \
    -r "$OUT/all.sql"

rmdir "$OUT" 2>/dev/null || true
echo "backup stored: s3://$BUCKET/$PREFIX/all.sql (manifest: s3://$BUCKET/$PREFIX/diskless-manifest.json)"

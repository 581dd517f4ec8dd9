#!/usr/bin/env bash
# Backs up every database of a MariaDB (or MySQL) server except the system schemas (mysql, sys) with mydumper,
# streamed into S3 by `diskless run`: every file mydumper writes becomes one object under a dated prefix, and nothing
# lands on the local disk. The backup is complete only once PREFIX/diskless-manifest.json exists: diskless writes it
# last, and only if mydumper exited 0 and every file was stored. Any failure: no manifest, the run's objects deleted,
# and a non-zero exit (4: S3 failed, 5: mydumper failed).
#
# Prerequisites:
#   - diskless (Node.js >= 20) on PATH, or DISKLESS=/path/to/bin/diskless.js
#   - mydumper 0.10 (Debian 12: apt-get install mydumper), dynamically linked as Debian ships it
#   - a server reachable through SOCKET as DB_USER without a password prompt (unix_socket authentication as root, or
#     DEFAULTS_FILE pointing to a file with a [client] password, readable by this user only)
#   - S3 credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or in ~/.aws, and an existing bucket
# Restore: docs/tools/mariadb.md ("Restore from S3").
set -euo pipefail

BUCKET=${BUCKET:-backups}
PREFIX=${PREFIX:-mariadb/$(hostname -s)/mydumper/$(date -u +%Y-%m-%dT%H%M%SZ)}
ENDPOINT=${ENDPOINT:-}                       # empty for AWS; e.g. http://127.0.0.1:19001 for a local Ceph RGW
SOCKET=${SOCKET:-/run/mysqld/mysqld.sock}
DB_USER=${DB_USER:-root}
DEFAULTS_FILE=${DEFAULTS_FILE:-}             # optional: mydumper --defaults-file (for a password)
THREADS=${THREADS:-4}
TIMEOUT=${TIMEOUT:-6h}                       # mydumper 0.10 can hang at the very end of a dump: bound it
OUT=${OUT:-/tmp/diskless-mydumper.$$}        # the virtual directory: must be empty or absent; stays empty
DISKLESS=${DISKLESS:-diskless}

endpoint=()
[ -n "$ENDPOINT" ] && endpoint=(--endpoint-url "$ENDPOINT")
defaults=()
[ -n "$DEFAULTS_FILE" ] && defaults=(--defaults-file "$DEFAULTS_FILE")

# --regex skips the system schemas (mydumper 0.10 dumps mysql and sys otherwise); --triggers, --routines and
# --events are off by default in mydumper 0.10; --compress gzips each file (about half the size of plain SQL).
# `timeout` ends a hung mydumper (exit 124): diskless then exits 5 and writes no manifest.
"$DISKLESS" run "${endpoint[@]}" --to "s3://$BUCKET/$PREFIX/" --dir "$OUT" -- \
  timeout "$TIMEOUT" mydumper "${defaults[@]}" --socket "$SOCKET" --user "$DB_USER" --threads "$THREADS" \
    --triggers --routines --events --regex '^(?!(mysql|sys)\.)' --compress --outputdir "$OUT"

rmdir "$OUT" 2>/dev/null || true
echo "backup stored: s3://$BUCKET/$PREFIX/ (manifest: s3://$BUCKET/$PREFIX/diskless-manifest.json)"

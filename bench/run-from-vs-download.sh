#!/usr/bin/env bash
# pg_restore -j 4 straight from S3 (`diskless run --from`) against download-then-restore (`diskless
# restore` into a local directory, then `pg_restore -j 4` of it), for the same pg_dump -Fd -j 4 backup.
#
#   npm run build && sudo bash bench/run-from-vs-download.sh
#   ROWS=2000000 RUNS=3 bash bench/run-from-vs-download.sh
#
# Starts a private PostgreSQL (as the postgres user, Unix socket only, port 19210), fills a table of
# ROWS rows (default 1,000,000: id, md5 text, random number, a 200-byte filler), backs it up with
# `diskless run --to … -- pg_dump -Fd -j 4`, then RUNS times (default 2, in turn) restores it into a
# fresh database each way and prints wall seconds, the peak RSS of the largest process of the tree
# (GNU time: diskless or a pg_restore worker) and the local disk written for the backup (the size of
# the download directory; for run --from its --dir is a 1 MiB tmpfs when run as root, else an empty
# directory whose size is printed; a separate one from the dump's). Row counts are checked after every restore. The bucket is removed.
#
# Env: ROWS, RUNS, TMP (default /var/tmp), RGW_ENDPOINT (default http://127.0.0.1:19001), PG_BIN
# (default /usr/lib/postgresql/15/bin). Credentials: the RGW test user of scripts/rgw/rgw-up.sh.
set -eu

cd "$(dirname "$0")/.."
ROWS=${ROWS:-1000000}
RUNS=${RUNS:-2}
TMP=${TMP:-/var/tmp}
ENDPOINT=${RGW_ENDPOINT:-http://127.0.0.1:19001}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PORT=19210
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
BUCKET=bench-runfrom-$$-$(date +%s)
WORK=$(mktemp -d "$TMP/diskless-bench-runfrom-XXXXXX")
chmod 755 "$WORK"
DISKLESS="node bin/diskless.js"
PGDATA=$WORK/pg/data
SOCK=$WORK/pg/sock
export PGHOST=$SOCK PGPORT=$PORT PGUSER=postgres

pg() { runuser -u postgres -- "$PG_BIN/$1" "${@:2}"; }
cleanup() {
  pg pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
  for d in vdir rdir; do mountpoint -q "$WORK/$d" 2>/dev/null && umount "$WORK/$d"; done
  node -e "
    const { S3Client, ListObjectsV2Command, DeleteObjectsCommand, DeleteBucketCommand } = require('@aws-sdk/client-s3');
    const s3 = new S3Client({ endpoint: '$ENDPOINT', forcePathStyle: true });
    (async () => {
      for (;;) {
        const l = await s3.send(new ListObjectsV2Command({ Bucket: '$BUCKET' }));
        if (!l.Contents?.length) break;
        await s3.send(new DeleteObjectsCommand({ Bucket: '$BUCKET', Delete: { Objects: l.Contents.map((o) => ({ Key: o.Key })) } }));
      }
      await s3.send(new DeleteBucketCommand({ Bucket: '$BUCKET' }));
    })().catch(() => undefined);" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/pg" "$SOCK" && chown postgres "$WORK/pg" "$SOCK"
pg initdb -D "$PGDATA" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 --no-sync >/dev/null
printf "listen_addresses = ''\nport = %s\nunix_socket_directories = '%s'\nfsync = off\nsynchronous_commit = off\nmax_wal_size = '1GB'\n" "$PORT" "$SOCK" >> "$PGDATA/postgresql.conf"
pg pg_ctl -D "$PGDATA" -l "$WORK/pg/log" -w start >/dev/null
psql() { "$PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$@"; }
psql -d postgres -c 'CREATE DATABASE src'
psql -d src -c "CREATE TABLE t1 AS SELECT i AS id, md5(i::text) AS h, random() AS r, repeat('x', 200) AS filler FROM generate_series(1, $ROWS) i;
  CREATE TABLE t2 AS SELECT * FROM t1 WHERE id % 2 = 0; CREATE TABLE t3 AS SELECT * FROM t1 WHERE id % 3 = 0; CREATE TABLE t4 AS SELECT * FROM t1 WHERE id % 5 = 0;
  ALTER TABLE t1 ADD PRIMARY KEY (id); CREATE INDEX ON t2 (h);"
want=$(psql -d src -c 'SELECT (SELECT count(*) FROM t1) + (SELECT count(*) FROM t2) + (SELECT count(*) FROM t3) + (SELECT count(*) FROM t4)')

node -e "
  const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');
  new S3Client({ endpoint: '$ENDPOINT', forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: '$BUCKET' }));"
mkdir -p "$WORK/vdir" "$WORK/rdir"
if [ "$(id -u)" = 0 ]; then mount -t tmpfs -o size=1m tmpfs "$WORK/vdir"; mount -t tmpfs -o size=1m tmpfs "$WORK/rdir"; fi
$DISKLESS run -q --endpoint-url "$ENDPOINT" --to "s3://$BUCKET/fd/" --dir "$WORK/vdir" -- "$PG_BIN/pg_dump" -d src -Fd -j 4 -f "$WORK/vdir/db"
size=$($DISKLESS ls --endpoint-url "$ENDPOINT" "s3://$BUCKET/fd/" 2>/dev/null | awk 'NR==2 {print $6, $7, "in", $5, "files"}' || true)
echo "backup: s3://$BUCKET/fd/ (pg_dump -Fd -j 4 of $want rows): $size; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"

n=0
measure() { # name, command (with $DB and $OUT)
  local name=$1 cmd=$2 db="r$((++n))" out="$WORK/download-$n"
  psql -d postgres -c "CREATE DATABASE $db"
  local t0 t1
  t0=$(date +%s.%N)
  DB=$db OUT=$out VDIR=$WORK/rdir /usr/bin/time -v -o "$WORK/time" bash -c "$cmd" >/dev/null
  t1=$(date +%s.%N)
  local got disk rss
  got=$(psql -d "$db" -c 'SELECT (SELECT count(*) FROM t1) + (SELECT count(*) FROM t2) + (SELECT count(*) FROM t3) + (SELECT count(*) FROM t4)')
  [ "$got" = "$want" ] || { echo "$name: restored $got rows, want $want" >&2; exit 1; }
  disk=$(du -sb "$out" 2>/dev/null | cut -f1 || echo 0)
  [ -n "$disk" ] || disk=0
  rss=$(awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$WORK/time")
  printf '%-44s %7.2f s  peak RSS %7.1f MiB  local disk written %6.1f MB  (load %s)\n' "$name" "$(echo "$t1 - $t0" | bc -l)" "$rss" "$(echo "$disk / 1000000" | bc -l)" "$(cut -d' ' -f1 /proc/loadavg)"
  rm -rf "$out"
  psql -d postgres -c "DROP DATABASE $db"
}
for i in $(seq 1 "$RUNS"); do
  measure "diskless restore, then pg_restore -j 4" \
    "$DISKLESS restore -q --endpoint-url $ENDPOINT s3://$BUCKET/fd/ \$OUT && $PG_BIN/pg_restore --exit-on-error -j 4 -d \$DB \$OUT/db"
  measure "diskless run --from -- pg_restore -j 4" \
    "$DISKLESS run -q --endpoint-url $ENDPOINT --from s3://$BUCKET/fd/ --dir \$VDIR -- $PG_BIN/pg_restore --exit-on-error -j 4 -d \$DB \$VDIR/db"
done

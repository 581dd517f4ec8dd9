#!/bin/bash
# End-to-end demo of diskless against a local S3 server (Ceph RGW on 127.0.0.1:19001), no cloud account needed: the main
# job (a parallel pg_dump of a private PostgreSQL server streamed by `diskless run` from a 1 MiB tmpfs, then ls, verify
# --deep, restore into a fresh database and the data compared), then put of a pipeline and a failing dump refused.
# Prereq (Debian): bash scripts/install-deps.sh demo (Ceph RGW, PostgreSQL, …) and `npm install` in this checkout.
# Usage: npm run demo (or bash scripts/demo.sh, from any directory).
# Reuses an S3 server already answering on 127.0.0.1:19001 (and leaves it running); otherwise starts one with
# scripts/rgw/rgw-up.sh (as root, through sudo when needed) and stops it at exit. Everything it creates is deleted at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PORT=19001
EP=http://127.0.0.1:$PORT
INSTALL="bash scripts/install-deps.sh demo"

# --- output helpers
if [ -t 1 ]; then B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' Y=$'\e[33m' N=$'\e[0m'; else B= G= R= Y= N=; fi
T0=${EPOCHREALTIME/./}
elapsed() { local us=$(( ${EPOCHREALTIME/./} - ${1:-$T0} )); printf '%d.%01d s' $((us / 1000000)) $((us % 1000000 / 100000)); }
STEP_T0=
step() { [ -z "$STEP_T0" ] || echo "  (step took $(elapsed "$STEP_T0"))"; STEP_T0=${EPOCHREALTIME/./}; printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '%s\n' "$@" | sed 's/^./  &/'; }
ok() { echo "  ${G}✔ $*${N}"; }
fail() { echo "  ${R}✘ $*${N}" >&2; exit 1; }
die() { local code=$1; shift; printf 'demo: %s\n' "$1" >&2; shift; [ $# = 0 ] || printf '      %s\n' "$@" >&2; exit "$code"; }
# run 'COMMAND LINE': shows it as typed at a shell prompt, runs it, and shows its output (stdout, then stderr, indented).
# Sets RC to its exit status (the demo goes on either way) and OUT/ERR to files holding its stdout and stderr.
run() {
  printf '\n  %s$ %s%s\n' "$Y" "$1" "$N"
  RC=0
  ( eval "$1" ) >"$OUT" 2>"$ERR" || RC=$?
  sed 's/^/    /' "$OUT"
  sed 's/^/    /' "$ERR"
  [ "$RC" = 0 ] || echo "    [exit code $RC]"
}

# --- what is needed
[ -f node_modules/@aws-sdk/client-s3/package.json ] || die 2 "the npm dependencies are missing: run \`npm install\` in $ROOT first"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die 2 "diskless needs Node.js 20 or later; this is $(node --version)"

# PostgreSQL's programs: Debian keeps them in /usr/lib/postgresql/VERSION/bin (/usr/bin/pg_dump is a Perl wrapper).
PGV=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)
PGBIN=/usr/lib/postgresql/$PGV/bin
[ -n "$PGV" ] && [ -x "$PGBIN/pg_dump" ] && [ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_restore" ] ||
  die 2 "the demo needs PostgreSQL (its server and client programs): install them with:" "  $INSTALL"

rgw_answers() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$EP/" 2>/dev/null)" = 200 ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

T=$(mktemp -d "${TMPDIR:-/tmp}/diskless-demo.XXXXXX")
OUT=$T/stdout ERR=$T/stderr
STARTED_RGW=0 BUCKET= BUCKET_LIVE=0 PG= PG_LIVE=0 DUMP=$T/dump DUMP_MOUNTED=0
SUDO=; [ "$EUID" = 0 ] || SUDO=sudo
# initdb and postgres refuse to run as root: as root, the server runs as the postgres user (the package creates it).
AS_PG=; [ "$EUID" != 0 ] || AS_PG="runuser -u postgres --"

# Always runs, on success, failure or Ctrl-C: deletes the demo bucket, stops the server if the demo started it.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$PG_LIVE" = 1 ]; then
    echo "  stopping the demo's PostgreSQL server"
    $AS_PG "$PGBIN/pg_ctl" -D "$PG/data" -m immediate -w stop >/dev/null 2>&1 || echo "  (could not stop PostgreSQL in $PG)"
  fi
  [ -z "$PG" ] || rm -rf "$PG"
  [ "$DUMP_MOUNTED" = 0 ] || $SUDO umount "$DUMP" || echo "  (could not unmount $DUMP)"
  if [ "$BUCKET_LIVE" = 1 ]; then
    echo "  cleaning up: deleting bucket $BUCKET"
    s3 remove-bucket >/dev/null 2>&1 || echo "  (could not delete bucket $BUCKET)"
  fi
  if [ "$STARTED_RGW" = 1 ]; then
    echo "  stopping the local S3 server started by this demo"
    $SUDO bash scripts/rgw/rgw-down.sh 2>&1 | sed 's/^/    /' || true
  fi
  rm -rf "$T"
  [ "$rc" = 0 ] && printf '\n%sDemo finished in %s.%s\n' "$G" "$(elapsed)" "$N" ||
    printf '\n%sDemo FAILED (exit %s) after %s.%s\n' "$R" "$rc" "$(elapsed)" "$N" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# s3 ACTION: bucket administration for the demo, done with the AWS SDK that diskless itself depends on (no aws CLI needed).
#   create-bucket | list-objects | list-uploads | remove-bucket (aborts open uploads, deletes every object, then the bucket)
S3_JS='
const s3sdk = require("@aws-sdk/client-s3");
const [action, Bucket, endpoint] = process.argv.slice(1);
const s3 = new s3sdk.S3Client({ endpoint, forcePathStyle: true, region: process.env.AWS_REGION });
const send = (Cmd, input) => s3.send(new s3sdk[Cmd](input));
async function uploads() { return (await send("ListMultipartUploadsCommand", { Bucket })).Uploads ?? []; }
async function objects() { return (await send("ListObjectsV2Command", { Bucket })).Contents ?? []; }
const actions = {
  "create-bucket": async () => { await send("CreateBucketCommand", { Bucket }); console.log(`created bucket ${Bucket}`); },
  "list-objects": async () => {
    const list = await objects();
    for (const o of list) console.log(`${String(o.Size).padStart(11)}  ${o.Key}`);
    console.log(`${list.length} object(s) in ${Bucket}`);
  },
  "list-uploads": async () => {
    const list = await uploads();
    for (const u of list) console.log(`open upload: ${u.Key} (UploadId ${u.UploadId}, started ${u.Initiated?.toISOString()})`);
    console.log(`${list.length} incomplete multipart upload(s) in ${Bucket}`);
  },
  "remove-bucket": async () => {
    for (const u of await uploads()) await send("AbortMultipartUploadCommand", { Bucket, Key: u.Key, UploadId: u.UploadId });
    for (;;) {
      const list = await objects();
      if (list.length === 0) break;
      for (const o of list) { await send("DeleteObjectCommand", { Bucket, Key: o.Key }); console.log(`deleted ${o.Key}`); }
    }
    await send("DeleteBucketCommand", { Bucket });
    console.log(`deleted bucket ${Bucket}`);
  },
};
actions[action]().catch((e) => { console.error(`${action} ${Bucket}: ${e.name}: ${e.message}`); process.exit(1); });
'
s3() { node -e "$S3_JS" -- "$1" "$BUCKET" "$EP"; }
# The commands shown read "diskless ...": this checkout's CLI.
diskless() { node "$ROOT/bin/diskless.js" "$@"; }

printf '%sdiskless demo%s: streams data into a local S3 server and back, without writing it to local disk.\n' "$B" "$N"
say "In the commands below, \`diskless\` is this checkout's CLI: node $ROOT/bin/diskless.js"

# ------------------------------------------------------------------------------------------------------------------
step "1. Local S3 server (Ceph RGW) on 127.0.0.1:$PORT"
if [ ! -f dist/cli/main.js ]; then
  say "dist/cli/main.js is missing: building the CLI (npm run build)"
  npm run build --silent
fi
if rgw_answers; then
  say "An S3 server already answers on $EP: using it (and leaving it running)."
else
  missing=()
  for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl bc; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b")
  done
  [ ${#missing[@]} = 0 ] || die 2 "the local S3 server needs Ceph, and these programs are missing: ${missing[*]}" \
    "install them with:" "  $INSTALL" "then run the demo again: npm run demo"
  if [ -n "$SUDO" ]; then
    command -v sudo >/dev/null 2>&1 || die 2 "the Ceph daemons of the local S3 server must run as root: run the demo as root (or install sudo)"
    say "The Ceph daemons must run as root: starting them with sudo."
    sudo -v || die 2 "sudo failed: run the demo as root, or as a user who may use sudo"
  fi
  say "Starting a throw-away single-node Ceph cluster with its S3 gateway (scripts/rgw/rgw-up.sh, ~20 s);" \
      "it is stopped and deleted when the demo ends."
  STARTED_RGW=1
  $SUDO bash scripts/rgw/rgw-up.sh > "$T/rgw-up.log" 2>&1 || {
    rc=$?; sed 's/^/    /' "$T/rgw-up.log" >&2
    STARTED_RGW=0   # rgw-up.sh stopped what it had started (exit 3: a cluster of someone else's runs, not ours to stop)
    die 1 "starting the local S3 server failed (rgw-up.sh exit $rc): see its output above"
  }
  grep '^\[' "$T/rgw-up.log" | sed 's/^/    /'
  rgw_answers || die 1 "rgw-up.sh succeeded but nothing answers on $EP"
fi

# ------------------------------------------------------------------------------------------------------------------
step "2. Credentials and a bucket"
# Only this demo's process sees these: the test user of the local server, and no AWS config files or profile.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_DEFAULT_PROFILE
export AWS_ACCESS_KEY_ID=testaccesskey AWS_SECRET_ACCESS_KEY=testsecretkey AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$T/no-aws-config AWS_SHARED_CREDENTIALS_FILE=$T/no-aws-credentials
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
# diskless records its open multipart uploads in a state dir (so a later run can abort them after a crash); keep the demo's apart.
export DISKLESS_STATE_DIR=$T/state
say "export AWS_ACCESS_KEY_ID=testaccesskey AWS_SECRET_ACCESS_KEY=testsecretkey AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true" \
    "(diskless reads the usual AWS variables and config files; --endpoint-url points it at any S3-compatible server)"
BUCKET=diskless-demo-$(printf '%04x%04x' $RANDOM $RANDOM)
s3 create-bucket | sed 's/^/  /' ||
  die 1 "could not create a bucket on $EP: is the server there the one started by scripts/rgw/rgw-up.sh (keys testaccesskey/testsecretkey)?"
BUCKET_LIVE=1
U=s3://$BUCKET

# ------------------------------------------------------------------------------------------------------------------
step "3. A private PostgreSQL server with a small generated database"
say "A throw-away server in a temporary directory, reachable only through its Unix socket (no TCP port)."
PG=$(mktemp -d "${TMPDIR:-/tmp}/diskless-demo-pg.XXXXXX")
[ -z "$AS_PG" ] || chown postgres: "$PG"
run "$AS_PG $PGBIN/initdb -D $PG/data --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 --no-sync > /dev/null"
[ "$RC" = 0 ] || fail "initdb failed (exit $RC)"
run "$AS_PG $PGBIN/pg_ctl -D $PG/data -l $PG/server.log -w -o \"-c listen_addresses='' -c unix_socket_directories=$PG -c fsync=off\" start > /dev/null"
[ "$RC" = 0 ] || { sed 's/^/    /' "$PG/server.log" >&2 || true; fail "PostgreSQL did not start (exit $RC)"; }
PG_LIVE=1
export PGHOST=$PG PGUSER=postgres PGPORT=5432
say "" "export PGHOST=$PG PGUSER=postgres   (the client programs below connect through this socket)"
cat > "$T/shop.sql" <<'SQL'
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, email text NOT NULL, since date NOT NULL);
INSERT INTO customers SELECT g, 'customer ' || g, md5(g::text) || '@example.com', date '2020-01-01' + g % 1500 FROM generate_series(1, 50000) g;
CREATE TABLE products (id int PRIMARY KEY, title text NOT NULL, price numeric(10,2) NOT NULL);
INSERT INTO products SELECT g, 'product ' || md5(g::text), (g % 997) / 10.0 FROM generate_series(1, 5000) g;
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL REFERENCES customers, ordered timestamptz NOT NULL, note text);
INSERT INTO orders SELECT g, 1 + g % 50000, timestamptz '2024-01-01 00:00:00+00' + g * interval '37 seconds', repeat(md5(g::text), 2) FROM generate_series(1, 100000) g;
CREATE TABLE order_lines (order_id int REFERENCES orders, product int REFERENCES products, qty int NOT NULL, PRIMARY KEY (order_id, product));
INSERT INTO order_lines SELECT o, 1 + (o * 7 + k) % 5000, 1 + k FROM generate_series(1, 100000) o, generate_series(0, 2) k;
SQL
# Per table: its row count and an MD5 of all its rows in key order; equal fingerprints, equal data.
cat > "$T/fingerprint.sql" <<'SQL'
SELECT * FROM (
  SELECT 'customers' AS t, count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM customers t
  UNION ALL SELECT 'order_lines', count(*), md5(string_agg(t::text, '|' ORDER BY t.order_id, t.product)) FROM order_lines t
  UNION ALL SELECT 'orders', count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM orders t
  UNION ALL SELECT 'products', count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM products t
) f ORDER BY t;
SQL
say "" "The database shop: 4 tables (customers, products, orders, order_lines), 455,000 rows, made by $T/shop.sql."
run "$PGBIN/createdb shop && $PGBIN/psql -X -q -v ON_ERROR_STOP=1 -d shop -f $T/shop.sql"
[ "$RC" = 0 ] || fail "creating the database failed (exit $RC)"
run "$PGBIN/psql -X -At -d shop -c \"SELECT pg_size_pretty(pg_database_size('shop'))\""

# ------------------------------------------------------------------------------------------------------------------
step "4. The main job: diskless run -- pg_dump -Fd -j 4, with --dir on a 1 MiB tmpfs"
say "pg_dump -Fd -j 4 writes one file per table, four at once, and cannot write to a pipe. Under diskless run, every" \
    "file it creates under --dir streams to its own S3 object while it is written; the manifest is written last," \
    "only if pg_dump exited 0 and every file was stored. --dir is a 1 MiB tmpfs: a dump of several MiB cannot land there."
mkdir -p "$DUMP"
if [ -z "$SUDO" ] || sudo -n true 2>/dev/null; then
  run "${SUDO:+$SUDO }mount -t tmpfs -o size=1m,uid=$(id -u) tmpfs $DUMP && df -h $DUMP"
  [ "$RC" = 0 ] && DUMP_MOUNTED=1 || say "(no tmpfs: --dir stays a plain empty directory; diskless fails a run that leaves a file there)"
fi
run "diskless run --endpoint-url $EP --to $U/shop/ --dir $DUMP -- $PGBIN/pg_dump -Fd -j 4 -f $DUMP/shop -d shop"
[ "$RC" = 0 ] || fail "diskless run failed (exit $RC)"
say "" "Nothing landed in $DUMP: pg_dump's directory is there, but no file (0 bytes used):"
run "df -k $DUMP | tail -1; find $DUMP -type f | wc -l"
[ "$(tail -1 "$OUT")" = 0 ] || fail "files landed in $DUMP"
ok "the dump went to S3 only"

# ------------------------------------------------------------------------------------------------------------------
step "5. Which backups are there, and are they good?"
run "diskless ls --endpoint-url $EP $U/"
[ "$RC" = 0 ] || fail "diskless ls failed (exit $RC)"
say "" "verify --deep reads every object back: sizes, ETags, CRC32C, and the dump itself (toc.dat listed by pg_restore," \
    "every table's data file present and a valid gzip stream):"
run "diskless verify --deep --endpoint-url $EP $U/shop/"
[ "$RC" = 0 ] || fail "diskless verify --deep failed (exit $RC)"
ok "the backup verified"

# ------------------------------------------------------------------------------------------------------------------
step "6. Restore into a fresh database and compare the data"
run "diskless restore --endpoint-url $EP $U/shop/ $T/restored"
[ "$RC" = 0 ] || fail "diskless restore failed (exit $RC)"
run "$PGBIN/createdb shop_restored && $PGBIN/pg_restore -j 4 -d shop_restored $T/restored/shop"
[ "$RC" = 0 ] || fail "pg_restore failed (exit $RC)"
say "" "Row counts and an MD5 of every table's rows ($T/fingerprint.sql), in the original and in the restored database:"
run "$PGBIN/psql -X -At -F ' ' -d shop -f $T/fingerprint.sql"
cp "$OUT" "$T/original.txt"
run "$PGBIN/psql -X -At -F ' ' -d shop_restored -f $T/fingerprint.sql"
[ "$RC" = 0 ] && [ -s "$T/original.txt" ] && cmp -s "$T/original.txt" "$OUT" || fail "the restored database differs from the original"
ok "identical: every table has the same rows as the original"

# ------------------------------------------------------------------------------------------------------------------
step "7. One stream: put of a pipeline"
say "Give put the whole pipeline, in bash -c with pipefail, so a failure of ANY stage (the dump, not just gzip) stops" \
    "the commit: a plain \`dump | gzip | diskless put URL\` cannot see the dump fail, as gzip ends its output cleanly." \
    "(bash, not sh: on Debian sh is dash, which has no pipefail.) Here seq 1 2000000 stands in for the dump tool:"
run "diskless put --endpoint-url $EP $U/db.sql.gz -- bash -c 'set -o pipefail; seq 1 2000000 | gzip'"
[ "$RC" = 0 ] || fail "diskless put failed (exit $RC)"
run "diskless get --endpoint-url $EP $U/db.sql.gz | gunzip | tail -1"
[ "$RC" = 0 ] && [ "$(cat "$OUT")" = 2000000 ] || fail "expected the last line 2000000 (exit $RC)"
ok "restored: the last line is 2000000"

# ------------------------------------------------------------------------------------------------------------------
step "8. A failing dump commits nothing"
say "put -- CMD runs the command itself and commits the object only if it exits 0." \
    "Here the command writes 20 MiB, then fails (exit 3), as a crashing dump tool would (run refuses a failing pg_dump the same way):"
run "diskless put --endpoint-url $EP $U/failed.bin -- sh -c 'head -c 20M /dev/urandom; exit 3'"
[ "$RC" = 5 ] || fail "expected exit code 5 (the command failed), got $RC"
ok "exit code 5: the command failed, the upload was aborted"
say "" "Is there an object failed.bin? (get exits 3 when the object is not there)"
run "diskless get --endpoint-url $EP $U/failed.bin > /dev/null"
[ "$RC" = 3 ] || fail "expected exit code 3 (no such object), got $RC"
ok "no object: a half-written backup can never be mistaken for a good one"
say "" "The same for run: pg_dump of a database that does not exist fails, so no manifest is written and the objects" \
    "of the run are deleted (exit 5):"
run "diskless run --endpoint-url $EP --to $U/broken/ --dir $DUMP/again -- $PGBIN/pg_dump -Fd -j 4 -f $DUMP/again/db -d no_such_db"
[ "$RC" = 5 ] || fail "expected exit code 5 (pg_dump failed), got $RC"
ok "exit code 5: no backup under $U/broken/"

# ------------------------------------------------------------------------------------------------------------------
step "9. Nothing left behind"
say "Objects in the bucket (failed.bin is not there):"
s3 list-objects | sed 's/^/    /'
say "" "Incomplete multipart uploads (each one would be billed storage, invisible to a plain listing):"
s3 list-uploads | tee "$T/uploads" | sed 's/^/    /'
grep -q '^0 incomplete' "$T/uploads" || fail "multipart uploads were left open"
ok "no multipart upload left open"
say "" "Deleting the demo bucket:"
s3 remove-bucket | sed 's/^/    /'
BUCKET_LIVE=0
echo "  (step took $(elapsed "$STEP_T0"))"
STEP_T0=

printf '\n%sEverything above ran against a real S3 API. To use it with your own storage:%s\n' "$B" "$N"
say "diskless run --to 's3://my-bucket/db/{date}/' --dir /tmp/dump -- pg_dump -Fd -j 4 -f /tmp/dump/db mydb   # AWS, your usual credentials" \
    "diskless put s3://my-bucket/db.sql.gz -- bash -c 'set -o pipefail; mysqldump mydb | gzip'   # one stream" \
    "diskless put --endpoint-url https://s3.example.com s3://my-bucket/db.sql.gz -- ...            # any S3-compatible store" \
    "diskless restore 's3://my-bucket/db/2026-12-02/' /srv/restore/ && pg_restore -j 4 -d mydb /srv/restore/db   # restore" \
    "More: diskless --help, diskless put --help"

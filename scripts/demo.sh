#!/bin/bash
# End-to-end demo of diskless against a local S3 server (Ceph RGW on 127.0.0.1:19001), no cloud account needed.
# Prereq (Debian): sudo apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common bc uuid-runtime curl
#   and `npm install` in this checkout. Usage: npm run demo (or bash scripts/demo.sh, from any directory).
# Reuses an S3 server already answering on 127.0.0.1:19001 (and leaves it running); otherwise starts one with
# scripts/rgw/rgw-up.sh (as root, through sudo when needed) and stops it at exit. Everything it creates is deleted at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PORT=19001
EP=http://127.0.0.1:$PORT
INSTALL="sudo apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common bc uuid-runtime curl"
SIZE=300M SIZE_TEXT="300 MiB"

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

rgw_answers() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$EP/" 2>/dev/null)" = 200 ]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

T=$(mktemp -d "${TMPDIR:-/tmp}/diskless-demo.XXXXXX")
OUT=$T/stdout ERR=$T/stderr
STARTED_RGW=0 BUCKET= BUCKET_LIVE=0
SUDO=; [ "$EUID" = 0 ] || SUDO=sudo

# Always runs, on success, failure or Ctrl-C: deletes the demo bucket, stops the server if the demo started it.
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
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
step "3. Stream $SIZE_TEXT of random data into S3 and back, checking it end to end"
if command -v openssl >/dev/null 2>&1; then
  GEN="head -c $SIZE /dev/zero | openssl enc -aes-256-ctr -nosalt -pbkdf2 -pass pass:$RANDOM$RANDOM"
  say "Data: $SIZE_TEXT of /dev/zero encrypted with AES-CTR under a random password: fast pseudo-random bytes, made on the fly."
else
  GEN="head -c $SIZE /dev/urandom"
  say "Data: $SIZE_TEXT from /dev/urandom, made on the fly."
fi
say "tee hashes the stream on its way in; diskless put --sha256 hashes what it uploads too; nothing touches the disk."
run "$GEN | tee >(sha256sum > $T/sent.sha256) | diskless put --endpoint-url $EP --sha256 $U/random.bin"
[ "$RC" = 0 ] || fail "diskless put failed (exit $RC)"
for _ in $(seq 1 100); do [ -s "$T/sent.sha256" ] && break; sleep 0.1; done   # tee's sha256sum finishes on its own
sent=$(cut -d' ' -f1 "$T/sent.sha256")
told=$(sed -n 's/.*SHA-256 \([0-9a-f]\{64\}\).*/\1/p' "$ERR")
run "diskless get --endpoint-url $EP $U/random.bin | sha256sum"
[ "$RC" = 0 ] || fail "diskless get failed (exit $RC)"
got=$(cut -d' ' -f1 "$OUT")
echo
say "sha256 of the bytes sent (tee):          $sent" \
    "sha256 diskless put computed (--sha256): ${told:-(not found in its output)}" \
    "sha256 of the bytes read back (get):     $got"
[ -n "$sent" ] && [ "$sent" = "$got" ] && [ "$sent" = "$told" ] || fail "the hashes differ"
ok "identical: $SIZE_TEXT went through S3 and came back bit for bit"

# ------------------------------------------------------------------------------------------------------------------
step "4. A failing producer commits nothing"
say "put -- CMD runs the command itself and commits the object only if it exits 0." \
    "Here the command writes 20 MiB, then fails (exit 3), as a crashing dump tool would:"
run "diskless put --endpoint-url $EP $U/failed.bin -- sh -c 'head -c 20M /dev/urandom; exit 3'"
[ "$RC" = 5 ] || fail "expected exit code 5 (the command failed), got $RC"
ok "exit code 5: the command failed, the upload was aborted"
say "" "Is there an object failed.bin? (get exits 3 when the object is not there)"
run "diskless get --endpoint-url $EP $U/failed.bin > /dev/null"
[ "$RC" = 3 ] || fail "expected exit code 3 (no such object), got $RC"
ok "no object: a half-written backup can never be mistaken for a good one"

# ------------------------------------------------------------------------------------------------------------------
step "5. A pipeline done right"
say "Give put the whole pipeline, in bash -c with pipefail, so a failure of ANY stage (the dump, not just gzip) stops" \
    "the commit: a plain \`dump | gzip | diskless put URL\` cannot see the dump fail, as gzip ends its output cleanly." \
    "(bash, not sh: on Debian sh is dash, which has no pipefail.) Here seq 1 2000000 stands in for the dump tool:"
run "diskless put --endpoint-url $EP $U/db.sql.gz -- bash -c 'set -o pipefail; seq 1 2000000 | gzip'"
[ "$RC" = 0 ] || fail "diskless put failed (exit $RC)"
run "diskless get --endpoint-url $EP $U/db.sql.gz | gunzip | tail -1"
[ "$RC" = 0 ] && [ "$(cat "$OUT")" = 2000000 ] || fail "expected the last line 2000000 (exit $RC)"
ok "restored: the last line is 2000000"

# ------------------------------------------------------------------------------------------------------------------
step "6. Nothing left behind"
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
say "diskless put s3://my-bucket/db.sql.gz -- bash -c 'set -o pipefail; mysqldump mydb | gzip'   # AWS, your usual credentials" \
    "diskless put --endpoint-url https://s3.example.com s3://my-bucket/db.sql.gz -- ...            # any S3-compatible store" \
    "diskless get s3://my-bucket/db.sql.gz | gunzip | mysql mydb                                    # restore" \
    "More: diskless --help, diskless put --help"

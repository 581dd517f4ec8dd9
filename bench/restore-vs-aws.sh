#!/usr/bin/env bash
# Restore throughput: `diskless restore` against `aws s3 cp --recursive` of the same run backup
# from Ceph RGW into a local directory.
#
#   npm run build && bash bench/restore-vs-aws.sh
#   BIG=2G SMALL=200 RUNS=3 bash bench/restore-vs-aws.sh
#
# Backs up, with `diskless run`, a tree of SMALL files of 256 KiB (default 100) in 10 directories
# and one incompressible file of BIG (default 1G), then times each reader RUNS times (default 3, in
# turn) into a fresh directory under TMP (default /var/tmp; deleted after each run, after a
# `diff -r` against the source on the first run) and prints wall seconds, MB/s (10^6 B/s), peak
# RSS (/usr/bin/time -v) and the median. Each time includes the process start and, for the first
# diskless line, the fsync diskless does of each file before its rename (the aws CLI does none;
# --no-fsync is the like-for-like comparison). The bucket is removed at the end.
#
# Env: BIG, SMALL, RUNS, TMP, BUCKET, RGW_ENDPOINT (default http://127.0.0.1:19001), CONCURRENCY (restore
#      --concurrency, default 8), AWS (the aws CLI, default: the one on PATH; the v1 CLI works with
#      RGW as it is; a v2 CLI needs AWS_REQUEST_CHECKSUM_CALCULATION=when_required, set here).
# Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, default the RGW test user of
# scripts/rgw/rgw-up.sh. Needs: node, openssl, the aws CLI, GNU time, bc.
set -eu

cd "$(dirname "$0")/.."
BIG=${BIG:-1G}
SMALL=${SMALL:-100}
RUNS=${RUNS:-3}
TMP=${TMP:-/var/tmp}
ENDPOINT=${RGW_ENDPOINT:-http://127.0.0.1:19001}
CONCURRENCY=${CONCURRENCY:-8}
AWS=${AWS:-aws}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
# BUCKET: an existing bucket to use (a prefix of it is removed at the end); default: a new bucket.
OWN_BUCKET=${BUCKET:+no}
BUCKET=${BUCKET:-bench-restore-$$-$(date +%s)}
PREFIX=bench-restore-$$/
WORK=$(mktemp -d "$TMP/diskless-bench-restore-XXXXXX")
DISKLESS="node bin/diskless.js"

cleanup() {
  if [ "$OWN_BUCKET" = no ]; then $AWS --endpoint-url "$ENDPOINT" s3 rm --recursive --only-show-errors "s3://$BUCKET/$PREFIX" >/dev/null 2>&1 || true
  else $AWS --endpoint-url "$ENDPOINT" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
[ "$OWN_BUCKET" = no ] || $AWS --endpoint-url "$ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null

bytes=$(numfmt --from=iec "${BIG%iB}")
mkdir -p "$WORK/src"
for i in $(seq 1 "$SMALL"); do
  d="$WORK/src/d$((i % 10))"; mkdir -p "$d"
  openssl enc -aes-256-ctr -nosalt -pass "pass:small-$i" -in /dev/zero 2>/dev/null | head -c 262144 > "$d/f$i.bin"
done
openssl enc -aes-256-ctr -nosalt -pass pass:diskless-bench -in /dev/zero 2>/dev/null | head -c "$bytes" > "$WORK/src/big.bin"
total=$(du -sb "$WORK/src" | cut -f1)
$DISKLESS run -q --endpoint-url "$ENDPOINT" --to "s3://$BUCKET/${PREFIX}backup/" --dir "$WORK/vdir" -- cp -r "$WORK/src/." "$WORK/vdir/"
echo "backup: s3://$BUCKET/${PREFIX}backup/, $((SMALL + 1)) files, $total bytes; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A TIMES RSS
NAMES=("aws s3 cp --recursive" "diskless restore (c=$CONCURRENCY)" "diskless restore --no-fsync")
# aws s3 cp --recursive also copies the manifest: that is one more small object, not worth excluding.
CMDS=("$AWS --endpoint-url $ENDPOINT s3 cp --recursive --only-show-errors s3://$BUCKET/${PREFIX}backup/ \$OUT"
      "$DISKLESS restore -q --concurrency $CONCURRENCY --endpoint-url $ENDPOINT s3://$BUCKET/${PREFIX}backup/ \$OUT"
      "$DISKLESS restore -q --no-fsync --concurrency $CONCURRENCY --endpoint-url $ENDPOINT s3://$BUCKET/${PREFIX}backup/ \$OUT")
for i in $(seq 1 "$RUNS"); do
  for j in "${!NAMES[@]}"; do
    name=${NAMES[$j]}
    out="$WORK/out-$j-$i"
    t0=$(date +%s.%N)
    OUT=$out /usr/bin/time -v -o "$WORK/time" bash -c "${CMDS[$j]}" >/dev/null
    t1=$(date +%s.%N)
    s=$(echo "$t1 - $t0" | bc -l)
    rss=$(awk '/Maximum resident set size/ {printf "%.1f", $NF / 1024}' "$WORK/time")
    if [ "$i" = 1 ]; then diff -r -x diskless-manifest.json "$WORK/src" "$out"; fi
    rm -rf "$out"
    printf '%-30s run %d: %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB  (load %s)\n' "$name" "$i" "$s" "$(echo "$total / $s / 1000000" | bc -l)" "$rss" "$(cut -d' ' -f1 /proc/loadavg)"
    TIMES[$name]="${TIMES[$name]:-} $s"
    RSS[$name]="${RSS[$name]:-} $rss"
  done
done

echo "median of $RUNS:"
for name in "${NAMES[@]}"; do
  med=$(printf '%s\n' ${TIMES[$name]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  rss=$(printf '%s\n' ${RSS[$name]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '  %-30s %6.2f s  %7.1f MB/s  peak RSS %6.1f MiB\n' "$name" "$med" "$(echo "$total / $med / 1000000" | bc -l)" "$rss"
done

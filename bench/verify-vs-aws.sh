#!/usr/bin/env bash
# Deep verify throughput: `diskless verify --deep` against `aws s3 cp s3://… - | sha256sum` (and
# `diskless get … | sha256sum`) reading the same objects back from Ceph RGW.
#
#   npm run build && bash bench/verify-vs-aws.sh
#   SIZE=2G RUNS=3 bash bench/verify-vs-aws.sh
#
# Stores one pseudo-random object of SIZE (default 1G; AES-256-CTR keystream, incompressible) with
# `diskless put --sha256` (so deep verify recomputes CRC32C and SHA-256, what sha256sum does), then
# times each reader RUNS times (default 3, in turn) and prints wall seconds, MB/s (10^6 B/s) and the
# median. Each time includes the process start (node: about 0.3 s; the aws CLI: about 0.5 s).
# The bucket is made for the run and removed at the end.
#
# Env: SIZE, RUNS, RGW_ENDPOINT (default http://127.0.0.1:19001), CONCURRENCY (verify
#      --concurrency, default 8), AWS (the aws CLI, default: the one on PATH).
# Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, default the RGW test user of
# scripts/rgw/rgw-up.sh. Needs: node, openssl, the aws CLI, sha256sum, bc, /usr/bin/time.
set -eu

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/rounds.sh
. bench/lib/rounds.sh
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
ENDPOINT=${RGW_ENDPOINT:-http://127.0.0.1:19001}
CONCURRENCY=${CONCURRENCY:-8}
AWS=${AWS:-aws}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
BUCKET=bench-verify-$$-$(date +%s)
KEY=bench/random.bin
DISKLESS="node bin/diskless.js"

cleanup() { $AWS --endpoint-url "$ENDPOINT" s3 rb "s3://$BUCKET" --force >/dev/null 2>&1 || true; }
trap cleanup EXIT
$AWS --endpoint-url "$ENDPOINT" s3 mb "s3://$BUCKET" >/dev/null

bytes=$(numfmt --from=iec "${SIZE%iB}")
openssl enc -aes-256-ctr -nosalt -pass pass:diskless-bench -in /dev/zero 2>/dev/null | head -c "$bytes" |
  $DISKLESS put -q --sha256 --endpoint-url "$ENDPOINT" "s3://$BUCKET/$KEY"
echo "object: s3://$BUCKET/$KEY, $bytes bytes; nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A TIMES CPUS
NAMES=("aws s3 cp - | sha256sum" "diskless get | sha256sum" "diskless verify --deep (c=$CONCURRENCY)")
CMDS=("$AWS --endpoint-url $ENDPOINT s3 cp s3://$BUCKET/$KEY - | sha256sum"
      "$DISKLESS get -q --endpoint-url $ENDPOINT s3://$BUCKET/$KEY | sha256sum"
      "$DISKLESS verify -q --deep --no-record --concurrency $CONCURRENCY --endpoint-url $ENDPOINT s3://$BUCKET/$KEY")
run_rounds "$RUNS" run

echo "median of $RUNS:"
for name in "${NAMES[@]}"; do
  med=$(median ${TIMES[$name]})
  cpu=$(median ${CPUS[$name]})
  printf '  %-34s %6.2f s  %7.1f MB/s  CPU %5.2f s\n' "$name" "$med" "$(echo "$bytes / $med / 1000000" | bc -l)" "$cpu"
done

#!/usr/bin/env bash
# Read throughput (issue 13, goal 5): `aws s3 cp s3://… -` against `diskless get`, `diskless
# restore` and `diskless verify --deep` of the same object, read back from the discard sink.
#
#   npm run build && bash bench/read-vs-aws.sh
#   SIZE=1G ROUNDS=2 bash bench/read-vs-aws.sh
#   SHA256=1 bash bench/read-vs-aws.sh             # put --sha256: get and verify --deep check SHA-256 too
#
# Stores one object of SIZE (default 4G) with `diskless put` into the discard sink
# (bench/discard-sink.mjs, started and stopped here): its bytes are the sink's pattern (`node
# bench/discard-sink.mjs --generate SIZE`), which the sink regenerates for every GET, so the
# object reads back byte for byte as written and diskless's checks (CRC32C of its manifest, the
# ETag each range is pinned to) hold; nothing touches the disk. Then ROUNDS rounds (default 3),
# each timing every reader once in turn (so a change of load hits all alike):
#   aws s3 cp s3://… - | cat >/dev/null
#   diskless get | cat >/dev/null                  (CRC32C checked against the manifest)
#   diskless restore --no-fsync into TMP           (default /dev/shm: a tmpfs; the file is removed after each run)
#   diskless verify --deep --no-record
#   aws s3 cp s3://… TMP/FILE                      (the yardstick for restore, which writes a file too)
# and prints each run's wall seconds, MB/s (10^6 B/s) and CPU seconds of the whole pipeline
# (every process of it: GNU time of `bash -c`), then the medians (of an even count: the lower
# middle one, so of 2 the faster) and each reader's throughput
# divided by aws's (medians of the same run). Each time includes the process start (node: about
# 0.3 s; the aws CLI: about 0.5 s). The sink's own CPU (socket writes) is not in the figures.
#
# Env: SIZE, ROUNDS, SHA256, TMP, SINK_PORT (default a free port), AWS (the aws CLI, default: the
#      one on PATH), DISKLESS_ARGS (more options for get, restore and verify, e.g. --concurrency 8).
# Needs: node, the aws CLI, /usr/bin/time (Debian package `time`), bc.
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib/discard-sink.sh
. bench/lib/discard-sink.sh
# shellcheck source=bench/lib/rounds.sh
. bench/lib/rounds.sh
SIZE=${SIZE:-4G}
ROUNDS=${ROUNDS:-3}
TMP=${TMP:-/dev/shm}
AWS=${AWS:-aws}
DISKLESS_ARGS=${DISKLESS_ARGS:-}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
export AWS_REQUEST_CHECKSUM_CALCULATION=when_required AWS_RESPONSE_CHECKSUM_VALIDATION=when_required
bench_work read-vs-aws
export DISKLESS_STATE_DIR=$WORK/state
start_sink read-vs-aws.sh
OUT=$(mktemp -d "$TMP/diskless-read-vs-aws-XXXXXX")
trap 'stop_sink; rm -rf "$WORK" "$OUT"' EXIT

DISKLESS="node bin/diskless.js"
URL=s3://bench-read/object.bin
bytes=$(numfmt --from=iec "${SIZE%iB}")
node bench/discard-sink.mjs --generate "$SIZE" |
  $DISKLESS put -q ${SHA256:+--sha256} --expected-size "$bytes" --endpoint-url "$ENDPOINT" "$URL"
echo "object: $URL, $bytes bytes (sink pattern${SHA256:+, SHA-256 recorded}), sink $ENDPOINT; $(date -u +%FT%TZ); nproc $(nproc), load $(cut -d' ' -f1-3 /proc/loadavg)"

NAMES=("aws s3 cp - | cat" "diskless get | cat" "diskless restore --no-fsync" "diskless verify --deep" "aws s3 cp to a file in TMP")
CMDS=("$AWS --endpoint-url $ENDPOINT s3 cp $URL - | cat >/dev/null"
      "$DISKLESS get -q $DISKLESS_ARGS --endpoint-url $ENDPOINT $URL | cat >/dev/null"
      "$DISKLESS restore -q --no-fsync $DISKLESS_ARGS --endpoint-url $ENDPOINT $URL $OUT/r && rm -rf $OUT/r"
      "$DISKLESS verify -q --deep --no-record $DISKLESS_ARGS --endpoint-url $ENDPOINT $URL"
      "$AWS --endpoint-url $ENDPOINT s3 cp --quiet $URL $OUT/a && rm -f $OUT/a")
declare -A TIMES CPUS
run_rounds "$ROUNDS" round
echo
echo "medians of $ROUNDS rounds (throughput ÷ aws's, same run):"
aws_med=$(median ${TIMES[${NAMES[0]}]})
for name in "${NAMES[@]}"; do
  med=$(median ${TIMES[$name]})
  printf '  %-30s %6.2f s  %7.1f MB/s  CPU %6.2f s  %5.2f×\n' "$name" "$med" "$(echo "$bytes / $med / 1000000" | bc -l)" "$(median ${CPUS[$name]})" "$(echo "$aws_med / $med" | bc -l)"
done
# restore writes a file, which the pipe to cat does not: against aws writing the same file too.
echo "  restore ÷ aws writing the file: $(echo "$(median ${TIMES[${NAMES[4]}]}) / $(median ${TIMES[${NAMES[2]}]})" | bc -l | cut -c1-5)×"

#!/usr/bin/env bash
# Many small files (issue 13, goal 3): a tree of FILES files of 4-64 KiB plus BIG files of BIG_SIZE,
# copied into S3 by `rclone copy` (the reference), by `diskless run -- cp -r` (default: close() waits
# until each object is stored) and by `diskless run --close received -- cp -r` (close() returns once
# diskless has the bytes), against the same discard sink (bench/discard-sink.mjs), rounds
# interleaved (the case order rotates), ratios paired within a round.
#
#   npm run build && bash scripts/install-deps.sh bench && bash bench/small-files.sh
#   FILES=2000 BIG=0 ROUNDS=5 bash bench/small-files.sh          # the small files alone
#
# Environment: FILES (2000), BIG (4), BIG_SIZE (256M, head -c syntax), ROUNDS (3), CASES (a comma list
# of rclone,diskless,diskless-received,diskless-base,diskless-base-received), SINK_PORT (0: a free port), TREE (an existing
# tree to reuse; default: generated into a temporary directory, removed at the end), BASE (another
# built checkout, e.g. of an older commit: the cases diskless-base and diskless-base-received run its
# `run -- cp -r` and `run --close received -- cp -r`, and are added to the default cases).
# Example of a before/after: git archive OLD | tar -x -C /tmp/old, copy node_modules, build it, then
#   BASE=/tmp/old bash bench/small-files.sh
# Each case runs under /usr/bin/time -v: wall s, CPU s (user+sys of the case's processes: for
# diskless, the uploader and cp) and peak RSS (the largest process). The sink runs on the same cores:
# on a loaded or 2-core machine read the ratios, not the absolute figures; `uptime` is printed before
# and after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILES=${FILES:-2000}
BIG=${BIG:-4}
BIG_SIZE=${BIG_SIZE:-256M}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-rclone,diskless,diskless-received${BASE:+,diskless-base,diskless-base-received}}
BUCKET=bench
for tool in rclone /usr/bin/time node; do
  command -v "$tool" >/dev/null || { echo "small-files: $tool not found (bash scripts/install-deps.sh bench)" >&2; exit 2; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "small-files: dist/ is missing: run npm run build first" >&2; exit 2; }

# shellcheck source=bench/lib/discard-sink.sh
. "$ROOT/bench/lib/discard-sink.sh"
# shellcheck source=bench/lib/timed-cases.sh
. "$ROOT/bench/lib/timed-cases.sh"
bench_work small-files

client_env

if [ -z "${TREE:-}" ]; then
  TREE="$WORK/tree"
  echo "small-files: generating $FILES files of 4-64 KiB and $BIG of $BIG_SIZE in $TREE" >&2
  make_small_files "$TREE/small" "$FILES"
  mkdir -p "$TREE/big"
  for ((i = 0; i < BIG; i++)); do head -c "$BIG_SIZE" /dev/urandom >"$TREE/big/big$i.bin"; done
fi
COUNT=$(find "$TREE" -type f | wc -l)
BYTES=$(du -sb "$TREE" | cut -f1)

start_sink small-files
rclone_sink_env

# One case, one round: prints "wall cpu rss_mib".
run_case() {
  local name=$1 round=$2 tf="$WORK/time-$1-$2" vdir="$WORK/vdir-$1-$2"
  case $name in
    rclone)
      env -u AWS_CA_BUNDLE /usr/bin/time -v -o "$tf" rclone copy --config /dev/null "$TREE" "sink:$BUCKET/rclone-$round/" ;;
    diskless | diskless-received | diskless-base | diskless-base-received)
      local extra=() bin="$ROOT/bin/diskless.js"
      case $name in *-received) extra=(--close received) ;; esac
      case $name in diskless-base*) bin="${BASE:?$name needs BASE}/bin/diskless.js" ;; esac
      /usr/bin/time -v -o "$tf" "$bin" run --endpoint-url "$ENDPOINT" --no-progress "${extra[@]}" \
        --to "s3://$BUCKET/$name-$round/" --dir "$vdir" -- cp -r "$TREE/." "$vdir/" ;;
    *) echo "small-files: unknown case $name" >&2; exit 2 ;;
  esac >"$WORK/out-$name-$round" 2>&1 || { echo "small-files: $name (round $round) failed:" >&2; cat "$WORK/out-$name-$round" >&2; exit 1; }
  rm -rf "$vdir"
  time_v_summary "$tf"
}

IFS=, read -r -a NAMES <<<"$CASES"
echo "small-files: $COUNT files, $BYTES bytes, $ROUNDS rounds, cases ${NAMES[*]}, sink $ENDPOINT" >&2
run_case_rounds small-files

label() {
  case $1 in
    rclone) echo '`rclone copy` (reference)' ;;
    diskless) echo '`diskless run -- cp -r` (close waits for the object)' ;;
    diskless-received) echo '`diskless run --close received -- cp -r`' ;;
    diskless-base) echo "\`diskless run -- cp -r\` of $BASE" ;;
    diskless-base-received) echo "\`diskless run --close received -- cp -r\` of $BASE" ;;
    *) echo "$1" ;;
  esac
}
echo
echo "$COUNT files ($BYTES bytes: $FILES of 4-64 KiB, $BIG of $BIG_SIZE) to the discard sink, $ROUNDS rounds, $(date -u +%FT%TZ)"
print_case_table rclone label

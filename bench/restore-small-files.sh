#!/usr/bin/env bash
# Reading many small files back: `rclone copy` of a prefix from S3 into a directory (the reference)
# against `diskless restore --no-fsync` of the same backup, from one discard sink, rounds interleaved
# (the case order rotates), ratios paired within a round. The mirror of bench/small-files.sh.
#
#   npm run build && bash scripts/install-deps.sh bench && bash bench/restore-small-files.sh
#   FILES=2000 ROUNDS=5 BASE=/tmp/old bash bench/restore-small-files.sh
#
# The backup is stored once, by `diskless run -- cp -r` of a tree of FILES files of 4-64 KiB (default
# 2000; TREE: an existing tree to reuse instead) into the sink, which keeps bodies of up to 1 MiB whole
# and serves them back. Each case writes into a fresh directory under OUT (default /dev/shm: a tmpfs,
# so the disk is not measured), removed after each run; the first round's output of each case is
# compared with the tree (diff -r). Environment: FILES, ROUNDS (3), SINK_PORT (0: a free port), TREE,
# OUT, BASE (another built checkout: its `diskless restore` is added as the case diskless-base).
# Each case runs under /usr/bin/time -v: wall s, CPU s (user+sys), peak RSS. The sink runs on the
# same cores: read the ratios, not the absolute figures; `uptime` is printed before and after.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILES=${FILES:-2000}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-/dev/shm}
CASES=rclone,diskless${BASE:+,diskless-base}
BUCKET=bench
for tool in rclone /usr/bin/time node diff; do
  command -v "$tool" >/dev/null || { echo "restore-small-files: $tool not found (bash scripts/install-deps.sh bench)" >&2; exit 2; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "restore-small-files: dist/ is missing: run npm run build first" >&2; exit 2; }
[ -d "$OUT" ] && [ -w "$OUT" ] || { echo "restore-small-files: OUT=$OUT is not a writable directory" >&2; exit 2; }

# shellcheck source=bench/lib/discard-sink.sh
. "$ROOT/bench/lib/discard-sink.sh"
# shellcheck source=bench/lib/timed-cases.sh
. "$ROOT/bench/lib/timed-cases.sh"
bench_work restore-small-files
OUTDIR=$(mktemp -d "$OUT/diskless-restore-small-XXXXXX")
trap 'stop_sink; rm -rf "$WORK" "$OUTDIR"' EXIT

client_env

if [ -z "${TREE:-}" ]; then
  TREE="$WORK/tree"
  echo "restore-small-files: generating $FILES files of 4-64 KiB in $TREE" >&2
  make_small_files "$TREE" "$FILES"
fi
COUNT=$(find "$TREE" -type f | wc -l)
BYTES=$(du -sb "$TREE" | cut -f1)

start_sink restore-small-files
rclone_sink_env
"$ROOT/bin/diskless.js" run --endpoint-url "$ENDPOINT" --no-progress --to "s3://$BUCKET/backup/" --dir "$WORK/vdir" -- cp -r "$TREE/." "$WORK/vdir/" \
  >"$WORK/store.out" 2>&1 || { echo "restore-small-files: storing the backup failed:" >&2; cat "$WORK/store.out" >&2; exit 1; }

# One case, one round: prints "wall cpu rss_mib".
run_case() {
  local name=$1 round=$2 tf="$WORK/time-$1-$2" into="$OUTDIR/$1-$2"
  case $name in
    rclone)
      env -u AWS_CA_BUNDLE /usr/bin/time -v -o "$tf" rclone copy --config /dev/null --exclude diskless-manifest.json "sink:$BUCKET/backup/" "$into" ;;
    diskless | diskless-base)
      local bin="$ROOT/bin/diskless.js"
      [ "$name" = diskless-base ] && bin="${BASE:?diskless-base needs BASE}/bin/diskless.js"
      /usr/bin/time -v -o "$tf" "$bin" restore --endpoint-url "$ENDPOINT" --no-progress --no-fsync "s3://$BUCKET/backup/" "$into" ;;
    *) echo "restore-small-files: unknown case $name" >&2; exit 2 ;;
  esac >"$WORK/out-$name-$round" 2>&1 || { echo "restore-small-files: $name (round $round) failed:" >&2; cat "$WORK/out-$name-$round" >&2; exit 1; }
  if [ "$round" = 1 ] && ! diff -r "$TREE" "$into" >"$WORK/diff-$name" 2>&1; then
    echo "restore-small-files: $name did not restore the tree as stored:" >&2; head -5 "$WORK/diff-$name" >&2; exit 1
  fi
  rm -rf "$into"
  time_v_summary "$tf"
}

IFS=, read -r -a NAMES <<<"$CASES"
echo "restore-small-files: $COUNT files, $BYTES bytes, $ROUNDS rounds, cases ${NAMES[*]}, sink $ENDPOINT" >&2
run_case_rounds restore-small-files

label() {
  case $1 in
    rclone) echo '`rclone copy` from S3 (reference)' ;;
    diskless) echo '`diskless restore --no-fsync`' ;;
    diskless-base) echo "\`diskless restore --no-fsync\` of $BASE" ;;
    *) echo "$1" ;;
  esac
}
echo
echo "$COUNT files ($BYTES bytes) restored from the discard sink into $OUT, $ROUNDS rounds, $(date -u +%FT%TZ)"
print_case_table rclone label

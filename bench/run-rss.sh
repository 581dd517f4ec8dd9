#!/usr/bin/env bash
# Peak RSS of diskless with many files in flight at once, and of put at two stream sizes (issue 13,
# goal 4: memory that stays flat and inside the budget, however diskless is started).
#
#   npm run build && bash bench/run-rss.sh
#   WRITERS="8 32" SIZE=256M MEMORY="64MiB 32MiB" LAUNCH="bin node" bash bench/run-rss.sh
#   PUT_SIZES="1G 16G" WRITERS= bash bench/run-rss.sh          # put only
#
# Against the discard sink (bench/discard-sink.mjs, started and stopped here), so the figures are
# the client's own. For every launch way (LAUNCH: `bin` = bin/diskless.js through its shebang,
# `node` = node bin/diskless.js), every budget (MEMORY) and every writer count (WRITERS), one
# `diskless run --memory M -- sh -c '…'` in which N writers each write SIZE pseudo-random bytes
# (an AES-256-CTR keystream, no disk) into their own file under --dir, all at once; then for
# every size in PUT_SIZES one `diskless put`. Peak RSS is GNU time's: the largest process of the
# tree, which is diskless (a writer is an openssl and a head of a few MiB). Prints one row per case.
#
# Env: WRITERS (default "1 8 32"), SIZE (per writer, default 128M), MEMORY (default "64MiB 32MiB"),
#      LAUNCH (default "bin node"), PUT_SIZES (default "1G 16G"; empty: none).
# Needs: node, openssl, /usr/bin/time (Debian package `time`).
set -eu

cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=bench/lib/discard-sink.sh
. bench/lib/discard-sink.sh
WRITERS=${WRITERS-1 8 32}
SIZE=${SIZE:-128M}
MEMORY=${MEMORY:-64MiB 32MiB}
LAUNCH=${LAUNCH:-bin node}
PUT_SIZES=${PUT_SIZES-1G 16G}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true
bench_work run-rss
export DISKLESS_STATE_DIR=$WORK/state
start_sink run-rss.sh

launcher() {
  case $1 in
    bin) echo bin/diskless.js ;;
    node) echo node bin/diskless.js ;;
    *) echo "run-rss.sh: LAUNCH '$1' is not bin or node" >&2; exit 2 ;;
  esac
}

# row LABEL TIMEFILE: one Markdown row from GNU time's report.
row() {
  local wall cpu rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$2")
  cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.2f", s }' "$2")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$2")
  echo "| $1 | $wall | $cpu | **$rss** |"
}

echo "diskless peak RSS, against the discard sink, $(date -u +%FT%TZ), $(uptime | sed 's/.*load/load/')"
echo
echo "| case | wall | CPU s | peak RSS MiB |"
echo "|---|---|---|---|"
GEN="openssl enc -aes-256-ctr -pass pass:diskless -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $SIZE"
n_case=0
for launch in $LAUNCH; do
  for mem in $MEMORY; do
    for n in $WRITERS; do
      n_case=$((n_case + 1))
      dir=$WORK/dir$n_case
      mkdir -p "$dir"
      script="for i in \$(seq $n); do ($GEN > $dir/f\$i) & done; wait"
      # shellcheck disable=SC2046 # the launcher is a word list on purpose
      if ! /usr/bin/time -v -o "$WORK/time" $(launcher "$launch") run --quiet --memory "$mem" --endpoint-url "$ENDPOINT" \
        --to "s3://bench/run-rss-$n_case/" --dir "$dir" -- sh -c "$script" >"$WORK/log" 2>&1; then
        echo "run-rss.sh: diskless run ($n writers, --memory $mem) failed:" >&2
        cat "$WORK/log" >&2
        exit 1
      fi
      row "\`$(launcher "$launch") run --memory $mem\`, $n × $SIZE at once" "$WORK/time"
    done
  done
  for size in $PUT_SIZES; do
    # shellcheck disable=SC2046
    if ! openssl enc -aes-256-ctr -pass pass:diskless -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c "$size" |
      /usr/bin/time -v -o "$WORK/time" $(launcher "$launch") put --quiet --overwrite --endpoint-url "$ENDPOINT" \
        "s3://bench/put-rss-$size" >"$WORK/log" 2>&1; then
      echo "run-rss.sh: diskless put of $size failed:" >&2
      cat "$WORK/log" >&2
      exit 1
    fi
    row "\`$(launcher "$launch") put\`, $size" "$WORK/time"
  done
done

#!/usr/bin/env bash
# Many writers through the shim (issue 13, goal 3): WRITERS programs each writing SIZE into its own
# file under `diskless run` at the same time, against `diskless put` of the same total (WRITERS ×
# SIZE) as one stream, to the same discard sink (bench/discard-sink.mjs), rounds interleaved.
#
#   npm run build && bash bench/many-writers.sh                  # 8 × 512M, 3 rounds
#   WRITERS=8 SIZE=128M ROUNDS=1 bash bench/many-writers.sh
#   BLOCK=128K bash bench/many-writers.sh      # writers write BLOCK at a time (dd), not head's 4 KiB
#   ARGS='--memory 48MiB' bash bench/many-writers.sh            # more options for both run and put
#
# The bytes come from the same generator in both cases (an AES-256-CTR keystream from openssl, one
# per writer, or one for put), so the generators' CPU is in both. Each case runs under
# /usr/bin/time -v: wall s, MB/s (10^6 B/s of the total), CPU s (all processes: generators,
# diskless, the shell) and peak RSS (the largest process). The sink shares the cores: read the ratio.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WRITERS=${WRITERS:-8}
SIZE=${SIZE:-512M}
ROUNDS=${ROUNDS:-3}
ARGS=${ARGS:-}
for tool in openssl /usr/bin/time node; do
  command -v "$tool" >/dev/null || { echo "many-writers: $tool not found" >&2; exit 2; }
done
[ -f "$ROOT/dist/cli/main.js" ] || { echo "many-writers: dist/ is missing: run npm run build first" >&2; exit 2; }
BYTES=$(numfmt --from=iec "$SIZE")
TOTAL=$((BYTES * WRITERS))
# shellcheck source=bench/lib/discard-sink.sh
. "$ROOT/bench/lib/discard-sink.sh"
bench_work many-writers
client_env

start_sink many-writers

# What cuts SIZE bytes off the generator and writes them: head -c (4 KiB writes), or dd with BLOCK-sized writes.
take() {
  if [ -n "${BLOCK:-}" ]; then
    local b; b=$(numfmt --from=iec "$BLOCK")
    echo "dd bs=$b iflag=fullblock count=$(($1 / b)) status=none"
  else
    echo "head -c $1"
  fi
}
GEN='openssl enc -aes-256-ctr -pass pass:diskless-bench -nosalt -pbkdf2 </dev/zero 2>/dev/null'
run_case() {
  local name=$1 round=$2 tf="$WORK/time-$1-$2" vdir="$WORK/vdir-$1-$2"
  case $name in
    put)
      /usr/bin/time -v -o "$tf" bash -c "{ $GEN; } | $(take "$TOTAL") | '$ROOT/bin/diskless.js' put $ARGS --endpoint-url $ENDPOINT s3://bench/put-$round" ;;
    run)
      /usr/bin/time -v -o "$tf" "$ROOT/bin/diskless.js" run $ARGS --endpoint-url "$ENDPOINT" --no-progress --to "s3://bench/run-$round/" --dir "$vdir" -- \
        bash -c "for i in \$(seq $WRITERS); do { $GEN; } | $(take "$BYTES") > $vdir/f\$i & done; wait" ;;
  esac >"$WORK/out-$name-$round" 2>&1 || { echo "many-writers: $name (round $round) failed:" >&2; cat "$WORK/out-$name-$round" >&2; exit 1; }
  rm -rf "$vdir"
  awk -F': ' -v total="$TOTAL" '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time/ { c += $2 } /System time/ { c += $2 }
    /Maximum resident set size/ { r = $2 / 1024 }
    END { printf "%.2f %.0f %.2f %.1f\n", w, total / w / 1e6, c, r }' "$tf"
}

echo "many-writers: writes by $(take "$BYTES" | cut -d' ' -f1-2);" >&2
echo "many-writers: $WRITERS × $SIZE through run, against put of $TOTAL bytes, $ROUNDS rounds, sink $ENDPOINT" >&2
echo "load before: $(uptime)"
declare -A MBPS
for ((round = 1; round <= ROUNDS; round++)); do
  for name in $([ $((round % 2)) = 1 ] && echo put run || echo run put); do
    read -r w m c r < <(run_case "$name" "$round")
    MBPS[$name,$round]=$m
    echo "| round $round | $name | wall $w s | $m MB/s | CPU $c s | RSS $r MiB |"
  done
  echo "| round $round | run ÷ put throughput | $(awk -v a="${MBPS[run,$round]}" -v b="${MBPS[put,$round]}" 'BEGIN { printf "%.2f", a / b }') |"
done
echo "load after: $(uptime)"

# Sourced by the bench scripts. bench_work NAME: a scratch directory WORK, removed (and the sink
# stopped) when the script exits. start_sink: starts the discard sink (bench/discard-sink.mjs) in the background
# and waits until it answers. Needs WORK (a scratch directory) and ROOT (the repository), optionally
# SINK_PORT (default 0: a free port). Sets ENDPOINT and SINK_PID; stop_sink stops it (call it from
# the script's EXIT trap). $1 names the script in the error message.
start_sink() {
  node "$ROOT/bench/discard-sink.mjs" "${SINK_PORT:-0}" >"$WORK/sink.out" 2>"$WORK/sink.err" &
  SINK_PID=$!
  for _ in $(seq 100); do grep -q DISCARD_SINK_ENDPOINT "$WORK/sink.out" 2>/dev/null && break; sleep 0.1; done
  ENDPOINT=$(sed -n 's/^DISCARD_SINK_ENDPOINT=//p' "$WORK/sink.out")
  [ -n "$ENDPOINT" ] || { echo "$1: the discard sink did not start" >&2; cat "$WORK/sink.err" >&2; exit 1; }
}

stop_sink() {
  [ -n "${SINK_PID:-}" ] && kill "$SINK_PID" 2>/dev/null || true
}

bench_work() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/diskless-$1-XXXXXX")
  SINK_PID=
  trap 'stop_sink; rm -rf "$WORK"' EXIT
}

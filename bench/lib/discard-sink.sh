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

# client_env: what every diskless, aws or rclone client of a bench needs in its environment: the test keys
# (unless AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are set; the sink checks no signature), a region, no
# instance-metadata lookups, and diskless's state directory inside WORK.
client_env() {
  export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
  export AWS_REGION=${AWS_REGION:-us-east-1} AWS_EC2_METADATA_DISABLED=true DISKLESS_STATE_DIR="$WORK/state"
}

# rclone_sink_env: after start_sink, an rclone remote `sink:` for the sink, in the environment (run rclone
# with `--config /dev/null`, and without AWS_CA_BUNDLE, which it refuses for a plain-HTTP endpoint).
rclone_sink_env() {
  export RCLONE_CONFIG_SINK_TYPE=s3 RCLONE_CONFIG_SINK_PROVIDER=Other RCLONE_CONFIG_SINK_ENDPOINT="$ENDPOINT" \
    RCLONE_CONFIG_SINK_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" RCLONE_CONFIG_SINK_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
}

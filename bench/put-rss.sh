#!/usr/bin/env bash
# Throughput, CPU and peak RSS of `diskless put` for one big pseudo-random stream from stdin.
#
#   npm run build && bash bench/put-rss.sh
#   SIZE=2G RUNS=3 EXTRA_ARGS='--memory 128MiB --concurrency 8' bash bench/put-rss.sh
#
# The stream (default 2 GiB) is generated without touching disk (AES-256-CTR keystream of
# zeros: incompressible, reproducible) and piped into `node bin/diskless.js put` running under
# `/usr/bin/time -v`, against
#   (a) the discard sink (bench/discard-sink.mjs, started and stopped here): the client's own cost;
#   (b) Ceph RGW at $RGW_ENDPOINT (default http://127.0.0.1:19001) if it answers, else skipped:
#       the server is the bottleneck there. A bucket is made for the run and removed at the end.
# plus the generator alone piped to `cat >/dev/null` as a ceiling.
#
# For each: bytes, wall seconds of the put process, MB/s (10^6 B/s), user+sys CPU seconds of the
# put process, peak RSS (MiB) and whether it is under the goal of 64 MiB + 48 MiB = 112 MiB.
# With RUNS > 1 every run is printed, then the median and range per target.
#
# Env: SIZE (default 2G; head -c syntax: 2G, 512M, 2GiB, bytes), RUNS (default 1),
#      EXTRA_ARGS (extra put flags), TARGETS (default "ceiling sink rgw"), RGW_ENDPOINT,
#      NODE_FLAGS (flags for node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": slows the run),
#      ENCRYPT=1 (put --encrypt-to a key made with age-keygen for the run: the cost of client-side
#      encryption; the stored size checked is then the age ciphertext's),
#      TRACE (seconds, e.g. 2: also sample the put's /proc/PID/status that often and print, after
#      its row, "seconds: VmHWM/RssAnon MiB" for each sample: when the peak is reached).
# Credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment, defaulting to the
# RGW test user of scripts/rgw/rgw-up.sh (testaccesskey/testsecretkey). The sink ignores them.
# Needs: node, openssl, /usr/bin/time (Debian package `time`), curl; /usr/bin/aws for RGW.
set -eu

cd "$(dirname "$0")/.."
SIZE=${SIZE:-2G}
RUNS=${RUNS:-1}
EXTRA_ARGS=${EXTRA_ARGS:-}
TARGETS=${TARGETS:-ceiling sink rgw}
RGW_ENDPOINT=${RGW_ENDPOINT:-http://127.0.0.1:19001}
NODE_FLAGS=${NODE_FLAGS:-}
ENCRYPT=${ENCRYPT:-}
TRACE=${TRACE:-}
RSS_GOAL_MIB=112
AWS_CLI=/usr/bin/aws

export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-testaccesskey}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-testsecretkey}
export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_EC2_METADATA_DISABLED=true

die() { echo "put-rss.sh: $*" >&2; exit 2; }
[ -x /usr/bin/time ] || die "/usr/bin/time not found: apt-get install time"
command -v openssl >/dev/null || die "openssl not found: apt-get install openssl"
command -v node >/dev/null || die "node not found"
command -v curl >/dev/null || die "curl not found"
[ -f dist/cli/main.js ] || die "dist/cli/main.js is missing: run npm run build first"
case $RUNS in '' | *[!0-9]* | 0) die "RUNS must be a positive whole number, got '$RUNS'" ;; esac
BYTES=$(numfmt --from=iec "${SIZE%iB}" 2>/dev/null) || die "SIZE '$SIZE' is not a size (2G, 512M, 2GiB or bytes)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/put-rss.XXXXXX")
SINK_PID=
RGW_BUCKET=
cleanup() {
  if [ -n "$SINK_PID" ]; then
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
  fi
  if [ -n "$RGW_BUCKET" ]; then
    "$AWS_CLI" --endpoint-url "$RGW_ENDPOINT" s3 rb --force "s3://$RGW_BUCKET" >/dev/null 2>&1 ||
      echo "put-rss.sh: could not remove bucket s3://$RGW_BUCKET on $RGW_ENDPOINT" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# diskless keeps a journal of open uploads; keep it out of the user's state dir.
export DISKLESS_STATE_DIR="$WORK/state"

# What the store must hold: the stream, or with ENCRYPT=1 its age ciphertext for one X25519 recipient
# (a 168-byte header, a 16-byte nonce, and a 16-byte tag per 64 KiB chunk).
STORED_BYTES=$BYTES
if [ -n "$ENCRYPT" ]; then
  command -v age-keygen >/dev/null || die "age-keygen not found: apt-get install age"
  age-keygen -o "$WORK/bench-identity.txt" 2>/dev/null
  EXTRA_ARGS="$EXTRA_ARGS --encrypt-to $(age-keygen -y "$WORK/bench-identity.txt")"
  STORED_BYTES=$(awk -v b="$BYTES" 'BEGIN { c = int((b + 65535) / 65536); if (c < 1) c = 1; printf "%d", 168 + 16 + b + 16 * c }')
fi

# The stream: AES-256-CTR keystream (incompressible), cut at BYTES. No disk.
gen() { openssl enc -aes-256-ctr -pass pass:diskless-bench -nosalt </dev/zero 2>/dev/null | head -c "$BYTES"; }

# time_field FILE 'Label': the value after "Label: " in /usr/bin/time -v output.
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1" | head -n1; }
# Wall seconds from "h:mm:ss" or "m:ss.cc".
wall_seconds() { awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }' <<<"$1"; }

# record TARGET RUN TIMEFILE STORED_BYTES: prints a row and appends it to $WORK/rows.
record() {
  local target=$1 run=$2 tf=$3 stored=$4
  local wall user sys rss_kib
  wall=$(wall_seconds "$(time_field "$tf" 'Elapsed (wall clock) time (h:mm:ss or m:ss)')")
  user=$(time_field "$tf" 'User time (seconds)')
  sys=$(time_field "$tf" 'System time (seconds)')
  rss_kib=$(time_field "$tf" 'Maximum resident set size (kbytes)')
  awk -v t="$target" -v r="$run" -v b="$stored" -v w="$wall" -v u="$user" -v s="$sys" -v k="$rss_kib" -v goal="$RSS_GOAL_MIB" '
    BEGIN {
      mbps = (w > 0) ? b / w / 1e6 : 0; cpu = u + s; rss = k / 1024
      printf "%-8s %3s %12s %8.2f %8.1f %8.2f %9.1f %6s\n", t, r, b, w, mbps, cpu, rss, (rss < goal ? "yes" : "NO")
    }' | tee -a "$WORK/rows"
}

header() {
  printf '%-8s %3s %12s %8s %8s %8s %9s %6s\n' target run bytes wall_s MB/s cpu_s rss_MiB "<${RSS_GOAL_MIB}"
}

# put_once TARGET RUN ENDPOINT BUCKET KEY: one timed put; prints its row.
put_once() {
  local target=$1 run=$2 endpoint=$3 bucket=$4 key=$5
  local tf="$WORK/time.$target.$run" log="$WORK/put.$target.$run.log" rc=0
  # shellcheck disable=SC2086 # EXTRA_ARGS and NODE_FLAGS are word lists on purpose
  # As users run it: through the launcher (which sets diskless's V8 flags), with NODE_FLAGS
  # added to node's command line when given.
  gen | /usr/bin/time -v -o "$tf" ${NODE_FLAGS:+node $NODE_FLAGS} bin/diskless.js put --endpoint-url "$endpoint" $EXTRA_ARGS \
    "s3://$bucket/$key" 2>"$log" &
  local timed=$! tracer=
  if [ -n "$TRACE" ]; then
    trace_rss "$timed" >"$WORK/trace.$target.$run" &
    tracer=$!
  fi
  wait "$timed" || rc=$?
  [ -z "$tracer" ] || wait "$tracer" || true
  if [ "$rc" != 0 ]; then
    echo "put-rss.sh: diskless put to $target failed (exit $rc):" >&2
    cat "$log" >&2
    exit 1
  fi
  local stored
  if [ "$target" = sink ]; then
    stored=$(curl -sfI "$endpoint/$bucket/$key" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Ll]ength: //p')
  else
    stored=$("$AWS_CLI" --endpoint-url "$endpoint" s3api head-object --bucket "$bucket" --key "$key" \
      --query ContentLength --output text)
  fi
  if [ "$stored" != "$STORED_BYTES" ]; then
    echo "put-rss.sh: $target holds ${stored:-nothing} bytes at $key, $STORED_BYTES were expected" >&2
    exit 1
  fi
  # MB/s and bytes are of the input stream (with ENCRYPT=1 the store holds a little more).
  record "$target" "$run" "$tf" "$BYTES"
  echo "         $(grep -h 'stored s3://' "$log" | sed 's/^diskless: //')"
  [ -z "$TRACE" ] || echo "         RSS every ${TRACE} s (s: VmHWM/RssAnon MiB): $(cat "$WORK/trace.$target.$run")"
}

# trace_rss PID: until PID's child (the put under /usr/bin/time) ends, every TRACE seconds, one
# "seconds: VmHWM/RssAnon" (MiB) of it, comma-separated on one line.
trace_rss() {
  local timed=$1 pid= t0 line
  while [ -z "$pid" ] && kill -0 "$timed" 2>/dev/null; do pid=$(pgrep -P "$timed" | head -n1) || sleep 0.05; done
  t0=$(date +%s.%N)
  while line=$(awk '/^VmHWM/ { h = int($2 / 1024) } /^RssAnon/ { a = int($2 / 1024) } END { if (h) printf "%d/%d", h, a }' "/proc/$pid/status" 2>/dev/null) && [ -n "$line" ]; do
    printf '%s%.1f: %s' "${sep:-}" "$(echo "$(date +%s.%N) - $t0" | bc)" "$line"
    local sep=', '
    sleep "$TRACE"
  done
  echo
}

ceiling_once() {
  local run=$1 tf="$WORK/time.ceiling.$run"
  gen | /usr/bin/time -v -o "$tf" cat >/dev/null
  record ceiling "$run" "$tf" "$BYTES"
}

start_sink() {
  node bench/discard-sink.mjs 0 >"$WORK/sink.out" 2>"$WORK/sink.err" &
  SINK_PID=$!
  local i
  for i in $(seq 100); do
    SINK_ENDPOINT=$(sed -n 's/^DISCARD_SINK_ENDPOINT=//p' "$WORK/sink.out")
    [ -n "$SINK_ENDPOINT" ] && return 0
    kill -0 "$SINK_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$WORK/sink.err" >&2
  die "the discard sink did not start"
}

# CPU seconds (user+sys) the sink process has used so far.
sink_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$SINK_PID/stat"; }

echo "# diskless put: $BYTES bytes ($SIZE) of AES-CTR pseudo-random data from stdin, $RUNS run(s)"
echo "# put flags: ${EXTRA_ARGS:-(defaults)}${NODE_FLAGS:+; node flags: $NODE_FLAGS}"
echo "# $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1), Node $(node --version)"
echo "# wall/CPU/RSS are of the put process (or of cat for the ceiling); MB/s = bytes / wall / 10^6"
header

for target in $TARGETS; do
  case $target in
    ceiling)
      for run in $(seq "$RUNS"); do ceiling_once "$run"; done
      ;;
    sink)
      start_sink
      for run in $(seq "$RUNS"); do
        before=$(sink_cpu)
        put_once sink "$run" "$SINK_ENDPOINT" diskless-bench "put-rss/run-$run"
        echo "         sink CPU during the run: $(awk -v a="$before" -v b="$(sink_cpu)" 'BEGIN { printf "%.2f", b - a }') s"
        curl -sf -X DELETE "$SINK_ENDPOINT/diskless-bench/put-rss/run-$run" >/dev/null
      done
      kill "$SINK_PID"
      wait "$SINK_PID" 2>/dev/null || true
      SINK_PID=
      echo "         sink: $(cat "$WORK/sink.err")"
      ;;
    rgw)
      code=$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$RGW_ENDPOINT/" || true)
      if [ "${code:-000}" = 000 ]; then
        echo "rgw      skipped: nothing answers on $RGW_ENDPOINT (start it with bash scripts/rgw/rgw-up.sh)"
        continue
      fi
      [ -x "$AWS_CLI" ] || { echo "rgw      skipped: $AWS_CLI (Debian awscli) is needed to make the bucket"; continue; }
      RGW_BUCKET="diskless-bench-$(date +%s)-$$"
      "$AWS_CLI" --endpoint-url "$RGW_ENDPOINT" s3 mb "s3://$RGW_BUCKET" >/dev/null
      for run in $(seq "$RUNS"); do
        put_once rgw "$run" "$RGW_ENDPOINT" "$RGW_BUCKET" "put-rss/run-$run"
        "$AWS_CLI" --endpoint-url "$RGW_ENDPOINT" s3 rm "s3://$RGW_BUCKET/put-rss/run-$run" >/dev/null
      done
      "$AWS_CLI" --endpoint-url "$RGW_ENDPOINT" s3 rb --force "s3://$RGW_BUCKET" >/dev/null
      RGW_BUCKET=
      ;;
    *) die "unknown target '$target' in TARGETS (ceiling, sink, rgw)" ;;
  esac
done

if [ "$RUNS" -gt 1 ] && [ -s "$WORK/rows" ]; then
  echo
  echo "# median (min-max) over $RUNS runs"
  printf '%-8s %12s %-20s %-20s %-20s %-20s %s\n' target bytes wall_s MB/s cpu_s rss_MiB "all <${RSS_GOAL_MIB}"
  for target in $(awk '{ print $1 }' "$WORK/rows" | uniq); do
    awk -v t="$target" '$1 == t' "$WORK/rows" | awk '
      function median(col,    n, i, j, tmp, v) {
        n = 0
        for (i = 1; i <= NR; i++) v[++n] = val[i, col]
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { tmp = v[j]; v[j] = v[j - 1]; v[j - 1] = tmp }
        lo = v[1]; hi = v[n]
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      }
      function cell(col, fmt,    m) { m = median(col); return sprintf(fmt " (" fmt "-" fmt ")", m, lo, hi) }
      { for (c = 1; c <= NF; c++) val[NR, c] = $c; if ($8 != "yes") bad = 1; target = $1; bytes = $3 }
      END {
        printf "%-8s %12s %-20s %-20s %-20s %-20s %s\n", target, bytes,
          cell(4, "%.2f"), cell(5, "%.1f"), cell(6, "%.2f"), cell(7, "%.1f"), (bad ? "NO" : "yes")
      }'
  done
fi

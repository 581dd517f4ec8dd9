#!/bin/bash
# Fuzzes both ends of the wire protocol for a given time each: the C side (native/fuzz/wire_fuzz.c under libFuzzer
# with AddressSanitizer and UBSan: the shim's frame encoding and reply parsing) and the TypeScript frame codec
# (bench/frame-codec-fuzz.mjs: round trip, streaming, hostile bytes, against dist/).
# Prereq: clang and libFuzzer (Debian 12: apt-get install -y clang libclang-rt-14-dev), `npm run build` done.
# Usage: bench/fuzz.sh [SECONDS per side, default 600]; corpus kept in build/fuzz/corpus (reused by the next run).
# Exit 0 when neither side found a failure; the libFuzzer crash input is left in build/fuzz/ otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
command -v clang >/dev/null || { echo "fuzz.sh: clang is missing: apt-get install -y clang libclang-rt-14-dev" >&2; exit 2; }
[ -f dist/wire/frame-codec.js ] || { echo "fuzz.sh: dist/ is missing: run npm run build" >&2; exit 2; }
mkdir -p build/fuzz/corpus
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined native/fuzz/wire_fuzz.c -o build/fuzz/wire_fuzz
echo "=== C wire encoding and reply parsing (libFuzzer + ASan + UBSan), ${SECONDS_EACH} s"
rc=0
(cd build/fuzz && ./wire_fuzz -max_total_time="$SECONDS_EACH" -print_final_stats=1 corpus) > build/fuzz/last-c.log 2>&1 || rc=1
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|==[0-9]+==ERROR|SUMMARY|wire_fuzz: check failed)' build/fuzz/last-c.log || true
echo "=== TypeScript frame decoder (property fuzzing), ${SECONDS_EACH} s"
node bench/frame-codec-fuzz.mjs "$SECONDS_EACH" || rc=1
[ $rc = 0 ] && echo "fuzz.sh: 0 crashes, 0 failures" || echo "fuzz.sh: FAILURES found (see build/fuzz/last-c.log and crash-* files)"
exit $rc

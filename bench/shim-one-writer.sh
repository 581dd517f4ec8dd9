#!/usr/bin/env bash
# The shim path with one writer (issue 13, goal 2): one program writing SIZE into one file under
# `diskless run`, against `diskless put` of the same bytes, same generator and discard sink, rounds
# interleaved. It is bench/many-writers.sh with WRITERS=1 (see there for what is measured).
#
#   npm run build && SIZE=1G ROUNDS=2 bash bench/shim-one-writer.sh     # default SIZE 4G, 3 rounds
set -euo pipefail
WRITERS=1 SIZE=${SIZE:-4G} exec bash "$(dirname "$0")/many-writers.sh"

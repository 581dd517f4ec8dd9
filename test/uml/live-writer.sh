#!/bin/sh
# Keeps writing to DIR/live while a backup runs: file N (N = 0, 1, …) holds "live N" 2000 times, written to a temporary
# name and renamed, so any consistent copy holds complete files 0..K. Stops when DIR/live/.stop exists or after MAX files.
# Usage: live-writer.sh DIR [MAX]
set -eu
d=$1/live; max=${2:-100000}
mkdir -p "$d"
n=0
while [ ! -e "$d/.stop" ] && [ "$n" -lt "$max" ]; do
  yes "live $n " | head -n 2000 > "$d/.tmp-$n"
  mv "$d/.tmp-$n" "$d/$n"
  n=$((n + 1))
  sleep 0.2
done

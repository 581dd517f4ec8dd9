#!/bin/sh
# Checks DIR/live as extracted from an archive: the files are exactly 0..K, each complete (what live-writer.sh wrote), and
# DIR/after-snapshot.txt (written after the snapshot was taken) is absent. Prints "live files: K+1".
# One awk pass reads all the files (a process per file costs seconds in the emulated LVM guest).
# Usage: check-live.sh DIR
set -eu
d=$1
[ ! -e "$d/after-snapshot.txt" ] || { echo "after-snapshot.txt is in the archive: a write after the snapshot leaked in"; exit 1; }
[ -d "$d/live" ] || { echo "no live/ directory"; exit 1; }
count=$(find "$d/live" -maxdepth 1 -type f ! -name '.*' | wc -l)
n=0
while [ $n -lt "$count" ]; do
  [ -f "$d/live/$n" ] || { echo "live/$n missing while $count files are there: not a consistent prefix"; exit 1; }
  n=$((n + 1))
done
[ "$count" = 0 ] && { echo "live files: 0"; exit 0; }
# File N must be 2000 lines "live N " and nothing else; an empty file has no records, so count the files seen too.
seq 0 $((count - 1)) | sed "s|^|$d/live/|" | xargs awk -v want="$count" '
  function check() { if (name != "" && (good != 2000 || lines != 2000)) { printf "live/%s is torn (%d of 2000 lines)\n", name, good; bad = 1; exit 1 } }
  FNR == 1 { check(); name = FILENAME; sub(/.*\//, "", name); seen++; good = 0; lines = 0 }
  { lines++; if ($0 == "live " name " ") good++ }
  END { if (bad) exit 1; check(); if (seen != want) { print "a live file is empty (torn)"; exit 1 } }'
echo "live files: $count"

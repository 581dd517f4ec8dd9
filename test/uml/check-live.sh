#!/bin/sh
# Checks DIR/live as extracted from an archive: the files are exactly 0..K, each complete (what live-writer.sh wrote), and
# DIR/after-snapshot.txt (written after the snapshot was taken) is absent. Prints "live files: K+1".
# Usage: check-live.sh DIR
set -eu
d=$1
[ ! -e "$d/after-snapshot.txt" ] || { echo "after-snapshot.txt is in the archive: a write after the snapshot leaked in"; exit 1; }
[ -d "$d/live" ] || { echo "no live/ directory"; exit 1; }
count=$(find "$d/live" -maxdepth 1 -type f ! -name '.*' | wc -l)
n=0
while [ $n -lt "$count" ]; do
  f=$d/live/$n
  [ -f "$f" ] || { echo "live/$n missing while $count files are there: not a consistent prefix"; exit 1; }
  lines=$(grep -c "^live $n \$" "$f" || true)
  [ "$lines" = 2000 ] && [ "$(wc -l < "$f")" = 2000 ] || { echo "live/$n is torn ($lines of 2000 lines)"; exit 1; }
  n=$((n + 1))
done
echo "live files: $count"

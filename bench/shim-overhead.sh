#!/usr/bin/env bash
# The shim's cost on I/O it does not capture (issue 13, goal 6): `tar -cf - /usr | cat >/dev/null` (tens of
# thousands of open/stat/read/close calls on files outside the virtual directory) with and without
# LD_PRELOAD of the shim, the shim active (DISKLESS_SOCKET/DIR/TOKEN set, the directory elsewhere),
# interleaved rounds after one warm-up of the page cache. Prints wall and CPU medians and the ratio.
#
#   npm run build:native && bash bench/shim-overhead.sh            # ROUNDS=5, TREE=/usr
#   ROUNDS=9 TREE=/usr/share bash bench/shim-overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
TREE=${TREE:-/usr}
SHIM=$(node -e 'import("./dist/native/shim-path.js").then(m => console.log(m.shimPath()))' 2>/dev/null || true)
[ -n "$SHIM" ] && [ -f "$SHIM" ] || { echo "shim-overhead.sh: the shim is not built: npm run build:native && npm run build" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "shim-overhead.sh: /usr/bin/time not found: apt-get install time" >&2; exit 2; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/shim-overhead.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir "$WORK/vdir"
FILES=$(find "$TREE" -xdev -type f 2>/dev/null | wc -l)
tar -cf /dev/null "$TREE" 2>/dev/null || true # warm the page cache

one() { # one LABEL [env...]: appends "wall cpu" to $WORK/LABEL
  local label=$1; shift
  # Into a pipe, not -f /dev/null: GNU tar does not read the files' data when the archive is /dev/null.
  env "$@" /usr/bin/time -f '%e %U %S' -o "$WORK/t" tar -cf - "$TREE" 2>/dev/null | cat >/dev/null || true
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$WORK/t" >> "$WORK/$label"
}
for r in $(seq "$ROUNDS"); do
  one plain
  one shim LD_PRELOAD="$SHIM" DISKLESS_SOCKET="$WORK/none.sock" DISKLESS_DIR="$WORK/vdir" DISKLESS_TOKEN="$(printf '%064d' 0)"
done
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pw=$(cut -d' ' -f1 "$WORK/plain" | median); pc=$(cut -d' ' -f2 "$WORK/plain" | median)
sw=$(cut -d' ' -f1 "$WORK/shim" | median); sc=$(cut -d' ' -f2 "$WORK/shim" | median)
echo "tar -cf - $TREE | cat >/dev/null ($FILES files; tar timed), $ROUNDS interleaved rounds, load $(cut -d' ' -f1 /proc/loadavg)"
echo "| run | wall s (median) | CPU s (median) |"
echo "|---|---|---|"
echo "| without the shim | $pw | $pc |"
echo "| with the shim (active, directory elsewhere) | $sw | $sc |"
awk -v pw="$pw" -v sw="$sw" -v pc="$pc" -v sc="$sc" 'BEGIN { printf "| ratio with ÷ without | %.3f | %.3f |\n", sw / pw, (pc > 0 ? sc / pc : 0) }'

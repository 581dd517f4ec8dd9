# Sourced by bench/small-files.sh and bench/restore-small-files.sh: the small-file tree, cases run under /usr/bin/time -v,
# rounds interleaved, one Markdown table of medians, ranges and ratios to a reference case.
#
# time_v_summary FILE: "wall cpu rss_mib" (wall seconds, user+sys CPU seconds, peak RSS) of a
# /usr/bin/time -v output file.
time_v_summary() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time/ { c += $2 } /System time/ { c += $2 }
    /Maximum resident set size/ { r = $2 / 1024 }
    END { printf "%.2f %.2f %.1f\n", w, c, r }' "$1"
}

# spread VALUE...: the median and (min–max) of the values.
spread() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; if (NR > 1) printf "%.2f (%.2f–%.2f)", m, v[1], v[NR]; else printf "%.2f", m }'; }

# run_case_rounds PREFIX: ROUNDS rounds of every case of the array NAMES, the order rotating each
# round; each run is `run_case NAME ROUND` (defined by the script; prints "wall cpu rss_mib"). Fills
# the global associative arrays WALL, CPU and RSS (keys "name,round") and LOAD_BEFORE/LOAD_AFTER.
run_case_rounds() {
  local prefix=$1 round k name w c r
  declare -gA WALL CPU RSS
  LOAD_BEFORE=$(uptime)
  for ((round = 1; round <= ROUNDS; round++)); do
    for ((k = 0; k < ${#NAMES[@]}; k++)); do
      name=${NAMES[$(((k + round - 1) % ${#NAMES[@]}))]}
      read -r w c r < <(run_case "$name" "$round")
      WALL[$name,$round]=$w CPU[$name,$round]=$c RSS[$name,$round]=$r
      echo "  $prefix round $round $name: wall $w s, CPU $c s, RSS $r MiB" >&2
    done
  done
  LOAD_AFTER=$(uptime)
}

# print_case_table REF LABEL_FN: the Markdown table of the cases in NAMES (labelled by `LABEL_FN NAME`),
# with each one's wall and CPU divided by REF's in the same round (— when REF did not run).
print_case_table() {
  local ref=$1 label_fn=$2 name round ws cs rs wr cr
  echo "load before: $LOAD_BEFORE"
  echo "load after:  $LOAD_AFTER"
  echo
  echo "| case | wall s | CPU s | peak RSS MiB | wall ÷ $ref | CPU ÷ $ref |"
  echo "|---|---|---|---|---|---|"
  for name in "${NAMES[@]}"; do
    ws=() cs=() rs=() wr=() cr=()
    for ((round = 1; round <= ROUNDS; round++)); do
      ws+=("${WALL[$name,$round]}") cs+=("${CPU[$name,$round]}") rs+=("${RSS[$name,$round]}")
      if [ -n "${WALL[$ref,$round]:-}" ]; then
        wr+=("$(awk -v a="${WALL[$name,$round]}" -v b="${WALL[$ref,$round]}" 'BEGIN { printf "%.3f", a / b }')")
        cr+=("$(awk -v a="${CPU[$name,$round]}" -v b="${CPU[$ref,$round]}" 'BEGIN { printf "%.3f", a / b }')")
      fi
    done
    echo "| $("$label_fn" "$name") | $(spread "${ws[@]}") | $(spread "${cs[@]}") | $(spread "${rs[@]}") | $([ ${#wr[@]} -gt 0 ] && spread "${wr[@]}" || echo —) | $([ ${#cr[@]} -gt 0 ] && spread "${cr[@]}" || echo —) |"
  done
}

# make_small_files DIR COUNT: COUNT files of 4-64 KiB of /dev/urandom, 100 per directory DIR/dN/fI.bin
# (the sizes of issue 13's small-file tree; the same for every bench that uses it).
make_small_files() {
  local dir=$1 count=$2 i d
  for ((i = 0; i < count; i++)); do
    d="$dir/d$((i / 100))"
    [ -d "$d" ] || mkdir -p "$d"
    head -c $(((i * 7919 % 61 + 4) * 1024)) /dev/urandom >"$d/f$i.bin"
  done
}

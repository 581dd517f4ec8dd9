# Sourced by the read bench scripts. run_rounds N LABEL: runs each command of CMDS (named by NAMES,
# the same index) once per round, in turn, N rounds, so that a change of load hits every case alike;
# prints each run (wall s, MB/s of $bytes, user+sys CPU s of the whole pipeline, load) and fills the
# associative arrays TIMES and CPUS (name -> the seconds of each round). median: the middle value.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

run_rounds() {
  local rounds=$1 label=$2 i j name s cpu
  for i in $(seq 1 "$rounds"); do
    for j in "${!NAMES[@]}"; do
      name=${NAMES[$j]}
      read -r s cpu < <(/usr/bin/time -f '%e %U %S' bash -c "set -o pipefail; ${CMDS[$j]}" 2>&1 >/dev/null | tail -1 | awk '{print $1, $2 + $3}')
      printf '%-34s %s %d: %6.2f s  %7.1f MB/s  CPU %6.2f s  (load %s)\n' "$name" "$label" "$i" "$s" "$(echo "$bytes / $s / 1000000" | bc -l)" "$cpu" "$(cut -d' ' -f1 /proc/loadavg)"
      TIMES[$name]="${TIMES[$name]:-} $s"
      CPUS[$name]="${CPUS[$name]:-} $cpu"
    done
  done
}

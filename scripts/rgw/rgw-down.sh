#!/bin/bash
# Stop every daemon of the cluster started by rgw-up.sh (mon, osd, main and extra radosgw, by their pid files) and delete its state directory (KEEP=1 keeps it).
# Prereq: none beyond the rgw-up.sh packages; root. Paused (SIGSTOPped) gateways are resumed so they can exit; anything still alive after 5 s gets SIGKILL.
# Usage: rgw-down.sh; state dir $DISKLESS_RGW_DIR (default /tmp/diskless-rgw), as for rgw-up.sh. Only processes whose command line names that dir's ceph.conf are signalled.
# Adapted from /work/shared/brief/recipes/ceph-down.sh.
set -uo pipefail
D=$(realpath -m "${DISKLESS_RGW_DIR:-/tmp/diskless-rgw}")   # absolute, as in the daemons' command lines
[ -d "$D" ] || { echo "$D does not exist: nothing to stop"; exit 0; }
if [ "${DISKLESS_RGW_LOCKED:-0}" != 1 ]; then   # rgw-up.sh calls us with its lock held
  exec 9>"$D.lock"
  flock -w 300 9 || { echo "rgw-down.sh: timed out waiting for the lock $D.lock" >&2; exit 1; }
fi
ours() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -qF "$D/ceph.conf"; }
# Stop in dependency order (gateways, then osd, then mon): a radosgw whose OSD or mon is already gone takes ~5 s to exit.
stop_group() {
  local p pid pids=()
  for p in "$@"; do
    [ -e "$p" ] || continue
    pid=$(cat "$p" 2>/dev/null) || continue
    [ -n "$pid" ] && ours "$pid" || continue
    pids+=("$pid")
    # SIGCONT too: a gateway paused by rgw-gateway.sh must run to handle SIGTERM.
    kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null && echo "stopping $(basename "$p" .pid) (pid $pid)"
  done
  [ ${#pids[@]} = 0 ] && return 0
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${pids[@]}"; do ours "$pid" && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    ours "$pid" && { kill -KILL "$pid" 2>/dev/null; echo "pid $pid did not exit 5 s after SIGTERM: killed"; }
  done
  for pid in "${pids[@]}"; do   # wait until the kernel has really released them (ports, files)
    for _ in $(seq 1 50); do ours "$pid" || break; sleep 0.1; done
  done
}
stop_group "$D"/run/ceph-client.rgw.*.pid
stop_group "$D"/run/ceph-osd.*.pid
stop_group "$D"/run/*.pid   # the mon, and anything else
if [ "${KEEP:-0}" = 1 ]; then
  echo "state dir kept: $D"
elif [ -e "$D/.diskless-rgw" ]; then
  rm -rf "$D" && echo "removed $D"
else
  echo "rgw-down.sh: $D has no .diskless-rgw marker (not made by rgw-up.sh): not removed" >&2
fi
exit 0

#!/bin/bash
# End-to-end test of `diskless snapshot` with real LVM (classic and thin snapshots of ext4 and xfs) inside User-Mode Linux,
# uploading to a private Ceph RGW. Run as root from anywhere; prints the guest's progress and ends with
# "UML-LVM-TEST: OK" (exit 0) or "UML-LVM-TEST: FAIL …" with the logs (exit 1).
#
# Network: everything happens inside a network namespace this script creates (dl-uml-<pid>): the RGW (scripts/rgw/rgw-up.sh,
# loopback of the namespace), a relay from the namespace's tap address to that loopback, and the UML guest, whose eth0
# is the tap. No packet leaves the namespace; it is deleted at the end with everything in it.
# Prereq: apt-get install -y --no-install-recommends user-mode-linux lvm2 thin-provisioning-tools xfsprogs acl attr
#   busybox-static zstd iproute2, the Ceph packages of rgw-up.sh, and a built checkout (npm install; npm run build).
# Usage: run-lvm-test.sh [WORKDIR]   (default /tmp/dl-uml-<pid>, removed at the end unless KEEP=1); TIMEOUT (s, default 420).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${1:-/tmp/dl-uml-$$}
case $W in ''|/) echo "refusing WORKDIR '$W'" >&2; exit 2 ;; esac
NS=dl-uml-$$
TAP=dltap$$
HOST_IP=10.254.77.1
GUEST_IP=10.254.77.2
PORT=19001
BUCKET=uml-lvm-$$
TIMEOUT=${TIMEOUT:-420}
t0=${EPOCHREALTIME/./}
ts() { local us=$(( ${EPOCHREALTIME/./} - t0 )); printf '[host %3d.%01ds] %s\n' $((us / 1000000)) $((us % 1000000 / 100000)) "$*"; }
[ "$EUID" = 0 ] || { echo "run-lvm-test.sh: must run as root" >&2; exit 2; }
for b in linux.uml lvm mkfs.xfs setfacl getfattr busybox zstd ip node thin_check; do
  command -v "$b" >/dev/null || { echo "run-lvm-test.sh: missing $b; apt-get install -y --no-install-recommends user-mode-linux lvm2 thin-provisioning-tools xfsprogs acl attr busybox-static zstd iproute2" >&2; exit 2; }
done
[ -f "$REPO/dist/cli/main.js" ] || { echo "run-lvm-test.sh: $REPO is not built (npm run build)" >&2; exit 2; }

rm -rf "$W"; mkdir -p "$W/out"; W=$(cd "$W" && pwd)
RELAY_PID=; UML_PID=; RGW_UP_PID=
cleanup() {
  local rc=$?
  set +e
  [ -n "$UML_PID" ] && kill -9 "$UML_PID" 2>/dev/null
  [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
  [ -n "$RGW_UP_PID" ] && kill "$RGW_UP_PID" 2>/dev/null
  # rgw-down.sh stops the daemons by their pid files (they live in the namespace); then the namespace goes.
  if [ -d "$W/rgw" ]; then DISKLESS_RGW_DIR=$W/rgw ip netns exec "$NS" bash "$REPO/scripts/rgw/rgw-down.sh" >"$W/rgw-down.log" 2>&1; fi
  ip netns del "$NS" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then
    echo "run-lvm-test.sh: logs kept in $W (console.log, rgw-up.log)" >&2
    rm -f "$W/pv.img"
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# --- the namespace, its tap (the guest's wire) and loopback
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip tuntap add dev "$TAP" mode tap
ip netns exec "$NS" ip addr add "$HOST_IP/30" dev "$TAP"
ip netns exec "$NS" ip link set "$TAP" up
ts "network namespace $NS with $TAP ($HOST_IP) created"

# --- RGW inside the namespace, started while the guest boots and builds its LVM setup
( ip netns exec "$NS" env RGW_PORT=$PORT DISKLESS_RGW_DIR="$W/rgw" OSD_SIZE=$((4 * 1024 * 1024 * 1024)) bash "$REPO/scripts/rgw/rgw-up.sh" >"$W/rgw-up.log" 2>&1 \
  && ip netns exec "$NS" node "$HERE/make-bucket.mjs" "http://127.0.0.1:$PORT" "$BUCKET" >>"$W/rgw-up.log" 2>&1 \
  && touch "$W/out/s3-ready" ) &
RGW_UP_PID=$!
ip netns exec "$NS" node "$HERE/tcp-relay.mjs" "$HOST_IP:$PORT" "127.0.0.1:$PORT" >"$W/relay.log" 2>&1 &
RELAY_PID=$!

# --- the guest: the host's / read-only as root, one sparse PV disk, the tap as eth0; DL_* reach init as environment.
# The tuntap transport, not vec0 (vector): with vector, frames the host kernel hands over as GSO are dropped
# ("Incoming GSO frames and GRO disabled"), and a 20 MB download took 60 s instead of 0.7 s.
truncate -s 4G "$W/pv.img"
ip netns exec "$NS" timeout "$TIMEOUT" linux.uml mem=1024M root=/dev/root rootfstype=hostfs rootflags=/ ro \
  ubd0="$W/pv.img" "eth0=tuntap,$TAP" init="$HERE/lvm-guest.sh" con=null con0=fd:0,fd:1 quiet \
  DL_REPO="$REPO" DL_OUT="$W/out" DL_ENDPOINT="http://$HOST_IP:$PORT" DL_BUCKET="$BUCKET" DL_GUEST_IP="$GUEST_IP" \
  < /dev/null > "$W/console.log" 2>&1 &
UML_PID=$!
ts "UML guest started (console: $W/console.log)"
wait $UML_PID || true
UML_PID=
# The guest's progress lines, with its own clock.
grep -E '^\[guest|GUEST-RESULT' "$W/console.log" || true
if grep -q 'GUEST-RESULT: OK' "$W/console.log"; then
  ts "UML-LVM-TEST: OK"
  exit 0
fi
ts "UML-LVM-TEST: FAIL ($(grep -m1 'GUEST-RESULT' "$W/console.log" || echo 'no GUEST-RESULT line: the guest crashed or timed out'))"
echo "--- last 80 lines of the guest console:"; tail -80 "$W/console.log"
echo "--- rgw-up.log:"; tail -20 "$W/rgw-up.log" 2>/dev/null
for f in "$W"/out/*.log; do [ -f "$f" ] && { echo "--- $f:"; tail -40 "$f"; }; done
exit 1

#!/bin/bash
# End-to-end test of `diskless snapshot` with real LVM (classic and thin snapshots of ext4 and xfs) inside a Linux guest
# (the host kernel has no device-mapper), uploading to a private Ceph RGW. Run as root from anywhere; prints the guest's
# progress and ends with "LVM-TEST: OK in N s, guest …" (exit 0), "LVM-TEST: FAIL …" with the logs (exit 1), or
# "LVM-TEST: SKIP (reason)" (exit 77) on a host where no guest can start.
#
# The guest (DISKLESS_LVM_VM=uml|tcg|auto, default auto):
#   uml  User-Mode Linux, root = the host's / through hostfs. Fast (170-300 s for the whole test), but it cannot start
#        on some hosts (Intel CPUs with AMX: "ptrace set fp regs failed, errno = 14", then a kernel panic).
#   tcg  QEMU with software emulation (TCG; KVM hangs where it was tried), Debian's generic kernel and a small initramfs
#        (tcg-boot-files.sh), root = the host's / through 9p (read-only), disks on virtio. Slower; runs on any x86-64 host.
#   auto boots uml-probe.sh under UML first (about 1 s) and takes UML if its marker appears, else TCG. Skips (exit 77)
#        only when UML cannot start and TCG cannot either (no kernel package to be had, or the VM does not boot).
# Both run the same guest script, lvm-guest.sh, with the same checks.
#
# Network: everything happens inside a network namespace this script creates (dl-lvm-<pid>): the RGW (scripts/rgw/rgw-up.sh,
# loopback of the namespace), a relay from the namespace's tap address to that loopback, and the guest, whose eth0
# is the tap. No packet leaves the namespace; it is deleted at the end with everything in it.
# Prereq: apt-get install -y --no-install-recommends user-mode-linux qemu-system-x86 cpio kmod lvm2 thin-provisioning-tools
#   xfsprogs acl attr busybox-static zstd iproute2, the Ceph packages of rgw-up.sh, and a built checkout (npm install;
#   npm run build). TCG downloads Debian's kernel package once (tcg-boot-files.sh; cache /var/cache/diskless-test-kernel).
# Usage: run-lvm-test.sh [WORKDIR]   (default /tmp/dl-lvm-<pid>, removed at the end unless KEEP=1); TIMEOUT (s, guest run,
#   default 420 under UML, 690 under TCG); DL_BIG_MB (MB of the file read while signals arrive, default 150; 60 under TCG).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${1:-/tmp/dl-lvm-$$}
case $W in ''|/) echo "refusing WORKDIR '$W'" >&2; exit 2 ;; esac
NS=dl-lvm-$$
TAP=dltap$$
HOST_IP=10.254.77.1
GUEST_IP=10.254.77.2
PORT=19001
BUCKET=lvm-test-$$
WANT=${DISKLESS_LVM_VM:-auto}
t0=${EPOCHREALTIME/./}
ts() { local us=$(( ${EPOCHREALTIME/./} - t0 )); printf '[host %3d.%01ds] %s\n' $((us / 1000000)) $((us % 1000000 / 100000)) "$*"; }
secs() { echo $(( (${EPOCHREALTIME/./} - t0) / 1000000 )); }
INSTALL="apt-get install -y --no-install-recommends user-mode-linux qemu-system-x86 cpio kmod lvm2 thin-provisioning-tools xfsprogs acl attr busybox-static zstd iproute2"
[ "$EUID" = 0 ] || { echo "run-lvm-test.sh: must run as root" >&2; exit 2; }
case $WANT in auto|uml|tcg) ;; *) echo "run-lvm-test.sh: DISKLESS_LVM_VM must be uml, tcg or auto, not '$WANT'" >&2; exit 2 ;; esac
for b in lvm mkfs.xfs setfacl getfattr busybox zstd ip node thin_check; do
  command -v "$b" >/dev/null || { echo "run-lvm-test.sh: missing $b; $INSTALL" >&2; exit 2; }
done
[ -f "$REPO/dist/cli/main.js" ] || { echo "run-lvm-test.sh: $REPO is not built (npm run build)" >&2; exit 2; }

rm -rf "$W"; mkdir -p "$W/out"; W=$(cd "$W" && pwd)
RELAY_PID=; VM_PID=; RGW_UP_PID=
cleanup() {
  local rc=$?
  set +e
  # timeout(1) passes the TERM on to the VM and KILLs it 5 s later if it is still there (-k 5).
  [ -n "$VM_PID" ] && kill -TERM "$VM_PID" 2>/dev/null
  [ -n "$RELAY_PID" ] && kill "$RELAY_PID" 2>/dev/null
  [ -n "$RGW_UP_PID" ] && kill "$RGW_UP_PID" 2>/dev/null
  # rgw-down.sh stops the daemons by their pid files (they live in the namespace); then the namespace goes.
  if [ -d "$W/rgw" ]; then DISKLESS_RGW_DIR=$W/rgw ip netns exec "$NS" bash "$REPO/scripts/rgw/rgw-down.sh" >"$W/rgw-down.log" 2>&1; fi
  wait 2>/dev/null
  ip netns del "$NS" 2>/dev/null
  if [ "${KEEP:-0}" = 1 ] || { [ $rc != 0 ] && [ $rc != 77 ]; }; then
    echo "run-lvm-test.sh: logs kept in $W" >&2
    rm -f "$W/pv.img"
  else
    rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 143' TERM INT
skip() { ts "LVM-TEST: SKIP ($*)"; exit 77; }
die() { ts "LVM-TEST: FAIL ($*)"; exit 1; }

# --- which guest: UML where it starts (the probe's init prints a marker), else QEMU TCG
uml_problem() { # prints why UML cannot start here, nothing if it can
  command -v linux.uml >/dev/null || { echo "linux.uml is not installed"; return; }
  timeout -k 2 20 linux.uml mem=64M root=/dev/root rootfstype=hostfs rootflags=/ ro init="$HERE/uml-probe.sh" \
    con=null con0=fd:0,fd:1 quiet < /dev/null > "$W/uml-probe.log" 2>&1 || true
  grep -aq 'UML-PROBE: OK' "$W/uml-probe.log" && return
  echo "linux.uml does not start on this host: $(grep -aE -m2 'failed, errno|Kernel panic' "$W/uml-probe.log" | tr -d '\r' | awk 'NR > 1 { printf "; " } { printf "%s", $0 }' || true)"
}
VM=$WANT; WHY="DISKLESS_LVM_VM=$WANT"; why_not_uml=
if [ "$WANT" != tcg ]; then
  why_not_uml=$(uml_problem)
  if [ -z "$why_not_uml" ]; then VM=uml; [ "$WANT" = auto ] && WHY="its probe booted"
  elif [ "$WANT" = uml ]; then die "DISKLESS_LVM_VM=uml, but $why_not_uml"
  else VM=tcg; WHY=$why_not_uml; ts "$why_not_uml; using QEMU TCG"
  fi
fi
NAME=$([ "$VM" = tcg ] && echo "QEMU TCG" || echo "User-Mode Linux")
if [ "$VM" = tcg ]; then
  for b in qemu-system-x86_64 cpio modprobe depmod dpkg-deb apt-get flock; do
    command -v "$b" >/dev/null || { echo "run-lvm-test.sh: missing $b (needed for the QEMU TCG guest${why_not_uml:+: $why_not_uml}); $INSTALL" >&2; exit 2; }
  done
  rc=0; bash "$HERE/tcg-boot-files.sh" "$W/boot" > "$W/boot-files.log" 2>&1 || rc=$?
  if [ $rc != 0 ]; then
    cat "$W/boot-files.log" >&2
    [ $rc = 3 ] && [ "$WANT" = auto ] && skip "${why_not_uml}, and no kernel for the QEMU TCG guest: $(tail -1 "$W/boot-files.log")"
    die "tcg-boot-files.sh failed (exit $rc)"
  fi
  ts "QEMU TCG guest: $(tail -1 "$W/boot-files.log"), initramfs built"
fi
TIMEOUT=${TIMEOUT:-$([ "$VM" = tcg ] && echo 690 || echo 420)}
BIG_MB=${DL_BIG_MB:-$([ "$VM" = tcg ] && echo 60 || echo 150)}


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
truncate -s 4G "$W/pv.img"
GUEST_ENV="DL_VM=$VM DL_REPO=$REPO DL_OUT=$W/out DL_ENDPOINT=http://$HOST_IP:$PORT DL_BUCKET=$BUCKET DL_GUEST_IP=$GUEST_IP DL_BIG_MB=$BIG_MB"
if [ "$VM" = uml ]; then
  # The tuntap transport, not vec0 (vector): with vector, frames the host kernel hands over as GSO are dropped
  # ("Incoming GSO frames and GRO disabled"), and a 20 MB download took 60 s instead of 0.7 s.
  # shellcheck disable=SC2086 # GUEST_ENV is split into kernel parameters on purpose
  ip netns exec "$NS" timeout -k 5 "$TIMEOUT" linux.uml mem=1024M root=/dev/root rootfstype=hostfs rootflags=/ ro \
    ubd0="$W/pv.img" "eth0=tuntap,$TAP" init="$HERE/lvm-guest.sh" con=null con0=fd:0,fd:1 quiet \
    $GUEST_ENV DL_DISK=/dev/ubda < /dev/null > "$W/console.log" 2>&1 &
else
  # Two vCPUs (multi-threaded TCG), cache=unsafe raw disk, the tap as a virtio NIC; the host's / and the out dir as 9p
  # shares (multidevs=remap: / spans several host filesystems). tcg-init.sh mounts them and runs lvm-guest.sh.
  # mitigations=off: page-table isolation makes every system call flush the emulated TLB (about 2x slower here).
  ip netns exec "$NS" timeout -k 5 "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 2 -m 1536 \
    -display none -monitor none -serial stdio -no-reboot \
    -kernel "$W/boot/vmlinuz" -initrd "$W/boot/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 quiet mitigations=off DL_INIT=$HERE/lvm-guest.sh $GUEST_ENV DL_DISK=/dev/vda" \
    -drive "file=$W/pv.img,format=raw,if=virtio,cache=unsafe" \
    -netdev "tap,id=net0,ifname=$TAP,script=no,downscript=no" -device virtio-net-pci,netdev=net0 \
    -virtfs local,path=/,mount_tag=hostroot,security_model=passthrough,readonly=on,multidevs=remap \
    -virtfs "local,path=$W/out,mount_tag=out,security_model=passthrough,multidevs=remap" \
    < /dev/null > "$W/console.log" 2>&1 &
fi
VM_PID=$!
ts "$VM guest started (console: $W/console.log, guest timeout ${TIMEOUT} s)"
wait $VM_PID || true
VM_PID=
# The guest's progress lines, with its own clock.
grep -aE '^\[guest|GUEST-RESULT' "$W/console.log" | tr -d '\r' || true
if grep -aq 'GUEST-RESULT: OK' "$W/console.log"; then
  ts "LVM-TEST: OK in $(secs) s, guest $NAME ($WHY)"
  exit 0
fi
if [ "$VM" = tcg ] && [ "$WANT" = auto ] && ! grep -aq 'TCG-INIT: started' "$W/console.log"; then
  echo "--- the QEMU console:"; tail -30 "$W/console.log" | tr -d '\r'
  skip "${why_not_uml}, and the QEMU TCG guest did not boot either (no TCG-INIT line on its console)"
fi
ts "LVM-TEST: FAIL after $(secs) s, guest $NAME ($WHY): ($(grep -a -m1 'GUEST-RESULT' "$W/console.log" | tr -d '\r' || echo 'no GUEST-RESULT line: the guest crashed or timed out'))"
echo "--- last 80 lines of the guest console:"; tail -80 "$W/console.log" | tr -d '\r'
echo "--- rgw-up.log:"; tail -20 "$W/rgw-up.log" 2>/dev/null
for f in "$W"/out/*.log; do [ -f "$f" ] && { echo "--- $f:"; tail -40 "$f"; }; done
exit 1

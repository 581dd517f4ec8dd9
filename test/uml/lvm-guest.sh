#!/bin/sh
# PID 1 of the Linux guest started by run-lvm-test.sh: a User-Mode Linux guest (DL_VM=uml; root = the host's / via
# hostfs) or a QEMU TCG guest (DL_VM=tcg; root = the host's / via 9p, switched to by tcg-init.sh, which has already
# loaded the modules). Either way the root is read-only and the host's lvm2, xfsprogs, tar, acl, attr, zstd and node
# are used. Builds a VG with ext4 and xfs LVs and thin ext4 and xfs LVs, mounts and fills them, and tests
# `diskless snapshot` against the RGW reached through eth0:
#   1. --all while writers keep writing: one archive per volume, each (fetched back with diskless get) extracts to the
#      tree at snapshot time, later writes absent; no snapshot or mount left; the manifest lists the four archives.
#   2. SIGTERM mid-run: exit 143, no snapshot, no mount.  3. SIGKILL, then a second run: it removes the leftovers.
#   4. A too-small classic snapshot filled during the backup: that volume fails (exit 5), nothing stored.
# Prints "[guest T] …" progress and "GUEST-RESULT: OK" or "GUEST-RESULT: FAIL at: …", then powers off.
# Environment (from the kernel command line): DL_VM (uml|tcg), DL_DISK (the PV disk: /dev/ubda, /dev/vda), DL_REPO,
# DL_OUT (host dir, mounted rw: hostfs under UML, the 9p share "out" under TCG), DL_ENDPOINT, DL_BUCKET, DL_GUEST_IP,
# DL_BIG_MB (size of the file read while the signals arrive, default 150).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc; mount -t sysfs sys /sys
mount -t tmpfs -o size=256m tmpfs /run; mkdir -p /run/lock/lvm /run/lvm /run/m /run/lvmconf /run/out /run/home /run/tmp
case ${DL_VM:-uml} in
  tcg) mount -t 9p -o trans=virtio,version=9p2000.L out /run/out ;;
  *) mount -t hostfs none /run/out -o "$DL_OUT" ;;
esac
DISK=${DL_DISK:-/dev/ubda}
BIG_MB=${DL_BIG_MB:-150}
# How often the waits below look (each look spawns a process, which costs about 0.1 s of the emulated CPU under TCG).
case ${DL_VM:-uml} in tcg) POLL=0.25 POLL_MS=250 ;; *) POLL=0.05 POLL_MS=50 ;; esac
# wait_for SECONDS COMMAND…: runs COMMAND every $POLL s until it succeeds; returns 1 after about SECONDS.
wait_for() { w=$(($1 * 1000)); shift; n=0; until "$@"; do n=$((n + POLL_MS)); [ $n -gt $w ] && return 1; sleep $POLL; done; }
up() { echo "[guest $(cut -d' ' -f1 /proc/uptime)s] $*"; }
fail() { echo "GUEST-RESULT: FAIL at: $*"; for f in /run/out/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -25 "$f"; }; done; sync; busybox poweroff -f; }
U=$DL_REPO/test/uml
hostname lvm-guest 2>/dev/null || echo lvm-guest > /proc/sys/kernel/hostname
up "kernel $(uname -r) booted (${DL_VM:-uml})"
if [ "${DL_VM:-uml}" = uml ]; then
  # busybox insmod in dependency order (modules.dep): kmod's modprobe is not always installed, and /lib/modules is read-only.
  K=/usr/lib/uml/modules/$(uname -r)/kernel/drivers/md
  for m in dm-mod dm-bufio dm-snapshot persistent-data/dm-persistent-data dm-bio-prison dm-thin-pool; do busybox insmod $K/$m.ko || fail "insmod $m"; done
fi
cat > /run/lvmconf/lvm.conf <<'CONF'
devices { obtain_device_list_from_udev = 0 external_device_info_source = "none" }
activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }
global { event_activation = 0 thin_check_executable = "/usr/sbin/thin_check" locking_dir = "/run/lock/lvm" }
backup { backup = 0 archive = 0 }
CONF
export LVM_SYSTEM_DIR=/run/lvmconf LVM_SUPPRESS_FD_WARNINGS=1
export HOME=/run/home XDG_STATE_HOME=/run/home/state TMPDIR=/run/tmp
export AWS_ACCESS_KEY_ID=testaccesskey AWS_SECRET_ACCESS_KEY=testsecretkey AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
ip link set lo up && ip addr add "$DL_GUEST_IP/30" dev eth0 && ip link set eth0 up || fail "network (eth0)"

wait_for 10 test -b $DISK || fail "no disk $DISK"
pvcreate -y $DISK >/dev/null && vgcreate vg0 $DISK >/dev/null || fail "pvcreate/vgcreate"
lvcreate -y -L 320M -n lvext4 vg0 >/dev/null && lvcreate -y -L 320M -n lvxfs vg0 >/dev/null || fail "lvcreate"
lvcreate -y -L 400M -n restore vg0 >/dev/null || fail "lvcreate restore"
lvcreate -y --type thin-pool -L 512M -n pool vg0 >/dev/null || fail "thin-pool"
lvcreate -y -V 1G --thin -n thinext4 vg0/pool >/dev/null && lvcreate -y -V 1G --thin -n thinxfs vg0/pool >/dev/null || fail "thin lv"
for lv in lvext4 thinext4 restore; do mkfs.ext4 -q /dev/vg0/$lv || fail "mkfs.ext4 $lv"; done
for lv in lvxfs thinxfs; do mkfs.xfs -q /dev/vg0/$lv || fail "mkfs.xfs $lv"; done
VOLS="lvext4 lvxfs thinext4 thinxfs"
for lv in $VOLS; do
  mkdir -p /run/m/$lv && mount /dev/vg0/$lv /run/m/$lv || fail "mount $lv"
  sh $U/populate-tree.sh /run/m/$lv || fail "populate $lv"
  sh $U/fingerprint.sh /run/m/$lv > /run/expected-$lv || fail "fingerprint $lv"
done
up "VG with ext4, xfs, thin ext4, thin xfs LVs created, mounted and filled"

wait_for 240 test -e /run/out/s3-ready || fail "the RGW did not come up in 240 s"
up "S3 endpoint ready ($DL_ENDPOINT, bucket $DL_BUCKET)"
DL="node $DL_REPO/bin/diskless.js"
COMMON="--to s3://$DL_BUCKET/uml/ --endpoint-url $DL_ENDPOINT"
get() { $DL get "$1" --endpoint-url "$DL_ENDPOINT" -q; }
no_leftovers() { # $1 = what
  lvs --noheadings -o lv_name vg0 | grep -q diskless-snap && { lvs -a vg0; fail "$1: a diskless-snap LV is left"; }
  grep -q ' /run/diskless-snapshot' /proc/self/mountinfo && { cat /proc/self/mountinfo; fail "$1: a snapshot is still mounted"; }
  [ -z "$(ls -A /run/diskless-snapshot 2>/dev/null)" ] || { ls -R /run/diskless-snapshot; fail "$1: the work dir is not empty"; }
}

# --- 1. --all, origins mounted and being written to
for lv in $VOLS; do sh $U/live-writer.sh /run/m/$lv & done
sleep 0.5
$DL snapshot $COMMON --all --compress zstd --snapshot-size 25%ORIGIN > /run/out/all.out 2> /run/out/all.log &
DLPID=$!
( for lv in $VOLS; do
    wait_for 150 grep -q "vg0/$lv: .*snapshot .* created" /run/out/all.log || exit 1
    echo "written after the snapshot" > /run/m/$lv/after-snapshot.txt
  done ) &
wait $DLPID; rc=$?
for lv in $VOLS; do touch /run/m/$lv/live/.stop; done
[ $rc = 0 ] || fail "snapshot --all exited with $rc"
up "snapshot --all: $(grep -c ': stored s3://' /run/out/all.log) volume(s) stored"
no_leftovers "after --all"
mkdir -p /run/restore && mount /dev/vg0/restore /run/restore || fail "mount restore"
for lv in $VOLS; do
  url=$(sed -n "s|^diskless: vg0/$lv: stored \(s3://[^ ]*\): .*|\1|p" /run/out/all.log)
  [ -n "$url" ] || fail "no archive of vg0/$lv in the log"
  get "$url" > /run/tmp/archive || fail "diskless get $url"
  n=$(zstd -d -c /run/tmp/archive | tar -t | wc -l) || fail "tar -t of $url"
  d=/run/restore/$lv; mkdir -p $d
  zstd -d -c /run/tmp/archive | tar --extract --file=- --directory=$d --xattrs --xattrs-include='*' --acls --numeric-owner --same-permissions --sparse || fail "extract $url"
  sh $U/fingerprint.sh $d > /run/got-$lv
  cmp -s /run/expected-$lv /run/got-$lv || { diff /run/expected-$lv /run/got-$lv | head -20; fail "vg0/$lv: extracted tree differs from the tree at snapshot time"; }
  live=$(sh $U/check-live.sh $d) || fail "vg0/$lv: $live"
  [ "$(stat -c %i $d/dir/file.txt)" = "$(stat -c %i $d/dir/hardlink.txt)" ] || fail "vg0/$lv: hardlink lost"
  [ $(( $(stat -c %b $d/dir/sparse.bin) * 512 )) -lt 1048576 ] || fail "vg0/$lv: sparse file came back dense"
  up "vg0/$lv: $url: $n entries, same tree as at snapshot time (xattrs, ACLs, owners, links, sparse), $live, later write absent"
done
murl=$(sed -n 's|.*and the manifest \(s3://[^ ]*\) in .*|\1|p' /run/out/all.log)
[ -n "$murl" ] && get "$murl" > /run/manifest.json || fail "manifest missing"
[ "$(grep -c '"tarCommand"' /run/manifest.json)" = 4 ] || fail "the manifest does not list 4 volumes"
grep -q '"kind": "thin"' /run/manifest.json && grep -q '"kind": "classic"' /run/manifest.json || fail "manifest: snapshot kinds"
up "manifest $murl lists the 4 archives with their tar commands"

# Something to read for a while, so that the signals below arrive mid-run.
head -c $((BIG_MB * 1000000)) /dev/urandom > /run/m/lvxfs/big.bin || fail "write big.bin"

# --- 2. SIGTERM mid-run
$DL snapshot $COMMON --volume vg0/lvxfs > /dev/null 2> /run/out/sigterm.log &
DLPID=$!
wait_for 60 grep -q 'snapshot .* created' /run/out/sigterm.log || fail "SIGTERM run: no snapshot"
kill -TERM $DLPID; wait $DLPID; rc=$?
[ $rc = 143 ] || fail "SIGTERM run exited with $rc, not 143"
no_leftovers "after SIGTERM"
up "SIGTERM mid-run: exit 143, snapshot removed, nothing mounted"

# --- 3. SIGKILL, then a second run
$DL snapshot $COMMON --volume vg0/lvxfs > /dev/null 2> /run/out/sigkill.log &
DLPID=$!
wait_for 60 grep -q 'snapshot .* created' /run/out/sigkill.log || fail "SIGKILL run: no snapshot"
sleep 0.3
kill -KILL $DLPID; wait $DLPID
lvs --noheadings -o lv_name vg0 | grep -q "diskless-snap-$DLPID-lvxfs" || fail "SIGKILL: expected the killed run's snapshot to be left"
$DL snapshot $COMMON --volume vg0/lvxfs > /dev/null 2> /run/out/second.log || fail "second run after SIGKILL failed"
grep -q "removed leftover snapshot LV vg0/diskless-snap-$DLPID-lvxfs" /run/out/second.log || fail "the second run did not report removing the leftover"
no_leftovers "after SIGKILL + second run"
up "SIGKILL left diskless-snap-$DLPID-lvxfs; the second run removed it and succeeded"

# --- 4. a classic snapshot too small for what is written during the backup
head -c $((BIG_MB * 1000000)) /dev/urandom > /run/m/lvext4/big.bin || fail "write big.bin on lvext4"
$DL snapshot $COMMON --volume vg0/lvext4 --snapshot-size 8MiB --fill-poll 0.2 --key 'small/{name}{ext}' > /dev/null 2> /run/out/small.log &
DLPID=$!
wait_for 60 grep -q 'snapshot .* created' /run/out/small.log || fail "small snapshot run: no snapshot"
dd if=/dev/urandom of=/run/m/lvext4/filler bs=1M count=64 oflag=direct status=none
wait $DLPID; rc=$?
[ $rc = 5 ] || fail "too-small snapshot: exit $rc, not 5"
grep -Eq 'reached [0-9.]+% of its 8.00 MiB|overflowed' /run/out/small.log || fail "too-small snapshot: no clear message"
get "s3://$DL_BUCKET/uml/small/vg0-lvext4.tar" > /dev/null 2>&1 && fail "too-small snapshot: an archive was stored"
no_leftovers "after the too-small snapshot"
up "too-small snapshot: $(grep -Eo 'reached [0-9.]+% of its 8.00 MiB|overflowed' /run/out/small.log | head -1); exit 5, nothing stored, snapshot removed"

lvs -a -o lv_name,lv_attr,origin,data_percent vg0
for lv in $VOLS; do umount /run/m/$lv; done
umount /run/restore
vgchange -an vg0 >/dev/null
sync
echo "GUEST-RESULT: OK"
busybox poweroff -f

#!/bin/sh
# /init of the initramfs built by tcg-boot-files.sh (busybox sh, PID 1 of the QEMU TCG guest of run-lvm-test.sh).
# Loads the modules listed in /modules.load (virtio, 9p, ext4, xfs, device-mapper), mounts the host's / read-only from
# the 9p share "hostroot" and switches to it, with the guest's own /dev, running $DL_INIT (lvm-guest.sh) as PID 1.
# The DL_* variables come from the kernel command line and pass through to $DL_INIT unchanged.
# "TCG-INIT: started" on the console tells run-lvm-test.sh that the VM itself boots on this host.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "TCG-INIT: started"
fail() { echo "GUEST-RESULT: FAIL at: initramfs: $*"; poweroff -f; sleep 10; }
while read -r m; do insmod "$m" || fail "insmod $m"; done < /modules.load
# cache=loose: the root is read-only and nobody changes it while the guest runs, so the guest may cache it (node
# reads hundreds of files of the repository and node_modules on every start).
mount -t 9p -o ro,trans=virtio,version=9p2000.L,cache=loose,msize=512000 hostroot /newroot || fail "mount the 9p root"
[ -x "/newroot$DL_INIT" ] || fail "no $DL_INIT in the host's root"
mount --move /dev /newroot/dev || fail "move /dev"
umount /proc /sys
exec switch_root /newroot "$DL_INIT"

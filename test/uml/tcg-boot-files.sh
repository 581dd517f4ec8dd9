#!/bin/bash
# Prepares the boot files of the QEMU TCG guest of run-lvm-test.sh (the path taken where User-Mode Linux cannot start):
# OUTDIR/vmlinuz and OUTDIR/initramfs.cpio.gz. The kernel is Debian's generic linux-image-6.1.0-*-amd64 (the -cloud
# flavour has no 9p), fetched once with `apt-get download` into a cache outside the repository
# ($DISKLESS_TEST_KERNEL_DIR, default /var/cache/diskless-test-kernel) and extracted there. The initramfs holds the host's
# static busybox, the modules the guest needs (virtio, 9p, ext4, xfs, device-mapper) in load order, and tcg-init.sh as
# /init, which mounts the host's / over 9p and switches to it. About 1 s once the kernel is cached.
# Prereq: apt-get install -y --no-install-recommends qemu-system-x86 busybox-static cpio kmod (and Debian's package lists).
# Usage: tcg-boot-files.sh OUTDIR. Prints "kernel <version>" on success; exit 3 if no kernel package can be had.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:?usage: tcg-boot-files.sh OUTDIR}
CACHE=${DISKLESS_TEST_KERNEL_DIR:-/var/cache/diskless-test-kernel}
mkdir -p "$OUT" "$CACHE"

# --- the kernel: the newest one extracted in the cache, else the one linux-image-amd64 depends on, downloaded now.
newest_cached() { ls -d "$CACHE"/*-amd64/lib/modules/*-amd64 2>/dev/null | sort -V | tail -1 || true; }
exec 9>"$CACHE/.lock"
flock 9
MODDIR=$(newest_cached)
if [ -z "$MODDIR" ]; then
  PKG=$( (apt-cache depends linux-image-amd64 2>/dev/null || true) | awk '$1 == "Depends:" && $2 ~ /^linux-image-6\.[0-9.]+-[0-9]+-amd64$/ { print $2; exit }')
  [ -n "$PKG" ] || PKG=$( (apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null || true) | awk '{ print $1 }' | sort -V | tail -1)
  [ -n "$PKG" ] || { echo "tcg-boot-files.sh: no linux-image-*-amd64 package known to apt (run apt-get update)" >&2; exit 3; }
  V=${PKG#linux-image-}
  tmp=$(mktemp -d "$CACHE/.download-XXXXXX")
  chmod 755 "$tmp"   # apt-get download drops privileges to _apt where it can
  if ! (cd "$tmp" && apt-get download "$PKG" >download.log 2>&1); then
    echo "tcg-boot-files.sh: apt-get download $PKG failed:" >&2; tail -5 "$tmp/download.log" >&2; rm -rf "$tmp"; exit 3
  fi
  dpkg-deb -x "$tmp"/*.deb "$tmp/root"
  depmod -b "$tmp/root" "$V"
  rm -rf "${CACHE:?}/$V"; mv "$tmp/root" "$CACHE/$V"; rm -rf "$tmp"
  MODDIR=$(newest_cached)
fi
flock -u 9
KROOT=${MODDIR%/lib/modules/*}
K=${MODDIR##*/}
[ -f "$KROOT/boot/vmlinuz-$K" ] || { echo "tcg-boot-files.sh: $KROOT has no boot/vmlinuz-$K" >&2; exit 3; }

# --- the initramfs
R=$OUT/initramfs
rm -rf "$R"; mkdir -p "$R"/{bin,proc,sys,dev,newroot}
cp /bin/busybox "$R/bin/busybox"
for a in sh mount umount mkdir insmod switch_root poweroff sleep cat echo; do ln -s busybox "$R/bin/$a"; done
# Modules with their dependencies, in the order modprobe would load them (each once): virtio_pci first (the disks,
# the network card and the 9p shares are virtio PCI devices), then 9p, the filesystems and the device-mapper targets.
for m in virtio_pci virtio_blk virtio_net 9pnet_virtio 9p ext4 xfs dm-mod dm-snapshot dm-thin-pool; do
  modprobe -d "$KROOT" -S "$K" --show-depends "$m" | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' > "$OUT/modules.order"
[ -s "$OUT/modules.order" ] || { echo "tcg-boot-files.sh: modprobe found none of the modules in $KROOT" >&2; exit 1; }
while read -r f; do
  install -D -m644 "$f" "$R/modules/${f##*/}"
  echo "/modules/${f##*/}"
done < "$OUT/modules.order" > "$R/modules.load"
install -m755 "$HERE/tcg-init.sh" "$R/init"
(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs.cpio.gz"
rm -rf "$R"
cp "$KROOT/boot/vmlinuz-$K" "$OUT/vmlinuz"
echo "kernel $K"

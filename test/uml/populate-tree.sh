#!/bin/sh
# Fills DIR with what a backup must carry intact: xattrs (user.*, trusted.*), POSIX ACLs (access and default), a hardlink,
# a symlink and a dangling one, a FIFO, a suid file owned by 1000:1000, a file owned by 1234:5678, a sparse file with data
# in the middle, an old mtime. Used on the host (btrfs/fsfreeze/none tests) and inside the LVM test's guest (UML or QEMU TCG).
# Usage: populate-tree.sh DIR [RANDOM_MB]   (needs root, acl, attr; RANDOM_MB default 3)
set -eu
d=$1; mb=${2:-3}
mkdir -p "$d/dir/sub" "$d/dir/owned"
echo hello > "$d/dir/file.txt"
head -c $((mb * 1024 * 1024)) /dev/urandom > "$d/dir/random.bin"
setfattr -n user.comment -v "snapshot test" "$d/dir/file.txt"
setfattr -n trusted.secret -v "t1" "$d/dir/file.txt"
setfattr -n user.empty "$d/dir/random.bin"
setfacl -m u:1234:rwx,g:5678:r-x "$d/dir/file.txt"
setfacl -d -m u:1234:rwx "$d/dir/sub"
echo inherits > "$d/dir/sub/child.txt"
ln "$d/dir/file.txt" "$d/dir/hardlink.txt"
ln -s file.txt "$d/dir/symlink.txt"
ln -s /nonexistent "$d/dir/dangling"
mkfifo "$d/dir/fifo"
chown 1000:1000 "$d/dir/random.bin"; chmod 4755 "$d/dir/random.bin"
echo owned > "$d/dir/owned/o.txt"; chown -R 1234:5678 "$d/dir/owned"; chmod 750 "$d/dir/owned"
# 64 MiB apparent, one 4 KiB block of data in the middle
truncate -s 64M "$d/dir/sparse.bin"
printf 'middle of a sparse file\n' | dd of="$d/dir/sparse.bin" bs=1 seek=$((32 * 1024 * 1024)) conv=notrunc status=none
touch -d '2001-02-03 04:05:06' "$d/dir/file.txt"

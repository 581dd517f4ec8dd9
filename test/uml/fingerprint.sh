#!/bin/sh
# Prints one line per entry of the tree DIR (sorted): type, mode, owner, link count, size and mtime (non-directories),
# SHA-256 or symlink target, user.*/trusted.secret xattrs, ACL. Two trees with equal output have the same content for a
# backup's purposes. live/ (written during the backup), after-snapshot.txt, lost+found and .diskless-snap-* are skipped.
# Usage: fingerprint.sh DIR
set -eu
cd "$1"
find . \( -path ./live -o -path ./lost+found -o -name '.diskless-snap-*' -o -path ./after-snapshot.txt \) -prune -o -print | LC_ALL=C sort |
while IFS= read -r p; do
  if [ -d "$p" ] && [ ! -L "$p" ]; then meta=$(stat -c '%F|%a|%u:%g' "$p")
  else meta=$(stat -c '%F|%a|%u:%g|%h|%s|%Y' "$p"); fi
  if [ -L "$p" ]; then c="-> $(readlink "$p")"
  elif [ -f "$p" ]; then c=$(sha256sum < "$p" | cut -c1-16)
  else c=-; fi
  x=$(getfattr -h -d -m '^(user\.|trusted\.secret)' --absolute-names "$p" 2>/dev/null | grep -v '^#' | grep . | LC_ALL=C sort | tr '\n' ' ' || true)
  a=-; [ -L "$p" ] || a=$(getfacl -cpn "$p" 2>/dev/null | grep . | tr '\n' ' ' || true)
  echo "$p|$meta|$c|$x|$a"
done

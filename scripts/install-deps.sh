#!/bin/bash
# Installs the Debian packages diskless needs, for one purpose: `build` (node-gyp's compiler and Python), `demo` (build +
# the Ceph RGW S3 server the demo starts), or `test` (demo + every real tool and server the test suite drives).
# Idempotent: installs only what is missing (always asks apt when $CI is set), so running it again costs ~1 s.
# Prereq: Debian 12 (bookworm), root or sudo. Node.js >= 20 and npm come with the machine (Debian's nodejs is 18).
# `bench` is demo + the peers bench/compare.mjs measures diskless against (rclone, aws-cli).
# Usage: scripts/install-deps.sh [build|demo|test|bench]   (default: test). The README's two commands and .ci/run call it.
set -euo pipefail
PURPOSE=${1:-test}

# Each entry: PACKAGE:BINARY, the binary telling whether the package is there (- : check the package with dpkg).
BUILD=(build-essential:g++ python3:python3 make:make)
# Ceph RGW (the S3 server of the demo and of the tests, scripts/rgw/rgw-up.sh), and what the demo uses.
S3=(ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw ceph-common:radosgw-admin bc:bc uuid-runtime:uuidgen curl:curl
    time:/usr/bin/time openssl:openssl)
# The demo's database: a private PostgreSQL server dumped by pg_dump -Fd -j 4 under `diskless run` (scripts/demo.sh).
DEMO=(postgresql:- postgresql-client:pg_dump)
# Real dump tools and their servers (started privately by the tests); everyday programs run under `diskless run`;
# snapshot tests: LVM runs in User-Mode Linux, or in a QEMU TCG guest where UML cannot boot (cpio and kmod build its
# initramfs); btrfs/xfs/ext4 on loop
# devices; ACL and xattr tools; compressors; OpenStack Swift with s3api, the second S3 implementation of the tests;
# clang and libFuzzer for the fuzz test of the wire protocol; everyday programs the run tests drive (rsync, zip, unzip,
# sqlite3; python3 is in BUILD).
TOOLS=(mariadb-server:mariadbd mariadb-client:mariadb mydumper:mydumper
       user-mode-linux:linux.uml qemu-system-x86:qemu-system-x86_64 cpio:cpio kmod:depmod
       lvm2:lvcreate thin-provisioning-tools:thin_check xfsprogs:mkfs.xfs btrfs-progs:mkfs.btrfs
       acl:setfacl attr:setfattr busybox-static:busybox zstd:zstd xz-utils:xz bzip2:bzip2 iproute2:ip
       swift-proxy:swift-proxy-server swift-account:swift-account-server swift-container:swift-container-server
       swift-object:swift-object-server memcached:memcached socat:socat
       clang:clang libclang-rt-14-dev:-
       rsync:rsync zip:zip unzip:unzip sqlite3:sqlite3)
# The peers of the benchmarks (bench/compare.mjs); lib-storage comes from npm there.
BENCH=(rclone:rclone awscli:aws)

case $PURPOSE in
  build) WANT=("${BUILD[@]}") ;;
  demo) WANT=("${BUILD[@]}" "${S3[@]}" "${DEMO[@]}") ;;
  test) WANT=("${BUILD[@]}" "${S3[@]}" "${DEMO[@]}" "${TOOLS[@]}") ;;
  bench) WANT=("${BUILD[@]}" "${S3[@]}" "${BENCH[@]}") ;;
  *) echo "install-deps.sh: unknown purpose '$PURPOSE' (use build, demo, test or bench)" >&2; exit 2 ;;
esac

missing=()
for entry in "${WANT[@]}"; do
  pkg=${entry%%:*} bin=${entry#*:}
  if [ "$bin" = - ]; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  else
    command -v "$bin" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
if [ ${#missing[@]} = 0 ] && [ -z "${CI:-}" ]; then
  echo "install-deps.sh: everything for '$PURPOSE' is installed"
  exit 0
fi
SUDO=; [ "$EUID" = 0 ] || SUDO=sudo
all=(); for entry in "${WANT[@]}"; do all+=("${entry%%:*}"); done
# In CI, ask apt for the whole list (it answers at once for what is there); elsewhere only for what is missing.
if [ -n "${CI:-}" ]; then install=("${all[@]}"); else install=("${missing[@]}"); fi
echo "install-deps.sh: installing ${install[*]}"
# Quiet but not silent on failure: apt's output goes to a log that is shown when it fails.
log=$(mktemp)
if $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -qq update >"$log" 2>&1 &&
   $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${install[@]}" >>"$log" 2>&1; then
  rm -f "$log"
else
  rc=$?
  tail -40 "$log" >&2; rm -f "$log"
  echo "install-deps.sh: apt-get failed (exit $rc) installing: ${install[*]}" >&2
  exit $rc
fi

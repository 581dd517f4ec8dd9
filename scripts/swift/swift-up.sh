#!/bin/bash
# Start a throw-away single-replica OpenStack Swift 2.30 with the s3api + tempauth middleware: S3 on http://127.0.0.1:19002, key "test:tester", secret "testing".
# The second real S3 implementation of the tests (test/e2e/swift.test.ts), beside Ceph RGW; adapted from shared/brief/recipes/swift-up.sh.
# Ports: proxy (S3) 19002, memcached 19060, object/container/account servers 19072-19074, all on 127.0.0.1.
# Prereq (Debian bookworm, root): apt-get install -y --no-install-recommends swift-proxy swift-account swift-container swift-object memcached socat bc curl
# Usage: swift-up.sh [DIR]; rings, configs, data and logs live in DIR (default $SWIFT_DIR or ${TMPDIR:-/tmp}/diskless-swift); the package's /etc/swift/swift.conf is used unchanged; stop with swift-down.sh.
set -euo pipefail
S=${1:-${SWIFT_DIR:-${TMPDIR:-/tmp}/diskless-swift}}
t0=$(date +%s.%N); ts() { printf '[%6.1fs] %s\n' "$(echo "$(date +%s.%N) - $t0" | bc)" "$*"; }
[ -e "$S" ] && { echo "$S exists; run swift-down.sh first" >&2; exit 1; }
mkdir -p "$S"/{etc,srv/d1,run,log}
S=$(cd "$S" && pwd)   # configs need an absolute path
# syslog substitute: swift logs to a unix datagram socket; socat writes it to a file
socat -u UNIX-RECV:$S/run/log.sock OPEN:$S/log/swift.log,creat,append & echo $! > $S/run/socat.pid
memcached -l 127.0.0.1 -p 19060 -U 0 -u root -m 64 -d -P $S/run/memcached.pid
cd $S/etc
for spec in object:19072 container:19073 account:19074; do
  t=${spec%%:*}; p=${spec##*:}
  swift-ring-builder $t.builder create 8 1 1 >/dev/null
  swift-ring-builder $t.builder add r1z1-127.0.0.1:$p/d1 100 >/dev/null
  swift-ring-builder $t.builder rebalance >/dev/null || true
  cat > $t-server.conf <<EOF
[DEFAULT]
devices = $S/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $p
workers = 1
user = root
swift_dir = $S/etc
log_address = $S/run/log.sock
log_name = $t-server
[pipeline:main]
pipeline = $t-server
[app:$t-server]
use = egg:swift#$t
EOF
done
cat > proxy-server.conf <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = 19002
workers = 1
user = root
swift_dir = $S/etc
log_address = $S/run/log.sock
log_name = proxy-server
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:19060
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true
[filter:symlink]
use = egg:swift#symlink
EOF
ts "rings + configs written"
for t in object container account proxy; do
  /usr/bin/swift-$t-server $S/etc/$t-server.conf > $S/log/$t.out 2>&1 & echo $! > $S/run/$t.pid
done
up=0
for i in $(seq 1 240); do curl -sf http://127.0.0.1:19002/healthcheck >/dev/null && { up=1; break; }; sleep 0.25; done
if [ $up = 0 ]; then
  echo "swift-up.sh: the proxy did not answer on 127.0.0.1:19002 within 60 s; logs:" >&2
  tail -20 "$S"/log/*.out >&2
  exit 1
fi
ts "proxy healthcheck OK on 127.0.0.1:19002 (S3 key test:tester / testing)"

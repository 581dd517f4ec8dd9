#!/bin/bash
# Drive an EXTRA radosgw (client.rgw.NAME, own cephx key, log and pid file in the state dir) on 127.0.0.1:PORT against the cluster started by rgw-up.sh,
# so a test can stop, hang or crash "its" S3 server without disturbing the main gateway that other tests share.
# Prereq: a running cluster from rgw-up.sh (same $DISKLESS_RGW_DIR, default /tmp/diskless-rgw); root.
# Usage: rgw-gateway.sh start NAME PORT   start it and wait (at most $GATEWAY_START_TIMEOUT s, default 60) until it answers; last line DISKLESS_RGW_GATEWAY_ENDPOINT=http://127.0.0.1:PORT
#        rgw-gateway.sh stop NAME         SIGTERM, SIGKILL after 5 s; removes its pid file and cephx key (also after kill)
#        rgw-gateway.sh pause NAME        SIGSTOP: connections are accepted by the kernel but never answered (the hang case)
#        rgw-gateway.sh resume NAME       SIGCONT
#        rgw-gateway.sh kill NAME         SIGKILL and wait until it is gone: new connections are refused (the crash case)
# NAME: [a-z0-9][a-z0-9_-]* (not "a", the main gateway). Exit 2: prerequisites missing; 3: PORT already in use (pick another).
# Side effect on the shared cluster: every radosgw watches the RGW control objects, and metadata writes on ANY gateway
# (CreateBucket, bucket ACL/policy/versioning/lifecycle changes, user changes) wait for all watchers to acknowledge, up to
# 10 s per attempt. A paused gateway therefore stalls those writes until resumed (keep pauses short; data operations are not
# affected). A killed gateway would stall them until the OSD times its watches out (30 s), so kill (and a stop that has to
# SIGKILL) blocklists its rados client addresses, recorded at start, which makes the OSD drop its watches at once.
set -euo pipefail
D=$(realpath -m "${DISKLESS_RGW_DIR:-/tmp/diskless-rgw}")
ACTION=${1:-}; NAME=${2:-}
die() { local code=$1; shift; echo "rgw-gateway.sh: $*" >&2; exit "$code"; }
usage() { die 1 "usage: rgw-gateway.sh start NAME PORT | stop NAME | pause NAME | resume NAME | kill NAME"; }
[ -n "$ACTION" ] && [ -n "$NAME" ] || usage
[[ $NAME =~ ^[a-z0-9][a-z0-9_-]{0,40}$ ]] || die 1 "invalid gateway name '$NAME' (use [a-z0-9][a-z0-9_-]*)"
[ "$NAME" != a ] || die 1 "'a' is the main gateway of rgw-up.sh; stop the whole cluster with rgw-down.sh instead"
[ "$(id -u)" = 0 ] || die 2 "must run as root, like rgw-up.sh"
[ -f "$D/ceph.conf" ] || die 2 "no cluster in $D (no ceph.conf): start one with $(dirname "$0")/rgw-up.sh"
D=$(cd "$D" && pwd)
C=$D/ceph.conf
PIDFILE=$D/run/ceph-client.rgw.$NAME.pid
LOG=$D/log/ceph-client.rgw.$NAME.log
# The process is ours when its command line names our ceph.conf and this gateway (pids get reused).
ours() { tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -qF -- "-c $C -n client.rgw.$NAME --"; }
current_pid() { local pid; pid=$(cat "$PIDFILE" 2>/dev/null) && [ -n "$pid" ] && ours "$pid" && echo "$pid"; }
require_pid() { current_pid || die 1 "gateway $NAME is not running (no live pid in $PIDFILE)"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
gone() { for _ in $(seq 1 100); do ours "$1" || return 0; sleep 0.05; done; return 1; }
ADDRS=$D/run/ceph-client.rgw.$NAME.addrs
# The rados client addresses (127.0.0.1:0/<random nonce>, one per rados handle) of this gateway, from the mon's sessions.
record_addrs() {
  ceph --admin-daemon "$D/run/ceph-mon.a.asok" sessions 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s.get("entity_name") == sys.argv[1]:
        for a in s.get("addrs", {}).get("addrvec", []):
            print("%s/%s" % (a["addr"], a["nonce"]))' "client.rgw.$NAME" > "$ADDRS" || true
}
# Make the OSD drop the watches of a dead gateway now rather than after its watch timeout (see the header).
blocklist_addrs() {
  local a jobs=()
  [ -s "$ADDRS" ] || return 0
  while read -r a; do   # in parallel: each ceph CLI call costs ~0.5 s of Python start-up
    { ceph -c "$C" --connect-timeout 15 osd blocklist add "$a" 600 >/dev/null 2>&1 || echo "rgw-gateway.sh: could not blocklist $a" >&2; } &
    jobs+=($!)
  done < "$ADDRS"
  wait "${jobs[@]}"
  rm -f "$ADDRS"
}

case $ACTION in
start)
  PORT=${3:-}
  [[ $PORT =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1024 ] && [ "$PORT" -le 65535 ] || die 1 "start needs a PORT (1024-65535), got '${PORT}'"
  command -v radosgw >/dev/null || die 2 "radosgw missing; install with: sudo apt-get install -y --no-install-recommends radosgw"
  command -v ss >/dev/null || die 2 "ss missing; install with: sudo apt-get install -y iproute2"
  t0=${EPOCHREALTIME/./}
  pid=$(current_pid) && die 1 "gateway $NAME is already running (pid $pid); stop it first"
  blocklist_addrs   # a previous instance that died without stop
  rm -f "$PIDFILE"
  port_busy "$PORT" && die 3 "port 127.0.0.1:$PORT is already in use"
  [ -e "$LOG" ] && mv -f "$LOG" "$LOG.old"
  ceph -c "$C" --connect-timeout 15 auth get-or-create "client.rgw.$NAME" mon 'allow rw' osd 'allow rwx' mgr 'allow rw' \
    > "$D/ceph.client.rgw.$NAME.keyring" || die 1 "could not create the cephx key for client.rgw.$NAME: is the cluster in $D running?"
  # Keep "-n client.rgw.NAME --" in this order: ours() matches on it.
  radosgw -c "$C" -n "client.rgw.$NAME" --rgw-frontends "beast endpoint=127.0.0.1:$PORT" --pid-file "$PIDFILE" 2>>"$LOG" || true
  deadline=$(( t0 + ${GATEWAY_START_TIMEOUT:-60} * 1000000 ))
  fail() {
    echo "rgw-gateway.sh: gateway $NAME $1; last lines of $LOG:" >&2; tail -15 "$LOG" >&2 || true
    local pid; pid=$(current_pid) && { kill -KILL "$pid" 2>/dev/null; gone "$pid" || true; }
    rm -f "$PIDFILE"; exit 1
  }
  # Ready = our process listens on PORT (not some other process that took the port meanwhile) and answers HTTP 200.
  seen=
  while :; do
    if pid=$(current_pid); then
      seen=$pid
      if ss -Hltnp "( sport = :$PORT )" 2>/dev/null | grep -q "pid=$pid,"; then
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/" || true)
        [ "$code" = 200 ] && break
      fi
    else
      if grep -q "failed to bind address 127.0.0.1:$PORT" "$LOG" 2>/dev/null; then
        rm -f "$PIDFILE"; die 3 "port 127.0.0.1:$PORT was taken by another process while $NAME was starting"
      fi
      # radosgw removes its pid file when it exits: seen once and gone now means it died while starting.
      [ -n "$seen" ] && fail "exited while starting"
    fi
    (( ${EPOCHREALTIME/./} < deadline )) || fail "did not answer on 127.0.0.1:$PORT within ${GATEWAY_START_TIMEOUT:-60}s"
    sleep 0.1
  done
  record_addrs
  us=$(( ${EPOCHREALTIME/./} - t0 ))
  echo "gateway $NAME (pid $(current_pid)) answering on 127.0.0.1:$PORT after $((us / 1000000)).$(printf '%02d' $((us % 1000000 / 10000)))s"
  echo "DISKLESS_RGW_GATEWAY_ENDPOINT=http://127.0.0.1:$PORT"
  ;;
stop)
  if pid=$(current_pid); then
    kill -TERM "$pid" 2>/dev/null || true; kill -CONT "$pid" 2>/dev/null || true   # a paused gateway must run to handle SIGTERM
    for _ in $(seq 1 50); do ours "$pid" || break; sleep 0.1; done
    if ours "$pid"; then kill -KILL "$pid" 2>/dev/null || true; gone "$pid" || die 1 "pid $pid survived SIGKILL"; echo "gateway $NAME (pid $pid) killed after SIGTERM timeout"; blocklist_addrs
    else echo "gateway $NAME (pid $pid) stopped"; fi
  else
    echo "gateway $NAME was not running"
    blocklist_addrs   # it died without unregistering its watches
  fi
  rm -f "$PIDFILE" "$ADDRS" "$D/run/ceph-client.rgw.$NAME.asok"
  ceph -c "$C" --connect-timeout 15 auth del "client.rgw.$NAME" >/dev/null 2>&1 || echo "rgw-gateway.sh: could not delete the key of client.rgw.$NAME (cluster down?)" >&2
  rm -f "$D/ceph.client.rgw.$NAME.keyring"
  ;;
pause)  pid=$(require_pid); kill -STOP "$pid"; echo "gateway $NAME (pid $pid) paused";;
resume) pid=$(require_pid); kill -CONT "$pid"; echo "gateway $NAME (pid $pid) resumed";;
kill)
  pid=$(require_pid); kill -KILL "$pid"
  gone "$pid" || die 1 "pid $pid still alive 5 s after SIGKILL"
  blocklist_addrs
  echo "gateway $NAME (pid $pid) killed"   # pid file kept, as after a crash; stop cleans up
  ;;
*) usage;;
esac

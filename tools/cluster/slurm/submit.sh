#!/usr/bin/env bash
# Submits one sharded night to Slurm: an array job of N shard tasks (shard.sbatch, at most M at a
# time) and the merge job (merge.sbatch) that starts when all of them succeeded (afterok).
# See tools/cluster/README.md for the layout on the shared filesystem and for failures.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

usage() {
  cat <<'EOF'
usage: submit.sh --rules DIR (--snapshot FILE | --firms FILE [--firms FILE…]) --as-of DATE
                 --shards N --root DIR [--previous DIR] [--ledger FILE] [options]

Submits a night of polmatch as N shards: `sbatch --array=0-<N-1>%<M> shard.sbatch ROOT` (each task
runs `polmatch batch --shard K/N`, K = SLURM_ARRAY_TASK_ID, after `polmatch index --shard K/N`
when given --firms), then `sbatch --dependency=afterok:<array> merge.sbatch ROOT` (`polmatch
merge` into ROOT/night). Every path must be on the filesystem all nodes share. Prints the two job
ids. The settings are kept in ROOT/night.env, which the jobs read.

  --rules DIR        the rules directory (taxonomy, policies, calendar)
  --snapshot FILE    a whole snapshot (each shard keeps its own firms), or
  --firms FILE       firm exports (repeatable, merged in order as in `index`): each task indexes
                     its shard into ROOT/snapshots/K.snap first
  --as-of DATE       the night's date, YYYY-MM-DD
  --shards N         number of shards (1-4096)
  --root DIR         the night's directory: night.env, shards/K/ (shard nights), night/ (the
                     merged night), logs/ (Slurm's output), snapshots/ (with --firms)
  --previous DIR     last night: its ROOT (with N shards: each shard reads its own shard night;
                     with another N: its merged night) or any night directory (merged or unsharded)
  --ledger FILE      the grant ledger (SQLite): the merge job is its one writer (it then reads the
                     whole registry too: give it the memory, --merge-mem)
  --parallel M       run at most M shard tasks at once (default N)
  --cpus C           CPUs per shard task (default 2; also batch --threads)
  --mem SIZE         memory per shard task (default 16G; see tools/cluster/README.md)
  --time T           time limit per task (default 01:00:00)
  --merge-mem SIZE   memory of the merge job (default 4G)
  --polmatch PATH    the polmatch binary all nodes can run (default: polmatch on PATH, else this
                     checkout's build/tools/polmatch)
  --batch-arg ARG    one more argument for every `batch` (repeatable: --batch-arg=--no-pushes)
  --index-arg ARG    one more argument for every `index` (repeatable)
  --sbatch-arg ARG   one more argument for both sbatch calls (repeatable: --sbatch-arg=--partition=long)
  --only K[,K…]      resubmit only these shards of an existing ROOT (same settings), and a new merge
  --wait             wait for the merge; exit 0 when it completed, 1 when a task failed
  --timeout S        with --wait: give up after S seconds (default 0: never)

Example (four shards, two at a time, the second night reading the first):
  submit.sh --rules /shared/rules --snapshot /shared/registry.snap --as-of 2025-06-30 \
      --shards 4 --parallel 2 --root /shared/nights/2025-06-30
  submit.sh --rules /shared/rules --snapshot /shared/registry.snap --as-of 2025-07-01 \
      --shards 4 --parallel 2 --root /shared/nights/2025-07-01 --previous /shared/nights/2025-06-30
EOF
}
die() { echo "submit.sh: $*" >&2; exit 2; }
abspath() { realpath -m -- "$1"; }

RULES="" SNAPSHOT="" AS_OF="" N="" root="" PREVIOUS="" LEDGER="" POLMATCH=""
FIRMS=() BATCH_ARGS=() INDEX_ARGS=() sbatch_args=()
parallel="" cpus=2 mem=16G time_limit=01:00:00 merge_mem=4G only="" wait=0 timeout=0
while (($#)); do
  opt="$1"; val=""
  case "$opt" in
    --*=*) val="${opt#*=}"; opt="${opt%%=*}" ;;
    --wait|--help|-h) ;;
    --rules|--snapshot|--firms|--as-of|--shards|--root|--previous|--ledger|--parallel|--cpus|--mem|--time|\
    --merge-mem|--polmatch|--batch-arg|--index-arg|--sbatch-arg|--only|--timeout)
      (($# >= 2)) || die "$opt needs a value"; val="$2"; shift ;;
  esac
  shift
  case "$opt" in
    --rules) RULES="$(abspath "$val")" ;;
    --snapshot) SNAPSHOT="$(abspath "$val")" ;;
    --firms) FIRMS+=("$(abspath "$val")") ;;
    --as-of) AS_OF="$val" ;;
    --shards) N="$val" ;;
    --root) root="$(abspath "$val")" ;;
    --previous) PREVIOUS="$(abspath "$val")" ;;
    --ledger) LEDGER="$(abspath "$val")" ;;
    --parallel) parallel="$val" ;;
    --cpus) cpus="$val" ;;
    --mem) mem="$val" ;;
    --time) time_limit="$val" ;;
    --merge-mem) merge_mem="$val" ;;
    --polmatch) POLMATCH="$(abspath "$val")" ;;
    --batch-arg) BATCH_ARGS+=("$val") ;;
    --index-arg) INDEX_ARGS+=("$val") ;;
    --sbatch-arg) sbatch_args+=("$val") ;;
    --only) only="$val" ;;
    --wait) wait=1 ;;
    --timeout) timeout="$val" ;;
    --help|-h) usage; exit 0 ;;
    *) die "unknown argument $opt (see --help)" ;;
  esac
done

[ -n "$root" ] || die "give --root DIR (see --help)"
if [ -n "$only" ]; then
  [ -f "$root/night.env" ] || die "--only: $root/night.env not found (submit the whole night first)"
  # shellcheck source=/dev/null
  . "$root/night.env"
else
  [ -n "$RULES" ] && [ -d "$RULES" ] || die "--rules: give the rules directory"
  [ -n "$AS_OF" ] || die "give --as-of YYYY-MM-DD"
  [[ "$AS_OF" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "--as-of $AS_OF: want YYYY-MM-DD"
  [[ "$N" =~ ^[0-9]+$ ]] && ((N >= 1 && N <= 4096)) || die "--shards ${N:-}: want 1-4096"
  if [ -n "$SNAPSHOT" ]; then
    ((${#FIRMS[@]} == 0)) || die "give --snapshot or --firms, not both"
    [ -f "$SNAPSHOT" ] || die "--snapshot $SNAPSHOT: not a file"
  else
    ((${#FIRMS[@]})) || die "give --snapshot FILE or --firms FILE"
    for f in "${FIRMS[@]}"; do [ -f "$f" ] || die "--firms $f: not a file"; done
  fi
  if [ -z "$POLMATCH" ]; then
    POLMATCH="$(command -v polmatch || true)"
    [ -n "$POLMATCH" ] || POLMATCH="$(abspath "$here/../../../build/tools/polmatch")"
  fi
  [ -x "$POLMATCH" ] || die "--polmatch $POLMATCH: not an executable"
  PREVIOUS_KIND=none
  if [ -n "$PREVIOUS" ]; then
    if [ -f "$PREVIOUS/night.env" ]; then            # a night root this script submitted
      prev_n="$(. "$PREVIOUS/night.env" && echo "$N")"
      if [ "$prev_n" = "$N" ] && [ -d "$PREVIOUS/shards/0" ]; then
        PREVIOUS_KIND=shards
      else
        PREVIOUS="$PREVIOUS/night" PREVIOUS_KIND=night
      fi
    else
      PREVIOUS_KIND=night
    fi
    if [ "$PREVIOUS_KIND" = night ]; then
      [ -f "$PREVIOUS/state.pmstate" ] || die "--previous $PREVIOUS: no state.pmstate (not a night)"
    fi
  fi
  mkdir -p "$root/logs"
  env_new="# polmatch night settings, written by tools/cluster/slurm/submit.sh; read by the jobs
$(declare -p POLMATCH RULES SNAPSHOT FIRMS AS_OF N PREVIOUS PREVIOUS_KIND LEDGER BATCH_ARGS INDEX_ARGS)"
  if [ -f "$root/night.env" ] && [ "$(cat "$root/night.env")" != "$env_new" ]; then
    die "$root/night.env holds other settings (another night?): use a new --root, or --only to rerun shards"
  fi
  printf '%s\n' "$env_new" >"$root/night.env.tmp" && mv "$root/night.env.tmp" "$root/night.env"
fi
[ -n "$parallel" ] || parallel="$N"
[[ "$parallel" =~ ^[0-9]+$ ]] && ((parallel >= 1)) || die "--parallel $parallel: want a positive count"

if [ -n "$only" ]; then
  [[ "$only" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--only $only: want K[,K…]"
  for k in ${only//,/ }; do ((k < N)) || die "--only: shard $k outside 0-$((N - 1))"; done
  indices="$only"
else
  indices="0-$((N - 1))"
fi

array_id="$(sbatch --parsable --array="$indices%$parallel" --cpus-per-task="$cpus" --mem="$mem" \
  --time="$time_limit" --chdir="$root" --output="$root/logs/shard-%a.%A.log" "${sbatch_args[@]}" \
  "$here/shard.sbatch" "$root")"
array_id="${array_id%%;*}"
merge_id="$(sbatch --parsable --dependency="afterok:$array_id" --mem="$merge_mem" --time="$time_limit" \
  --chdir="$root" --output="$root/logs/merge.%j.log" "${sbatch_args[@]}" "$here/merge.sbatch" "$root")"
merge_id="${merge_id%%;*}"
echo "shards: job $array_id (array $indices, at most $parallel at once); merge: job $merge_id (afterok)"
((wait)) || exit 0

# --wait: poll until the merge job leaves the queue; a shard that failed leaves it pending for ever
# (DependencyNeverSatisfied) unless the cluster cancels such jobs (kill_invalid_depend).
job_field() { scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
failed_shards() {
  scontrol -o show job "$array_id" 2>/dev/null | awk '{
    s = ""; t = ""
    for (i = 1; i <= NF; i++) { if ($i ~ /^JobState=/) s = substr($i, 10); if ($i ~ /^ArrayTaskId=/) t = substr($i, 13) }
    if (s != "COMPLETED" && s != "RUNNING" && s != "PENDING" && s != "COMPLETING") printf "%s(%s) ", t, s }'
}
start=$SECONDS
while :; do
  state="$(job_field "$merge_id" JobState)"
  reason="$(job_field "$merge_id" Reason)"
  case "$state" in
    COMPLETED) echo "merge: job $merge_id completed: $root/night"; exit 0 ;;
    PENDING|RUNNING|CONFIGURING|COMPLETING)
      if [ "$reason" = DependencyNeverSatisfied ]; then
        echo "submit.sh: merge job $merge_id cannot start; failed shards: $(failed_shards)— see $root/logs/; rerun them with --only" >&2
        scancel "$merge_id" 2>/dev/null || true
        exit 1
      fi ;;
    "") echo "submit.sh: merge job $merge_id is no longer known to slurmctld; see $root/logs/" >&2; exit 1 ;;
    *) f="$(failed_shards)"
       echo "submit.sh: merge job $merge_id ended $state${f:+; failed shards: $f}— see $root/logs/; rerun them with --only" >&2
       exit 1 ;;
  esac
  if ((timeout > 0 && SECONDS - start >= timeout)); then
    echo "submit.sh: still waiting after ${timeout}s (merge job $merge_id $state $reason); the jobs go on" >&2
    exit 1
  fi
  sleep 2
done

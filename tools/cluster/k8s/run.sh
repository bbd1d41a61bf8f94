#!/usr/bin/env bash
# Runs one sharded night on Kubernetes: the Indexed Job of the shards (shards-job.yaml), then, once
# it is Complete, the merge Job (merge-job.yaml). See tools/cluster/README.md.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

usage() {
  cat <<'EOF'
usage: run.sh --as-of DATE --shards N --image IMAGE [options]

Fills in shards-job.yaml and merge-job.yaml and applies them with kubectl: N pods (at most M at a
time) each run `polmatch batch --shard K/N` (K = JOB_COMPLETION_INDEX) into
/data/nights/DATE/shards/K on the polmatch-data volume (pvc.yaml, ReadWriteMany); when that Job is
Complete, one pod runs `polmatch merge` into /data/nights/DATE/night. Exit 0 when the merge
completed, 1 when a Job failed or the timeout passed.

  --as-of DATE          the night's date, YYYY-MM-DD
  --shards N            number of shards (1-4096)
  --image IMAGE         a container image with polmatch on its PATH
  --parallel M          pods at once (default N)
  --previous-as-of D    last night's date: each shard reads /data/nights/D/shards/K (same N)
  --snapshot PATH       the snapshot inside the volume (default /data/registry.snap)
  --ledger PATH         the grant ledger inside the volume; the merge pod is its one writer
  --memory SIZE         memory per shard pod (default 16Gi)
  --merge-memory SIZE   memory of the merge pod (default 4Gi)
  --namespace NS        kubectl namespace (default: kubectl's)
  --timeout SECONDS     give up waiting after this long per Job (default 7200)
  --dry-run             print the two manifests and apply nothing
EOF
}
die() { echo "run.sh: $*" >&2; exit 2; }

as_of="" shards="" image="" parallel="" previous="" snapshot=/data/registry.snap ledger=""
memory=16Gi merge_memory=4Gi namespace=() timeout=7200 dry_run=0
while (($#)); do
  case "$1" in
    --as-of) as_of="${2:-}"; shift ;;
    --shards) shards="${2:-}"; shift ;;
    --image) image="${2:-}"; shift ;;
    --parallel) parallel="${2:-}"; shift ;;
    --previous-as-of) previous="${2:-}"; shift ;;
    --snapshot) snapshot="${2:-}"; shift ;;
    --ledger) ledger="${2:-}"; shift ;;
    --memory) memory="${2:-}"; shift ;;
    --merge-memory) merge_memory="${2:-}"; shift ;;
    --namespace) namespace=(--namespace "${2:-}"); shift ;;
    --timeout) timeout="${2:-}"; shift ;;
    --dry-run) dry_run=1 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done
[[ "$as_of" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "--as-of: want YYYY-MM-DD"
[[ "$shards" =~ ^[0-9]+$ ]] && ((shards >= 1 && shards <= 4096)) || die "--shards: want 1-4096"
[ -n "$image" ] || die "give --image (an image with polmatch on its PATH)"
[ -n "$parallel" ] || parallel="$shards"
[[ "$parallel" =~ ^[0-9]+$ ]] && ((parallel >= 1)) || die "--parallel: want a positive count"
if [ -n "$previous" ]; then
  [[ "$previous" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "--previous-as-of: want YYYY-MM-DD"
  previous="/data/nights/$previous"
fi
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout: want seconds"

render() {  # render FILE: the manifest with its @…@ values filled in
  sed -e "s|@NIGHT@|$as_of|g" -e "s|@AS_OF@|$as_of|g" -e "s|@SHARDS@|$shards|g" \
      -e "s|@PARALLEL@|$parallel|g" -e "s|@IMAGE@|$image|g" -e "s|@SNAPSHOT@|$snapshot|g" \
      -e "s|@PREVIOUS@|$previous|g" -e "s|@LEDGER@|$ledger|g" -e "s|@MEMORY@|$memory|g" \
      -e "s|@MERGE_MEMORY@|$merge_memory|g" "$here/$1"
}
if ((dry_run)); then
  render shards-job.yaml; echo "---"; render merge-job.yaml
  exit 0
fi

wait_job() {  # wait_job NAME: until its Complete or Failed condition is true
  local start=$SECONDS conditions
  while :; do
    conditions="$(kubectl "${namespace[@]}" get job "$1" \
      -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type} {end}')"
    case " $conditions " in
      *" Complete "*) echo "job $1 complete"; return 0 ;;
      *" Failed "*) echo "run.sh: job $1 failed: kubectl describe job $1; kubectl logs job/$1" >&2; return 1 ;;
    esac
    ((SECONDS - start < timeout)) || { echo "run.sh: job $1 still running after ${timeout}s" >&2; return 1; }
    sleep 10
  done
}
render shards-job.yaml | kubectl "${namespace[@]}" apply -f -
wait_job "polmatch-shards-$as_of"
render merge-job.yaml | kubectl "${namespace[@]}" apply -f -
wait_job "polmatch-merge-$as_of"

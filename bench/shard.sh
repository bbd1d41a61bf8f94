#!/usr/bin/env bash
# Sharded night figures (bench/README.md, "Sharded nights"): indexes a scenario's firms as N shard
# snapshots (index --shard K/N), then RUNS rounds of: the N shard batches one after another, the
# same two at a time, the merge, and the unsharded batch, interleaved so that a machine whose speed
# drifts hits all alike; then the steady state (--previous) the same way. Checks that the merged
# files equal the unsharded ones, byte for byte, and prints one table of medians.
# Usage: bench/shard.sh BUILD_DIR DATA_DIR OUT_DIR [N] [RUNS]
#   DATA_DIR holds rules/, firms.jsonl and registry.snap (bench/macro.sh's layout, e.g. …/S2);
#   OUT_DIR receives the snapshots and nights (~25 GB for S2: delete it afterwards); shard snapshots
#   already there (with their index-K.log) are reused.
# The first night runs with --no-pushes, as macro.sh does for S2 (its pushes would not fit on disk);
# POLMATCH_BENCH_FIRST_NIGHT=1 writes them.
set -euo pipefail
usage="usage: bench/shard.sh BUILD_DIR DATA_DIR OUT_DIR [N] [RUNS]"
pm="$(cd "${1:?$usage}" && pwd)/tools/polmatch"
data="$(cd "${2:?$usage}" && pwd)"
out="${3:?$usage}"
n="${4:-4}"
runs="${5:-3}"
as_of=2025-06-30
mkdir -p "$out"; out="$(cd "$out" && pwd)"
cd "$data"
first=(--no-pushes)
[ "${POLMATCH_BENCH_FIRST_NIGHT:-0}" != 1 ] || first=()

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# "batch: 3.2 s wall, peak RSS 812.5 MiB" → "3.2 812.5"
wall() { sed -nE "s/^$1: ([0-9.]+) s wall, peak RSS ([0-9.]+) MiB.*/\1 \2/p" | tail -1; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
run() {  # run NAME LOG CMD…: runs CMD with stderr to LOG; prints "seconds MiB" from its last line
  local name="$1" log="$2"; shift 2
  "$@" 2>"$log" || { echo "bench/shard.sh: $name failed:" >&2; tail -5 "$log" >&2; exit 1; }
  wall "$name" <"$log"
}
bytes() { du -sb --apparent-size "$@" | awk '{s += $1} END {printf "%.0f\n", s}'; }
declare -A fig     # fig[key] = space-separated samples

note() { fig[$1]="${fig[$1]:-} $2"; }
med() { printf '%s\n' ${fig[$1]} | median; }
mx() { printf '%s\n' ${fig[$1]} | sort -g | tail -1; }

echo "index: $n shard snapshots from firms.jsonl" >&2
for ((k = 0; k < n; k++)); do
  if [ -f "$out/shard-$k.snap" ] && r="$(wall index <"$out/index-$k.log")" && [ -n "$r" ]; then
    read -r s rss <<<"$r"; note index_s "$s"; note index_rss "$rss"; continue   # indexed by an earlier run
  fi
  r="$(run index "$out/index-$k.log" "$pm" index --rules rules --firms firms.jsonl \
    --shard "$k/$n" --out "$out/shard-$k.snap")"; read -r s rss <<<"$r"
  note index_s "$s"; note index_rss "$rss"
done

shard_batch() {  # shard_batch K OUTDIR [ARGS…]
  local k="$1" dir="$2"; shift 2
  run batch "$dir.log" "$pm" batch --rules rules --snapshot "$out/shard-$k.snap" --as-of "$as_of" \
    --shard "$k/$n" --threads 2 "$@" --out "$dir"
}
night() {  # night TAG PREVIOUS_SEQ PREVIOUS_REF [ARGS…]: one round of one kind of night
  local tag="$1" prev_seq="$2" prev_ref="$3"; shift 3
  local k s rss r t0 pids=() dirs=()
  mkdir -p "$out/$tag-seq" "$out/$tag-par"
  for ((k = 0; k < n; k++)); do                             # one after another
    local prev=(); [ -z "$prev_seq" ] || prev=(--previous "$prev_seq/$k")
    r="$(shard_batch "$k" "$out/$tag-seq/$k" "${prev[@]}" "$@")"; read -r s rss <<<"$r"
    note "${tag}_seq_s" "$s"; note "${tag}_seq_rss" "$rss"; dirs+=("$out/$tag-seq/$k")
  done
  for ((k = 0; k < n; k += 2)); do                          # two at a time
    t0="$(now)"
    for j in "$k" $((k + 1)); do
      ((j < n)) || continue
      local prev=(); [ -z "$prev_seq" ] || prev=(--previous "$prev_seq/$j")
      (shard_batch "$j" "$out/$tag-par/$j" "${prev[@]}" "$@" >"$out/$tag-par-$j.fig") &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p"; done; pids=()
    note "${tag}_pair_wall" "$(secs "$t0" "$(now)")"
    for j in "$k" $((k + 1)); do
      ((j < n)) || continue
      read -r s rss <"$out/$tag-par-$j.fig"; note "${tag}_par_s" "$s"; note "${tag}_par_rss" "$rss"
    done
  done
  r="$(run merge "$out/$tag-merge.log" "$pm" merge --out "$out/$tag-merged" "${dirs[@]}")"
  read -r s rss <<<"$r"
  note "${tag}_merge_s" "$s"; note "${tag}_merge_rss" "$rss"
  fig[${tag}_merge_in]="$(bytes "${dirs[@]}")"; fig[${tag}_merge_out]="$(bytes "$out/$tag-merged")"
  local prev=(); [ -z "$prev_ref" ] || prev=(--previous "$prev_ref")
  r="$(run batch "$out/$tag-ref.log" "$pm" batch --rules rules --snapshot registry.snap \
    --as-of "$as_of" --threads 2 "${prev[@]}" "$@" --out "$out/$tag-ref")"
  read -r s rss <<<"$r"
  note "${tag}_ref_s" "$s"; note "${tag}_ref_rss" "$rss"
}
compare() {  # compare TAG: merged vs unsharded, every file the night has
  local f bad=0
  for f in summary.json grants.csv lists.csv pushes.jsonl state.pmstate; do
    [ -f "$out/$1-ref/$f" ] || continue
    if cmp -s "$out/$1-ref/$f" "$out/$1-merged/$f"; then
      echo "  $1 $f: identical ($(stat -c %s "$out/$1-ref/$f") bytes)" >&2
    else
      echo "  $1 $f: DIFFERENT" >&2; bad=1
    fi
  done
  return "$bad"
}

for r in $(seq "$runs"); do
  echo "round $r/$runs: first night (${first[*]:-with pushes})" >&2
  night first "" "" "${first[@]}"
done
compare first
for r in $(seq "$runs"); do
  echo "round $r/$runs: steady state (--previous = the first night)" >&2
  night steady "$out/first-seq" "$out/first-ref"
done
compare steady

echo "shard 0 from the whole snapshot (batch --shard 0/$n --snapshot registry.snap), first night" >&2
r="$(run batch "$out/whole-0.log" "$pm" batch --rules rules --snapshot registry.snap --as-of "$as_of" \
  --shard "0/$n" --threads 2 "${first[@]}" --out "$out/whole-0")"
read -r whole_s whole_rss <<<"$r"
cmp -s "$out/whole-0/state.pmstate" "$out/first-seq/0/state.pmstate" || { echo "whole-0 differs" >&2; exit 1; }

firms="$(sed -nE 's/.*"firms": ([0-9]+).*/\1/p' "$out/first-ref/summary.json" | head -1)"
printf '\n%s firms in %d shards, %s; medians of %d rounds (per-shard figures: medians over all shards)\n' \
  "$firms" "$n" "$(date -u +%F)" "$runs"
printf '| figure | first night (%s) | steady state (--previous) |\n|---|---|---|\n' "${first[*]:-pushes}"
printf '| index --shard K/%d from JSON Lines, per shard | %s s, peak %s MiB | |\n' "$n" "$(med index_s)" "$(med index_rss)"
printf '| shard batch alone, per shard: wall / peak RSS (max) | %s s / %s MiB (%s) | %s s / %s MiB (%s) |\n' \
  "$(med first_seq_s)" "$(med first_seq_rss)" "$(mx first_seq_rss)" "$(med steady_seq_s)" "$(med steady_seq_rss)" "$(mx steady_seq_rss)"
printf '| shard batch two at a time, per shard: wall / peak RSS | %s s / %s MiB | %s s / %s MiB |\n' \
  "$(med first_par_s)" "$(med first_par_rss)" "$(med steady_par_s)" "$(med steady_par_rss)"
printf '| a pair of shards, wall | %s s | %s s |\n' "$(med first_pair_wall)" "$(med steady_pair_wall)"
printf '| shard 0 from the whole snapshot (1 run): wall / peak RSS | %s s / %s MiB | |\n' "$whole_s" "$whole_rss"
printf '| merge: wall / peak RSS | %s s / %s MiB | %s s / %s MiB |\n' \
  "$(med first_merge_s)" "$(med first_merge_rss)" "$(med steady_merge_s)" "$(med steady_merge_rss)"
printf '| merge: shard nights read / night written | %s / %s MB | %s / %s MB |\n' \
  "$((fig[first_merge_in] / 1000000))" "$((fig[first_merge_out] / 1000000))" \
  "$((fig[steady_merge_in] / 1000000))" "$((fig[steady_merge_out] / 1000000))"
printf '| unsharded batch: wall / peak RSS | %s s / %s MiB | %s s / %s MiB |\n' \
  "$(med first_ref_s)" "$(med first_ref_rss)" "$(med steady_ref_s)" "$(med steady_ref_rss)"
printf '| merged = unsharded, byte for byte | yes | yes |\n'

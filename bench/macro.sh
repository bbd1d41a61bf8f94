#!/usr/bin/env bash
# The macro benchmark driver (bench/README.md): generates a scenario with `polmatch gen` (cached), indexes
# it, and measures the nightly batch (first night and steady state), the matching phase, snapshot
# load and embedded single-firm latency; prints one table of medians over RUNS runs.
# Usage: bench/macro.sh BUILD_DIR S1|S2|SMALL [RUNS]    (data in ${POLMATCH_BENCH_DATA:-/tmp/polmatch-bench})
set -euo pipefail
build="${1:?usage: bench/macro.sh BUILD_DIR S1|S2|SMALL [RUNS]}"
scenario="${2:-S1}"
runs="${3:-3}"
here="$(cd "$(dirname "$0")/.." && pwd)"
pm="$(cd "$build" && pwd)/tools/polmatch"
latency="$(cd "$build" && pwd)/bench/polmatch_latency"
case "$scenario" in
  SMALL) firms=100000; policies=200 ;;
  S1) firms=1000000; policies=1000 ;;
  S2) firms=10000000; policies=10000 ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
data="${POLMATCH_BENCH_DATA:-/tmp/polmatch-bench}/$scenario"
mkdir -p "$data/rules/policies"
ln -sfn "$here/rules/taxonomy" "$data/rules/taxonomy"
cd "$data"
[ -f rules/policies/gen.textproto ] || "$pm" gen --policies "$policies" --seed 1 --out rules/policies/gen.textproto 2>/dev/null
[ -f firms.jsonl ] || "$pm" gen --firms "$firms" --seed 1 --out firms.jsonl 2>/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { grep -E "^ *$1 " | awk '{print $2}'; }          # a phase line: "  match   0.123 s"
wall() { grep -E "^$1: .* s wall" | sed -E 's/.*: ([0-9.]+) s wall, peak RSS ([0-9.]+) MiB/\1 \2/'; }

idx_s=(); idx_rss=()
for _ in $(seq "$runs"); do
  out="$("$pm" index --rules rules --firms firms.jsonl --out snap.tmp 2>&1)"
  read -r s rss <<<"$(wall index <<<"$out")"; idx_s+=("$s"); idx_rss+=("$rss")
done
mv snap.tmp registry.snap
# S2's first night pushes ~1.5 billion (firm, policy) pairs, ~170 GB of JSON Lines: unless
# POLMATCH_BENCH_FIRST_NIGHT=1 (and the disk has room), it is run with --no-pushes (state, summary
# and grants only) and the table says so.
first_flags=()
if [ "$scenario" = S2 ] && [ "${POLMATCH_BENCH_FIRST_NIGHT:-0}" != 1 ]; then first_flags=(--no-pushes); fi
first_s=(); first_rss=(); steady_s=(); steady_rss=(); match_s=(); load_s=()
for _ in $(seq "$runs"); do
  out="$("$pm" batch --rules rules --snapshot registry.snap --as-of 2025-06-30 --out night1 "${first_flags[@]}" 2>&1)"
  read -r s rss <<<"$(wall batch <<<"$out")"; first_s+=("$s"); first_rss+=("$rss")
  out="$("$pm" batch --rules rules --snapshot registry.snap --as-of 2025-06-30 --out night2 --previous night1 2>&1)"
  read -r s rss <<<"$(wall batch <<<"$out")"; steady_s+=("$s"); steady_rss+=("$rss")
  match_s+=("$(field match <<<"$out")"); load_s+=("$(field snapshot <<<"$out")")
done
pairs=$((firms * policies))
m_idx=$(printf '%s\n' "${idx_s[@]}" | median); m_match=$(printf '%s\n' "${match_s[@]}" | median)
printf '\n%s: %d firms × %d policies, medians of %d runs (%s)\n' "$scenario" "$firms" "$policies" "$runs" "$(date -u +%F)"
printf '| figure | value |\n|---|---|\n'
printf '| batch steady state (--previous = identical night), wall | %s s |\n' "$(printf '%s\n' "${steady_s[@]}" | median)"
if [ -f night1/pushes.jsonl ]; then
  printf '| batch first night (every push written), wall | %s s (pushes.jsonl %s MB) |\n' \
    "$(printf '%s\n' "${first_s[@]}" | median)" "$(($(stat -c %s night1/pushes.jsonl) / 1000000))"
else
  printf '| batch first night with --no-pushes (state, summary, grants), wall | %s s |\n' \
    "$(printf '%s\n' "${first_s[@]}" | median)"
fi
printf '| matching phase | %s s = %.2e pairs/s |\n' "$m_match" "$(awk -v p=$pairs -v s=$m_match 'BEGIN {print p/s}')"
printf '| index from JSON Lines | %s s = %.0f firms/s, peak RSS %s MiB |\n' "$m_idx" \
  "$(awk -v f=$firms -v s=$m_idx 'BEGIN {print f/s}')" "$(printf '%s\n' "${idx_rss[@]}" | median)"
printf '| snapshot load (in batch) | %s s |\n' "$(printf '%s\n' "${load_s[@]}" | median)"
printf '| batch peak RSS first night / steady | %s / %s MiB |\n' "$(printf '%s\n' "${first_rss[@]}" | median)" \
  "$(printf '%s\n' "${steady_rss[@]}" | median)"
if [ -x "$latency" ]; then
  printf '| embedded single-firm query (warm, 1 thread) | see below |\n\n'
  "$latency" rules registry.snap 20000 2025-06-30
fi

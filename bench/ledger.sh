#!/usr/bin/env bash
# The grant ledger's figures (bench/README.md, "The grant ledger"). For a scenario directory that
# holds registry.snap and rules/ (as bench/macro.sh leaves them), in pairs run one after the other
# (plain batch, then batch --ledger; RUNS pairs), whole processes timed by /usr/bin/time:
#   first   the first night: a new ledger, every grant proposed
#   steady  the same night again (--previous = that night, the ledger already holds it): nothing
#           changes, proposals.csv lists the night's grants again
#   next    the next day (as_of + 1, --previous = the first night) on a copy of the first night's
#           ledger: as_of-dependent rules change a few policies
# Prints, per figure, the median wall seconds of each side, the median of the per-pair ratios
# (ledger ÷ plain), the median peak RSS, and the ledger file's size after the first night.
# Usage: bench/ledger.sh BUILD_DIR SCENARIO_DIR OUT_DIR [RUNS] [AS_OF] [FIGURES]
#   FIGURES: any of "first steady next" (default all three). POLMATCH_BENCH_NO_PUSHES=1 runs the
#   first nights with --no-pushes (S2's first night would write ~170 GB of pushes).
# OUT_DIR receives the nights and ledgers (a few GB at S2's scale): delete it afterwards.
set -euo pipefail
build="${1:?usage: bench/ledger.sh BUILD_DIR SCENARIO_DIR OUT_DIR [RUNS] [AS_OF] [FIGURES]}"
data="$(cd "${2:?scenario directory}" && pwd)"
out="${3:?output directory}"
runs="${4:-3}"
as_of="${5:-2025-06-30}"
figures="${6:-first steady next}"
pm="$(cd "$build" && pwd)/tools/polmatch"
next_day="$(date -u -d "$as_of + 1 day" +%F)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
first_flags=()
if [ "${POLMATCH_BENCH_NO_PUSHES:-0}" = 1 ]; then first_flags=(--no-pushes); fi
common=(--rules "$data/rules" --snapshot "$data/registry.snap")

# Runs one batch; prints "WALL_SECONDS PEAK_MIB" (exit status must be 0).
timed() {
  local t
  t="$(mktemp)"
  /usr/bin/time -f '%e %M' -o "$t" "$pm" batch "$@" >"$out/last.log" 2>&1 || { cat "$out/last.log" >&2; exit 1; }
  awk '{printf "%s %.0f\n", $1, $2 / 1024}' "$t"
  rm -f "$t"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A plain_s ledger_s ratio plain_rss ledger_rss
record() {  # FIGURE PLAIN_LINE LEDGER_LINE
  local p l
  read -r p prss <<<"$2"
  read -r l lrss <<<"$3"
  plain_s[$1]+="$p "; ledger_s[$1]+="$l "; plain_rss[$1]+="$prss "; ledger_rss[$1]+="$lrss "
  ratio[$1]+="$(awk -v a="$l" -v b="$p" 'BEGIN {printf "%.3f", a / b}') "
}

ledger_bytes=""
for run in $(seq "$runs"); do
  if [[ " $figures " == *" first "* || $run == 1 ]]; then
    a="$(timed "${common[@]}" --as-of "$as_of" --out "$out/first-plain" "${first_flags[@]}")"
    rm -f "$out/grants.db" "$out/grants.db-wal" "$out/grants.db-shm"
    b="$(timed "${common[@]}" --as-of "$as_of" --out "$out/first-ledger" "${first_flags[@]}" --ledger "$out/grants.db")"
    ledger_bytes="$(stat -c %s "$out/grants.db")"
    [[ " $figures " == *" first "* ]] && record first "$a" "$b"
    echo "run $run first: plain $a, ledger $b, ledger file $ledger_bytes bytes" >&2
  fi
  if [[ " $figures " == *" steady "* ]]; then
    a="$(timed "${common[@]}" --as-of "$as_of" --previous "$out/first-plain" --out "$out/steady-plain")"
    b="$(timed "${common[@]}" --as-of "$as_of" --previous "$out/first-ledger" --out "$out/steady-ledger" --ledger "$out/grants.db")"
    record steady "$a" "$b"
    echo "run $run steady: plain $a, ledger $b ($(grep 'ledger:' "$out/last.log"))" >&2
  fi
  if [[ " $figures " == *" next "* ]]; then
    a="$(timed "${common[@]}" --as-of "$next_day" --previous "$out/first-plain" --out "$out/next-plain")"
    cp "$out/grants.db" "$out/next.db"
    rm -f "$out/next.db-wal" "$out/next.db-shm"
    b="$(timed "${common[@]}" --as-of "$next_day" --previous "$out/first-ledger" --out "$out/next-ledger" --ledger "$out/next.db")"
    record next "$a" "$b"
    echo "run $run next: plain $a, ledger $b ($(grep 'ledger:' "$out/last.log"))" >&2
  fi
done

printf '\n%s, %s pair(s) (plain, then --ledger), as_of %s (%s)\n' "$data" "$runs" "$as_of" "$(date -u +%F)"
printf '| figure | plain batch, wall / peak RSS | batch --ledger, wall / peak RSS | ledger ÷ plain (median of pairs) |\n|---|---|---|---|\n'
for f in first steady next; do
  [ -n "${ratio[$f]:-}" ] || continue
  printf '| %s | %s s / %s MiB | %s s / %s MiB | %s |\n' "$f" \
    "$(tr ' ' '\n' <<<"${plain_s[$f]}" | grep . | median)" "$(tr ' ' '\n' <<<"${plain_rss[$f]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${ledger_s[$f]}" | grep . | median)" "$(tr ' ' '\n' <<<"${ledger_rss[$f]}" | grep . | median)" \
    "$(tr ' ' '\n' <<<"${ratio[$f]}" | grep . | median)"
done
printf 'ledger file after the first night: %s bytes\n' "$ledger_bytes"

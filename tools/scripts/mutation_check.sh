#!/usr/bin/env bash
# The mutation check: breaks each rule of the matching contract once — the shared semantics
# (engine/match/semantics.{h,cc}), the limit placement (engine/match/limit_placement.cc) and the
# three-valued logic (engine/util/truth.h) — rebuilds the tests on a copy of the committed tree,
# runs them, and prints per mutation which tests failed. A mutation no test notices "survives":
# the suites do not hold that rule, and a test is missing.
#
# Usage: tools/scripts/mutation_check.sh [--list] [NAME...]
#   NAME...   only these mutations (default: all; --list shows them)
# Environment: POLMATCH_MUTATION_DIR (default ${TMPDIR:-/tmp}/polmatch-mutation) holds the copy
# and its build (kept between runs, so that a second run rebuilds little); POLMATCH_JOBS (default
# nproc) the build and test parallelism. Uses ccache when it is installed.
# Exit status: 0 every mutation was caught, 1 some mutation survived, 2 the unmutated tree does
# not build or pass, or a mutation no longer applies (the code it names changed: update it here).
# Slow (one rebuild and one full test run per mutation): not part of tools/scripts/test.sh.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
work="${POLMATCH_MUTATION_DIR:-${TMPDIR:-/tmp}/polmatch-mutation}"
jobs="${POLMATCH_JOBS:-$(nproc)}"

# name @ file @ text (exactly once in the file) @ replacement @ the rule it breaks
mutations=(
  "status-near-miss-one-condition@engine/match/semantics.cc@t.conditions >= 2 &&@t.conditions >= 1 &&@NEAR_MISS needs two or more conditions"
  "status-near-miss-not-actionable@engine/match/semantics.cc@ && t.false_actionable) return NEAR_MISS@) return NEAR_MISS@NEAR_MISS only when the false condition is actionable"
  "benefit-no-clamp@engine/match/semantics.cc@return exact.is_negative() ? Decimal() : exact.RoundHalfUp(2);@return exact.RoundHalfUp(2);@a benefit is never negative"
  "benefit-truncate-fen@engine/match/semantics.h@return raw < 0 ? 0 : (raw + kFen / 2) / kFen * kFen;@return raw < 0 ? 0 : raw / kFen * kFen;@amounts round half-up to the fen"
  "group-tie-to-later@engine/match/semantics.h@return known && (!winner_known || raw > winner_raw);@return known && (!winner_known || raw >= winner_raw);@a group tie keeps the smaller policy id"
  "rank-tie-to-larger-code@engine/match/semantics.h@  return code_a < code_b;@  return code_b < code_a;@a rank tie goes to the smaller credit code"
  "limit-without-group-peers@engine/match/limit_placement.cc@for (int peer : catalog.groups().at(group)) take[peer] = true;@for (int peer : catalog.groups().at(group)) (void)peer;@groups are resolved before limits"
  "kleene-not-unknown@engine/util/truth.h@return a == Truth::kUnknown ? a :@return a == Truth::kUnknown ? Truth::kFalse :@not unknown is unknown"
)

if [ "${1:-}" = "--list" ]; then
  for m in "${mutations[@]}"; do IFS='@' read -r name file _ _ rule <<<"$m"; printf '%-34s %-34s %s\n' "$name" "$file" "$rule"; done
  exit 0
fi
selected=("$@")
wanted() {
  [ ${#selected[@]} -eq 0 ] && return 0
  local s; for s in "${selected[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1
}

# A copy of the committed tree (HEAD), refreshed from it on every run; the build dir stays.
mkdir -p "$work/src"
find "$work/src" -mindepth 1 -maxdepth 1 ! -name build -exec rm -rf {} +
git -C "$here" archive HEAD | tar -x -C "$work/src"
src="$work/src"; build="$src/build"
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$work}"
else
  launcher=()
fi
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPOLMATCH_BUILD_TESTS=ON \
  -DPOLMATCH_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null

log="$work/log"; mkdir -p "$log"
# Builds the binaries the suites run and runs them (not the install-and-build embed example);
# prints the failing tests' names, one a line. Status 3: it does not build.
build_and_test() {
  cmake --build "$build" -j "$jobs" --target polmatch polmatch_tests >"$log/build" 2>&1 || return 3
  ctest --test-dir "$build" -j "$jobs" -E '^embed_example$' --timeout 600 >"$log/ctest" 2>&1 || true
  sed -n '/The following tests FAILED:/,$p' "$log/ctest" | sed -nE 's/^[[:space:]]*[0-9]+ - (.*) \([A-Za-z ]+\)$/\1/p'
}
# The failing tests (one a line) as their suites, each with how many of its tests failed.
by_suite() {
  sed -E 's/[.<].*//; s|/.*||' | sort | uniq -c | awk '{printf "%s%s×%s", (NR > 1 ? ", " : ""), $2, $1}'
}

echo "mutation check: $src (HEAD $(git -C "$here" rev-parse --short HEAD))" >&2
echo "baseline: building and running the suites unmutated" >&2
if ! failing="$(build_and_test)"; then
  echo "$log/build:1: the unmutated tree does not build" >&2; exit 2
fi
if [ -n "$failing" ] || ! grep -q "tests passed" "$log/ctest"; then
  echo "$log/ctest:1: the unmutated tree fails: $(echo "$failing" | tr '\n' ' ')" >&2; exit 2
fi
total="$(sed -nE 's/.* tests passed, [0-9]+ tests failed out of ([0-9]+)/\1/p' "$log/ctest")"

printf '| mutation | rule it breaks | failing tests (of %s) | suites (tests failed) |\n| --- | --- | --- | --- |\n' "$total"
survivors=0
for m in "${mutations[@]}"; do
  IFS='@' read -r name file from to rule <<<"$m"
  wanted "$name" || continue
  cp "$src/$file" "$log/original"
  if ! FROM="$from" TO="$to" python3 - "$src/$file" <<'EOF'
import os, sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
if text.count(os.environ["FROM"]) != 1:
    sys.exit(1)
open(path, "w", encoding="utf-8").write(text.replace(os.environ["FROM"], os.environ["TO"]))
EOF
  then
    echo "$here/$file:1: mutation $name: its text is not in the file exactly once (update this script)" >&2
    exit 2
  fi
  echo "mutation $name: $file" >&2
  status=0; failing="$(build_and_test)" || status=$?
  cp "$log/original" "$src/$file"
  if [ "$status" -eq 3 ]; then
    echo "$log/build:1: mutation $name does not compile (update this script)" >&2; exit 2
  fi
  count="$(printf '%s' "$failing" | grep -c . || true)"
  if [ "$count" -eq 0 ]; then
    survivors=$((survivors + 1))
    names="SURVIVED"
  else
    names="$(echo "$failing" | by_suite)"
  fi
  printf '| %s | %s | %s | %s |\n' "$name" "$rule" "$count" "$names"
done
# Leave the copy unmutated (its objects rebuilt) for the next run.
cmake --build "$build" -j "$jobs" --target polmatch polmatch_tests >"$log/build" 2>&1 || true
if [ "$survivors" -gt 0 ]; then
  echo "mutation check: $survivors mutation(s) survived: add the test that holds the rule" >&2
  exit 1
fi
echo "mutation check: every mutation was caught" >&2

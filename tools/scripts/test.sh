#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test (unit, differential, golden,
# the seed catalogs' policy tests), then the same suites under AddressSanitizer +
# UndefinedBehaviorSanitizer, then a short bounded run of every libFuzzer target.
# Usage: tools/scripts/test.sh [--quick]   (--quick: the Release suites only)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
jobs="$(nproc)"
fuzz_seconds="${POLMATCH_FUZZ_SECONDS:-20}"     # nightly: POLMATCH_FUZZ_SECONDS=3600
fuzz_max_len="${POLMATCH_FUZZ_MAX_LEN:-4096}"    # nightly: POLMATCH_FUZZ_MAX_LEN=131072

step() { printf '\n== %s\n' "$*" >&2; }

step "release build + tests"
tools/scripts/setup.sh build -DPOLMATCH_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure --no-tests=error -j "$jobs"
tools/scripts/browser_test.sh build
tools/scripts/slurm_test.sh build      # the sharded night on a real one-node Slurm (skips without root)

[ "${1:-}" = "--quick" ] && exit 0

step "AddressSanitizer + UndefinedBehaviorSanitizer build + tests"
CMAKE_BUILD_TYPE=RelWithDebInfo tools/scripts/setup.sh build-asan -DPOLMATCH_SANITIZE=ON \
  -DPOLMATCH_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$jobs"

step "libFuzzer targets, ${fuzz_seconds}s each"
POLMATCH_TARGETS=fuzzers CMAKE_BUILD_TYPE=RelWithDebInfo tools/scripts/setup.sh build-fuzz -DPOLMATCH_BUILD_FUZZ=ON \
  -DPOLMATCH_BUILD_BENCH=OFF -DPOLMATCH_BUILD_TESTS=ON -DPOLMATCH_WERROR=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
for fuzzer in build-fuzz/tests/*_fuzzer; do
  name="$(basename "$fuzzer" _fuzzer)"
  corpus="tests/fuzz/corpus/$name"
  # The parallel JSON Lines reader (jsonl_table) is fuzzed from the sequential reader's corpus.
  [ "$name" != jsonl_table ] || corpus="tests/fuzz/corpus/jsonl"
  [ "$name" != rule_parser ] || corpus="tests/fuzz/corpus/rules"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  work="$(mktemp -d)"
  [ -d "$corpus" ] && cp -r "$corpus/." "$work/"
  echo "fuzzing $name" >&2
  "$fuzzer" -max_total_time="$fuzz_seconds" -max_len="$fuzz_max_len" -print_final_stats=0 \
    "${dict[@]}" -artifact_prefix="$work." "$work" 2>"$work.log" \
    || { tail -50 "$work.log" >&2; mkdir -p "$corpus"; cp "$work".crash-* "$work".timeout-* "$work".oom-* "$corpus/" 2>/dev/null || true;
         echo "fuzzer $name failed (its input kept in $corpus/)" >&2; exit 1; }
  rm -rf "$work" "$work.log"
done
step "all tests passed"

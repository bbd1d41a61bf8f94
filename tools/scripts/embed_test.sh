#!/usr/bin/env bash
# Installs polmatch from BUILD_DIR into a temporary prefix, builds tests/embed_example against it
# with find_package(polmatch), and runs it on the notable demo firms.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:?usage: embed_test.sh BUILD_DIR}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here/tests/embed_example" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/example" >/dev/null
"$build/tools/polmatch" index --rules "$here/rules" --firms "$here/rules/demo/notable_firms.jsonl" \
  --out "$work/demo.snap" 2>/dev/null
out="$("$work/example/portal_example" "$here/rules" "$work/demo.snap" 91441502MA4W0PA9X8 2021-06-30)"
echo "$out"
grep -q $'ELIGIBLE\tshanwei-2021.4.4\t新型研发机构引进资助\t2000000.00' <<<"$out"

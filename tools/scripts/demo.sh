#!/usr/bin/env bash
# The main job: installs what is missing, builds, checks the seed catalogs, and runs polmatch on the
# bundled demo registry (rules/demo). Outputs go to out/demo/.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
POLMATCH_TARGETS=polmatch tools/scripts/setup.sh build -DPOLMATCH_BUILD_TESTS=OFF -DPOLMATCH_BUILD_BENCH=OFF
pm=build/tools/polmatch
out=out/demo
mkdir -p "$out"

echo "== lint and policy tests of the seed catalogs" >&2
"$pm" lint rules
"$pm" test rules

echo "== a notable firm: 汕尾 公益类新型研发机构 (2021)" >&2
"$pm" query --rules rules --firms rules/demo/notable_firms.jsonl --firm 91441502MA4W0PA9X8 --as-of 2021-06-30 \
  | tee "$out/query.txt"

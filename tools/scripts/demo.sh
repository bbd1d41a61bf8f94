#!/usr/bin/env bash
# The main job: installs what is missing, builds, checks the seed catalogs, indexes the bundled
# demo registry (rules/demo: 3,000 generated firms of the five seed regions + hand-made notable
# firms) and runs the nightly batch on it twice (a first night, then the next night with
# --previous, which pushes only what changed). Outputs go to out/demo/.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
POLMATCH_TARGETS=polmatch tools/scripts/setup.sh build
pm=build/tools/polmatch
out=out/demo
mkdir -p "$out"

echo "== lint and policy tests of the seed catalogs" >&2
"$pm" lint rules
"$pm" test rules

echo "== index the demo registry" >&2
"$pm" index --rules rules --firms rules/demo/generated_firms.jsonl --firms rules/demo/notable_firms.jsonl \
  --out "$out/registry.snap" --rejects "$out/rejects.txt"

# Two nights a year apart: 2021 (汕尾 2021 and 湖北 2021 in force: amounts and lists), then 2022
# (武汉 2022 in force; the 2021 measures have ended, so their pushes are withdrawn).
echo "== night of 2021-06-30 (first night: every push)" >&2
"$pm" batch --rules rules --snapshot "$out/registry.snap" --as-of 2021-06-30 --out "$out/night-2021-06-30"
echo "== night of 2022-06-30 (--previous: only what changed)" >&2
"$pm" batch --rules rules --snapshot "$out/registry.snap" --as-of 2022-06-30 --out "$out/night-2022-06-30" \
  --previous "$out/night-2021-06-30"

for night in "$out"/night-*; do
  printf '%s: %s grants, %s list entries, %s pushes\n' "$(basename "$night")" \
    "$(($(wc -l < "$night/grants.csv") - 1))" "$(($(wc -l < "$night/lists.csv") - 1))" \
    "$(wc -l < "$night/pushes.jsonl")"
done
echo "outputs: $out/night-*/{summary.json,grants.csv,lists.csv,pushes.jsonl,state.pmstate}" >&2

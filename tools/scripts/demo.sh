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

echo "== night of 2023-06-30 (first night: every push)" >&2
"$pm" batch --rules rules --snapshot "$out/registry.snap" --as-of 2023-06-30 --out "$out/night-2023-06-30"
echo "== night of 2024-01-01 (--previous: only what changed)" >&2
"$pm" batch --rules rules --snapshot "$out/registry.snap" --as-of 2024-01-01 --out "$out/night-2024-01-01" \
  --previous "$out/night-2023-06-30"

for night in "$out"/night-*; do
  printf '%s: %s grants, %s pushes\n' "$(basename "$night")" \
    "$(($(wc -l < "$night/grants.csv") - 1))" "$(wc -l < "$night/pushes.jsonl")"
done
echo "outputs: $out/night-*/{summary.json,grants.csv,pushes.jsonl,state.pmstate}" >&2

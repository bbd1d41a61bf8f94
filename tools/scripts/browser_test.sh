#!/usr/bin/env bash
# The portal in a real browser: Debian's chromium, driven by playwright-core from npm
# (tests/browser/portal.spec.mjs), against `polmatch serve` of BUILD_DIR on the demo registry.
# Installs chromium (and a CJK font, for readable failure screenshots) with apt when missing.
# Usage: tools/scripts/browser_test.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$here"
build="$(cd "${1:-build}" && pwd)"
[ -x "$build/tools/polmatch" ] || { echo "browser_test: no $build/tools/polmatch; build first" >&2; exit 2; }

pkgs=(chromium fonts-wqy-microhei)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "browser_test: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null && command -v npm >/dev/null || {
  echo "browser_test: node (>= 20) and npm are needed" >&2; exit 2; }

cd tests/browser
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" node portal.spec.mjs "$build"

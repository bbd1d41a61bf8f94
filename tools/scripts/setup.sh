#!/usr/bin/env bash
# Installs the Debian packages polmatch needs (idempotent, non-interactive), then configures and
# builds. Usage: tools/scripts/setup.sh [build-dir] [extra cmake args...]
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$here/build}"; shift || true

pkgs=(build-essential cmake ninja-build pkg-config
      libboost-program-options-dev libboost-graph-dev libabsl-dev libre2-dev
      libprotobuf-dev protobuf-compiler libgtest-dev libgmock-dev libbenchmark-dev
      libroaring-dev libxlsxwriter-dev zlib1g-dev clang libclang-rt-14-dev
      libsqlite3-dev libssl-dev
      fonts-wqy-microhei)  # a CJK font: the browser test and its screenshots render Chinese
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)" ${POLMATCH_TARGETS:+--target $POLMATCH_TARGETS}

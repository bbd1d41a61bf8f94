#!/usr/bin/env bash
# Loopback load and slowloris figures for `polmatch serve` (README, "Measured: loopback load test").
# For each polmatch binary given: serve RULES + SNAPSHOT, then wrk on /api/v1/firms/{code}/matches
# (tools/scripts/wrk_matches.lua, rotating over the snapshot's firms) at each connection count,
# then tools/scripts/slowloris.py (200 slow connections while /healthz is timed).
#   tools/scripts/serve_load.sh RULES SNAPSHOT CODES AS_OF "32 256 1000" BINARY [BINARY…]
# CODES: a file of credit codes, one a line. Needs wrk (Debian package `wrk`) and python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
rules="$1" snapshot="$2" codes="$3" as_of="$4" conns="$5"
shift 5
seconds="${SERVE_LOAD_SECONDS:-10}"
ulimit -n "$(ulimit -Hn)"
port=$((20000 + RANDOM % 20000))  # fresh ports: a previous run leaves TIME_WAIT behind
for bin in "$@"; do
  port=$((port + 1))
  log="$(mktemp)"
  "$bin" serve --rules "$rules" --snapshot "$snapshot" --port "$port" --quiet 2>"$log" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
  echo "== $bin ($(head -1 "$log"))"
  for c in $conns; do
    out="$(CODES="$codes" AS_OF="$as_of" wrk -t2 -c"$c" -d"${seconds}s" --timeout 2s --latency \
             -s "$here/wrk_matches.lua" "http://127.0.0.1:$port" 2>&1 || true)"
    rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
    p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    max="$(awk '$1 == "Latency" {print $4}' <<<"$out")"
    errs="$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)"
    echo "c=$c: ${rps:-0} req/s, p50 ${p50:--} p99 ${p99:--} max ${max:--}; ${errs:-no errors}"
  done
  timeout 300 python3 "$here/slowloris.py" --port "$port" --connections 200 --probes 200 || echo "slowloris: failed"
  kill -TERM "$pid"
  wait "$pid" || true
  rm -f "$log"
done

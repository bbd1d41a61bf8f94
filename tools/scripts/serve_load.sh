#!/usr/bin/env bash
# Loopback load and slowloris figures for `polmatch serve` (README, "Measured: loopback load test").
# For each polmatch binary given: serve RULES + SNAPSHOT, then wrk on /api/v1/firms/{code}/matches
# (tools/scripts/wrk_matches.lua, rotating over the snapshot's firms) at each connection count,
# then tools/scripts/slowloris.py (200 slow connections while /healthz is timed).
#   tools/scripts/serve_load.sh RULES SNAPSHOT CODES AS_OF "32 256 1000" BINARY [BINARY…]
# CODES: a file of credit codes, one a line. Needs wrk (Debian package `wrk`) and python3.
#
# The cost of authentication, paired: one binary served three ways at once (no --auth; --auth;
# --auth with --audit-log), wrk run against each in turn, PAIRS rounds, then the medians and the
# median of the per-round ratios to "off" (a loaded machine drifts; pairing keeps the ratio fair).
# "offtok" sends the tokens to the server without --auth: the same bytes on the wire as "on", so
# on/offtok is the cost of checking them, apart from the cost of carrying them.
#   tools/scripts/serve_load.sh --auth-pairs AUTH TOKENS RULES SNAPSHOT AS_OF CONNS PAIRS BINARY
# AUTH: an auth file whose limits are off (per_principal/per_address { per_minute: 0 }); TOKENS:
# lines "CODE TOKEN" (polmatch auth token --auth AUTH --firm CODE).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${1:-}" = --auth-pairs ]; then
  auth="$2" tokens="$3" rules="$4" snapshot="$5" as_of="$6" c="$7" pairs="$8" bin="$9"
  seconds="${SERVE_LOAD_SECONDS:-8}"
  ulimit -n "$(ulimit -Hn)"
  tmp="$(mktemp -d)"
  cut -d' ' -f1 "$tokens" > "$tmp/codes"
  port=$((20000 + RANDOM % 20000))
  pids=()
  for mode in off on audit; do
    port=$((port + 1))
    extra=()
    [ "$mode" = off ] || extra=(--auth "$auth")
    [ "$mode" != audit ] || extra+=(--audit-log "$tmp/audit.jsonl")
    "$bin" serve --rules "$rules" --snapshot "$snapshot" --port "$port" --quiet "${extra[@]}" 2>"$tmp/$mode.log" &
    pids+=($!)
    echo "$port" > "$tmp/$mode.port"
  done
  for mode in off on audit; do
    for _ in $(seq 100); do grep -q listening "$tmp/$mode.log" && break; sleep 0.1; done
  done
  cp "$tmp/off.port" "$tmp/offtok.port"
  for round in $(seq "$pairs"); do
    for mode in off offtok on audit; do
      env_file=(CODES="$tmp/codes")
      [ "$mode" = off ] || env_file=(TOKENS="$tokens")
      out="$(env "${env_file[@]}" AS_OF="$as_of" wrk -t2 -c"$c" -d"${seconds}s" --timeout 2s --latency \
               -s "$here/wrk_matches.lua" "http://127.0.0.1:$(cat "$tmp/$mode.port")" 2>&1 || true)"
      rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
      p50="$(awk '$1 == "50%" {print $2}' <<<"$out")"
      p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
      errs="$(grep -E 'Socket errors|Non-2xx' <<<"$out" | tr '\n' ' ' || true)"
      echo "round $round $mode c=$c: ${rps:-0} req/s, p50 ${p50:--} p99 ${p99:--}; ${errs:-no errors}"
      echo "$round $mode ${rps:-0} ${p50:--} ${p99:--}" >> "$tmp/runs"
    done
  done
  kill -TERM "${pids[@]}"
  wait "${pids[@]}" || true
  [ ! -f "$tmp/audit.jsonl" ] || echo "audit lines written: $(wc -l < "$tmp/audit.jsonl")"
  python3 - "$tmp/runs" <<'PY'
import statistics, sys
def ms(t):
    return float(t[:-2]) if t.endswith("ms") else float(t[:-2]) / 1000 if t.endswith("us") else float(t[:-1]) * 1000
runs = {}
for line in open(sys.argv[1]):
    r, mode, rps, p50, p99 = line.split()
    runs.setdefault(mode, {})[r] = (float(rps), ms(p50), ms(p99))
for mode in ("off", "offtok", "on", "audit"):
    v = list(runs[mode].values())
    ratio = [runs[mode][r][0] / runs["off"][r][0] for r in runs[mode]]
    vs_tok = [runs[mode][r][0] / runs["offtok"][r][0] for r in runs[mode]]
    print(f"{mode:6s} median {statistics.median(x[0] for x in v):9.0f} req/s  p50 {statistics.median(x[1] for x in v):7.2f} ms"
          f"  p99 {statistics.median(x[2] for x in v):7.2f} ms  req/s vs off {statistics.median(ratio):.3f}"
          f"  vs offtok {statistics.median(vs_tok):.3f} (medians of the rounds' ratios)")
PY
  rm -rf "$tmp"
  exit 0
fi
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

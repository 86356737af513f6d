#!/usr/bin/env bash
# Where the CPU goes, and what bounds throughput through vmcp on a small machine.
#
# 1. CPU time per call of each process (the bench client, vmcp, the mock),
#    calling the mock directly and through vmcp over streamable HTTP. When the
#    client, vmcp and the backend share the same cores and the backend does no
#    work, throughput is CPU-bound, and the ratio via/direct cannot exceed
#    (client + mock) / (client + vmcp + mock) per call.
# 2. The throughput ratio at 64 sessions when the backend takes some time per
#    call (`vmcp mock --latency-ms L`, a sleep, as a real tool's I/O would be).
#
#   bash benches/cpu.sh                       # DURATION=4s REPEATS=2 LATENCIES="1 5 20"
#   WORKERS=1 LATENCIES= bash benches/cpu.sh  # vmcp with gateway.worker_threads = 1, part 1 only
#
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-4s}"
REPEATS="${REPEATS:-2}"
LATENCIES="${LATENCIES-1 5 20}"
WORKERS="${WORKERS:-0}"
source benches/lib.sh

# CPU seconds (user + system) a process has used so far.
cpu_of() {
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

# Starts a mock (extra args: "$@") and a vmcp in front of it; sets MOCK_PID,
# MOCK_URL, VIA_PID, VIA_URL.
pair() {
  local tag="$1"; shift
  listen "$WORK/mock-$tag.log" "$VMCP" mock --listen 127.0.0.1:0 --name direct "$@"
  MOCK_PID="$PID"; MOCK_URL="$URL"
  via_http_config "$WORK/$tag.toml" "$MOCK_URL" "worker_threads = $WORKERS"
  listen "$WORK/vmcp-$tag.log" "$VMCP" start --config "$WORK/$tag.toml" --log-level warn
  VIA_PID="$PID"; VIA_URL="$URL"
}

# One run without warm-up; prints "calls bench_cpu_s vmcp_cpu_s mock_cpu_s calls_per_s".
run() {
  local url="$1" tool="$2" sessions="$3"
  local m0 v0 m1 v1 out
  m0="$(cpu_of "$MOCK_PID")"; v0="$(cpu_of "$VIA_PID")"
  local TIMEFORMAT='%U %S'
  { time "$VMCP" bench --url "$url/mcp" --sessions "$sessions" --tool "$tool" --args '{"text":"x"}' \
      --duration "$DURATION" --warmup 0s --json >"$WORK/out.json" 2>/dev/null; } 2>"$WORK/time"
  m1="$(cpu_of "$MOCK_PID")"; v1="$(cpu_of "$VIA_PID")"
  python3 - "$WORK/out.json" "$(cat "$WORK/time")" "$m0" "$m1" "$v0" "$v1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
u, s = (float(x) for x in sys.argv[2].split())
m0, m1, v0, v1 = (float(x) for x in sys.argv[3:7])
calls = d["requests"] if "requests" in d else d["calls_per_s"] * d["duration_s"]
print(calls, u + s, v1 - v0, m1 - m0, d["calls_per_s"])
PY
}

echo "CPU per call (µs), streamable HTTP, mock with no latency; $DURATION per run, medians of $REPEATS; vmcp worker_threads = $WORKERS"
printf '%-8s %-7s | %9s | %8s %8s %8s %8s | %s\n' sessions path "calls/s" bench vmcp mock total "bound on the ratio"
pair cpu
for n in 16 64; do
  declare -A acc=()
  for _ in $(seq 1 "$REPEATS"); do
    for path in direct via; do
      if [[ $path == direct ]]; then url="$MOCK_URL"; tool=echo; else url="$VIA_URL"; tool=mock__echo; fi
      acc[$path]+="$(run "$url" "$tool" "$n");"
    done
  done
  python3 - "$n" "${acc[direct]}" "${acc[via]}" <<'PY'
import sys, statistics as st
n = sys.argv[1]
def rows(s):
    return [[float(x) for x in r.split()] for r in s.strip(";").split(";")]
def per_call(rs):
    # median over repeats of each per-call figure
    cols = list(zip(*[(b / c * 1e6, v / c * 1e6, m / c * 1e6, cps) for c, b, v, m, cps in rs]))
    return [st.median(col) for col in cols]
d, v = per_call(rows(sys.argv[2])), per_call(rows(sys.argv[3]))
for name, (b, g, m, cps) in (("direct", d), ("via", v)):
    total = b + g + m
    bound = ""
    if name == "via":
        bound = f"{(d[0] + d[2]) / total:.2f} (measured {cps / d[3]:.2f})"
    print(f"{n:<8} {name:<7} | {cps:9.0f} | {b:8.1f} {g:8.1f} {m:8.1f} {total:8.1f} | {bound}")
PY
done

[[ -n "$LATENCIES" ]] || exit 0
echo
echo "Throughput at 64 sessions when each call takes the backend L ms (mock --latency-ms L)"
printf '%-6s | %12s %12s %6s\n' "L (ms)" "direct c/s" "via c/s" ratio
for l in $LATENCIES; do
  pair "lat$l" --latency-ms "$l"
  d=(); v=()
  for _ in $(seq 1 "$REPEATS"); do
    d+=("$(run "$MOCK_URL" echo 64 | awk '{print $5}')")
    v+=("$(run "$VIA_URL" mock__echo 64 | awk '{print $5}')")
  done
  python3 - "$l" "${d[*]}" "${v[*]}" <<'PY'
import sys, statistics as st
l = sys.argv[1]
d = st.median(float(x) for x in sys.argv[2].split())
v = st.median(float(x) for x in sys.argv[3].split())
print(f"{l:<6} | {d:12.0f} {v:12.0f} {v / d:6.2f}")
PY
  kill "$MOCK_PID" "$VIA_PID" 2>/dev/null || true
done

#!/usr/bin/env bash
# Where the CPU goes, and what bounds throughput through vmcp on a small machine.
#
# 1. CPU time per call of each process (the bench client, vmcp, the mock),
#    calling the mock directly and through vmcp, over streamable HTTP and over
#    stdio (vmcp --stdio in front of a stdio mock). When the
#    client, vmcp and the backend share the same cores and the backend does no
#    work, throughput is CPU-bound, and the ratio via/direct cannot exceed
#    (client + mock) / (client + vmcp + mock) per call.
# 2. The throughput ratio at 64 sessions when the backend takes some time per
#    call (`vmcp mock --latency-ms L`, a sleep, as a real tool's I/O would be).
#
#   bash benches/cpu.sh                       # DURATION=4s REPEATS=2 LATENCIES="1 5 20"
#   WORKERS=1 LATENCIES= bash benches/cpu.sh  # vmcp with gateway.worker_threads = 1, part 1 only
#   BACKEND=rmcp LATENCIES= bash benches/cpu.sh   # the rmcp echo server as the backend
#
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-4s}"
REPEATS="${REPEATS:-2}"
LATENCIES="${LATENCIES-1 5 20}"
WORKERS="${WORKERS:-0}"
BACKEND="${BACKEND:-mock}"
TRANSPORTS="${TRANSPORTS:-http stdio}"
source benches/lib.sh
backend_commands "$BACKEND"

# CPU seconds (user + system) a process has used so far.
cpu_of() {
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

# Starts a backend (extra args: "$@") and a vmcp in front of it; sets MOCK_PID,
# MOCK_URL, VIA_PID, VIA_URL.
pair() {
  local tag="$1"; shift
  listen "$WORK/mock-$tag.log" "${BACKEND_HTTP[@]}" "$@"
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

if [[ " $TRANSPORTS " == *" http "* ]]; then
echo "CPU per call (µs), streamable HTTP, $BACKEND with no latency; $DURATION per run, medians of $REPEATS; vmcp worker_threads = $WORKERS"
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
        bound = f"{(d[0] + d[2]) / total:.2f} (measured {cps / d[3]:.2f}); vmcp/backend {g / d[2]:.2f} (direct), {g / m:.2f} (via)"
    print(f"{n:<8} {name:<7} | {cps:9.0f} | {b:8.1f} {g:8.1f} {m:8.1f} {total:8.1f} | {bound}")
PY
done
fi

# One reading, taken at once: "uptime bench_s vmcp_s backend_s", the CPU seconds
# used so far by the bench client (pid BENCH), the processes FILE_V lists
# (vmcp; "-" for none) and those FILE_B lists (the backends, still running).
sample() {
  local bench="$1" files=(/proc/uptime "/proc/$1/stat") p
  local -A group=(["/proc/$1/stat"]=b)
  for p in $([[ $2 == - ]] || cat "$2"); do [[ -r /proc/$p/stat ]] && files+=("/proc/$p/stat") && group["/proc/$p/stat"]=v; done
  for p in $(cat "$3"); do [[ -r /proc/$p/stat ]] && files+=("/proc/$p/stat") && group["/proc/$p/stat"]=m; done
  local map=""
  for f in "${!group[@]}"; do map+="$f=${group[$f]} "; done
  awk -v tck="$(getconf CLK_TCK)" -v map="$map" '
    BEGIN { n = split(map, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], x, "="); g[x[1]] = x[2] } }
    FILENAME == "/proc/uptime" { up = $1; next }
    { sub(/.*\) /, ""); t[g[FILENAME]] += ($12 + $13) / tck }
    END { printf "%s %s %s %s\n", up, t["b"] + 0, t["v"] + 0, t["m"] + 0 }' "${files[@]}" 2>/dev/null
}

# One stdio run (direct or via) at N sessions: `vmcp bench` starts one server
# process per session (and through vmcp, each vmcp one backend), each recording
# its pid. CPU is read twice in the middle of the run (processes are gone once it
# ends), each time all processes at once. Prints "calls bench_cpu_s vmcp_cpu_s
# mock_cpu_s calls_per_s".
stdio_run() {
  local path="$1" n="$2" pids="$WORK/pids-$1-$2" backends="$WORK/stdio-backends"
  : >"$pids"
  : >"$backends"
  local record=(--command sh --arg -c --arg 'echo $$ >>"$0"; exec "$@"' --arg "$pids")
  local server=()
  if [[ $path == via ]]; then
    server=(--arg "$VMCP" --arg start --arg --stdio --arg --log-level --arg warn --arg --config --arg "$WORK/stdio.toml"
      --tool mock__echo)
  else
    server=(--arg "$BACKEND_STDIO_CMD")
    [[ $BACKEND == mock ]] && server+=(--arg mock)
    server+=(--tool echo)
  fi
  "$VMCP" bench "${record[@]}" "${server[@]}" --args '{"text":"x"}' --sessions "$n" \
    --duration "$DURATION" --warmup 0s --json >"$WORK/stdio.json" 2>/dev/null &
  local bench_pid=$!
  sleep 1
  local first second window
  # The gateways and the backends, or (direct) the backends alone.
  if [[ $path == via ]]; then first="$(sample "$bench_pid" "$pids" "$backends")"
  else first="$(sample "$bench_pid" - "$pids")"; fi
  # A window well inside the run.
  window="$(python3 -c "import re; d='$DURATION'; print(max(0.5, float(re.sub('s$','',d)) / 4))")"
  sleep "$window"
  if [[ $path == via ]]; then second="$(sample "$bench_pid" "$pids" "$backends")"
  else second="$(sample "$bench_pid" - "$pids")"; fi
  wait "$bench_pid" || true
  python3 - "$WORK/stdio.json" "$first" "$second" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
(t0, b0, g0, m0), (t1, b1, g1, m1) = ([float(x) for x in a.split()] for a in sys.argv[2:4])
calls = d["calls_per_s"] * (t1 - t0)
print(calls, b1 - b0, g1 - g0, m1 - m0, d["calls_per_s"])
PY
}

if [[ " $TRANSPORTS " == *" stdio "* ]]; then
  stdio_config "$WORK/stdio.toml" "$WORK/state-stdio" "$WORK/stdio-backends"
  echo
  echo "CPU per call (µs), stdio: vmcp --stdio in front of a stdio $BACKEND, one process each per session"
  printf '%-8s %-7s | %9s | %8s %8s %8s %8s | %s\n' sessions path "calls/s" bench vmcp backend total "bound on the ratio"
  for n in 1 16; do
    declare -A acc=()
    for _ in $(seq 1 "$REPEATS"); do
      for path in direct via; do
        acc[$path]+="$(stdio_run "$path" "$n");"
      done
    done
    python3 - "$n" "${acc[direct]}" "${acc[via]}" <<'PY'
import sys, statistics as st
n = sys.argv[1]
def rows(s):
    return [[float(x) for x in r.split()] for r in s.strip(";").split(";")]
def per_call(rs):
    cols = list(zip(*[(b / c * 1e6, v / c * 1e6, m / c * 1e6, cps) for c, b, v, m, cps in rs]))
    return [st.median(col) for col in cols]
d, v = per_call(rows(sys.argv[2])), per_call(rows(sys.argv[3]))
for name, (b, g, m, cps) in (("direct", d), ("via", v)):
    total = b + g + m
    bound = ""
    if name == "via":
        bound = f"{(d[0] + d[2]) / total:.2f} (measured {cps / d[3]:.2f}); vmcp/backend {g / d[2]:.2f} (direct), {g / m:.2f} (via)"
    print(f"{n:<8} {name:<7} | {cps:9.0f} | {b:8.1f} {g:8.1f} {m:8.1f} {total:8.1f} | {bound}")
PY
  done
fi

[[ -n "$LATENCIES" && $BACKEND == mock ]] || exit 0
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

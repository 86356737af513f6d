#!/usr/bin/env bash
# Instructions per call, counted by valgrind (callgrind): vmcp in front of a `vmcp mock`, against
# the same mock answering the same calls directly. Instruction counts do not move with the
# machine's load (a busy shared machine is fine), so a change to the hot path shows at once and
# can be compared across commits; CPU time (benches/cpu.sh) adds what the kernel spends.
#
# Each figure is (I(N2) - I(N1)) / (N2 - N1): two whole runs of N1 and N2 calls through fresh
# processes, so start-up and shutdown cancel out. Both vmcp and the mock run under callgrind;
# `vmcp bench` (one session, one tools/call `echo` at a time) is the client.
#
#   bash benches/instructions.sh                 # N1=300 N2=1300, both transports
#   VMCP=/path/to/other/vmcp CLIENT=target/release/vmcp bash benches/instructions.sh   # another build
#   TRANSPORTS=http N1=200 N2=700 bash benches/instructions.sh
#
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N1="${N1:-300}"
N2="${N2:-1300}"
TRANSPORTS="${TRANSPORTS:-http stdio}"
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: apt-get install valgrind)" >&2; exit 1; }
source benches/lib.sh
# The client: this build's `vmcp bench` unless CLIENT names another (to measure
# an older gateway with a client that lets it exit cleanly).
CLIENT="${CLIENT:-$VMCP}"

CG=(valgrind --tool=callgrind --quiet)

# The instruction total of one callgrind output file.
total() {
  awk '/^(summary|totals):/ { print $2; exit }' "$1"
}

# Stops a process politely (the mock on SIGINT, vmcp on SIGTERM) and waits for it,
# so that callgrind writes its file.
stop() {
  local pid="$1" sig="$2"
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

# One HTTP run of N calls: prints "vmcp_instructions mock_instructions direct_mock_instructions".
http_run() {
  local n="$1" tag="http-$1"
  # Through vmcp.
  listen "$WORK/$tag-mock.log" "${CG[@]}" --callgrind-out-file="$WORK/$tag-mock.cg" "$VMCP" mock --listen 127.0.0.1:0
  local mock_pid="$PID" mock_url="$URL"
  via_http_config "$WORK/$tag.toml" "$mock_url"
  listen "$WORK/$tag-vmcp.log" "${CG[@]}" --callgrind-out-file="$WORK/$tag-vmcp.cg" "$VMCP" start \
    --config "$WORK/$tag.toml" --log-level warn
  local vmcp_pid="$PID" vmcp_url="$URL"
  "$CLIENT" bench --url "$vmcp_url/mcp" --tool mock__echo --args '{"text":"x"}' --requests "$n" --warmup 0s \
    --timeout 60s --json >"$WORK/$tag-via.json" 2>/dev/null
  stop "$vmcp_pid" TERM
  stop "$mock_pid" INT
  # The mock alone, called directly.
  listen "$WORK/$tag-direct.log" "${CG[@]}" --callgrind-out-file="$WORK/$tag-direct.cg" "$VMCP" mock --listen 127.0.0.1:0
  local direct_pid="$PID" direct_url="$URL"
  "$CLIENT" bench --url "$direct_url/mcp" --tool echo --args '{"text":"x"}' --requests "$n" --warmup 0s \
    --timeout 60s --json >"$WORK/$tag-direct.json" 2>/dev/null
  stop "$direct_pid" INT
  echo "$(total "$WORK/$tag-vmcp.cg") $(total "$WORK/$tag-mock.cg") $(total "$WORK/$tag-direct.cg")"
}

# One stdio run of N calls (vmcp --stdio, the mock its stdio child): same output.
stdio_run() {
  local n="$1" tag="stdio-$1"
  cat >"$WORK/$tag.toml" <<TOML
[gateway]
state_dir = "$WORK/$tag.state"
health_interval = "0s"
[servers.mock]
command = "valgrind"
args = ["--tool=callgrind", "--quiet", "--callgrind-out-file=$WORK/$tag-mock.cg", "$VMCP", "mock"]
TOML
  "$CLIENT" bench --command valgrind --arg --tool=callgrind --arg --quiet --arg "--callgrind-out-file=$WORK/$tag-vmcp.cg" \
    --arg "$VMCP" --arg start --arg --stdio --arg --log-level --arg warn --arg --config --arg "$WORK/$tag.toml" \
    --tool mock__echo --args '{"text":"x"}' --requests "$n" --warmup 0s --timeout 60s --json \
    >"$WORK/$tag-via.json" 2>/dev/null
  "$CLIENT" bench --command valgrind --arg --tool=callgrind --arg --quiet --arg "--callgrind-out-file=$WORK/$tag-direct.cg" \
    --arg "$VMCP" --arg mock --tool echo --args '{"text":"x"}' --requests "$n" --warmup 0s --timeout 60s --json \
    >"$WORK/$tag-direct.json" 2>/dev/null
  # The processes are gone once bench returns; callgrind has written its files.
  for _ in $(seq 1 100); do
    [[ -s "$WORK/$tag-mock.cg" && -s "$WORK/$tag-vmcp.cg" && -s "$WORK/$tag-direct.cg" ]] && break
    sleep 0.1
  done
  echo "$(total "$WORK/$tag-vmcp.cg") $(total "$WORK/$tag-mock.cg") $(total "$WORK/$tag-direct.cg")"
}

echo "instructions per call (callgrind), ($N2 - $N1) calls, one session, tools/call echo; $($VMCP --version 2>/dev/null || echo vmcp)"
printf '%-8s %14s %14s %14s %10s\n' transport "vmcp" "mock (via)" "mock (direct)" "vmcp/mock"
for t in $TRANSPORTS; do
  read -r v1 m1 d1 < <("${t}_run" "$N1")
  read -r v2 m2 d2 < <("${t}_run" "$N2")
  python3 - "$t" "$N1" "$N2" "$v1" "$m1" "$d1" "$v2" "$m2" "$d2" <<'PY'
import sys
t = sys.argv[1]
n1, n2, v1, m1, d1, v2, m2, d2 = (int(x) for x in sys.argv[2:])
per = lambda a, b: (b - a) / (n2 - n1)
v, m, d = per(v1, v2), per(m1, m2), per(d1, d2)
print(f"{t:<8} {v:>14,.0f} {m:>14,.0f} {d:>14,.0f} {v / d:>10.2f}")
PY
done

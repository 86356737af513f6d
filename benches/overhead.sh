#!/usr/bin/env bash
# vmcp's overhead, measured: the same backend reached directly and through vmcp,
# over streamable HTTP and over stdio, at 1, 16 and 64 sessions, with `vmcp
# bench` as the client. Repeats are interleaved (direct, via, direct, via, …)
# so that drift on the machine hits both sides alike. Prints a table.
#
# The backend is `vmcp mock`, or with BACKEND=rmcp an echo server written with
# the official Rust SDK (examples/rmcp_echo.rs): vmcp's overhead in front of a
# server that is not its own.
#
#   bash benches/overhead.sh                 # DURATION=5s REPEATS=3 SESSIONS="1 16 64"
#   DURATION=3s REPEATS=2 bash benches/overhead.sh
#   BACKEND=rmcp bash benches/overhead.sh
#
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-5s}"
REPEATS="${REPEATS:-3}"
SESSIONS="${SESSIONS:-1 16 64}"
BACKEND="${BACKEND:-mock}"
source benches/lib.sh
backend_commands "$BACKEND"

listen "$WORK/mock.log" "${BACKEND_HTTP[@]}"
MOCK_URL="$URL"
via_http_config "$WORK/http.toml" "$MOCK_URL"
stdio_config "$WORK/stdio.toml" "$WORK/state-stdio"
listen "$WORK/vmcp.log" "$VMCP" start --config "$WORK/http.toml" --log-level warn
VIA_URL="$URL"

bench() {
  "$VMCP" bench "$@" --duration "$DURATION" --warmup 1s --json 2>/dev/null
}

# One measurement: prints "calls_per_s p50_us p99_us".
measure() {
  python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["latency_us"] or {}; print(d["calls_per_s"], l.get("p50",0), l.get("p99",0), d["errors"])'
}

printf '%-6s %8s | %12s %12s %6s | %9s %9s %9s | %9s %9s\n' transport sessions "direct c/s" "via c/s" ratio "p50 dir" "p50 via" "+p50" "p99 dir" "p99 via"
for transport in http stdio; do
  for n in $SESSIONS; do
    dir_cps=(); via_cps=(); dir_p50=(); via_p50=(); dir_p99=(); via_p99=()
    for _ in $(seq 1 "$REPEATS"); do
      if [[ $transport == http ]]; then
        read -r c p50 p99 e < <(bench --url "$MOCK_URL/mcp" --sessions "$n" --tool echo --args '{"text":"x"}' | measure)
        dir_cps+=("$c"); dir_p50+=("$p50"); dir_p99+=("$p99")
        read -r c p50 p99 e < <(bench --url "$VIA_URL/mcp" --sessions "$n" --tool mock__echo --args '{"text":"x"}' | measure)
        via_cps+=("$c"); via_p50+=("$p50"); via_p99+=("$p99")
      else
        read -r c p50 p99 e < <(bench "${BACKEND_STDIO_BENCH[@]}" --sessions "$n" --tool echo --args '{"text":"x"}' | measure)
        dir_cps+=("$c"); dir_p50+=("$p50"); dir_p99+=("$p99")
        read -r c p50 p99 e < <(bench --command "$VMCP" --arg start --arg --stdio --arg --log-level --arg warn \
          --arg --config --arg "$WORK/stdio.toml" --sessions "$n" --tool mock__echo --args '{"text":"x"}' | measure)
        via_cps+=("$c"); via_p50+=("$p50"); via_p99+=("$p99")
      fi
    done
    python3 - "$transport" "$n" "${dir_cps[*]}" "${via_cps[*]}" "${dir_p50[*]}" "${via_p50[*]}" "${dir_p99[*]}" "${via_p99[*]}" <<'PY'
import sys, statistics as st
t, n = sys.argv[1], sys.argv[2]
med = lambda s: st.median(float(x) for x in s.split())
dc, vc, d50, v50, d99, v99 = (med(a) for a in sys.argv[3:9])
print(f"{t:<6} {n:>8} | {dc:12.0f} {vc:12.0f} {vc/dc:6.2f} | {d50/1000:7.3f}ms {v50/1000:7.3f}ms {(v50-d50)/1000:7.3f}ms | {d99/1000:7.3f}ms {v99/1000:7.3f}ms")
PY
  done
done
echo "(medians of $REPEATS interleaved runs of $DURATION each; c/s = calls per second; +p50 = added latency at p50)"

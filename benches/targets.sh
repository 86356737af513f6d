#!/usr/bin/env bash
# The fixed targets of issue 7, measured against a release build:
#   1. tools/list over 10,000 tools (100 servers x 100 tools), from the catalog: p50/p99 latency
#   2. a 10 MiB tool result through vmcp: the gateway's peak extra memory
#   3. idle RSS of the gateway with 10 stdio backends (children excluded)
#   4. 10,000 idle sessions on the HTTP front: the gateway's RSS
#
#   bash benches/targets.sh            # SESSIONS=10000 (lower it for a quick look)
#
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SESSIONS="${SESSIONS:-10000}"
source benches/lib.sh

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Starts vmcp with a config, waits for its listening line; sets PID and URL.
start() { listen "$2" "$VMCP" start --config "$1"; }

# Waits until every configured server is ready (vmcp health check exits 0).
ready() {
  for _ in $(seq 1 600); do
    if "$VMCP" health check --config "$1" >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  echo "servers not ready" >&2
  exit 1
}

gateway_toml() {
  local name="$1" servers="$2" tools="$3"
  {
    printf '[gateway]\nlisten = "127.0.0.1:0"\nstate_dir = "%s/state-%s"\nhealth_interval = "0s"\n' "$WORK" "$name"
    for i in $(seq 1 "$servers"); do
      printf '[servers.s%d]\ncommand = "%s"\nargs = ["mock", "--no-builtins", "--tools", "%d", "--resources", "0", "--prompts", "0"]\n' \
        "$i" "$VMCP" "$tools"
    done
  } >"$WORK/$name.toml"
}

echo "== 1. tools/list over 10,000 tools (100 servers x 100 tools)"
gateway_toml big 100 100
start "$WORK/big.toml" "$WORK/big.log"
ready "$WORK/big.toml"
"$VMCP" bench --url "$URL/mcp" --sessions 1 --requests 300 --warmup 0s --json >"$WORK/list.json"
python3 - "$WORK/list.json" <<'PY' 2>/dev/null || grep -o '"p50":[0-9]*\|"p99":[0-9]*' "$WORK/list.json"
import json, sys
r = json.load(open(sys.argv[1]))
l = r["latency_us"]
print(f"   {r['ok']} lists, p50 {l['p50']/1000:.2f} ms, p99 {l['p99']/1000:.2f} ms (target: within 5 ms)")
PY
BYTES="$(curl -s -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
  "$URL/mcp" -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}' \
  -D "$WORK/h" -o /dev/null; S="$(grep -i mcp-session-id "$WORK/h" | tr -d '\r' | awk '{print $2}')";
  curl -s -H 'content-type: application/json' -H 'accept: application/json' -H "mcp-session-id: $S" \
  "$URL/mcp" -d '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | wc -c)"
echo "   one list is $BYTES bytes"
kill "$PID"; wait "$PID" 2>/dev/null || true

echo "== 2. a 10 MiB tool result, and 3. idle RSS with 10 stdio backends"
gateway_toml ten 10 3
sed -i 's/"--no-builtins", //' "$WORK/ten.toml"
start "$WORK/ten.toml" "$WORK/ten.log"
ready "$WORK/ten.toml"
sleep 1
IDLE="$(rss_kib "$PID")"
echo "   idle RSS with 10 stdio backends: $(mib "$IDLE") (target: at most 20 MiB; children excluded)"
BEFORE_HWM="$(hwm_kib "$PID")"
"$VMCP" bench --url "$URL/mcp" --sessions 1 --requests 3 --warmup 0s --tool s1__big --args '{"bytes":10485760}' --json >"$WORK/big.json"
AFTER_HWM="$(hwm_kib "$PID")"
OK="$(grep -o '"ok": *[0-9]*' "$WORK/big.json" | head -1)"
echo "   3 calls returning 10 MiB each ($OK): peak RSS $(mib "$BEFORE_HWM") -> $(mib "$AFTER_HWM"), extra $(mib $((AFTER_HWM - IDLE))) over idle (target: at most 20 MiB)"
kill "$PID"; wait "$PID" 2>/dev/null || true

echo "== 4. $SESSIONS idle sessions on the HTTP front"
gateway_toml many 1 3
sed -i "s/^health_interval = \"0s\"$/health_interval = \"0s\"\nmax_sessions = $((SESSIONS + 100))/" "$WORK/many.toml"
start "$WORK/many.toml" "$WORK/many.log"
ready "$WORK/many.toml"
BASE="$(rss_kib "$PID")"
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}'
export URL INIT
seq 1 "$SESSIONS" | xargs -P 8 -n 50 sh -c 'for _ in "$@"; do curl -s -o /dev/null -H "content-type: application/json" -H "accept: application/json" "$URL/mcp" -d "$INIT"; done' _
OPEN="$("$VMCP" status --config "$WORK/many.toml" --json | grep -o '"sessions": *[0-9]*')"
AFTER="$(rss_kib "$PID")"
echo "   $OPEN open: RSS $(mib "$BASE") -> $(mib "$AFTER") (target: within 300 MiB)"

#!/usr/bin/env bash
# vmcp beside its peers: other MCP gateways and bridges, installed at pinned versions
# from the package registries, in front of the same backend (`vmcp mock`), driven by
# the same client (`vmcp bench`, echo tool), against the same direct baselines, in one
# interleaved run. Prints one table: calls/s, p50 and p99 per row and session count,
# the ratio to the direct baseline of the same shape, idle RSS and time to ready.
#
#   bash benches/peers.sh                                  # DURATION=5s REPEATS=3 SESSIONS="1 16"
#   DURATION=2s REPEATS=1 PEERS="supergateway" bash benches/peers.sh
#   QUIET_MAX=2400 bash benches/peers.sh   # first wait (up to 40 min) for 60 s without rustc/cargo
#
# Knobs: DURATION, REPEATS, SESSIONS, PEERS (a subset of: supergateway mcp-hub
# contextforge mcp-proxy; empty for the direct and vmcp rows only), PEERS_CACHE
# (installs, default ~/.cache/vmcp/peers), QUIET_MAX (seconds; 0 = do not wait),
# READY_STARTS (starts per gateway for the time to ready, default 3).
#
# Shapes. Each gateway row is compared with the direct row that reaches the same
# kind of backend, without a gateway:
#   direct-http   client ─HTTP→ mock (streamable HTTP)
#   direct-stdio  client ─stdio→ mock (one mock per session)
#   direct-sse    client ─stdio→ bridge ─legacy SSE→ mock. mcp-hub serves only the
#                 legacy HTTP+SSE transport, which `vmcp bench` does not speak; the
#                 bridge is `vmcp start --stdio` with the SSE server as its one backend
#                 (one bridge process, so one SSE session, per bench session).
#   vmcp-http, contextforge, mcp-proxy-http      HTTP client → gateway → HTTP mock  (vs direct-http)
#   vmcp-stdio, supergateway, mcp-proxy-stdio    HTTP client → gateway → stdio mock (vs direct-stdio)
#   vmcp-sse, mcp-hub                            bridge → gateway's SSE front → stdio mock (vs direct-sse)
# All HTTP-backed rows share one mock process. A gateway with a stdio backend starts
# its own mock; supergateway (stateful mode) starts one per client session.
#
# Idle RSS: VmRSS summed over the gateway's process tree after it is ready and before
# any load, not counting the stdio mocks it started. Time to ready: from the spawn
# until its endpoint answers an MCP initialize (ContextForge: a restart on its
# migrated database; its first start, which creates the database, is printed apart).
#
# Everything listens on 127.0.0.1 and talks to 127.0.0.1 only; every process started
# here is stopped at the end, and each bench run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION="${DURATION:-5s}"
REPEATS="${REPEATS:-3}"
SESSIONS="${SESSIONS:-1 16}"
PEERS="${PEERS-supergateway mcp-hub contextforge mcp-proxy}"  # set but empty: vmcp only
CACHE="${PEERS_CACHE:-$HOME/.cache/vmcp/peers}"
QUIET_MAX="${QUIET_MAX:-0}"

# Pinned versions. The npm ones live in benches/peers/package.json.
CONTEXTFORGE_VERSION=1.0.7
MCP_PROXY_VERSION=0.6.0
HERE="$PWD/benches/peers"
PROBE=(python3 "$HERE/probe.py")

source benches/lib.sh

# Each peer runs in a process group of its own (setsid) so that its children (stdio
# mocks, workers) are stopped with it; lib.sh's cleanup then stops the rest.
GROUPS_STARTED=()
peers_cleanup() {
  for g in "${GROUPS_STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  cleanup
}
trap peers_cleanup EXIT

note() { echo "peers: $*" >&2; }
NOTES=()

# The peers get proxy variables that point at a closed loopback port, so that anything
# they try to fetch from outside fails here instead of leaving the machine.
PEER_ENV=(HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9
  https_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost)

wanted() { [[ " $PEERS " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------
# Installs, each into its own directory under $CACHE with a marker file, so a second
# run installs nothing. A failed install skips that peer, not the run.

install_npm() {
  local dir="$CACHE/npm" sum
  sum="$(sha256sum "$HERE/package.json" | cut -c1-16)"
  [[ -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$sum" ]] && return 0
  note "installing the npm peers (benches/peers/package.json) into $dir"
  mkdir -p "$dir"
  cp "$HERE/package.json" "$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --omit=dev --loglevel=error >&2) || return 1
  echo "$sum" >"$dir/.installed"
}

# ContextForge asks for Python >= 3.11 in its metadata; its documentation says 3.12.
# Debian 12 has no 3.12, so look for one installed beside it (pyenv), else use 3.11.
find_python() {
  local c
  for c in python3.12 "$(pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
      "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 python3.11 python3; do
    if "$c" -c 'import sys; assert (3, 11) <= sys.version_info[:2] < (3, 14)' 2>/dev/null; then
      command -v "$c" 2>/dev/null || echo "$c"
      return 0
    fi
  done
  return 1
}

install_contextforge() {
  local py ver
  py="$(find_python)" || { note "no Python 3.11-3.13 found"; return 1; }
  ver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  [[ $ver == 3.12 ]] || NOTES+=("ContextForge ran on Python $ver: no 3.12 was found on this machine")
  CF_DIR="$CACHE/contextforge-$CONTEXTFORGE_VERSION-py$ver"
  [[ -f "$CF_DIR/.installed" ]] && return 0
  note "installing mcp-contextforge-gateway==$CONTEXTFORGE_VERSION with $py into $CF_DIR"
  rm -rf "$CF_DIR"
  "$py" -m venv "$CF_DIR" || return 1
  "$CF_DIR/bin/pip" install --quiet --disable-pip-version-check \
    -c "$HERE/contextforge-constraints.txt" "mcp-contextforge-gateway==$CONTEXTFORGE_VERSION" >&2 || return 1
  touch "$CF_DIR/.installed"
}

# The crate is built by `cargo install` from crates.io: on 2 cores, about 20 minutes
# the first time. Default features off (OpenTelemetry, OAuth, OpenAPI docs, …): none
# of them is used here, and the core proxy is the same.
install_mcp_proxy() {
  MP_DIR="$CACHE/mcp-proxy-$MCP_PROXY_VERSION"
  [[ -x "$MP_DIR/bin/mcp-proxy" && -f "$MP_DIR/.installed" ]] && return 0
  note "building mcp-proxy $MCP_PROXY_VERSION with cargo install into $MP_DIR (slow the first time)"
  CARGO_TARGET_DIR="$MP_DIR/target" cargo install --quiet --locked --no-default-features \
    --root "$MP_DIR" "mcp-proxy@$MCP_PROXY_VERSION" >&2 || return 1
  rm -rf "$MP_DIR/target"
  touch "$MP_DIR/.installed"
}

ACTIVE=()
if wanted supergateway || wanted mcp-hub; then
  if install_npm; then
    for p in supergateway mcp-hub; do wanted "$p" && ACTIVE+=("$p"); done
  else
    NOTES+=("supergateway, mcp-hub: skipped, npm install failed")
  fi
fi
if wanted contextforge; then
  if install_contextforge; then ACTIVE+=(contextforge); else NOTES+=("contextforge: skipped, install failed"); fi
fi
if wanted mcp-proxy; then
  if install_mcp_proxy; then ACTIVE+=(mcp-proxy); else NOTES+=("mcp-proxy: skipped, cargo install failed"); fi
fi
active() { [[ " ${ACTIVE[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------------------------
# Optionally wait for the machine to go quiet: other builds on these 2 cores would
# otherwise be measured along with the gateways.
QUIET_NOTE=""
if (( QUIET_MAX > 0 )); then
  start=$SECONDS last_busy=$SECONDS
  while (( SECONDS - last_busy < 60 )); do
    if (( SECONDS - start >= QUIET_MAX )); then
      QUIET_NOTE="the machine did not go 60 s without rustc/cargo within ${QUIET_MAX}s; measured anyway"
      break
    fi
    pgrep -x rustc >/dev/null || pgrep -x cargo >/dev/null && last_busy=$SECONDS
    sleep 2
  done
  [[ -n $QUIET_NOTE ]] || QUIET_NOTE="started after 60 s without rustc/cargo (waited $((SECONDS - start))s)"
  note "$QUIET_NOTE"
fi

# ---------------------------------------------------------------------------------
# Starting things.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_once NAME URL PROBE_FLAGS LOG CMD...: starts CMD in a process group of its
# own, sets GW_PID[NAME], and sets LAST_MS once URL answers an initialize. The probe
# is running (and past its interpreter's start-up) before the spawn.
declare -A READY_MS GW_PID RSS_KIB
start_once() {
  local name="$1" url="$2" flags="$3" log="$4"; shift 4
  local out="$WORK/ready.$name" t0 t1 rp
  rm -f "$out"
  # shellcheck disable=SC2086 # flags is empty or --sse
  "${PROBE[@]}" ready "$url" $flags --timeout 300 >"$out" &
  rp=$!
  until grep -q armed "$out" 2>/dev/null; do sleep 0.01; done
  t0="$(date +%s.%N)"
  setsid "$@" >"$log" 2>&1 &
  GW_PID[$name]=$!
  PIDS+=("$!"); GROUPS_STARTED+=("$!")
  if ! wait "$rp"; then
    note "$name did not answer an initialize at $url; the end of its log:"
    tail -n 20 "$log" >&2
    return 1
  fi
  t1="$(tail -n 1 "$out")"
  LAST_MS="$(python3 -c "print(round(($t1 - $t0) * 1000))")"
}

# timed_start NAME URL PROBE_FLAGS LOG CMD...: time to ready is the median of
# READY_STARTS starts (one start is at the mercy of whatever else the 2 cores are
# doing); all but the last are stopped again, the last one is measured.
READY_STARTS="${READY_STARTS:-3}"
timed_start() {
  local name="$1" times=() i
  for i in $(seq 1 "$READY_STARTS"); do
    start_once "$@" || return 1
    times+=("$LAST_MS")
    (( i == READY_STARTS )) || stop_group "${GW_PID[$name]}"
  done
  READY_MS[$name]="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (READY_STARTS + 1) / 2 ))p")"
}

stop_group() {
  kill -TERM -- "-$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

idle_rss() {
  RSS_KIB[$1]="$("${PROBE[@]}" rss "${GW_PID[$1]}" --not-exe "$VMCP")"
}

# Rows: the order they run in, what `vmcp bench` is pointed at, the echo tool's name
# there, and the direct row they are compared with.
ROWS=()
declare -A TARGET TOOL BASE PATHOF
add_row() { # NAME BASELINE PATH TARGET...
  local name="$1" base="$2" path="$3"; shift 3
  local tool argv=() a
  if [[ $1 == --url ]]; then
    tool="$("${PROBE[@]}" tool "$2")" || { NOTES+=("$name: no echo tool found, row left out"); return 0; }
  else
    # --command CMD --arg A --arg B … back into CMD A B …
    argv=("$2")
    for a in "${@:3}"; do [[ $a == --arg ]] || argv+=("$a"); done
    tool="$("${PROBE[@]}" tool --stdio "${argv[@]}")" || { NOTES+=("$name: no echo tool found, row left out"); return 0; }
  fi
  ROWS+=("$name"); BASE[$name]="$base"; PATHOF[$name]="$path"; TOOL[$name]="$tool"
  TARGET[$name]="$*"
}
# stdio targets as `vmcp bench` arguments: --command CMD --arg A --arg B …
stdio_target() {
  local out=(--command "$1"); shift
  for a in "$@"; do out+=(--arg "$a"); done
  echo "${out[*]}"
}

MOCK=("$VMCP" mock --log-level warn)

# The one HTTP backend.
listen "$WORK/mock.log" "${MOCK[@]}" --listen 127.0.0.1:0 --name direct
MOCK_URL="$URL"

# Bridges for the legacy-SSE shape: `vmcp start --stdio`, one SSE backend named peer.
bridge_config() { # FILE SSE_URL
  cat >"$1" <<TOML
[gateway]
state_dir = "$1.state"
health_interval = "0s"
[servers.peer]
transport = "sse"
url = "$2"
TOML
}
bridge() { stdio_target "$VMCP" start --stdio --log-level warn --config "$1"; }

# Direct rows (no gateway).
add_row direct-http direct-http "HTTP → mock(HTTP)" --url "$MOCK_URL/mcp"
# shellcheck disable=SC2046 # the target is a list of words without spaces
add_row direct-stdio direct-stdio "stdio → mock(stdio)" $(stdio_target "${MOCK[@]}")
bridge_config "$WORK/bridge-direct.toml" "$MOCK_URL/sse"
# shellcheck disable=SC2046
add_row direct-sse direct-sse "stdio → bridge → mock(SSE)" $(bridge "$WORK/bridge-direct.toml")

# vmcp, built from this checkout, in each shape.
port="$(free_port)"
via_http_config "$WORK/vmcp-http.toml" "$MOCK_URL"
sed -i "s/^listen = .*/listen = \"127.0.0.1:$port\"/" "$WORK/vmcp-http.toml"
timed_start vmcp-http "http://127.0.0.1:$port/mcp" "" "$WORK/vmcp-http.log" \
  "$VMCP" start --config "$WORK/vmcp-http.toml" --log-level warn
idle_rss vmcp-http
add_row vmcp-http direct-http "HTTP → vmcp → mock(HTTP)" --url "http://127.0.0.1:$port/mcp"

port="$(free_port)"
cat >"$WORK/vmcp-stdio.toml" <<TOML
[gateway]
listen = "127.0.0.1:$port"
state_dir = "$WORK/vmcp-stdio.state"
health_interval = "0s"
[servers.mock]
command = "$VMCP"
args = ["mock", "--log-level", "warn"]
TOML
timed_start vmcp-stdio "http://127.0.0.1:$port/mcp" "" "$WORK/vmcp-stdio.log" \
  "$VMCP" start --config "$WORK/vmcp-stdio.toml" --log-level warn
idle_rss vmcp-stdio
add_row vmcp-stdio direct-stdio "HTTP → vmcp → mock(stdio)" --url "http://127.0.0.1:$port/mcp"
# The same gateway's legacy SSE front (/sse).
READY_MS[vmcp-sse]="${READY_MS[vmcp-stdio]}"; RSS_KIB[vmcp-sse]="${RSS_KIB[vmcp-stdio]}"
bridge_config "$WORK/bridge-vmcp.toml" "http://127.0.0.1:$port/sse"
# shellcheck disable=SC2046
add_row vmcp-sse direct-sse "stdio → bridge → vmcp(SSE) → mock(stdio)" $(bridge "$WORK/bridge-vmcp.toml")

NODE_PEER_ENV=("${PEER_ENV[@]}" NODE_OPTIONS="--require $HERE/loopback.cjs")

if active supergateway; then
  # Stateful: one stdio mock per client session, kept for the session. (Stateless,
  # its default, starts a new mock for every POST.) Logging off, as for the others.
  port="$(free_port)"
  if timed_start supergateway "http://127.0.0.1:$port/mcp" "" "$WORK/supergateway.log" \
      env "${NODE_PEER_ENV[@]}" "$CACHE/npm/node_modules/.bin/supergateway" \
      --stdio "$VMCP mock --log-level warn" --outputTransport streamableHttp --stateful \
      --port "$port" --logLevel none; then
    idle_rss supergateway
    add_row supergateway direct-stdio "HTTP → supergateway → mock(stdio) per session" --url "http://127.0.0.1:$port/mcp"
  else
    NOTES+=("supergateway: did not start, row left out")
  fi
fi

if active mcp-hub; then
  # mcp-hub fetches a marketplace catalog at start unless a fresh cached copy exists:
  # give it one (a placeholder entry), and a home of its own for its state and logs.
  hub_home="$WORK/mcp-hub-home"
  mkdir -p "$hub_home/data/mcp-hub/cache"
  python3 -c 'import json,sys,time; json.dump({"registry": {"version": "placeholder", "servers": [{"id": "placeholder", "name": "placeholder"}]}, "lastFetchedAt": int(time.time()*1000), "serverDocumentation": {}}, open(sys.argv[1], "w"))' \
    "$hub_home/data/mcp-hub/cache/registry.json"
  python3 -c 'import json,sys; json.dump({"mcpServers": {"mock": {"command": sys.argv[2], "args": ["mock", "--log-level", "warn"]}}}, open(sys.argv[1], "w"))' \
    "$WORK/mcp-hub.json" "$VMCP"
  port="$(free_port)"
  if timed_start mcp-hub "http://127.0.0.1:$port/mcp" --sse "$WORK/mcp-hub.log" \
      env "${NODE_PEER_ENV[@]}" HOME="$hub_home" XDG_DATA_HOME="$hub_home/data" \
      XDG_STATE_HOME="$hub_home/state" XDG_CONFIG_HOME="$hub_home/config" \
      "$CACHE/npm/node_modules/.bin/mcp-hub" --port "$port" --config "$WORK/mcp-hub.json"; then
    idle_rss mcp-hub
    bridge_config "$WORK/bridge-hub.toml" "http://127.0.0.1:$port/mcp"
    # shellcheck disable=SC2046
    add_row mcp-hub direct-sse "stdio → bridge → mcp-hub(SSE) → mock(stdio)" $(bridge "$WORK/bridge-hub.toml")
  else
    NOTES+=("mcp-hub: did not start, row left out")
  fi
fi

if active contextforge; then
  # One uvicorn worker (its `mcpgateway` command's default), SQLite in the work dir.
  # Auth off (AUTH_REQUIRED=false; ALLOW_UNAUTHENTICATED_ADMIN lets the run register
  # the backend), rate limiting off, admin UI off, loopback allowed as a backend
  # (SSRF_ALLOW_LOCALHOST), logging at ERROR. USE_STATEFUL_SESSIONS=true: with its
  # default (stateless) it opens a new backend session, initialize included, for
  # every tool call; stateful keeps one per client session, as the others do.
  port="$(free_port)"
  CF_ENV=("${PEER_ENV[@]}" HOME="$WORK/contextforge-home" HOST=127.0.0.1 PORT="$port"
    DATABASE_URL="sqlite:///$WORK/contextforge.db"
    JWT_SECRET_KEY=peers-bench-only-jwt-secret-0123456789 AUTH_ENCRYPTION_SECRET=peers-bench-only-enc-secret-0123456789
    AUTH_REQUIRED=false ALLOW_UNAUTHENTICATED_ADMIN=true MCPGATEWAY_UI_ENABLED=false
    MCPGATEWAY_ADMIN_API_ENABLED=false RATE_LIMITING_ENABLED=false SSRF_ALLOW_LOCALHOST=true
    USE_STATEFUL_SESSIONS=true LOG_LEVEL=ERROR)
  mkdir -p "$WORK/contextforge-home"
  cf_cmd=(env -i PATH="$PATH" "${CF_ENV[@]}" "$CF_DIR/bin/mcpgateway" --host 127.0.0.1 --port "$port")
  cf_url="http://127.0.0.1:$port"
  if start_once contextforge "$cf_url/mcp" "" "$WORK/contextforge-first.log" "${cf_cmd[@]}" &&
      curl -fsS -m 60 -X POST "$cf_url/gateways" -H 'Content-Type: application/json' \
        -d "{\"name\":\"mock\",\"url\":\"$MOCK_URL/mcp\",\"transport\":\"STREAMABLEHTTP\"}" >"$WORK/contextforge-register.json"; then
    NOTES+=("contextforge: its first start, which creates its database, took $LAST_MS ms to ready; the table has restarts")
    stop_group "${GW_PID[contextforge]}"
    if timed_start contextforge "$cf_url/mcp" "" "$WORK/contextforge.log" "${cf_cmd[@]}"; then
      idle_rss contextforge
      add_row contextforge direct-http "HTTP → ContextForge → mock(HTTP)" --url "$cf_url/mcp"
    else
      NOTES+=("contextforge: did not restart, row left out")
    fi
  else
    NOTES+=("contextforge: did not start or register the backend, row left out")
  fi
fi

if active mcp-proxy; then
  mcp_proxy_config() { # FILE PORT BACKEND-LINES...
    local file="$1" port="$2"; shift 2
    {
      printf '[proxy]\nname = "peers-bench"\n[proxy.listen]\nhost = "127.0.0.1"\nport = %s\n' "$port"
      printf '[observability]\nlog_level = "warn"\n[[backends]]\nname = "mock"\n'
      printf '%s\n' "$@"
    } >"$file"
  }
  port="$(free_port)"
  mcp_proxy_config "$WORK/mcp-proxy-http.toml" "$port" 'transport = "http"' "url = \"$MOCK_URL/mcp\""
  if timed_start mcp-proxy-http "http://127.0.0.1:$port/" "" "$WORK/mcp-proxy-http.log" \
      env "${PEER_ENV[@]}" "$MP_DIR/bin/mcp-proxy" --config "$WORK/mcp-proxy-http.toml"; then
    idle_rss mcp-proxy-http
    add_row mcp-proxy-http direct-http "HTTP → mcp-proxy → mock(HTTP)" --url "http://127.0.0.1:$port/"
  else
    NOTES+=("mcp-proxy-http: did not start, row left out")
  fi
  port="$(free_port)"
  mcp_proxy_config "$WORK/mcp-proxy-stdio.toml" "$port" 'transport = "stdio"' "command = \"$VMCP\"" \
    'args = ["mock", "--log-level", "warn"]'
  if timed_start mcp-proxy-stdio "http://127.0.0.1:$port/" "" "$WORK/mcp-proxy-stdio.log" \
      env "${PEER_ENV[@]}" "$MP_DIR/bin/mcp-proxy" --config "$WORK/mcp-proxy-stdio.toml"; then
    idle_rss mcp-proxy-stdio
    add_row mcp-proxy-stdio direct-stdio "HTTP → mcp-proxy → mock(stdio)" --url "http://127.0.0.1:$port/"
  else
    NOTES+=("mcp-proxy-stdio: did not start, row left out")
  fi
fi

# ---------------------------------------------------------------------------------
# The measurement: for each session count, REPEATS rounds of every row in turn.
# A background sampler notes whether a compiler ran meanwhile.
(
  busy=0 all=0
  while sleep 2; do
    all=$((all + 1))
    pgrep -x rustc >/dev/null && busy=$((busy + 1))
    echo "$busy $all" >"$WORK/rustc-samples"
  done
) &
PIDS+=("$!")

secs="${DURATION%s}"; secs="${secs%.*}"
BOUND=$(( ${secs:-5} + 120 ))
RESULTS="$WORK/results"
: >"$RESULTS"
for n in $SESSIONS; do
  for r in $(seq 1 "$REPEATS"); do
    for row in "${ROWS[@]}"; do
      read -ra target <<<"${TARGET[$row]}"
      note "sessions $n, round $r/$REPEATS: $row"
      if timeout "$BOUND" "$VMCP" bench "${target[@]}" --sessions "$n" --tool "${TOOL[$row]}" \
          --args '{"text":"x"}' --duration "$DURATION" --warmup 1s --timeout 10s --json \
          >"$WORK/run.json" 2>"$WORK/run.err"; then
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); l=d["latency_us"] or {}
print(sys.argv[2], sys.argv[3], d["calls_per_s"], l.get("p50", "nan"), l.get("p99", "nan"), d["errors"])' \
          "$WORK/run.json" "$row" "$n" >>"$RESULTS"
      else
        note "$row at $n sessions failed: $(tail -n 3 "$WORK/run.err" | tr '\n' ' ')"
        echo "$row $n nan nan nan fail" >>"$RESULTS"
      fi
    done
  done
done

# ---------------------------------------------------------------------------------
# The table.
{
  for row in "${ROWS[@]}"; do
    printf '%s\t%s\t%s\t%s\t%s\n' "$row" "${BASE[$row]}" "${PATHOF[$row]}" "${RSS_KIB[$row]:--}" "${READY_MS[$row]:--}"
  done
} >"$WORK/rows"
versions="vmcp $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
for p in supergateway mcp-hub; do
  active "$p" && versions+=", $p $(node -p "require('$CACHE/npm/node_modules/$p/package.json').version")"
done
active contextforge && versions+=", mcp-contextforge-gateway $CONTEXTFORGE_VERSION (Python $("$CF_DIR/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])'))"
active mcp-proxy && versions+=", mcp-proxy $MCP_PROXY_VERSION"
read -r busy all <"$WORK/rustc-samples" 2>/dev/null || { busy=0; all=0; }

python3 - "$WORK/rows" "$RESULTS" <<PY
import statistics as st, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
res = {}
for l in open(sys.argv[2]):
    row, n, c, p50, p99, err = l.split()
    res.setdefault((row, int(n)), []).append((float(c), float(p50), float(p99), err))
def med(xs):
    xs = [x for x in xs if x == x]
    return st.median(xs) if xs else float("nan")
sessions = sorted({n for _, n in res})
print(f"{'row':<16} {'path (client → … → backend)':<46} {'sess':>4} {'calls/s':>9} {'ratio':>6} {'p50':>9} {'p99':>9} {'errors':>6} | {'idle RSS':>9} {'ready':>8}")
for n in sessions:
    for name, base, path, rss, ready in rows:
        runs = res.get((name, n), [])
        if not runs:
            continue
        c, p50, p99 = (med([r[i] for r in runs]) for i in range(3))
        errs = "fail" if any(r[3] == "fail" for r in runs) else str(sum(int(r[3]) for r in runs))
        b = med([r[0] for r in res.get((base, n), [])])
        ratio = "     -" if not (b == b and b) else f"{c / b:6.2f}" if c / b >= 0.1 else f"{c / b:6.3f}"
        rss_s = f"{int(rss) / 1024:6.1f} MiB" if rss != "-" else "        -"
        ready_s = f"{int(ready):5d} ms" if ready != "-" else "       -"
        ms = lambda us: f"{us / 1000:7.2f}ms" if us == us else "      -  "
        print(f"{name:<16} {path:<46} {n:>4} {c:9.0f} {ratio} {ms(p50)} {ms(p99)} {errs:>6} | {rss_s} {ready_s}")
print(f"(medians of $REPEATS interleaved rounds of $DURATION per row and session count; ratio = calls/s over the direct row of the same shape)")
PY
echo "versions: $versions"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); rustc was running in $busy of $all two-second samples during the measurement"
[[ -z $QUIET_NOTE ]] || echo "quiet: $QUIET_NOTE"
for n in "${NOTES[@]}"; do echo "note: $n"; done

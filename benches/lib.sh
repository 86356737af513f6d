# Shared by the benchmark scripts (sourced, not run): a release build, a work
# directory, and background processes that are all stopped on exit.
#
# Sets VMCP (the release binary, unless VMCP is set already) and WORK; provides `listen LOG CMD...`, which
# starts CMD in the background and sets PID and URL from its
# "listening on http://ADDR/mcp" line, and `via_http_config FILE URL [LINE...]`.

# VMCP=/path/to/vmcp measures that build instead (another commit's, say).
if [[ -z "${VMCP:-}" ]]; then
  TARGET_DIR="${CARGO_TARGET_DIR:-target}"
  cargo build --release --quiet
  VMCP="$(realpath "$TARGET_DIR/release/vmcp")"
fi
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Writes FILE: a gateway config with one server, `mock`, at the streamable HTTP
# URL given, state in a directory of its own; extra [gateway] lines may follow.
via_http_config() {
  local file="$1" url="$2"; shift 2
  {
    echo "[gateway]"
    echo "listen = \"127.0.0.1:0\""
    echo "state_dir = \"$file.state\""
    echo "health_interval = \"0s\""
    printf '%s\n' "$@"
    echo "[servers.mock]"
    echo "transport = \"http\""
    echo "url = \"$url/mcp\""
  } >"$file"
}

# The pid is kept for the cleanup (not started in a subshell).
listen() {
  local log="$1"; shift
  "$@" >/dev/null 2>"$log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    # The whole address: a line read while it is being written may end early.
    if grep -qE "listening on http://[0-9.]+:[0-9]+/" "$log"; then
      URL="$(grep -oE "http://[0-9.]+:[0-9]+" "$log" | head -1)"
      return
    fi
    sleep 0.05
  done
  echo "no listening line in $log" >&2
  cat "$log" >&2
  exit 1
}

# Sets BACKEND_HTTP (a command that serves MCP over HTTP on a free port and
# says "listening on http://ADDR/mcp"), BACKEND_STDIO (the command and its
# arguments as a TOML array's items for a stdio server) and BACKEND_STDIO_BENCH
# (the same as `vmcp bench` arguments), for `vmcp mock` or, with "rmcp", the
# echo server written with the official Rust SDK (examples/rmcp_echo.rs).
backend_commands() {
  case "$1" in
    mock)
      BACKEND_HTTP=("$VMCP" mock --listen 127.0.0.1:0 --name direct)
      BACKEND_STDIO_CMD="$VMCP"; BACKEND_STDIO_ARGS='["mock"]'
      BACKEND_STDIO_BENCH=(--command "$VMCP" --arg mock)
      ;;
    rmcp)
      if [[ -z "${RMCP_ECHO:-}" ]]; then
        cargo build --release --quiet --example rmcp_echo
        RMCP_ECHO="$(realpath "${CARGO_TARGET_DIR:-target}/release/examples/rmcp_echo")"
      fi
      BACKEND_HTTP=("$RMCP_ECHO" --listen 127.0.0.1:0)
      BACKEND_STDIO_CMD="$RMCP_ECHO"; BACKEND_STDIO_ARGS='[]'
      BACKEND_STDIO_BENCH=(--command "$RMCP_ECHO")
      ;;
    *) echo "BACKEND must be mock or rmcp, not $1" >&2; exit 2 ;;
  esac
}

# Writes FILE: a gateway config with one stdio server, `mock`, the backend
# chosen by `backend_commands`, state in DIR. With RECORD, each backend process
# appends its pid to that file first (through sh, which then execs it).
stdio_config() {
  local command="\"$BACKEND_STDIO_CMD\"" args="$BACKEND_STDIO_ARGS"
  if [[ -n "${3:-}" ]]; then
    local rest="${BACKEND_STDIO_ARGS#[}"
    [[ $rest == "]" ]] || rest=", $rest"
    command='"sh"'
    args="[\"-c\", 'echo \$\$ >>\"\$0\"; exec \"\$@\"', \"$3\", \"$BACKEND_STDIO_CMD\"$rest"
  fi
  cat >"$1" <<TOML
[gateway]
state_dir = "$2"
health_interval = "0s"
[servers.mock]
command = $command
args = $args
TOML
}

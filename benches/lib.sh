# Shared by the benchmark scripts (sourced, not run): a release build, a work
# directory, and background processes that are all stopped on exit.
#
# Sets VMCP (the release binary) and WORK; provides `listen LOG CMD...`, which
# starts CMD in the background and sets PID and URL from its
# "listening on http://ADDR/mcp" line.

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet
VMCP="$(realpath "$TARGET_DIR/release/vmcp")"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The pid is kept for the cleanup (not started in a subshell).
listen() {
  local log="$1"; shift
  "$@" >/dev/null 2>"$log" &
  PID=$!
  PIDS+=("$PID")
  for _ in $(seq 1 600); do
    if grep -q "listening on http://" "$log"; then
      URL="$(grep -o "http://[0-9.:]*" "$log" | head -1)"
      return
    fi
    sleep 0.05
  done
  echo "no listening line in $log" >&2
  cat "$log" >&2
  exit 1
}

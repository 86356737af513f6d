#!/usr/bin/env bash
# Where vmcp's CPU goes: `perf record` samples vmcp (call graphs from DWARF unwinding)
# while `vmcp bench` drives tools/call echo through it to a `vmcp mock` over streamable
# HTTP. Prints the share of samples in the kernel, in libc and in vmcp's own code, then
# the top functions by self time; writes the folded stacks and, with inferno (installed
# at a pinned version into the cache with INSTALL=1), a flame graph SVG.
#
#   bash benches/flame.sh                          # SESSIONS=16 DURATION=5s FREQ=499
#   INSTALL=1 OUT=benches/flame.svg bash benches/flame.sh
#
# vmcp is built for this with line tables (`CARGO_PROFILE_RELEASE_DEBUG=line-tables-only`)
# into its own target directory, so the release build of the other scripts is untouched.
# Needs perf (Debian: linux-perf) and permission to sample (perf_event_paranoid ≤ 1 or root).
# Everything listens on 127.0.0.1 only and is stopped at the end.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SESSIONS="${SESSIONS:-16}"
DURATION="${DURATION:-5s}"
FREQ="${FREQ:-499}"
TOP="${TOP:-25}"
OUT="${OUT:-}"
INFERNO_VERSION=0.12.8
CACHE="${FLAME_CACHE:-$HOME/.cache/vmcp/flame}"
command -v perf >/dev/null || { echo "perf is needed (Debian: apt-get install linux-perf)" >&2; exit 1; }

FLAME_TARGET="${FLAME_TARGET:-target/flame}"
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release --quiet --target-dir "$FLAME_TARGET"
VMCP="$(realpath "$FLAME_TARGET/release/vmcp")"
source benches/lib.sh

if [[ "${INSTALL:-0}" == 1 && ! -x "$CACHE/bin/inferno-flamegraph" ]]; then
  cargo install --quiet --locked --root "$CACHE" --version "$INFERNO_VERSION" inferno
fi
PATH="$CACHE/bin:$PATH"

listen "$WORK/mock.log" "$VMCP" mock --listen 127.0.0.1:0 --name direct
via_http_config "$WORK/via.toml" "$URL"
listen "$WORK/vmcp.log" "$VMCP" start --config "$WORK/via.toml" --log-level warn
VIA_PID="$PID"; VIA_URL="$URL"

# Warm the pool and the caches, then sample vmcp only while the load runs.
timeout 60 "$VMCP" bench --url "$VIA_URL/mcp" --sessions "$SESSIONS" --duration 1s \
  --tool mock__echo --args '{"text":"x"}' >/dev/null
perf record -q -F "$FREQ" -e cpu-clock --call-graph dwarf,16384 -p "$VIA_PID" \
  -o "$WORK/perf.data" 2>"$WORK/perf.err" &
PERF=$!
sleep 0.5 # perf attaches; a short head start, not synchronisation of results
timeout 120 "$VMCP" bench --url "$VIA_URL/mcp" --sessions "$SESSIONS" --duration "$DURATION" \
  --tool mock__echo --args '{"text":"x"}' | tail -3
kill -INT "$PERF"; wait "$PERF" || true

perf script -i "$WORK/perf.data" 2>/dev/null >"$WORK/perf.txt"

# Self samples: the leaf frame of each stack, with the object it belongs to (a
# function inlined into the leaf is named, and takes the object of the frame
# that holds it).
awk '
  /^[^ \t]/ { leaf = ""; sym = ""; next }        # a sample header line
  NF == 0   { if (leaf != "") { n[leaf]++; total++ }; leaf = ""; sym = ""; next }
  leaf == "" {
    obj = $NF; gsub(/[()]/, "", obj); sub(/.*\//, "", obj)
    $1 = ""; $NF = ""; s = $0; sub(/^ +/, "", s); sub(/ +$/, "", s)
    sub(/\+0x[0-9a-f]+$/, "", s)
    if (sym == "") sym = s
    if (obj != "inlined") leaf = obj "\t" sym
  }
  END {
    for (k in n) { split(k, a, "\t"); o = a[1]; f = a[2]
      # libc functions that perf names inside frames of vmcp count as libc.
      libc = (o ~ /^libc/) || (f ~ /^(__GI_|_int_|__libc_|tcache_|malloc|free|cfree|__mem(cpy|move|set)|mem(cpy|move|set))/)
      cls = (o ~ /kernel/) ? "kernel" : libc ? "libc" : (o == "vmcp") ? "vmcp" : "other"
      by[cls] += n[k] }
    printf "samples: %d; kernel %.1f%%, libc %.1f%%, vmcp %.1f%%, other %.1f%%\n", total,
      100*by["kernel"]/total, 100*by["libc"]/total, 100*by["vmcp"]/total, 100*by["other"]/total
    for (k in n) printf "%6.2f%%  %s\n", 100*n[k]/total, k | "sort -rn | head -'"$TOP"'"
  }' "$WORK/perf.txt"

if command -v inferno-collapse-perf >/dev/null; then
  inferno-collapse-perf <"$WORK/perf.txt" >"$WORK/folded.txt"
  if [[ -n "$OUT" ]]; then
    inferno-flamegraph --minwidth 0.2 --title "vmcp: tools/call echo, HTTP -> HTTP, $SESSIONS sessions" \
      <"$WORK/folded.txt" >"$OUT"
    echo "flame graph: $OUT"
  fi
fi

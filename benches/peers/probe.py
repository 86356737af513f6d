#!/usr/bin/env python3
"""Small MCP probes for benches/peers.sh, standard library only.

  probe.py ready URL [--sse] [--timeout S]      time to ready: prints "armed", then polls
      an MCP initialize every 10 ms until one is answered and prints the epoch time
      of that answer (start it, wait for "armed", then spawn the gateway: the
      interpreter's own start-up is not counted).
  probe.py tool URL [--sse]                     prints the name of the echo tool in
  probe.py tool --stdio CMD [ARG...]            tools/list (gateways rename it: mock__echo,
                                                mock/echo, mock-echo, ...)
  probe.py rss PID [--not-exe PATH]             idle RSS in KiB: VmRSS summed over PID and
                                                all its descendants (/proc), leaving out the
                                                descendants running PATH (the stdio mocks)

Transports: streamable HTTP (POST URL; the answer is JSON or an SSE stream), legacy
HTTP+SSE with --sse (GET URL opens the stream, its `endpoint` event names where to
POST), and stdio (newline-delimited JSON-RPC to a child).
"""
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse

INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "vmcp-peers-probe", "version": "1"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


def _conn(url, timeout):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout), u


def _answer(body, ctype, want_id):
    """The JSON-RPC response with id want_id from a JSON or SSE body."""
    if "text/event-stream" in ctype:
        for line in body.splitlines():
            if line.startswith("data:"):
                msg = json.loads(line[5:].strip() or "null")
                if isinstance(msg, dict) and msg.get("id") == want_id:
                    return msg
        return None
    msg = json.loads(body)
    if isinstance(msg, list):
        msg = next((m for m in msg if m.get("id") == want_id), None)
    return msg


class StreamableHttp:
    def __init__(self, url, timeout=5.0):
        self.url, self.timeout, self.session = url, timeout, None

    def post(self, msg):
        conn, u = _conn(self.url, self.timeout)
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": "2025-06-18",
        }
        if self.session:
            headers["Mcp-Session-Id"] = self.session
        conn.request("POST", u.path or "/", json.dumps(msg), headers)
        r = conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        conn.close()
        if r.getheader("mcp-session-id"):
            self.session = r.getheader("mcp-session-id")
        if "id" not in msg:
            return None
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}: {body[:200]}")
        return _answer(body, r.getheader("content-type") or "", msg["id"])

    def close(self):
        pass


class LegacySse:
    """GET URL keeps the stream; messages go by POST to the `endpoint` event's URL."""

    def __init__(self, url, timeout=5.0):
        self.conn, u = _conn(url, timeout)
        self.conn.request("GET", u.path or "/", headers={"Accept": "text/event-stream"})
        self.stream = self.conn.getresponse()
        if self.stream.status != 200:
            raise RuntimeError(f"HTTP {self.stream.status}")
        event, data = self._event()
        if event != "endpoint":
            raise RuntimeError(f"first event {event!r}, not endpoint")
        self.post_url = urllib.parse.urljoin(url, data)

    def _event(self):
        event, data = "message", []
        while True:
            line = self.stream.readline()
            if not line:
                raise RuntimeError("stream ended")
            line = line.decode().rstrip("\r\n")
            if not line:
                if data:
                    return event, "\n".join(data)
                continue
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())

    def post(self, msg):
        conn, u = _conn(self.post_url, 5.0)
        path = u.path + ("?" + u.query if u.query else "")
        conn.request("POST", path, json.dumps(msg), {"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        conn.close()
        if r.status >= 300:
            raise RuntimeError(f"HTTP {r.status}")
        if "id" not in msg:
            return None
        while True:
            _, data = self._event()
            m = json.loads(data)
            if isinstance(m, dict) and m.get("id") == msg["id"]:
                return m

    def close(self):
        self.conn.close()


class Stdio:
    def __init__(self, argv):
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)

    def post(self, msg):
        self.p.stdin.write(json.dumps(msg) + "\n")
        self.p.stdin.flush()
        if "id" not in msg:
            return None
        while True:
            line = self.p.stdout.readline()
            if not line:
                raise RuntimeError("child closed its stdout")
            m = json.loads(line)
            if isinstance(m, dict) and m.get("id") == msg["id"]:
                return m

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def initialize(client):
    r = client.post(INIT)
    if not r or "result" not in r:
        raise RuntimeError(f"initialize: {r}")
    client.post(INITIALIZED)
    return r


def ready(url, sse, timeout):
    print("armed", flush=True)
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            c = LegacySse(url, 2.0) if sse else StreamableHttp(url, 2.0)
            initialize(c)
            c.close()
            print(f"{time.time():.4f}")
            return 0
        except (OSError, RuntimeError, ValueError, http.client.HTTPException) as e:
            last = e
            time.sleep(0.01)
    print(f"not ready after {timeout}s: {last}", file=sys.stderr)
    return 1


def tool(client):
    initialize(client)
    names = [t["name"] for t in client.post(LIST)["result"]["tools"]]
    client.close()
    # The mock's tool is `echo`; a gateway prefixes its server's name.
    for n in names:
        if n == "echo" or (n.endswith("echo") and not n[-5].isalnum()):
            print(n)
            return 0
    print(f"no echo tool in {names}", file=sys.stderr)
    return 1


def rss(pid, not_exe=None):
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        if p != pid and not_exe:
            try:
                if os.path.realpath(f"/proc/{p}/exe") == os.path.realpath(not_exe):
                    continue
            except OSError:
                pass
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    print(total)
    return 0


def main(argv):
    cmd, rest = argv[1], argv[2:]
    sse = "--sse" in rest
    rest = [a for a in rest if a != "--sse"]
    if cmd == "ready":
        timeout = 300.0
        if "--timeout" in rest:
            i = rest.index("--timeout")
            timeout = float(rest[i + 1])
            del rest[i:i + 2]
        return ready(rest[0], sse, timeout)
    if cmd == "tool":
        if rest[0] == "--stdio":
            return tool(Stdio(rest[1:]))
        return tool(LegacySse(rest[0]) if sse else StreamableHttp(rest[0]))
    if cmd == "rss":
        not_exe = rest[rest.index("--not-exe") + 1] if "--not-exe" in rest else None
        return rss(int(rest[0]), not_exe)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

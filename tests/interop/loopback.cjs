// Preload for @modelcontextprotocol/server-everything's HTTP modes (sse, streamableHttp).
//
// The server calls `app.listen(PORT)` with no host, i.e. on every interface.
// Loaded with `node --require /abs/or/./relative/loopback.cjs dist/index.js streamableHttp`
// (or NODE_OPTIONS="--require .../loopback.cjs"), this forces every listening
// TCP server in the process onto 127.0.0.1 and, once listening, prints
//     VMCP_TEST_LISTENING port=<port>
// to stderr, so PORT=0 (ephemeral port) can be used without racing for a port.
"use strict";
const net = require("net");

const origListen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "object" && first !== null && !Array.isArray(first)) {
    if (first.path === undefined) {
      args[0] = { ...first, host: "127.0.0.1" };
    }
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]) -> force host
    if (typeof args[1] === "string") {
      args[1] = "127.0.0.1";
    } else {
      args.splice(1, 0, "127.0.0.1");
    }
  }
  this.once("listening", () => {
    const addr = this.address();
    if (addr && typeof addr === "object") {
      process.stderr.write(`VMCP_TEST_LISTENING port=${addr.port} host=${addr.address}\n`);
    }
  });
  return origListen.apply(this, args);
};

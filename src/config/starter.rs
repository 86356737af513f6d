//! The starter configuration that `vmcp config init` writes.
//!
//! It must parse as is (a test makes sure), run as is (its two servers are
//! the built-in `vmcp mock`), and teach the format: every `[gateway]` key is
//! there, commented out, with its default, and the commented examples are
//! valid once uncommented (a test checks these too).
//!
//! The `[gateway]` lines come from the table's declaration (`gateway.rs`,
//! each key's `starter` example and comment), so a new key is in the starter
//! without being written here. They are put together at compile time, by the
//! `const fn`s below, so [`STARTER`] stays a plain `&'static str`.

use super::gateway::GATEWAY_STARTER;
use super::table::StarterLine;

/// Before the `[gateway]` lines.
const HEAD: &str = r#"# vmcp configuration: one MCP endpoint in front of many MCP servers.
# Check it with `vmcp config validate`; start with `vmcp start`.
# Any string may use ${VAR} (an error when VAR is unset), ${VAR:-default},
# and $${ for a literal ${.

[gateway]
# Every key below shows its default; uncomment to change it.
"#;

/// After the `[gateway]` lines.
const TAIL: &str = r#"
# Each [servers.<id>] table is one MCP server. The id (a lowercase letter, then up
# to 31 lowercase letters, digits or "-") prefixes its tools: "alpha__echo".
# These two run vmcp's built-in test server, so this file works as it is (with
# vmcp on your PATH); replace them with your own servers.

[servers.alpha]
command = "vmcp"
args = ["mock"]                      # `vmcp mock --help` lists its options
description = "built-in mock MCP server"

[servers.beta]
command = "vmcp"
args = ["mock"]
description = "a second mock, to see how names from two servers combine"
required = false                     # /readyz waits only for required servers

# A real stdio server: vmcp starts `command` and speaks MCP on its stdin/stdout.
# [servers.time]
# transport = "stdio"                # the default
# command = "uvx"
# args = ["mcp-server-time"]
# env = { TZ = "${TZ:-UTC}" }
# cwd = "~"
# request_timeout = "30s"            # overrides [gateway] request_timeout
# enabled = true
# required = true

# Remote servers use transport = "http" (streamable HTTP), "sse" (the legacy
# HTTP+SSE transport) or "websocket", with a url instead of a command; headers
# carry the server's own credentials (a client's are never forwarded):
# [servers.search]
# transport = "http"
# url = "https://search.internal/mcp"
# headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }

# A server group: several processes of one stdio server (replicas), each
# request going to one of them, retried on another when it is safe to repeat.
# [servers.fetch]
# command = "uvx"
# args = ["mcp-server-fetch"]
# replicas = 3
# balance = "least_connections"      # round_robin | random | least_connections | weighted_round_robin | weighted_random | adaptive | consistent_hash
# affinity = "session"               # a client session keeps to its replica; "none" for stateless servers
# retries = 2                        # at most 10
# allow_tools = ["fetch*"]           # globs over the server's own tool names (deny_tools hides some)
# max_concurrency = 32               # requests in flight to it at once (0: no limit)
# rate_limit = "20/s"                # to it, all clients together
# [servers.fetch.breaker]            # each replica's circuit breaker (these are the defaults)
# failures = 5                       # opens after this many failures in a row...
# failure_rate = "50%"               # ...or this share of the requests in `window` failed,
# min_requests = 20                  # when there were at least this many
# window = "30s"
# open_for = "10s"                   # then, after this long, one probe request is let through

# A remote group: `urls` instead of `url`, each endpoint a replica.
# [servers.api]
# transport = "http"
# urls = ["https://api-1.internal/mcp", { url = "https://api-2.internal/mcp", weight = 2 }]
# balance = "weighted_round_robin"   # the weights count for weighted_round_robin and weighted_random

# Routes are tried in order and the first match wins: a request matching every
# glob given (method, tool, prompt, resource) goes to the server named by `to`,
# or is refused with deny = true.
# [[route]]
# tool = "*delete*"
# deny = true
# reason = "nothing is deleted through this gateway"

# Who may use the HTTP front ends (/mcp, /sse, /ws): each request carries
# "Authorization: Bearer <credential>", an API key or a JWT. stdio clients are
# not asked (their principal is "local"). Without [auth] anyone who can connect
# is served (as "anonymous"), so vmcp will not listen beyond loopback unless
# [gateway] allow_unauthenticated = true.
# [auth]
# Only each key's SHA-256 is written here: printf %s "$KEY" | sha256sum
# api_keys = [{ name = "ci", sha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", roles = ["dev"] }]
# resource = "https://mcp.example.com/mcp"              # this gateway's URI: advertised, and the default JWT audience
# authorization_servers = ["https://auth.example.com"]  # advertised to clients, with scopes_supported
# scopes_supported = ["mcp"]
# [auth.jwt]                         # bearer JWTs from an identity provider
# jwks_url = "https://auth.example.com/.well-known/jwks.json"  # or public_key_file = "<a PEM file>"
# issuer = "https://auth.example.com"
# audience = ["https://mcp.example.com/mcp"]  # default: resource, when given
# algorithms = ["RS256", "ES256"]    # HS256 too: add it, and secret = "${VMCP_JWT_SECRET}" (at least 32 bytes)
# jwks_refresh = "10m"               # how long fetched keys are kept
# subject_claim = "sub"              # the claim naming the principal
# roles_claim = "roles"              # its roles: an array of strings, or a space-separated string like "scope"
# leeway = "30s"                     # clock skew allowed on exp and nbf

# Policies: what principals may use. A policy names them by role (roles) or by
# name (principals: an API key's name, a JWT's subject, "local", "anonymous");
# allow and deny are globs over exposed names: tools and prompts
# ("alpha__echo"), resource URIs ("alpha+file:///x") and vmcp/* methods.
# [[policy]]
# roles = ["dev"]
# allow = ["alpha__*", "beta__*"]
# deny = ["*__delete*"]

# Several replicas behind a load balancer share runtime mounts through one
# PostgreSQL database (default: registry.db in state_dir, this gateway alone).
# [registry]
# url = "postgres://vmcp@db.internal:5432/vmcp"   # a password: postgres://vmcp:${PGPASSWORD}@...
# [cluster]
# replica_id = "vmcp-0"              # default: the host name and a random suffix
# advertise = "http://10.0.0.5:3000" # where other replicas reach this one
# session_key = "${VMCP_SESSION_KEY}"  # 32 bytes (openssl rand -hex 32), the same on every replica
"#;

/// The column a `[gateway]` line's comment starts at, from 0, unless the key
/// and example leave less room; then two spaces separate them.
const COMMENT_COLUMN: usize = 37;

/// The length of `# key = example`, then of the spaces before the comment.
const fn widths(line: &StarterLine) -> (usize, usize) {
    let used = "# ".len() + line.key.len() + " = ".len() + line.example.len();
    let pad = if used + 2 <= COMMENT_COLUMN { COMMENT_COLUMN - used } else { 2 };
    (used, pad)
}

/// `# key = example<pad># comment\n`.
const fn line_len(line: &StarterLine) -> usize {
    let (used, pad) = widths(line);
    used + pad + "# ".len() + line.comment.len() + 1
}

const fn starter_len() -> usize {
    let mut len = HEAD.len() + TAIL.len();
    let mut i = 0;
    while i < GATEWAY_STARTER.len() {
        len += line_len(&GATEWAY_STARTER[i]);
        i += 1;
    }
    len
}

const LEN: usize = starter_len();

/// Copies `text` into `out` at `at`; the new end.
const fn put(out: &mut [u8; LEN], at: usize, text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        out[at + i] = bytes[i];
        i += 1;
    }
    at + bytes.len()
}

const fn starter_bytes() -> [u8; LEN] {
    let mut out = [b' '; LEN];
    let mut at = put(&mut out, 0, HEAD);
    let mut i = 0;
    while i < GATEWAY_STARTER.len() {
        let line = &GATEWAY_STARTER[i];
        let (_, pad) = widths(line);
        at = put(&mut out, at, "# ");
        at = put(&mut out, at, line.key);
        at = put(&mut out, at, " = ");
        at = put(&mut out, at, line.example);
        at += pad; // already spaces
        at = put(&mut out, at, "# ");
        at = put(&mut out, at, line.comment);
        at = put(&mut out, at, "\n");
        i += 1;
    }
    put(&mut out, at, TAIL);
    out
}

const BYTES: [u8; LEN] = starter_bytes();

/// A commented configuration that works as written.
pub const STARTER: &str = match std::str::from_utf8(&BYTES) {
    Ok(text) => text,
    // Only pieces of `&str` are copied, whole: this cannot happen, and if it
    // did, the build would fail here rather than vmcp at run time.
    Err(_) => panic!("the starter is not UTF-8"),
};

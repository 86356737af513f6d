//! The starter configuration that `vmcp config init` writes.
//!
//! It must parse as is (a test makes sure), run as is (its two servers are
//! the built-in `vmcp mock`), and teach the format: every `[gateway]` key is
//! there, commented out, with its default, and the commented examples are
//! valid once uncommented (a test checks these too).

/// A commented configuration that works as written.
pub const STARTER: &str = r#"# vmcp configuration: one MCP endpoint in front of many MCP servers.
# Check it with `vmcp config validate`; start with `vmcp start`.
# Any string may use ${VAR} (an error when VAR is unset), ${VAR:-default},
# and $${ for a literal ${.

[gateway]
# Every key below shows its default; uncomment to change it.
# listen = "127.0.0.1:3000"          # HTTP front end: /mcp, /sse, /ws, /healthz, /readyz, /metrics
# separator = "__"                   # exposed tool and prompt names are "<server><separator><name>"
# prefix = "always"                  # always | conditional (only when >1 server) | never (fail on clash)
# state_dir = "~/.local/state/vmcp"  # registry.db, admin.sock, vmcp.pid and vmcp.log live here
# max_message_size = "16MiB"         # largest message accepted: bytes, or "512KiB", "1MB", "100B"
# max_name_length = 64               # longer exposed names are shortened with a hash (at least 16)
# server_name = "vmcp"               # serverInfo.name announced to clients
# allowed_origins = []               # Origin values allowed besides loopback ones
# request_timeout = "60s"            # per request to a server: "500ms", "30s", "2m", "1m30s"
# init_timeout = "30s"               # how long a server may take to start and answer initialize
# shutdown_grace = "10s"             # how long shutdown waits for requests in flight
# session_idle_timeout = "30m"       # an HTTP session idle this long (no request, no open stream) is closed
# health_interval = "30s"            # how often each ready server is pinged ("0s": never)
# health_timeout = "5s"              # how long a ping may take
# health_failures = 3                # consecutive failed pings, then the server is restarted
# admin_listen = "127.0.0.1:3001"    # the admin API on loopback TCP too (it is always on <state_dir>/admin.sock)
# admin_token = "${VMCP_ADMIN_TOKEN}"  # required with admin_listen: sent as Authorization: Bearer <token>
# max_concurrency = 0                # client requests in flight at once; more are refused (0: no limit)
# rate_limit = "100/s"               # per client: "<count>/<unit>", unit s, m, h or a duration ("5/10s"); none by default
# max_request_time = "10m"           # cap on one request to a server, however much progress it reports
# retry_budget = "20%"               # retries allowed, as a share of first attempts
# route_cache_ttl = "10s"            # how long a routing decision is cached ("0s": not cached)
# allow_unauthenticated = false      # true: listen beyond loopback without [auth], serving anyone who can connect
# audit_log = "-"                    # a JSON line per tool call, prompt get and resource read: a file, or "-" for stderr; none by default
# audit_arguments = false            # include tool arguments in the audit log
# max_sessions = 10000               # sessions open at once, all front ends together; one more is refused
# max_json_depth = 64                # deepest JSON nesting accepted in a client's message (2 to 1000)
# max_connections = 10000            # HTTP connections open at once; one more is answered 503
# max_header_size = "32KiB"          # largest request line and headers; larger is answered 431
# read_timeout = "30s"               # for a request's head, then its body; idle keep-alive connections close after it
# write_timeout = "30s"              # a client that reads nothing for this long is disconnected
# keepalive = "15s"                  # SSE comment / WebSocket ping interval; a WebSocket silent for 3 is closed
# worker_threads = 0                 # async runtime threads (0: one per CPU core); read at start
# tls_cert = "~/.config/vmcp/cert.pem"  # HTTPS: the certificate chain (PEM), with tls_key; plain HTTP by default
# tls_key = "~/.config/vmcp/key.pem"    # its private key (PEM)
# tls_client_ca = "~/.config/vmcp/ca.pem"  # require client certificates issued by these CAs (PEM)

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
"#;

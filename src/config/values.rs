//! The value types the configuration's tables share (prefix modes,
//! transports, balancing strategies, rates, routes...), and the defaults and
//! bounds other modules need to name.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default `[gateway] listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// Default `[gateway] separator`.
pub const DEFAULT_SEPARATOR: &str = "__";
/// Default `[gateway] state_dir`, before `~` is expanded.
pub const DEFAULT_STATE_DIR: &str = "~/.local/state/vmcp";
/// Default `[gateway] max_message_size`: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
/// Default `[gateway] max_name_length`: the limit of common LLM APIs.
pub const DEFAULT_MAX_NAME_LENGTH: usize = 64;
/// Smallest accepted `[gateway] max_name_length`: room for a short hash.
pub const MIN_MAX_NAME_LENGTH: usize = 16;
/// Default `[gateway] server_name`.
pub const DEFAULT_SERVER_NAME: &str = "vmcp";
/// Default `[gateway] request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `[gateway] init_timeout`.
pub const DEFAULT_INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[gateway] shutdown_grace`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Default `[gateway] health_interval`.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// Default `[gateway] health_timeout`.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(5);
/// Default `[gateway] health_failures`.
pub const DEFAULT_HEALTH_FAILURES: u32 = 3;
/// Default `[gateway] session_idle_timeout`.
pub const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Default `[gateway] max_request_time`.
pub const DEFAULT_MAX_REQUEST_TIME: Duration = Duration::from_secs(10 * 60);
/// Default `[gateway] retry_budget`, in percent.
pub const DEFAULT_RETRY_BUDGET_PERCENT: u32 = 20;
/// Default `[gateway] route_cache_ttl`.
pub const DEFAULT_ROUTE_CACHE_TTL: Duration = Duration::from_secs(10);
/// Default `[gateway] max_sessions`.
pub const DEFAULT_MAX_SESSIONS: u32 = 10_000;
/// Default `[gateway] max_json_depth`.
pub const DEFAULT_MAX_JSON_DEPTH: u32 = 64;
/// Smallest accepted `[gateway] max_json_depth`.
pub const MIN_MAX_JSON_DEPTH: u32 = 2;
/// Largest accepted `[gateway] max_json_depth`.
pub const MAX_MAX_JSON_DEPTH: u32 = 1000;
/// Default `[gateway] max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10_000;
/// Default `[gateway] max_header_size`: 32 KiB, as for most HTTP servers.
pub const DEFAULT_MAX_HEADER_SIZE: usize = 32 << 10;
/// Smallest accepted `[gateway] max_header_size`.
pub const MIN_MAX_HEADER_SIZE: usize = 1 << 10;
/// Default `[gateway] read_timeout`.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[gateway] write_timeout`.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `[gateway] keepalive`.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(15);
/// Shortest accepted `[auth.jwt] secret`, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The principals vmcp names itself, which no API key may take: "local" (a
/// stdio client) and "anonymous" (an HTTP client when there is no `[auth]`).
pub const BUILTIN_PRINCIPALS: &[&str] = &["local", "anonymous"];
/// Default `[auth.jwt] algorithms`.
pub const DEFAULT_JWT_ALGORITHMS: &[&str] = &["RS256", "ES256"];
/// The JWT algorithms vmcp verifies.
pub const JWT_ALGORITHMS: &[&str] = &["HS256", "RS256", "ES256"];
/// Default `[auth.jwt] jwks_refresh`.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Default `[auth.jwt] leeway`.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// Default `[servers.<id>] retries`.
pub const DEFAULT_RETRIES: u32 = 2;
/// Default `[servers.<id>] max_processes` (per-session isolation).
pub const DEFAULT_MAX_PROCESSES: u32 = 16;
/// Default `[servers.<id>] process_idle_timeout` (per-session isolation).
pub const DEFAULT_PROCESS_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// The `balance` strategies a server group may name.
pub const BALANCE_STRATEGIES: &[&str] = &[
    "round_robin",
    "random",
    "least_connections",
    "weighted_round_robin",
    "weighted_random",
    "adaptive",
    "consistent_hash",
];
/// The `affinity` values.
pub const AFFINITIES: &[&str] = &["session", "none"];
/// The `isolation` values.
pub const ISOLATIONS: &[&str] = &["shared", "per_session"];
/// The MCP request methods a client can send: the keys `timeouts` accepts.
pub const REQUEST_METHODS: &[&str] = &[
    "tools/call",
    "tools/list",
    "prompts/get",
    "prompts/list",
    "resources/read",
    "resources/list",
    "resources/templates/list",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "ping",
];

/// When exposed names carry the `<server><separator>` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrefixMode {
    /// Always prefix.
    #[default]
    Always,
    /// Only when more than one server is mounted.
    Conditional,
    /// Never prefix; a clash between servers is an error.
    Never,
}

/// How the gateway reaches a backend server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// A child process speaking MCP on stdin/stdout.
    #[default]
    Stdio,
    /// Streamable HTTP.
    Http,
    /// The legacy HTTP+SSE transport.
    Sse,
    /// MCP over WebSocket.
    Websocket,
}

impl TransportKind {
    /// The name used in the configuration file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdio => "stdio",
            Self::Http => "http",
            Self::Sse => "sse",
            Self::Websocket => "websocket",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for PrefixMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Always => "always",
            Self::Conditional => "conditional",
            Self::Never => "never",
        })
    }
}

/// One endpoint of `urls`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// For the weighted strategies; at least 1.
    pub weight: u32,
}

/// `balance`: how a server group picks a replica for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Balance {
    #[default]
    RoundRobin,
    Random,
    LeastConnections,
    WeightedRoundRobin,
    WeightedRandom,
    /// Power of two choices on latency (EWMA) with a penalty per request in flight.
    Adaptive,
    /// Rendezvous hashing on `hash_key`.
    ConsistentHash,
}

impl Balance {
    pub fn parse(s: &str) -> Option<Balance> {
        Some(match s {
            "round_robin" => Balance::RoundRobin,
            "random" => Balance::Random,
            "least_connections" => Balance::LeastConnections,
            "weighted_round_robin" => Balance::WeightedRoundRobin,
            "weighted_random" => Balance::WeightedRandom,
            "adaptive" => Balance::Adaptive,
            "consistent_hash" => Balance::ConsistentHash,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round_robin",
            Balance::Random => "random",
            Balance::LeastConnections => "least_connections",
            Balance::WeightedRoundRobin => "weighted_round_robin",
            Balance::WeightedRandom => "weighted_random",
            Balance::Adaptive => "adaptive",
            Balance::ConsistentHash => "consistent_hash",
        }
    }
}

/// `affinity`: whether a client session's requests keep to one replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Affinity {
    /// A session stays on the replica that served its first request, while it is up.
    #[default]
    Session,
    /// Every request is balanced on its own (for stateless servers).
    None,
}

impl Affinity {
    /// One of [`AFFINITIES`].
    pub fn parse(s: &str) -> Option<Affinity> {
        match s {
            "session" => Some(Affinity::Session),
            "none" => Some(Affinity::None),
            _ => None,
        }
    }
}

/// `hash_key`: what `consistent_hash` hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum HashKey {
    /// The client session.
    #[default]
    Session,
    /// The client's identity (its API key or token subject; the session without auth).
    Client,
    /// The tool, prompt or resource named by the request.
    Name,
    /// `arg:<name>`: a top-level argument of the tool call (the session when absent).
    Argument(String),
}

impl HashKey {
    /// `session`, `client`, `name`, or `arg:<name>` with a non-empty name.
    pub fn parse(s: &str) -> Option<HashKey> {
        match s {
            "session" => Some(HashKey::Session),
            "client" => Some(HashKey::Client),
            "name" => Some(HashKey::Name),
            _ => s.strip_prefix("arg:").filter(|name| !name.is_empty()).map(|name| HashKey::Argument(name.to_owned())),
        }
    }
}

/// `isolation`: how client sessions share a stdio server's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Isolation {
    /// One process (per replica) serves every client session.
    #[default]
    Shared,
    /// Each client session gets a process of its own.
    PerSession,
}

impl Isolation {
    /// One of [`ISOLATIONS`].
    pub fn parse(s: &str) -> Option<Isolation> {
        match s {
            "shared" => Some(Isolation::Shared),
            "per_session" => Some(Isolation::PerSession),
            _ => None,
        }
    }
}

/// A rate: `count` requests per `per` ("100/s", "20/m", "5/10s"), allowing
/// bursts of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub per: Duration,
}

/// `[[route]]`: requests matching every glob given go to `to`, or are denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Glob over the JSON-RPC method.
    pub method: Option<String>,
    /// Glob over the exposed tool name (`tools/call`).
    pub tool: Option<String>,
    /// Glob over the exposed prompt name (`prompts/get`).
    pub prompt: Option<String>,
    /// Glob over the exposed resource URI (`resources/read`, subscriptions).
    pub resource: Option<String>,
    pub action: RouteAction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    /// Send to this server (a group is a server with replicas).
    To(String),
    /// Refuse, with this reason if given.
    Deny(Option<String>),
}

/// One `[auth] api_keys` entry. The key itself is never in the file: only its
/// SHA-256, in hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Who this key is: the principal's name in policies and the audit log.
    pub name: String,
    /// Lowercase hex SHA-256 of the key (64 characters).
    pub sha256: String,
    pub roles: Vec<String>,
}

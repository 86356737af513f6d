//! The configuration: what vmcp reads from its TOML files, and nothing else.
//!
//! This module owns the file format users write (`[gateway]`, `[servers.<id>]`,
//! `[[route]]`, `[auth]` and `[[policy]]`), the defaults, `${VAR}`
//! substitution, merging of repeated `--config` files, validation with errors
//! that name file, line and column, the default search path, and the starter
//! file `vmcp config init` writes. It hands the rest of vmcp a plain, validated
//! [`Config`] and does no I/O beyond reading the files it is given.
//!
//! - [`load`] / [`load_with_env`] / [`parse_str`]: entry points (`load.rs`).
//! - [`parse_server_snippet`]: one `[servers.<id>]` table on its own, for
//!   runtime mounts (`snippet.rs`).
//! - `document`: one file's TOML into a positioned layer; `layer`: merging.
//! - `validate`: checks on the merged result. `env`: `${VAR}`; `units`:
//!   durations, sizes, rates and percentages.
//! - [`STARTER`]: the commented starter file.

mod document;
mod env;
mod error;
mod import;
mod layer;
mod load;
mod snippet;
mod starter;
mod suggest;
mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use document::is_valid_server_id;
/// The keys each table of the configuration accepts (what "unknown key" checks
/// against), for tools and tests that generate or check configurations.
pub mod keys {
    pub use super::document::{
        API_KEY_KEYS, AUTH_KEYS, BREAKER_KEYS, GATEWAY_KEYS, JWT_KEYS, POLICY_KEYS, ROUTE_KEYS, SERVER_KEYS, TOP_KEYS,
    };
}
pub use error::{ConfigError, ConfigErrors};
pub use import::{Imported, import_mcp_json};
pub use load::{default_path, load, load_with_env, parse_str};
pub use snippet::parse_server_snippet;
pub use starter::STARTER;
pub use units::{parse_duration, parse_percent, parse_rate, parse_size};
pub use validate::is_loopback_listen;

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

/// A loaded, merged and validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub gateway: GatewayConfig,
    /// By server id, the `[servers.<id>]` table key.
    pub servers: BTreeMap<String, ServerConfig>,
    /// `[[route]]`, in file order (the first match wins).
    pub routes: Vec<RouteRule>,
    /// `[auth]`: who may call the HTTP front ends; `None`: nobody is asked.
    pub auth: Option<AuthConfig>,
    /// `[[policy]]`, in file order.
    pub policies: Vec<Policy>,
    /// The files it was read from, in order (later ones override earlier ones).
    pub sources: Vec<PathBuf>,
}

/// `[gateway]`: how the gateway itself listens, names and times things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Address of the HTTP front end; a valid socket address.
    pub listen: String,
    /// Between server id and name in exposed tool and prompt names.
    pub separator: String,
    pub prefix: PrefixMode,
    /// Where registry.db, admin.sock, vmcp.pid and vmcp.log live; `~` expanded.
    pub state_dir: PathBuf,
    /// Largest JSON-RPC message accepted, in bytes.
    pub max_message_size: usize,
    /// Budget for exposed names; longer ones are shortened with a hash.
    pub max_name_length: usize,
    /// `serverInfo.name` the gateway announces.
    pub server_name: String,
    /// Origin values allowed besides loopback ones.
    pub allowed_origins: Vec<String>,
    /// Default timeout of one request to a backend.
    pub request_timeout: Duration,
    /// How long a backend may take to start and answer `initialize`.
    pub init_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// An HTTP session with no request and no open stream for this long is closed.
    pub session_idle_timeout: Duration,
    /// How often each ready server is pinged ("0s": never).
    pub health_interval: Duration,
    /// How long a health ping may take.
    pub health_timeout: Duration,
    /// Consecutive failed pings after which a server is restarted.
    pub health_failures: u32,
    /// The admin API on a loopback TCP address too (besides the Unix socket).
    pub admin_listen: Option<String>,
    /// The bearer token the TCP admin API requires.
    pub admin_token: Option<String>,
    /// Client requests in flight at once, gateway-wide; over it a request is
    /// refused at once (0: no limit).
    pub max_concurrency: u32,
    /// Requests each client identity may make (GCRA); `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Absolute cap on one backend request, however much progress it reports.
    pub max_request_time: Duration,
    /// Retries allowed, as a percentage of first attempts (a retry budget), so a
    /// failing backend is not hit with a storm of retries.
    pub retry_budget_percent: u32,
    /// How long a routing decision is cached.
    pub route_cache_ttl: Duration,
    /// Listen on a non-loopback address without `[auth]`: only when this says so.
    pub allow_unauthenticated: bool,
    /// Where the audit log goes (one JSON line per tool call, prompt get and
    /// resource read): a file path, or "-" for stderr; `None`: no audit log.
    pub audit_log: Option<String>,
    /// Include tool arguments in the audit log.
    pub audit_arguments: bool,
    /// Sessions open at once across every front end; one more is refused.
    pub max_sessions: u32,
    /// Deepest JSON nesting accepted in a client's message.
    pub max_json_depth: u32,
    /// TLS on the HTTP front end: the certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// TLS: the private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// TLS: CA certificates (PEM) that client certificates must chain to; with
    /// it, a client certificate is required.
    pub tls_client_ca: Option<PathBuf>,
    /// HTTP connections open at once; one more is answered 503 and closed.
    pub max_connections: u32,
    /// Largest request head (request line and headers) accepted, in bytes; a
    /// larger one is answered 431.
    pub max_header_size: usize,
    /// How long a client may take to send a request's head, and then its body;
    /// an idle keep-alive connection is closed after it too.
    pub read_timeout: Duration,
    /// How long a write to a client may stay blocked (the client reads nothing)
    /// before its connection is closed.
    pub write_timeout: Duration,
    /// How often an idle SSE stream gets a comment and a WebSocket a ping; a
    /// WebSocket client silent for three of these is taken for gone.
    pub keepalive: Duration,
    /// Threads of the async runtime (read at start); 0: one per CPU core.
    pub worker_threads: u32,
}

impl Default for GatewayConfig {
    /// The defaults, with `~` in `state_dir` expanded from the process's
    /// `$HOME` (left as is when `HOME` is unset).
    fn default() -> Self {
        let state_dir = match std::env::var("HOME") {
            Ok(home) if !home.is_empty() => PathBuf::from(home).join(".local/state/vmcp"),
            _ => PathBuf::from(DEFAULT_STATE_DIR),
        };
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            prefix: PrefixMode::default(),
            state_dir,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            max_name_length: DEFAULT_MAX_NAME_LENGTH,
            server_name: DEFAULT_SERVER_NAME.to_owned(),
            allowed_origins: Vec::new(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            init_timeout: DEFAULT_INIT_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            session_idle_timeout: DEFAULT_SESSION_IDLE_TIMEOUT,
            health_interval: DEFAULT_HEALTH_INTERVAL,
            health_timeout: DEFAULT_HEALTH_TIMEOUT,
            health_failures: DEFAULT_HEALTH_FAILURES,
            admin_listen: None,
            admin_token: None,
            max_concurrency: 0,
            rate_limit: None,
            max_request_time: DEFAULT_MAX_REQUEST_TIME,
            retry_budget_percent: DEFAULT_RETRY_BUDGET_PERCENT,
            route_cache_ttl: DEFAULT_ROUTE_CACHE_TTL,
            allow_unauthenticated: false,
            audit_log: None,
            audit_arguments: false,
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_json_depth: DEFAULT_MAX_JSON_DEPTH,
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            read_timeout: DEFAULT_READ_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            worker_threads: 0,
        }
    }
}

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

/// `[servers.<id>]`: one backend MCP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub transport: TransportKind,
    /// stdio: the program to run.
    pub command: Option<String>,
    /// stdio: its arguments.
    pub args: Vec<String>,
    /// stdio: extra environment variables.
    pub env: BTreeMap<String, String>,
    /// stdio: working directory; `~` expanded.
    pub cwd: Option<PathBuf>,
    /// Remote transports: a PEM file of CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// http, sse, websocket: the endpoint.
    pub url: Option<String>,
    /// http, sse, websocket: extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Overrides `[gateway] request_timeout` for this server.
    pub request_timeout: Option<Duration>,
    /// Overrides of the gateway's health-check settings for this server.
    pub health_interval: Option<Duration>,
    pub health_timeout: Option<Duration>,
    pub health_failures: Option<u32>,
    pub enabled: bool,
    /// Readiness (`/readyz`) waits for required servers.
    pub required: bool,
    /// stdio: how many processes to run (each one a replica).
    pub replicas: u32,
    /// http, sse, websocket: several endpoints, each one a replica (instead of
    /// `url`). Empty when `url` is given: that is one endpoint of weight 1.
    pub urls: Vec<Endpoint>,
    /// How a request picks a replica.
    pub balance: Balance,
    /// Whether a client session keeps to the replica it first used.
    pub affinity: Affinity,
    /// What `consistent_hash` hashes.
    pub hash_key: HashKey,
    /// stdio: one process for every client session, or one each.
    pub isolation: Isolation,
    /// `isolation = "per_session"`: at most this many processes at once.
    pub max_processes: u32,
    /// `isolation = "per_session"`: a process unused this long is stopped.
    pub process_idle_timeout: Duration,
    /// Globs over the server's own tool names: only these are exposed (empty: all).
    pub allow_tools: Vec<String>,
    /// Globs over the server's own tool names: these are hidden (after `allow_tools`).
    pub deny_tools: Vec<String>,
    /// The server's tool name -> the name exposed instead (before the prefix).
    pub rename_tools: BTreeMap<String, String>,
    /// Timeouts by request method (such as "tools/call"), over `request_timeout`.
    pub timeouts: BTreeMap<String, Duration>,
    /// Overrides `[gateway] max_request_time` for this server.
    pub max_request_time: Option<Duration>,
    /// How many times a request that is safe to repeat is retried on another replica.
    pub retries: u32,
    /// The circuit breaker each replica has.
    pub breaker: BreakerConfig,
    /// Requests in flight to this server at once (0: no limit).
    pub max_concurrency: u32,
    /// Requests per unit of time to this server, all clients together.
    pub rate_limit: Option<RateLimit>,
    /// Per tool (the server's own name), all clients together.
    pub tool_rate_limits: BTreeMap<String, RateLimit>,
    pub description: Option<String>,
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

/// `[servers.<id>.breaker]`: when a replica's circuit opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Opens after this many failures in a row (0: never on this rule).
    pub failures: u32,
    /// Opens when at least this percentage of the requests in `window` failed
    /// (0: never on this rule) ...
    pub failure_rate: u32,
    /// ... and there were at least `min_requests` of them.
    pub min_requests: u32,
    pub window: Duration,
    /// How long it stays open before a probe request is let through (half-open).
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            failure_rate: 50,
            min_requests: 20,
            window: Duration::from_secs(30),
            open_for: Duration::from_secs(10),
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

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            transport: TransportKind::Stdio,
            command: None,
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            ca_file: None,
            url: None,
            headers: BTreeMap::new(),
            request_timeout: None,
            health_interval: None,
            health_timeout: None,
            health_failures: None,
            enabled: true,
            required: false,
            replicas: 1,
            urls: Vec::new(),
            balance: Balance::default(),
            affinity: Affinity::default(),
            hash_key: HashKey::default(),
            isolation: Isolation::default(),
            max_processes: DEFAULT_MAX_PROCESSES,
            process_idle_timeout: DEFAULT_PROCESS_IDLE_TIMEOUT,
            allow_tools: Vec::new(),
            deny_tools: Vec::new(),
            rename_tools: BTreeMap::new(),
            timeouts: BTreeMap::new(),
            max_request_time: None,
            retries: DEFAULT_RETRIES,
            breaker: BreakerConfig::default(),
            max_concurrency: 0,
            rate_limit: None,
            tool_rate_limits: BTreeMap::new(),
            description: None,
        }
    }
}

/// `[auth]`: how clients of the HTTP front ends prove who they are. A request
/// is accepted with a known API key or a valid JWT (both travel as
/// `Authorization: Bearer <credential>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuthConfig {
    pub api_keys: Vec<ApiKey>,
    pub jwt: Option<JwtConfig>,
    /// This gateway's canonical resource URI (RFC 8707), such as
    /// "https://mcp.example.com/mcp": advertised in the protected resource
    /// metadata (RFC 9728) and the default JWT audience.
    pub resource: Option<String>,
    /// Authorization servers advertised in the protected resource metadata.
    pub authorization_servers: Vec<String>,
    /// Scopes advertised in the protected resource metadata.
    pub scopes_supported: Vec<String>,
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

/// `[auth.jwt]`: bearer JWTs, verified with a shared secret (HS256), a public
/// key file (RS256, ES256) or the keys of a JWKS URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Accepted `alg` values, from [`JWT_ALGORITHMS`].
    pub algorithms: Vec<String>,
    /// HS256: the shared secret.
    pub secret: Option<String>,
    /// RS256 / ES256: a PEM public key (or certificate) file.
    pub public_key_file: Option<PathBuf>,
    /// RS256 / ES256: where to fetch the keys (JSON Web Key Set), chosen by `kid`.
    pub jwks_url: Option<String>,
    /// How long fetched keys are kept before they are fetched again (an unknown
    /// `kid` refetches at once, at most once a minute).
    pub jwks_refresh: Duration,
    /// Required `iss`, when given.
    pub issuer: Option<String>,
    /// Accepted `aud` values; empty: `[auth] resource` when given, else not checked.
    pub audience: Vec<String>,
    /// Claim naming the principal.
    pub subject_claim: String,
    /// Claim holding the principal's roles (an array of strings, or a
    /// space-separated string like `scope`).
    pub roles_claim: String,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for JwtConfig {
    fn default() -> Self {
        Self {
            algorithms: DEFAULT_JWT_ALGORITHMS.iter().map(|s| s.to_string()).collect(),
            secret: None,
            public_key_file: None,
            jwks_url: None,
            jwks_refresh: DEFAULT_JWKS_REFRESH,
            issuer: None,
            audience: Vec::new(),
            subject_claim: "sub".into(),
            roles_claim: "roles".into(),
            leeway: DEFAULT_JWT_LEEWAY,
        }
    }
}

/// `[[policy]]`: what the principals it names may use. A principal is named by
/// one of its roles (`roles`) or its own name (`principals`: an API key's name
/// or a JWT's subject). Globs run over exposed names: tools and prompts
/// (`server__name`), resource URIs (`server+uri`), and `vmcp/*` methods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    pub roles: Vec<String>,
    pub principals: Vec<String>,
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

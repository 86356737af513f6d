//! The configuration: what vmcp reads from its TOML files, and nothing else.
//!
//! This module owns the file format users write (`[gateway]`, `[servers.<id>]`,
//! and the not-yet-supported `[auth]` and `[[policy]]`), the defaults, `${VAR}`
//! substitution, merging of repeated `--config` files, validation with errors
//! that name file, line and column, the default search path, and the starter
//! file `vmcp config init` writes. It hands the rest of vmcp a plain, validated
//! [`Config`] and does no I/O beyond reading the files it is given.
//!
//! - [`load`] / [`load_with_env`] / [`parse_str`]: entry points (`load.rs`).
//! - [`parse_server_snippet`]: one `[servers.<id>]` table on its own, for
//!   runtime mounts (`snippet.rs`).
//! - `document`: one file's TOML into a positioned layer; `layer`: merging.
//! - `validate`: checks on the merged result; `unsupported`: what this version
//!   refuses for now. `env`: `${VAR}`; `units`: durations and sizes.
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
mod unsupported;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use document::is_valid_server_id;
pub use error::{ConfigError, ConfigErrors};
pub use import::{Imported, import_mcp_json};
pub use load::{default_path, load, load_with_env, parse_str};
pub use snippet::parse_server_snippet;
pub use starter::STARTER;
pub use units::{parse_duration, parse_size};

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

/// A loaded, merged and validated configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub gateway: GatewayConfig,
    /// By server id, the `[servers.<id>]` table key.
    pub servers: BTreeMap<String, ServerConfig>,
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
    pub replicas: u32,
    /// One of [`BALANCE_STRATEGIES`].
    pub balance: Option<String>,
    pub description: Option<String>,
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
            balance: None,
            description: None,
        }
    }
}

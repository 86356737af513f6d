//! `[gateway]`: how the gateway itself listens, names and times things.
//!
//! The table is declared once below (see `table.rs`): each key's field, kind,
//! default, own check and starter line. What combines keys (a listen address
//! beyond loopback needs `[auth]`, a TLS certificate its key, the TCP admin
//! API its token) is said by hand in [`Check::gateway`].

use std::path::PathBuf;
use std::time::Duration;

use super::at::At;
use super::check::{
    Check, check_origin, is_loopback_listen, listen_problem, non_zero, path_string, positive, separator_problem,
};
use super::kinds::{Bool, Dur, Percent, Plain, Rate, Size, Str, Strings, U32, Usize};
use super::table::config_table;
use super::values::{
    DEFAULT_HEALTH_FAILURES, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT, DEFAULT_INIT_TIMEOUT, DEFAULT_KEEPALIVE,
    DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_NAME_LENGTH, DEFAULT_MAX_REQUEST_TIME, DEFAULT_MAX_SESSIONS, DEFAULT_READ_TIMEOUT,
    DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_ROUTE_CACHE_TTL, DEFAULT_SEPARATOR,
    DEFAULT_SERVER_NAME, DEFAULT_SESSION_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_STATE_DIR,
    DEFAULT_WRITE_TIMEOUT, MAX_MAX_JSON_DEPTH, MIN_MAX_HEADER_SIZE, MIN_MAX_JSON_DEPTH, MIN_MAX_NAME_LENGTH,
    PrefixMode, RateLimit,
};

config_table! {
    /// `[gateway]`: how the gateway itself listens, names and times things.
    ///
    /// Its `Default` is the defaults, with `~` in `state_dir` expanded from
    /// the process's `$HOME` (left as is when `HOME` is unset).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct GatewayConfig;
    layer GatewayLayer {}
    /// The keys of `[gateway]`.
    keys GATEWAY_KEYS;
    merge merge;
    starter GATEWAY_STARTER;
    table {
        /// Address of the HTTP front end; a valid socket address.
        listen: String = Str, default DEFAULT_LISTEN.to_owned(), check |v| listen_problem(v),
            starter "\"127.0.0.1:3000\"" "HTTP front end: /mcp, /sse, /ws, /healthz, /readyz, /metrics";
        /// Between server id and name in exposed tool and prompt names.
        separator: String = Str, default DEFAULT_SEPARATOR.to_owned(), check |v| separator_problem(v),
            starter "\"__\"" "exposed tool and prompt names are \"<server><separator><name>\"";
        prefix: PrefixMode = Plain<PrefixMode>, default PrefixMode::default(),
            starter "\"always\"" "always | conditional (only when >1 server) | never (fail on clash)";
        /// Where registry.db, admin.sock, vmcp.pid and vmcp.log live; `~` expanded.
        state_dir: PathBuf = Str, default default_state_dir(), build |c, at, path| c.state_dir(at, path),
            starter "\"~/.local/state/vmcp\"" "registry.db, admin.sock, vmcp.pid and vmcp.log live here";
        /// Largest JSON-RPC message accepted, in bytes.
        max_message_size: usize = Size, default DEFAULT_MAX_MESSAGE_SIZE,
            check |&v| positive(v == 0, "a size of at least 1 byte, such as \"16MiB\""),
            starter "\"16MiB\"" "largest message accepted: bytes, or \"512KiB\", \"1MB\", \"100B\"";
        /// Budget for exposed names; longer ones are shortened with a hash.
        max_name_length: usize = Usize, default DEFAULT_MAX_NAME_LENGTH,
            check |&v| {
                if v < MIN_MAX_NAME_LENGTH {
                    Err(format!("{v} is too small: expected at least {MIN_MAX_NAME_LENGTH} (room for a short hash)"))
                } else {
                    Ok(())
                }
            },
            starter "64" "longer exposed names are shortened with a hash (at least 16)";
        /// `serverInfo.name` the gateway announces.
        server_name: String = Str, default DEFAULT_SERVER_NAME.to_owned(),
            check |v| positive(v.trim().is_empty(), "a non-empty name such as \"vmcp\""),
            starter "\"vmcp\"" "serverInfo.name announced to clients";
        /// Origin values allowed besides loopback ones.
        allowed_origins: Vec<String> = Strings, default Vec::new(),
            starter "[]" "Origin values allowed besides loopback ones";
        /// Default timeout of one request to a backend.
        request_timeout: Duration = Dur, default DEFAULT_REQUEST_TIMEOUT, check |v| non_zero(*v),
            starter "\"60s\"" "per request to a server: \"500ms\", \"30s\", \"2m\", \"1m30s\"";
        /// How long a backend may take to start and answer `initialize`.
        init_timeout: Duration = Dur, default DEFAULT_INIT_TIMEOUT, check |v| non_zero(*v),
            starter "\"30s\"" "how long a server may take to start and answer initialize";
        /// How long shutdown waits for requests in flight.
        shutdown_grace: Duration = Dur, default DEFAULT_SHUTDOWN_GRACE,
            starter "\"10s\"" "how long shutdown waits for requests in flight";
        /// An HTTP session with no request and no open stream for this long is closed.
        session_idle_timeout: Duration = Dur, default DEFAULT_SESSION_IDLE_TIMEOUT, check |v| non_zero(*v),
            starter "\"30m\"" "an HTTP session idle this long (no request, no open stream) is closed";
        /// How often each ready server is pinged ("0s": never).
        health_interval: Duration = Dur, default DEFAULT_HEALTH_INTERVAL,
            starter "\"30s\"" "how often each ready server is pinged (\"0s\": never)";
        /// How long a health ping may take.
        health_timeout: Duration = Dur, default DEFAULT_HEALTH_TIMEOUT, check |v| non_zero(*v),
            starter "\"5s\"" "how long a ping may take";
        /// Consecutive failed pings after which a server is restarted.
        health_failures: u32 = U32, default DEFAULT_HEALTH_FAILURES,
            check |&v| if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) },
            starter "3" "consecutive failed pings, then the server is restarted";
        /// The admin API on a loopback TCP address too (besides the Unix socket).
        admin_listen: Option<String> = Str, default None,
            check |v| match v.parse::<std::net::SocketAddr>() {
                Ok(a) if a.ip().is_loopback() => Ok(()),
                Ok(a) => Err(format!("{a} is not a loopback address: the admin API never listens beyond this machine")),
                Err(_) => Err(format!("expected an address such as \"127.0.0.1:3001\", not {v:?}")),
            },
            starter "\"127.0.0.1:3001\"" "the admin API on loopback TCP too (it is always on <state_dir>/admin.sock)";
        /// The bearer token the TCP admin API requires.
        admin_token: Option<String> = Str, default None,
            check |v| {
                if v.len() < 16 {
                    Err("must be at least 16 characters (use ${VAR} to keep it out of the file)".to_owned())
                } else {
                    Ok(())
                }
            },
            starter "\"${VMCP_ADMIN_TOKEN}\"" "required with admin_listen: sent as Authorization: Bearer <token>";
        /// Client requests in flight at once, gateway-wide; over it a request is
        /// refused at once (0: no limit).
        max_concurrency: u32 = U32, default 0,
            starter "0" "client requests in flight at once; more are refused (0: no limit)";
        /// Requests each client identity may make (GCRA); `None`: no limit.
        rate_limit: Option<RateLimit> = Rate, default None,
            starter "\"100/s\""
                "per client: \"<count>/<unit>\", unit s, m, h or a duration (\"5/10s\"); none by default";
        /// Absolute cap on one backend request, however much progress it reports.
        max_request_time: Duration = Dur, default DEFAULT_MAX_REQUEST_TIME, check |v| non_zero(*v),
            starter "\"10m\"" "cap on one request to a server, however much progress it reports";
        /// Retries allowed, as a percentage of first attempts (a retry budget), so a
        /// failing backend is not hit with a storm of retries.
        retry_budget_percent as retry_budget: u32 = Percent, default DEFAULT_RETRY_BUDGET_PERCENT,
            starter "\"20%\"" "retries allowed, as a share of first attempts";
        /// How long a routing decision is cached.
        route_cache_ttl: Duration = Dur, default DEFAULT_ROUTE_CACHE_TTL,
            starter "\"10s\"" "how long a routing decision is cached (\"0s\": not cached)";
        /// Listen on a non-loopback address without `[auth]`: only when this says so.
        allow_unauthenticated: bool = Bool, default false,
            starter "false" "true: listen beyond loopback without [auth], serving anyone who can connect";
        /// Where the audit log goes (one JSON line per tool call, prompt get and
        /// resource read): a file path, or "-" for stderr; `None`: no audit log.
        audit_log: Option<String> = Str, default None, build |c, at, path| c.audit_log(at, path),
            starter "\"-\""
                "a JSON line per tool call, prompt get and resource read: a file, or \"-\" for stderr; none by default";
        /// Include tool arguments in the audit log.
        audit_arguments: bool = Bool, default false,
            starter "false" "include tool arguments in the audit log";
        /// Sessions open at once across every front end; one more is refused.
        max_sessions: u32 = U32, default DEFAULT_MAX_SESSIONS, check |&v| positive(v == 0, "at least 1"),
            starter "10000" "sessions open at once, all front ends together; one more is refused";
        /// Deepest JSON nesting accepted in a client's message.
        max_json_depth: u32 = U32, default DEFAULT_MAX_JSON_DEPTH,
            check |&v| {
                if (MIN_MAX_JSON_DEPTH..=MAX_MAX_JSON_DEPTH).contains(&v) {
                    Ok(())
                } else {
                    let range = format!("{MIN_MAX_JSON_DEPTH} to {MAX_MAX_JSON_DEPTH}");
                    Err(format!("{v} is out of range: expected a depth from {range}"))
                }
            },
            starter "64" "deepest JSON nesting accepted in a client's message (2 to 1000)";
        /// TLS on the HTTP front end: the certificate chain (PEM).
        tls_cert: Option<PathBuf> = Str, default None,
            build |c, at, path| c.path(at.as_ref(), path, "a PEM certificate chain file"),
            starter "\"~/.config/vmcp/cert.pem\""
                "HTTPS: the certificate chain (PEM), with tls_key; plain HTTP by default";
        /// TLS: the private key (PEM).
        tls_key: Option<PathBuf> = Str, default None,
            build |c, at, path| c.path(at.as_ref(), path, "a PEM private key file"),
            starter "\"~/.config/vmcp/key.pem\"" "its private key (PEM)";
        /// TLS: CA certificates (PEM) that client certificates must chain to; with
        /// it, a client certificate is required.
        tls_client_ca: Option<PathBuf> = Str, default None,
            build |c, at, path| c.path(at.as_ref(), path, "a PEM file of CA certificates"),
            starter "\"~/.config/vmcp/ca.pem\"" "require client certificates issued by these CAs (PEM)";
        /// HTTP connections open at once; one more is answered 503 and closed.
        max_connections: u32 = U32, default DEFAULT_MAX_CONNECTIONS, check |&v| positive(v == 0, "at least 1"),
            starter "10000" "HTTP connections open at once; one more is answered 503";
        /// Largest request head (request line and headers) accepted, in bytes; a
        /// larger one is answered 431.
        max_header_size: usize = Size, default DEFAULT_MAX_HEADER_SIZE,
            check |&v| positive(v < MIN_MAX_HEADER_SIZE, "at least \"1KiB\""),
            starter "\"32KiB\"" "largest request line and headers; larger is answered 431";
        /// How long a client may take to send a request's head, and then its body;
        /// an idle keep-alive connection is closed after it too.
        read_timeout: Duration = Dur, default DEFAULT_READ_TIMEOUT, check |v| non_zero(*v),
            starter "\"30s\"" "for a request's head, then its body; idle keep-alive connections close after it";
        /// How long a write to a client may stay blocked (the client reads nothing)
        /// before its connection is closed.
        write_timeout: Duration = Dur, default DEFAULT_WRITE_TIMEOUT, check |v| non_zero(*v),
            starter "\"30s\"" "a client that reads nothing for this long is disconnected";
        /// How often an idle SSE stream gets a comment and a WebSocket a ping; a
        /// WebSocket client silent for three of these is taken for gone.
        keepalive: Duration = Dur, default DEFAULT_KEEPALIVE, check |v| non_zero(*v),
            starter "\"15s\"" "SSE comment / WebSocket ping interval; a WebSocket silent for 3 is closed";
        /// Threads of the async runtime (read at start); 0: one per CPU core.
        worker_threads: u32 = U32, default 0,
            check |&v| positive(v > 1024, "a thread count from 0 (one per CPU core) to 1024"),
            starter "0" "async runtime threads (0: one per CPU core); read at start";
    }
}

/// `state_dir`'s default for [`GatewayConfig::default`]: `~` expanded from
/// the process's `$HOME`, left as is when `HOME` is unset.
fn default_state_dir() -> PathBuf {
    match std::env::var("HOME") {
        Ok(home) if !home.is_empty() => PathBuf::from(home).join(".local/state/vmcp"),
        _ => PathBuf::from(DEFAULT_STATE_DIR),
    }
}

impl Check<'_> {
    /// `[gateway]`, checked and built; `has_auth`: the configuration has an `[auth]`.
    pub(crate) fn gateway(&mut self, g: GatewayLayer, has_auth: bool) -> GatewayConfig {
        g.check_keys(self, "gateway");
        let allow_unauthenticated = g.allow_unauthenticated.as_ref().is_some_and(|at| at.value);
        if let Some(listen) = &g.listen
            && listen_problem(&listen.value).is_ok()
            && !is_loopback_listen(&listen.value)
            && !has_auth
            && !allow_unauthenticated
        {
            self.fail(
                &listen.pos,
                format!(
                    "gateway.listen: {} is reachable from other machines, and there is no [auth]: add [auth] \
                     (API keys or JWT), or set gateway.allow_unauthenticated = true to serve anyone who can connect",
                    listen.value
                ),
            );
        }
        if let Some(origins) = &g.allowed_origins {
            for (i, origin) in origins.value.iter().enumerate() {
                if let Err(why) = check_origin(origin) {
                    let pos = origins.pos.clone();
                    self.fail(&pos, format!("gateway.allowed_origins[{i}]: {why}"));
                }
            }
        }
        if let (Some(at), None) = (&g.admin_listen, &g.admin_token) {
            self.fail(
                &at.pos,
                "gateway.admin_listen needs gateway.admin_token: the admin API is never reachable over TCP without one"
                    .to_owned(),
            );
        }
        match (&g.tls_cert, &g.tls_key) {
            (Some(cert), None) => self.fail(
                &cert.pos,
                "gateway.tls_cert needs gateway.tls_key: TLS needs the certificate chain and its private key".into(),
            ),
            (None, Some(key)) => self.fail(
                &key.pos,
                "gateway.tls_key needs gateway.tls_cert: TLS needs the certificate chain and its private key".into(),
            ),
            _ => {}
        }
        if let (Some(ca), None, None) = (&g.tls_client_ca, &g.tls_cert, &g.tls_key) {
            self.fail(
                &ca.pos,
                "gateway.tls_client_ca needs gateway.tls_cert and gateway.tls_key: client certificates are only \
                 asked for over TLS"
                    .into(),
            );
        }
        g.build(self, "gateway")
    }

    /// `state_dir`: non-empty, `~` expanded (the default's too).
    fn state_dir(&mut self, at: Option<At<String>>, path: &str) -> PathBuf {
        match at {
            Some(at) if at.value.is_empty() => {
                self.fail(&at.pos, format!("{path}: must not be empty: expected a directory"));
                PathBuf::new()
            }
            Some(at) => self.expand_home(&at.value, Some(&at.pos), path),
            None => self.expand_home(DEFAULT_STATE_DIR, None, path),
        }
    }

    /// `audit_log`: "-" (stderr), or a file with `~` expanded.
    fn audit_log(&mut self, at: Option<At<String>>, path: &str) -> Option<String> {
        let at = at?;
        Some(match at.value.as_str() {
            "" => {
                self.fail(&at.pos, format!("{path}: must not be empty: expected a file path, or \"-\" for stderr"));
                String::new()
            }
            "-" => at.value,
            file => path_string(self.expand_home(file, Some(&at.pos), path)),
        })
    }
}

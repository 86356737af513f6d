//! Reading one TOML document into a [`Layer`], with every error positioned.
//!
//! The document is parsed into toml's spanned tree and walked by hand rather
//! than handed to one derived `Deserialize`: that way an unknown key is
//! reported at the key with a "did you mean", each key's value is read on its
//! own (one bad value does not hide the next), and `${VAR}` substitution runs
//! on the tree before a value is read, so its errors carry the position of the
//! string (of the `${` itself when the string has no escapes).

use std::borrow::Cow;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::env;
use super::error::{ConfigError, Pos};
use super::layer::{
    ApiKeyLayer, At, AuthLayer, BreakerLayer, Entries, GatewayLayer, JwtLayer, Layer, PolicyLayer, RouteLayer,
    ServerLayer,
};
use super::suggest;
use super::units::{DurationValue, PercentValue, RateValue, SizeValue};
use super::{
    AFFINITIES, Affinity, BALANCE_STRATEGIES, Balance, Endpoint, HashKey, ISOLATIONS, Isolation, REQUEST_METHODS,
    RateLimit,
};

/// The top-level tables a configuration may have.
pub const TOP_KEYS: &[&str] = &["gateway", "servers", "route", "auth", "policy"];

/// The keys of `[gateway]`.
pub const GATEWAY_KEYS: &[&str] = &[
    "listen",
    "separator",
    "prefix",
    "state_dir",
    "max_message_size",
    "max_name_length",
    "server_name",
    "allowed_origins",
    "request_timeout",
    "init_timeout",
    "shutdown_grace",
    "session_idle_timeout",
    "health_interval",
    "health_timeout",
    "health_failures",
    "admin_listen",
    "admin_token",
    "max_concurrency",
    "rate_limit",
    "max_request_time",
    "retry_budget",
    "route_cache_ttl",
    "allow_unauthenticated",
    "audit_log",
    "audit_arguments",
    "max_sessions",
    "max_json_depth",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "max_connections",
    "max_header_size",
    "read_timeout",
    "write_timeout",
    "keepalive",
    "worker_threads",
];

/// The keys of `[servers.<id>]`.
pub const SERVER_KEYS: &[&str] = &[
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "ca_file",
    "request_timeout",
    "health_interval",
    "health_timeout",
    "health_failures",
    "enabled",
    "required",
    "replicas",
    "urls",
    "balance",
    "affinity",
    "hash_key",
    "isolation",
    "max_processes",
    "process_idle_timeout",
    "allow_tools",
    "deny_tools",
    "rename_tools",
    "timeouts",
    "max_request_time",
    "retries",
    "breaker",
    "max_concurrency",
    "rate_limit",
    "tool_rate_limits",
    "description",
];

/// The keys of `[servers.<id>.breaker]`.
pub const BREAKER_KEYS: &[&str] = &["failures", "failure_rate", "min_requests", "window", "open_for"];

/// The keys of a `[[route]]` table.
pub const ROUTE_KEYS: &[&str] = &["method", "tool", "prompt", "resource", "to", "deny", "reason"];

/// The keys of `[auth]`.
pub const AUTH_KEYS: &[&str] = &["api_keys", "jwt", "resource", "authorization_servers", "scopes_supported"];

/// The keys of `[auth.jwt]`.
pub const JWT_KEYS: &[&str] = &[
    "algorithms",
    "secret",
    "public_key_file",
    "jwks_url",
    "jwks_refresh",
    "issuer",
    "audience",
    "subject_claim",
    "roles_claim",
    "leeway",
];

/// The keys of a table in `[auth] api_keys`.
pub const API_KEY_KEYS: &[&str] = &["name", "sha256", "roles"];

/// The keys of a `[[policy]]` table.
pub const POLICY_KEYS: &[&str] = &["roles", "principals", "allow", "deny"];

/// How to write one `api_keys` entry, for messages.
const API_KEY_EXAMPLE: &str = "{ name = \"ci\", sha256 = \"<64 hex characters>\", roles = [\"dev\"] }";

/// The keys of an inline table in `urls`.
const ENDPOINT_KEYS: &[&str] = &["url", "weight"];

/// What `hash_key` accepts, as written in messages.
const HASH_KEY_FORMS: &[&str] = &["session", "client", "name", "arg:<name>"];

/// Whether `id` is a valid server id: `^[a-z][a-z0-9-]{0,31}$`. Server ids
/// prefix tool names and resource URIs, so they are kept short and plain.
pub fn is_valid_server_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    matches!(bytes.first(), Some(b'a'..=b'z'))
        && bytes.len() <= 32
        && bytes.iter().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'))
}

/// `"a string"`, `"an integer"`: a TOML type named in a message.
fn a(found: &str) -> String {
    let article = if found.starts_with(['a', 'i']) { "an" } else { "a" };
    format!("{article} {found}")
}

/// `base.key`, with the key quoted when it is not a bare TOML key.
pub(crate) fn key_path(base: &str, key: &str) -> String {
    let bare = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare { format!("{base}.{key}") } else { format!("{base}.{key:?}") }
}

/// Whether `glob` is a valid glob (the `globset` syntax: `*`, `?`, `[...]`, `{a,b}`).
pub(crate) fn glob_problem(glob: &str) -> Result<(), String> {
    globset::Glob::new(glob).map(drop).map_err(|e| format!("invalid glob \"{glob}\": {}", e.kind()))
}

/// Where `route` (top-level only) goes; else "did you mean" among the keys of
/// this table; else, for a key of the other table, where it belongs; else the
/// keys this table accepts.
fn key_hint(key: &str, here: &[&str], elsewhere: &[&str], elsewhere_name: &str) -> String {
    if key == "route" {
        "; `route` is top-level: write [[route]] tables".to_owned()
    } else if suggest::closest(key, here).is_none() && elsewhere.contains(&key) {
        format!("; `{key}` belongs in {elsewhere_name}")
    } else {
        suggest::hint(key, here)
    }
}

/// Reads one document. The layer is `None` when the text is not valid TOML:
/// then only the syntax errors are reported, since anything read from a
/// half-parsed document could be wrong.
pub(crate) fn read(file: &str, text: &str, env: &dyn Fn(&str) -> Option<String>) -> (Option<Layer>, Vec<ConfigError>) {
    let mut reader = Reader { file, text, env, errors: Vec::new() };
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        reader.syntax(syntax_errors);
        return (None, reader.finish());
    }
    let layer = reader.document(root.into_inner());
    (Some(layer), reader.finish())
}

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    env: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn pos(&self, offset: usize) -> Pos {
        Pos::of(self.file, self.text, offset)
    }

    fn error(&mut self, offset: usize, message: String) {
        let pos = self.pos(offset);
        self.errors.push(ConfigError::at(&pos, message));
    }

    fn finish(mut self) -> Vec<ConfigError> {
        self.errors.sort_by_key(|e| (e.line, e.column));
        self.errors
    }

    /// Syntax errors, one per line: after the first mistake on a line the
    /// parser's recovery tends to report echoes of it.
    fn syntax(&mut self, mut errors: Vec<toml::de::Error>) {
        errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
        let mut last_line = None;
        for e in errors {
            let message = format!("invalid TOML: {}", e.message().trim_end());
            match e.span() {
                Some(span) => {
                    let pos = self.pos(span.start);
                    if last_line != Some(pos.line) {
                        last_line = Some(pos.line);
                        self.errors.push(ConfigError::at(&pos, message));
                    }
                }
                None => self.errors.push(ConfigError::in_file(self.file, message)),
            }
        }
    }

    fn document(&mut self, root: DeTable<'_>) -> Layer {
        let mut layer = Layer::default();
        for (key, value) in root {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "gateway" => {
                    if let Some(table) = self.table("[gateway]", value) {
                        layer.gateway = self.gateway(table);
                    }
                }
                "servers" => {
                    if let Some(table) = self.table("[servers]", value) {
                        self.servers(table, &mut layer);
                    }
                }
                "route" => self.routes(value, &mut layer),
                "auth" => layer.auth = Some(self.auth(self.pos(key_at), value)),
                "policy" => self.policies(value, &mut layer),
                other => {
                    let hint = if GATEWAY_KEYS.contains(&other) {
                        format!("; `{other}` belongs in [gateway]")
                    } else if AUTH_KEYS.contains(&other) {
                        format!("; `{other}` belongs in [auth]")
                    } else if JWT_KEYS.contains(&other) {
                        format!("; `{other}` belongs in [auth.jwt]")
                    } else {
                        suggest::hint(other, TOP_KEYS)
                    };
                    self.error(key_at, format!("unknown top-level key `{other}`{hint}"));
                }
            }
        }
        layer
    }

    /// `value` as a table, or an error saying that a table was expected.
    fn table<'i>(&mut self, what: &str, value: Spanned<DeValue<'i>>) -> Option<DeTable<'i>> {
        let at = value.span().start;
        match value.into_inner() {
            DeValue::Table(table) => Some(table),
            other => {
                self.error(at, format!("{what} must be a table, found {}", a(other.type_str())));
                None
            }
        }
    }

    fn gateway(&mut self, table: DeTable<'_>) -> GatewayLayer {
        let mut g = GatewayLayer::default();
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("gateway.{name}");
            match name {
                "listen" => g.listen = self.value(&path, value),
                "separator" => g.separator = self.value(&path, value),
                "prefix" => g.prefix = self.value(&path, value),
                "state_dir" => g.state_dir = self.value(&path, value),
                "max_message_size" => {
                    g.max_message_size = self.value(&path, value).map(|v| v.map(|SizeValue(n)| n));
                }
                "max_name_length" => g.max_name_length = self.value(&path, value),
                "server_name" => g.server_name = self.value(&path, value),
                "allowed_origins" => g.allowed_origins = self.value(&path, value),
                "request_timeout" => g.request_timeout = self.duration(&path, value),
                "init_timeout" => g.init_timeout = self.duration(&path, value),
                "shutdown_grace" => g.shutdown_grace = self.duration(&path, value),
                "session_idle_timeout" => g.session_idle_timeout = self.duration(&path, value),
                "health_interval" => g.health_interval = self.duration(&path, value),
                "health_timeout" => g.health_timeout = self.duration(&path, value),
                "health_failures" => g.health_failures = self.value(&path, value),
                "admin_listen" => g.admin_listen = self.value(&path, value),
                "admin_token" => g.admin_token = self.value(&path, value),
                "max_concurrency" => g.max_concurrency = self.value(&path, value),
                "rate_limit" => g.rate_limit = self.rate(&path, value),
                "max_request_time" => g.max_request_time = self.duration(&path, value),
                "retry_budget" => g.retry_budget = self.percent(&path, value),
                "route_cache_ttl" => g.route_cache_ttl = self.duration(&path, value),
                "allow_unauthenticated" => g.allow_unauthenticated = self.value(&path, value),
                "audit_log" => g.audit_log = self.value(&path, value),
                "audit_arguments" => g.audit_arguments = self.value(&path, value),
                "max_sessions" => g.max_sessions = self.value(&path, value),
                "max_json_depth" => g.max_json_depth = self.value(&path, value),
                "tls_cert" => g.tls_cert = self.value(&path, value),
                "tls_key" => g.tls_key = self.value(&path, value),
                "tls_client_ca" => g.tls_client_ca = self.value(&path, value),
                "max_connections" => g.max_connections = self.value(&path, value),
                "max_header_size" => {
                    g.max_header_size = self.value(&path, value).map(|v| v.map(|SizeValue(n)| n));
                }
                "read_timeout" => g.read_timeout = self.duration(&path, value),
                "write_timeout" => g.write_timeout = self.duration(&path, value),
                "keepalive" => g.keepalive = self.duration(&path, value),
                "worker_threads" => g.worker_threads = self.value(&path, value),
                other => {
                    let hint = key_hint(other, GATEWAY_KEYS, SERVER_KEYS, "a [servers.<id>] table");
                    self.error(key_at, format!("unknown key `{other}` in [gateway]{hint}"));
                }
            }
        }
        g
    }

    fn servers(&mut self, table: DeTable<'_>, layer: &mut Layer) {
        for (key, value) in table {
            let key_at = key.span().start;
            let id = key.get_ref().as_ref();
            let valid = is_valid_server_id(id);
            if !valid {
                self.error(
                    key_at,
                    format!(
                        "invalid server id `{id}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
                         (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
                    ),
                );
            }
            let Some(table) = self.table(&format!("[servers.{id}]"), value) else {
                continue;
            };
            let errors_before = self.errors.len();
            let mut server = self.server(id, table, self.pos(key_at));
            server.broken = self.errors.len() > errors_before;
            if valid {
                layer.servers.insert(id.to_owned(), server);
            }
        }
    }

    fn server(&mut self, id: &str, table: DeTable<'_>, defined_at: Pos) -> ServerLayer {
        let mut s = ServerLayer::new(defined_at);
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("servers.{id}.{name}");
            match name {
                "transport" => s.transport = self.value(&path, value),
                "command" => s.command = self.value(&path, value),
                "args" => s.args = self.value(&path, value),
                "env" => s.env = self.value(&path, value),
                "cwd" => s.cwd = self.value(&path, value),
                "url" => s.url = self.value(&path, value),
                "headers" => s.headers = self.value(&path, value),
                "ca_file" => s.ca_file = self.value(&path, value),
                "request_timeout" => s.request_timeout = self.duration(&path, value),
                "health_interval" => s.health_interval = self.duration(&path, value),
                "health_timeout" => s.health_timeout = self.duration(&path, value),
                "health_failures" => s.health_failures = self.value(&path, value),
                "enabled" => s.enabled = self.value(&path, value),
                "required" => s.required = self.value(&path, value),
                "replicas" => s.replicas = self.value(&path, value),
                "urls" => s.urls = self.urls(&path, value),
                "balance" => {
                    s.balance = self.keyword(&path, value, |v| {
                        Balance::parse(v)
                            .ok_or_else(|| format!("unknown strategy \"{v}\"{}", suggest::hint(v, BALANCE_STRATEGIES)))
                    });
                }
                "affinity" => {
                    s.affinity = self.keyword(&path, value, |v| {
                        Affinity::parse(v)
                            .ok_or_else(|| format!("unknown affinity \"{v}\"{}", suggest::hint(v, AFFINITIES)))
                    });
                }
                "hash_key" => s.hash_key = self.keyword(&path, value, hash_key),
                "isolation" => {
                    s.isolation = self.keyword(&path, value, |v| {
                        Isolation::parse(v)
                            .ok_or_else(|| format!("unknown isolation \"{v}\"{}", suggest::hint(v, ISOLATIONS)))
                    });
                }
                "max_processes" => s.max_processes = self.value(&path, value),
                "process_idle_timeout" => s.process_idle_timeout = self.duration(&path, value),
                "allow_tools" => s.allow_tools = self.globs(&path, value),
                "deny_tools" => s.deny_tools = self.globs(&path, value),
                "rename_tools" => {
                    s.rename_tools =
                        self.entries(&path, value, |r, _, entry_path, _, value| r.value(entry_path, value));
                }
                "timeouts" => {
                    s.timeouts = self.entries(&path, value, |r, method, entry_path, key_at, value| {
                        if REQUEST_METHODS.contains(&method) {
                            r.duration(entry_path, value)
                        } else {
                            let hint = suggest::hint(method, REQUEST_METHODS);
                            r.error(key_at, format!("unknown method `{method}` in servers.{id}.timeouts{hint}"));
                            None
                        }
                    });
                }
                "max_request_time" => s.max_request_time = self.duration(&path, value),
                "retries" => s.retries = self.value(&path, value),
                "breaker" => s.breaker = self.breaker(id, value),
                "max_concurrency" => s.max_concurrency = self.value(&path, value),
                "rate_limit" => s.rate_limit = self.rate(&path, value),
                "tool_rate_limits" => {
                    s.tool_rate_limits =
                        self.entries(&path, value, |r, _, entry_path, _, value| r.rate(entry_path, value));
                }
                "description" => s.description = self.value(&path, value),
                other => {
                    let hint = key_hint(other, SERVER_KEYS, GATEWAY_KEYS, "[gateway]");
                    self.error(key_at, format!("unknown key `{other}` in [servers.{id}]{hint}"));
                }
            }
        }
        s
    }

    /// `[servers.<id>.breaker]`, a table of its own or an inline one.
    fn breaker(&mut self, id: &str, value: Spanned<DeValue<'_>>) -> BreakerLayer {
        let mut b = BreakerLayer::default();
        let Some(table) = self.table(&format!("[servers.{id}.breaker]"), value) else {
            return b;
        };
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("servers.{id}.breaker.{name}");
            match name {
                "failures" => b.failures = self.value(&path, value),
                "failure_rate" => b.failure_rate = self.percent(&path, value),
                "min_requests" => b.min_requests = self.value(&path, value),
                "window" => b.window = self.duration(&path, value),
                "open_for" => b.open_for = self.duration(&path, value),
                other => {
                    let hint = suggest::hint(other, BREAKER_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in [servers.{id}.breaker]{hint}"));
                }
            }
        }
        b
    }

    /// `urls`: an array whose items are URLs or `{ url = "...", weight = 2 }`.
    /// `None` when any item could not be read.
    fn urls(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<At<Endpoint>>>> {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(
                    at,
                    format!(
                        "{path}: expected an array of URLs, such as \
                         [\"https://a/mcp\", {{ url = \"https://b/mcp\", weight = 2 }}], found {found}"
                    ),
                );
                return None;
            }
        };
        let mut endpoints = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{path}[{i}]");
            let span = item.span();
            let endpoint = match item.into_inner() {
                DeValue::Table(table) => self.endpoint(&path, span.start, table),
                DeValue::String(url) => self
                    .value(&path, Spanned::new(span, DeValue::String(url)))
                    .map(|at| at.map(|url| Endpoint { url, weight: 1 })),
                other => {
                    let found = a(other.type_str());
                    self.error(
                        span.start,
                        format!(
                            "{path}: expected a URL or a table such as \
                             {{ url = \"https://host/mcp\", weight = 2 }}, found {found}"
                        ),
                    );
                    None
                }
            };
            match endpoint {
                Some(endpoint) => endpoints.push(endpoint),
                None => ok = false,
            }
        }
        ok.then(|| At { value: endpoints, pos: self.pos(at) })
    }

    /// One `{ url = "...", weight = 2 }` of `urls`, positioned at its URL.
    fn endpoint(&mut self, path: &str, at: usize, table: DeTable<'_>) -> Option<At<Endpoint>> {
        let errors_before = self.errors.len();
        let mut url: Option<At<String>> = None;
        let mut weight: Option<At<u32>> = None;
        for (key, value) in table {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "url" => url = self.value(&format!("{path}.url"), value),
                "weight" => weight = self.value(&format!("{path}.weight"), value),
                other => {
                    let hint = suggest::hint(other, ENDPOINT_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
                }
            }
        }
        if let Some(w) = &weight
            && w.value == 0
        {
            self.errors.push(ConfigError::at(&w.pos, format!("{path}.weight: expected at least 1")));
        }
        if url.is_none() && self.errors.len() == errors_before {
            self.error(
                at,
                format!("{path}: missing `url`: expected a table such as {{ url = \"https://host/mcp\", weight = 2 }}"),
            );
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let weight = weight.map_or(1, |w| w.value);
        url.map(|url| url.map(|url| Endpoint { url, weight }))
    }

    /// `[[route]]`: an array of tables, appended to the layer's routes.
    fn routes(&mut self, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(at, format!("`route` must be an array of tables (write [[route]]), found {found}"));
                return;
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let item_at = item.span().start;
            if let Some(table) = self.table(&format!("route[{index}]"), item) {
                let route = self.route(index, table, self.pos(item_at));
                layer.routes.push(route);
            }
        }
    }

    fn route(&mut self, index: usize, table: DeTable<'_>, at: Pos) -> RouteLayer {
        let mut r = RouteLayer::new(at, index);
        let errors_before = self.errors.len();
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("route[{index}].{name}");
            match name {
                "method" => r.method = self.glob(&path, value),
                "tool" => r.tool = self.glob(&path, value),
                "prompt" => r.prompt = self.glob(&path, value),
                "resource" => r.resource = self.glob(&path, value),
                "to" => r.to = self.value(&path, value),
                "deny" => r.deny = self.value(&path, value),
                "reason" => r.reason = self.value(&path, value),
                other => {
                    let hint = suggest::hint(other, ROUTE_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in [[route]]{hint}"));
                }
            }
        }
        r.broken = self.errors.len() > errors_before;
        r
    }

    /// `[auth]`, positioned at `at` (its key). A value that is not a table
    /// still counts as an `[auth]` (a broken one): the gateway is not
    /// reported as open to everyone on top of the real mistake.
    fn auth(&mut self, at: Pos, value: Spanned<DeValue<'_>>) -> AuthLayer {
        let mut auth = AuthLayer::new(at);
        let errors_before = self.errors.len();
        if let Some(table) = self.table("[auth]", value) {
            for (key, value) in table {
                let key_at = key.span().start;
                let name = key.get_ref().as_ref();
                let path = format!("auth.{name}");
                match name {
                    "api_keys" => auth.api_keys = self.api_keys(&path, value),
                    "jwt" => auth.jwt = self.jwt(self.pos(key_at), value),
                    "resource" => auth.resource = self.value(&path, value),
                    "authorization_servers" => auth.authorization_servers = self.strings(&path, value),
                    "scopes_supported" => auth.scopes_supported = self.value(&path, value),
                    other => {
                        let hint = key_hint(other, AUTH_KEYS, JWT_KEYS, "[auth.jwt]");
                        self.error(key_at, format!("unknown key `{other}` in [auth]{hint}"));
                    }
                }
            }
        }
        auth.broken = self.errors.len() > errors_before;
        auth
    }

    /// `[auth.jwt]`, a table of its own or an inline one.
    fn jwt(&mut self, at: Pos, value: Spanned<DeValue<'_>>) -> Option<JwtLayer> {
        let table = self.table("[auth.jwt]", value)?;
        let mut jwt = JwtLayer::new(at);
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("auth.jwt.{name}");
            match name {
                "algorithms" => jwt.algorithms = self.strings(&path, value),
                "secret" => jwt.secret = self.value(&path, value),
                "public_key_file" => jwt.public_key_file = self.value(&path, value),
                "jwks_url" => jwt.jwks_url = self.value(&path, value),
                "jwks_refresh" => jwt.jwks_refresh = self.duration(&path, value),
                "issuer" => jwt.issuer = self.value(&path, value),
                "audience" => jwt.audience = self.value(&path, value),
                "subject_claim" => jwt.subject_claim = self.value(&path, value),
                "roles_claim" => jwt.roles_claim = self.value(&path, value),
                "leeway" => jwt.leeway = self.duration(&path, value),
                other => {
                    let hint = key_hint(other, JWT_KEYS, AUTH_KEYS, "[auth]");
                    self.error(key_at, format!("unknown key `{other}` in [auth.jwt]{hint}"));
                }
            }
        }
        Some(jwt)
    }

    /// `api_keys`: an array of `{ name = "...", sha256 = "...", roles = [...] }`.
    /// `None` when any item could not be read.
    fn api_keys(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<ApiKeyLayer>>> {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(
                    at,
                    format!("{path}: expected an array of tables such as [{API_KEY_EXAMPLE}], found {found}"),
                );
                return None;
            }
        };
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("{path}[{i}]");
            let span = item.span();
            let key = match item.into_inner() {
                DeValue::Table(table) => self.api_key(&path, span.start, table),
                other => {
                    let found = a(other.type_str());
                    self.error(
                        span.start,
                        format!("{path}: expected a table such as {API_KEY_EXAMPLE}, found {found}"),
                    );
                    None
                }
            };
            match key {
                Some(key) => keys.push(key),
                None => ok = false,
            }
        }
        ok.then(|| At { value: keys, pos: self.pos(at) })
    }

    /// One entry of `api_keys`; `at`: where its table starts.
    fn api_key(&mut self, path: &str, at: usize, table: DeTable<'_>) -> Option<ApiKeyLayer> {
        let errors_before = self.errors.len();
        let mut name: Option<At<String>> = None;
        let mut sha256: Option<At<String>> = None;
        let mut roles: Option<At<Vec<String>>> = None;
        for (key, value) in table {
            let key_at = key.span().start;
            match key.get_ref().as_ref() {
                "name" => name = self.value(&format!("{path}.name"), value),
                "sha256" => sha256 = self.value(&format!("{path}.sha256"), value),
                "roles" => roles = self.value(&format!("{path}.roles"), value),
                other => {
                    let hint = suggest::hint(other, API_KEY_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in {path}{hint}"));
                }
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let missing = match (&name, &sha256) {
            (None, _) => Some("`name`: who the key is, as policies and the audit log name it"),
            (_, None) => Some("`sha256`: the key's SHA-256 in hex (make one with: printf %s \"$KEY\" | sha256sum)"),
            _ => None,
        };
        if let Some(missing) = missing {
            self.error(at, format!("{path}: missing {missing}; expected a table such as {API_KEY_EXAMPLE}"));
        }
        Some(ApiKeyLayer { name: name?, sha256: sha256?, roles: roles.map_or_else(Vec::new, |at| at.value) })
    }

    /// `[[policy]]`: an array of tables, appended to the layer's policies.
    fn policies(&mut self, value: Spanned<DeValue<'_>>, layer: &mut Layer) {
        let at = value.span().start;
        let items = match value.into_inner() {
            DeValue::Array(items) => items,
            other => {
                let found = a(other.type_str());
                self.error(at, format!("`policy` must be an array of tables (write [[policy]]), found {found}"));
                return;
            }
        };
        for (index, item) in items.into_iter().enumerate() {
            let item_at = item.span().start;
            if let Some(table) = self.table(&format!("policy[{index}]"), item) {
                let policy = self.policy(index, table, self.pos(item_at));
                layer.policies.push(policy);
            }
        }
    }

    fn policy(&mut self, index: usize, table: DeTable<'_>, at: Pos) -> PolicyLayer {
        let mut p = PolicyLayer::new(at, index);
        let errors_before = self.errors.len();
        for (key, value) in table {
            let key_at = key.span().start;
            let name = key.get_ref().as_ref();
            let path = format!("policy[{index}].{name}");
            match name {
                "roles" => p.roles = self.value(&path, value),
                "principals" => p.principals = self.value(&path, value),
                "allow" => p.allow = self.globs(&path, value),
                "deny" => p.deny = self.globs(&path, value),
                other => {
                    let hint = suggest::hint(other, POLICY_KEYS);
                    self.error(key_at, format!("unknown key `{other}` in [[policy]]{hint}"));
                }
            }
        }
        p.broken = self.errors.len() > errors_before;
        p
    }

    /// A table whose entries are read one by one by `read(self, name,
    /// path, key offset, value)`; an entry it cannot read is left out.
    fn entries<'i, T>(
        &mut self,
        path: &str,
        value: Spanned<DeValue<'i>>,
        mut read: impl FnMut(&mut Self, &str, &str, usize, Spanned<DeValue<'i>>) -> Option<At<T>>,
    ) -> Option<At<Entries<T>>> {
        let at = value.span().start;
        let table = match value.into_inner() {
            DeValue::Table(table) => table,
            other => {
                self.error(at, format!("{path}: expected a table, found {}", a(other.type_str())));
                return None;
            }
        };
        let mut entries = Entries::new();
        for (key, value) in table {
            let name = key.get_ref().as_ref();
            if let Some(entry) = read(self, name, &key_path(path, name), key.span().start, value) {
                entries.insert(name.to_owned(), entry);
            }
        }
        Some(At { value: entries, pos: self.pos(at) })
    }

    /// A string read through `parse`, whose complaint is reported at the value.
    fn keyword<T>(
        &mut self,
        path: &str,
        value: Spanned<DeValue<'_>>,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<At<T>> {
        let text: At<String> = self.value(path, value)?;
        match parse(&text.value) {
            Ok(v) => Some(At { value: v, pos: text.pos }),
            Err(why) => {
                self.errors.push(ConfigError::at(&text.pos, format!("{path}: {why}")));
                None
            }
        }
    }

    /// One glob.
    fn glob(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<String>> {
        self.keyword(path, value, |v| glob_problem(v).map(|()| v.to_owned()))
    }

    /// An array of globs, each one checked at its own position.
    fn globs(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<String>>> {
        let starts: Vec<usize> = match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| item.span().start).collect(),
            _ => Vec::new(),
        };
        let globs: At<Vec<String>> = self.value(path, value)?;
        let mut ok = true;
        for (i, glob) in globs.value.iter().enumerate() {
            if let Err(why) = glob_problem(glob) {
                let pos = starts.get(i).map_or_else(|| globs.pos.clone(), |&at| self.pos(at));
                self.errors.push(ConfigError::at(&pos, format!("{path}[{i}]: {why}")));
                ok = false;
            }
        }
        ok.then_some(globs)
    }

    /// An array of strings, each positioned at its own value.
    fn strings(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<Vec<At<String>>>> {
        let starts: Vec<usize> = match value.get_ref() {
            DeValue::Array(items) => items.iter().map(|item| item.span().start).collect(),
            _ => Vec::new(),
        };
        let strings: At<Vec<String>> = self.value(path, value)?;
        let pos = strings.pos.clone();
        let items = strings.value.into_iter().enumerate().map(|(i, value)| {
            let pos = starts.get(i).map_or_else(|| pos.clone(), |&at| self.pos(at));
            At { value, pos }
        });
        Some(At { value: items.collect(), pos })
    }

    fn duration(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<std::time::Duration>> {
        self.value(path, value).map(|v| v.map(|DurationValue(d)| d))
    }

    fn rate(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<RateLimit>> {
        self.value(path, value).map(|v| v.map(|RateValue(r)| r))
    }

    fn percent(&mut self, path: &str, value: Spanned<DeValue<'_>>) -> Option<At<u32>> {
        self.value(path, value).map(|v| v.map(|PercentValue(p)| p))
    }

    /// Substitutes `${VAR}`s in `value`, then reads it as a `T`. Errors are
    /// recorded at the value (or the part of it that is wrong).
    fn value<T: DeserializeOwned>(&mut self, path: &str, mut value: Spanned<DeValue<'_>>) -> Option<At<T>> {
        let at = value.span().start;
        if !self.substitute(path, &mut value) {
            return None;
        }
        match T::deserialize(ValueDeserializer::from(value)) {
            Ok(v) => Some(At { value: v, pos: self.pos(at) }),
            Err(e) => {
                let offset = e.span().map_or(at, |s| s.start);
                self.error(offset, format!("{path}: {}", e.message()));
                None
            }
        }
    }

    /// Substitutes in every string inside `value`; false if any failed.
    fn substitute(&mut self, path: &str, value: &mut Spanned<DeValue<'_>>) -> bool {
        let span = value.span();
        match value.get_mut() {
            DeValue::String(s) => match env::substitute(s, self.env) {
                Ok(expanded) => {
                    if expanded != **s {
                        *s = Cow::Owned(expanded);
                    }
                    true
                }
                Err(errors) => {
                    for e in errors {
                        let offset = self.offset_in_string(span.clone(), e.index);
                        self.error(offset, format!("{path}: {}", e.message));
                    }
                    false
                }
            },
            DeValue::Array(items) => {
                let mut ok = true;
                for (i, item) in items.iter_mut().enumerate() {
                    ok &= self.substitute(&format!("{path}[{i}]"), item);
                }
                ok
            }
            DeValue::Table(table) => {
                let mut ok = true;
                for (key, item) in table.iter_mut() {
                    ok &= self.substitute(&format!("{path}.{}", key.get_ref()), item);
                }
                ok
            }
            DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => true,
        }
    }

    /// The source offset of byte `index` of a string's value. Exact for
    /// single-line strings without escapes (the common case); otherwise the
    /// start of the string.
    fn offset_in_string(&self, span: Range<usize>, index: usize) -> usize {
        let raw = self.text.get(span.clone()).unwrap_or("");
        let exact = !raw.starts_with("\"\"\"")
            && !raw.starts_with("'''")
            && (raw.starts_with('\'') || (raw.starts_with('"') && !raw.contains('\\')));
        if exact { span.start + 1 + index } else { span.start }
    }
}

/// `hash_key`: one of [`HASH_KEY_FORMS`].
fn hash_key(v: &str) -> Result<HashKey, String> {
    match HashKey::parse(v) {
        Some(key) => Ok(key),
        None if v == "arg:" => {
            Err("\"arg:\" names no argument: expected arg:<name>, such as \"arg:user_id\"".to_owned())
        }
        None => Err(format!("unknown hash key \"{v}\"{}", suggest::hint(v, HASH_KEY_FORMS))),
    }
}

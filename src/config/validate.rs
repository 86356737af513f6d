//! Checks on the merged configuration, and the step from layers to [`Config`].
//!
//! Per-file reading has already checked syntax, keys and value types; what is
//! left needs the merged view (a later file may supply what an earlier one
//! lacks) or a value's meaning: addresses, names, ranges, and which keys go
//! with which transport. Each error points at the value that set it, so it
//! names the right file even after a merge.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::document::key_path;
use super::error::{ConfigError, Pos};
use super::layer::{
    ApiKeyLayer, At, AuthLayer, BreakerLayer, Entries, GatewayLayer, JwtLayer, Layer, PolicyLayer, RouteLayer,
    ServerLayer,
};
use super::suggest;
use super::{
    Affinity, ApiKey, AuthConfig, BUILTIN_PRINCIPALS, Balance, BreakerConfig, Config, DEFAULT_HEALTH_FAILURES,
    DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT, DEFAULT_INIT_TIMEOUT, DEFAULT_KEEPALIVE, DEFAULT_LISTEN,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_SIZE, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_MAX_NAME_LENGTH, DEFAULT_MAX_PROCESSES, DEFAULT_MAX_REQUEST_TIME, DEFAULT_MAX_SESSIONS,
    DEFAULT_PROCESS_IDLE_TIMEOUT, DEFAULT_READ_TIMEOUT, DEFAULT_REQUEST_TIMEOUT, DEFAULT_RETRIES,
    DEFAULT_RETRY_BUDGET_PERCENT, DEFAULT_ROUTE_CACHE_TTL, DEFAULT_SEPARATOR, DEFAULT_SERVER_NAME,
    DEFAULT_SESSION_IDLE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_STATE_DIR, DEFAULT_WRITE_TIMEOUT, GatewayConfig,
    HashKey, Isolation, JWT_ALGORITHMS, JwtConfig, MAX_MAX_JSON_DEPTH, MIN_JWT_SECRET_BYTES, MIN_MAX_HEADER_SIZE,
    MIN_MAX_JSON_DEPTH, MIN_MAX_NAME_LENGTH, Policy, PrefixMode, RouteAction, RouteRule, ServerConfig, TransportKind,
};

/// The most `retries` a server may have.
const MAX_RETRIES: u32 = 10;

/// Validates `layer` and fills in defaults. Problems are appended to `errors`;
/// the returned `Config` is only meaningful when none were.
pub(crate) fn finish(
    layer: Layer,
    sources: Vec<PathBuf>,
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Config {
    let mut check = Check {
        errors: Vec::new(),
        env,
        merged: sources.len() > 1,
        fallback_file: sources.first().map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string()),
    };
    let server_ids: Vec<String> = layer.servers.keys().cloned().collect();
    let gateway = check.gateway(layer.gateway, layer.auth.is_some());
    let servers = layer
        .servers
        .into_iter()
        .map(|(id, server)| {
            let server = check.server(&id, server, &gateway.separator);
            (id, server)
        })
        .collect();
    let ids: Vec<&str> = server_ids.iter().map(String::as_str).collect();
    let routes = layer.routes.into_iter().filter_map(|route| check.route(route, &ids)).collect();
    let auth = layer.auth.map(|auth| check.auth(auth));
    let policies = layer.policies.into_iter().filter_map(|policy| check.policy(policy)).collect();
    errors.extend(check.errors);
    Config { gateway, servers, routes, auth, policies, sources }
}

struct Check<'a> {
    errors: Vec<ConfigError>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// More than one file: say so where an error is about the combination.
    merged: bool,
    /// Named by errors about defaults, which have no position.
    fallback_file: String,
}

/// The value, or `default` when no file set it.
fn or<T>(value: Option<At<T>>, default: T) -> T {
    value.map_or(default, |at| at.value)
}

/// A table's entries without their positions (empty when no file set it).
fn values<T>(entries: Option<At<Entries<T>>>) -> BTreeMap<String, T> {
    entries.map(|at| at.value.into_iter().map(|(k, v)| (k, v.value)).collect()).unwrap_or_default()
}

impl Check<'_> {
    fn fail(&mut self, pos: &Pos, message: String) {
        self.errors.push(ConfigError::at(pos, message));
    }

    /// Runs `test` on the value, if set, and records its complaint.
    fn expect<T>(&mut self, at: &Option<At<T>>, path: &str, test: impl FnOnce(&T) -> Result<(), String>) {
        if let Some(at) = at
            && let Err(why) = test(&at.value)
        {
            self.fail(&at.pos, format!("{path}: {why}"));
        }
    }

    fn in_merged(&self) -> &'static str {
        if self.merged { " (in the merged configuration)" } else { "" }
    }

    /// `[gateway]`; `has_auth`: the configuration has an `[auth]`.
    fn gateway(&mut self, g: GatewayLayer, has_auth: bool) -> GatewayConfig {
        self.expect(&g.listen, "gateway.listen", |v| listen_problem(v));
        let allow_unauthenticated = or(g.allow_unauthenticated.clone(), false);
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
        self.expect(&g.separator, "gateway.separator", |v| separator_problem(v));
        self.expect(&g.max_message_size, "gateway.max_message_size", |&v| {
            positive(v == 0, "a size of at least 1 byte, such as \"16MiB\"")
        });
        self.expect(&g.max_name_length, "gateway.max_name_length", |&v| {
            if v < MIN_MAX_NAME_LENGTH {
                Err(format!("{v} is too small: expected at least {MIN_MAX_NAME_LENGTH} (room for a short hash)"))
            } else {
                Ok(())
            }
        });
        self.expect(&g.server_name, "gateway.server_name", |v| {
            positive(v.trim().is_empty(), "a non-empty name such as \"vmcp\"")
        });
        if let Some(origins) = &g.allowed_origins {
            for (i, origin) in origins.value.iter().enumerate() {
                if let Err(why) = check_origin(origin) {
                    let pos = origins.pos.clone();
                    self.fail(&pos, format!("gateway.allowed_origins[{i}]: {why}"));
                }
            }
        }
        self.expect(&g.request_timeout, "gateway.request_timeout", |v| non_zero(*v));
        self.expect(&g.init_timeout, "gateway.init_timeout", |v| non_zero(*v));
        self.expect(&g.session_idle_timeout, "gateway.session_idle_timeout", |v| non_zero(*v));
        self.expect(&g.health_timeout, "gateway.health_timeout", |v| non_zero(*v));
        self.expect(&g.admin_listen, "gateway.admin_listen", |v| match v.parse::<std::net::SocketAddr>() {
            Ok(a) if a.ip().is_loopback() => Ok(()),
            Ok(a) => Err(format!("{a} is not a loopback address: the admin API never listens beyond this machine")),
            Err(_) => Err(format!("expected an address such as \"127.0.0.1:3001\", not {v:?}")),
        });
        self.expect(&g.admin_token, "gateway.admin_token", |v| {
            if v.len() < 16 {
                Err("must be at least 16 characters (use ${VAR} to keep it out of the file)".to_owned())
            } else {
                Ok(())
            }
        });
        if let (Some(at), None) = (&g.admin_listen, &g.admin_token) {
            self.fail(
                &at.pos,
                "gateway.admin_listen needs gateway.admin_token: the admin API is never reachable over TCP without one"
                    .to_owned(),
            );
        }
        self.expect(&g.health_failures, "gateway.health_failures", |&v| {
            if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) }
        });
        self.expect(&g.max_request_time, "gateway.max_request_time", |v| non_zero(*v));
        self.expect(&g.max_sessions, "gateway.max_sessions", |&v| positive(v == 0, "at least 1"));
        self.expect(&g.max_connections, "gateway.max_connections", |&v| positive(v == 0, "at least 1"));
        self.expect(&g.max_header_size, "gateway.max_header_size", |&v| {
            positive(v < MIN_MAX_HEADER_SIZE, "at least \"1KiB\"")
        });
        self.expect(&g.read_timeout, "gateway.read_timeout", |v| non_zero(*v));
        self.expect(&g.write_timeout, "gateway.write_timeout", |v| non_zero(*v));
        self.expect(&g.keepalive, "gateway.keepalive", |v| non_zero(*v));
        self.expect(&g.worker_threads, "gateway.worker_threads", |&v| {
            positive(v > 1024, "a thread count from 0 (one per CPU core) to 1024")
        });
        self.expect(&g.max_json_depth, "gateway.max_json_depth", |&v| {
            if (MIN_MAX_JSON_DEPTH..=MAX_MAX_JSON_DEPTH).contains(&v) {
                Ok(())
            } else {
                Err(format!("{v} is out of range: expected a depth from {MIN_MAX_JSON_DEPTH} to {MAX_MAX_JSON_DEPTH}"))
            }
        });
        let audit_log = g.audit_log.map(|at| match at.value.as_str() {
            "" => {
                self.fail(
                    &at.pos,
                    "gateway.audit_log: must not be empty: expected a file path, or \"-\" for stderr".into(),
                );
                String::new()
            }
            "-" => at.value,
            path => path_string(self.expand_home(path, Some(&at.pos), "gateway.audit_log")),
        });
        let tls_cert = self.path(g.tls_cert.as_ref(), "gateway.tls_cert", "a PEM certificate chain file");
        let tls_key = self.path(g.tls_key.as_ref(), "gateway.tls_key", "a PEM private key file");
        let tls_client_ca =
            self.path(g.tls_client_ca.as_ref(), "gateway.tls_client_ca", "a PEM file of CA certificates");
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
        let state_dir = match g.state_dir {
            Some(at) if at.value.is_empty() => {
                self.fail(&at.pos, "gateway.state_dir: must not be empty: expected a directory".to_owned());
                PathBuf::new()
            }
            Some(at) => self.expand_home(&at.value, Some(&at.pos), "gateway.state_dir"),
            None => self.expand_home(DEFAULT_STATE_DIR, None, "gateway.state_dir"),
        };
        GatewayConfig {
            listen: or(g.listen, DEFAULT_LISTEN.to_owned()),
            separator: or(g.separator, DEFAULT_SEPARATOR.to_owned()),
            prefix: or(g.prefix, PrefixMode::default()),
            state_dir,
            max_message_size: or(g.max_message_size, DEFAULT_MAX_MESSAGE_SIZE),
            max_name_length: or(g.max_name_length, DEFAULT_MAX_NAME_LENGTH),
            server_name: or(g.server_name, DEFAULT_SERVER_NAME.to_owned()),
            allowed_origins: or(g.allowed_origins, Vec::new()),
            request_timeout: or(g.request_timeout, DEFAULT_REQUEST_TIMEOUT),
            init_timeout: or(g.init_timeout, DEFAULT_INIT_TIMEOUT),
            shutdown_grace: or(g.shutdown_grace, DEFAULT_SHUTDOWN_GRACE),
            session_idle_timeout: or(g.session_idle_timeout, DEFAULT_SESSION_IDLE_TIMEOUT),
            health_interval: or(g.health_interval, DEFAULT_HEALTH_INTERVAL),
            health_timeout: or(g.health_timeout, DEFAULT_HEALTH_TIMEOUT),
            health_failures: or(g.health_failures, DEFAULT_HEALTH_FAILURES),
            admin_listen: g.admin_listen.map(|at| at.value),
            admin_token: g.admin_token.map(|at| at.value),
            max_concurrency: or(g.max_concurrency, 0),
            rate_limit: g.rate_limit.map(|at| at.value),
            max_request_time: or(g.max_request_time, DEFAULT_MAX_REQUEST_TIME),
            retry_budget_percent: or(g.retry_budget, DEFAULT_RETRY_BUDGET_PERCENT),
            route_cache_ttl: or(g.route_cache_ttl, DEFAULT_ROUTE_CACHE_TTL),
            allow_unauthenticated,
            audit_log,
            audit_arguments: or(g.audit_arguments, false),
            max_sessions: or(g.max_sessions, DEFAULT_MAX_SESSIONS),
            max_json_depth: or(g.max_json_depth, DEFAULT_MAX_JSON_DEPTH),
            tls_cert,
            tls_key,
            tls_client_ca,
            max_connections: or(g.max_connections, DEFAULT_MAX_CONNECTIONS),
            max_header_size: or(g.max_header_size, DEFAULT_MAX_HEADER_SIZE),
            read_timeout: or(g.read_timeout, DEFAULT_READ_TIMEOUT),
            write_timeout: or(g.write_timeout, DEFAULT_WRITE_TIMEOUT),
            keepalive: or(g.keepalive, DEFAULT_KEEPALIVE),
            worker_threads: or(g.worker_threads, 0),
        }
    }

    /// A path to a file read elsewhere: non-empty, `~` expanded.
    fn path(&mut self, at: Option<&At<String>>, what: &str, expected: &str) -> Option<PathBuf> {
        let at = at?;
        if at.value.is_empty() {
            self.fail(&at.pos, format!("{what}: must not be empty: expected {expected}"));
            return Some(PathBuf::new());
        }
        Some(self.expand_home(&at.value, Some(&at.pos), what))
    }

    /// `[auth]`, checked and built. The checks that combine keys are skipped
    /// when some key could not be read.
    fn auth(&mut self, a: AuthLayer) -> AuthConfig {
        let merged = self.in_merged();
        let api_keys_pos = a.api_keys.as_ref().map(|keys| keys.pos.clone());
        let api_keys = a.api_keys.map(|keys| self.api_keys(keys.value)).unwrap_or_default();
        self.expect(&a.resource, "auth.resource", |v| check_http_url(v).and_then(|()| no_fragment(v)));
        for (i, server) in a.authorization_servers.iter().flat_map(|servers| servers.value.iter().enumerate()) {
            if let Err(why) = check_http_url(&server.value) {
                self.fail(&server.pos, format!("auth.authorization_servers[{i}]: {why}"));
            }
        }
        let jwt = a.jwt.map(|jwt| self.jwt(jwt, a.broken));
        if !a.broken && api_keys.is_empty() && jwt.is_none() {
            // At `api_keys = []` when that is what left it empty.
            let pos = api_keys_pos.unwrap_or(a.at);
            self.fail(&pos, format!("[auth] accepts nobody: add api_keys or [auth.jwt]{merged}"));
        }
        AuthConfig {
            api_keys,
            jwt,
            resource: a.resource.map(|at| at.value),
            authorization_servers: a
                .authorization_servers
                .map(|servers| servers.value.into_iter().map(|at| at.value).collect())
                .unwrap_or_default(),
            scopes_supported: or(a.scopes_supported, Vec::new()),
        }
    }

    /// `api_keys`: names non-empty, not built in, and distinct; hashes well
    /// formed and distinct.
    fn api_keys(&mut self, keys: Vec<ApiKeyLayer>) -> Vec<ApiKey> {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        let mut hashes: BTreeMap<String, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, key) in keys.into_iter().enumerate() {
            let path = format!("auth.api_keys[{i}]");
            let name = key.name.value;
            if name.trim().is_empty() {
                self.fail(&key.name.pos, format!("{path}.name: expected a non-empty name, such as \"ci\""));
            } else if BUILTIN_PRINCIPALS.contains(&name.as_str()) {
                self.fail(
                    &key.name.pos,
                    format!(
                        "{path}.name: \"{name}\" is the name of a built-in principal (\"local\": stdio clients; \
                         \"anonymous\": HTTP clients when there is no [auth]): choose another name"
                    ),
                );
            } else if let Some(first) = names.get(&name) {
                self.fail(
                    &key.name.pos,
                    format!(
                        "{path}.name: \"{name}\" is already the name of api_keys[{first}]: each key names one principal"
                    ),
                );
            } else {
                names.insert(name.clone(), i);
            }
            let sha256 = key.sha256.value.to_ascii_lowercase();
            if let Err(why) = sha256_problem(&sha256) {
                self.fail(&key.sha256.pos, format!("{path}.sha256: {why}"));
            } else if let Some(first) = hashes.get(&sha256) {
                self.fail(
                    &key.sha256.pos,
                    format!("{path}.sha256: the same key as api_keys[{first}]: each key must be different"),
                );
            } else {
                hashes.insert(sha256.clone(), i);
            }
            out.push(ApiKey { name, sha256, roles: key.roles });
        }
        out
    }

    /// `[auth.jwt]`, checked and built; `broken`: some key of `[auth]` could
    /// not be read, so the checks that combine keys are skipped.
    fn jwt(&mut self, j: JwtLayer, broken: bool) -> JwtConfig {
        let d = JwtConfig::default();
        let p = |key: &str| format!("auth.jwt.{key}");
        let errors_before = self.errors.len();
        if let Some(algorithms) = &j.algorithms {
            if algorithms.value.is_empty() {
                self.fail(
                    &algorithms.pos,
                    format!("{}: expected at least one of {}", p("algorithms"), JWT_ALGORITHMS.join(", ")),
                );
            }
            for (i, alg) in algorithms.value.iter().enumerate() {
                if !JWT_ALGORITHMS.contains(&alg.value.as_str()) {
                    let hint = match JWT_ALGORITHMS.iter().find(|known| known.eq_ignore_ascii_case(&alg.value)) {
                        Some(known) => format!("; did you mean `{known}`? (algorithm names are case-sensitive)"),
                        None => suggest::hint(&alg.value, JWT_ALGORITHMS),
                    };
                    self.fail(&alg.pos, format!("{}[{i}]: unknown algorithm \"{}\"{hint}", p("algorithms"), alg.value));
                }
            }
        }
        // Which keys the algorithms need is only worth saying of a valid list.
        let algorithms_ok = self.errors.len() == errors_before;
        let algorithms: Vec<String> = match &j.algorithms {
            Some(algorithms) => algorithms.value.iter().map(|at| at.value.clone()).collect(),
            None => d.algorithms.clone(),
        };
        self.expect(&j.secret, &p("secret"), |v| {
            if v.len() < MIN_JWT_SECRET_BYTES {
                Err(format!(
                    "an HS256 secret needs at least {MIN_JWT_SECRET_BYTES} bytes (this one has {}); \
                     use ${{VAR}} to keep it out of the file",
                    v.len()
                ))
            } else {
                Ok(())
            }
        });
        let public_key_file = self.path(j.public_key_file.as_ref(), &p("public_key_file"), "a PEM public key file");
        self.expect(&j.jwks_url, &p("jwks_url"), |v| check_http_url(v));
        self.expect(&j.jwks_refresh, &p("jwks_refresh"), |v| non_zero(*v));
        self.expect(&j.issuer, &p("issuer"), |v| positive(v.is_empty(), "a non-empty issuer"));
        self.expect(&j.subject_claim, &p("subject_claim"), |v| positive(v.is_empty(), "a non-empty claim name"));
        self.expect(&j.roles_claim, &p("roles_claim"), |v| positive(v.is_empty(), "a non-empty claim name"));
        if !broken && algorithms_ok {
            self.jwt_keys(&j, &algorithms);
        }
        JwtConfig {
            algorithms,
            secret: j.secret.map(|at| at.value),
            public_key_file,
            jwks_url: j.jwks_url.map(|at| at.value),
            jwks_refresh: or(j.jwks_refresh, d.jwks_refresh),
            issuer: j.issuer.map(|at| at.value),
            audience: or(j.audience, d.audience),
            subject_claim: or(j.subject_claim, d.subject_claim),
            roles_claim: or(j.roles_claim, d.roles_claim),
            leeway: or(j.leeway, d.leeway),
        }
    }

    /// Each algorithm has its key, and each key its algorithm.
    fn jwt_keys(&mut self, j: &JwtLayer, algorithms: &[String]) {
        let merged = self.in_merged();
        let uses = |alg: &str| algorithms.iter().any(|a| a == alg);
        // Where a complaint about the algorithms goes: the list, or [auth.jwt] for the default one.
        let at_algorithms = j.algorithms.as_ref().map_or(&j.at, |at| &at.pos).clone();
        match (&j.secret, uses("HS256")) {
            (None, true) => self.fail(
                &at_algorithms,
                format!(
                    "auth.jwt.algorithms: HS256 needs auth.jwt.secret, the shared secret (at least \
                     {MIN_JWT_SECRET_BYTES} bytes; use ${{VAR}} to keep it out of the file){merged}"
                ),
            ),
            (Some(secret), false) => self.fail(
                &secret.pos,
                format!("auth.jwt.secret: secret is only used by HS256; add it to algorithms{merged}"),
            ),
            _ => {}
        }
        let public: Vec<&str> = ["RS256", "ES256"].into_iter().filter(|alg| uses(alg)).collect();
        match (&j.public_key_file, &j.jwks_url) {
            (None, None) if !public.is_empty() => {
                let (names, verb) = match public.as_slice() {
                    [one] => ((*one).to_owned(), "needs"),
                    many => (many.join(" and "), "need"),
                };
                self.fail(
                    &at_algorithms,
                    format!(
                        "auth.jwt.algorithms: {names} {verb} a public key: set auth.jwt.jwks_url (a JSON Web Key \
                         Set) or auth.jwt.public_key_file (a PEM file){merged}"
                    ),
                );
            }
            (Some(_), Some(url)) if !public.is_empty() => self.fail(
                &url.pos,
                format!(
                    "auth.jwt.jwks_url: give either jwks_url or public_key_file for {}, not both{merged}",
                    public.join(" and ")
                ),
            ),
            (file, url) if public.is_empty() => {
                for (key, at) in [("public_key_file", pos_of(file)), ("jwks_url", pos_of(url))] {
                    if let Some(pos) = at {
                        self.fail(
                            &pos,
                            format!(
                                "auth.jwt.{key}: {key} is only used by RS256 and ES256; add one to algorithms{merged}"
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// One `[[policy]]`, checked and built; `None` when it has a problem.
    fn policy(&mut self, p: PolicyLayer) -> Option<Policy> {
        if p.broken {
            return None;
        }
        let name = format!("policy[{}]", p.index);
        let empty = |list: &Option<At<Vec<String>>>| list.as_ref().is_none_or(|at| at.value.is_empty());
        let mut ok = true;
        if empty(&p.roles) && empty(&p.principals) {
            self.fail(&p.at, format!("{name}: names nobody: add roles or principals"));
            ok = false;
        }
        if empty(&p.allow) && empty(&p.deny) {
            self.fail(&p.at, format!("{name}: allows and denies nothing: add allow or deny"));
            ok = false;
        }
        ok.then(|| Policy {
            roles: or(p.roles, Vec::new()),
            principals: or(p.principals, Vec::new()),
            allow: or(p.allow, Vec::new()),
            deny: or(p.deny, Vec::new()),
        })
    }

    /// Expands a leading `~` or `~/` with `$HOME`.
    fn expand_home(&mut self, path: &str, pos: Option<&Pos>, what: &str) -> PathBuf {
        let rest = match path.strip_prefix('~') {
            Some("") => "",
            Some(rest) if rest.starts_with('/') => &rest[1..],
            _ => return PathBuf::from(path),
        };
        match (self.env)("HOME").filter(|home| !home.is_empty()) {
            Some(home) => PathBuf::from(home).join(rest),
            None => {
                let message = format!(
                    "{what}: cannot expand `~` in \"{path}\": HOME is not set; set HOME or use an absolute path"
                );
                match pos {
                    Some(pos) => self.fail(pos, message),
                    None => self.errors.push(ConfigError::in_file(
                        self.fallback_file.clone(),
                        format!("{message} (this is the default)"),
                    )),
                }
                PathBuf::from(path)
            }
        }
    }

    fn server(&mut self, id: &str, s: ServerLayer, separator: &str) -> ServerConfig {
        let p = |key: &str| format!("servers.{id}.{key}");
        let transport = s.transport.as_ref().map_or(TransportKind::Stdio, |t| t.value);
        let network = transport != TransportKind::Stdio;

        self.expect(&s.command, &p("command"), |v| {
            positive(v.trim().is_empty(), "the program to run, such as \"uvx\"")
        });
        if network {
            self.expect(&s.url, &p("url"), |v| check_url(transport, v));
            for (i, endpoint) in s.urls.iter().flat_map(|urls| urls.value.iter().enumerate()) {
                if let Err(why) = check_url(transport, &endpoint.value.url) {
                    self.fail(&endpoint.pos, format!("{}[{i}]: {why}", p("urls")));
                }
            }
        }
        self.expect(&s.replicas, &p("replicas"), |&v| positive(v == 0, "at least 1"));
        self.expect(&s.max_processes, &p("max_processes"), |&v| positive(v == 0, "at least 1"));
        self.expect(&s.process_idle_timeout, &p("process_idle_timeout"), |v| non_zero(*v));
        self.expect(&s.max_request_time, &p("max_request_time"), |v| non_zero(*v));
        self.expect(&s.retries, &p("retries"), |&v| {
            if v > MAX_RETRIES { Err(format!("{v} is too many: expected at most {MAX_RETRIES}")) } else { Ok(()) }
        });
        for (method, timeout) in s.timeouts.iter().flat_map(|timeouts| &timeouts.value) {
            if let Err(why) = non_zero(timeout.value) {
                self.fail(&timeout.pos, format!("{}: {why}", key_path(&p("timeouts"), method)));
            }
        }
        self.renames(id, &s, separator);
        self.breaker(id, &s.breaker);
        self.expect(&s.request_timeout, &p("request_timeout"), |v| non_zero(*v));
        self.expect(&s.health_timeout, &p("health_timeout"), |v| non_zero(*v));
        self.expect(&s.health_failures, &p("health_failures"), |&v| {
            if v == 0 { Err("must be at least 1".to_owned()) } else { Ok(()) }
        });
        if separator_problem(separator).is_ok() && id.contains(separator) {
            let pos = s.defined_at.clone();
            self.fail(
                &pos,
                format!(
                    "server id `{id}` contains the separator \"{separator}\": names like \
                     \"{id}{separator}tool\" would be ambiguous; rename the server or change gateway.separator"
                ),
            );
        }
        if !s.broken {
            self.transport_keys(id, transport, &s);
            self.group_keys(id, &s);
        }

        let cwd = s.cwd.map(|at| self.expand_home(&at.value, Some(&at.pos), &p("cwd")));
        let ca_file = s.ca_file.map(|at| self.expand_home(&at.value, Some(&at.pos), &p("ca_file")));
        ServerConfig {
            transport,
            command: s.command.map(|at| at.value),
            args: or(s.args, Vec::new()),
            env: or(s.env, BTreeMap::new()),
            cwd,
            ca_file,
            url: s.url.map(|at| at.value),
            headers: or(s.headers, BTreeMap::new()),
            request_timeout: s.request_timeout.map(|at| at.value),
            health_interval: s.health_interval.map(|at| at.value),
            health_timeout: s.health_timeout.map(|at| at.value),
            health_failures: s.health_failures.map(|at| at.value),
            enabled: or(s.enabled, true),
            required: or(s.required, false),
            replicas: or(s.replicas, 1),
            urls: s.urls.map(|at| at.value.into_iter().map(|endpoint| endpoint.value).collect()).unwrap_or_default(),
            balance: or(s.balance, Balance::default()),
            affinity: or(s.affinity, Affinity::default()),
            hash_key: or(s.hash_key, HashKey::default()),
            isolation: or(s.isolation, Isolation::default()),
            max_processes: or(s.max_processes, DEFAULT_MAX_PROCESSES),
            process_idle_timeout: or(s.process_idle_timeout, DEFAULT_PROCESS_IDLE_TIMEOUT),
            allow_tools: or(s.allow_tools, Vec::new()),
            deny_tools: or(s.deny_tools, Vec::new()),
            rename_tools: values(s.rename_tools),
            timeouts: values(s.timeouts),
            max_request_time: s.max_request_time.map(|at| at.value),
            retries: or(s.retries, DEFAULT_RETRIES),
            breaker: breaker_config(s.breaker),
            max_concurrency: or(s.max_concurrency, 0),
            rate_limit: s.rate_limit.map(|at| at.value),
            tool_rate_limits: values(s.tool_rate_limits),
            description: s.description.map(|at| at.value),
        }
    }

    /// `rename_tools`: every new name non-empty, free of the separator, and
    /// given to one tool only.
    fn renames(&mut self, id: &str, s: &ServerLayer, separator: &str) {
        let Some(renames) = &s.rename_tools else {
            return;
        };
        let base = format!("servers.{id}.rename_tools");
        let mut taken: BTreeMap<&str, &str> = BTreeMap::new();
        for (old, new) in &renames.value {
            let path = key_path(&base, old);
            let name = new.value.as_str();
            if name.is_empty() {
                self.fail(&new.pos, format!("{path}: expected a non-empty new name"));
            } else if separator_problem(separator).is_ok() && name.contains(separator) {
                self.fail(
                    &new.pos,
                    format!(
                        "{path}: \"{name}\" contains the separator \"{separator}\": exposed names like \
                         \"{id}{separator}{name}\" would be ambiguous"
                    ),
                );
            } else if let Some(first) = taken.get(name) {
                let message =
                    format!("{path}: \"{name}\" is already the new name of `{first}`: two tools cannot share a name");
                self.fail(&new.pos, message);
            } else {
                taken.insert(name, old);
            }
        }
    }

    fn breaker(&mut self, id: &str, b: &BreakerLayer) {
        let p = |key: &str| format!("servers.{id}.breaker.{key}");
        self.expect(&b.min_requests, &p("min_requests"), |&v| positive(v == 0, "at least 1"));
        self.expect(&b.window, &p("window"), |v| non_zero(*v));
        self.expect(&b.open_for, &p("open_for"), |v| non_zero(*v));
    }

    /// The keys of server groups that only go with certain others.
    fn group_keys(&mut self, id: &str, s: &ServerLayer) {
        let merged = self.in_merged();
        if let Some(hash_key) = &s.hash_key {
            let balance = s.balance.as_ref().map_or(Balance::default(), |at| at.value);
            if balance != Balance::ConsistentHash {
                self.fail(
                    &hash_key.pos,
                    format!(
                        "servers.{id}.hash_key: hash_key only applies to balance = \"consistent_hash\" \
                         (this server's balance is \"{}\"){merged}",
                        balance.as_str()
                    ),
                );
            }
        }
        if let (Some(replicas), Some(_)) = (&s.replicas, &s.urls)
            && replicas.value > 1
        {
            self.fail(
                &replicas.pos,
                format!(
                    "servers.{id}.replicas: replicas > 1 cannot go with `urls`: the replicas are the urls \
                     (one per endpoint){merged}"
                ),
            );
        }
    }

    /// One `[[route]]`, checked and built; `None` when it has a problem.
    fn route(&mut self, r: RouteLayer, servers: &[&str]) -> Option<RouteRule> {
        if r.broken {
            return None;
        }
        let errors_before = self.errors.len();
        let name = format!("route[{}]", r.index);
        let deny = r.deny.as_ref().is_some_and(|at| at.value);
        match (&r.to, deny) {
            (Some(_), true) => self.fail(&r.at, format!("{name}: give either `to` or `deny = true`, not both")),
            (None, false) => {
                self.fail(
                    &r.at,
                    format!("{name}: needs `to = \"<server id>\"` or `deny = true`: what to do with a match"),
                );
            }
            _ => {}
        }
        if r.method.is_none() && r.tool.is_none() && r.prompt.is_none() && r.resource.is_none() {
            self.fail(
                &r.at,
                format!(
                    "{name}: needs at least one of `method`, `tool`, `prompt`, `resource`: \
                     which requests it matches (method = \"*\" matches all)"
                ),
            );
        }
        if let Some(reason) = &r.reason
            && !deny
        {
            self.fail(&reason.pos, format!("{name}.reason: `reason` only goes with `deny = true`"));
        }
        if let Some(to) = &r.to
            && !servers.contains(&to.value.as_str())
        {
            let hint = if servers.is_empty() {
                "; no servers are configured".to_owned()
            } else {
                suggest::hint(&to.value, servers)
            };
            let merged = self.in_merged();
            self.fail(&to.pos, format!("{name}.to: no server `{}` is configured{merged}{hint}", to.value));
        }
        if self.errors.len() > errors_before {
            return None;
        }
        let action = match r.to {
            Some(to) if !deny => RouteAction::To(to.value),
            _ => RouteAction::Deny(r.reason.map(|at| at.value)),
        };
        Some(RouteRule {
            method: r.method.map(|at| at.value),
            tool: r.tool.map(|at| at.value),
            prompt: r.prompt.map(|at| at.value),
            resource: r.resource.map(|at| at.value),
            action,
        })
    }

    /// Which keys a transport needs and which it cannot use.
    fn transport_keys(&mut self, id: &str, transport: TransportKind, s: &ServerLayer) {
        let where_ = s.transport.as_ref().map_or(&s.defined_at, |t| &t.pos).clone();
        let merged = self.in_merged();
        if transport == TransportKind::Stdio {
            if s.command.is_none() {
                self.fail(
                    &where_,
                    format!(
                        "server `{id}`: transport \"stdio\" needs `command`, the program to run \
                         (such as command = \"uvx\"){merged}"
                    ),
                );
            }
            let misplaced = [
                ("url", pos_of(&s.url)),
                ("urls", pos_of(&s.urls)),
                ("headers", pos_of(&s.headers)),
                ("ca_file", pos_of(&s.ca_file)),
            ];
            for (key, pos) in misplaced {
                if let Some(pos) = pos {
                    self.fail(
                        &pos,
                        format!(
                            "servers.{id}.{key}: `{key}` is for http, sse and websocket servers, \
                             but this server's transport is \"stdio\" (set transport = \"http\" to reach it by URL)"
                        ),
                    );
                }
            }
        } else {
            match (&s.url, &s.urls) {
                (None, None) => {
                    let example =
                        if transport == TransportKind::Websocket { "wss://host/mcp" } else { "https://host/mcp" };
                    self.fail(
                        &where_,
                        format!(
                            "server `{id}`: transport \"{transport}\" needs `url` (such as url = \"{example}\") \
                             or `urls`{merged}"
                        ),
                    );
                }
                (Some(_), Some(urls)) => {
                    self.fail(&urls.pos, format!("servers.{id}.urls: give either `url` or `urls`, not both{merged}"));
                }
                (None, Some(urls)) if urls.value.is_empty() => {
                    self.fail(
                        &urls.pos,
                        format!("servers.{id}.urls: expected at least one URL, such as [\"https://host/mcp\"]"),
                    );
                }
                _ => {}
            }
            if let Some(isolation) = &s.isolation
                && isolation.value == Isolation::PerSession
            {
                self.fail(
                    &isolation.pos,
                    format!(
                        "servers.{id}.isolation: \"per_session\" (a process for each client session) is for stdio \
                         servers, but this server's transport is \"{transport}\"{merged}"
                    ),
                );
            }
            let misplaced = [
                ("command", pos_of(&s.command)),
                ("args", pos_of(&s.args)),
                ("env", pos_of(&s.env)),
                ("cwd", pos_of(&s.cwd)),
            ];
            for (key, pos) in misplaced {
                if let Some(pos) = pos {
                    self.fail(
                        &pos,
                        format!(
                            "servers.{id}.{key}: `{key}` is for stdio servers, but this server's \
                             transport is \"{transport}\" (it is reached at `url`)"
                        ),
                    );
                }
            }
        }
    }
}

/// The breaker's settings over its defaults.
fn breaker_config(b: BreakerLayer) -> BreakerConfig {
    let d = BreakerConfig::default();
    BreakerConfig {
        failures: or(b.failures, d.failures),
        failure_rate: or(b.failure_rate, d.failure_rate),
        min_requests: or(b.min_requests, d.min_requests),
        window: or(b.window, d.window),
        open_for: or(b.open_for, d.open_for),
    }
}

/// `gateway.listen`: an IP socket address, or `localhost:PORT`.
fn listen_problem(v: &str) -> Result<(), String> {
    if v.parse::<SocketAddr>().is_ok() || localhost_port(v).is_some() {
        Ok(())
    } else {
        Err(format!(
            "\"{v}\" is not a socket address: expected an IP address and port such as \"127.0.0.1:3000\" or \
             \"[::1]:3000\", or localhost:PORT (other host names are not accepted)"
        ))
    }
}

/// The port of `localhost:PORT`.
fn localhost_port(v: &str) -> Option<u16> {
    let (host, port) = v.rsplit_once(':')?;
    if host.eq_ignore_ascii_case("localhost") { port.parse().ok() } else { None }
}

/// Whether a listen address only accepts connections from this machine: an IP
/// address in 127.0.0.0/8, `::1` (or `::ffff:127.x.y.z`), or `localhost:PORT`.
/// Anything else, including what cannot be parsed, counts as reachable.
pub fn is_loopback_listen(listen: &str) -> bool {
    match listen.parse::<SocketAddr>() {
        Ok(addr) => addr.ip().to_canonical().is_loopback(),
        Err(_) => localhost_port(listen).is_some(),
    }
}

/// A path made of strings from the file (so valid UTF-8) back into a string.
fn path_string(path: PathBuf) -> String {
    path.into_os_string().into_string().unwrap_or_else(|os| Path::new(&os).display().to_string())
}

/// 64 hex digits.
fn sha256_problem(v: &str) -> Result<(), String> {
    const HOW: &str = "the key's SHA-256 as 64 hex characters; make one with: printf %s \"$KEY\" | sha256sum";
    if v.len() != 64 {
        Err(format!("expected {HOW} (this one has {} characters)", v.chars().count()))
    } else if !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        Err(format!("expected {HOW} (this one has characters other than 0-9 and a-f)"))
    } else {
        Ok(())
    }
}

/// An absolute `http://` or `https://` URL with a host.
fn check_http_url(url: &str) -> Result<(), String> {
    check_url(TransportKind::Http, url)
        .map_err(|_| format!("\"{url}\" is not an absolute http(s) URL: expected one such as \"https://host/path\""))
}

/// RFC 8707: a resource indicator has no fragment.
fn no_fragment(url: &str) -> Result<(), String> {
    if url.contains('#') {
        Err(format!("\"{url}\" has a fragment (#...): a resource URI cannot have one"))
    } else {
        Ok(())
    }
}

fn separator_problem(v: &str) -> Result<(), String> {
    if v.is_empty() {
        Err("must not be empty: expected 1 to 8 characters such as \"__\"".to_owned())
    } else if v.chars().count() > 8 {
        Err(format!("\"{v}\" is too long: expected at most 8 characters"))
    } else if v.chars().any(char::is_whitespace) {
        Err(format!("\"{v}\" contains whitespace: expected visible characters such as \"__\""))
    } else {
        Ok(())
    }
}

fn pos_of<T>(at: &Option<At<T>>) -> Option<Pos> {
    at.as_ref().map(|at| at.pos.clone())
}

fn positive(bad: bool, expected: &str) -> Result<(), String> {
    if bad { Err(format!("expected {expected}")) } else { Ok(()) }
}

fn non_zero(d: Duration) -> Result<(), String> {
    positive(d.is_zero(), "a duration greater than zero, such as \"30s\"")
}

/// A URL of the scheme the transport speaks, with something after the scheme.
fn check_url(transport: TransportKind, url: &str) -> Result<(), String> {
    let (plain, secure) = match transport {
        TransportKind::Websocket => ("ws://", "wss://"),
        _ => ("http://", "https://"),
    };
    let rest = url.strip_prefix(plain).or_else(|| url.strip_prefix(secure));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(()),
        Some(_) => Err(format!("\"{url}\" has no host: expected a URL such as \"{secure}host/mcp\"")),
        None => Err(format!("\"{url}\" is not a {transport} URL: expected one starting with {plain} or {secure}")),
    }
}

/// An Origin header value: `scheme://host[:port]`, nothing after.
fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => Ok(()),
        _ => Err(format!(
            "\"{origin}\" is not an origin: expected scheme://host[:port] with no path, \
             such as \"https://app.example.com\""
        )),
    }
}

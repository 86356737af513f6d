//! Tests of the whole module through its public entry points: what a user
//! writes, and what they get back (values, or errors with positions).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::keys::{
    API_KEY_KEYS, AUTH_KEYS, BREAKER_KEYS, GATEWAY_KEYS, JWT_KEYS, POLICY_KEYS, ROUTE_KEYS, SERVER_KEYS,
};
use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "TZ" => Some("Europe/Paris".into()),
        "TOKEN" => Some("s3cret".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    parse_str("t.toml", text, &env)
}

/// The errors of a document that must fail, as displayed lines.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

/// The one error of a document that must fail with exactly one.
fn error(text: &str) -> String {
    let all = errors(text);
    assert_eq!(all.len(), 1, "expected one error, got {all:#?}");
    all[0].clone()
}

fn ok(text: &str) -> Config {
    match parse(text) {
        Ok(config) => config,
        Err(errors) => panic!("unexpected errors:\n{errors}"),
    }
}

const STDIO: &str = "[servers.time]\ncommand = \"uvx\"\n";

#[test]
fn empty_document_gives_the_defaults() {
    let config = ok("");
    let g = &config.gateway;
    assert_eq!(g.listen, "127.0.0.1:3000");
    assert_eq!(g.separator, "__");
    assert_eq!(g.prefix, PrefixMode::Always);
    assert_eq!(g.state_dir, PathBuf::from("/home/u/.local/state/vmcp"));
    assert_eq!(g.max_message_size, 16 * 1024 * 1024);
    assert_eq!(g.max_name_length, 64);
    assert_eq!(g.server_name, "vmcp");
    assert!(g.allowed_origins.is_empty());
    assert_eq!(g.request_timeout, Duration::from_secs(60));
    assert_eq!(g.init_timeout, Duration::from_secs(30));
    assert_eq!(g.shutdown_grace, Duration::from_secs(10));
    assert_eq!(g.max_concurrency, 0);
    assert_eq!(g.rate_limit, None);
    assert_eq!(g.max_request_time, Duration::from_secs(600));
    assert_eq!(g.retry_budget_percent, 20);
    assert_eq!(g.route_cache_ttl, Duration::from_secs(10));
    assert!(!g.allow_unauthenticated);
    assert_eq!(g.audit_log, None);
    assert!(!g.audit_arguments);
    assert_eq!(g.max_sessions, 10_000);
    assert_eq!(g.max_json_depth, 64);
    assert_eq!((&g.tls_cert, &g.tls_key, &g.tls_client_ca), (&None, &None, &None));
    assert_eq!(*g, GatewayConfig { state_dir: g.state_dir.clone(), ..GatewayConfig::default() });
    assert!(config.servers.is_empty());
    assert!(config.routes.is_empty());
    assert_eq!(config.auth, None);
    assert!(config.policies.is_empty());
    assert_eq!(config.sources, vec![PathBuf::from("t.toml")]);
}

#[test]
fn server_defaults() {
    let config = ok(STDIO);
    let time = &config.servers["time"];
    let expected = ServerConfig { command: Some("uvx".into()), ..ServerConfig::default() };
    assert_eq!(*time, expected);
    assert_eq!(time.transport, TransportKind::Stdio);
    assert!(time.enabled && !time.required);
    assert_eq!(time.replicas, 1);
    assert!(time.urls.is_empty());
    assert_eq!(time.balance, Balance::RoundRobin);
    assert_eq!(time.affinity, Affinity::Session);
    assert_eq!(time.hash_key, HashKey::Session);
    assert_eq!(time.isolation, Isolation::Shared);
    assert_eq!(time.max_processes, 16);
    assert_eq!(time.process_idle_timeout, Duration::from_secs(300));
    assert_eq!(time.retries, 2);
    assert_eq!(time.breaker, BreakerConfig::default());
    assert_eq!(time.max_concurrency, 0);
    assert_eq!(time.rate_limit, None);
}

#[test]
fn every_gateway_key_is_read() {
    let config = ok(r#"
[gateway]
listen = "0.0.0.0:8080"
separator = "."
prefix = "conditional"
state_dir = "~/state"
max_message_size = "512KiB"
max_name_length = 40
server_name = "hub"
allowed_origins = ["https://app.example.com", "http://localhost:5173"]
request_timeout = "1m30s"
init_timeout = "500ms"
shutdown_grace = "0s"
session_idle_timeout = "5m"
health_interval = "0s"
health_timeout = "1s"
health_failures = 5
max_concurrency = 200
rate_limit = "100/s"
max_request_time = "15m"
retry_budget = "10%"
route_cache_ttl = "0s"
allow_unauthenticated = true
audit_log = "~/audit.jsonl"
audit_arguments = true
max_sessions = 1
max_json_depth = 1000
tls_cert = "~/cert.pem"
tls_key = "/etc/vmcp/key.pem"
tls_client_ca = "ca.pem"
max_connections = 7
max_header_size = "8KiB"
read_timeout = "5s"
write_timeout = "10s"
keepalive = "1s"
worker_threads = 2
"#);
    let g = config.gateway;
    assert_eq!(g.listen, "0.0.0.0:8080");
    assert_eq!(g.separator, ".");
    assert_eq!(g.prefix, PrefixMode::Conditional);
    assert_eq!(g.state_dir, PathBuf::from("/home/u/state"));
    assert_eq!(g.max_message_size, 512 * 1024);
    assert_eq!(g.max_name_length, 40);
    assert_eq!(g.server_name, "hub");
    assert_eq!(g.allowed_origins.len(), 2);
    assert_eq!(g.request_timeout, Duration::from_secs(90));
    assert_eq!(g.init_timeout, Duration::from_millis(500));
    assert_eq!(g.shutdown_grace, Duration::ZERO);
    assert_eq!(g.session_idle_timeout, Duration::from_secs(300));
    // Every key of GATEWAY_KEYS appears above: the list and the reader agree.
    assert_eq!(g.health_interval, Duration::ZERO);
    assert_eq!(g.health_timeout, Duration::from_secs(1));
    assert_eq!(g.health_failures, 5);
    assert_eq!(g.max_concurrency, 200);
    assert_eq!(g.rate_limit, Some(RateLimit { count: 100, per: Duration::from_secs(1) }));
    assert_eq!(g.max_request_time, Duration::from_secs(900));
    assert_eq!(g.retry_budget_percent, 10);
    assert_eq!(g.route_cache_ttl, Duration::ZERO);
    assert!(g.allow_unauthenticated);
    assert_eq!(g.audit_log.as_deref(), Some("/home/u/audit.jsonl"));
    assert!(g.audit_arguments);
    assert_eq!(g.max_sessions, 1);
    assert_eq!(g.max_json_depth, 1000);
    assert_eq!(g.tls_cert, Some(PathBuf::from("/home/u/cert.pem")));
    assert_eq!(g.tls_key, Some(PathBuf::from("/etc/vmcp/key.pem")));
    assert_eq!(g.tls_client_ca, Some(PathBuf::from("ca.pem")));
    assert_eq!(g.max_connections, 7);
    assert_eq!(g.max_header_size, 8 * 1024);
    assert_eq!(g.read_timeout, Duration::from_secs(5));
    assert_eq!(g.write_timeout, Duration::from_secs(10));
    assert_eq!(g.keepalive, Duration::from_secs(1));
    assert_eq!(g.worker_threads, 2);
    assert_eq!(GATEWAY_KEYS.len(), 36);
    assert_eq!(ok("[gateway]\nmax_message_size = 1024").gateway.max_message_size, 1024);
    assert_eq!(ok("[gateway]\nprefix = \"never\"").gateway.prefix, PrefixMode::Never);
}

#[test]
fn every_server_key_is_read() {
    let config = ok(r#"
[servers.files]
transport = "stdio"
command = "npx"
args = ["-y", "server-files", "/tmp"]
env = { A = "1", B = "2" }
cwd = "/srv"
request_timeout = "5s"
enabled = false
required = true
replicas = 1
description = "files"
"#);
    let s = &config.servers["files"];
    assert_eq!(s.command.as_deref(), Some("npx"));
    assert_eq!(s.args, ["-y", "server-files", "/tmp"]);
    assert_eq!(s.env.get("B").map(String::as_str), Some("2"));
    assert_eq!(s.cwd, Some(PathBuf::from("/srv")));
    assert_eq!(s.request_timeout, Some(Duration::from_secs(5)));
    assert!(!s.enabled && s.required);
    assert_eq!(s.description.as_deref(), Some("files"));
    // Every key is a known key: set to 0, it is accepted or fails for
    // another reason, never as unknown.
    assert_eq!(SERVER_KEYS.len(), 33);
    for key in SERVER_KEYS {
        let text = format!("[servers.x]\ncommand = \"c\"\n{key} = 0\n");
        let all = parse(&text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(!all.contains("unknown key"), "{key}: {all}");
    }
}

#[test]
fn every_group_and_traffic_key_is_read() {
    let config = ok(r#"
[servers.pool]
command = "uvx"
replicas = 3
balance = "consistent_hash"
affinity = "none"
hash_key = "arg:user_id"
isolation = "per_session"
max_processes = 4
process_idle_timeout = "1m"
allow_tools = ["fetch*", "get_{a,b}"]
deny_tools = ["*_admin"]
rename_tools = { fetch = "get_page", "odd.name" = "plain" }
timeouts = { "tools/call" = "2m", ping = "1s", "resources/templates/list" = "5s" }
max_request_time = "30m"
retries = 10
max_concurrency = 8
rate_limit = "5/10s"
tool_rate_limits = { fetch = "20/m", "slow.tool" = "1/h" }

[servers.pool.breaker]
failures = 0
failure_rate = "25%"
min_requests = 1
window = "1m"
open_for = "500ms"
"#);
    let s = &config.servers["pool"];
    assert_eq!(s.replicas, 3);
    assert_eq!(s.balance, Balance::ConsistentHash);
    assert_eq!(s.affinity, Affinity::None);
    assert_eq!(s.hash_key, HashKey::Argument("user_id".into()));
    assert_eq!(s.isolation, Isolation::PerSession);
    assert_eq!(s.max_processes, 4);
    assert_eq!(s.process_idle_timeout, Duration::from_secs(60));
    assert_eq!(s.allow_tools, ["fetch*", "get_{a,b}"]);
    assert_eq!(s.deny_tools, ["*_admin"]);
    let renames: Vec<_> = s.rename_tools.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(renames, [("fetch", "get_page"), ("odd.name", "plain")]);
    let timeouts: Vec<_> = s.timeouts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(
        timeouts,
        [
            ("ping", Duration::from_secs(1)),
            ("resources/templates/list", Duration::from_secs(5)),
            ("tools/call", Duration::from_secs(120)),
        ]
    );
    assert_eq!(s.max_request_time, Some(Duration::from_secs(1800)));
    assert_eq!(s.retries, 10);
    assert_eq!(s.max_concurrency, 8);
    assert_eq!(s.rate_limit, Some(RateLimit { count: 5, per: Duration::from_secs(10) }));
    assert_eq!(s.tool_rate_limits["fetch"], RateLimit { count: 20, per: Duration::from_secs(60) });
    assert_eq!(s.tool_rate_limits["slow.tool"], RateLimit { count: 1, per: Duration::from_secs(3600) });
    let breaker = BreakerConfig {
        failures: 0,
        failure_rate: 25,
        min_requests: 1,
        window: Duration::from_secs(60),
        open_for: Duration::from_millis(500),
    };
    assert_eq!(s.breaker, breaker);
    // An inline breaker table, partly given: the rest are the defaults.
    let s = &ok(&format!("{STDIO}breaker = {{ failures = 3 }}\n")).servers["time"];
    assert_eq!(s.breaker, BreakerConfig { failures: 3, ..BreakerConfig::default() });
    assert_eq!(BREAKER_KEYS.len(), 5);
    // Every strategy, affinity, isolation and hash key by name.
    for name in BALANCE_STRATEGIES {
        let s = &ok(&format!("{STDIO}balance = \"{name}\"\n")).servers["time"];
        assert_eq!(s.balance.as_str(), *name);
    }
    let isolation = &ok(&format!("{STDIO}isolation = \"shared\"\n")).servers["time"].isolation;
    assert_eq!(*isolation, Isolation::Shared);
    let affinity = &ok(&format!("{STDIO}affinity = \"session\"\n")).servers["time"].affinity;
    assert_eq!(*affinity, Affinity::Session);
    for (text, key) in [("session", HashKey::Session), ("client", HashKey::Client), ("name", HashKey::Name)] {
        let s = &ok(&format!("{STDIO}balance = \"consistent_hash\"\nhash_key = \"{text}\"\n")).servers["time"];
        assert_eq!(s.hash_key, key);
    }
    // max_processes and process_idle_timeout without per_session: accepted.
    let s = &ok(&format!("{STDIO}max_processes = 2\nprocess_idle_timeout = \"1s\"\n")).servers["time"];
    assert_eq!((s.isolation, s.max_processes), (Isolation::Shared, 2));
}

#[test]
fn urls_are_read_with_their_weights() {
    let config = ok(r#"
[servers.api]
transport = "http"
urls = ["https://a/mcp", { url = "https://b/mcp", weight = 3 }, { url = "http://c:8080/mcp" }]
balance = "weighted_random"

[servers.ws]
transport = "websocket"
urls = ["wss://a/ws"]

[servers.one]
transport = "sse"
url = "https://x/sse"
"#);
    let endpoint = |url: &str, weight| Endpoint { url: url.into(), weight };
    let api = &config.servers["api"];
    assert_eq!(
        api.urls,
        [endpoint("https://a/mcp", 1), endpoint("https://b/mcp", 3), endpoint("http://c:8080/mcp", 1)]
    );
    assert_eq!(api.url, None);
    assert_eq!(api.balance, Balance::WeightedRandom);
    assert_eq!(config.servers["ws"].urls, [endpoint("wss://a/ws", 1)]);
    // `url` stays `url`: `urls` is empty.
    let one = &config.servers["one"];
    assert_eq!(one.url.as_deref(), Some("https://x/sse"));
    assert!(one.urls.is_empty());
    // ${VAR} works inside them.
    let c = ok("[servers.api]\ntransport = \"http\"\nurls = [{ url = \"https://${TZ}/mcp\" }]\n");
    assert_eq!(c.servers["api"].urls, [endpoint("https://Europe/Paris/mcp", 1)]);
}

#[test]
fn substitution_from_the_environment() {
    let config = ok(r#"
[servers.time]
command = "${HOME}/bin/time"
args = ["--tz", "${TZ}", "${NOPE:-UTC}", "x${NOPE:-}y", "$${TZ}", "$HOME", "a$b"]
env = { TZ = "${TZ:-UTC}", TOKEN = "Bearer ${TOKEN}", E = "${EMPTY:-fallback}" }
description = "${EMPTY}"
"#);
    let s = &config.servers["time"];
    assert_eq!(s.command.as_deref(), Some("/home/u/bin/time"));
    assert_eq!(s.args, ["--tz", "Europe/Paris", "UTC", "xy", "${TZ}", "$HOME", "a$b"]);
    let env: Vec<_> = s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(env, [("E", "fallback"), ("TOKEN", "Bearer s3cret"), ("TZ", "Europe/Paris")]);
    assert_eq!(s.description.as_deref(), Some(""));
    // Keys are not substituted.
    assert!(ok("[servers.a]\ncommand = \"c\"\nenv = { \"${TZ}\" = \"v\" }").servers["a"].env.contains_key("${TZ}"));
    // In [gateway] too.
    assert_eq!(ok("[gateway]\nserver_name = \"${TZ}\"").gateway.server_name, "Europe/Paris");
}

#[test]
fn unset_variable_is_an_error_at_its_use() {
    let text = "[servers.time]\ncommand = \"uvx\"\nenv = { TZ = \"${TZ}\", K = \"key=${API_KEY}\" }\n";
    let e = error(text);
    // `${API_KEY}` starts at column 32 of line 3.
    assert_eq!(
        e,
        "t.toml:3:32: servers.time.env.K: environment variable API_KEY is not set; \
         set it, or write `${API_KEY:-default}` to give a fallback"
    );
    // Inside an array, and a string with escapes (pointed at the string).
    let e = error("[servers.time]\ncommand = \"uvx\"\nargs = [\"a\", \"\\t${X}\"]\n");
    assert!(e.starts_with("t.toml:3:14: servers.time.args[1]: environment variable X is not set"), "{e}");
}

#[test]
fn unterminated_substitution_is_an_error() {
    let e = error("[gateway]\nserver_name = \"ab ${TZ\"\n");
    assert!(e.starts_with("t.toml:2:19: gateway.server_name: unterminated `${`"), "{e}");
}

#[test]
fn unknown_keys_are_errors_with_suggestions() {
    let e = error("[gateway]\nlisten = \"127.0.0.1:1\"\n  lisen = \"x\"\n");
    assert_eq!(e, "t.toml:3:3: unknown key `lisen` in [gateway]; did you mean `listen`?");
    let e = error("[servers.time]\ncomand = \"uvx\"\n");
    assert_eq!(e, "t.toml:2:1: unknown key `comand` in [servers.time]; did you mean `command`?");
    let e = error("[server.time]\ncommand = \"uvx\"\n");
    assert_eq!(e, "t.toml:1:2: unknown top-level key `server`; did you mean `servers`?");
    let e = error("listen = \"127.0.0.1:1\"\n");
    assert_eq!(e, "t.toml:1:1: unknown top-level key `listen`; `listen` belongs in [gateway]");
    let e = error("[gateway]\ncommand = \"uvx\"\n");
    assert_eq!(e, "t.toml:2:1: unknown key `command` in [gateway]; `command` belongs in a [servers.<id>] table");
    let e = error("[servers.time]\ncommand = \"uvx\"\nshutdown_grace = \"1s\"\n");
    assert_eq!(e, "t.toml:3:1: unknown key `shutdown_grace` in [servers.time]; `shutdown_grace` belongs in [gateway]");
    let e = error("[gateway]\nzzz = 1\n");
    assert!(e.starts_with("t.toml:2:1: unknown key `zzz` in [gateway]; expected one of: listen, separator,"), "{e}");
}

#[test]
fn bad_server_ids_are_errors_at_the_key() {
    for id in ["Time", "1time", "my_server", "a23456789012345678901234567890123", "\"\""] {
        let text = format!("[gateway]\n\n[servers.{id}]\ncommand = \"uvx\"\n");
        let e = error(&text);
        assert!(e.starts_with("t.toml:3:10: invalid server id"), "{id}: {e}");
        assert!(e.contains("^[a-z][a-z0-9-]{0,31}$"), "{e}");
    }
    assert!(ok("[servers.a-2]\ncommand = \"c\"").servers.contains_key("a-2"));
    assert!(ok("[servers.a2345678901234567890123456789012]\ncommand = \"c\"").servers.len() == 1);
    assert!(is_valid_server_id("time") && !is_valid_server_id(""));
}

#[test]
fn type_errors_point_at_the_value() {
    let e = error("[servers.time]\ncommand = \"uvx\"\nargs = [\"a\", 5]\n");
    assert_eq!(e, "t.toml:3:14: servers.time.args: invalid type: integer `5`, expected a string");
    let e = error("[gateway]\nmax_name_length = \"long\"\n");
    assert!(e.starts_with("t.toml:2:19: gateway.max_name_length: invalid type: string"), "{e}");
    let e = error("[gateway]\nrequest_timeout = 30\n");
    assert!(
        e.starts_with("t.toml:2:19: gateway.request_timeout: invalid type: integer `30`, expected a duration"),
        "{e}"
    );
    let e = error("[gateway]\nrequest_timeout = \"30\"\n");
    assert!(e.contains("a number has no unit"), "{e}");
    let e = error("[gateway]\nmax_message_size = \"16 furlongs\"\n");
    assert!(e.starts_with("t.toml:2:20: gateway.max_message_size: invalid size"), "{e}");
    let e = error("[gateway]\nprefix = \"sometimes\"\n");
    assert!(e.starts_with("t.toml:2:10: gateway.prefix: unknown variant `sometimes`"), "{e}");
    let e = error("gateway = 5\n");
    assert_eq!(e, "t.toml:1:11: [gateway] must be a table, found an integer");
    let e = error("[servers]\ntime = \"uvx\"\n");
    assert_eq!(e, "t.toml:2:8: [servers.time] must be a table, found a string");
}

#[test]
fn syntax_errors_have_positions() {
    let e = errors("[gateway]\nlisten = 127.0.0.1\n");
    assert!(e[0].starts_with("t.toml:2:"), "{e:?}");
    assert!(e[0].contains("invalid TOML"), "{e:?}");
    let e = errors("[gateway]\nlisten = \"a\"\nlisten = \"b\"\n");
    assert!(e[0].starts_with("t.toml:3:"), "{e:?}");
}

#[test]
fn many_errors_are_reported_together() {
    let text = r#"
[gateway]
lisen = "x"
separator = ""
max_name_length = 8

[servers.Bad]
command = "x"

[servers.ok]
command = 5
nope = true

[servers.web]
transport = "stdio"
url = "https://x/mcp"
"#;
    let all = errors(text);
    let expected_starts = [
        "t.toml:3:1: unknown key `lisen`",
        "t.toml:4:13: gateway.separator: must not be empty",
        "t.toml:5:19: gateway.max_name_length: 8 is too small",
        "t.toml:7:10: invalid server id `Bad`",
        "t.toml:11:11: servers.ok.command: invalid type",
        "t.toml:12:1: unknown key `nope`",
        "t.toml:15:13: server `web`: transport \"stdio\" needs `command`",
        "t.toml:16:7: servers.web.url: `url` is for http, sse and websocket servers",
    ];
    assert_eq!(all.len(), expected_starts.len(), "{all:#?}");
    let mut sorted = all.clone();
    sorted.sort_by_key(|line| {
        let mut parts = line.split(':').skip(1);
        let line: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let col: usize = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (line, col)
    });
    for (got, want) in sorted.iter().zip(expected_starts) {
        assert!(got.starts_with(want), "{got} does not start with {want}");
    }
    // Display puts one error per line.
    let shown = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(shown.lines().count(), expected_starts.len());
}

#[test]
fn transports_need_their_keys() {
    let e = error("[servers.time]\nargs = [\"x\"]\n");
    assert_eq!(
        e,
        "t.toml:1:10: server `time`: transport \"stdio\" needs `command`, the program to run (such as command = \"uvx\")"
    );
    let all = errors("[servers.web]\ntransport = \"http\"\ncommand = \"x\"\n");
    assert!(all.iter().any(|e| e.starts_with("t.toml:2:13: server `web`: transport \"http\" needs `url`")), "{all:#?}");
    assert!(
        all.iter().any(|e| e.starts_with("t.toml:3:11: servers.web.command: `command` is for stdio servers")),
        "{all:#?}"
    );
    let all = errors("[servers.web]\ntransport = \"websocket\"\nurl = \"https://x/ws\"\n");
    assert!(
        all.iter().any(|e| e.contains(
            "servers.web.url: \"https://x/ws\" is not a websocket URL: expected one starting with ws:// or wss://"
        )),
        "{all:#?}"
    );
    let all = errors("[servers.web]\ntransport = \"sse\"\nurl = \"https://\"\n");
    assert!(all.iter().any(|e| e.contains("has no host")), "{all:#?}");
}

#[test]
fn ranges_and_names_are_checked() {
    let e = error(&format!("{STDIO}replicas = 0\n"));
    assert_eq!(e, "t.toml:3:12: servers.time.replicas: expected at least 1");
    let e = error(&format!("{STDIO}request_timeout = \"0s\"\n"));
    assert!(e.starts_with("t.toml:3:19: servers.time.request_timeout: expected a duration greater than zero"), "{e}");
    let e = error("[gateway]\nlisten = \"example.com:3000\"\n");
    assert_eq!(
        e,
        "t.toml:2:10: gateway.listen: \"example.com:3000\" is not a socket address: expected an IP address and \
         port such as \"127.0.0.1:3000\" or \"[::1]:3000\", or localhost:PORT (other host names are not accepted)"
    );
    let e = error("[gateway]\nlisten = \"localhost:http\"\n");
    assert!(e.starts_with("t.toml:2:10: gateway.listen: \"localhost:http\" is not a socket address"), "{e}");
    let e = error("[gateway]\nseparator = \"a b\"\n");
    assert!(e.contains("contains whitespace"), "{e}");
    let e = error("[gateway]\nseparator = \"123456789\"\n");
    assert!(e.contains("at most 8 characters"), "{e}");
    let e = error("[gateway]\nallowed_origins = [\"https://a.example/\"]\n");
    assert!(e.contains("allowed_origins[0]: \"https://a.example/\" is not an origin"), "{e}");
    let e = error("[gateway]\nseparator = \"-\"\n[servers.my-time]\ncommand = \"c\"\n");
    assert!(e.starts_with("t.toml:3:10: server id `my-time` contains the separator \"-\""), "{e}");
    let all = errors(&format!("{STDIO}balance = \"least_connection\"\n"));
    assert!(
        all.iter().any(|e| e.contains("unknown strategy \"least_connection\"; did you mean `least_connections`?")),
        "{all:#?}"
    );
}

#[test]
fn home_is_needed_to_expand_tilde() {
    let no_home = |_: &str| None;
    let e = parse_str("t.toml", "", &no_home).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("t.toml: gateway.state_dir: cannot expand `~`"), "{e}");
    let config = parse_str("t.toml", "[gateway]\nstate_dir = \"/var/lib/vmcp\"\n", &no_home);
    assert_eq!(config.map(|c| c.gateway.state_dir).ok(), Some(PathBuf::from("/var/lib/vmcp")));
    let cwd = ok(&format!("{STDIO}cwd = \"~/work\"\n")).servers["time"].cwd.clone();
    assert_eq!(cwd, Some(PathBuf::from("/home/u/work")));
}

#[test]
fn remote_transports_and_groups_are_accepted() {
    let e = error(&format!("{STDIO}ca_file = \"/etc/ca.pem\"\n"));
    assert!(e.contains("ca_file") && e.contains("stdio"), "{e}");
    let c = ok("[servers.search]\ntransport = \"http\"\nurl = \"https://s/mcp\"\nca_file = \"~/ca.pem\"\n");
    assert_eq!(c.servers["search"].ca_file, Some(PathBuf::from("/home/u/ca.pem")));
    for (transport, url) in [("http", "https://s/mcp"), ("sse", "http://s/sse"), ("websocket", "wss://s/ws")] {
        let c = ok(&format!("[servers.search]\ntransport = \"{transport}\"\nurl = \"{url}\"\n"));
        assert_eq!(c.servers["search"].url.as_deref(), Some(url));
    }
    // Server groups are supported now.
    let c = ok(&format!("{STDIO}replicas = 3\nbalance = \"least_connections\"\n"));
    assert_eq!((c.servers["time"].replicas, c.servers["time"].balance), (3, Balance::LeastConnections));
}

/// A directory of its own for a test's files, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vmcp-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn later_files_override_earlier_ones_key_by_key() {
    let dir = TempDir::new("merge");
    let base = dir.file(
        "base.toml",
        r#"
[gateway]
listen = "127.0.0.1:4000"
server_name = "base"
allowed_origins = ["https://a.example", "https://b.example"]

[servers.time]
command = "uvx"
args = ["mcp-server-time", "--local-timezone", "UTC"]
env = { TZ = "UTC", LANG = "C" }

[servers.files]
command = "files"
"#,
    );
    let over = dir.file(
        "over.toml",
        r#"
[gateway]
server_name = "over"
allowed_origins = ["https://c.example"]

[servers.time]
args = ["mcp-server-time"]
env = { TZ = "Europe/Paris" }
required = true

[servers.extra]
command = "extra"
"#,
    );
    let config = match load_with_env(&[base.clone(), over.clone()], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(config.sources, vec![base, over]);
    assert_eq!(config.gateway.listen, "127.0.0.1:4000");
    assert_eq!(config.gateway.server_name, "over");
    assert_eq!(config.gateway.allowed_origins, ["https://c.example"]);
    let time = &config.servers["time"];
    assert_eq!(time.command.as_deref(), Some("uvx"));
    assert_eq!(time.args, ["mcp-server-time"]);
    let env: BTreeMap<_, _> =
        [("LANG", "C"), ("TZ", "Europe/Paris")].into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    assert_eq!(time.env, env);
    assert!(time.required);
    let ids: Vec<_> = config.servers.keys().map(String::as_str).collect();
    assert_eq!(ids, ["extra", "files", "time"]);
}

#[test]
fn merged_errors_name_the_file_that_set_the_value() {
    let dir = TempDir::new("merged-errors");
    let a = dir.file("a.toml", "[servers.web]\ncommand = \"x\"\n");
    let b = dir.file("b.toml", "[servers.web]\ntransport = \"sse\"\n");
    let all = match load_with_env(&[a.clone(), b.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    let (a, b) = (a.display(), b.display());
    assert!(
        shown.contains(&format!(
            "{b}:2:13: server `web`: transport \"sse\" needs `url` (such as url = \"https://host/mcp\") or `urls` \
         (in the merged configuration)"
        )),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|e| e.starts_with(&format!("{a}:2:11: servers.web.command: `command` is for stdio servers"))),
        "{shown:#?}"
    );
}

#[test]
fn every_file_is_checked_and_missing_files_are_named() {
    let dir = TempDir::new("missing");
    let bad = dir.file("bad.toml", "[gateway]\nlisen = \"x\"\n");
    let missing = dir.0.join("missing.toml");
    let all = match load_with_env(&[missing.clone(), bad.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0].file, missing.display().to_string());
    assert_eq!((all[0].line, all[0].column), (None, None));
    assert!(all[0].to_string().starts_with(&format!("{}: cannot read: ", missing.display())));
    assert_eq!(all[1].file, bad.display().to_string());
    assert_eq!((all[1].line, all[1].column), (Some(2), Some(1)));
}

#[test]
fn no_files_means_defaults() {
    let config = load_with_env(&[], &env).ok();
    assert_eq!(config.map(|c| c.gateway.listen), Some(DEFAULT_LISTEN.to_owned()));
}

#[test]
fn starter_parses_and_runs_two_mocks() {
    let config = match parse_str("starter.toml", STARTER, &env) {
        Ok(config) => config,
        Err(e) => panic!("STARTER does not parse:\n{e}"),
    };
    assert_eq!(config.servers.len(), 2);
    for server in config.servers.values() {
        assert_eq!(server.command.as_deref(), Some("vmcp"));
        assert_eq!(server.args.first().map(String::as_str), Some("mock"));
        assert!(server.enabled);
    }
    assert_eq!(config.gateway, ok("").gateway);
}

/// The starter's commented lines (its `# key = value` lines) tell the truth:
/// uncommented, `[gateway]` gives exactly the defaults, and the stdio example
/// is a valid server.
#[test]
fn starter_comments_are_valid_and_show_the_defaults() {
    let mut uncommented = String::new();
    let mut section = "";
    let mut gateway_keys = 0;
    for line in STARTER.lines() {
        let text = match line.strip_prefix("# ") {
            Some(rest)
                if ["[servers.", "[[route]]", "[auth]", "[auth.jwt]", "[[policy]]", "[registry]", "[cluster]"]
                    .iter()
                    .any(|header| rest.starts_with(header)) =>
            {
                rest
            }
            Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) => {
                if section == "[gateway]" {
                    gateway_keys += 1;
                }
                // Keys with no default show an example instead: documented, left commented.
                let example_only = ["admin_", "rate_limit", "audit_log", "tls_"];
                if section == "[gateway]" && example_only.iter().any(|key| rest.starts_with(key)) { line } else { rest }
            }
            _ => line,
        };
        if text.starts_with('[') {
            section = text;
        }
        uncommented.push_str(text);
        uncommented.push('\n');
    }
    assert_eq!(gateway_keys, GATEWAY_KEYS.len(), "{uncommented}");
    let env = |name: &str| match name {
        "SEARCH_TOKEN" => Some("t".to_owned()),
        "VMCP_SESSION_KEY" => Some("ab".repeat(32)),
        _ => env(name),
    };
    let config = match parse_str("starter.toml", &uncommented, &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}\n{uncommented}"),
    };
    assert_eq!(config.gateway, ok("").gateway);
    let time = &config.servers["time"];
    assert_eq!(time.args, ["mcp-server-time"]);
    assert_eq!(time.env.get("TZ").map(String::as_str), Some("Europe/Paris"));
    assert!(time.required);
    let fetch = &config.servers["fetch"];
    assert_eq!((fetch.replicas, fetch.balance), (3, Balance::LeastConnections));
    assert_eq!(fetch.breaker, BreakerConfig::default());
    assert_eq!(fetch.rate_limit, Some(RateLimit { count: 20, per: Duration::from_secs(1) }));
    let api = &config.servers["api"];
    assert_eq!(api.urls.iter().map(|e| e.weight).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(config.registry.url.as_deref(), Some("postgres://vmcp@db.internal:5432/vmcp"));
    assert_eq!(config.cluster.replica_id.as_deref(), Some("vmcp-0"));
    assert_eq!(config.cluster.session_key, Some(SessionKey([0xab; 32])));
    assert_eq!(config.routes.len(), 1);
    assert_eq!(config.routes[0].tool.as_deref(), Some("*delete*"));
    assert!(matches!(&config.routes[0].action, RouteAction::Deny(Some(_))));
    let auth = config.auth.unwrap_or_default();
    assert_eq!(auth.api_keys.len(), 1);
    assert_eq!(auth.api_keys[0].roles, ["dev"]);
    let jwt = auth.jwt.unwrap_or_default();
    assert_eq!(jwt.jwks_url.as_deref(), Some("https://auth.example.com/.well-known/jwks.json"));
    assert_eq!(JwtConfig { jwks_url: None, issuer: None, audience: Vec::new(), ..jwt }, JwtConfig::default());
    assert_eq!(config.policies.len(), 1);
    assert_eq!(config.policies[0].roles, ["dev"]);
}

const HTTP: &str = "[servers.web]\ntransport = \"http\"\n";

/// Two servers to route to, on lines 1 to 4.
const TWO: &str = "[servers.time]\ncommand = \"uvx\"\n[servers.search]\ncommand = \"s\"\n";

#[test]
fn new_gateway_keys_are_checked() {
    let e = error("[gateway]\nmax_request_time = \"0s\"\n");
    assert_eq!(e, "t.toml:2:20: gateway.max_request_time: expected a duration greater than zero, such as \"30s\"");
    let e = error("[gateway]\nretry_budget = \"120%\"\n");
    assert!(
        e.starts_with("t.toml:2:16: gateway.retry_budget: invalid percentage \"120%\": it is over 100; expected"),
        "{e}"
    );
    let e = error("[gateway]\nretry_budget = 20\n");
    assert!(
        e.starts_with(
            "t.toml:2:16: gateway.retry_budget: invalid type: integer `20`, expected a percentage such as \"20%\""
        ),
        "{e}"
    );
    let e = error("[gateway]\nrate_limit = \"fast\"\n");
    assert!(
        e.starts_with(
            "t.toml:2:14: gateway.rate_limit: invalid rate \"fast\": it has no `/`; expected a rate such as \"100/s\""
        ),
        "{e}"
    );
    let e = error("[gateway]\nmax_concurrency = -1\n");
    assert!(e.starts_with("t.toml:2:19: gateway.max_concurrency: invalid value: integer `-1`"), "{e}");
    let e = error("[gateway]\nroute_cache_tl = \"1s\"\n");
    assert_eq!(e, "t.toml:2:1: unknown key `route_cache_tl` in [gateway]; did you mean `route_cache_ttl`?");
}

#[test]
fn urls_are_checked() {
    let e = error(&format!("{STDIO}urls = [\"https://a/mcp\"]\n"));
    assert!(e.starts_with("t.toml:3:8: servers.time.urls: `urls` is for http, sse and websocket servers"), "{e}");
    let e = error(&format!("{HTTP}url = \"https://a/mcp\"\nurls = [\"https://b/mcp\"]\n"));
    assert_eq!(e, "t.toml:4:8: servers.web.urls: give either `url` or `urls`, not both");
    let e = error(&format!("{HTTP}urls = []\n"));
    assert_eq!(e, "t.toml:3:8: servers.web.urls: expected at least one URL, such as [\"https://host/mcp\"]");
    let e = error(&format!("{HTTP}urls = [\"https://a/mcp\", {{ url = \"ftp://b\" }}]\n"));
    assert_eq!(
        e,
        "t.toml:3:34: servers.web.urls[1]: \"ftp://b\" is not a http URL: expected one starting with http:// or https://"
    );
    let e = error("[servers.web]\ntransport = \"websocket\"\nurls = [\"https://a/ws\"]\n");
    assert!(e.starts_with("t.toml:3:9: servers.web.urls[0]: \"https://a/ws\" is not a websocket URL"), "{e}");
    let e = error(&format!("{HTTP}urls = [{{ url = \"https://b/mcp\", weight = 0 }}]\n"));
    assert_eq!(e, "t.toml:3:43: servers.web.urls[0].weight: expected at least 1");
    let e = error(&format!("{HTTP}urls = [{{ url = \"https://b/mcp\", wieght = 2 }}]\n"));
    assert_eq!(e, "t.toml:3:34: unknown key `wieght` in servers.web.urls[0]; did you mean `weight`?");
    let e = error(&format!("{HTTP}urls = [5]\n"));
    assert_eq!(
        e,
        "t.toml:3:9: servers.web.urls[0]: expected a URL or a table such as \
         { url = \"https://host/mcp\", weight = 2 }, found an integer"
    );
    let e = error(&format!("{HTTP}urls = [{{ weight = 2 }}]\n"));
    assert!(e.starts_with("t.toml:3:9: servers.web.urls[0]: missing `url`"), "{e}");
    let e = error(&format!("{HTTP}urls = \"https://a/mcp\"\n"));
    assert!(e.starts_with("t.toml:3:8: servers.web.urls: expected an array of URLs"), "{e}");
    assert!(e.ends_with("found a string"), "{e}");
    let e = error(&format!("{HTTP}urls = [\"https://a/mcp\"]\nreplicas = 2\n"));
    assert_eq!(
        e,
        "t.toml:4:12: servers.web.replicas: replicas > 1 cannot go with `urls`: the replicas are the urls (one per endpoint)"
    );
    // replicas = 1 with urls is fine.
    assert_eq!(ok(&format!("{HTTP}urls = [\"https://a/mcp\"]\nreplicas = 1\n")).servers["web"].urls.len(), 1);
}

#[test]
fn group_keys_are_checked() {
    let e = error(&format!("{STDIO}affinity = \"sesion\"\n"));
    assert_eq!(e, "t.toml:3:12: servers.time.affinity: unknown affinity \"sesion\"; did you mean `session`?");
    let e = error(&format!("{STDIO}balance = \"consistent_hash\"\nhash_key = \"clent\"\n"));
    assert_eq!(e, "t.toml:4:12: servers.time.hash_key: unknown hash key \"clent\"; did you mean `client`?");
    let e = error(&format!("{STDIO}balance = \"consistent_hash\"\nhash_key = \"zzz\"\n"));
    assert!(e.ends_with("expected one of: session, client, name, arg:<name>"), "{e}");
    let e = error(&format!("{STDIO}balance = \"consistent_hash\"\nhash_key = \"arg:\"\n"));
    assert_eq!(
        e,
        "t.toml:4:12: servers.time.hash_key: \"arg:\" names no argument: expected arg:<name>, such as \"arg:user_id\""
    );
    let e = error(&format!("{STDIO}hash_key = \"client\"\n"));
    assert_eq!(
        e,
        "t.toml:3:12: servers.time.hash_key: hash_key only applies to balance = \"consistent_hash\" \
         (this server's balance is \"round_robin\")"
    );
    let e = error(&format!("{STDIO}isolation = \"per-session\"\n"));
    assert_eq!(
        e,
        "t.toml:3:13: servers.time.isolation: unknown isolation \"per-session\"; did you mean `per_session`?"
    );
    let e = error(&format!("{HTTP}url = \"https://a/mcp\"\nisolation = \"per_session\"\n"));
    assert_eq!(
        e,
        "t.toml:4:13: servers.web.isolation: \"per_session\" (a process for each client session) is for stdio \
         servers, but this server's transport is \"http\""
    );
    let e = error(&format!("{STDIO}max_processes = 0\n"));
    assert_eq!(e, "t.toml:3:17: servers.time.max_processes: expected at least 1");
    let e = error(&format!("{STDIO}process_idle_timeout = \"0s\"\n"));
    assert!(e.starts_with("t.toml:3:24: servers.time.process_idle_timeout: expected a duration greater than zero"));
    let e = error(&format!("{STDIO}max_request_time = \"0s\"\n"));
    assert!(e.starts_with("t.toml:3:20: servers.time.max_request_time: expected a duration greater than zero"));
    let e = error(&format!("{STDIO}retries = 11\n"));
    assert_eq!(e, "t.toml:3:11: servers.time.retries: 11 is too many: expected at most 10");
    let e = error(&format!("{STDIO}retries = -1\n"));
    assert!(e.starts_with("t.toml:3:11: servers.time.retries: invalid value: integer `-1`"), "{e}");
}

#[test]
fn tool_keys_are_checked() {
    let e = error(&format!("{STDIO}allow_tools = [\"ok\", \"a[\"]\n"));
    assert_eq!(
        e,
        "t.toml:3:22: servers.time.allow_tools[1]: invalid glob \"a[\": unclosed character class; missing ']'"
    );
    let e = error(&format!("{STDIO}deny_tools = [\"{{a\"]\n"));
    assert!(e.starts_with("t.toml:3:15: servers.time.deny_tools[0]: invalid glob \"{a\": "), "{e}");
    let e = error(&format!("{STDIO}deny_tools = \"*\"\n"));
    assert!(e.starts_with("t.toml:3:14: servers.time.deny_tools: invalid type: string"), "{e}");
    let e = error(&format!("{STDIO}rename_tools = {{ a = \"\" }}\n"));
    assert_eq!(e, "t.toml:3:22: servers.time.rename_tools.a: expected a non-empty new name");
    let e = error(&format!("{STDIO}rename_tools = {{ a = \"x__y\" }}\n"));
    assert_eq!(
        e,
        "t.toml:3:22: servers.time.rename_tools.a: \"x__y\" contains the separator \"__\": exposed names like \
         \"time__x__y\" would be ambiguous"
    );
    let e = error(&format!("{STDIO}rename_tools = {{ a = \"same\", b = \"same\" }}\n"));
    assert_eq!(
        e,
        "t.toml:3:34: servers.time.rename_tools.b: \"same\" is already the new name of `a`: two tools cannot share a name"
    );
    let e = error(&format!("{STDIO}rename_tools = {{ a = 5 }}\n"));
    assert!(e.starts_with("t.toml:3:22: servers.time.rename_tools.a: invalid type: integer `5`"), "{e}");
    let e = error(&format!("{STDIO}rename_tools = [\"a\"]\n"));
    assert_eq!(e, "t.toml:3:16: servers.time.rename_tools: expected a table, found an array");
    let e = error(&format!("{STDIO}timeouts = {{ \"tools/cal\" = \"2m\" }}\n"));
    assert_eq!(e, "t.toml:3:14: unknown method `tools/cal` in servers.time.timeouts; did you mean `tools/call`?");
    let e = error(&format!("{STDIO}timeouts = {{ ping = \"0s\" }}\n"));
    assert!(e.starts_with("t.toml:3:21: servers.time.timeouts.ping: expected a duration greater than zero"), "{e}");
    let e = error(&format!("{STDIO}timeouts = {{ \"tools/call\" = \"2\" }}\n"));
    assert!(e.starts_with("t.toml:3:29: servers.time.timeouts.\"tools/call\": invalid duration \"2\""), "{e}");
    let e = error(&format!("{STDIO}rate_limit = \"10/d\"\n"));
    assert!(e.starts_with("t.toml:3:14: servers.time.rate_limit: invalid rate \"10/d\": unknown unit \"d\""), "{e}");
    let e = error(&format!("{STDIO}tool_rate_limits = {{ fetch = \"many\" }}\n"));
    assert!(e.starts_with("t.toml:3:30: servers.time.tool_rate_limits.fetch: invalid rate \"many\""), "{e}");
    let e = error(&format!("{STDIO}max_concurrency = \"8\"\n"));
    assert!(e.starts_with("t.toml:3:19: servers.time.max_concurrency: invalid type: string"), "{e}");
}

#[test]
fn breaker_keys_are_checked() {
    let e = error(&format!("{STDIO}[servers.time.breaker]\nfailure = 3\n"));
    assert_eq!(e, "t.toml:4:1: unknown key `failure` in [servers.time.breaker]; did you mean `failures`?");
    let e = error(&format!("{STDIO}[servers.time.breaker]\nfailure_rate = \"150%\"\n"));
    assert!(e.starts_with("t.toml:4:16: servers.time.breaker.failure_rate: invalid percentage \"150%\""), "{e}");
    let e = error(&format!("{STDIO}[servers.time.breaker]\nmin_requests = 0\n"));
    assert_eq!(e, "t.toml:4:16: servers.time.breaker.min_requests: expected at least 1");
    let e = error(&format!("{STDIO}[servers.time.breaker]\nwindow = \"0s\"\n"));
    assert!(e.starts_with("t.toml:4:10: servers.time.breaker.window: expected a duration greater than zero"), "{e}");
    let e = error(&format!("{STDIO}breaker = {{ open_for = \"0s\" }}\n"));
    assert!(e.starts_with("t.toml:3:24: servers.time.breaker.open_for: expected a duration greater than zero"), "{e}");
    let e = error(&format!("{STDIO}breaker = {{ failures = -1 }}\n"));
    assert!(e.starts_with("t.toml:3:24: servers.time.breaker.failures: invalid value: integer `-1`"), "{e}");
    let e = error(&format!("{STDIO}breaker = 5\n"));
    assert_eq!(e, "t.toml:3:11: [servers.time.breaker] must be a table, found an integer");
}

#[test]
fn routes_are_read_in_order() {
    let config = ok(&format!(
        r#"{TWO}
[[route]]
tool = "search__*"
to = "search"

[[route]]
method = "resources/*"
resource = "file:///secret/**"
deny = true
reason = "secrets stay secret"

[[route]]
prompt = "p?"
deny = true

[[route]]
method = "tools/call"
to = "time"
deny = false
"#
    ));
    let rule =
        |method: Option<&str>, tool: Option<&str>, prompt: Option<&str>, resource: Option<&str>, action| RouteRule {
            method: method.map(Into::into),
            tool: tool.map(Into::into),
            prompt: prompt.map(Into::into),
            resource: resource.map(Into::into),
            action,
        };
    assert_eq!(
        config.routes,
        [
            rule(None, Some("search__*"), None, None, RouteAction::To("search".into())),
            rule(
                Some("resources/*"),
                None,
                None,
                Some("file:///secret/**"),
                RouteAction::Deny(Some("secrets stay secret".into()))
            ),
            rule(None, None, Some("p?"), None, RouteAction::Deny(None)),
            rule(Some("tools/call"), None, None, None, RouteAction::To("time".into())),
        ]
    );
    assert_eq!(ROUTE_KEYS.len(), 7);
    // The inline form is the same array of tables.
    let config = ok(&format!("route = [{{ method = \"*\", to = \"time\" }}]\n{TWO}"));
    assert_eq!(config.routes, [rule(Some("*"), None, None, None, RouteAction::To("time".into()))]);
}

#[test]
fn routes_are_checked() {
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\nto = \"time\"\nreasn = \"r\"\n"));
    assert_eq!(e, "t.toml:8:1: unknown key `reasn` in [[route]]; did you mean `reason`?");
    let e = error(&format!("{TWO}[[route]]\ntool = \"a[\"\nto = \"time\"\n"));
    assert_eq!(e, "t.toml:6:8: route[0].tool: invalid glob \"a[\": unclosed character class; missing ']'");
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\n"));
    assert_eq!(e, "t.toml:5:1: route[0]: needs `to = \"<server id>\"` or `deny = true`: what to do with a match");
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\ndeny = false\n"));
    assert!(e.starts_with("t.toml:5:1: route[0]: needs `to = \"<server id>\"` or `deny = true`"), "{e}");
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\nto = \"time\"\ndeny = true\n"));
    assert_eq!(e, "t.toml:5:1: route[0]: give either `to` or `deny = true`, not both");
    let e = error(&format!("{TWO}[[route]]\nto = \"time\"\n"));
    assert_eq!(
        e,
        "t.toml:5:1: route[0]: needs at least one of `method`, `tool`, `prompt`, `resource`: \
         which requests it matches (method = \"*\" matches all)"
    );
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\nto = \"time\"\nreason = \"r\"\n"));
    assert_eq!(e, "t.toml:8:10: route[0].reason: `reason` only goes with `deny = true`");
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\nto = \"serch\"\n"));
    assert_eq!(e, "t.toml:7:6: route[0].to: no server `serch` is configured; did you mean `search`?");
    let e = error("[[route]]\ntool = \"x\"\nto = \"time\"\n");
    assert_eq!(e, "t.toml:3:6: route[0].to: no server `time` is configured; no servers are configured");
    // The second route of the file is route[1], at its own header.
    let e = error(&format!("{TWO}[[route]]\ntool = \"x\"\nto = \"time\"\n[[route]]\ndeny = true\n"));
    assert!(e.starts_with("t.toml:8:1: route[1]: needs at least one of"), "{e}");
    let e = error("route = 5\n");
    assert_eq!(e, "t.toml:1:9: `route` must be an array of tables (write [[route]]), found an integer");
    let e = error("[route]\nto = \"x\"\n");
    assert!(e.starts_with("t.toml:1:") && e.ends_with("found a table"), "{e}");
    let e = error("route = [1]\n");
    assert_eq!(e, "t.toml:1:10: route[0] must be a table, found an integer");
    // A route is an unknown key in [gateway] and a server table.
    let e = error("[gateway]\nroute = []\n");
    assert_eq!(e, "t.toml:2:1: unknown key `route` in [gateway]; `route` is top-level: write [[route]] tables");
    let e = error(&format!("{TWO}route = [{{ method = \"*\", to = \"time\" }}]\n"));
    assert_eq!(e, "t.toml:5:1: unknown key `route` in [servers.search]; `route` is top-level: write [[route]] tables");
}

#[test]
fn routes_from_later_files_are_appended() {
    let dir = TempDir::new("routes");
    let a = dir.file(
        "a.toml",
        "[servers.time]\ncommand = \"uvx\"\n\n[[route]]\ntool = \"a\"\nto = \"time\"\n\n[[route]]\ntool = \"b\"\ndeny = true\n",
    );
    // b.toml routes to a server of b.toml, and to one of a.toml.
    let b = dir.file(
        "b.toml",
        "[servers.files]\ncommand = \"f\"\n\n[[route]]\ntool = \"c\"\nto = \"files\"\n\n[[route]]\ntool = \"d\"\nto = \"time\"\n",
    );
    let config = match load_with_env(&[a.clone(), b.clone()], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let tools: Vec<_> = config.routes.iter().map(|r| r.tool.as_deref().unwrap_or_default()).collect();
    assert_eq!(tools, ["a", "b", "c", "d"]);
    assert_eq!(config.routes[2].action, RouteAction::To("files".into()));
    // The other order: b's routes come first.
    let config = match load_with_env(&[b.clone(), a.clone()], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let tools: Vec<_> = config.routes.iter().map(|r| r.tool.as_deref().unwrap_or_default()).collect();
    assert_eq!(tools, ["c", "d", "a", "b"]);
    // An error in a later file's route names that file and its own index.
    let c = dir.file("c.toml", "[[route]]\ntool = \"e\"\nto = \"nope\"\n");
    let all = match load_with_env(&[a, c.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!(
        all[0].to_string(),
        format!(
            "{}:3:6: route[0].to: no server `nope` is configured (in the merged configuration); expected one of: time",
            c.display()
        ),
    );
}

#[test]
fn server_tables_merge_key_by_key_breaker_too() {
    let dir = TempDir::new("breaker");
    let a = dir.file(
        "a.toml",
        r#"
[servers.api]
transport = "http"
urls = ["https://a/mcp", "https://b/mcp"]
balance = "weighted_round_robin"
rename_tools = { a = "x", b = "y" }
timeouts = { ping = "1s", "tools/call" = "1m" }
tool_rate_limits = { a = "1/s" }

[servers.api.breaker]
failures = 3
window = "1m"
"#,
    );
    let b = dir.file(
        "b.toml",
        r#"
[servers.api]
urls = [{ url = "https://c/mcp", weight = 5 }]
rename_tools = { b = "z" }
timeouts = { "tools/call" = "2m" }
tool_rate_limits = { b = "2/s" }

[servers.api.breaker]
window = "2m"
open_for = "1s"
"#,
    );
    let config = match load_with_env(&[a, b], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let api = &config.servers["api"];
    let expected = BreakerConfig {
        failures: 3,
        window: Duration::from_secs(120),
        open_for: Duration::from_secs(1),
        ..BreakerConfig::default()
    };
    assert_eq!(api.breaker, expected);
    // Arrays are replaced whole; tables merge entry by entry.
    assert_eq!(api.urls, [Endpoint { url: "https://c/mcp".into(), weight: 5 }]);
    assert_eq!(api.balance, Balance::WeightedRoundRobin);
    let renames: Vec<_> = api.rename_tools.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(renames, [("a", "x"), ("b", "z")]);
    assert_eq!(api.timeouts["ping"], Duration::from_secs(1));
    assert_eq!(api.timeouts["tools/call"], Duration::from_secs(120));
    assert_eq!(api.tool_rate_limits.len(), 2);
}

#[test]
fn url_and_urls_from_two_files_are_refused() {
    let dir = TempDir::new("url-urls");
    let a = dir.file("a.toml", "[servers.web]\ntransport = \"http\"\nurl = \"https://a/mcp\"\n");
    let b = dir.file("b.toml", "[servers.web]\nurls = [\"https://b/mcp\"]\n");
    let all = match load_with_env(&[a, b.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [format!(
            "{}:2:8: servers.web.urls: give either `url` or `urls`, not both (in the merged configuration)",
            b.display()
        )]
    );
}

/// A well-formed API key hash (64 hex characters).
const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// An `[auth]` with one API key, on lines 1 and 2.
fn auth_with_key() -> String {
    format!("[auth]\napi_keys = [{{ name = \"ci\", sha256 = \"{HASH}\" }}]\n")
}

#[test]
fn every_auth_key_is_read() {
    let upper = HASH.to_ascii_uppercase().replace('0', "f");
    let config = ok(&format!(
        r#"
[auth]
api_keys = [
  {{ name = "ci", sha256 = "{HASH}", roles = ["dev", "ops"] }},
  {{ name = "bot", sha256 = "{upper}" }},
]
resource = "https://mcp.example.com/mcp"
authorization_servers = ["https://auth.example.com", "http://localhost:8080/realms/x"]
scopes_supported = ["mcp", "mcp:admin"]

[auth.jwt]
algorithms = ["HS256", "ES256"]
secret = "${{TOKEN}}-0123456789abcdef0123456789"
public_key_file = "~/jwt.pem"
jwks_refresh = "1h"
issuer = "https://auth.example.com"
audience = ["a", "b"]
subject_claim = "email"
roles_claim = "scope"
leeway = "0s"
"#
    ));
    let auth = config.auth.unwrap_or_default();
    let key = |name: &str, sha256: &str, roles: &[&str]| ApiKey {
        name: name.into(),
        sha256: sha256.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    };
    // Hashes are kept in lowercase; roles default to none.
    assert_eq!(auth.api_keys, [key("ci", HASH, &["dev", "ops"]), key("bot", &upper.to_ascii_lowercase(), &[])]);
    assert_eq!(auth.resource.as_deref(), Some("https://mcp.example.com/mcp"));
    assert_eq!(auth.authorization_servers, ["https://auth.example.com", "http://localhost:8080/realms/x"]);
    assert_eq!(auth.scopes_supported, ["mcp", "mcp:admin"]);
    let jwt = auth.jwt.unwrap_or_default();
    let expected = JwtConfig {
        algorithms: vec!["HS256".into(), "ES256".into()],
        secret: Some("s3cret-0123456789abcdef0123456789".into()),
        public_key_file: Some(PathBuf::from("/home/u/jwt.pem")),
        jwks_url: None,
        jwks_refresh: Duration::from_secs(3600),
        issuer: Some("https://auth.example.com".into()),
        audience: vec!["a".into(), "b".into()],
        subject_claim: "email".into(),
        roles_claim: "scope".into(),
        leeway: Duration::ZERO,
    };
    assert_eq!(jwt, expected);
    assert_eq!((AUTH_KEYS.len(), JWT_KEYS.len(), API_KEY_KEYS.len()), (5, 10, 3));
    // Every key of each list is a known key: set to 0, it fails for another reason.
    for (table, keys) in [("[auth]", AUTH_KEYS), ("[auth.jwt]", JWT_KEYS)] {
        for key in keys {
            let all = parse(&format!("{table}\n{key} = 0\n")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(!all.contains("unknown key"), "{key}: {all}");
        }
    }
    for key in API_KEY_KEYS {
        let all = parse(&format!("[auth]\napi_keys = [{{ {key} = 0 }}]\n")).err().map(|e| e.to_string());
        assert!(!all.unwrap_or_default().contains("unknown key"), "{key}");
    }
}

#[test]
fn jwt_defaults_and_forms() {
    // Only a key source: everything else is the default (RS256 and ES256).
    let config = ok("[auth.jwt]\njwks_url = \"https://idp/jwks\"\n");
    let jwt = config.auth.and_then(|auth| auth.jwt).unwrap_or_default();
    assert_eq!(jwt, JwtConfig { jwks_url: Some("https://idp/jwks".into()), ..JwtConfig::default() });
    assert_eq!(jwt.algorithms, DEFAULT_JWT_ALGORITHMS);
    assert_eq!((jwt.jwks_refresh, jwt.leeway), (DEFAULT_JWKS_REFRESH, DEFAULT_JWT_LEEWAY));
    assert_eq!((jwt.subject_claim.as_str(), jwt.roles_claim.as_str()), ("sub", "roles"));
    // Inline, with HS256 only.
    let secret = "x".repeat(32);
    let config = ok(&format!("[auth]\njwt = {{ algorithms = [\"HS256\"], secret = \"{secret}\" }}\n"));
    let jwt = config.auth.and_then(|auth| auth.jwt).unwrap_or_default();
    assert_eq!((jwt.algorithms, jwt.secret), (vec!["HS256".to_owned()], Some(secret)));
    // API keys as an array of tables; a JWT alone is enough.
    let config = ok(&format!("[[auth.api_keys]]\nname = \"a\"\nsha256 = \"{HASH}\"\nroles = [\"r\"]\n"));
    assert_eq!(config.auth.map(|auth| auth.api_keys.len()), Some(1));
}

#[test]
fn api_keys_are_checked() {
    let e = error(&format!("[auth]\napi_keys = [{{ name = \"\", sha256 = \"{HASH}\" }}]\n"));
    assert_eq!(e, "t.toml:2:22: auth.api_keys[0].name: expected a non-empty name, such as \"ci\"");
    let e = error(&format!("[auth]\napi_keys = [{{ name = \"local\", sha256 = \"{HASH}\" }}]\n"));
    assert!(e.starts_with("t.toml:2:22: auth.api_keys[0].name: \"local\" is the name of a built-in principal"), "{e}");
    let e = error("[auth]\napi_keys = [{ name = \"ci\", sha256 = \"abc\" }]\n");
    assert_eq!(
        e,
        "t.toml:2:37: auth.api_keys[0].sha256: expected the key's SHA-256 as 64 hex characters; make one with: \
         printf %s \"$KEY\" | sha256sum (this one has 3 characters)"
    );
    let bad = HASH.replace('a', "g");
    let e = error(&format!("[auth]\napi_keys = [{{ name = \"ci\", sha256 = \"{bad}\" }}]\n"));
    assert!(e.ends_with("(this one has characters other than 0-9 and a-f)"), "{e}");
    // Duplicates: at the second one.
    let other = HASH.replace('0', "1");
    let text = format!(
        "[auth]\napi_keys = [\n  {{ name = \"ci\", sha256 = \"{HASH}\" }},\n  {{ name = \"ci\", sha256 = \"{other}\" }},\n]\n"
    );
    let e = error(&text);
    assert_eq!(
        e,
        "t.toml:4:12: auth.api_keys[1].name: \"ci\" is already the name of api_keys[0]: each key names one principal"
    );
    let upper = HASH.to_ascii_uppercase();
    let text = format!(
        "[auth]\napi_keys = [\n  {{ name = \"a\", sha256 = \"{HASH}\" }},\n  {{ name = \"b\", sha256 = \"{upper}\" }},\n]\n"
    );
    let e = error(&text);
    assert_eq!(e, "t.toml:4:26: auth.api_keys[1].sha256: the same key as api_keys[0]: each key must be different");
    // Shape: missing keys, unknown keys, wrong types.
    let e = error("[auth]\napi_keys = [{ sha256 = \"x\" }]\n");
    assert!(e.starts_with("t.toml:2:13: auth.api_keys[0]: missing `name`: who the key is"), "{e}");
    let e = error("[auth]\napi_keys = [{ name = \"ci\" }]\n");
    assert!(
        e.starts_with(
            "t.toml:2:13: auth.api_keys[0]: missing `sha256`: the key's SHA-256 in hex (make one with: printf %s"
        ),
        "{e}"
    );
    let e = error(&format!("[auth]\napi_keys = [{{ name = \"ci\", sha256 = \"{HASH}\", role = [\"dev\"] }}]\n"));
    assert_eq!(e, "t.toml:2:105: unknown key `role` in auth.api_keys[0]; did you mean `roles`?");
    let e = error(&format!("[auth]\napi_keys = [{{ name = \"ci\", sha256 = \"{HASH}\", roles = \"dev\" }}]\n"));
    assert!(e.starts_with("t.toml:2:113: auth.api_keys[0].roles: invalid type: string"), "{e}");
    let e = error("[auth]\napi_keys = [\"key\"]\n");
    assert!(e.starts_with("t.toml:2:13: auth.api_keys[0]: expected a table such as { name = \"ci\""), "{e}");
    let e = error("[auth]\napi_keys = \"key\"\n");
    assert!(e.starts_with("t.toml:2:12: auth.api_keys: expected an array of tables such as [{ name = \"ci\""), "{e}");
}

#[test]
fn auth_is_checked() {
    let e = error("[auth]\nresource = \"https://x/mcp\"\n");
    assert_eq!(e, "t.toml:1:2: [auth] accepts nobody: add api_keys or [auth.jwt]");
    let e = error("[auth]\napi_keys = []\n");
    assert_eq!(e, "t.toml:2:12: [auth] accepts nobody: add api_keys or [auth.jwt]");
    let e = error(&format!("{}resource = \"mcp.example.com\"\n", auth_with_key()));
    assert_eq!(
        e,
        "t.toml:3:12: auth.resource: \"mcp.example.com\" is not an absolute http(s) URL: expected one such as \
         \"https://host/path\""
    );
    let e = error(&format!("{}resource = \"https://x/mcp#a\"\n", auth_with_key()));
    assert!(e.starts_with("t.toml:3:12: auth.resource: \"https://x/mcp#a\" has a fragment"), "{e}");
    let e = error(&format!("{}authorization_servers = [\"https://a\", \"ftp://b\"]\n", auth_with_key()));
    assert!(e.starts_with("t.toml:3:39: auth.authorization_servers[1]: \"ftp://b\" is not an absolute http(s) URL"));
    let e = error(&format!("{}scopes_supported = \"mcp\"\n", auth_with_key()));
    assert!(e.starts_with("t.toml:3:20: auth.scopes_supported: invalid type: string"), "{e}");
    let e = error(&format!("{}issuer = \"x\"\n", auth_with_key()));
    assert_eq!(e, "t.toml:3:1: unknown key `issuer` in [auth]; `issuer` belongs in [auth.jwt]");
    let e = error(&format!("{}api_key = []\n", auth_with_key()));
    assert_eq!(e, "t.toml:3:1: unknown key `api_key` in [auth]; did you mean `api_keys`?");
    let e = error("auth = 5\n");
    assert_eq!(e, "t.toml:1:8: [auth] must be a table, found an integer");
    let e = error(&format!("{}jwt = 5\n", auth_with_key()));
    assert_eq!(e, "t.toml:3:7: [auth.jwt] must be a table, found an integer");
    // A broken [auth] is not also reported as accepting nobody.
    let e = error("[auth]\napi_keys = [{ name = 5, sha256 = \"x\" }]\n");
    assert!(e.starts_with("t.toml:2:22: auth.api_keys[0].name: invalid type: integer"), "{e}");
}

#[test]
fn jwt_is_checked() {
    let jwks = "jwks_url = \"https://idp/jwks\"\n";
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = [\"RS256\", \"rs256\"]\n"));
    assert_eq!(
        e,
        "t.toml:3:24: auth.jwt.algorithms[1]: unknown algorithm \"rs256\"; did you mean `RS256`? \
         (algorithm names are case-sensitive)"
    );
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = [\"ES265\"]\n"));
    assert_eq!(e, "t.toml:3:15: auth.jwt.algorithms[0]: unknown algorithm \"ES265\"; did you mean `ES256`?");
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = [\"none\"]\n"));
    assert_eq!(
        e,
        "t.toml:3:15: auth.jwt.algorithms[0]: unknown algorithm \"none\"; expected one of: HS256, RS256, ES256"
    );
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = []\n"));
    assert_eq!(e, "t.toml:3:14: auth.jwt.algorithms: expected at least one of HS256, RS256, ES256");
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = [\"HS256\", \"RS256\"]\nsecret = \"short\"\n"));
    assert_eq!(
        e,
        "t.toml:4:10: auth.jwt.secret: an HS256 secret needs at least 32 bytes (this one has 5); \
         use ${VAR} to keep it out of the file"
    );
    let e = error(&format!("[auth.jwt]\n{jwks}algorithms = [\"HS256\", \"RS256\"]\n"));
    assert!(e.starts_with("t.toml:3:14: auth.jwt.algorithms: HS256 needs auth.jwt.secret, the shared secret"), "{e}");
    let e = error(&format!("[auth.jwt]\n{jwks}secret = \"{}\"\n", "x".repeat(32)));
    assert_eq!(e, "t.toml:3:10: auth.jwt.secret: secret is only used by HS256; add it to algorithms");
    // RS256 and ES256 need exactly one key source.
    let e = error("[auth]\n[auth.jwt]\nissuer = \"i\"\n");
    assert_eq!(
        e,
        "t.toml:2:7: auth.jwt.algorithms: RS256 and ES256 need a public key: set auth.jwt.jwks_url (a JSON Web Key \
         Set) or auth.jwt.public_key_file (a PEM file)"
    );
    let e = error("[auth.jwt]\nalgorithms = [\"ES256\"]\n");
    assert!(e.starts_with("t.toml:2:14: auth.jwt.algorithms: ES256 needs a public key: set auth.jwt.jwks_url"), "{e}");
    let e = error(&format!("[auth.jwt]\npublic_key_file = \"k.pem\"\n{jwks}"));
    assert_eq!(
        e,
        "t.toml:3:12: auth.jwt.jwks_url: give either jwks_url or public_key_file for RS256 and ES256, not both"
    );
    let secret = "x".repeat(32);
    let e = error(&format!("[auth.jwt]\nalgorithms = [\"HS256\"]\nsecret = \"{secret}\"\n{jwks}"));
    assert_eq!(e, "t.toml:4:12: auth.jwt.jwks_url: jwks_url is only used by RS256 and ES256; add one to algorithms");
    // Values.
    let e = error("[auth.jwt]\njwks_url = \"idp/jwks\"\n");
    assert!(e.starts_with("t.toml:2:12: auth.jwt.jwks_url: \"idp/jwks\" is not an absolute http(s) URL"), "{e}");
    let e = error(&format!("[auth.jwt]\n{jwks}jwks_refresh = \"0s\"\n"));
    assert!(e.starts_with("t.toml:3:16: auth.jwt.jwks_refresh: expected a duration greater than zero"), "{e}");
    let e = error(&format!("[auth.jwt]\n{jwks}leeway = 30\n"));
    assert!(e.starts_with("t.toml:3:10: auth.jwt.leeway: invalid type: integer `30`, expected a duration"), "{e}");
    let e = error(&format!("[auth.jwt]\n{jwks}subject_claim = \"\"\n"));
    assert_eq!(e, "t.toml:3:17: auth.jwt.subject_claim: expected a non-empty claim name");
    let e = error("[auth.jwt]\npublic_key_file = \"\"\n");
    assert_eq!(e, "t.toml:2:19: auth.jwt.public_key_file: must not be empty: expected a PEM public key file");
    let e = error(&format!("[auth.jwt]\n{jwks}audience = \"a\"\n"));
    assert!(e.starts_with("t.toml:3:12: auth.jwt.audience: invalid type: string"), "{e}");
    let e = error(&format!("[auth.jwt]\n{jwks}isuer = \"i\"\n"));
    assert_eq!(e, "t.toml:3:1: unknown key `isuer` in [auth.jwt]; did you mean `issuer`?");
}

#[test]
fn auth_merges_key_by_key() {
    let dir = TempDir::new("auth-merge");
    let other = HASH.replace('0', "1");
    let a = dir.file(
        "a.toml",
        &format!(
            "[auth]\napi_keys = [{{ name = \"a\", sha256 = \"{HASH}\" }}]\nscopes_supported = [\"mcp\"]\n\n\
             [auth.jwt]\njwks_url = \"https://idp/jwks\"\nissuer = \"i\"\n"
        ),
    );
    let b = dir.file(
        "b.toml",
        &format!("[auth]\napi_keys = [{{ name = \"b\", sha256 = \"{other}\" }}]\n\n[auth.jwt]\nissuer = \"j\"\n"),
    );
    let config = match load_with_env(&[a.clone(), b], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let auth = config.auth.unwrap_or_default();
    // Arrays are replaced whole; keys merge one by one, in [auth.jwt] too.
    assert_eq!(auth.api_keys.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(auth.scopes_supported, ["mcp"]);
    let jwt = auth.jwt.unwrap_or_default();
    assert_eq!((jwt.jwks_url.as_deref(), jwt.issuer.as_deref()), (Some("https://idp/jwks"), Some("j")));
    // A later file that empties api_keys, with no JWT: the error is at its api_keys.
    let c = dir.file("c.toml", "[auth]\napi_keys = [{ name = \"c\", sha256 = \"x\" }]\n");
    let d = dir.file("d.toml", "[auth]\napi_keys = []\n");
    let all = match load_with_env(&[c, d.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [format!(
            "{}:2:12: [auth] accepts nobody: add api_keys or [auth.jwt] (in the merged configuration)",
            d.display()
        )]
    );
}

#[test]
fn policies_are_read_in_order() {
    let config = ok(r#"
[[policy]]
roles = ["dev"]
allow = ["alpha__*", "vmcp/*"]

[[policy]]
principals = ["ci", "local"]
roles = []
deny = ["*__delete*", "alpha+file:///secret/**"]
"#);
    let policy = |roles: &[&str], principals: &[&str], allow: &[&str], deny: &[&str]| {
        let own = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Policy { roles: own(roles), principals: own(principals), allow: own(allow), deny: own(deny) }
    };
    assert_eq!(
        config.policies,
        [
            policy(&["dev"], &[], &["alpha__*", "vmcp/*"], &[]),
            policy(&[], &["ci", "local"], &[], &["*__delete*", "alpha+file:///secret/**"]),
        ]
    );
    // Without [auth]: allowed.
    assert_eq!(config.auth, None);
    assert_eq!(POLICY_KEYS.len(), 4);
    let config = ok("policy = [{ principals = [\"anonymous\"], deny = [\"*\"] }]\n");
    assert_eq!(config.policies, [policy(&[], &["anonymous"], &[], &["*"])]);
}

#[test]
fn policies_are_checked() {
    let e = error("[[policy]]\nallow = [\"*\"]\n");
    assert_eq!(e, "t.toml:1:1: policy[0]: names nobody: add roles or principals");
    let e = error("[[policy]]\nroles = []\nprincipals = []\nallow = [\"*\"]\n");
    assert_eq!(e, "t.toml:1:1: policy[0]: names nobody: add roles or principals");
    let all = errors("[[policy]]\nroles = [\"dev\"]\n\n[[policy]]\nroles = [\"dev\"]\ndeny = []\n");
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_eq!(all[0], "t.toml:1:1: policy[0]: allows and denies nothing: add allow or deny");
    assert_eq!(all[1], "t.toml:4:1: policy[1]: allows and denies nothing: add allow or deny");
    let e = error("[[policy]]\nroles = [\"dev\"]\nallow = [\"ok\", \"a[\"]\n");
    assert_eq!(e, "t.toml:3:16: policy[0].allow[1]: invalid glob \"a[\": unclosed character class; missing ']'");
    let e = error("[[policy]]\nroles = [\"dev\"]\ndeny = [\"{a\"]\n");
    assert!(e.starts_with("t.toml:3:9: policy[0].deny[0]: invalid glob \"{a\": "), "{e}");
    let e = error("[[policy]]\nroles = [\"dev\"]\nalow = [\"*\"]\n");
    assert_eq!(e, "t.toml:3:1: unknown key `alow` in [[policy]]; did you mean `allow`?");
    let e = error("[[policy]]\nroles = \"dev\"\nallow = [\"*\"]\n");
    assert!(e.starts_with("t.toml:2:9: policy[0].roles: invalid type: string"), "{e}");
    let e = error("policy = 5\n");
    assert_eq!(e, "t.toml:1:10: `policy` must be an array of tables (write [[policy]]), found an integer");
    let e = error("api_keys = []\n");
    assert_eq!(e, "t.toml:1:1: unknown top-level key `api_keys`; `api_keys` belongs in [auth]");
    let e = error("jwks_url = \"https://idp/jwks\"\n");
    assert_eq!(e, "t.toml:1:1: unknown top-level key `jwks_url`; `jwks_url` belongs in [auth.jwt]");
    let e = error("[[policies]]\nroles = [\"dev\"]\n");
    assert_eq!(e, "t.toml:1:3: unknown top-level key `policies`; did you mean `policy`?");
}

#[test]
fn policies_from_later_files_are_appended() {
    let dir = TempDir::new("policies");
    let a = dir.file(
        "a.toml",
        "[[policy]]\nroles = [\"a\"]\nallow = [\"*\"]\n\n[[policy]]\nroles = [\"b\"]\ndeny = [\"*\"]\n",
    );
    let b = dir.file("b.toml", "[[policy]]\nprincipals = [\"c\"]\nallow = [\"x__*\"]\n");
    let config = match load_with_env(&[a.clone(), b.clone()], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let names: Vec<_> = config.policies.iter().map(|p| [&p.roles[..], &p.principals[..]].concat()).collect();
    assert_eq!(names, [["a"], ["b"], ["c"]]);
    let config = match load_with_env(&[b.clone(), a], &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}"),
    };
    let names: Vec<_> = config.policies.iter().map(|p| [&p.roles[..], &p.principals[..]].concat()).collect();
    assert_eq!(names, [["c"], ["a"], ["b"]]);
    // An error in a later file names that file and its own index.
    let c = dir.file("c.toml", "[[policy]]\nallow = [\"*\"]\n");
    let all = match load_with_env(&[b, c.clone()], &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    let shown: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(shown, [format!("{}:1:1: policy[0]: names nobody: add roles or principals", c.display())]);
}

#[test]
fn gateway_security_keys_are_checked() {
    let e = error("[gateway]\nmax_sessions = 0\n");
    assert_eq!(e, "t.toml:2:16: gateway.max_sessions: expected at least 1");
    let e = error("[gateway]\nmax_sessions = -1\n");
    assert!(e.starts_with("t.toml:2:16: gateway.max_sessions: invalid value: integer `-1`"), "{e}");
    let e = error("[gateway]\nmax_json_depth = 1\n");
    assert_eq!(e, "t.toml:2:18: gateway.max_json_depth: 1 is out of range: expected a depth from 2 to 1000");
    let e = error("[gateway]\nmax_json_depth = 1001\n");
    assert_eq!(e, "t.toml:2:18: gateway.max_json_depth: 1001 is out of range: expected a depth from 2 to 1000");
    assert_eq!(ok("[gateway]\nmax_json_depth = 2\n").gateway.max_json_depth, 2);
    let e = error("[gateway]\nallow_unauthenticated = \"yes\"\n");
    assert!(e.starts_with("t.toml:2:25: gateway.allow_unauthenticated: invalid type: string"), "{e}");
    let e = error("[gateway]\naudit_arguments = 1\n");
    assert!(e.starts_with("t.toml:2:19: gateway.audit_arguments: invalid type: integer"), "{e}");
    let e = error("[gateway]\naudit_log = \"\"\n");
    assert_eq!(e, "t.toml:2:13: gateway.audit_log: must not be empty: expected a file path, or \"-\" for stderr");
    assert_eq!(ok("[gateway]\naudit_log = \"-\"\n").gateway.audit_log.as_deref(), Some("-"));
    assert_eq!(ok("[gateway]\naudit_log = \"/var/log/a\"\n").gateway.audit_log.as_deref(), Some("/var/log/a"));
    let e = error("[gateway]\ntls_cert = \"c.pem\"\n");
    assert_eq!(
        e,
        "t.toml:2:12: gateway.tls_cert needs gateway.tls_key: TLS needs the certificate chain and its private key"
    );
    let e = error("[gateway]\ntls_key = \"k.pem\"\n");
    assert_eq!(
        e,
        "t.toml:2:11: gateway.tls_key needs gateway.tls_cert: TLS needs the certificate chain and its private key"
    );
    let e = error("[gateway]\ntls_client_ca = \"ca.pem\"\n");
    assert_eq!(
        e,
        "t.toml:2:17: gateway.tls_client_ca needs gateway.tls_cert and gateway.tls_key: client certificates are \
         only asked for over TLS"
    );
    let all = errors("[gateway]\ntls_cert = \"c.pem\"\ntls_client_ca = \"ca.pem\"\n");
    assert_eq!(all.len(), 1, "{all:#?}");
    let e = error("[gateway]\ntls_cert = \"\"\ntls_key = \"k.pem\"\n");
    assert_eq!(e, "t.toml:2:12: gateway.tls_cert: must not be empty: expected a PEM certificate chain file");
    let g = ok("[gateway]\ntls_cert = \"c.pem\"\ntls_key = \"~/k.pem\"\n").gateway;
    assert_eq!((g.tls_cert, g.tls_key, g.tls_client_ca), (Some("c.pem".into()), Some("/home/u/k.pem".into()), None));
    let no_home = |_: &str| None;
    let text = "[gateway]\nstate_dir = \"/s\"\naudit_log = \"~/a.log\"\n";
    let e = parse_str("t.toml", text, &no_home).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(e.starts_with("t.toml:3:13: gateway.audit_log: cannot expand `~`"), "{e}");
    let e = error("[gateway]\naudit_logs = \"-\"\n");
    assert_eq!(e, "t.toml:2:1: unknown key `audit_logs` in [gateway]; did you mean `audit_log`?");
}

#[test]
fn listening_beyond_loopback_needs_auth() {
    let e = error("[gateway]\nlisten = \"0.0.0.0:3000\"\n");
    assert_eq!(
        e,
        "t.toml:2:10: gateway.listen: 0.0.0.0:3000 is reachable from other machines, and there is no [auth]: \
         add [auth] (API keys or JWT), or set gateway.allow_unauthenticated = true to serve anyone who can connect"
    );
    for addr in ["[::]:3000", "192.168.1.10:80", "[2001:db8::1]:443", "128.0.0.1:3000"] {
        let e = error(&format!("[gateway]\nlisten = \"{addr}\"\n"));
        assert!(e.contains(&format!("gateway.listen: {addr} is reachable from other machines")), "{e}");
    }
    // With [auth], or allow_unauthenticated: accepted.
    let c = ok(&format!("[gateway]\nlisten = \"0.0.0.0:3000\"\n{}", auth_with_key()));
    assert!(c.auth.is_some() && !c.gateway.allow_unauthenticated);
    let c = ok("[gateway]\nlisten = \"0.0.0.0:3000\"\nallow_unauthenticated = true\n");
    assert!(c.gateway.allow_unauthenticated && c.auth.is_none());
    let e = error("[gateway]\nlisten = \"0.0.0.0:3000\"\nallow_unauthenticated = false\n");
    assert!(e.starts_with("t.toml:2:10: gateway.listen: 0.0.0.0:3000 is reachable"), "{e}");
    // A broken [auth] still counts as one: only its own error is reported.
    let e = error("[gateway]\nlisten = \"0.0.0.0:3000\"\n[auth]\nresource = 5\n");
    assert!(e.starts_with("t.toml:4:12: auth.resource: invalid type: integer"), "{e}");
    // Loopback addresses need nothing.
    for addr in
        ["127.0.0.1:3000", "127.1.2.3:0", "[::1]:3000", "localhost:3000", "LOCALHOST:1", "[::ffff:127.0.0.1]:80"]
    {
        let c = ok(&format!("[gateway]\nlisten = \"{addr}\"\n"));
        assert_eq!(c.gateway.listen, addr);
    }
    assert!(is_loopback_listen("127.0.0.1:1") && is_loopback_listen("localhost:1"));
    assert!(!is_loopback_listen("0.0.0.0:1") && !is_loopback_listen("example.com:1") && !is_loopback_listen("x"));
}

#[test]
fn allow_unauthenticated_and_auth_merge_across_files() {
    let dir = TempDir::new("listen-auth");
    let a = dir.file("a.toml", "[gateway]\nlisten = \"0.0.0.0:3000\"\n");
    let b = dir.file("b.toml", "[gateway]\nallow_unauthenticated = true\n");
    assert!(load_with_env(&[a.clone(), b], &env).is_ok());
    let c = dir.file("c.toml", &auth_with_key());
    assert!(load_with_env(&[a.clone(), c], &env).is_ok());
    let all = match load_with_env(std::slice::from_ref(&a), &env) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(e) => e.0,
    };
    assert_eq!((all.len(), all[0].line, all[0].column), (1, Some(2), Some(10)));
}

#[test]
fn a_server_snippet_cannot_hold_auth_or_policy() {
    let e = parse_server_snippet("x", "s.toml", "[servers.x]\ncommand = \"c\"\n[auth]\napi_keys = []\n", &env)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.starts_with("s.toml:3:2: unexpected `auth`: a server snippet holds one [servers.x] table"), "{e}");
}

/// Each key a table lists is read by that table: a value no kind accepts (a
/// float) is an error about that key, never an unknown key.
#[test]
fn every_listed_key_is_read_by_its_table() {
    let tables: [(&str, &[&str]); 7] = [
        ("[gateway]\n", GATEWAY_KEYS),
        ("[servers.a]\ncommand = \"c\"\n", SERVER_KEYS),
        ("[servers.a]\ncommand = \"c\"\n[servers.a.breaker]\n", BREAKER_KEYS),
        ("[[route]]\n", ROUTE_KEYS),
        ("[auth]\n", AUTH_KEYS),
        ("[auth.jwt]\n", JWT_KEYS),
        ("[[policy]]\n", POLICY_KEYS),
    ];
    for (header, keys) in tables {
        for key in keys {
            // `command` is set by the header already; a second one is a syntax error.
            if header.contains("command") && *key == "command" {
                continue;
            }
            let all = errors(&format!("{header}{key} = 0.5\n"));
            assert!(all.iter().all(|e| !e.contains("unknown key")), "{key}: {all:#?}");
            assert!(all.iter().any(|e| e.contains(key)), "{key}: {all:#?}");
        }
    }
}

/// The starter's `[gateway]` lines are the table's keys, in declaration order,
/// each with its comment lined up (or two spaces after a long value).
#[test]
fn starter_lists_the_gateway_keys_in_order() {
    let gateway: Vec<&str> =
        STARTER.lines().skip_while(|line| *line != "[gateway]").skip(2).take_while(|line| !line.is_empty()).collect();
    let keys: Vec<&str> = gateway.iter().filter_map(|line| line.strip_prefix("# ")?.split(" = ").next()).collect();
    assert_eq!(keys, GATEWAY_KEYS);
    for line in gateway {
        let comment = line.rfind("  # ").map(|at| at + 2).unwrap_or_default();
        assert!(comment == 37 || line[..comment - 2].len() >= 35, "{line}");
    }
}

#[test]
fn registry_and_cluster_are_read_and_checked_at_their_values() {
    let c = ok(
        "[registry]\nurl = \"postgres://vmcp:pw@db:5432/vmcp\"\n[cluster]\nreplica_id = \"vmcp-0\"\nadvertise = \"http://10.0.0.5:3000\"\n",
    );
    assert_eq!(c.registry.url.as_deref(), Some("postgres://vmcp:pw@db:5432/vmcp"));
    assert_eq!(c.cluster.replica_id.as_deref(), Some("vmcp-0"));
    assert_eq!(c.cluster.advertise.as_deref(), Some("http://10.0.0.5:3000"));
    assert_eq!(ok("").registry.url, None);

    let e = error("[registry]\nurl = \"mysql://root:pw@db/x\"\n");
    assert_eq!(
        e,
        "t.toml:2:7: registry.url: \"mysql://root:***@db/x\" is not a PostgreSQL URL: expected \
         \"postgres://user:password@host:5432/database\""
    );
    let e = error("[registry]\nurl = \"postgres://vmcp:secret@db/x?sslmode=bogus\"\n");
    assert!(
        e.starts_with("t.toml:2:7: registry.url: \"postgres://vmcp:***@db/x?sslmode=bogus\" is not a valid"),
        "{e}"
    );
    assert!(!e.contains("secret"), "the password is not repeated: {e}");
    let e = error("[registry]\nuri = \"postgres://db/x\"\n");
    assert_eq!(e, "t.toml:2:1: unknown key `uri` in [registry]; did you mean `url`?");
    let e = error("[cluster]\nreplica_id = \"Vmcp_0\"\n");
    assert!(e.starts_with("t.toml:2:14: cluster.replica_id: \"Vmcp_0\" is not a replica id: expected 1 to 63"), "{e}");
    let e = error("[cluster]\nsession_key = \"c2hvcnQ=\"\n");
    assert_eq!(
        e,
        "t.toml:2:15: cluster.session_key: the key decodes to 5 bytes: expected 32 (`openssl rand -hex 32` makes one)"
    );
    let e = error(&format!(
        "[cluster]\nsession_key = \"{}\"\nprevious_keys = [\"{}\", \"nope!\"]\n",
        "1".repeat(64),
        "2".repeat(64)
    ));
    assert!(e.starts_with("t.toml:3:86: cluster.previous_keys: the key is neither 64 hex digits nor base64"), "{e}");
    let e = error("[clustre]\n");
    assert_eq!(e, "t.toml:1:2: unknown top-level key `clustre`; did you mean `cluster`?");
}

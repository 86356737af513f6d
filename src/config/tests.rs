//! Tests of the whole module through its public entry points: what a user
//! writes, and what they get back (values, or errors with positions).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::document::{GATEWAY_KEYS, SERVER_KEYS};
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
    assert!(config.servers.is_empty());
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
    assert_eq!(GATEWAY_KEYS.len(), 17);
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
    // The keys not exercised above (url, headers, balance) are known keys:
    // they fail for other reasons, never as unknown.
    for key in SERVER_KEYS {
        let text = format!("[servers.x]\ncommand = \"c\"\n{key} = 0\n");
        let all = errors(&text).join("\n");
        assert!(!all.contains("unknown key"), "{key}: {all}");
    }
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
    let e = error("[gateway]\nlisten = \"localhost:3000\"\n");
    assert!(e.starts_with("t.toml:2:10: gateway.listen: \"localhost:3000\" is not a socket address"), "{e}");
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
fn unsupported_features_are_refused() {
    let all = errors("[auth]\napi_keys = []\n\n[[policy]]\nallow = [\"*\"]\n");
    assert_eq!(all.len(), 2, "{all:#?}");
    assert!(
        all[0].starts_with("t.toml:1:2: [auth] is not supported by this version yet; refusing to start"),
        "{all:#?}"
    );
    assert!(all[1].starts_with("t.toml:4:3: [[policy]] is not supported by this version yet"), "{all:#?}");
    let e = error(&format!("{STDIO}ca_file = \"/etc/ca.pem\"\n"));
    assert!(e.contains("ca_file") && e.contains("stdio"), "{e}");
    let c = ok("[servers.search]\ntransport = \"http\"\nurl = \"https://s/mcp\"\nca_file = \"~/ca.pem\"\n");
    assert_eq!(c.servers["search"].ca_file, Some(PathBuf::from("/home/u/ca.pem")));
    for (transport, url) in [("http", "https://s/mcp"), ("sse", "http://s/sse"), ("websocket", "wss://s/ws")] {
        let c = ok(&format!("[servers.search]\ntransport = \"{transport}\"\nurl = \"{url}\"\n"));
        assert_eq!(c.servers["search"].url.as_deref(), Some(url));
    }
    let all = errors(&format!("{STDIO}replicas = 3\nbalance = \"least_connections\"\n"));
    assert!(
        all.iter().any(|e| e.contains("replicas > 1 (server groups) is not supported by this version yet")),
        "{all:#?}"
    );
    assert!(all.iter().any(|e| e.contains("balance (server groups) is not supported")), "{all:#?}");
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
    assert!(shown.contains(&format!(
        "{b}:2:13: server `web`: transport \"sse\" needs `url` (such as url = \"https://host/mcp\") (in the merged configuration)"
    )), "{shown:#?}");
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
        if line.starts_with("# [servers.search]") {
            break;
        }
        let text = match line.strip_prefix("# ") {
            Some(rest) if rest.starts_with("[servers.") => rest,
            Some(rest) if rest.split_once(" = ").is_some_and(|(k, _)| !k.contains(' ')) => {
                if section == "[gateway]" {
                    gateway_keys += 1;
                }
                // Keys with no default show an example instead: documented, left commented.
                if rest.starts_with("admin_") { line } else { rest }
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
    let config = match parse_str("starter.toml", &uncommented, &env) {
        Ok(config) => config,
        Err(e) => panic!("{e}\n{uncommented}"),
    };
    assert_eq!(config.gateway, ok("").gateway);
    let time = &config.servers["time"];
    assert_eq!(time.args, ["mcp-server-time"]);
    assert_eq!(time.env.get("TZ").map(String::as_str), Some("Europe/Paris"));
    assert!(time.required);
}

//! The importer, through its entry point: JSON in, TOML that vmcp reads out.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::names::{assign_ids, sanitize};
use super::*;
use crate::config::document::is_valid_server_id;
use crate::config::load::parse_str;
use crate::config::root::Config;
use crate::config::server::ServerConfig;
use crate::config::values::TransportKind;

fn env(name: &str) -> Option<String> {
    match name {
        "HOME" => Some("/home/u".into()),
        "GITHUB_TOKEN" => Some("from-env".into()),
        _ => None,
    }
}

/// Imports `json`, checks that vmcp reads the result, and returns both.
fn import(json: &str) -> (Imported, Config) {
    let imported = match import_mcp_json("in.json", json) {
        Ok(imported) => imported,
        Err(errors) => panic!("unexpected errors:\n{errors}"),
    };
    match parse_str("out.toml", &imported.toml, &env) {
        Ok(config) => {
            assert_eq!(config.servers.keys().cloned().collect::<BTreeSet<_>>(), imported.ids.iter().cloned().collect());
            (imported, config)
        }
        Err(errors) => panic!("vmcp cannot read the result:\n{errors}\n---\n{}", imported.toml),
    }
}

fn errors(json: &str) -> Vec<String> {
    match import_mcp_json("in.json", json) {
        Ok(imported) => panic!("expected errors, got\n{}", imported.toml),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

fn notes(imported: &Imported) -> String {
    imported.notes.join("\n")
}

#[test]
fn claude_desktop_stdio_with_env() {
    let json = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop", "C:\\Users\\me"],
      "cwd": "~/work"
    },
    "github": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-github"],
      "env": { "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_abc\"quoted\"", "LOG_LEVEL": "debug", "PORT": 8080 }
    }
  },
  "globalShortcut": "Ctrl+Space"
}"#;
    let (imported, config) = import(json);
    assert_eq!(imported.ids, vec!["filesystem", "github"]);
    let fs = &config.servers["filesystem"];
    assert_eq!(fs.transport, TransportKind::Stdio);
    assert_eq!(fs.command.as_deref(), Some("npx"));
    assert_eq!(fs.args[3], "C:\\Users\\me");
    assert_eq!(fs.cwd, Some(PathBuf::from("/home/u/work")));
    let gh = &config.servers["github"];
    assert_eq!(gh.env["GITHUB_PERSONAL_ACCESS_TOKEN"], "ghp_abc\"quoted\"");
    assert_eq!(gh.env["PORT"], "8080");
    assert!(gh.enabled);
    assert!(imported.toml.starts_with("# vmcp configuration imported from in.json"), "{}", imported.toml);
    assert!(imported.toml.contains("\n[gateway]\n"), "{}", imported.toml);
    let notes = notes(&imported);
    assert!(notes.contains("servers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN"), "{notes}");
    assert!(!notes.contains("LOG_LEVEL"), "{notes}");
    assert!(!notes.contains("renamed"), "{notes}");
}

#[test]
fn remote_http_sse_and_websocket() {
    let json = r#"{"mcpServers": {
            "search": {"url": "https://search.example/mcp", "headers": {"Authorization": "Bearer abc", "X-Team": "core"}},
            "legacy": {"url": "https://old.example/sse/?x=1"},
            "typed": {"type": "streamableHttp", "url": "http://127.0.0.1:8000/sse"},
            "socket": {"url": "wss://ws.example/mcp"},
            "named-ws": {"transport": "websocket", "url": "ws://localhost:9000"},
            "legacy2": {"type": "sse", "url": "https://x.example/events"}
        }}"#;
    let (imported, config) = import(json);
    let transport = |id: &str| config.servers[id].transport;
    assert_eq!(transport("search"), TransportKind::Http);
    assert_eq!(transport("legacy"), TransportKind::Sse);
    assert_eq!(transport("typed"), TransportKind::Http);
    assert_eq!(transport("socket"), TransportKind::Websocket);
    assert_eq!(transport("named-ws"), TransportKind::Websocket);
    assert_eq!(transport("legacy2"), TransportKind::Sse);
    let search = &config.servers["search"];
    assert_eq!(search.url.as_deref(), Some("https://search.example/mcp"));
    assert_eq!(search.headers["X-Team"], "core");
    assert_eq!(search.command, None);
    // The input's order is kept.
    assert_eq!(imported.ids, vec!["search", "legacy", "typed", "socket", "named-ws", "legacy2"]);
    assert!(notes(&imported).contains("servers.search.headers.Authorization"), "{}", notes(&imported));
}

#[test]
fn vs_code_servers_and_placeholders() {
    let json = r#"{
  "inputs": [{"type": "promptString", "id": "token", "password": true}],
  "servers": {
    "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/", "headers": {"Authorization": "Bearer ${input:token}"}},
    "local": {"type": "stdio", "command": "${workspaceFolder}/bin/server", "args": ["--home", "${userHome}"],
              "env": {"GITHUB_TOKEN": "${env:GITHUB_TOKEN}", "MODE": "${MODE:-dev}"}, "envFile": "${workspaceFolder}/.env"}
  }
}"#;
    let (imported, config) = import(json);
    let github = &config.servers["github"];
    // Written literally: vmcp reads back exactly the text of the input.
    assert_eq!(github.headers["Authorization"], "Bearer ${input:token}");
    let local = &config.servers["local"];
    assert_eq!(local.command.as_deref(), Some("${workspaceFolder}/bin/server"));
    assert_eq!(local.args, vec!["--home", "/home/u"]);
    assert_eq!(local.env["GITHUB_TOKEN"], "from-env");
    assert_eq!(local.env["MODE"], "dev");
    let notes = notes(&imported);
    assert!(notes.contains("headers.Authorization: `${input:token}` means nothing to vmcp"), "{notes}");
    assert!(notes.contains("`${env:GITHUB_TOKEN}` written as `${GITHUB_TOKEN}`"), "{notes}");
    assert!(notes.contains("ignored `envFile`"), "{notes}");
    assert!(notes.contains("environment variables when it loads the configuration: GITHUB_TOKEN, HOME, MODE"));
    // Neither is in clear: one is a placeholder, the other substituted.
    assert!(!notes.contains("look like secrets"), "{notes}");
    // VS Code's settings.json nests them under `mcp`.
    let (imported, _) = import(r#"{"editor.fontSize": 12, "mcp": {"servers": {"a": {"command": "x"}}}}"#);
    assert_eq!(imported.ids, vec!["a"]);
}

#[test]
fn literal_dollars_survive() {
    let json =
        r#"{"mcpServers": {"a": {"command": "x", "args": ["$${HOME}", "cost: $5", "${unclosed", "$$", "${1BAD}"]}}}"#;
    let (_, config) = import(json);
    assert_eq!(config.servers["a"].args, vec!["$${HOME}", "cost: $5", "${unclosed", "$$", "${1BAD}"]);
}

#[test]
fn names_are_sanitized_and_deduplicated() {
    let json = r#"{"mcpServers": {
            "GitHub Server": {"command": "a"},
            "github_server": {"command": "b"},
            "github-server": {"command": "c"},
            "my.tool@2!": {"command": "d"},
            "42things": {"command": "e"},
            "ÜberTool": {"command": "f"},
            "日本": {"command": "g"},
            "A-very-long-server-name-that-goes-on-and-on": {"command": "h"},
            "a-very-long-server-name-that-goes-on-and-on-too": {"command": "i"}
        }}"#;
    let (imported, config) = import(json);
    assert_eq!(
        imported.ids,
        vec![
            "github-server-2",
            "github-server-3",
            "github-server", // already valid: keeps its name
            "my-tool2",
            "s-42things",
            "bertool",
            "server",
            "a-very-long-server-name-that-goe",
            "a-very-long-server-name-that-g-2",
        ]
    );
    assert_eq!(config.servers["github-server"].command.as_deref(), Some("c"));
    assert_eq!(config.servers["github-server-2"].command.as_deref(), Some("a"));
    let notes = notes(&imported);
    assert!(notes.contains("\"GitHub Server\" -> github-server-2"), "{notes}");
    assert!(notes.contains("\"42things\" -> s-42things"), "{notes}");
    assert!(!notes.contains("\"github-server\" ->"), "{notes}");
    assert!(imported.toml.contains("[servers.my-tool2]\n# imported as \"my.tool@2!\"\n"), "{}", imported.toml);
}

#[test]
fn disabled_timeout_and_ignored_keys() {
    let json = r#"{"mcpServers": {
            "off": {"command": "x", "disabled": true, "autoApprove": ["read"], "alwaysAllow": []},
            "on": {"command": "x", "disabled": false, "timeout": 30000},
            "fast": {"url": "https://h/mcp", "timeout": 1500, "description": "quick \"one\""},
            "tiny": {"command": "x", "timeout": 60},
            "odd": {"command": "x", "timeout": "soon"}
        }}"#;
    let (imported, config) = import(json);
    assert!(!config.servers["off"].enabled);
    assert!(config.servers["on"].enabled);
    assert_eq!(config.servers["on"].request_timeout, Some(Duration::from_secs(30)));
    assert_eq!(config.servers["fast"].request_timeout, Some(Duration::from_millis(1500)));
    assert_eq!(config.servers["fast"].description.as_deref(), Some("quick \"one\""));
    assert_eq!(config.servers["tiny"].request_timeout, Some(Duration::from_millis(60)));
    assert_eq!(config.servers["odd"].request_timeout, None);
    let expected = ServerConfig { command: Some("x".into()), enabled: false, ..ServerConfig::default() };
    assert_eq!(config.servers["off"], expected);
    let notes = notes(&imported);
    assert!(notes.contains("server \"off\": ignored `alwaysAllow`, `autoApprove`: vmcp has no equivalent"), "{notes}");
    assert!(notes.contains("server \"tiny\": `timeout` 60 read as milliseconds"), "{notes}");
    assert!(notes.contains("server \"odd\": ignored `timeout`: expected a number of milliseconds, found a string"));
}

#[test]
fn keys_of_the_other_transport_are_ignored() {
    let json = r#"{"mcpServers": {"both": {"type": "stdio", "command": "x", "url": "https://h/mcp", "headers": {"A": "b"}},
                                        "r": {"url": "https://h/mcp", "env": {"A": "b"}, "args": []}}}"#;
    let (imported, config) = import(json);
    assert_eq!(config.servers["both"].url, None);
    assert_eq!(config.servers["r"].env.len(), 0);
    let notes = notes(&imported);
    assert!(notes.contains("server \"both\": ignored `url`, `headers`: not used by its transport, \"stdio\""));
    assert!(notes.contains("server \"r\": ignored `args`, `env`: not used by its transport, \"http\""), "{notes}");
}

#[test]
fn awkward_keys_and_values_are_escaped() {
    let json = r#"{"mcpServers": {"a": {"command": "x", "args": ["line\nbreak", "'single'", "tab\there", "\u0001"],
                                        "env": {"weird key": "v", "quote\"key": "w", "": "empty"}}}}"#;
    let (_, config) = import(json);
    let a = &config.servers["a"];
    assert_eq!(a.args, vec!["line\nbreak", "'single'", "tab\there", "\u{1}"]);
    assert_eq!(a.env["weird key"], "v");
    assert_eq!(a.env["quote\"key"], "w");
    assert_eq!(a.env[""], "empty");
}

#[test]
fn an_empty_section_gives_an_empty_configuration() {
    let (imported, config) = import(r#"{"mcpServers": {}}"#);
    assert!(config.servers.is_empty());
    assert!(notes(&imported).contains("`mcpServers` is empty"));
    // Both sections: the first is used, the other is named.
    let (imported, _) = import(r#"{"mcpServers": {"a": {"command": "x"}}, "servers": {"b": {"command": "y"}}}"#);
    assert_eq!(imported.ids, vec!["a"]);
    assert!(notes(&imported).contains("`servers` is ignored"));
}

#[test]
fn invalid_entries_fail_with_name_and_position() {
    let json = "{\"mcpServers\": {\n  \"ok\": {\"command\": \"x\"},\n  \"empty\": {},\n  \"both\": {\"command\": \"x\", \"url\": \"https://h\"}\n}}";
    let all = errors(json);
    assert_eq!(
        all,
        vec![
            "in.json:3:12: server \"empty\": it has neither `command` (a program to run) nor `url` (a remote server)",
            "in.json:4:11: server \"both\": it has both `command` and `url`: add \"type\": \"stdio\" or \"http\" to choose",
        ]
    );
    let one = |entry: &str| {
        let all = errors(&format!("{{\"mcpServers\": {{\"s\": {entry}}}}}"));
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].clone()
    };
    assert!(one("\"npx\"").ends_with("server \"s\": expected an object with `command` or `url`, found a string"));
    assert!(one(r#"{"command": ["npx"]}"#).ends_with("`command` must be a string, found an array"));
    assert!(one(r#"{"command": "x", "args": "-y"}"#).ends_with("`args` must be an array of strings, found a string"));
    assert!(one(r#"{"command": "x", "args": [null]}"#).ends_with("`args[0]` must be a string, found null"));
    assert!(one(r#"{"command": "x", "env": {"A": {}}}"#).ends_with("`env.A` must be a string, found an object"));
    assert!(one(r#"{"command": " "}"#).ends_with("`command` is empty: expected the program to run"));
    assert!(one(r#"{"type": "grpc", "url": "https://h"}"#).contains("unknown `type` \"grpc\": expected \"stdio\""));
    assert!(one(r#"{"type": "sse", "command": "x"}"#).ends_with("its type is \"sse\" but it has no `url`"));
    assert!(one(r#"{"type": "stdio", "url": "https://h"}"#).contains("type is \"stdio\" but it has no `command`"));
    assert!(one(r#"{"type": "http", "transport": "sse", "url": "https://h"}"#).contains("disagree"));
    assert!(one(r#"{"url": "localhost:3000/mcp"}"#).contains("is not a http URL: expected one starting with http://"));
    assert!(one(r#"{"type": "http", "url": "wss://h/mcp"}"#).contains("is not a http URL"));
    assert!(one(r#"{"url": "https:///mcp"}"#).contains("has no host"));
    assert!(
        one(r#"{"command": "x", "disabled": "yes"}"#).ends_with("`disabled` must be true or false, found a string")
    );
    assert!(one(r#"{"serverUrl": "https://h/mcp"}"#).contains("rename it to `url`"));
}

#[test]
fn bad_documents_say_where_and_what() {
    let all = errors("{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}");
    assert_eq!(all.len(), 1);
    assert!(all[0].starts_with("in.json:3:"), "{all:?}");
    assert!(all[0].contains("not valid JSON: trailing comma"), "{all:?}");
    assert_eq!(errors("")[0], "in.json:1:1: not valid JSON: EOF while parsing a value");
    assert_eq!(errors("[1]")[0], "in.json: expected a JSON object with `mcpServers` (or `servers`), found an array");
    let e = &errors(r#"{"other": 1}"#)[0];
    assert!(e.starts_with("in.json: no `mcpServers` object (nor VS Code's `servers`)"), "{e}");
    let e = &errors(r#"{"a": {"command": "x"}}"#)[0];
    assert!(e.ends_with("wrap them as {\"mcpServers\": {...}}"), "{e}");
    let e = &errors("{\"mcpServers\":\n  [1]}")[0];
    assert_eq!(e, "in.json:2:3: `mcpServers` must be an object mapping server names to their settings, found an array");
}

#[test]
fn sanitize_rules() {
    assert_eq!(sanitize("My Server"), "my-server");
    assert_eq!(sanitize("a_b.c d"), "a-b-c-d");
    assert_eq!(sanitize("-x"), "s--x");
    assert_eq!(sanitize("@@@"), "server");
    assert_eq!(sanitize(&"x".repeat(40)).len(), 32);
    for name in ["My Server", "-x", "@@@", "9", &"Y".repeat(50)] {
        assert!(is_valid_server_id(&sanitize(name)), "{name}");
    }
    assert_eq!(assign_ids(&["a", "A", "a_", "a-"]), vec!["a", "a-2", "a--2", "a-"]);
}

#[test]
fn nulls_and_repeated_keys_read_as_json_does() {
    // `null` is absent, except for `timeout`, whose note says what it found;
    // a key written twice keeps its last value.
    let json = r#"{"mcpServers": {"a": {"command": "x", "command": "y", "args": null, "env": null,
                                        "enabled": null, "timeout": null, "cwd": null}}}"#;
    let (imported, config) = import(json);
    let a = &config.servers["a"];
    assert_eq!(a.command.as_deref(), Some("y"));
    assert!(a.args.is_empty() && a.env.is_empty() && a.enabled && a.cwd.is_none());
    assert!(notes(&imported).contains("ignored `timeout`: expected a number of milliseconds, found null"));
}

#[test]
fn wrong_types_name_the_key() {
    let one = |entry: &str| {
        let all = errors(&format!("{{\"mcpServers\": {{\"s\": {entry}}}}}"));
        assert_eq!(all.len(), 1, "{all:?}");
        all[0].clone()
    };
    let e = one(r#"{"url": "https://h/mcp", "headers": ["a"]}"#);
    assert!(e.ends_with("server \"s\": `headers` must be an object of strings, found an array"), "{e}");
    let e = one(r#"{"url": "https://h/mcp", "headers": {"A": [1]}}"#);
    assert!(e.ends_with("`headers.A` must be a string, found an array"), "{e}");
    let e = one(r#"{"command": "x", "enabled": 1}"#);
    assert!(e.ends_with("`enabled` must be true or false, found a number"), "{e}");
    let e = one(r#"{"command": "x", "cwd": {}}"#);
    assert!(e.ends_with("`cwd` must be a string, found an object"), "{e}");
    let e = one(r#"{"command": "x", "description": false}"#);
    assert!(e.ends_with("`description` must be a string, found a boolean"), "{e}");
    let e = one(r#"{"transport": 5, "command": "x"}"#);
    assert!(e.ends_with("`transport` must be a string, found a number"), "{e}");
    // Positioned at the entry, as every entry error is.
    assert!(e.starts_with("in.json:1:22: "), "{e}");
}

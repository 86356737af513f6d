//! The command line as a user meets it: configuration errors, starter files,
//! bad flags, commands not available yet.

mod common;

use std::process::Command;

use common::*;

fn vmcp(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(vmcp_bin())
        .args(args)
        .current_dir(dir)
        .env_remove("VMCP_CONFIG")
        .env("XDG_CONFIG_HOME", dir.join("xdg"))
        .env("HOME", dir)
        .output()
        .expect("run vmcp");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn validate_lists_every_error_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[gateway]\nlisen = \"127.0.0.1:3000\"\n\n[servers.Bad_Id]\ncommand = \"x\"\n\n[servers.ok]\ncommand = \"x\"\nrequest_timeout = \"soon\"\n",
    )
    .unwrap();
    let (code, _, err) = vmcp(&["config", "validate", file.to_str().unwrap()], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bad.toml:2:1"), "{err}");
    assert!(err.contains("did you mean `listen`"), "{err}");
    assert!(err.contains("Bad_Id"), "{err}");
    assert!(err.contains("bad.toml:9:"), "{err}");
    assert!(err.contains("3 errors found"), "{err}");
}

#[test]
fn init_writes_a_starter_that_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = vmcp(&["config", "init"], dir.path());
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = vmcp(&["config", "validate"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok (2 servers: alpha, beta)"), "{out}");
    let (code, _, err) = vmcp(&["config", "init"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");
    let (code, out, _) = vmcp(&["config", "init", "--output", "-"], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("[gateway]"));
}

#[test]
fn start_refuses_a_bad_config_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("v.toml");
    std::fs::write(&file, "[servers.a]\ncommand = \"${VMCP_TEST_SURELY_UNSET_VAR}\"\n").unwrap();
    let (code, _, err) = vmcp(&["start", "--stdio", "--config", file.to_str().unwrap()], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("v.toml:2:"), "{err}");
    assert!(err.contains("VMCP_TEST_SURELY_UNSET_VAR"), "{err}");
}

#[test]
fn start_without_any_config_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = vmcp(&["start", "--stdio"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("no configuration file found") && err.contains("vmcp config init"), "{err}");
}

#[test]
fn bad_flags_and_commands_not_available_yet() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = vmcp(&["start", "--no-such-flag"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--no-such-flag"));
    let (code, _, err) = vmcp(&["frobnicate"], dir.path());
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = vmcp(&["bench"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("no target"), "{err}");
    // --daemon is for the HTTP front end; stdio belongs to the client that started it.
    let (code, _, err) = vmcp(&["start", "--daemon", "--stdio"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--daemon") && err.contains("--stdio"), "{err}");
}

#[test]
fn the_quickstart_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = vmcp(&["config", "validate", root.join("examples/quickstart.toml").to_str().unwrap()], root);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alpha, beta"), "{out}");
}

const CLAUDE_DESKTOP_JSON: &str = r#"{
  "mcpServers": {
    "My Files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
    "search": {"url": "https://search.example/mcp", "headers": {"Authorization": "Bearer abc"}, "disabled": true}
  }
}"#;

#[test]
fn import_writes_toml_to_stdout_with_notes_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("claude.json"), CLAUDE_DESKTOP_JSON).unwrap();
    let (code, out, err) = vmcp(&["config", "import", "claude.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("[servers.my-files]"), "{out}");
    assert!(out.contains("[servers.search]\ntransport = \"http\""), "{out}");
    assert!(out.contains("enabled = false"), "{out}");
    assert!(err.contains("\"My Files\" -> my-files"), "{err}");
    assert!(err.contains("servers.search.headers.Authorization"), "{err}");
    assert!(!err.contains("[servers."), "the TOML goes to stdout only: {err}");
}

#[test]
fn import_to_a_file_validates_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("claude.json"), CLAUDE_DESKTOP_JSON).unwrap();
    let (code, _, err) = vmcp(&["config", "import", "claude.json", "--output", "imported.toml"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote imported.toml (2 servers"), "{err}");
    let (code, out, err) = vmcp(&["config", "validate", "imported.toml"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ok (2 servers: my-files, search)"), "{out}");
    let (code, _, err) = vmcp(&["config", "import", "claude.json", "-o", "imported.toml"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("imported.toml already exists; pass --force"), "{err}");
    let (code, _, err) = vmcp(&["config", "import", "claude.json", "-o", "imported.toml", "--force"], dir.path());
    assert_eq!(code, 0, "{err}");
}

#[test]
fn import_reports_bad_input_precisely() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.json"), "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\"\n  }\n")
        .unwrap();
    let (code, out, err) = vmcp(&["config", "import", "bad.json"], dir.path());
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("bad.json:5:") && err.contains("not valid JSON"), "{err}");
    let (code, _, err) = vmcp(&["config", "import", "missing.json"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("cannot read missing.json"), "{err}");
    std::fs::write(dir.path().join("empty.json"), r#"{"mcpServers": {"broken": {"args": ["x"]}}}"#).unwrap();
    let (code, _, err) = vmcp(&["config", "import", "empty.json", "-o", "out.toml"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("empty.json:1:27: server \"broken\": it has neither `command`"), "{err}");
    assert!(!dir.path().join("out.toml").exists());
}

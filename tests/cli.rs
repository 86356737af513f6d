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
    assert!(err.contains("not available in this version yet"), "{err}");
    let (code, _, err) = vmcp(&["start", "--daemon"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("--daemon"), "{err}");
}

#[test]
fn the_quickstart_config_is_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (code, out, err) = vmcp(&["config", "validate", root.join("examples/quickstart.toml").to_str().unwrap()], root);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("alpha, beta"), "{out}");
}

//! Configuration (`vmcp::config`): the TOML parser, validation, error positions and
//! `${VAR}` / `${VAR:-default}` / `$${` substitution. Configuration files and
//! runtime mount snippets are user input: a mistake in them must be an error
//! message, never a panic.
//!
//! Input: `NAME=VALUE` lines, a NUL byte, then a TOML document (without a NUL
//! byte the whole input is the document and the environment only has `HOME`).
//!
//! Checks:
//! - `parse_str` and `parse_server_snippet` never panic, and give the same
//!   answer twice;
//! - every error names the document it came from, at a 1-based line and column
//!   that are inside it;
//! - substitution, through a real `[servers.x] args = [...]` value:
//!   text without `${` comes out unchanged; text with every `${` written `$${`
//!   comes out as the text (the documented literal escape); `${NAME}` and
//!   `${NAME:-default}` give the variable's value as is (never expanded again), or
//!   the default when it is unset or empty.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use vmcp::config::{self, Config, ConfigErrors};

const ORIGIN: &str = "fuzz.toml";

fuzz_target!(|data: &[u8]| {
    let (env_part, doc) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let mut vars = BTreeMap::from([("HOME".to_owned(), "/home/fuzz".to_owned())]);
    for line in String::from_utf8_lossy(env_part).split('\n').filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once('=').unwrap_or((line, ""));
        vars.insert(name.to_owned(), value.to_owned());
    }
    let env = |name: &str| vars.get(name).cloned();
    let doc = String::from_utf8_lossy(doc);

    let parsed = config::parse_str(ORIGIN, &doc, &env);
    check_errors(&parsed, &doc);
    assert_eq!(parsed, config::parse_str(ORIGIN, &doc, &env), "parse_str is not deterministic");

    let snippet = config::parse_server_snippet("x", ORIGIN, &doc, &env);
    check_errors(&snippet, &doc);

    substitution(&doc, &vars);
});

fn check_errors<T>(result: &Result<T, ConfigErrors>, text: &str) {
    let Err(errors) = result else { return };
    assert!(!errors.0.is_empty(), "failed without an error");
    let lines = text.matches('\n').count() + 1;
    for e in &errors.0 {
        assert_eq!(e.file, ORIGIN, "{e}");
        assert!(e.line.is_none_or(|l| (1..=lines).contains(&l)), "line outside the document: {e}");
        assert!(e.column.is_none_or(|c| c >= 1), "column 0: {e}");
        assert!(e.column.is_none() || e.line.is_some(), "a column without a line: {e}");
    }
    let _ = errors.to_string();
}

/// The `args` of server `x` in a document holding `arg` as its only argument.
fn args_of(arg: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, ConfigErrors> {
    let doc =
        format!("[gateway]\nstate_dir = \"/fuzz\"\n[servers.x]\ncommand = \"c\"\nargs = [{}]\n", toml_string(arg));
    config::parse_str(ORIGIN, &doc, env).map(|c: Config| c.servers.get("x").map(|s| s.args.clone()).unwrap_or_default())
}

fn substitution(text: &str, vars: &BTreeMap<String, String>) {
    let env = |name: &str| vars.get(name).cloned();
    if !text.contains("${") {
        assert_eq!(args_of(text, &env), Ok(vec![text.to_owned()]), "text without `${{` changed");
    }
    let escaped = text.replace("${", "$${");
    assert_eq!(args_of(&escaped, &env), Ok(vec![text.to_owned()]), "`$${{` is not a literal `${{`: {escaped:?}");

    // A few variables are enough; each one costs two more parses.
    for (name, value) in vars.iter().filter(|(name, _)| is_variable_name(name)).take(4) {
        assert_eq!(args_of(&format!("${{{name}}}"), &env), Ok(vec![value.clone()]), "${{{name}}}");
        let default = text.replace('}', "");
        let want = if value.is_empty() { default.clone() } else { value.clone() };
        assert_eq!(args_of(&format!("${{{name}:-{default}}}"), &env), Ok(vec![want]), "${{{name}:-{default}}}");
    }
    let unset = "VMCP_FUZZ_UNSET";
    if !vars.contains_key(unset) {
        let default = text.replace('}', "");
        assert_eq!(
            args_of(&format!("${{{unset}:-{default}}}"), &env),
            Ok(vec![default]),
            "default of an unset variable"
        );
        assert!(args_of(&format!("${{{unset}}}"), &env).is_err(), "an unset variable without a default");
    }
}

/// The documented NAME: letters, digits and `_`, not starting with a digit.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

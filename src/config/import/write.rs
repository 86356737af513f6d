//! The result of an import: notes about the whole of it, and the TOML
//! document, whose values and keys the toml crate writes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use super::entry::Server;

/// Words that mark an env or header key as a likely secret.
const SECRET_WORDS: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD", "AUTH"];

/// Notes about the whole result: secrets in clear, variables to set.
pub(super) fn summary_notes(servers: &[Server], ids: &[String]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut secrets = Vec::new();
    let mut vars = BTreeSet::new();
    for (server, id) in servers.iter().zip(ids) {
        for (table, map) in [("env", &server.env), ("headers", &server.headers)] {
            for (key, text) in map {
                let upper = key.to_ascii_uppercase();
                // A value with `${` is a substitution, or a client placeholder noted already.
                if !text.value.contains("${")
                    && !text.value.is_empty()
                    && SECRET_WORDS.iter().any(|w| upper.contains(w))
                {
                    secrets.push(format!("servers.{id}.{table}.{key}"));
                }
            }
        }
        vars.extend(server.vars.iter().cloned());
    }
    if !secrets.is_empty() {
        notes.push(format!(
            "these look like secrets and are written in clear: {}; consider `${{VAR}}` instead \
             (such as KEY = \"${{MY_KEY}}\", with MY_KEY set where vmcp runs) and keep the file private",
            secrets.join(", ")
        ));
    }
    if !vars.is_empty() {
        notes.push(format!(
            "vmcp reads these environment variables when it loads the configuration: {} \
             (each must be set, or write `${{VAR:-default}}`)",
            vars.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    notes
}

/// The TOML document. Values and keys are written by the toml crate.
pub(super) fn write_document(origin: &str, servers: &[Server], ids: &[String]) -> Result<String, toml::ser::Error> {
    let mut out = String::new();
    let _ = writeln!(out, "# vmcp configuration imported from {} by `vmcp config import`.", comment_text(origin));
    out.push_str(
        "# Check it with `vmcp config validate FILE`; run it with `vmcp start --config FILE`.\n\
         # Any string may use ${VAR} (an error when VAR is unset), ${VAR:-default},\n\
         # and $${ for a literal ${.\n\n\
         [gateway]\n\
         # Every setting keeps its default; `vmcp config init --output -` lists them all.\n\
         # listen = \"127.0.0.1:3000\"\n",
    );
    for (server, id) in servers.iter().zip(ids) {
        let _ = write!(out, "\n[servers.{id}]\n");
        if server.name != *id {
            let _ = writeln!(out, "# imported as {}", comment_text(&format!("{:?}", server.name)));
        }
        out.push_str(&entry("transport", server.transport.as_str())?);
        if let Some(command) = &server.command {
            out.push_str(&entry("command", command)?);
        }
        if !server.args.is_empty() {
            out.push_str(&entry("args", &server.args)?);
        }
        if let Some(cwd) = &server.cwd {
            out.push_str(&entry("cwd", cwd)?);
        }
        if let Some(url) = &server.url {
            out.push_str(&entry("url", url)?);
        }
        if let Some(timeout) = &server.request_timeout {
            out.push_str(&entry("request_timeout", timeout)?);
        }
        if !server.enabled {
            out.push_str(&entry("enabled", &false)?);
        }
        if let Some(description) = &server.description {
            out.push_str(&entry("description", description)?);
        }
        for (table, map) in [("env", &server.env), ("headers", &server.headers)] {
            if map.is_empty() {
                continue;
            }
            let _ = write!(out, "\n[servers.{id}.{table}]\n");
            let values: BTreeMap<&str, &str> = map.iter().map(|(k, t)| (k.as_str(), t.value.as_str())).collect();
            out.push_str(&toml::to_string(&values)?);
        }
    }
    Ok(out)
}

/// One `key = value` line.
fn entry<T: serde::Serialize + ?Sized>(key: &str, value: &T) -> Result<String, toml::ser::Error> {
    toml::to_string(&BTreeMap::from([(key, value)]))
}

/// Text safe inside a `#` comment: no line breaks or other control characters.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

//! [`Check`]: what validation of the merged configuration records its
//! errors with, and the checks several tables share.
//!
//! Per-file reading has already checked syntax, keys and value types; what is
//! left needs the merged view (a later file may supply what an earlier one
//! lacks) or a value's meaning: addresses, names, ranges, and which keys go
//! with which transport. Each error points at the value that set it, so it
//! names the right file even after a merge.
//!
//! This module owns [`Check`] (the errors, the environment for `~`, whether
//! files were merged) and the checks of single values that several tables
//! use (addresses, URLs, origins, separators, hashes, durations). Each key's
//! own check and default come from its table's declaration
//! (`config_table!`); what combines the keys of one table is in that table's
//! module (`gateway.rs`, `server.rs`, `auth.rs`, `route.rs`); the step from
//! the merged layer to the configuration is `validate.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::at::{At, Entries};
use super::error::{ConfigError, Pos};
use super::values::TransportKind;

/// The errors found so far in the merged configuration, and what checks
/// need to know about where it came from.
pub(crate) struct Check<'a> {
    pub(crate) errors: Vec<ConfigError>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// More than one file: say so where an error is about the combination.
    merged: bool,
    /// Named by errors about defaults, which have no position.
    fallback_file: String,
}

/// Items without their positions.
pub(crate) fn unpositioned<T>(items: Vec<At<T>>) -> Vec<T> {
    items.into_iter().map(|at| at.value).collect()
}

/// A table's entries without their positions (empty when no file set it).
pub(crate) fn values<T>(entries: Option<At<Entries<T>>>) -> BTreeMap<String, T> {
    entries.map(|at| at.value.into_iter().map(|(k, v)| (k, v.value)).collect()).unwrap_or_default()
}

impl<'a> Check<'a> {
    /// A check of the configuration read from `sources`; `env` gives `HOME`.
    pub(crate) fn new(env: &'a dyn Fn(&str) -> Option<String>, sources: &[PathBuf]) -> Self {
        Check {
            errors: Vec::new(),
            env,
            merged: sources.len() > 1,
            fallback_file: sources.first().map_or_else(|| "<defaults>".to_owned(), |p| p.display().to_string()),
        }
    }

    pub(crate) fn fail(&mut self, pos: &Pos, message: String) {
        self.errors.push(ConfigError::at(pos, message));
    }

    /// Runs `test` on the value, if set, and records its complaint.
    pub(crate) fn expect<T>(&mut self, at: &Option<At<T>>, path: &str, test: impl FnOnce(&T) -> Result<(), String>) {
        if let Some(at) = at
            && let Err(why) = test(&at.value)
        {
            self.fail(&at.pos, format!("{path}: {why}"));
        }
    }

    pub(crate) fn in_merged(&self) -> &'static str {
        if self.merged { " (in the merged configuration)" } else { "" }
    }
    /// A path to a file read elsewhere: non-empty, `~` expanded.
    pub(crate) fn path(&mut self, at: Option<&At<String>>, what: &str, expected: &str) -> Option<PathBuf> {
        let at = at?;
        if at.value.is_empty() {
            self.fail(&at.pos, format!("{what}: must not be empty: expected {expected}"));
            return Some(PathBuf::new());
        }
        Some(self.expand_home(&at.value, Some(&at.pos), what))
    }

    /// Expands a leading `~` or `~/` with `$HOME`.
    pub(crate) fn expand_home(&mut self, path: &str, pos: Option<&Pos>, what: &str) -> PathBuf {
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
}

/// `gateway.listen`: an IP socket address, or `localhost:PORT`.
pub(crate) fn listen_problem(v: &str) -> Result<(), String> {
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
pub(crate) fn path_string(path: PathBuf) -> String {
    path.into_os_string().into_string().unwrap_or_else(|os| Path::new(&os).display().to_string())
}

/// 64 hex digits.
pub(crate) fn sha256_problem(v: &str) -> Result<(), String> {
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
pub(crate) fn check_http_url(url: &str) -> Result<(), String> {
    check_url(TransportKind::Http, url)
        .map_err(|_| format!("\"{url}\" is not an absolute http(s) URL: expected one such as \"https://host/path\""))
}

/// RFC 8707: a resource indicator has no fragment.
pub(crate) fn no_fragment(url: &str) -> Result<(), String> {
    if url.contains('#') {
        Err(format!("\"{url}\" has a fragment (#...): a resource URI cannot have one"))
    } else {
        Ok(())
    }
}

pub(crate) fn separator_problem(v: &str) -> Result<(), String> {
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

pub(crate) fn pos_of<T>(at: &Option<At<T>>) -> Option<Pos> {
    at.as_ref().map(|at| at.pos.clone())
}

pub(crate) fn positive(bad: bool, expected: &str) -> Result<(), String> {
    if bad { Err(format!("expected {expected}")) } else { Ok(()) }
}

pub(crate) fn non_zero(d: Duration) -> Result<(), String> {
    positive(d.is_zero(), "a duration greater than zero, such as \"30s\"")
}

/// A URL of the scheme the transport speaks, with something after the scheme.
pub(crate) fn check_url(transport: TransportKind, url: &str) -> Result<(), String> {
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
pub(crate) fn check_origin(origin: &str) -> Result<(), String> {
    let rest = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.contains('/') => Ok(()),
        _ => Err(format!(
            "\"{origin}\" is not an origin: expected scheme://host[:port] with no path, \
             such as \"https://app.example.com\""
        )),
    }
}

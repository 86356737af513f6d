//! How names cross the gateway: `<server><separator><name>` for tools and prompts,
//! `<server>+<uri>` for resources and templates.
//!
//! Server ids match `^[a-z][a-z0-9-]{0,31}$`, so they contain neither the default
//! separator `__` nor `+`: splitting at the first occurrence is unambiguous. Tools
//! and prompts are nevertheless routed through the catalog, not by splitting,
//! because a name over the length budget is shortened with a hash and because
//! `prefix = "never"` exposes names bare.

use sha2::{Digest, Sha256};

use crate::config::PrefixMode;

#[derive(Debug, Clone)]
pub struct Naming {
    pub separator: String,
    pub max_len: usize,
    /// Whether names carry their server's id (from `prefix` and the server count).
    pub prefixed: bool,
}

impl Naming {
    pub fn new(separator: &str, max_len: usize, mode: PrefixMode, server_count: usize) -> Naming {
        let prefixed = match mode {
            PrefixMode::Always => true,
            PrefixMode::Conditional => server_count > 1,
            PrefixMode::Never => false,
        };
        Naming { separator: separator.to_owned(), max_len, prefixed }
    }

    /// The name a client sees for a tool or prompt.
    pub fn expose(&self, server: &str, name: &str) -> String {
        let full = if self.prefixed { format!("{server}{}{name}", self.separator) } else { name.to_owned() };
        shorten(&full, self.max_len)
    }

    /// The URI a client sees for a resource or a template.
    pub fn expose_uri(&self, server: &str, uri: &str) -> String {
        if self.prefixed { format!("{server}+{uri}") } else { uri.to_owned() }
    }

    /// Splits an exposed URI into server and original URI, when prefixed.
    pub fn split_uri<'a>(&self, exposed: &'a str) -> Option<(&'a str, &'a str)> {
        if !self.prefixed {
            return None;
        }
        let (server, uri) = exposed.split_once('+')?;
        valid_server_id(server).then_some((server, uri))
    }
}

/// Shortens `full` to at most `max` bytes, deterministically: the longest prefix
/// that fits, `_`, and 8 hex digits of the SHA-256 of the whole name. Names within
/// budget are returned unchanged.
pub fn shorten(full: &str, max: usize) -> String {
    if full.len() <= max {
        return full.to_owned();
    }
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let mut keep = max.saturating_sub(hash.len() + 1);
    while keep > 0 && !full.is_char_boundary(keep) {
        keep -= 1;
    }
    format!("{}_{hash}", &full[..keep])
}

/// `^[a-z][a-z0-9-]{0,31}$`
pub fn valid_server_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 32
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_modes() {
        let always = Naming::new("__", 64, PrefixMode::Always, 1);
        assert_eq!(always.expose("time", "now"), "time__now");
        assert_eq!(always.expose_uri("files", "file:///a"), "files+file:///a");
        assert_eq!(always.split_uri("files+file:///a+b"), Some(("files", "file:///a+b")));
        assert_eq!(always.split_uri("Files+x"), None);
        let cond1 = Naming::new("__", 64, PrefixMode::Conditional, 1);
        assert_eq!(cond1.expose("time", "now"), "now");
        let cond2 = Naming::new("__", 64, PrefixMode::Conditional, 2);
        assert_eq!(cond2.expose("time", "now"), "time__now");
        assert_eq!(Naming::new(".", 64, PrefixMode::Never, 5).expose("time", "now"), "now");
    }

    #[test]
    fn long_names_are_shortened_deterministically_within_budget() {
        let n = Naming::new("__", 64, PrefixMode::Always, 2);
        let long = "a".repeat(80);
        let a = n.expose("srv", &long);
        assert_eq!(a.len(), 64);
        assert_eq!(a, n.expose("srv", &long));
        assert!(a.starts_with("srv__aaa"));
        // Two names sharing the kept prefix still differ.
        assert_ne!(a, n.expose("srv", &format!("{long}b")));
        // Multi-byte characters are never cut in half.
        let s = shorten(&"é".repeat(40), 20);
        assert!(s.len() <= 20);
    }

    #[test]
    fn server_ids() {
        for ok in ["a", "time", "my-server-2", &"a".repeat(32)] {
            assert!(valid_server_id(ok), "{ok}");
        }
        for bad in ["", "1a", "A", "a_b", "a+b", &"a".repeat(33)] {
            assert!(!valid_server_id(bad), "{bad}");
        }
    }
}

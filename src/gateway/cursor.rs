//! The composite cursor for lists fanned out to several servers.
//!
//! A page of `resources/list` holds one page from every server that has more to
//! give. The cursor a client gets back records, per server, the cursor that
//! server returned; the next request asks only those servers for their next page.
//! No server's `nextCursor` is ever dropped. The encoding is opaque to clients
//! (base64url of a small JSON object) and versioned so it can change.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composite {
    /// Format version.
    v: u8,
    /// Server id → that server's own cursor.
    s: BTreeMap<String, String>,
}

impl Composite {
    pub fn new() -> Self {
        Composite { v: 1, s: BTreeMap::new() }
    }

    pub fn insert(&mut self, server: &str, cursor: String) {
        self.s.insert(server.to_owned(), cursor);
    }

    pub fn is_empty(&self) -> bool {
        self.s.is_empty()
    }

    pub fn servers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.s.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(text: &str) -> Result<Composite, String> {
        let bytes =
            URL_SAFE_NO_PAD.decode(text).map_err(|_| format!("invalid cursor {text:?}: not issued by this gateway"))?;
        let c: Composite = serde_json::from_slice(&bytes)
            .map_err(|_| format!("invalid cursor {text:?}: not issued by this gateway"))?;
        if c.v != 1 {
            return Err(format!("invalid cursor {text:?}: unknown version {}", c.v));
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut c = Composite::new();
        c.insert("b", "page-2".into());
        c.insert("a", "x\"y".into());
        let text = c.encode();
        assert!(text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(Composite::decode(&text).unwrap(), c);
    }

    #[test]
    fn foreign_cursors_are_rejected() {
        assert!(Composite::decode("not a cursor!").is_err());
        assert!(Composite::decode(&URL_SAFE_NO_PAD.encode(b"{\"v\":9,\"s\":{}}")).is_err());
        assert!(Composite::decode(&URL_SAFE_NO_PAD.encode(b"[]")).is_err());
    }
}

//! `[registry]` and `[cluster]`: where runtime mounts are kept, and how this
//! gateway names itself among its replicas.
//!
//! Without `[registry] url` the mounts live in the embedded SQLite file of
//! `gateway.state_dir` and the gateway is a cluster of one. With a PostgreSQL
//! URL every replica pointed at the same database shares the mounts, learns of
//! each change at once (LISTEN/NOTIFY), and appears in the members list.
//! Both tables are declared once below (see `table.rs`).

use base64::Engine;

use super::at::At;
use super::check::{Check, check_http_url};
use super::kinds::{EachString, Str};
use super::table::config_table;

config_table! {
    /// `[registry]`: where runtime mounts (`vmcp mount`) are stored.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct RegistryConfig;
    layer RegistryLayer {}
    /// The keys of `[registry]`.
    keys REGISTRY_KEYS;
    merge merge;
    table {
        /// `postgres://user:password@host:port/database` shared by every replica;
        /// absent: `registry.db` (SQLite) in `gateway.state_dir`.
        url: Option<String> = Str, default None, check |v| postgres_url_problem(v);
    }
}

config_table! {
    /// `[cluster]`: this replica among others sharing one registry.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct ClusterConfig;
    layer ClusterLayer {}
    /// The keys of `[cluster]`.
    keys CLUSTER_KEYS;
    merge merge;
    table {
        /// This replica's name in the members list; absent: the host name and a
        /// random suffix, new at every start.
        replica_id: Option<String> = Str, default None, check |v| replica_id_problem(v);
        /// The URL at which other replicas reach this one (`http://10.0.0.5:3000`),
        /// shown in the members list.
        advertise: Option<String> = Str, default None, check |v| check_http_url(v);
        /// The key that seals handshake-era session ids, so that any replica
        /// holding it can resume a session another one made: 32 bytes, hex or base64.
        session_key: Option<SessionKey> = Str, default None, build |c, at, path| c.session_key(at, path);
        /// Keys of earlier rotations: ids they sealed are still accepted.
        previous_keys: Vec<SessionKey> = EachString, default Vec::new(),
            build |c, at, path| {
                at.map(|keys| keys.value.into_iter().filter_map(|k| c.session_key(Some(k), path)).collect())
                    .unwrap_or_default()
            };
    }
}

/// A 256-bit key that seals session ids. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(pub [u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

/// 32 bytes from 64 hex digits or from base64 (standard or URL-safe, padded or not).
fn decode_session_key(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0)).collect::<Vec<u8>>()
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        engines.iter().find_map(|e| e.decode(text).ok()).ok_or_else(|| {
            "is neither 64 hex digits nor base64: expected 32 random bytes, such as the output of \
             `openssl rand -hex 32`"
                .to_owned()
        })?
    };
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| format!("decodes to {} bytes: expected 32 (`openssl rand -hex 32` makes one)", bytes.len()))
}

/// `registry.url`: a PostgreSQL URL that the driver accepts.
fn postgres_url_problem(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(format!(
            "\"{}\" is not a PostgreSQL URL: expected \"postgres://user:password@host:5432/database\"",
            redact_url(url)
        ));
    }
    url.parse::<tokio_postgres::Config>()
        .map(|_| ())
        .map_err(|e| format!("\"{}\" is not a valid PostgreSQL URL: {e}", redact_url(url)))
}

/// `cluster.replica_id`: what a Kubernetes pod name may be, so the default
/// there (the host name) always fits.
fn replica_id_problem(id: &str) -> Result<(), String> {
    let fits = !id.is_empty()
        && id.len() <= 63
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && id.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric);
    if fits {
        Ok(())
    } else {
        Err(format!(
            "\"{id}\" is not a replica id: expected 1 to 63 lowercase letters, digits, `-` or `.`, starting \
             with a letter or digit (a pod name fits)"
        ))
    }
}

/// `url` with the password, if any, replaced by `***`, for messages and views.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

impl Check<'_> {
    pub(crate) fn registry(&mut self, r: RegistryLayer) -> RegistryConfig {
        r.check_keys(self, "registry");
        r.build(self, "registry")
    }

    pub(crate) fn cluster(&mut self, c: ClusterLayer) -> ClusterConfig {
        c.check_keys(self, "cluster");
        c.build(self, "cluster")
    }

    /// A session key, decoded; the error at its value (which is not repeated).
    fn session_key(&mut self, at: Option<At<String>>, path: &str) -> Option<SessionKey> {
        let at = at?;
        match decode_session_key(&at.value) {
            Ok(key) => Some(SessionKey(key)),
            Err(why) => {
                self.fail(&at.pos, format!("{path}: the key {why}"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://vmcp:secret@db:5432/vmcp"), "postgres://vmcp:***@db:5432/vmcp");
        assert_eq!(redact_url("postgres://vmcp@db/vmcp"), "postgres://vmcp@db/vmcp");
        assert_eq!(redact_url("postgres://db"), "postgres://db");
        assert_eq!(redact_url("postgres://a:b@db?sslmode=disable"), "postgres://a:***@db?sslmode=disable");
    }

    #[test]
    fn session_keys_decode_from_hex_and_base64() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let key = decode_session_key(hex).unwrap_or_default();
        assert_eq!(key[1], 0x11);
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        assert_eq!(decode_session_key(&b64), Ok(key));
        assert!(decode_session_key("c2hvcnQ=").unwrap_err().contains("decodes to 5 bytes"));
        assert!(decode_session_key("not a key!").unwrap_err().contains("neither 64 hex digits nor base64"));
        assert_eq!(format!("{:?}", SessionKey(key)), "SessionKey(..)");
    }

    #[test]
    fn urls_and_ids_are_checked() {
        assert!(postgres_url_problem("postgres://vmcp@127.0.0.1:5432/vmcp").is_ok());
        assert!(postgres_url_problem("mysql://x").unwrap_err().contains("not a PostgreSQL URL"));
        assert!(postgres_url_problem("postgres://h/db?bogus_option=1").is_err());
        assert!(replica_id_problem("vmcp-7d9f-abc12").is_ok());
        assert!(replica_id_problem("Vmcp").is_err());
        assert!(replica_id_problem("-a").is_err());
        assert!(replica_id_problem("").is_err());
    }
}

//! `[registry]` and `[cluster]`: where runtime mounts are kept, and how this
//! gateway names itself among its replicas.
//!
//! Without `[registry] url` the mounts live in the embedded SQLite file of
//! `gateway.state_dir` and the gateway is a cluster of one. With a PostgreSQL
//! URL every replica pointed at the same database shares the mounts, learns of
//! each change at once (LISTEN/NOTIFY), and appears in the members list.
//! Both tables are declared once below (see `table.rs`).

use super::check::{Check, check_http_url};
use super::kinds::Str;
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
    }
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

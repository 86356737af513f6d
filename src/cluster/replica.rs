//! Who this gateway is among the replicas: its id, where it can be reached,
//! what it runs and since when.

use rand::Rng;

use crate::config::ClusterConfig;
use crate::registry::Member;

/// This replica, as it announces itself in the members list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    pub id: String,
    pub advertise: Option<String>,
    pub version: String,
    /// Unix seconds.
    pub started_at: i64,
}

impl Replica {
    /// From `[cluster]`: `replica_id`, else the host name and a random suffix
    /// (new at every start, so a restarted process is a new member and the old
    /// one leaves the list when its heartbeats stop).
    pub fn new(config: &ClusterConfig, started_at: i64) -> Replica {
        let id = config.replica_id.clone().unwrap_or_else(default_id);
        Replica { id, advertise: config.advertise.clone(), version: env!("CARGO_PKG_VERSION").to_owned(), started_at }
    }

    /// As a row of the members list, just seen.
    pub fn member(&self) -> Member {
        Member {
            id: self.id.clone(),
            advertise: self.advertise.clone(),
            version: self.version.clone(),
            started_at: self.started_at,
            seen_ago: std::time::Duration::ZERO,
        }
    }
}

/// `<host>-<6 hex digits>`, the host name cut to what a replica id allows.
fn default_id() -> String {
    let host = nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_default();
    let host: String = host
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' })
        .take(48)
        .collect();
    let host = host.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let suffix: u32 = rand::rng().random_range(0..0x100_0000);
    if host.is_empty() { format!("vmcp-{suffix:06x}") } else { format!("{host}-{suffix:06x}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_id_is_a_valid_replica_id() {
        let id = default_id();
        assert!(id.len() <= 63, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'), "{id}");
        assert!(id.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric), "{id}");
        assert_ne!(default_id(), id, "two starts get two ids");
    }

    #[test]
    fn a_configured_id_wins() {
        let config = ClusterConfig {
            replica_id: Some("a-1".into()),
            advertise: Some("http://10.0.0.5:3000".into()),
            ..ClusterConfig::default()
        };
        let me = Replica::new(&config, 7);
        assert_eq!(me.id, "a-1");
        assert_eq!(me.member().advertise.as_deref(), Some("http://10.0.0.5:3000"));
    }
}

//! A replica in the members list.

use std::time::Duration;

/// One gateway replica sharing the registry, as it announced itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// `[cluster] replica_id`, or the host name and a random suffix.
    pub id: String,
    /// `[cluster] advertise`: where other replicas reach it.
    pub advertise: Option<String>,
    /// The vmcp version it runs.
    pub version: String,
    /// When it started, in Unix seconds.
    pub started_at: i64,
    /// How long ago its last heartbeat was.
    pub seen_ago: Duration,
}

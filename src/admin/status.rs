//! The admin API's view of the gateway process itself (`vmcp status`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: u64,
    pub listen: Option<String>,
    pub state_dir: String,
    pub servers: usize,
    pub ready: usize,
    pub down: usize,
    pub sessions: usize,
    /// Every server marked `required` is ready.
    pub ready_for_traffic: bool,
    pub not_ready: Vec<String>,
    /// This replica's id.
    #[serde(default)]
    pub replica: String,
    /// Where runtime mounts are stored: the SQLite file, or the PostgreSQL URL
    /// with its password hidden.
    #[serde(default)]
    pub registry: String,
    /// The registry revision last applied here.
    #[serde(default)]
    pub registry_revision: Option<u64>,
    /// The live replicas sharing the registry (this one alone without a
    /// shared registry).
    #[serde(default)]
    pub members: Vec<MemberView>,
    /// Why the members list could not be read, if it could not.
    #[serde(default)]
    pub members_error: Option<String>,
}

/// A replica in `vmcp status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MemberView {
    pub id: String,
    pub advertise: Option<String>,
    pub version: String,
    /// Unix seconds.
    pub started_at: i64,
    /// How long ago its last heartbeat was.
    pub seen_ago_seconds: f64,
}

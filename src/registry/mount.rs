//! What the registry stores: runtime mounts, and a consistent read of them.

use std::time::{SystemTime, UNIX_EPOCH};

/// One runtime mount, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// The server id (`^[a-z][a-z0-9-]{0,31}$`).
    pub id: String,
    /// The server's configuration as given to `vmcp mount`: the TOML of its
    /// `[servers.<id>]` table, stored verbatim (`${VAR}` unexpanded).
    pub snippet: String,
    pub enabled: bool,
    /// When it was mounted, in Unix seconds.
    pub mounted_at: i64,
}

/// Every mount as of one revision of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Grows by one with every write. Shared by every replica of a PostgreSQL
    /// registry; counted by this process alone for the SQLite file.
    pub revision: u64,
    /// Ordered by id.
    pub mounts: Vec<Mount>,
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| i64::try_from(since.as_secs()).unwrap_or(i64::MAX))
}

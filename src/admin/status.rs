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
}

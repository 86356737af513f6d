//! [`Settings`]: the gateway-wide values the stages read, fixed at start.
//!
//! Taken from `[gateway]` once, so a stage never reads the configuration
//! itself: a reload that changes one of these is reported as needing a
//! restart (see `reload.rs`).

use std::time::Duration;

use super::catalog::Naming;
use crate::config::Config;

/// Gateway-wide settings, fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub naming: Naming,
    pub server_name: String,
    pub request_timeout: Duration,
    pub init_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_message_size: usize,
    pub health: Health,
    /// Absolute cap on one backend request.
    pub max_request_time: Duration,
    /// Sessions open at once, all front ends together.
    pub max_sessions: usize,
}

/// Active health checks: a ping every `interval` (zero: none), each within
/// `timeout`; `failures` misses in a row restart the server.
#[derive(Debug, Clone, Copy)]
pub struct Health {
    pub interval: Duration,
    pub timeout: Duration,
    pub failures: u32,
}

impl Settings {
    pub fn new(config: &Config) -> Settings {
        let g = &config.gateway;
        // With `prefix = "conditional"` names depend on the number of servers
        // configured (not of those ready), so they never change because one crashed.
        let enabled = config.servers.values().filter(|s| s.enabled).count();
        Settings {
            naming: Naming::new(&g.separator, g.max_name_length, g.prefix, enabled),
            server_name: g.server_name.clone(),
            request_timeout: g.request_timeout,
            init_timeout: g.init_timeout,
            shutdown_grace: g.shutdown_grace,
            max_message_size: g.max_message_size,
            health: Health { interval: g.health_interval, timeout: g.health_timeout, failures: g.health_failures },
            max_request_time: g.max_request_time,
            max_sessions: g.max_sessions as usize,
        }
    }
}

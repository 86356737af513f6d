//! Hot reload: a changed configuration applied as a difference, on SIGHUP, on
//! `POST /admin/v1/reload`, or when a configuration file changes on disk.
//!
//! Servers added to the file are started, removed ones stopped, changed ones
//! restarted with their new settings; every other server, and every client
//! session, is left alone. A configuration that does not load is rejected whole:
//! the running one stays, and the reason is logged (and returned to the admin
//! API). Routing rules are replaced at once; policies apply to sessions opened
//! after the reload. Gateway-wide settings (listen
//! address, naming, limits) apply at the next start; a reload that changes
//! them says so.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::core::Gateway;
use super::rules::RuleTable;
use crate::config::{self, Config, ConfigErrors};

/// What a reload changed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReloadReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// `[gateway]` settings that differ and wait for a restart.
    pub needs_restart: Vec<String>,
    /// `[[route]]` changed (the new rules are in force).
    pub routes_changed: bool,
    /// `[[policy]]` changed (in force for sessions opened from now on).
    pub policies_changed: bool,
}

pub struct Reloader {
    paths: Vec<PathBuf>,
    gateway: Arc<Gateway>,
    current: tokio::sync::Mutex<Config>,
    seen: Mutex<Vec<Option<SystemTime>>>,
}

fn mtimes(paths: &[PathBuf]) -> Vec<Option<SystemTime>> {
    paths.iter().map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok()).collect()
}

impl Reloader {
    pub fn new(paths: Vec<PathBuf>, gateway: Arc<Gateway>, current: Config) -> Arc<Self> {
        let seen = mtimes(&paths);
        Arc::new(Reloader { paths, gateway, current: tokio::sync::Mutex::new(current), seen: Mutex::new(seen) })
    }

    /// Loads the configuration again and applies what changed.
    pub async fn reload(&self) -> Result<ReloadReport, ConfigErrors> {
        let mut current = self.current.lock().await;
        let fresh = match config::load(&self.paths) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!("configuration not reloaded; the running one stays:\n{e}");
                return Err(e);
            }
        };
        if let Ok(mut seen) = self.seen.lock() {
            *seen = mtimes(&self.paths);
        }
        let applied = self.gateway.supervisor().apply(&current, &fresh).await;
        let (old, new) = (&current.gateway, &fresh.gateway);
        let mut needs_restart = Vec::new();
        macro_rules! differs {
            ($($f:ident),*) => { $( if old.$f != new.$f { needs_restart.push(format!("gateway.{}", stringify!($f))); } )* };
        }
        differs!(
            listen,
            separator,
            prefix,
            state_dir,
            max_message_size,
            max_name_length,
            server_name,
            allowed_origins,
            request_timeout,
            init_timeout,
            shutdown_grace,
            session_idle_timeout,
            health_interval,
            health_timeout,
            health_failures,
            max_concurrency,
            rate_limit,
            max_request_time,
            retry_budget_percent
        );
        if current.auth != fresh.auth {
            needs_restart.push("[auth]".to_owned());
        }
        differs!(
            allow_unauthenticated,
            audit_log,
            audit_arguments,
            max_sessions,
            max_json_depth,
            tls_cert,
            tls_key,
            tls_client_ca
        );
        let policies_changed = current.policies != fresh.policies;
        if policies_changed {
            self.gateway.set_policies(crate::auth::Policies::new(&fresh.policies));
            tracing::info!(policies = fresh.policies.len(), "policies replaced (for sessions opened from now on)");
        }
        let routes_changed = current.routes != fresh.routes || old.route_cache_ttl != new.route_cache_ttl;
        if routes_changed {
            let metrics = self.gateway.metrics().clone();
            self.gateway.router().set_rules(RuleTable::new(&fresh.routes, new.route_cache_ttl, metrics));
            tracing::info!(rules = fresh.routes.len(), "routing rules replaced");
        }
        if !needs_restart.is_empty() {
            tracing::warn!(settings = %needs_restart.join(", "), "changed; they apply at the next start");
        }
        *current = fresh;
        let report = ReloadReport {
            added: applied.added,
            removed: applied.removed,
            changed: applied.changed,
            needs_restart,
            routes_changed,
            policies_changed,
        };
        tracing::info!(added = ?report.added, removed = ?report.removed, changed = ?report.changed, "configuration reloaded");
        Ok(report)
    }

    /// Reloads whenever a configuration file's modification time changes
    /// (polled: no platform watcher needed, and editors that replace files are covered).
    pub async fn watch(self: Arc<Self>, every: Duration, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let now = mtimes(&self.paths);
            let changed = self.seen.lock().map(|seen| *seen != now).unwrap_or(false);
            if changed {
                tracing::info!("a configuration file changed; reloading");
                let _ = self.reload().await;
            }
        }
    }
}

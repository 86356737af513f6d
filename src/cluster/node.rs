//! [`Cluster`]: this gateway joined to its registry. It applies the stored
//! mounts (at start, after its own writes, on every announced revision) and
//! keeps this replica in the members list.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::replica::Replica;
use super::sync;
use crate::gateway::Gateway;
use crate::registry::{Member, Registry, RegistryError};

/// How often this replica says it is alive. A replica silent for
/// [`crate::registry::MEMBER_TIMEOUT`] has left the members list.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// Waits between attempts to reach a shared registry, growing to the last.
const RETRY: [Duration; 4] =
    [Duration::from_millis(250), Duration::from_secs(1), Duration::from_secs(3), Duration::from_secs(10)];

/// This gateway, its registry and its place among the replicas.
pub struct Cluster {
    gateway: Arc<Gateway>,
    registry: Arc<Registry>,
    me: Replica,
    /// The revision last applied; held while applying, so snapshots are
    /// applied one at a time and in order.
    applied: Mutex<Option<u64>>,
}

impl Cluster {
    pub fn new(gateway: Arc<Gateway>, registry: Arc<Registry>, me: Replica) -> Arc<Cluster> {
        Arc::new(Cluster { gateway, registry, me, applied: Mutex::new(None) })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn me(&self) -> &Replica {
        &self.me
    }

    /// Reads the registry and applies it, unless this revision is applied
    /// already. Returns the revision now applied.
    pub async fn refresh(&self) -> Result<u64, RegistryError> {
        let mut applied = self.applied.lock().await;
        let snapshot = self.registry.snapshot().await?;
        // SQLite's revision is this process's own count, so it is applied
        // whatever it says; PostgreSQL's orders every replica's writes.
        if self.registry.is_shared() && applied.is_some_and(|a| a >= snapshot.revision) {
            return Ok(snapshot.revision);
        }
        let done = sync::apply(&self.gateway, &snapshot.mounts).await;
        if !done.is_empty() {
            tracing::info!(
                revision = snapshot.revision,
                mounted = ?done.mounted,
                unmounted = ?done.unmounted,
                replaced = ?done.replaced,
                enabled = ?done.enabled,
                disabled = ?done.disabled,
                "applied the registry"
            );
        }
        *applied = Some(snapshot.revision);
        Ok(snapshot.revision)
    }

    /// The revision last applied.
    pub async fn revision(&self) -> Option<u64> {
        *self.applied.lock().await
    }

    /// The live replicas: from the registry when it is shared, else this one.
    pub async fn members(&self) -> Result<Vec<Member>, RegistryError> {
        match self.registry.members().await {
            Some(members) => members,
            None => Ok(vec![self.me.member()]),
        }
    }

    /// With a shared registry: follows its revisions and sends heartbeats
    /// until `stop`, then leaves the members list. Nothing to do otherwise.
    pub fn spawn(self: &Arc<Self>, stop: CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        if !self.registry.is_shared() {
            return None;
        }
        let follow = tokio::spawn(self.clone().follow(stop.clone()));
        let beat = tokio::spawn(self.clone().heartbeats(stop));
        let me = self.clone();
        Some(tokio::spawn(async move {
            let _ = tokio::join!(follow, beat);
            match tokio::time::timeout(Duration::from_secs(2), me.registry.leave(&me.me.id)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!("cannot leave the members list: {e}"),
                Err(_) => tracing::warn!("cannot leave the members list: the registry did not answer in 2s"),
            }
        }))
    }

    /// Listens for revisions; after (re)connecting, reads everything, since
    /// what was announced while disconnected is lost.
    async fn follow(self: Arc<Self>, stop: CancellationToken) {
        let mut failures = 0usize;
        let mut listened = false;
        while !stop.is_cancelled() {
            let listener = tokio::select! {
                _ = stop.cancelled() => return,
                l = self.registry.listen() => l,
            };
            let mut listener = match listener {
                Some(Ok(l)) => l,
                Some(Err(e)) => {
                    let wait = RETRY[failures.min(RETRY.len() - 1)];
                    failures += 1;
                    tracing::warn!("registry: cannot listen for changes ({e}); again in {wait:?}");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(wait) => continue,
                    }
                }
                None => return,
            };
            if listened {
                tracing::info!("registry: listening for changes again; reading every mount");
            } else {
                tracing::info!("registry: listening for changes");
            }
            listened = true;
            failures = 0;
            if let Err(e) = self.refresh().await {
                tracing::warn!("registry: cannot read the mounts: {e}");
            }
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return,
                    n = listener.next() => n,
                };
                let Some(mut revision) = next else {
                    tracing::warn!("registry: lost the listening connection; reconnecting");
                    break;
                };
                // A burst of writes: one read for all of it.
                while let Some(later) = listener.try_next() {
                    revision = revision.max(later);
                }
                if self.revision().await.is_some_and(|applied| applied >= revision) {
                    continue;
                }
                if let Err(e) = self.refresh().await {
                    tracing::warn!("registry: cannot read the mounts after revision {revision}: {e}");
                }
            }
        }
    }

    async fn heartbeats(self: Arc<Self>, stop: CancellationToken) {
        let member = self.me.member();
        let mut tick = tokio::time::interval(HEARTBEAT_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = self.registry.heartbeat(&member).await {
                tracing::warn!("registry: heartbeat failed: {e}");
            }
        }
    }
}

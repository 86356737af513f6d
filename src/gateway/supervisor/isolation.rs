//! `isolation = "per_session"`: a stdio server process of its own for each
//! client session, so a stateful server never mixes two clients' state.
//!
//! The process is started on the session's first request to the server and
//! stopped (its whole process group) when the session closes, when it has been
//! unused for `process_idle_timeout`, or when the server stops. At most
//! `max_processes` run at once per server; one more session is refused with an
//! overload error rather than queued. A process that exits is forgotten, and
//! the session's next request starts a new one.
//!
//! The server's own replicas still run: they provide the tool and prompt
//! lists, health, and the resource lists, which every process shares; client
//! requests never reach them. A stateless (2026-07-28) client over HTTP has no
//! session, so each of its requests gets a fresh process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;

use super::context::Context;
use super::start::{Started, Where, spawn_private};
use crate::gateway::backend::BackendConn;
use crate::gateway::error::GatewayError;

/// The per-session processes of one server.
pub struct Processes {
    inner: Arc<Inner>,
}

struct Inner {
    max: u32,
    idle: Duration,
    by_session: Mutex<HashMap<u64, Arc<Slot>>>,
    /// Released processes still stopping, so that [`Processes::stop_all`] can
    /// wait for them too.
    stopping: Mutex<Vec<Arc<Slot>>>,
}

struct Slot {
    conn: OnceCell<Arc<BackendConn>>,
    in_flight: AtomicU32,
    last_used: Mutex<Instant>,
    stop: CancellationToken,
    done: CancellationToken,
}

/// A session's process, held while one request uses it.
pub struct Lease {
    slot: Arc<Slot>,
    pub conn: Arc<BackendConn>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.slot.touch();
        self.slot.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Slot {
    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().map(|t| t.elapsed()).unwrap_or_default()
    }
}

impl Processes {
    pub fn new(max: u32, idle: Duration) -> Processes {
        let inner =
            Inner { max: max.max(1), idle, by_session: Mutex::new(HashMap::new()), stopping: Mutex::new(Vec::new()) };
        Processes { inner: Arc::new(inner) }
    }

    /// Processes running (or starting) now.
    pub fn count(&self) -> usize {
        self.inner.by_session.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// The session's process, started if it has none.
    pub async fn lease(&self, cx: &Context, at: Where<'_>, session: u64) -> Result<Lease, GatewayError> {
        let inner = &self.inner;
        let slot = {
            let Ok(mut map) = inner.by_session.lock() else {
                return Err(GatewayError::Unavailable { server: at.id.to_string(), reason: "poisoned".into() });
            };
            match map.get(&session) {
                Some(slot) => slot.clone(),
                None => {
                    if map.len() >= inner.max as usize {
                        return Err(GatewayError::Overloaded {
                            server: Some(at.id.to_string()),
                            scope: format!("server '{}' (max_processes, one per client session)", at.id),
                            limit: inner.max,
                        });
                    }
                    let slot = Arc::new(Slot {
                        conn: OnceCell::new(),
                        in_flight: AtomicU32::new(0),
                        last_used: Mutex::new(Instant::now()),
                        stop: CancellationToken::new(),
                        done: CancellationToken::new(),
                    });
                    map.insert(session, slot.clone());
                    slot
                }
            }
        };
        slot.in_flight.fetch_add(1, Ordering::Relaxed);
        slot.touch();
        let started = slot.conn.get_or_try_init(|| self.start(cx, at, session, slot.clone())).await;
        match started {
            Ok(conn) => Ok(Lease { conn: conn.clone(), slot }),
            Err(e) => {
                slot.in_flight.fetch_sub(1, Ordering::Relaxed);
                inner.forget(session, &slot);
                Err(e)
            }
        }
    }

    async fn start(
        &self,
        cx: &Context,
        at: Where<'_>,
        session: u64,
        slot: Arc<Slot>,
    ) -> Result<Arc<BackendConn>, GatewayError> {
        let Started { conn, mut lifetime, .. } = spawn_private(cx, at)
            .await
            .map_err(|reason| GatewayError::Unavailable { server: at.id.to_string(), reason })?;
        tracing::info!(server = %at.id, session, pid = lifetime.pid(), "started a process for the session");
        let grace = cx.settings.shutdown_grace;
        let idle = self.inner.idle;
        let c = conn.clone();
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let check = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
            let why = loop {
                tokio::select! {
                    why = lifetime.ended() => break format!("exited: {why}"),
                    _ = c.closed() => break "closed its connection".to_owned(),
                    _ = slot.stop.cancelled() => break "stopped".to_owned(),
                    _ = tokio::time::sleep(check) => {
                        if slot.in_flight.load(Ordering::Relaxed) == 0 && slot.idle_for() >= idle {
                            break format!("idle for {} s", idle.as_secs());
                        }
                    }
                }
            };
            tracing::info!(server = %c.server, session, "session process ends: {why}");
            if let Some(inner) = weak.upgrade() {
                inner.forget(session, &slot);
            }
            c.close();
            lifetime.stop(grace).await;
            slot.done.cancel();
        });
        Ok(conn)
    }
}

impl Inner {
    /// Drops the entry for `session` if it is still `slot`.
    fn forget(&self, session: u64, slot: &Arc<Slot>) {
        if let Ok(mut map) = self.by_session.lock()
            && map.get(&session).is_some_and(|s| Arc::ptr_eq(s, slot))
        {
            map.remove(&session);
        }
    }
}

impl Processes {
    /// The session closed: its process is stopped.
    pub fn release(&self, session: u64) {
        let inner = &self.inner;
        let slot = inner.by_session.lock().ok().and_then(|mut m| m.remove(&session));
        if let Some(slot) = slot {
            slot.stop.cancel();
            if let Ok(mut stopping) = inner.stopping.lock() {
                stopping.retain(|s| !s.done.is_cancelled());
                if slot.conn.initialized() {
                    stopping.push(slot);
                }
            }
        }
    }

    /// Stops every process and waits until each is gone.
    pub async fn stop_all(&self) {
        let slots: Vec<Arc<Slot>> =
            self.inner.by_session.lock().map(|mut m| m.drain().map(|(_, s)| s).collect()).unwrap_or_default();
        for s in &slots {
            s.stop.cancel();
        }
        for s in slots {
            if s.conn.initialized() {
                s.done.cancelled().await;
            }
        }
    }
}

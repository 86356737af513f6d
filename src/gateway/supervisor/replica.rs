//! One replica of a server: one process (stdio) or one endpoint (remote), its
//! state, and the numbers balancing needs. Its life (start, serve, restart) is
//! run by `run.rs`.
//!
//! A server with `replicas = 1` and one `url` has one replica, so this is also
//! how a plain server lives. Each replica has its own connection, its own
//! health checks and its own circuit breaker ([`super::breaker`]); the group
//! ([`super::server::Server`]) is ready while any replica is.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::breaker::Breaker;
use crate::gateway::backend::BackendConn;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Starting,
    Ready,
    Down,
    Stopped,
    Disabled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Ready => "ready",
            Status::Down => "down",
            Status::Stopped => "stopped",
            Status::Disabled => "disabled",
        }
    }
}

/// Where a replica is reached.
#[derive(Debug, Clone)]
pub enum Target {
    /// The server's command; the replica's number is in `VMCP_REPLICA`.
    Process,
    Url(String),
}

pub struct Replica {
    pub index: usize,
    pub weight: u32,
    pub target: Target,
    pub breaker: Arc<Breaker>,
    /// Client requests in flight here (for `least_connections` and `adaptive`).
    in_flight: AtomicU32,
    state: Mutex<State>,
}

pub(super) struct State {
    pub status: Status,
    pub conn: Option<Arc<BackendConn>>,
    pub last_error: Option<String>,
    pub restarts: u32,
    pub pid: Option<u32>,
}

/// Counts a request in flight on a replica while it lives.
pub struct InFlight(Arc<Replica>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Replica {
    pub fn new(index: usize, weight: u32, target: Target, breaker: Arc<Breaker>, status: Status) -> Arc<Replica> {
        Arc::new(Replica {
            index,
            weight,
            target,
            breaker,
            in_flight: AtomicU32::new(0),
            state: Mutex::new(State { status, conn: None, last_error: None, restarts: 0, pid: None }),
        })
    }

    pub(super) fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// A short name for logs and status: `#2`, or the URL.
    pub fn label(&self) -> String {
        match &self.target {
            Target::Process => format!("#{}", self.index),
            Target::Url(u) => u.clone(),
        }
    }

    pub fn status(&self) -> Status {
        self.with(|s| s.status)
    }

    pub(crate) fn set_status(&self, status: Status) {
        self.with(|s| s.status = status);
    }

    /// The live connection, when ready.
    pub fn conn(&self) -> Option<Arc<BackendConn>> {
        self.with(|s| if s.status == Status::Ready { s.conn.clone() } else { None })
    }

    pub fn last_error(&self) -> Option<String> {
        self.with(|s| s.last_error.clone())
    }

    pub fn restarts(&self) -> u32 {
        self.with(|s| s.restarts)
    }

    pub fn pid(&self) -> Option<u32> {
        self.with(|s| s.pid)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }

    pub(super) fn set_down(&self, server: &str, error: String) {
        tracing::warn!(server = %server, replica = %self.label(), "server down: {error}");
        self.with(|s| {
            s.status = Status::Down;
            s.conn = None;
            s.pid = None;
            s.last_error = Some(error);
        });
    }
}

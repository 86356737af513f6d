//! [`Sessions`]: the clients connected now, through every front end: how many
//! (for `gateway.max_sessions`), and which receive what belongs to no request
//! (list changes, log messages, resource updates).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::client::Client;
use crate::auth::{PolicyView, Principal};
use crate::service::{Outbound, Refused};

pub struct Sessions {
    max: usize,
    open: Mutex<HashMap<u64, Weak<Client>>>,
    next: AtomicU64,
}

impl Sessions {
    pub fn new(max: usize) -> Sessions {
        Sessions { max, open: Mutex::new(HashMap::new()), next: AtomicU64::new(1) }
    }

    /// Registers a new client, unless `gateway.max_sessions` are open.
    pub fn open(
        &self,
        front: &'static str,
        outbound: Outbound,
        principal: Principal,
        policy: PolicyView,
    ) -> Result<Arc<Client>, Refused> {
        if self.count() >= self.max {
            return Err(Refused(format!(
                "{} sessions are open, the most gateway.max_sessions allows; close one or try again later",
                self.max
            )));
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let client = Arc::new(Client::new(id, front, outbound, principal, policy));
        if let Ok(mut open) = self.open.lock() {
            open.insert(id, Arc::downgrade(&client));
        }
        Ok(client)
    }

    /// Open sessions (of every era and front end).
    pub fn count(&self) -> usize {
        self.open.lock().map(|s| s.values().filter(|w| w.strong_count() > 0).count()).unwrap_or(0)
    }

    /// Initialized clients: those that receive what belongs to no request.
    pub fn live(&self) -> Vec<Arc<Client>> {
        let Ok(mut open) = self.open.lock() else { return Vec::new() };
        open.retain(|_, w| w.strong_count() > 0);
        open.values().filter_map(Weak::upgrade).filter(|c| c.is_initialized()).collect()
    }

    /// Sends one message to every initialized client.
    pub fn broadcast(&self, msg: &str) {
        for c in self.live() {
            c.send(msg.to_owned());
        }
    }

    pub fn forget(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
        }
    }
}

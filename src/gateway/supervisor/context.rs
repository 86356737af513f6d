//! [`Context`]: what every part of the supervisor shares: the gateway-wide
//! settings, where to send news ([`Events`]), and the metrics.

use std::sync::{Arc, Weak};

use super::events::Events;
use crate::gateway::backend::{BackendConn, Handler};
use crate::gateway::settings::Settings;
use crate::observe::metrics::Metrics;
use crate::protocol::Message;

pub struct Context {
    pub settings: Settings,
    pub events: Weak<dyn Events>,
    pub metrics: Metrics,
}

impl Context {
    /// Tells the gateway, if it is still there.
    pub fn tell(&self, news: impl FnOnce(&dyn Events)) {
        if let Some(e) = self.events.upgrade() {
            news(&*e);
        }
    }

    /// What a backend connection calls with each message that is not an answer.
    pub fn handler(&self) -> Handler {
        let events = self.events.clone();
        Arc::new(move |conn: &Arc<BackendConn>, msg: Message| {
            if let Some(e) = events.upgrade() {
                e.server_message(conn, msg);
            }
        })
    }
}

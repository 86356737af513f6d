//! [`Drain`]: client requests in flight, counted so that a graceful shutdown
//! can refuse new ones and wait for the rest.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Default)]
pub struct Drain {
    count: AtomicUsize,
    draining: AtomicBool,
    idle: Notify,
}

/// Held while a client request is handled.
pub struct Busy<'a>(&'a Drain);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Drain {
    pub fn enter(&self) -> Busy<'_> {
        self.count.fetch_add(1, Ordering::Relaxed);
        Busy(self)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// From now on new requests are refused; waits up to `grace` for those in
    /// flight and returns how many were still running when the time was up.
    pub async fn drain(&self, grace: Duration) -> usize {
        self.draining.store(true, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            if self.count.load(Ordering::Relaxed) == 0 {
                return 0;
            }
            let idle = self.idle.notified();
            // Counted again after registering: a request that ended in between
            // has already notified nobody, and must not be waited for.
            tokio::pin!(idle);
            idle.as_mut().enable();
            if self.count.load(Ordering::Relaxed) == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                let left = self.count.load(Ordering::Relaxed);
                tracing::warn!(left, "requests still in flight after shutdown_grace; cancelling them");
                return left;
            }
        }
    }
}

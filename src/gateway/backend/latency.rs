//! [`Latency`]: how fast a server answers, for `adaptive` balancing and status.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A server's answer times: the last one and a moving average (EWMA, α = 0.2),
/// in microseconds.
#[derive(Debug, Default)]
pub struct Latency {
    last_us: AtomicU64,
    ewma_us: AtomicU64,
    /// When the last answer came, in microseconds since [`epoch`].
    at_us: AtomicU64,
}

/// The decay time of [`Latency::decayed_us`].
const LATENCY_DECAY: Duration = Duration::from_secs(5);

fn epoch() -> std::time::Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    *EPOCH.get_or_init(std::time::Instant::now)
}

impl Latency {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        self.last_us.store(us, Ordering::Relaxed);
        let old = self.ewma_us.load(Ordering::Relaxed);
        let new = if old == 0 { us } else { (old * 4 + us) / 5 };
        self.ewma_us.store(new, Ordering::Relaxed);
        self.at_us.store(epoch().elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    /// The moving average in microseconds; 0 before the first answer.
    pub fn average_us(&self) -> u64 {
        self.ewma_us.load(Ordering::Relaxed)
    }

    /// The average, decayed by the time since the last answer (e^(-t/5 s)): a
    /// replica that balancing stopped choosing because it was slow looks faster
    /// as time passes, until it is chosen and measured again. Without this, a
    /// replica that had one slow moment would never be tried again.
    pub fn decayed_us(&self) -> u64 {
        let ewma = self.ewma_us.load(Ordering::Relaxed);
        let since = (epoch().elapsed().as_micros() as u64).saturating_sub(self.at_us.load(Ordering::Relaxed));
        let t = since as f64 / LATENCY_DECAY.as_micros() as f64;
        (ewma as f64 * (-t).exp()) as u64
    }

    /// (last, average) in milliseconds; `None` before the first answer.
    pub fn millis(&self) -> Option<(f64, f64)> {
        let ewma = self.ewma_us.load(Ordering::Relaxed);
        (ewma > 0).then(|| (self.last_us.load(Ordering::Relaxed) as f64 / 1000.0, ewma as f64 / 1000.0))
    }
}

//! A circuit breaker per replica: closed, open, half-open.
//!
//! Closed, every request goes through and its outcome is counted. The circuit
//! opens after `failures` failures in a row, or when at least `failure_rate`
//! percent of the requests in the last `window` failed (once there were
//! `min_requests` of them). Open, the replica is out of balancing and requests
//! that could only go to it fail at once. After `open_for`, one request is let
//! through as a probe (half-open): its success closes the circuit, its failure
//! opens it again for another `open_for`.
//!
//! What counts as a failure is decided by the caller
//! ([`crate::gateway::error::GatewayError::is_replica_failure`]); a request that ends
//! without an outcome (cancelled by its client) counts as neither, and a probe
//! that ends so frees the half-open slot for the next one.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::BreakerConfig;

/// The window is counted in this many buckets, so old outcomes age out in steps.
const BUCKETS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
    epoch: Instant,
}

#[derive(Debug)]
struct Inner {
    state: State,
    consecutive: u32,
    /// (bucket number, requests, failures), by bucket number modulo `BUCKETS`.
    buckets: [(u64, u32, u32); BUCKETS],
    opened_at: Instant,
    probing: bool,
    opened_times: u64,
}

/// Permission to send one request; report its outcome with [`Ticket::record`].
#[derive(Debug)]
pub struct Ticket {
    breaker: Arc<Breaker>,
    probe: bool,
    done: std::sync::atomic::AtomicBool,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Arc<Breaker> {
        let now = Instant::now();
        Arc::new(Breaker {
            config,
            inner: Mutex::new(Inner {
                state: State::Closed,
                consecutive: 0,
                buckets: [(u64::MAX, 0, 0); BUCKETS],
                opened_at: now,
                probing: false,
                opened_times: 0,
            }),
            epoch: now,
        })
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        match self.inner.lock() {
            Ok(mut i) => f(&mut i),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The state as a reader should see it: an open circuit whose time is up is
    /// half-open (the next request will probe).
    pub fn state(&self) -> State {
        self.with(|i| match i.state {
            State::Open if i.opened_at.elapsed() >= self.config.open_for => State::HalfOpen,
            s => s,
        })
    }

    /// How many times the circuit has opened.
    pub fn opened_times(&self) -> u64 {
        self.with(|i| i.opened_times)
    }

    /// Whether a request could be let through now (for balancing).
    pub fn available(&self) -> bool {
        self.with(|i| match i.state {
            State::Closed => true,
            State::Open => i.opened_at.elapsed() >= self.config.open_for,
            State::HalfOpen => !i.probing,
        })
    }

    /// How long until a request could be let through (zero when one could now).
    pub fn retry_in(&self) -> Duration {
        self.with(|i| match i.state {
            State::Closed => Duration::ZERO,
            State::Open => self.config.open_for.saturating_sub(i.opened_at.elapsed()),
            State::HalfOpen => Duration::ZERO,
        })
    }

    /// Lets one request through, or says how long until a probe may go.
    pub fn admit(self: &Arc<Self>) -> Result<Ticket, Duration> {
        let open_for = self.config.open_for;
        self.with(|i| match i.state {
            State::Closed => Ok(false),
            State::Open => {
                let elapsed = i.opened_at.elapsed();
                if elapsed >= open_for {
                    i.state = State::HalfOpen;
                    i.probing = true;
                    Ok(true)
                } else {
                    Err(open_for - elapsed)
                }
            }
            State::HalfOpen if !i.probing => {
                i.probing = true;
                Ok(true)
            }
            // A probe is out; the others wait for its verdict.
            State::HalfOpen => Err(Duration::ZERO),
        })
        .map(|probe| Ticket { breaker: self.clone(), probe, done: std::sync::atomic::AtomicBool::new(false) })
    }

    /// Counts one outcome; returns the new state when it changed.
    fn record(&self, probe: bool, failed: bool) -> Option<State> {
        let now = Instant::now();
        let bucket_len = (self.config.window / BUCKETS as u32).max(Duration::from_millis(1));
        let bucket = (now.duration_since(self.epoch).as_nanos() / bucket_len.as_nanos()) as u64;
        self.with(|i| {
            let before = i.state;
            if probe {
                i.probing = false;
            }
            // Count in the window.
            let slot = &mut i.buckets[(bucket % BUCKETS as u64) as usize];
            if slot.0 != bucket {
                *slot = (bucket, 0, 0);
            }
            slot.1 += 1;
            if failed {
                slot.2 += 1;
                i.consecutive += 1;
            } else {
                i.consecutive = 0;
            }
            match (i.state, failed) {
                (State::HalfOpen, false) if probe => {
                    i.state = State::Closed;
                    i.buckets = [(u64::MAX, 0, 0); BUCKETS];
                }
                (State::HalfOpen, true) if probe => {
                    i.state = State::Open;
                    i.opened_at = now;
                    i.opened_times += 1;
                }
                (State::Closed, true) if self.trips(i, bucket) => {
                    i.state = State::Open;
                    i.opened_at = now;
                    i.opened_times += 1;
                }
                _ => {}
            }
            (i.state != before).then_some(i.state)
        })
    }

    fn trips(&self, i: &Inner, bucket: u64) -> bool {
        let c = &self.config;
        if c.failures > 0 && i.consecutive >= c.failures {
            return true;
        }
        if c.failure_rate == 0 {
            return false;
        }
        let (total, failed) = i
            .buckets
            .iter()
            .filter(|(b, _, _)| *b != u64::MAX && bucket.saturating_sub(*b) < BUCKETS as u64)
            .fold((0u64, 0u64), |(t, f), (_, n, e)| (t + u64::from(*n), f + u64::from(*e)));
        total >= u64::from(c.min_requests.max(1)) && failed * 100 >= total * u64::from(c.failure_rate)
    }
}

impl Ticket {
    /// Reports the request's outcome (once; later reports are ignored); returns
    /// the breaker's new state when it changed.
    pub fn record(&self, failed: bool) -> Option<State> {
        if self.done.swap(true, std::sync::atomic::Ordering::AcqRel) {
            return None;
        }
        self.breaker.record(self.probe, failed)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // No outcome (the request was cancelled): a probe frees its slot.
        if !self.done.load(std::sync::atomic::Ordering::Acquire) && self.probe {
            self.breaker.with(|i| i.probing = false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(failures: u32, rate: u32, min: u32, open_for_ms: u64) -> Arc<Breaker> {
        Breaker::new(BreakerConfig {
            failures,
            failure_rate: rate,
            min_requests: min,
            window: Duration::from_secs(60),
            open_for: Duration::from_millis(open_for_ms),
        })
    }

    fn outcome(b: &Arc<Breaker>, failed: bool) -> Option<State> {
        b.admit().expect("admitted").record(failed)
    }

    #[test]
    fn opens_after_consecutive_failures_and_a_success_resets_the_count() {
        let b = breaker(3, 0, 1, 60_000);
        assert_eq!(outcome(&b, true), None);
        assert_eq!(outcome(&b, true), None);
        assert_eq!(outcome(&b, false), None);
        assert_eq!(outcome(&b, true), None);
        assert_eq!(outcome(&b, true), None);
        assert_eq!(outcome(&b, true), Some(State::Open));
        assert_eq!(b.state(), State::Open);
        let wait = b.admit().expect_err("open");
        assert!(wait > Duration::from_secs(59) && wait <= Duration::from_secs(60), "{wait:?}");
        assert!(b.retry_in() > Duration::from_secs(59));
        assert!(!b.available());
    }

    #[test]
    fn opens_on_the_failure_rate_once_there_are_enough_requests() {
        let b = breaker(0, 50, 10, 60_000);
        // 4 failures of 8: 50 %, but under min_requests.
        for i in 0..8 {
            assert_eq!(outcome(&b, i % 2 == 0), None);
        }
        assert_eq!(outcome(&b, false), None); // 4 of 9
        assert_eq!(outcome(&b, true), Some(State::Open)); // 5 of 10
    }

    #[test]
    fn a_tool_level_error_rate_below_the_threshold_keeps_it_closed() {
        let b = breaker(0, 50, 10, 60_000);
        for i in 0..100 {
            assert_eq!(outcome(&b, i % 3 == 0), None, "request {i}");
        }
        assert_eq!(b.state(), State::Closed);
    }

    #[test]
    fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let b = breaker(1, 0, 1, 0);
        assert_eq!(outcome(&b, true), Some(State::Open));
        // open_for = 0: the next request is the probe; others wait meanwhile.
        let probe = b.admit().expect("probe");
        assert_eq!(b.state(), State::HalfOpen);
        assert_eq!(b.admit().expect_err("a probe is out"), Duration::ZERO);
        assert_eq!(probe.record(true), Some(State::Open));
        let probe = b.admit().expect("second probe");
        assert_eq!(probe.record(false), Some(State::Closed));
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.opened_times(), 2);
    }

    #[test]
    fn a_cancelled_probe_frees_the_slot() {
        let b = breaker(1, 0, 1, 0);
        outcome(&b, true);
        drop(b.admit().expect("probe"));
        assert!(b.admit().is_ok(), "the next request may probe");
    }
}

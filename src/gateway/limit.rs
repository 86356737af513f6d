//! Concurrency and rate limits.
//!
//! Both answer at once: a request over a limit is refused with an error that
//! says which limit (and, for a rate, when to retry), never queued and never
//! locked out. Limits are opt-in; none is set by default.
//!
//! Rates use GCRA (the generic cell rate algorithm): per key, one instant, the
//! theoretical arrival time of the next request. A rate of `count` per `per`
//! spaces requests `per / count` apart and allows bursts of `count`. It needs
//! no timer and no bucket refills, and forgets a key as soon as its instant is
//! in the past.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::config::RateLimit;

/// At most `limit` holders of a [`Permit`] at once.
#[derive(Debug)]
pub struct Concurrency {
    limit: u32,
    held: AtomicU32,
}

/// Returned to its [`Concurrency`] when dropped.
#[derive(Debug)]
pub struct Permit {
    from: Option<Arc<Concurrency>>,
}

impl Concurrency {
    /// `limit = 0`: unlimited.
    pub fn new(limit: u32) -> Arc<Concurrency> {
        Arc::new(Concurrency { limit, held: AtomicU32::new(0) })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn held(&self) -> u32 {
        self.held.load(Ordering::Relaxed)
    }

    /// A permit, or `None` when the limit is reached.
    pub fn try_acquire(self: &Arc<Self>) -> Option<Permit> {
        if self.limit == 0 {
            return Some(Permit { from: None });
        }
        let mut held = self.held.load(Ordering::Relaxed);
        loop {
            if held >= self.limit {
                return None;
            }
            match self.held.compare_exchange_weak(held, held + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(Permit { from: Some(self.clone()) }),
                Err(now) => held = now,
            }
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(c) = &self.from {
            c.held.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A rate limit per key (a client identity, a tool, or one key for a server).
#[derive(Debug)]
pub struct RateLimiter {
    /// Spacing between requests at the steady rate.
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run: the burst.
    tolerance: Duration,
    tat: Mutex<HashMap<String, Instant>>,
}

/// Keys kept before expired ones are swept out.
const SWEEP_AT: usize = 4096;

impl RateLimiter {
    pub fn new(rate: RateLimit) -> RateLimiter {
        let count = rate.count.max(1);
        let interval = rate.per / count;
        RateLimiter { interval, tolerance: interval * (count - 1), tat: Mutex::new(HashMap::new()) }
    }

    /// Counts one request for `key`, or says how long until one would be allowed.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = match self.tat.lock() {
            Ok(m) => m,
            Err(p) => p.into_inner(),
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().filter(|t| *t > now).unwrap_or(now);
        let ahead = tat - now;
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        map.insert(key.to_owned(), tat + self.interval);
        Ok(())
    }
}

/// Retries as a share of first attempts: each first attempt earns `percent`
/// hundredths of a retry, each retry spends one whole, and the balance is
/// capped. When a backend fails everything, retries then stay a small share of
/// the traffic instead of multiplying it. A reserve lets a quiet gateway retry
/// at all.
#[derive(Debug)]
pub struct RetryBudget {
    percent: i64,
    /// In hundredths of a retry.
    balance: std::sync::atomic::AtomicI64,
}

/// Retries a fresh budget holds, and the most it saves up.
const RETRY_RESERVE: i64 = 10;

impl RetryBudget {
    pub fn new(percent: u32) -> RetryBudget {
        let percent = i64::from(percent.min(100));
        // 0 %: no retries at all, not even from the reserve.
        let reserve = if percent == 0 { 0 } else { RETRY_RESERVE * 100 };
        RetryBudget { percent, balance: std::sync::atomic::AtomicI64::new(reserve) }
    }

    /// A first attempt was made.
    pub fn deposit(&self) {
        if self.percent == 0 {
            return;
        }
        let _ = self.balance.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
            (b < RETRY_RESERVE * 100).then(|| (b + self.percent).min(RETRY_RESERVE * 100))
        });
    }

    /// Takes one retry from the budget, if there is one.
    pub fn withdraw(&self) -> bool {
        self.balance.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| (b >= 100).then_some(b - 100)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_refuses_over_the_limit_and_permits_return() {
        let c = Concurrency::new(2);
        let a = c.try_acquire().expect("first");
        let _b = c.try_acquire().expect("second");
        assert!(c.try_acquire().is_none());
        drop(a);
        assert!(c.try_acquire().is_some());
        let unlimited = Concurrency::new(0);
        let held: Vec<_> = (0..1000).map(|_| unlimited.try_acquire().expect("unlimited")).collect();
        assert_eq!(held.len(), 1000);
    }

    #[test]
    fn gcra_allows_the_burst_then_spaces_requests() {
        let r = RateLimiter::new(RateLimit { count: 5, per: Duration::from_secs(1) });
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(r.check_at("k", t0).is_ok(), "burst request {i}");
        }
        let wait = r.check_at("k", t0).expect_err("sixth in the same instant");
        assert_eq!(wait, Duration::from_millis(200));
        // Another key has its own allowance.
        assert!(r.check_at("other", t0).is_ok());
        // After the announced delay, exactly one more fits.
        let t1 = t0 + wait;
        assert!(r.check_at("k", t1).is_ok());
        assert!(r.check_at("k", t1).is_err());
        // A full period later the burst is back.
        let t2 = t1 + Duration::from_secs(1);
        for i in 0..5 {
            assert!(r.check_at("k", t2).is_ok(), "second burst request {i}");
        }
    }

    #[test]
    fn the_retry_budget_keeps_retries_a_share_of_the_traffic() {
        let b = RetryBudget::new(20);
        // The reserve first.
        let reserve = (0..100).take_while(|_| b.withdraw()).count();
        assert_eq!(reserve, 10);
        // Then one retry per five first attempts.
        for _ in 0..50 {
            b.deposit();
        }
        assert_eq!((0..100).take_while(|_| b.withdraw()).count(), 10);
        let none = RetryBudget::new(0);
        for _ in 0..1000 {
            none.deposit();
        }
        assert!(!none.withdraw(), "0 % means no retries");
    }

    #[test]
    fn a_refused_request_does_not_push_the_next_one_back() {
        let r = RateLimiter::new(RateLimit { count: 1, per: Duration::from_secs(1) });
        let t0 = Instant::now();
        assert!(r.check_at("k", t0).is_ok());
        for _ in 0..10 {
            assert!(r.check_at("k", t0).is_err());
        }
        assert!(r.check_at("k", t0 + Duration::from_secs(1)).is_ok(), "no lockout");
    }
}

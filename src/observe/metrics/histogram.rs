//! The request-latency histogram: the fixed [`DURATION_BUCKETS`] kept in
//! atomics. prometheus-client's own `Histogram` keeps its buckets private, so
//! the summary could only have read them back out of the text format; this one
//! is read directly by both the Prometheus encoder and [`super::summary`]. It
//! also records without a lock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use serde::{Deserialize, Serialize};

use super::labels::DURATION_BUCKETS;

/// How many buckets, the last being the implicit `+Inf` one.
pub(super) const BUCKETS: usize = DURATION_BUCKETS.len() + 1;

/// A handle on one histogram; clones share it (as a `Family` needs).
#[derive(Clone, Debug, Default)]
pub(super) struct Buckets(Arc<Cells>);

#[derive(Debug, Default)]
struct Cells {
    /// Per bucket, not cumulative: an observation counts in the first bucket
    /// whose bound is at least its value (Prometheus' `le`).
    counts: [AtomicU64; BUCKETS],
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Buckets {
    /// Records `seconds`, which the caller has made finite and non-negative.
    pub(super) fn observe(&self, seconds: f64) {
        let i = DURATION_BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(DURATION_BUCKETS.len());
        if let Some(c) = self.0.counts.get(i) {
            c.fetch_add(1, Relaxed);
        }
        // `fetch_update` retries until no other thread raced it; the closure
        // always returns Some, so the result is always Ok.
        let _ = self.0.sum.fetch_update(Relaxed, Relaxed, |bits| Some((f64::from_bits(bits) + seconds).to_bits()));
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            counts: std::array::from_fn(|i| self.0.counts[i].load(Relaxed)),
            sum: f64::from_bits(self.0.sum.load(Relaxed)),
        }
    }
}

impl TypedMetric for Buckets {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Buckets {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), fmt::Error> {
        let s = self.snapshot();
        let buckets: [(f64, u64); BUCKETS] = std::array::from_fn(|i| (bound(i), s.counts[i]));
        // The count is the buckets' total (not a separate atomic), so the
        // `+Inf` bucket and `_count` always agree, even mid-observation.
        encoder.encode_histogram::<NoLabelSet>(s.sum, s.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// The upper bound of bucket `i`.
fn bound(i: usize) -> f64 {
    DURATION_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY)
}

/// A histogram's counts at one moment; snapshots of several series add up.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(super) struct Snapshot {
    pub(super) counts: [u64; BUCKETS],
    pub(super) sum: f64,
}

impl Snapshot {
    pub(super) fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub(super) fn add(&mut self, other: &Snapshot) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
        self.sum += other.sum;
    }

    /// The `q`-quantile, estimated the way Prometheus' `histogram_quantile`
    /// does: linearly within the bucket the rank falls in, from 0 for the first.
    /// A rank in the `+Inf` bucket gives the largest finite bound, flagged as a
    /// lower bound. `None` when nothing was observed.
    pub(super) fn quantile(&self, q: f64) -> Option<Quantile> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let (mut lower, mut below) = (0.0, 0u64);
        for (i, &n) in self.counts.iter().enumerate() {
            let cumulative = below + n;
            if cumulative as f64 >= rank && n > 0 {
                let upper = bound(i);
                if upper.is_infinite() {
                    return Some(Quantile { seconds: lower, at_least: true });
                }
                let within = (rank - below as f64) / n as f64;
                return Some(Quantile { seconds: lower + (upper - lower) * within, at_least: false });
            }
            (lower, below) = (bound(i), cumulative);
        }
        None
    }
}

/// An estimated latency quantile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    pub seconds: f64,
    /// The quantile lies past the largest bucket bound (60 s): `seconds` is
    /// that bound, and the true value is at least it.
    #[serde(default)]
    pub at_least: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(values: &[f64]) -> Snapshot {
        let h = Buckets::default();
        for v in values {
            h.observe(*v);
        }
        h.snapshot()
    }

    fn close(q: Option<Quantile>, seconds: f64, at_least: bool) -> bool {
        q.is_some_and(|q| (q.seconds - seconds).abs() < 1e-12 && q.at_least == at_least)
    }

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let s = snapshot(&[0.0, 0.0005, 0.0006, 60.0, 61.0]);
        assert_eq!(s.counts[0], 2, "le is inclusive");
        assert_eq!(s.counts[1], 1);
        assert_eq!(s.counts[BUCKETS - 2], 1);
        assert_eq!(s.counts[BUCKETS - 1], 1);
        assert_eq!(s.count(), 5);
        assert!((s.sum - 121.0011).abs() < 1e-9);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        // 50 in (5 ms, 10 ms], 40 in (25 ms, 50 ms], 10 in (50 ms, 100 ms].
        let mut values = vec![0.008; 50];
        values.extend([0.03; 40]);
        values.extend([0.07; 10]);
        let s = snapshot(&values);
        assert!(close(s.quantile(0.5), 0.01, false), "{:?}", s.quantile(0.5));
        // Rank 95 is half-way into the (50 ms, 100 ms] bucket.
        assert!(close(s.quantile(0.95), 0.075, false), "{:?}", s.quantile(0.95));
        assert!(close(s.quantile(0.99), 0.095, false), "{:?}", s.quantile(0.99));
        // Empty buckets between are skipped, not interpolated into.
        assert!(close(s.quantile(0.6), 0.025 + 0.025 * 0.25, false), "{:?}", s.quantile(0.6));
    }

    #[test]
    fn quantiles_past_the_last_bound_are_flagged() {
        let s = snapshot(&[100.0, 200.0]);
        assert!(close(s.quantile(0.5), 60.0, true));
        let s = snapshot(&[0.0001]);
        assert!(close(s.quantile(0.99), 0.0005 * 0.99, false));
        assert_eq!(Snapshot::default().quantile(0.5), None);
    }

    #[test]
    fn snapshots_add_up() {
        let mut a = snapshot(&[0.001, 2.0]);
        a.add(&snapshot(&[0.001]));
        assert_eq!(a.count(), 3);
        assert_eq!(a.counts[1], 2);
        assert!((a.sum - 2.002).abs() < 1e-12);
    }
}

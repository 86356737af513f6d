//! Picking a replica of a server group for one request.
//!
//! The caller passes the replicas that can take a request now (connected, circuit
//! not open) as [`Candidate`]s; the [`Balancer`] applies the server's strategy.
//! Strategies that keep state (round robin, smooth weighted round robin) keep
//! it by replica index, so a replica leaving and rejoining does not reshuffle
//! the others.
//!
//! - `round_robin`, `random`: the plain ones.
//! - `least_connections`: fewest requests in flight; ties go round robin, so an
//!   idle group does not send everything to its first replica.
//! - `weighted_round_robin`: nginx's smooth variant: weights 5:1:1 give
//!   `a a b a c a a`, not `a a a a a b c`.
//! - `weighted_random`: probability proportional to weight.
//! - `adaptive`: the power of two choices: two random candidates, the one with
//!   the lower latency average × (requests in flight + 1) wins (within 1.5× of
//!   each other, either, at random). A slow replica gets less, a stuck one
//!   (growing in-flight count) soon none, and no global scan or coordination is
//!   needed. The latency average decays while a replica is not chosen, so a
//!   replica that was slow once is tried again later.
//! - `consistent_hash`: rendezvous (highest random weight) hashing of a key:
//!   the same key goes to the same replica while it is up, and only the keys of
//!   a replica that leaves move.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;

use crate::config::Balance;

/// A replica that can take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub index: usize,
    pub weight: u32,
    pub in_flight: u32,
    /// Latency average in microseconds; 0 before the first answer.
    pub latency_us: u64,
}

#[derive(Debug)]
pub struct Balancer {
    strategy: Balance,
    next: AtomicUsize,
    /// Smooth weighted round robin: current weight by replica index.
    current: Mutex<Vec<i64>>,
}

impl Balancer {
    pub fn new(strategy: Balance, replicas: usize) -> Balancer {
        Balancer { strategy, next: AtomicUsize::new(0), current: Mutex::new(vec![0; replicas]) }
    }

    pub fn strategy(&self) -> Balance {
        self.strategy
    }

    /// The chosen replica's index; `None` when there is no candidate. `key` is
    /// what `consistent_hash` hashes.
    pub fn pick(&self, candidates: &[Candidate], key: &[u8]) -> Option<usize> {
        let chosen = match candidates {
            [] => return None,
            [only] => only,
            many => match self.strategy {
                Balance::RoundRobin => &many[self.next.fetch_add(1, Ordering::Relaxed) % many.len()],
                Balance::Random => &many[rand::rng().random_range(0..many.len())],
                Balance::LeastConnections => self.least_connections(many),
                Balance::WeightedRoundRobin => return Some(self.smooth_weighted(many)),
                Balance::WeightedRandom => weighted_random(many),
                Balance::Adaptive => adaptive(many),
                Balance::ConsistentHash => rendezvous(many, key),
            },
        };
        Some(chosen.index)
    }

    fn least_connections<'a>(&self, many: &'a [Candidate]) -> &'a Candidate {
        let min = many.iter().map(|c| c.in_flight).min().unwrap_or(0);
        let tied: Vec<&Candidate> = many.iter().filter(|c| c.in_flight == min).collect();
        tied[self.next.fetch_add(1, Ordering::Relaxed) % tied.len()]
    }

    fn smooth_weighted(&self, many: &[Candidate]) -> usize {
        let mut current = match self.current.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let total: i64 = many.iter().map(|c| i64::from(c.weight.max(1))).sum();
        let mut best: Option<usize> = None;
        for c in many {
            if current.len() <= c.index {
                current.resize(c.index + 1, 0);
            }
            current[c.index] += i64::from(c.weight.max(1));
            if best.is_none_or(|b| current[c.index] > current[b]) {
                best = Some(c.index);
            }
        }
        let best = best.unwrap_or(many[0].index);
        current[best] -= total;
        best
    }
}

fn weighted_random(many: &[Candidate]) -> &Candidate {
    let total: u64 = many.iter().map(|c| u64::from(c.weight.max(1))).sum();
    let mut point = rand::rng().random_range(0..total);
    for c in many {
        let w = u64::from(c.weight.max(1));
        if point < w {
            return c;
        }
        point -= w;
    }
    &many[many.len() - 1]
}

/// Scores within this ratio of each other count as equal.
const ADAPTIVE_TOLERANCE: f64 = 1.5;

fn adaptive(many: &[Candidate]) -> &Candidate {
    let mut rng = rand::rng();
    let a = rng.random_range(0..many.len());
    let mut b = rng.random_range(0..many.len() - 1);
    if b >= a {
        b += 1;
    }
    let score = |c: &Candidate| c.latency_us as f64 * (f64::from(c.in_flight) + 1.0);
    let (sa, sb) = (score(&many[a]), score(&many[b]));
    // An unmeasured replica goes first, so it gets measured; two alike are
    // chosen between at random, so close replicas share the load instead of the
    // marginally faster one taking all of it.
    let pick = if sa == 0.0 || sb == 0.0 {
        if sa == sb {
            [a, b][rng.random_range(0..2)]
        } else if sa == 0.0 {
            a
        } else {
            b
        }
    } else if sa.max(sb) / sa.min(sb) <= ADAPTIVE_TOLERANCE {
        [a, b][rng.random_range(0..2)]
    } else if sa < sb {
        a
    } else {
        b
    };
    &many[pick]
}

fn rendezvous<'a>(many: &'a [Candidate], key: &[u8]) -> &'a Candidate {
    let score = |c: &Candidate| {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        c.index.hash(&mut h);
        h.finish()
    };
    many.iter().max_by_key(|c| score(c)).unwrap_or(&many[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(weights: &[u32]) -> Vec<Candidate> {
        weights
            .iter()
            .enumerate()
            .map(|(index, &weight)| Candidate { index, weight, in_flight: 0, latency_us: 0 })
            .collect()
    }

    fn counts(b: &Balancer, cs: &[Candidate], n: usize) -> Vec<usize> {
        let mut counts = vec![0; cs.iter().map(|c| c.index).max().unwrap_or(0) + 1];
        for i in 0..n {
            counts[b.pick(cs, &i.to_le_bytes()).unwrap()] += 1;
        }
        counts
    }

    #[test]
    fn round_robin_takes_turns_and_skips_absent_replicas() {
        let b = Balancer::new(Balance::RoundRobin, 3);
        assert_eq!(counts(&b, &group(&[1, 1, 1]), 300), vec![100, 100, 100]);
        let without_middle = vec![group(&[1, 1, 1])[0], group(&[1, 1, 1])[2]];
        assert_eq!(counts(&b, &without_middle, 100), vec![50, 0, 50]);
        assert_eq!(b.pick(&[], b""), None);
    }

    #[test]
    fn smooth_weighted_round_robin_is_exact_and_interleaved() {
        let b = Balancer::new(Balance::WeightedRoundRobin, 3);
        let cs = group(&[5, 1, 1]);
        let order: Vec<usize> = (0..7).map(|_| b.pick(&cs, b"").unwrap()).collect();
        assert_eq!(order, vec![0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(counts(&b, &cs, 700), vec![500, 100, 100]);
    }

    #[test]
    fn weighted_random_follows_the_weights() {
        let b = Balancer::new(Balance::WeightedRandom, 2);
        let c = counts(&b, &group(&[3, 1]), 8000);
        // Expected 6000:2000; five standard deviations is about 200.
        assert!((5700..6300).contains(&c[0]), "{c:?}");
    }

    #[test]
    fn random_reaches_every_replica() {
        let b = Balancer::new(Balance::Random, 3);
        let c = counts(&b, &group(&[1, 1, 1]), 3000);
        assert!(c.iter().all(|&n| n > 800), "{c:?}");
    }

    #[test]
    fn least_connections_prefers_the_idlest_and_spreads_ties() {
        let b = Balancer::new(Balance::LeastConnections, 3);
        let mut cs = group(&[1, 1, 1]);
        cs[0].in_flight = 4;
        cs[1].in_flight = 1;
        cs[2].in_flight = 2;
        assert_eq!(counts(&b, &cs, 10), vec![0, 10, 0]);
        cs[2].in_flight = 1;
        assert_eq!(counts(&b, &cs, 10), vec![0, 5, 5]);
    }

    #[test]
    fn adaptive_sends_a_slow_replica_less() {
        let b = Balancer::new(Balance::Adaptive, 3);
        let mut cs = group(&[1, 1, 1]);
        cs[0].latency_us = 10_000;
        cs[1].latency_us = 100;
        cs[2].latency_us = 400;
        let c = counts(&b, &cs, 3000);
        // With two choices the slowest replica wins no pair at all.
        assert_eq!(c[0], 0, "{c:?}");
        assert!(c[1] > c[2], "{c:?}");
    }

    #[test]
    fn adaptive_shares_between_replicas_that_are_alike() {
        let b = Balancer::new(Balance::Adaptive, 2);
        let mut cs = group(&[1, 1]);
        cs[0].latency_us = 200;
        cs[1].latency_us = 240;
        let c = counts(&b, &cs, 2000);
        assert!(c[0] > 800 && c[1] > 800, "{c:?}");
    }

    #[test]
    fn adaptive_penalises_requests_in_flight() {
        let b = Balancer::new(Balance::Adaptive, 2);
        let mut cs = group(&[1, 1]);
        cs[0].latency_us = 100;
        cs[0].in_flight = 9; // score 1000
        cs[1].latency_us = 300; // score 300
        assert_eq!(counts(&b, &cs, 100), vec![0, 100]);
    }

    #[test]
    fn consistent_hash_is_stable_and_moves_only_the_keys_of_a_leaving_replica() {
        let b = Balancer::new(Balance::ConsistentHash, 4);
        let all = group(&[1, 1, 1, 1]);
        let before: Vec<usize> = (0..400u32).map(|k| b.pick(&all, &k.to_le_bytes()).unwrap()).collect();
        let again: Vec<usize> = (0..400u32).map(|k| b.pick(&all, &k.to_le_bytes()).unwrap()).collect();
        assert_eq!(before, again);
        let c = counts(&b, &all, 4000);
        assert!(c.iter().all(|&n| n > 800), "spread: {c:?}");
        let without_2: Vec<Candidate> = all.iter().copied().filter(|c| c.index != 2).collect();
        for (k, was) in before.iter().enumerate() {
            let now = b.pick(&without_2, &(k as u32).to_le_bytes()).unwrap();
            if *was != 2 {
                assert_eq!(now, *was, "key {k} moved though its replica stayed");
            }
        }
    }
}

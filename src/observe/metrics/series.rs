//! The series behind the metric families: label sets, and the interned handles
//! each server, (server, method) pair and small-set key keeps, with the caps
//! that bound how many there can be (past them, values fold into `"other"`).
//! The recording API in the parent module and the summary both walk these.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use super::histogram::Buckets;
use super::labels::{OTHER, OUTCOMES, STATES};

/// At most this many distinct fronts, catalog kinds and rejection reasons (they
/// come from code, not from users, so this only guards against a bug).
pub(super) const SMALL_CAP: usize = 64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct RequestLabels {
    pub(super) server: Arc<str>,
    pub(super) method: Arc<str>,
    pub(super) outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct MethodLabels {
    pub(super) server: Arc<str>,
    pub(super) method: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ServerLabels {
    pub(super) server: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct StateLabels {
    pub(super) server: Arc<str>,
    pub(super) state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReplicaLabels {
    pub(super) server: String,
    pub(super) replica: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ReasonLabels {
    pub(super) reason: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct ResultLabels {
    pub(super) result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct FrontLabels {
    pub(super) front: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct KindLabels {
    pub(super) kind: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct BuildLabels {
    pub(super) version: &'static str,
}

/// A poisoned lock still holds consistent maps (every update is one insert or
/// remove), so metrics keep working after a panic elsewhere.
pub(super) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

pub(super) fn outcome_index(outcome: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == outcome).unwrap_or(OUTCOMES.len() - 1)
}

/// One (server, method) pair's handles.
pub(super) struct MethodSeries {
    pub(super) method: Arc<str>,
    pub(super) duration: Buckets,
    /// One counter per entry of [`OUTCOMES`], created on first use.
    pub(super) outcomes: [OnceLock<Counter>; OUTCOMES.len()],
    /// Whether it counts towards the cap (the fold-in `other` series does not).
    pub(super) counted: bool,
}

/// One server's handles.
pub(super) struct ServerSeries {
    pub(super) name: Arc<str>,
    pub(super) in_flight: OnceLock<Gauge>,
    pub(super) restarts: OnceLock<Counter>,
    pub(super) retries: OnceLock<Counter>,
    pub(super) up: OnceLock<[Gauge; STATES.len()]>,
    pub(super) methods: HashMap<Arc<str>, MethodSeries>,
}

impl ServerSeries {
    pub(super) fn new(name: Arc<str>) -> ServerSeries {
        ServerSeries {
            name,
            in_flight: OnceLock::new(),
            restarts: OnceLock::new(),
            retries: OnceLock::new(),
            up: OnceLock::new(),
            methods: HashMap::new(),
        }
    }

    /// The series `method` is counted under, when it exists; `full` says the
    /// pair cap is reached (so a new method would be folded).
    pub(super) fn method(&self, method: &str, full: bool) -> Option<&MethodSeries> {
        match self.methods.get(method) {
            Some(m) => Some(m),
            None if full => self.methods.get(OTHER),
            None => None,
        }
    }

    /// The state whose `backend_up` gauge is 1, if any.
    pub(super) fn state(&self) -> Option<&'static str> {
        let gauges = self.up.get()?;
        gauges.iter().zip(STATES).find(|(g, _)| g.get() == 1).map(|(_, s)| s)
    }
}

#[derive(Default)]
pub(super) struct Servers {
    pub(super) map: HashMap<Arc<str>, ServerSeries>,
    /// Counted (server, method) pairs, across servers.
    pub(super) pairs: usize,
}

impl Servers {
    /// The series `server` is counted under, when it exists.
    pub(super) fn find(&self, server: &str, cap: usize) -> Option<&ServerSeries> {
        match self.map.get(server) {
            Some(s) => Some(s),
            None if self.map.len() >= cap => self.map.get(OTHER),
            None => None,
        }
    }

    /// The series `server` is counted under, created when missing. With `fold`
    /// false, a server past the cap gets `None` instead of `other`.
    pub(super) fn slot(&mut self, server: &str, cap: usize, fold: bool) -> Option<&mut ServerSeries> {
        let key = if self.map.contains_key(server) || self.map.len() < cap {
            server
        } else if fold {
            OTHER
        } else {
            return None;
        };
        Some(self.map.entry(Arc::from(key)).or_insert_with_key(|k| ServerSeries::new(k.clone())))
    }
}

/// Metrics keyed by one small-set label (front, catalog kind, rejection
/// reason), capped at [`SMALL_CAP`] keys.
pub(super) struct Keyed<L, M> {
    pub(super) family: Family<L, M>,
    slots: RwLock<HashMap<Arc<str>, M>>,
    label: fn(Arc<str>) -> L,
}

impl<L: Clone + std::hash::Hash + Eq, M: Clone + Default> Keyed<L, M> {
    pub(super) fn new(label: fn(Arc<str>) -> L) -> Self {
        Keyed { family: Family::default(), slots: RwLock::new(HashMap::new()), label }
    }

    pub(super) fn get(&self, key: &str) -> M {
        {
            let slots = read(&self.slots);
            let found = match slots.get(key) {
                Some(g) => Some(g),
                None if slots.len() >= SMALL_CAP => slots.get(OTHER),
                None => None,
            };
            if let Some(g) = found {
                return g.clone();
            }
        }
        let mut slots = write(&self.slots);
        let key = if slots.contains_key(key) || slots.len() < SMALL_CAP { key } else { OTHER };
        slots
            .entry(Arc::from(key))
            .or_insert_with_key(|k| self.family.get_or_create_owned(&(self.label)(k.clone())))
            .clone()
    }

    /// Every key with `value` of its metric.
    pub(super) fn values<V>(&self, value: impl Fn(&M) -> V) -> Vec<(String, V)> {
        read(&self.slots).iter().map(|(k, m)| (k.to_string(), value(m))).collect()
    }
}

/// One replica's circuit-breaker handles.
pub(super) struct Breaker {
    pub(super) replica: String,
    /// 0 closed, 1 half-open, 2 open.
    pub(super) state: Gauge,
    pub(super) opened: Counter,
}

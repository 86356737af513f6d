//! Routing rules (`[[route]]`): requests matching a rule's globs go to the
//! server it names, or are denied, before the catalog is consulted.
//!
//! A rule matches when every glob it gives matches: `method` the JSON-RPC
//! method; `tool` the exposed name of a `tools/call`; `prompt` that of a
//! `prompts/get` (or a prompt completion); `resource` the exposed URI of a
//! `resources/read`, a subscription, or a resource completion. A rule that names
//! a tool never matches a request without one. The first matching rule wins.
//!
//! `to` sends the request to that server (a group is balanced as usual) under
//! the name the server knows: the catalog's original name when the server has
//! the exposed name, else the name without its `<to><separator>` prefix, else
//! the name as sent. `resources/list` and `resources/templates/list` routed to
//! a server list only that server. `initialize`, `ping` and notifications are
//! never routed by rules.
//!
//! Decisions are cached by (method, name) for `route_cache_ttl`; the table is
//! replaced whole on reload, cache included.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use globset::{Glob, GlobMatcher};
use serde::Serialize;

use crate::config::{RouteAction, RouteRule};
use crate::observe::metrics::Metrics;
use crate::protocol::method;

/// What the rules say about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No rule matched: the catalog decides.
    Catalog,
    To {
        server: String,
        rule: usize,
    },
    Deny {
        rule: usize,
        reason: Option<String>,
    },
}

struct Compiled {
    method: Pat,
    tool: Pat,
    prompt: Pat,
    resource: Pat,
    rule: RouteRule,
}

/// Cache entries kept before the cache is emptied (names are client input).
const CACHE_MAX: usize = 10_000;

/// (method, name).
type CacheKey = (String, String);
/// The matching rule (if any), and when it was found.
type Cached = (Option<usize>, Instant);

pub struct RuleTable {
    rules: Vec<Compiled>,
    ttl: Duration,
    cache: Mutex<HashMap<CacheKey, Cached>>,
    hits: AtomicU64,
    misses: AtomicU64,
    metrics: Metrics,
}

/// What a request offers the rules to match on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    pub tool: Option<&'a str>,
    pub prompt: Option<&'a str>,
    pub resource: Option<&'a str>,
}

impl Subject<'_> {
    fn name(&self) -> &str {
        self.tool.or(self.prompt).or(self.resource).unwrap_or("")
    }
}

#[derive(Debug, Serialize)]
pub struct CacheStats {
    pub entries: usize,
    pub hits: u64,
    pub misses: u64,
    pub ttl_ms: u128,
}

/// One glob of a rule.
enum Pat {
    /// Not given: matches anything.
    Any,
    Glob(GlobMatcher),
    /// A glob that does not compile (it was checked at load): matches nothing.
    Never,
}

impl Pat {
    fn new(glob: &Option<String>) -> Pat {
        let Some(g) = glob else { return Pat::Any };
        match Glob::new(g) {
            Ok(g) => Pat::Glob(g.compile_matcher()),
            Err(e) => {
                tracing::warn!("route glob {g:?}: {e}; it matches nothing");
                Pat::Never
            }
        }
    }

    fn fits(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Pat::Any, _) => true,
            (Pat::Glob(g), Some(v)) => g.is_match(v),
            _ => false,
        }
    }
}

impl RuleTable {
    pub fn new(rules: &[RouteRule], ttl: Duration, metrics: Metrics) -> RuleTable {
        let rules = rules
            .iter()
            .map(|r| Compiled {
                method: Pat::new(&r.method),
                tool: Pat::new(&r.tool),
                prompt: Pat::new(&r.prompt),
                resource: Pat::new(&r.resource),
                rule: r.clone(),
            })
            .collect();
        RuleTable {
            rules,
            ttl,
            cache: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            metrics,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub fn rules(&self) -> impl Iterator<Item = &RouteRule> {
        self.rules.iter().map(|c| &c.rule)
    }

    /// The rules' verdict on one request.
    pub fn decide(&self, m: &str, subject: Subject<'_>) -> Decision {
        if self.rules.is_empty() || matches!(m, method::INITIALIZE | method::PING) {
            return Decision::Catalog;
        }
        let index = self.cached(m, subject);
        match index.map(|i| (i, &self.rules[i].rule.action)) {
            None => Decision::Catalog,
            Some((rule, RouteAction::To(server))) => Decision::To { server: server.clone(), rule },
            Some((rule, RouteAction::Deny(reason))) => Decision::Deny { rule, reason: reason.clone() },
        }
    }

    fn cached(&self, m: &str, subject: Subject<'_>) -> Option<usize> {
        if self.ttl.is_zero() {
            return self.evaluate(m, subject);
        }
        let key = (m.to_owned(), subject.name().to_owned());
        if let Ok(cache) = self.cache.lock()
            && let Some((index, at)) = cache.get(&key)
            && at.elapsed() < self.ttl
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            self.metrics.route_cache(true);
            return *index;
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        self.metrics.route_cache(false);
        let index = self.evaluate(m, subject);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(key, (index, Instant::now()));
        }
        index
    }

    fn evaluate(&self, m: &str, subject: Subject<'_>) -> Option<usize> {
        self.rules.iter().position(|c| {
            c.method.fits(Some(m))
                && c.tool.fits(subject.tool)
                && c.prompt.fits(subject.prompt)
                && c.resource.fits(subject.resource)
        })
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            entries: self.cache.lock().map(|c| c.len()).unwrap_or(0),
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            ttl_ms: self.ttl.as_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(method: Option<&str>, tool: Option<&str>, resource: Option<&str>, action: RouteAction) -> RouteRule {
        RouteRule {
            method: method.map(Into::into),
            tool: tool.map(Into::into),
            prompt: None,
            resource: resource.map(Into::into),
            action,
        }
    }

    fn metrics() -> Metrics {
        Metrics::new()
    }

    fn tool(name: &str) -> Subject<'_> {
        Subject { tool: Some(name), ..Subject::default() }
    }

    #[test]
    fn first_matching_rule_wins_and_every_glob_must_match() {
        let t = RuleTable::new(
            &[
                rule(None, Some("*__delete_*"), None, RouteAction::Deny(Some("no deletes".into()))),
                rule(Some("tools/call"), Some("search*"), None, RouteAction::To("pool".into())),
                rule(Some("resources/*"), None, Some("files+file:///secret/*"), RouteAction::Deny(None)),
            ],
            Duration::from_secs(10),
            metrics(),
        );
        assert_eq!(
            t.decide("tools/call", tool("git__delete_branch")),
            Decision::Deny { rule: 0, reason: Some("no deletes".into()) }
        );
        assert_eq!(t.decide("tools/call", tool("search_web")), Decision::To { server: "pool".into(), rule: 1 });
        assert_eq!(t.decide("tools/call", tool("time__now")), Decision::Catalog);
        // A rule that names a tool does not match a request without one.
        assert_eq!(t.decide("tools/list", Subject::default()), Decision::Catalog);
        let secret = Subject { resource: Some("files+file:///secret/key"), ..Subject::default() };
        assert_eq!(t.decide("resources/read", secret), Decision::Deny { rule: 2, reason: None });
        assert_eq!(t.decide("resources/list", Subject::default()), Decision::Catalog);
        assert_eq!(t.decide("initialize", Subject::default()), Decision::Catalog);
    }

    #[test]
    fn decisions_are_cached_with_hit_and_miss_counts() {
        let t = RuleTable::new(
            &[rule(Some("prompts/*"), None, None, RouteAction::Deny(None))],
            Duration::from_secs(60),
            metrics(),
        );
        for _ in 0..3 {
            assert_eq!(t.decide("tools/call", tool("a")), Decision::Catalog);
        }
        assert!(matches!(t.decide("prompts/get", Subject::default()), Decision::Deny { .. }));
        let s = t.stats();
        assert_eq!((s.hits, s.misses, s.entries), (2, 2, 2));
        let uncached =
            RuleTable::new(&[rule(Some("x"), None, None, RouteAction::Deny(None))], Duration::ZERO, metrics());
        uncached.decide("tools/call", tool("a"));
        assert_eq!(uncached.stats().entries, 0);
    }
}

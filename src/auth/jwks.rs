//! The signing keys of an identity provider, fetched from its JWKS URL and
//! cached by `kid`.
//!
//! Keys are fetched on first use and again once they are `jwks_refresh` old.
//! An IdP that rotates keys signs new tokens with a `kid` vmcp has not seen, so
//! an unknown `kid` refetches at once, but at most once per [`MIN_REFETCH`]:
//! anyone can send tokens with made-up `kid`s, and they must not turn vmcp into
//! a flood of requests against the IdP. For the same reason a failed fetch is
//! not retried before [`MIN_REFETCH`] has passed; meanwhile the keys from the
//! last good fetch keep serving (an IdP that is down for a while should not
//! lock every client out), and the failure is logged.
//!
//! A fetch takes at most [`FETCH_TIMEOUT`] and reads at most [`MAX_BODY`]. Only
//! signature keys vmcp can verify with are kept: RSA (RS256) and EC P-256
//! (ES256). Other key types, encryption keys, keys whose `alg` is another
//! algorithm and entries that do not parse are skipped, so one odd key in the
//! set does not hide the others.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::ACCEPT;

use super::error::{AuthError, quote};
use crate::observe::error_chain;

/// Longest a fetch may take, answer included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest JWKS document read.
pub const MAX_BODY: usize = 1 << 20;
/// Shortest time between two fetches that were not scheduled refreshes.
pub const MIN_REFETCH: Duration = Duration::from_secs(60);

/// The keys of one JWKS URL.
pub struct JwksCache {
    url: reqwest::Url,
    client: reqwest::Client,
    refresh: Duration,
    min_refetch: Duration,
    state: Mutex<State>,
    /// Held while fetching: concurrent requests wait for one fetch instead of
    /// each starting their own.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    keys: Vec<Key>,
    /// The last fetch that succeeded.
    fetched_at: Option<Instant>,
    /// The last fetch, whatever its outcome.
    attempted_at: Option<Instant>,
    /// Why the last fetch failed; `None` when it succeeded.
    failure: Option<String>,
}

#[derive(Clone)]
struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

enum Lookup {
    Found(DecodingKey),
    /// No key has this `kid`.
    Unknown,
    /// A key has this `kid`, but for another algorithm.
    OtherAlgorithm,
    /// The token names no `kid` and the set has not exactly one key for its algorithm.
    Ambiguous,
}

impl State {
    /// A scheduled refresh is due: never fetched, or the keys are old, unless
    /// the last attempt failed less than `min_refetch` ago.
    fn refresh_due(&self, now: Instant, refresh: Duration, min_refetch: Duration) -> bool {
        let stale = self.fetched_at.is_none_or(|t| now.saturating_duration_since(t) >= refresh);
        let backing_off =
            self.failure.is_some() && self.attempted_at.is_some_and(|t| now.saturating_duration_since(t) < min_refetch);
        stale && !backing_off
    }

    /// An unscheduled fetch (for an unknown `kid`) is allowed.
    fn refetch_allowed(&self, now: Instant, min_refetch: Duration) -> bool {
        self.attempted_at.is_none_or(|t| now.saturating_duration_since(t) >= min_refetch)
    }

    fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return Lookup::Unknown;
                }
                match named.find(|k| k.alg == alg) {
                    Some(k) => Lookup::Found(k.key.clone()),
                    None => Lookup::OtherAlgorithm,
                }
            }
            // A token without `kid` is fine while the IdP has one key for its
            // algorithm; with more, guessing would mean trying each.
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.alg == alg);
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Lookup::Found(k.key.clone()),
                    _ => Lookup::Ambiguous,
                }
            }
        }
    }
}

/// The HTTP client JWKS documents are fetched with: the identity provider is
/// reached like any web service (system and bundled roots, TCP_NODELAY).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl JwksCache {
    /// `url` must be an absolute http(s) URL.
    pub fn new(url: &str, refresh: Duration, client: reqwest::Client) -> Result<JwksCache, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err("not an http(s) URL".into());
        }
        Ok(JwksCache {
            url: parsed,
            client,
            refresh,
            min_refetch: MIN_REFETCH,
            state: Mutex::new(State::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// Tests shorten the refetch limit to see a refetch happen.
    #[cfg(test)]
    fn with_min_refetch(mut self, min_refetch: Duration) -> JwksCache {
        self.min_refetch = min_refetch;
        self
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    /// The key to verify a token with `kid` (from its header) and `alg`.
    pub async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, AuthError> {
        let (refresh, min_refetch) = (self.refresh, self.min_refetch);
        if self.with_state(|s| s.refresh_due(Instant::now(), refresh, min_refetch)) {
            self.fetch_if(|s| s.refresh_due(Instant::now(), refresh, min_refetch)).await;
        }
        let mut lookup = self.with_state(|s| s.lookup(kid, alg));
        if matches!(lookup, Lookup::Unknown) && self.with_state(|s| s.refetch_allowed(Instant::now(), min_refetch)) {
            // Perhaps the IdP rotated its keys.
            self.fetch_if(|s| s.refetch_allowed(Instant::now(), min_refetch)).await;
            lookup = self.with_state(|s| s.lookup(kid, alg));
        }
        if let Lookup::Found(key) = lookup {
            return Ok(key);
        }
        // Never had keys: say why, rather than blame the token.
        if let Some(unavailable) = self.with_state(|s| match (&s.fetched_at, &s.failure) {
            (Some(_), _) => None,
            (None, Some(failure)) => Some(AuthError::Keys(failure.clone())),
            (None, None) => Some(AuthError::Keys("not fetched yet".into())),
        }) {
            return Err(unavailable);
        }
        Err(match lookup {
            Lookup::OtherAlgorithm => AuthError::Algorithm(format!("{alg:?}")),
            Lookup::Ambiguous => AuthError::Malformed("no kid in the token header".into()),
            Lookup::Found(_) | Lookup::Unknown => AuthError::UnknownKid(quote(kid.unwrap_or_default())),
        })
    }

    /// Fetches unless `still_wanted` says, once the fetch lock is ours, that
    /// another request has fetched meanwhile.
    async fn fetch_if(&self, still_wanted: impl Fn(&State) -> bool) {
        let _one_at_a_time = self.fetching.lock().await;
        if !self.with_state(|s| still_wanted(s)) {
            return;
        }
        let outcome = self.fetch().await;
        let now = Instant::now();
        self.with_state(|s| {
            s.attempted_at = Some(now);
            match outcome {
                Ok(keys) => {
                    if keys.is_empty() {
                        tracing::warn!(url = %self.url, "JWKS has no RS256 or ES256 signature key");
                    } else {
                        tracing::debug!(url = %self.url, keys = keys.len(), "fetched JWKS");
                    }
                    s.keys = keys;
                    s.fetched_at = Some(now);
                    s.failure = None;
                }
                Err(e) => {
                    tracing::warn!(url = %self.url, cached = s.keys.len(), "JWKS fetch failed, keeping cached keys: {e}");
                    s.failure = Some(e);
                }
            }
        });
    }

    async fn fetch(&self) -> Result<Vec<Key>, String> {
        let body = tokio::time::timeout(FETCH_TIMEOUT, self.download())
            .await
            .map_err(|_| format!("no answer within {}s", FETCH_TIMEOUT.as_secs()))??;
        parse(&body)
    }

    async fn download(&self) -> Result<Vec<u8>, String> {
        let mut resp = self
            .client
            .get(self.url.clone())
            .header(ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        let too_big = || format!("larger than {} KiB", MAX_BODY >> 10);
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

impl fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.with_state(|s| s.keys.len());
        f.debug_struct("JwksCache").field("url", &self.url.as_str()).field("keys", &keys).finish_non_exhaustive()
    }
}

/// The usable keys of a JWKS document.
fn parse(body: &[u8]) -> Result<Vec<Key>, String> {
    // Entries are parsed one by one: a key type the library does not know
    // (say, secp256k1) would fail a whole `JwkSet`.
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| format!("not a JWK set: {e}"))?;
    Ok(raw.keys.into_iter().filter_map(usable).collect())
}

fn usable(value: serde_json::Value) -> Option<Key> {
    let jwk: Jwk = match serde_json::from_value(value) {
        Ok(jwk) => jwk,
        Err(e) => {
            tracing::debug!("skipping JWK: {e}");
            return None;
        }
    };
    let common = &jwk.common;
    if common.public_key_use.as_ref().is_some_and(|u| *u != PublicKeyUse::Signature) {
        return None;
    }
    if common.key_operations.as_ref().is_some_and(|ops| !ops.contains(&KeyOperations::Verify)) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return None,
    };
    match (alg, common.key_algorithm) {
        (_, None) | (Algorithm::RS256, Some(KeyAlgorithm::RS256)) | (Algorithm::ES256, Some(KeyAlgorithm::ES256)) => {}
        _ => return None,
    }
    match DecodingKey::from_jwk(&jwk) {
        Ok(key) => Some(Key { kid: common.key_id.clone(), alg, key }),
        Err(e) => {
            tracing::debug!(kid = ?common.key_id, "skipping JWK: {e}");
            None
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    pub(crate) const JWKS: &str = include_str!("testdata/jwks.json");

    /// A loopback server for one JWKS document that counts its requests; the
    /// document can be changed while it runs.
    pub(crate) struct JwksServer {
        pub url: String,
        pub hits: Arc<AtomicUsize>,
        pub body: Arc<Mutex<String>>,
    }

    impl JwksServer {
        pub(crate) async fn start(body: &str) -> JwksServer {
            let hits = Arc::new(AtomicUsize::new(0));
            let doc = Arc::new(Mutex::new(body.to_owned()));
            let (h, d) = (hits.clone(), doc.clone());
            let app = axum::Router::new().route(
                "/jwks",
                axum::routing::get(move || {
                    let (h, d) = (h.clone(), d.clone());
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        let body = d.lock().unwrap().clone();
                        ([(axum::http::header::CONTENT_TYPE, "application/json")], body)
                    }
                }),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, app).await });
            JwksServer { url: format!("http://{addr}/jwks"), hits, body: doc }
        }

        pub(crate) fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    /// Loopback only: no proxy from the environment.
    fn test_client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// The test JWKS with only the keys whose kid is in `kids`.
    fn only(kids: &[&str]) -> String {
        let mut v: serde_json::Value = serde_json::from_str(JWKS).unwrap();
        v["keys"].as_array_mut().unwrap().retain(|k| kids.contains(&k["kid"].as_str().unwrap()));
        v.to_string()
    }

    #[test]
    fn keeps_only_rs256_and_es256_signature_keys() {
        let keys = parse(JWKS.as_bytes()).unwrap();
        let kept: Vec<_> = keys.iter().map(|k| (k.kid.clone().unwrap(), k.alg)).collect();
        assert_eq!(kept, [("rsa-1".to_owned(), Algorithm::RS256), ("ec-1".to_owned(), Algorithm::ES256)]);
        assert!(parse(b"{}").is_err());
        assert!(parse(b"<html>").is_err());
    }

    #[tokio::test]
    async fn known_kid_then_unknown_kid_within_the_limit() {
        let server = JwksServer::start(JWKS).await;
        let cache = JwksCache::new(&server.url, Duration::from_secs(600), test_client()).unwrap();
        assert!(cache.key(Some("rsa-1"), Algorithm::RS256).await.is_ok());
        assert!(cache.key(Some("ec-1"), Algorithm::ES256).await.is_ok());
        assert_eq!(server.hits(), 1);
        for i in 0..10 {
            let err = cache.key(Some(&format!("forged-{i}")), Algorithm::RS256).await.err();
            assert_eq!(err, Some(AuthError::UnknownKid(format!("forged-{i}"))));
        }
        // The first fetch was just now: no refetch for made-up kids.
        assert_eq!(server.hits(), 1);
        assert_eq!(cache.key(Some("rsa-1"), Algorithm::ES256).await.err(), Some(AuthError::Algorithm("ES256".into())));
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_per_interval() {
        let server = JwksServer::start(&only(&["rsa-1"])).await;
        let cache = JwksCache::new(&server.url, Duration::from_secs(600), test_client())
            .unwrap()
            .with_min_refetch(Duration::from_millis(300));
        assert!(cache.key(Some("rsa-1"), Algorithm::RS256).await.is_ok());
        assert!(matches!(cache.key(Some("ec-1"), Algorithm::ES256).await, Err(AuthError::UnknownKid(_))));
        assert_eq!(server.hits(), 1);

        // The IdP rotates in a new key; once the interval has passed, its kid is fetched.
        *server.body.lock().unwrap() = only(&["rsa-1", "ec-1"]);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(cache.key(Some("ec-1"), Algorithm::ES256).await.is_ok());
        assert_eq!(server.hits(), 2);
        for _ in 0..5 {
            assert!(cache.key(Some("nope"), Algorithm::ES256).await.is_err());
        }
        assert!(server.hits() <= 3, "{} fetches", server.hits());
    }

    #[tokio::test]
    async fn failure_keeps_cached_keys() {
        let server = JwksServer::start(JWKS).await;
        let cache =
            JwksCache::new(&server.url, Duration::ZERO, test_client()).unwrap().with_min_refetch(Duration::ZERO);
        assert!(cache.key(Some("rsa-1"), Algorithm::RS256).await.is_ok());
        *server.body.lock().unwrap() = "not json".into();
        // refresh = 0: every call refetches, fails, and still finds the key.
        assert!(cache.key(Some("rsa-1"), Algorithm::RS256).await.is_ok());
        assert!(server.hits() >= 2);
        assert!(cache.with_state(|s| s.failure.is_some()));
    }

    #[tokio::test]
    async fn unreachable_url_is_a_keys_error() {
        // A port that was just free: connection refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let cache =
            JwksCache::new(&format!("http://127.0.0.1:{port}/jwks"), Duration::from_secs(600), test_client()).unwrap();
        for _ in 0..2 {
            let err = cache.key(Some("rsa-1"), Algorithm::RS256).await.err().unwrap();
            assert!(matches!(err, AuthError::Keys(_)), "{err:?}");
        }
        let err = cache.key(None, Algorithm::RS256).await.err().unwrap();
        assert!(matches!(err, AuthError::Keys(_)), "{err:?}");
    }

    #[tokio::test]
    async fn oversized_document_is_refused() {
        let big = format!("{{\"keys\": [], \"pad\": \"{}\"}}", "x".repeat(MAX_BODY));
        let server = JwksServer::start(&big).await;
        let cache = JwksCache::new(&server.url, Duration::from_secs(600), test_client()).unwrap();
        let err = cache.key(Some("rsa-1"), Algorithm::RS256).await.err().unwrap();
        assert!(matches!(&err, AuthError::Keys(m) if m.contains("larger")), "{err:?}");
    }

    #[test]
    fn only_http_urls() {
        assert!(JwksCache::new("file:///etc/jwks.json", Duration::ZERO, test_client()).is_err());
        assert!(JwksCache::new("not a url", Duration::ZERO, test_client()).is_err());
    }
}

//! Bearer JWTs: which tokens are accepted, and who they say the caller is.
//!
//! A token is accepted when all of these hold:
//!
//! - its header's `alg` is one of `[auth.jwt] algorithms` (`none`, and anything
//!   vmcp does not verify, never is), and a key of that algorithm is configured:
//!   the `secret` for HS256; for RS256 and ES256 the key in `public_key_file`
//!   or, when the token names a `kid` (or no file is given), the JWKS key.
//!   Keys embedded in the token (`jwk`, `jku`, `x5u`, `x5c`) are never used;
//!   a token with `crit` extensions is refused, since vmcp understands none.
//! - its signature verifies with that key;
//! - `exp` is present and not past, and `nbf`, when present, is not future,
//!   both with `leeway` for clock skew;
//! - `iss` equals `issuer`, when one is set;
//! - `aud` contains one of `audience`; with no `audience`, `[auth] resource`
//!   when it is set (RFC 8707: a token issued for another resource is refused
//!   here, not replayed); otherwise `aud` is not checked.
//!
//! The principal's name is the `subject_claim` (a string); its roles are the
//! `roles_claim`: an array of strings, or one space-separated string like the
//! OAuth `scope` claim. No roles claim means no roles.

use std::borrow::Cow;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::error::{AuthError, AuthSetupError, quote};
use super::jwks::JwksCache;
use super::principal::{Principal, Via};
use crate::config::JwtConfig;

/// Upper bound on `leeway`: the library computes `now - leeway`, which must
/// not go below the epoch.
const MAX_LEEWAY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Verifies JWTs as `[auth.jwt]` says.
pub struct JwtVerifier {
    algorithms: Vec<Algorithm>,
    /// HS256.
    secret: Option<DecodingKey>,
    /// RS256 or ES256, from `public_key_file`.
    file_key: Option<(Algorithm, DecodingKey)>,
    jwks: Option<JwksCache>,
    issuer: Option<String>,
    /// Accepted `aud` values; empty: not checked.
    audience: Vec<String>,
    subject_claim: String,
    roles_claim: String,
    leeway: u64,
}

/// The part of the header looked at before any key is chosen.
#[derive(serde::Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

impl JwtVerifier {
    /// Reads `public_key_file`; `resource` is `[auth] resource`, the audience
    /// when `audience` is empty; `client` is used for the JWKS URL.
    pub fn new(
        config: &JwtConfig,
        resource: Option<&str>,
        client: reqwest::Client,
    ) -> Result<JwtVerifier, AuthSetupError> {
        let mut algorithms = Vec::new();
        for name in &config.algorithms {
            let alg = match name.as_str() {
                "HS256" => Algorithm::HS256,
                "RS256" => Algorithm::RS256,
                "ES256" => Algorithm::ES256,
                other => return Err(AuthSetupError::Jwt(format!("unsupported algorithm {other:?}"))),
            };
            algorithms.push(alg);
        }
        let secret = config.secret.as_deref().map(|s| DecodingKey::from_secret(s.as_bytes()));
        let file_key = config.public_key_file.as_deref().map(read_public_key).transpose()?;
        let jwks = match &config.jwks_url {
            Some(url) => Some(
                JwksCache::new(url, config.jwks_refresh, client)
                    .map_err(|reason| AuthSetupError::JwksUrl { url: url.clone(), reason })?,
            ),
            None => None,
        };
        if secret.is_none() && file_key.is_none() && jwks.is_none() {
            return Err(AuthSetupError::Jwt("no secret, public_key_file or jwks_url to verify tokens with".into()));
        }
        let audience = match (config.audience.is_empty(), resource) {
            (false, _) => config.audience.clone(),
            (true, Some(resource)) => vec![resource.to_owned()],
            (true, None) => Vec::new(),
        };
        Ok(JwtVerifier {
            algorithms,
            secret,
            file_key,
            jwks,
            issuer: config.issuer.clone(),
            audience,
            subject_claim: config.subject_claim.clone(),
            roles_claim: config.roles_claim.clone(),
            leeway: config.leeway.min(MAX_LEEWAY).as_secs(),
        })
    }

    /// The principal a token speaks for, or why it is refused.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = header(token)?;
        if header.crit.is_some() {
            return Err(AuthError::Malformed("unsupported crit header".into()));
        }
        let Some(alg) = self.algorithms.iter().copied().find(|a| format!("{a:?}") == header.alg) else {
            return Err(AuthError::Algorithm(quote(&header.alg)));
        };
        let key = self.key(alg, header.kid.as_deref()).await?;

        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp".to_owned()].into();
        if let Some(issuer) = &self.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        if self.audience.is_empty() {
            // Else the library refuses every token that has an `aud`.
            validation.validate_aud = false;
        } else {
            validation.set_audience(&self.audience);
            validation.required_spec_claims.insert("aud".into());
        }
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| refusal(e.into_kind(), alg))?
            .claims;
        self.principal(&claims)
    }

    /// The key for `alg`, or `Algorithm` when none is configured for it.
    async fn key(&self, alg: Algorithm, kid: Option<&str>) -> Result<Cow<'_, DecodingKey>, AuthError> {
        let file_key = self.file_key.as_ref().filter(|(a, _)| *a == alg).map(|(_, k)| k);
        let found = match (alg, &self.jwks, file_key) {
            (Algorithm::HS256, _, _) => self.secret.as_ref().map(Cow::Borrowed),
            (_, Some(jwks), _) if kid.is_some() => Some(Cow::Owned(jwks.key(kid, alg).await?)),
            (_, _, Some(key)) => Some(Cow::Borrowed(key)),
            (_, Some(jwks), None) => Some(Cow::Owned(jwks.key(kid, alg).await?)),
            _ => None,
        };
        found.ok_or_else(|| AuthError::Algorithm(format!("{alg:?}")))
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        let name = match claims.get(&self.subject_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(AuthError::Malformed(format!("no string {} claim", self.subject_claim))),
        };
        let roles = match claims.get(&self.roles_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| AuthError::Malformed(format!("{} claim holds a non-string", self.roles_claim)))?,
            Some(_) => {
                return Err(AuthError::Malformed(format!(
                    "{} claim is neither a string nor an array",
                    self.roles_claim
                )));
            }
        };
        Ok(Principal { name: name.into(), roles: roles.into(), via: Via::Jwt })
    }
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("algorithms", &self.algorithms)
            .field("secret", &self.secret.is_some())
            .field("file_key", &self.file_key.as_ref().map(|(a, _)| a))
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// Three dot-separated base64url parts (the last, the signature, may be empty:
/// so an unsigned token is refused as such, not as an unknown API key).
pub fn looks_like_jwt(credential: &str) -> bool {
    let b64url = |p: &str| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let parts: Vec<&str> = credential.split('.').collect();
    matches!(parts[..], [h, c, s] if !h.is_empty() && !c.is_empty() && b64url(h) && b64url(c) && b64url(s))
}

fn header(token: &str) -> Result<RawHeader, AuthError> {
    let encoded = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| AuthError::Malformed("header is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed("header is not JSON with an alg".into()))
}

/// The refusal for a library error. Library messages are not passed on: some
/// quote the token.
fn refusal(kind: ErrorKind, alg: Algorithm) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) if c == "iss" => AuthError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(c) if c == "aud" => AuthError::WrongAudience,
        ErrorKind::MissingRequiredClaim(c) => AuthError::Malformed(format!("missing or non-numeric {c} claim")),
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm(format!("{alg:?}")),
        ErrorKind::InvalidToken => AuthError::Malformed("not three dot-separated parts".into()),
        ErrorKind::Base64(_) => AuthError::Malformed("not base64url".into()),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => AuthError::Malformed("header or claims are not JSON".into()),
        // A key that does not parse (a bad JWKS entry, a wrong-size EC point)
        // verifies nothing.
        ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidKeyFormat
        | ErrorKind::Crypto(_) => {
            tracing::warn!("JWT {alg:?} key unusable for verification");
            AuthError::BadSignature
        }
        _ => AuthError::Malformed("cannot be verified".into()),
    }
}

/// The RS256 or ES256 key in a PEM file (a public key or a certificate).
fn read_public_key(path: &std::path::Path) -> Result<(Algorithm, DecodingKey), AuthSetupError> {
    let pem = std::fs::read(path).map_err(|e| AuthSetupError::key_file(path, e.to_string()))?;
    // The library would take a private key, too; one in the gateway's config
    // is a mistake worth saying.
    if String::from_utf8_lossy(&pem).contains("PRIVATE KEY-----") {
        return Err(AuthSetupError::key_file(path, "holds a private key; give the public key"));
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((Algorithm::RS256, key));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        return Ok((Algorithm::ES256, key));
    }
    Err(AuthSetupError::key_file(path, "no PEM RSA or EC public key (or certificate) in it"))
}

#[cfg(test)]
pub(crate) mod tests {
    use jsonwebtoken::{EncodingKey, Header, get_current_timestamp};
    use serde_json::json;

    use super::*;

    pub(crate) const SECRET: &str = "test secret, at least as long as a hash";
    pub(crate) const RSA_PRIVATE: &str = include_str!("testdata/rsa_private.pem");
    pub(crate) const EC_PRIVATE: &str = include_str!("testdata/ec_private.pem");

    pub(crate) fn testdata(file: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/auth/testdata").join(file)
    }

    pub(crate) fn now() -> i64 {
        get_current_timestamp() as i64
    }

    /// Claims that pass every check of [`hs_config`].
    pub(crate) fn claims() -> Value {
        json!({ "sub": "alice", "exp": now() + 600, "iss": "https://idp.example", "roles": ["dev", "ops"] })
    }

    pub(crate) fn hs_config() -> JwtConfig {
        JwtConfig {
            algorithms: vec!["HS256".into()],
            secret: Some(SECRET.into()),
            issuer: Some("https://idp.example".into()),
            ..JwtConfig::default()
        }
    }

    pub(crate) fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(SECRET.as_bytes()),
            Algorithm::RS256 => EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
            Algorithm::ES256 => EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
            other => panic!("{other:?}"),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn hs(claims: &Value) -> String {
        sign(Algorithm::HS256, None, claims)
    }

    fn verifier(config: &JwtConfig, resource: Option<&str>) -> JwtVerifier {
        JwtVerifier::new(config, resource, reqwest::Client::builder().no_proxy().build().unwrap()).unwrap()
    }

    async fn check(config: &JwtConfig, token: &str) -> Result<Principal, AuthError> {
        verifier(config, None).verify(token).await
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    #[tokio::test]
    async fn hs256_valid() {
        let p = check(&hs_config(), &hs(&claims())).await.unwrap();
        assert_eq!(
            p,
            Principal { name: "alice".into(), roles: vec!["dev".into(), "ops".into()].into(), via: Via::Jwt }
        );
    }

    #[tokio::test]
    async fn time_checks_with_leeway() {
        let config = hs_config();
        let expired = with(claims(), "exp", json!(now() - 120));
        assert_eq!(check(&config, &hs(&expired)).await, Err(AuthError::Expired));
        // 10 s past: within the default 30 s leeway.
        let just_expired = with(claims(), "exp", json!(now() - 10));
        assert!(check(&config, &hs(&just_expired)).await.is_ok());
        let future = with(claims(), "nbf", json!(now() + 300));
        assert_eq!(check(&config, &hs(&future)).await, Err(AuthError::NotYetValid));
        let almost = with(claims(), "nbf", json!(now() + 10));
        assert!(check(&config, &hs(&almost)).await.is_ok());
        let mut no_exp = claims();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(matches!(check(&config, &hs(&no_exp)).await, Err(AuthError::Malformed(m)) if m.contains("exp")));
        let strict = JwtConfig { leeway: Duration::ZERO, ..hs_config() };
        assert_eq!(check(&strict, &hs(&just_expired)).await, Err(AuthError::Expired));
    }

    #[tokio::test]
    async fn issuer() {
        let other = with(claims(), "iss", json!("https://evil.example"));
        assert_eq!(check(&hs_config(), &hs(&other)).await, Err(AuthError::WrongIssuer));
        let mut none = claims();
        none.as_object_mut().unwrap().remove("iss");
        assert_eq!(check(&hs_config(), &hs(&none)).await, Err(AuthError::WrongIssuer));
        // No issuer configured: any, or none, will do.
        let any = JwtConfig { issuer: None, ..hs_config() };
        assert!(check(&any, &hs(&other)).await.is_ok());
    }

    #[tokio::test]
    async fn audience() {
        let config = JwtConfig { audience: vec!["vmcp".into(), "gateway".into()], ..hs_config() };
        let ok = with(claims(), "aud", json!(["other", "gateway"]));
        assert!(check(&config, &hs(&ok)).await.is_ok());
        let wrong = with(claims(), "aud", json!("other"));
        assert_eq!(check(&config, &hs(&wrong)).await, Err(AuthError::WrongAudience));
        assert_eq!(check(&config, &hs(&claims())).await, Err(AuthError::WrongAudience));
        // Not checked when neither audience nor resource is set, even if present.
        assert!(check(&hs_config(), &hs(&wrong)).await.is_ok());
    }

    #[tokio::test]
    async fn audience_defaults_to_resource() {
        let resource = "https://mcp.example.com/mcp";
        let v = verifier(&hs_config(), Some(resource));
        assert!(v.verify(&hs(&with(claims(), "aud", json!(resource)))).await.is_ok());
        let elsewhere = with(claims(), "aud", json!("https://other.example.com/mcp"));
        assert_eq!(v.verify(&hs(&elsewhere)).await, Err(AuthError::WrongAudience));
        assert_eq!(v.verify(&hs(&claims())).await, Err(AuthError::WrongAudience));
        // An explicit audience wins over the resource.
        let explicit = verifier(&JwtConfig { audience: vec!["vmcp".into()], ..hs_config() }, Some(resource));
        assert_eq!(explicit.verify(&hs(&with(claims(), "aud", json!(resource)))).await, Err(AuthError::WrongAudience));
    }

    #[tokio::test]
    async fn bad_signature() {
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(),
            &EncodingKey::from_secret(b"another secret entirely"),
        )
        .unwrap();
        assert_eq!(check(&hs_config(), &forged).await, Err(AuthError::BadSignature));
        // Claims changed after signing.
        let token = hs(&claims());
        let parts: Vec<&str> = token.split('.').collect();
        let evil = URL_SAFE_NO_PAD.encode(with(claims(), "sub", json!("root")).to_string());
        let tampered = format!("{}.{}.{}", parts[0], evil, parts[2]);
        assert_eq!(check(&hs_config(), &tampered).await, Err(AuthError::BadSignature));
    }

    #[tokio::test]
    async fn algorithm_not_allowed() {
        let config = JwtConfig {
            algorithms: vec!["RS256".into()],
            secret: Some(SECRET.into()),
            public_key_file: Some(testdata("rsa_public.pem")),
            ..hs_config()
        };
        assert_eq!(check(&config, &hs(&claims())).await, Err(AuthError::Algorithm("HS256".into())));
    }

    #[tokio::test]
    async fn alg_none_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        let token = format!("{header}.{body}.");
        assert!(looks_like_jwt(&token));
        assert_eq!(check(&hs_config(), &token).await, Err(AuthError::Algorithm("none".into())));
        let upper = format!("{}.{body}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"NONE"}"#));
        assert_eq!(check(&hs_config(), &upper).await, Err(AuthError::Algorithm("NONE".into())));
    }

    #[tokio::test]
    async fn crit_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","crit":["exp"]}"#);
        let token = format!("{header}.{}.c2ln", URL_SAFE_NO_PAD.encode(claims().to_string()));
        assert!(matches!(check(&hs_config(), &token).await, Err(AuthError::Malformed(_))));
    }

    #[tokio::test]
    async fn roles_from_array_or_scope_string() {
        let config = JwtConfig { roles_claim: "scope".into(), ..hs_config() };
        let scoped = with(claims(), "scope", json!("tools:read  tools:call"));
        assert_eq!(check(&config, &hs(&scoped)).await.unwrap().roles[..], ["tools:read", "tools:call"]);
        let listed = with(claims(), "scope", json!(["a", "b"]));
        assert_eq!(check(&config, &hs(&listed)).await.unwrap().roles[..], ["a", "b"]);
        assert!(check(&config, &hs(&claims())).await.unwrap().roles.is_empty());
        let bad = with(claims(), "scope", json!([1, 2]));
        assert!(matches!(check(&config, &hs(&bad)).await, Err(AuthError::Malformed(_))));
    }

    #[tokio::test]
    async fn subject_claim() {
        let config = JwtConfig { subject_claim: "email".into(), ..hs_config() };
        let mailed = with(claims(), "email", json!("alice@example.com"));
        assert_eq!(check(&config, &hs(&mailed)).await.unwrap().name.as_ref(), "alice@example.com");
        assert!(matches!(check(&config, &hs(&claims())).await, Err(AuthError::Malformed(m)) if m.contains("email")));
        let numeric = with(claims(), "sub", json!(42));
        assert!(matches!(check(&hs_config(), &hs(&numeric)).await, Err(AuthError::Malformed(_))));
    }

    fn file_config(alg: &str, file: &str) -> JwtConfig {
        JwtConfig {
            algorithms: vec![alg.into()],
            public_key_file: Some(testdata(file)),
            issuer: Some("https://idp.example".into()),
            ..JwtConfig::default()
        }
    }

    #[tokio::test]
    async fn rs256_and_es256_with_key_files() {
        let rsa = file_config("RS256", "rsa_public.pem");
        let ec = file_config("ES256", "ec_public.pem");
        let rs_token = sign(Algorithm::RS256, None, &claims());
        let es_token = sign(Algorithm::ES256, None, &claims());
        assert_eq!(check(&rsa, &rs_token).await.unwrap().name.as_ref(), "alice");
        assert_eq!(check(&ec, &es_token).await.unwrap().name.as_ref(), "alice");
        // Signed by the RSA key, checked against the EC key.
        assert_eq!(check(&ec, &rs_token).await, Err(AuthError::Algorithm("RS256".into())));
        let both = JwtConfig { algorithms: vec!["RS256".into(), "ES256".into()], ..ec.clone() };
        assert_eq!(check(&both, &rs_token).await, Err(AuthError::Algorithm("RS256".into())));
        // An RSA signature under a header that claims ES256.
        let parts: Vec<&str> = rs_token.split('.').collect();
        let relabeled = format!("{}.{}.{}", es_token.split('.').next().unwrap(), parts[1], parts[2]);
        assert_eq!(check(&ec, &relabeled).await, Err(AuthError::BadSignature));
    }

    #[tokio::test]
    async fn hs256_signed_with_the_public_key_is_refused() {
        // The classic confusion: the RSA public key used as an HMAC secret.
        let pem = std::fs::read(testdata("rsa_public.pem")).unwrap();
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(&pem)).unwrap();
        let both =
            JwtConfig { algorithms: vec!["RS256".into(), "HS256".into()], ..file_config("RS256", "rsa_public.pem") };
        assert_eq!(check(&both, &token).await, Err(AuthError::Algorithm("HS256".into())));
    }

    #[test]
    fn key_file_errors_name_the_file() {
        let missing = file_config("RS256", "no-such-file.pem");
        let err = JwtVerifier::new(&missing, None, reqwest::Client::builder().no_proxy().build().unwrap()).unwrap_err();
        assert!(err.to_string().contains("no-such-file.pem"), "{err}");
        let private = file_config("RS256", "rsa_private.pem");
        let err = JwtVerifier::new(&private, None, reqwest::Client::builder().no_proxy().build().unwrap()).unwrap_err();
        assert!(err.to_string().contains("rsa_private.pem") && err.to_string().contains("private"), "{err}");
        let not_pem = file_config("RS256", "jwks.json");
        let err = JwtVerifier::new(&not_pem, None, reqwest::Client::builder().no_proxy().build().unwrap()).unwrap_err();
        assert!(err.to_string().contains("jwks.json"), "{err}");
        let nothing = JwtConfig::default();
        assert!(JwtVerifier::new(&nothing, None, reqwest::Client::builder().no_proxy().build().unwrap()).is_err());
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJh.eyJz.c2ln"));
        assert!(!looks_like_jwt("vmcp_0123456789abcdef"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt(".b.c"));
        assert!(!looks_like_jwt("a+b.c.d"));
    }

    #[tokio::test]
    async fn malformed_tokens() {
        for token in ["!!!.eyJz.c2ln", "eyJh.eyJz.c2ln", "e30.e30.c2ln"] {
            let err = check(&hs_config(), token).await.unwrap_err();
            assert!(matches!(err, AuthError::Malformed(_)), "{token}: {err:?}");
        }
    }
}

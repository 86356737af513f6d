//! [`Authenticator`]: an `Authorization` header turned into a [`Principal`]
//! (or an [`AuthError`] and the `WWW-Authenticate` challenge that goes with
//! it), and the OAuth 2.0 protected resource metadata (RFC 9728) that tells
//! MCP clients where to get a token.
//!
//! Both kinds of credential travel as `Authorization: Bearer <credential>`.
//! API keys are checked first: they are cheap, and a key never needs the
//! network. Only a credential shaped like a JWT, with `[auth.jwt]` configured,
//! goes on to JWT verification.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::error::{AuthError, AuthSetupError};
use super::jwks;
use super::jwt::JwtVerifier;
use super::principal::{Principal, Via};
use crate::config::AuthConfig;

/// Checks credentials as `[auth]` says.
pub struct Authenticator {
    keys: Vec<KeyEntry>,
    jwt: Option<JwtVerifier>,
    resource: Option<String>,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
}

struct KeyEntry {
    name: Arc<str>,
    roles: Arc<[String]>,
    sha256: [u8; 32],
}

impl Authenticator {
    /// Reads `public_key_file` now; JWKS keys are fetched on first use.
    pub fn new(config: &AuthConfig) -> Result<Authenticator, AuthSetupError> {
        let keys = config
            .api_keys
            .iter()
            .map(|k| {
                let sha256 =
                    decode_hex(&k.sha256).ok_or_else(|| AuthSetupError::ApiKeyHash { name: k.name.clone() })?;
                Ok(KeyEntry { name: k.name.as_str().into(), roles: k.roles.as_slice().into(), sha256 })
            })
            .collect::<Result<_, AuthSetupError>>()?;
        let jwt = match &config.jwt {
            Some(jwt) => Some(JwtVerifier::new(jwt, config.resource.as_deref(), jwks::client())?),
            None => None,
        };
        Ok(Authenticator {
            keys,
            jwt,
            resource: config.resource.clone(),
            authorization_servers: config.authorization_servers.clone(),
            scopes_supported: config.scopes_supported.clone(),
        })
    }

    /// The principal behind an `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let header = authorization.map(str::trim).filter(|h| !h.is_empty()).ok_or(AuthError::Missing)?;
        let (scheme, credential) = header.split_once([' ', '\t']).unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::NotBearer);
        }
        let credential = credential.trim();
        if credential.is_empty() {
            return Err(AuthError::Missing);
        }
        if let Some(key) = self.api_key(credential) {
            return Ok(Principal { name: key.name.clone(), roles: key.roles.clone(), via: Via::ApiKey });
        }
        match &self.jwt {
            Some(jwt) if super::jwt::looks_like_jwt(credential) => jwt.verify(credential).await,
            _ => Err(AuthError::UnknownKey),
        }
    }

    /// The API key whose hash is the credential's. Every key is compared in
    /// full, whatever matched before, so timing tells nothing about which key
    /// nor how much of a hash matched.
    fn api_key(&self, credential: &str) -> Option<&KeyEntry> {
        let digest: [u8; 32] = Sha256::digest(credential.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            let diff = key.sha256.iter().zip(&digest).fold(0u8, |acc, (a, b)| acc | (a ^ b));
            // black_box: the optimizer may not reason about the bytes (and stop at the first difference).
            if std::hint::black_box(diff) == 0 {
                found = Some(key);
            }
        }
        found
    }

    /// The `WWW-Authenticate` value for a 401 answering `err`. `metadata_url`
    /// is where the protected resource metadata is served. A credential that
    /// was given and refused is an `invalid_token` (RFC 6750 §3.1); a request
    /// without one gets no error code, only the challenge.
    pub fn challenge(&self, err: &AuthError, metadata_url: &str) -> String {
        let mut v = format!(r#"Bearer realm="vmcp", resource_metadata="{}""#, header_safe(metadata_url));
        if err.credential_given() {
            let _ = write!(v, r#", error="invalid_token", error_description="{}""#, header_safe(&err.to_string()));
        }
        v
    }

    /// `[auth] resource`: this gateway's canonical URI, when configured.
    pub fn resource(&self) -> Option<&str> {
        self.resource.as_deref()
    }

    /// The OAuth 2.0 Protected Resource Metadata (RFC 9728); `resource_url` is
    /// this gateway's URL as the client reached it, used when `[auth] resource`
    /// is not set.
    pub fn metadata(&self, resource_url: &str) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("resource".into(), self.resource.as_deref().unwrap_or(resource_url).into());
        m.insert("authorization_servers".into(), self.authorization_servers.clone().into());
        if !self.scopes_supported.is_empty() {
            m.insert("scopes_supported".into(), self.scopes_supported.clone().into());
        }
        m.insert("bearer_methods_supported".into(), vec!["header"].into());
        m.insert("resource_name".into(), "vmcp".into());
        m.into()
    }
}

impl fmt::Debug for Authenticator {
    // Key names only: even the hashes stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("api_keys", &self.keys.iter().map(|k| &k.name).collect::<Vec<_>>())
            .field("jwt", &self.jwt)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// 64 hex digits (either case) into 32 bytes.
fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// Text fit for a quoted-string in a header: printable ASCII, no `"` or `\`.
fn header_safe(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '"' | '\\' => Some('\''),
            c if c == ' ' || c.is_ascii_graphic() => Some(c),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::Algorithm;
    use serde_json::json;

    use super::*;
    use crate::auth::jwks::tests::{JWKS, JwksServer};
    use crate::auth::jwt::tests::{claims, hs_config, sign};
    use crate::config::{ApiKey, JwtConfig};

    const KEY: &str = "vmcp_k_0123456789abcdef";

    fn sha256_hex(s: &str) -> String {
        Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }

    fn keys_config() -> AuthConfig {
        AuthConfig {
            api_keys: vec![
                ApiKey { name: "ci".into(), sha256: sha256_hex("other key"), roles: vec![] },
                ApiKey { name: "alice".into(), sha256: sha256_hex(KEY), roles: vec!["dev".into(), "ops".into()] },
            ],
            ..AuthConfig::default()
        }
    }

    #[tokio::test]
    async fn api_keys() {
        let auth = Authenticator::new(&keys_config()).unwrap();
        let p = auth.authenticate(Some(&format!("Bearer {KEY}"))).await.unwrap();
        assert_eq!(
            p,
            Principal { name: "alice".into(), roles: vec!["dev".into(), "ops".into()].into(), via: Via::ApiKey }
        );
        assert_eq!(auth.authenticate(Some("Bearer other key")).await.unwrap().name.as_ref(), "ci");
        for scheme in ["bearer", "BEARER", "BeArEr"] {
            let header = format!("{scheme}  {KEY} ");
            assert_eq!(auth.authenticate(Some(&header)).await.unwrap().name.as_ref(), "alice", "{header}");
        }
        assert_eq!(auth.authenticate(Some("Bearer wrong")).await, Err(AuthError::UnknownKey));
        // No [auth.jwt]: a JWT is just another unknown key.
        let jwt = sign(Algorithm::HS256, None, &claims());
        assert_eq!(auth.authenticate(Some(&format!("Bearer {jwt}"))).await, Err(AuthError::UnknownKey));
        assert_eq!(auth.authenticate(None).await, Err(AuthError::Missing));
        assert_eq!(auth.authenticate(Some("  ")).await, Err(AuthError::Missing));
        assert_eq!(auth.authenticate(Some("Bearer")).await, Err(AuthError::Missing));
        assert_eq!(auth.authenticate(Some("Bearer   ")).await, Err(AuthError::Missing));
        assert_eq!(auth.authenticate(Some("Basic xyz")).await, Err(AuthError::NotBearer));
        assert_eq!(auth.authenticate(Some(KEY)).await, Err(AuthError::NotBearer));
    }

    #[test]
    fn bad_key_hash_is_a_setup_error() {
        let mut config = keys_config();
        config.api_keys[0].sha256 = "abc".into();
        let err = Authenticator::new(&config).unwrap_err();
        assert!(err.to_string().contains("\"ci\""), "{err}");
        config.api_keys[0].sha256 = "zz".repeat(32);
        assert!(Authenticator::new(&config).is_err());
    }

    #[tokio::test]
    async fn keys_then_jwt() {
        let config = AuthConfig { jwt: Some(hs_config()), ..keys_config() };
        let auth = Authenticator::new(&config).unwrap();
        assert_eq!(auth.authenticate(Some(&format!("Bearer {KEY}"))).await.unwrap().via, Via::ApiKey);
        let token = sign(Algorithm::HS256, None, &claims());
        let p = auth.authenticate(Some(&format!("Bearer {token}"))).await.unwrap();
        assert_eq!((&*p.name, p.via), ("alice", Via::Jwt));
        // Not JWT-shaped: an unknown key, not a malformed token.
        assert_eq!(auth.authenticate(Some("Bearer nope")).await, Err(AuthError::UnknownKey));
        let expired = sign(Algorithm::HS256, None, &json!({"sub": "a", "exp": 1000, "iss": "https://idp.example"}));
        assert_eq!(auth.authenticate(Some(&format!("Bearer {expired}"))).await, Err(AuthError::Expired));
    }

    fn jwks_config(url: &str) -> AuthConfig {
        AuthConfig {
            jwt: Some(JwtConfig {
                algorithms: vec!["RS256".into(), "ES256".into()],
                jwks_url: Some(url.into()),
                jwks_refresh: Duration::from_secs(600),
                ..JwtConfig::default()
            }),
            ..AuthConfig::default()
        }
    }

    #[tokio::test]
    async fn jwks_end_to_end() {
        let server = JwksServer::start(JWKS).await;
        let auth = Authenticator::new(&jwks_config(&server.url)).unwrap();
        let bearer = |t: String| format!("Bearer {t}");
        let rs = sign(Algorithm::RS256, Some("rsa-1"), &claims());
        assert_eq!(auth.authenticate(Some(&bearer(rs))).await.unwrap().name.as_ref(), "alice");
        let es = sign(Algorithm::ES256, Some("ec-1"), &claims());
        assert_eq!(auth.authenticate(Some(&bearer(es))).await.unwrap().roles[..], ["dev", "ops"]);
        // Two keys in the set for two algorithms: a token without kid still finds its key.
        let no_kid = sign(Algorithm::RS256, None, &claims());
        assert!(auth.authenticate(Some(&bearer(no_kid))).await.is_ok());
        // The EC key's kid, but signed by the RSA key.
        let mislabeled = sign(Algorithm::RS256, Some("ec-1"), &claims());
        assert_eq!(auth.authenticate(Some(&bearer(mislabeled))).await, Err(AuthError::Algorithm("RS256".into())));
        // The encryption key shares the RSA modulus but is not for signatures.
        let enc = sign(Algorithm::RS256, Some("rsa-enc"), &claims());
        assert_eq!(auth.authenticate(Some(&bearer(enc))).await, Err(AuthError::UnknownKid("rsa-enc".into())));
        for i in 0..20 {
            let forged = sign(Algorithm::RS256, Some(&format!("forged-{i}")), &claims());
            let err = auth.authenticate(Some(&bearer(forged))).await.unwrap_err();
            assert_eq!(err, AuthError::UnknownKid(format!("forged-{i}")));
        }
        // One fetch in all: unknown kids right after it refetch nothing.
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn jwks_unreachable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let auth = Authenticator::new(&jwks_config(&format!("http://127.0.0.1:{port}/jwks"))).unwrap();
        let token = sign(Algorithm::RS256, Some("rsa-1"), &claims());
        let err = auth.authenticate(Some(&format!("Bearer {token}"))).await.unwrap_err();
        assert!(matches!(err, AuthError::Keys(_)), "{err:?}");
        assert!(auth.challenge(&err, "http://x/.well-known/oauth-protected-resource").contains("invalid_token"));
    }

    #[test]
    fn challenge_shapes() {
        let auth = Authenticator::new(&keys_config()).unwrap();
        let url = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
        assert_eq!(
            auth.challenge(&AuthError::Missing, url),
            format!(r#"Bearer realm="vmcp", resource_metadata="{url}""#)
        );
        assert_eq!(
            auth.challenge(&AuthError::NotBearer, url),
            format!(r#"Bearer realm="vmcp", resource_metadata="{url}""#)
        );
        assert_eq!(
            auth.challenge(&AuthError::Expired, url),
            format!(
                r#"Bearer realm="vmcp", resource_metadata="{url}", error="invalid_token", error_description="token has expired""#
            )
        );
        let odd = auth.challenge(&AuthError::Malformed("a \"quoted\\\" \n bit".into()), "http://x/\"");
        assert!(!odd.contains('\n') && !odd.contains('\\'), "{odd}");
        assert_eq!(odd.matches('"').count(), 8, "{odd}");
    }

    #[test]
    fn metadata_shapes() {
        let bare = Authenticator::new(&keys_config()).unwrap();
        assert_eq!(
            bare.metadata("http://127.0.0.1:3000/mcp"),
            json!({
                "resource": "http://127.0.0.1:3000/mcp",
                "authorization_servers": [],
                "bearer_methods_supported": ["header"],
                "resource_name": "vmcp",
            })
        );
        let full = Authenticator::new(&AuthConfig {
            resource: Some("https://mcp.example.com/mcp".into()),
            authorization_servers: vec!["https://idp.example".into()],
            scopes_supported: vec!["tools:call".into()],
            ..keys_config()
        })
        .unwrap();
        assert_eq!(
            full.metadata("http://127.0.0.1:3000/mcp"),
            json!({
                "resource": "https://mcp.example.com/mcp",
                "authorization_servers": ["https://idp.example"],
                "scopes_supported": ["tools:call"],
                "bearer_methods_supported": ["header"],
                "resource_name": "vmcp",
            })
        );
    }

    #[test]
    fn shareable_across_tasks() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        let auth = Authenticator::new(&keys_config()).unwrap();
        send_sync(&auth);
        send(auth.authenticate(None));
        send_sync(&crate::auth::Policies::new(&[]).view(&Principal::local()));
    }

    #[test]
    fn builtin_principals() {
        assert_eq!(
            Principal::local(),
            Principal { name: "local".into(), roles: vec!["local".into()].into(), via: Via::Local }
        );
        let anon = Principal::anonymous();
        assert_eq!((&*anon.name, &*anon.roles, anon.via), ("anonymous", &["anonymous".to_owned()][..], Via::Anonymous));
        assert_eq!(Via::ApiKey.to_string(), "api_key");
    }

    #[test]
    fn debug_shows_no_secrets() {
        let config = AuthConfig { jwt: Some(hs_config()), ..keys_config() };
        let shown = format!("{:?}", Authenticator::new(&config).unwrap());
        assert!(shown.contains("alice"));
        assert!(!shown.contains(&sha256_hex(KEY)) && !shown.contains(crate::auth::jwt::tests::SECRET), "{shown}");
    }
}

//! Why a request was not authenticated, and why `[auth]` could not be set up.
//!
//! [`AuthError`] messages end up in logs and, shortened, in the
//! `WWW-Authenticate` header a client sees, so they say precisely what was
//! wrong and never contain the credential. The few parts of a token they do
//! quote (a `kid`, an `alg`) are cut short and stripped to printable ASCII
//! first, by [`quote`].

use std::path::Path;

/// Longest piece of a token an error quotes.
const QUOTE_MAX: usize = 40;

/// A request that carries no acceptable credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credential (expected Authorization: Bearer <credential>)")]
    Missing,
    #[error("authorization scheme is not Bearer")]
    NotBearer,
    #[error("unknown API key")]
    UnknownKey,
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    #[error("token issuer (iss) is not accepted")]
    WrongIssuer,
    #[error("token audience (aud) is not this resource")]
    WrongAudience,
    #[error("no signing key with kid '{0}'")]
    UnknownKid(String),
    #[error("token algorithm '{0}' is not accepted")]
    Algorithm(String),
    #[error("signing keys unavailable: {0}")]
    Keys(String),
}

impl AuthError {
    /// False when the request carried no bearer credential at all (RFC 6750
    /// §3.1: the challenge then names no error).
    pub fn credential_given(&self) -> bool {
        !matches!(self, AuthError::Missing | AuthError::NotBearer)
    }
}

/// `[auth]` that cannot be put to work.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error("[auth] api key {name:?}: sha256 must be 64 hex digits")]
    ApiKeyHash { name: String },
    #[error("[auth.jwt] public_key_file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("[auth.jwt] jwks_url {url:?}: {reason}")]
    JwksUrl { url: String, reason: String },
    #[error("[auth.jwt]: {0}")]
    Jwt(String),
}

impl AuthSetupError {
    pub(crate) fn key_file(path: &Path, reason: impl Into<String>) -> AuthSetupError {
        AuthSetupError::KeyFile { path: path.display().to_string(), reason: reason.into() }
    }
}

/// A piece of an untrusted token, fit to quote in a message or a header:
/// printable ASCII without quotes or backslashes, at most [`QUOTE_MAX`] characters.
pub(crate) fn quote(s: &str) -> String {
    let mut out: String =
        s.chars().filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\').take(QUOTE_MAX).collect();
    if s.chars().count() > QUOTE_MAX {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_strips_and_shortens() {
        assert_eq!(quote("a\"b\\c\nd"), "abcd");
        let long = "k".repeat(100);
        assert_eq!(quote(&long), format!("{}...", "k".repeat(QUOTE_MAX)));
    }

    #[test]
    fn missing_and_not_bearer_carry_no_credential() {
        assert!(!AuthError::Missing.credential_given());
        assert!(!AuthError::NotBearer.credential_given());
        assert!(AuthError::Expired.credential_given());
    }
}

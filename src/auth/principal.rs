//! [`Principal`]: who a request comes from, and how that was established.

use std::fmt;

/// Who a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// An API key's name, a JWT's subject, or "local" / "anonymous".
    pub name: String,
    pub roles: Vec<String>,
    pub via: Via,
}

/// How a [`Principal`] was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    ApiKey,
    Jwt,
    /// The stdio front end: whoever started vmcp.
    Local,
    /// An HTTP client of a gateway without `[auth]`.
    Anonymous,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::ApiKey => "api_key",
            Via::Jwt => "jwt",
            Via::Local => "local",
            Via::Anonymous => "anonymous",
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Principal {
    /// A stdio client: it runs as the user who started vmcp, so it is trusted
    /// as that user.
    pub fn local() -> Principal {
        Principal { name: "local".into(), roles: vec!["local".into()], via: Via::Local }
    }

    /// An HTTP client when no `[auth]` is configured.
    pub fn anonymous() -> Principal {
        Principal { name: "anonymous".into(), roles: vec!["anonymous".into()], via: Via::Anonymous }
    }
}

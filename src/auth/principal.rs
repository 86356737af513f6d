//! [`Principal`]: who a request comes from, and how that was established.

use std::fmt;
use std::sync::{Arc, LazyLock};

/// Who a request comes from. Cloned once or twice per request (into the
/// request's extensions, into a session), so its parts are shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// An API key's name, a JWT's subject, or "local" / "anonymous".
    pub name: Arc<str>,
    pub roles: Arc<[String]>,
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
        Principal::fixed("local", Via::Local)
    }

    /// An HTTP client when no `[auth]` is configured.
    pub fn anonymous() -> Principal {
        static ANONYMOUS: LazyLock<Principal> = LazyLock::new(|| Principal::fixed("anonymous", Via::Anonymous));
        ANONYMOUS.clone()
    }

    /// One whose single role is its name.
    fn fixed(name: &str, via: Via) -> Principal {
        Principal { name: name.into(), roles: Arc::from([name.to_string()]), via }
    }
}

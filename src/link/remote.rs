//! What the remote links (streamable HTTP, legacy SSE, WebSocket) share: where
//! a server is and with which credentials ([`RemoteSpec`]), the HTTP client
//! that reaches it, and what can be wrong before anything is sent.

use std::sync::OnceLock;
use std::time::Duration;

use crate::observe::error_chain;

/// What to connect to.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    /// The server id, for messages and logs.
    pub server: String,
    pub url: String,
    /// Extra headers from the config (the backend's own credentials).
    pub headers: Vec<(String, String)>,
    pub max_message_size: usize,
    /// CA certificates (PEM) trusted besides the system's and the bundled roots.
    pub ca_file: Option<std::path::PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid url {0:?}: {1}")]
    Url(String, String),
    #[error("invalid header {0:?}: {1}")]
    Header(String, String),
    #[error("ca_file {0}: {1}")]
    CaFile(String, String),
}

/// The HTTP client for a backend: the shared one, or one of its own when the
/// server trusts an extra CA file.
pub fn client_for(spec: &RemoteSpec) -> Result<reqwest::Client, ConnectError> {
    let Some(path) = &spec.ca_file else { return Ok(client()) };
    let shown = path.display().to_string();
    let pem = std::fs::read(path).map_err(|e| ConnectError::CaFile(shown.clone(), e.to_string()))?;
    let certs =
        reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ConnectError::CaFile(shown.clone(), e.to_string()))?;
    if certs.is_empty() {
        return Err(ConnectError::CaFile(shown, "no PEM certificate in it".into()));
    }
    let mut b = reqwest::Client::builder().tcp_nodelay(true).connect_timeout(Duration::from_secs(10));
    for c in certs {
        b = b.add_root_certificate(c);
    }
    b.build().map_err(|e| ConnectError::CaFile(shown, error_chain(&e)))
}

/// One HTTP client for every backend: its connection pool is shared.
pub fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .tcp_nodelay(true)
                .pool_idle_timeout(Duration::from_secs(90))
                .connect_timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
        .clone()
}

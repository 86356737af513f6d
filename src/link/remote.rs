//! What the remote links (streamable HTTP, legacy SSE, WebSocket) share: where
//! a server is and with which credentials ([`RemoteSpec`]), the TLS
//! configuration that reaches it, and what can be wrong before anything is sent.

use std::sync::OnceLock;

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

/// The TLS client configuration for a server: trusting the bundled roots, the
/// system's, and with a `ca_file` the certificates in it too. Without one the
/// configuration is made once and shared (reading the system's roots is slow).
pub fn tls_config(ca_file: Option<&std::path::Path>) -> Result<std::sync::Arc<rustls::ClientConfig>, ConnectError> {
    static SHARED: OnceLock<std::sync::Arc<rustls::ClientConfig>> = OnceLock::new();
    let Some(path) = ca_file else {
        if let Some(c) = SHARED.get() {
            return Ok(c.clone());
        }
        let config = build_tls(system_roots(), "the system's roots")?;
        return Ok(SHARED.get_or_init(|| config).clone());
    };
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let shown = path.display().to_string();
    let fail = |why: String| ConnectError::CaFile(shown.clone(), why);
    let mut roots = system_roots();
    let pem = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| fail(format!("{e:?}")))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(fail("no PEM certificate in it".into()));
    }
    build_tls(roots, &shown)
}

fn system_roots() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

fn build_tls(roots: rustls::RootCertStore, what: &str) -> Result<std::sync::Arc<rustls::ClientConfig>, ConnectError> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::CaFile(what.to_owned(), e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

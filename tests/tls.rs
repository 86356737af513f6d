//! TLS on the HTTP front end: served with the configured certificate,
//! reloaded on SIGHUP, and client certificates required with `tls_client_ca`.

mod common;

use std::path::Path;

use common::*;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use serde_json::json;

type Ca = CertifiedIssuer<'static, KeyPair>;

fn ca() -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

/// A certificate issued by `ca`: (certificate PEM, key PEM).
fn leaf(ca: &Ca, names: &[&str], client: bool) -> (String, String) {
    let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
    params.extended_key_usages =
        vec![if client { ExtendedKeyUsagePurpose::ClientAuth } else { ExtendedKeyUsagePurpose::ServerAuth }];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, ca).expect("sign");
    (cert.pem(), key.serialize_pem())
}

fn write_server_cert(dir: &Path, ca: &Ca) {
    let (cert, key) = leaf(ca, &["localhost", "127.0.0.1"], false);
    std::fs::write(dir.join("cert.pem"), cert).expect("cert");
    std::fs::write(dir.join("key.pem"), key).expect("key");
}

fn tls_setup(dir: &Path, client_ca: Option<&Path>) -> Setup {
    let mut gateway = format!(
        "tls_cert = {:?}\ntls_key = {:?}\n",
        dir.join("cert.pem").display().to_string(),
        dir.join("key.pem").display().to_string()
    );
    if let Some(ca) = client_ca {
        gateway.push_str(&format!("tls_client_ca = {:?}\n", ca.display().to_string()));
    }
    Setup::new(&gateway, &[mock_server("alpha", &[])])
}

fn https_client(trust: &Ca, identity: Option<(&str, &str)>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(trust.pem().as_bytes()).expect("CA"))
        .timeout(WAIT);
    if let Some((cert, key)) = identity {
        b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).expect("identity"));
    }
    b.build().expect("client")
}

async fn initialize_with(gw: &HttpGateway, http: reqwest::Client) -> Result<(), String> {
    let mut c = HttpClient::new(gw.url("/mcp"));
    c.http = http;
    let b = c.builder().body(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
               "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        .to_string(),
    );
    match b.send().await {
        Ok(r) if r.status() == 200 => Ok(()),
        Ok(r) => Err(format!("status {}", r.status())),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[tokio::test]
async fn https_is_served_and_the_certificate_reloads_on_sighup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = ca();
    write_server_cert(dir.path(), &first);
    let setup = tls_setup(dir.path(), None);
    let mut gw = HttpGateway::start(&setup).await;
    assert!(gw.base.starts_with("https://"), "{}", gw.base);
    initialize_with(&gw, https_client(&first, None)).await.expect("HTTPS with the configured certificate");
    // Plain HTTP on the same port gets no MCP.
    let plain = gw.base.replace("https://", "http://");
    let r = reqwest::Client::new().post(format!("{plain}/mcp")).body("{}").send().await;
    assert!(r.is_err() || r.is_ok_and(|r| r.status() != 200));

    // A new certificate from another CA, then SIGHUP.
    let second = ca();
    write_server_cert(dir.path(), &second);
    let pid = gw.child.id().expect("pid");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGHUP).expect("SIGHUP");
    tokio::time::timeout(WAIT, async {
        while let Some(line) = gw.stderr.recv().await {
            if line.contains("TLS certificate reloaded") {
                return;
            }
        }
        panic!("vmcp exited");
    })
    .await
    .expect("reloaded");
    initialize_with(&gw, https_client(&second, None)).await.expect("the new certificate");
    assert!(initialize_with(&gw, https_client(&first, None)).await.is_err(), "the old one is gone");
}

#[tokio::test]
async fn client_certificates_are_required_with_a_client_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server_ca = ca();
    write_server_cert(dir.path(), &server_ca);
    let clients = ca();
    std::fs::write(dir.path().join("clients.pem"), clients.pem()).expect("client CA");
    let setup = tls_setup(dir.path(), Some(&dir.path().join("clients.pem")));
    let gw = HttpGateway::start(&setup).await;
    let without = initialize_with(&gw, https_client(&server_ca, None)).await;
    assert!(without.is_err(), "no client certificate: {without:?}");
    let stranger_ca = ca();
    let (cert, key) = leaf(&stranger_ca, &["someone"], true);
    assert!(initialize_with(&gw, https_client(&server_ca, Some((&cert, &key)))).await.is_err(), "an unknown issuer");
    let (cert, key) = leaf(&clients, &["client-1"], true);
    initialize_with(&gw, https_client(&server_ca, Some((&cert, &key))))
        .await
        .expect("a client certificate from the CA");
}

//! HAProxy in front of several vmcp replicas, round robin per request: what
//! users run vmcp behind. Found as `VMCP_TEST_HAPROXY`, else `haproxy` on the
//! PATH (`.ci/run` installs Debian's package); without it a test is skipped
//! loudly, or fails when `CI` is set. Stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Balancer {
    pub base: String,
    _child: Child,
    _dir: tempfile::TempDir,
}

impl Balancer {
    /// Starts one over the `backends` (base URLs such as `http://127.0.0.1:4000`),
    /// or returns `None` (the test is skipped) when there is no HAProxy and
    /// `CI` is not set.
    pub async fn start(test: &str, backends: &[&str]) -> Option<Balancer> {
        let Some(bin) = binary() else {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: no haproxy (VMCP_TEST_HAPROXY, or haproxy on the PATH)");
            }
            eprintln!("SKIPPED {test}: no haproxy (apt-get install haproxy, or set VMCP_TEST_HAPROXY)");
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("address").port();
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, b)| {
                format!("  server r{i} {} check inter 200ms fall 1 rise 2\n", b.trim_start_matches("http://"))
            })
            .collect();
        // Each request is balanced on its own (no `prefer-last-server`), so one
        // client's requests visit every replica in turn. A replica that refuses
        // connections is retried elsewhere and marked down by the health check,
        // as in production. Long timeouts for SSE.
        let config = format!(
            "global\n  maxconn 512\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 120s\n  timeout server 120s\n\
               retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\n\
             frontend clients\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\
             backend replicas\n  balance roundrobin\n  option httpchk GET /healthz\n{servers}"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        let child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn haproxy");
        // Ready once it accepts connections.
        let addr = format!("127.0.0.1:{port}");
        let ready = tokio::time::timeout(super::WAIT, async {
            while tokio::net::TcpStream::connect(&addr).await.is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(ready.is_ok(), "haproxy never listened on {addr}");
        Some(Balancer { base: format!("http://{addr}"), _child: child, _dir: dir })
    }
}

fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("VMCP_TEST_HAPROXY") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join("haproxy"))
        .find(|p| p.is_file())
}

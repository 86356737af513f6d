//! The gateway's servers as JSON: what `vmcp/servers/*`, the admin API and
//! `vmcp list --json` / `vmcp info --json` show. Stable: scripts read them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::catalog::Naming;
use super::supervisor::{Replica, Server, Status};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerView {
    pub id: String,
    pub transport: String,
    pub source: String,
    pub enabled: bool,
    pub required: bool,
    pub state: String,
    pub protocol: Option<String>,
    pub tools: usize,
    pub prompts: usize,
    pub restarts: u32,
    pub pid: Option<u32>,
    pub last_error: Option<String>,
    pub description: Option<String>,
    /// The capabilities the server announced (their names).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Its answer times in ms: the last one, and a moving average.
    pub latency_ms: Option<f64>,
    pub latency_avg_ms: Option<f64>,
    /// Only in `GET /admin/v1/servers/{id}`: the exposed tool and prompt names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_names: Vec<String>,
    /// Only in detail: where it is reached (command line or URL; no header values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// The balancing strategy (`round_robin` for a single replica).
    #[serde(default)]
    pub balance: String,
    /// `shared` or `per_session`.
    #[serde(default)]
    pub isolation: String,
    /// Per-session processes running now (`isolation = "per_session"`).
    #[serde(default)]
    pub session_processes: usize,
    /// Every replica: its state, circuit breaker and load.
    #[serde(default)]
    pub replicas: Vec<ReplicaView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaView {
    pub index: usize,
    /// `#N` for a process, else the URL.
    pub target: String,
    pub weight: u32,
    pub state: String,
    /// closed, open or half_open.
    pub breaker: String,
    /// How many times its circuit has opened.
    pub breaker_opened: u64,
    pub in_flight: u32,
    pub pid: Option<u32>,
    pub restarts: u32,
    pub latency_avg_ms: Option<f64>,
    pub last_error: Option<String>,
}

pub fn server(s: &Arc<Server>) -> ServerView {
    let lists = s.lists();
    let conn = s.conn();
    let capabilities = conn
        .as_ref()
        .and_then(|c| c.info().map(|i| i.capabilities.iter().map(|(k, _)| k.to_owned()).collect()))
        .unwrap_or_default();
    let latency = conn.as_ref().and_then(|c| c.latency.millis());
    ServerView {
        id: s.id.to_string(),
        transport: s.config.transport.as_str().to_owned(),
        source: s.source.as_str().to_owned(),
        enabled: s.status() != Status::Disabled,
        required: s.config.required,
        state: s.status().as_str().to_owned(),
        protocol: s.protocol(),
        tools: if s.filter.is_empty() {
            lists.tools.len()
        } else {
            lists.tools.iter().filter(|t| t.get_str("name").is_some_and(|n| s.filter.local_name(&n).is_some())).count()
        },
        prompts: lists.prompts.len(),
        restarts: s.restarts(),
        pid: s.pid(),
        last_error: s.last_error(),
        description: s.config.description.clone(),
        capabilities,
        latency_ms: latency.map(|l| l.0),
        latency_avg_ms: latency.map(|l| l.1),
        tool_names: Vec::new(),
        prompt_names: Vec::new(),
        target: None,
        balance: s.balancer.strategy().as_str().to_owned(),
        isolation: if s.per_session() { "per_session" } else { "shared" }.to_owned(),
        session_processes: s.processes.count(),
        replicas: s.replicas.iter().map(|r| replica(r)).collect(),
    }
}

fn replica(r: &Replica) -> ReplicaView {
    let conn = r.conn();
    ReplicaView {
        index: r.index,
        target: r.label(),
        weight: r.weight,
        state: r.status().as_str().to_owned(),
        breaker: r.breaker.state().as_str().to_owned(),
        breaker_opened: r.breaker.opened_times(),
        in_flight: r.in_flight(),
        pid: r.pid(),
        restarts: r.restarts(),
        latency_avg_ms: conn.and_then(|c| c.latency.millis()).map(|l| l.1),
        last_error: r.last_error(),
    }
}

pub fn server_detail(naming: &Naming, s: &Arc<Server>) -> ServerView {
    let mut v = server(s);
    let lists = s.lists();
    v.prompt_names = lists.prompts.iter().filter_map(|t| t.get_str("name")).map(|n| naming.expose(&s.id, &n)).collect();
    let filter = &s.filter;
    v.tool_names = lists
        .tools
        .iter()
        .filter_map(|t| t.get_str("name"))
        .filter_map(|n| filter.local_name(&n).map(|l| naming.expose(&s.id, l)))
        .collect();
    v.target = Some(match (&s.config.command, &s.config.url) {
        (Some(cmd), _) => {
            std::iter::once(cmd.clone()).chain(s.config.args.iter().cloned()).collect::<Vec<_>>().join(" ")
        }
        (None, Some(url)) => redact_url(url),
        (None, None) => s.config.urls.iter().map(|e| redact_url(&e.url)).collect::<Vec<_>>().join(" "),
    });
    v
}

/// A URL as it may be shown: a password and the query (where tokens tend to
/// hide) are replaced by `***`. Header and environment values are never shown.
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            u.to_string()
        }
        Err(_) => "<unparsable URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_shown_without_secrets() {
        assert_eq!(super::redact_url("https://u:pw@h.test/mcp?token=abc"), "https://u:***@h.test/mcp?***");
        assert_eq!(super::redact_url("http://h.test/mcp"), "http://h.test/mcp");
    }
}

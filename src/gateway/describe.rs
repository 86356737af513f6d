//! The gateway describing itself: what it answers to `initialize` and
//! `server/discover`, and the `vmcp/*` methods (announced under
//! `capabilities.experimental.vmcp`): its servers, their health, where each
//! exposed name leads, and its metrics.

use serde_json::json;
use serde_json::value::RawValue;

use super::catalog::{CatalogStore, Entry};
use super::error::GatewayError;
use super::router::Router;
use super::settings::Settings;
use super::supervisor::{Status, Supervisor};
use super::views;
use crate::observe::metrics::Metrics;
use crate::protocol::stateless;
use crate::protocol::{RawObject, Revision, jsonrpc};

pub const METHODS: [&str; 5] = ["vmcp/servers/list", "vmcp/servers/get", "vmcp/health", "vmcp/routes", "vmcp/metrics"];

/// The stages the description reads from.
pub struct Describe<'a> {
    pub settings: &'a Settings,
    pub supervisor: &'a Supervisor,
    pub catalog: &'a CatalogStore,
    pub router: &'a Router,
    pub metrics: &'a Metrics,
}

impl Describe<'_> {
    pub fn discover(&self) -> Box<RawValue> {
        let init = RawObject::parse(&self.initialize(Revision::LATEST_HANDSHAKE)).unwrap_or_default();
        let mut result = RawObject::new();
        result.set("resultType", "complete");
        let versions: Vec<&str> = Revision::ALL.iter().rev().map(|r| r.as_str()).collect();
        result.set("supportedVersions", &versions);
        // List changes and resource updates travel on subscriptions/listen streams.
        result.set(
            "capabilities",
            &serde_json::json!({
                "tools": { "listChanged": true },
                "prompts": { "listChanged": true },
                "resources": { "subscribe": true, "listChanged": true },
                "completions": {},
            }),
        );
        if let Some(info) = init.get("serverInfo") {
            let mut meta = RawObject::new();
            meta.set_raw(stateless::META_SERVER_INFO, info.to_owned());
            result.set("_meta", &meta);
        }
        if let Some(text) = init.get("instructions") {
            result.set_raw("instructions", text.to_owned());
        }
        result.set("ttlMs", &0);
        result.set("cacheScope", "private");
        result.to_raw()
    }

    /// What the gateway answers to `initialize`.
    pub fn initialize(&self, revision: Revision) -> Box<RawValue> {
        let servers = self.supervisor.servers();
        let mut capabilities = serde_json::json!({
            "tools": { "listChanged": true },
            "prompts": { "listChanged": true },
            "resources": { "subscribe": true, "listChanged": true },
            "logging": {},
        });
        if revision >= Revision::V2025_03_26 {
            capabilities["completions"] = serde_json::json!({});
        }
        capabilities["experimental"] = serde_json::json!({
            "vmcp": { "version": env!("CARGO_PKG_VERSION"), "methods": METHODS },
        });
        let mut result = RawObject::new();
        result.set("protocolVersion", revision.as_str());
        result.set("capabilities", &capabilities);
        result.set(
            "serverInfo",
            &serde_json::json!({ "name": self.settings.server_name, "version": env!("CARGO_PKG_VERSION") }),
        );
        // One server, unprefixed: look like that server where we can.
        let single = !self.settings.naming.prefixed && servers.len() == 1;
        let mut instructions = Vec::new();
        for s in &servers {
            let Some(conn) = s.conn() else { continue };
            let Some(info) = conn.info() else { continue };
            if single && let Some(si) = &info.server_info {
                result.set_raw("serverInfo", si.clone());
            }
            if let Some(text) = info.instructions.as_deref().filter(|t| !t.trim().is_empty()) {
                instructions.push(if single { text.to_owned() } else { format!("## {}\n\n{}", s.id, text.trim()) });
            }
        }
        if !instructions.is_empty() {
            result.set("instructions", &instructions.join("\n\n"));
        }
        result.to_raw()
    }

    /// Answers a `vmcp/*` method; `None` when `method` is not one.
    pub fn extension(&self, method: &str, params: Option<&RawValue>) -> Option<Result<Box<RawValue>, GatewayError>> {
        let servers = self.supervisor.servers();
        let value = match method {
            "vmcp/servers/list" => {
                let views: Vec<_> = servers.iter().map(views::server).collect();
                json!({ "servers": views })
            }
            "vmcp/servers/get" => {
                let id = params.and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get_str("id"));
                let Some(id) = id else {
                    return Some(Err(GatewayError::InvalidParams("vmcp/servers/get: missing \"id\"".into())));
                };
                match self.supervisor.server(&id) {
                    Some(s) => json!({ "server": views::server_detail(&self.settings.naming, &s) }),
                    None => {
                        return Some(Err(GatewayError::InvalidParams(format!("vmcp/servers/get: no server '{id}'"))));
                    }
                }
            }
            "vmcp/health" => {
                let enabled: Vec<_> = servers.iter().filter(|s| s.status() != Status::Disabled).collect();
                let ready = enabled.iter().filter(|s| s.status() == Status::Ready).count();
                let status = if ready == enabled.len() {
                    "healthy"
                } else if ready == 0 {
                    "down"
                } else {
                    "degraded"
                };
                let list: Vec<_> = enabled
                    .iter()
                    .map(|s| json!({ "id": &*s.id, "state": s.status().as_str(), "last_error": s.last_error() }))
                    .collect();
                json!({ "status": status, "ready": self.supervisor.is_ready().is_ok(), "servers": list })
            }
            "vmcp/routes" => {
                let catalog = self.catalog.snapshot();
                let route = |(name, e): (&String, &Entry)| json!({ "name": name, "server": &*e.server, "original": e.original });
                let mut tools: Vec<_> = catalog.tools.entries().map(route).collect();
                let mut prompts: Vec<_> = catalog.prompts.entries().map(route).collect();
                tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                prompts.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                let naming = &self.settings.naming;
                let table = self.router.rules();
                let rules: Vec<_> = table
                    .rules()
                    .map(|r| {
                        json!({
                            "method": r.method, "tool": r.tool, "prompt": r.prompt, "resource": r.resource,
                            "to": match &r.action { crate::config::RouteAction::To(s) => Some(s), _ => None },
                            "deny": matches!(r.action, crate::config::RouteAction::Deny(_)),
                        })
                    })
                    .collect();
                json!({
                    "tools": tools,
                    "prompts": prompts,
                    "resources": if naming.prefixed { "<server>+<uri>" } else { "unprefixed" },
                    "rules": rules,
                    "cache": table.stats(),
                })
            }
            "vmcp/metrics" => json!({ "text": self.metrics.encode() }),
            _ => return None,
        };
        Some(Ok(jsonrpc::to_raw(&value)))
    }
}

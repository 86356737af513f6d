//! The `vmcp/*` methods: the gateway describing itself to MCP clients (announced
//! under `capabilities.experimental.vmcp`): its servers, their health, where each
//! exposed name leads, and its metrics.

use serde_json::json;
use serde_json::value::RawValue;

use super::Gateway;
use super::error::GatewayError;
use super::server::Status;
use crate::protocol::{RawObject, jsonrpc};

pub const METHODS: [&str; 5] = ["vmcp/servers/list", "vmcp/servers/get", "vmcp/health", "vmcp/routes", "vmcp/metrics"];

impl Gateway {
    /// Answers a `vmcp/*` method; `None` when `method` is not one.
    pub(crate) fn extension(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Option<Result<Box<RawValue>, GatewayError>> {
        let servers = self.servers();
        let value = match method {
            "vmcp/servers/list" => {
                let views: Vec<_> = servers.iter().map(crate::admin::views::server).collect();
                json!({ "servers": views })
            }
            "vmcp/servers/get" => {
                let id = params.and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get_str("id"));
                let Some(id) = id else {
                    return Some(Err(GatewayError::InvalidParams("vmcp/servers/get: missing \"id\"".into())));
                };
                match self.server(&id) {
                    Some(s) => json!({ "server": crate::admin::views::server_detail(self, &s) }),
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
                json!({ "status": status, "ready": self.is_ready().is_ok(), "servers": list })
            }
            "vmcp/routes" => {
                let catalog = self.catalog();
                let route = |(name, e): (&String, &super::catalog::Entry)| json!({ "name": name, "server": &*e.server, "original": e.original });
                let mut tools: Vec<_> = catalog.tools.entries().map(route).collect();
                let mut prompts: Vec<_> = catalog.prompts.entries().map(route).collect();
                tools.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                prompts.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
                let naming = &self.settings.naming;
                let table = self.routes();
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
            "vmcp/metrics" => json!({ "text": crate::observe::metrics::Metrics::global().encode() }),
            _ => return None,
        };
        Some(Ok(jsonrpc::to_raw(&value)))
    }
}

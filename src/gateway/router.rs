//! Where each client request goes.
//!
//! Tools and prompts are found in the catalog; resources by their `server+`
//! prefix; lists of resources and templates are fanned out to every ready server
//! and merged under a composite cursor; `logging/setLevel` goes to all. The
//! request reaches its server under the original name, with a progress token the
//! gateway can map back; the result comes back as the server sent it.

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
use serde_json::value::RawValue;

use super::Gateway;
use super::backend::BackendConn;
use super::cursor::Composite;
use super::error::GatewayError;
use super::forward::count_rejection;
use super::routes::{Decision, RouteTable, Subject};
use super::session::ClientSession;
use crate::protocol::{RawObject, Request, Revision, jsonrpc, method};
use crate::service::Tx;

type Routed = Result<Box<RawValue>, GatewayError>;

impl Gateway {
    pub(crate) async fn route(&self, session: &Arc<ClientSession>, req: &Request, related: Option<Tx>) -> Routed {
        let m = req.method.as_str();
        let _permit = self.admit_client(session, m).inspect_err(count_rejection)?;
        let rules = self.routes();
        match m {
            method::TOOLS_LIST | method::PROMPTS_LIST => {
                self.ruled(&rules, m, Subject::default())?;
                self.no_cursor(req)?;
                let catalog = self.catalog();
                let listing = if m == method::TOOLS_LIST { &catalog.tools } else { &catalog.prompts };
                Ok(listing.result_for(&session.policy))
            }
            method::RESOURCES_LIST | method::RESOURCES_TEMPLATES_LIST => {
                let only = self.ruled(&rules, m, Subject::default())?;
                let (key, uri_key) = if m == method::RESOURCES_LIST {
                    ("resources", "uri")
                } else {
                    ("resourceTemplates", "uriTemplate")
                };
                self.fan_out_list(session, req, key, uri_key, only.as_deref()).await
            }
            method::TOOLS_CALL | method::PROMPTS_GET => {
                let started = Instant::now();
                let mut params = object(req)?;
                let name = params
                    .get_str("name")
                    .ok_or_else(|| GatewayError::InvalidParams(format!("{m}: missing \"name\"")))?;
                let unknown = || {
                    if m == method::TOOLS_CALL {
                        GatewayError::UnknownTool(name.clone())
                    } else {
                        GatewayError::UnknownPrompt(name.clone())
                    }
                };
                // What a principal may not use answers exactly like what does not exist.
                if !session.policy.allows(&name) {
                    let e = unknown();
                    self.audit(session, m, &name, None, params.get("arguments"), started, Err(&e), true);
                    return Err(e);
                }
                let subject = if m == method::TOOLS_CALL {
                    Subject { tool: Some(&name), ..Subject::default() }
                } else {
                    Subject { prompt: Some(&name), ..Subject::default() }
                };
                let target = match self.ruled(&rules, m, subject) {
                    Ok(Some(to)) => Ok(self.redirect(m, &name, &to)),
                    Ok(None) => self.resolve_name(m, &name),
                    Err(e) => Err(e),
                };
                let (server, original, safe) = match target {
                    Ok(t) => t,
                    Err(e) => {
                        let denied = matches!(e, GatewayError::Denied { .. });
                        self.audit(session, m, &name, None, params.get("arguments"), started, Err(&e), denied);
                        return Err(e);
                    }
                };
                // Only the arguments are kept for the audit, and only when it writes them.
                let arguments =
                    if self.audit.wants_arguments() { params.get("arguments").map(|a| a.to_owned()) } else { None };
                params.set("name", &original);
                // Prompts are read, not acted on: safe to repeat.
                let safe = safe || m == method::PROMPTS_GET;
                let result = self.forward(session, &server, m, params, related, safe).await;
                self.audit(session, m, &name, Some(&server), arguments.as_deref(), started, result.as_deref(), false);
                result
            }
            method::RESOURCES_READ => {
                let started = Instant::now();
                let mut params = object(req)?;
                let uri = params
                    .get_str("uri")
                    .ok_or_else(|| GatewayError::InvalidParams(format!("{m}: missing \"uri\"")))?;
                if let Err(e) = self.may_use_resource(session, &uri) {
                    self.audit(session, m, &uri, None, None, started, Err(&e), true);
                    return Err(e);
                }
                let (server, original) = match self.resolve_uri_ruled(&rules, m, &uri) {
                    Ok(t) => t,
                    Err(e) => {
                        let denied = matches!(e, GatewayError::Denied { .. });
                        self.audit(session, m, &uri, None, None, started, Err(&e), denied);
                        return Err(e);
                    }
                };
                params.set("uri", &original);
                let result = self.forward(session, &server, m, params, related, true).await;
                self.audit(session, m, &uri, Some(&server), None, started, result.as_deref(), false);
                result
            }
            method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => {
                let uri = object(req)?.get_str("uri");
                if let Some(u) = &uri {
                    self.may_use_resource(session, u)?;
                }
                let subject = Subject { resource: uri.as_deref(), ..Subject::default() };
                self.ruled(&rules, m, subject)?;
                self.subscription(session, req).await
            }
            method::SUBSCRIPTIONS_LISTEN => {
                self.ruled(&rules, m, Subject::default())?;
                let sink = related.or_else(|| session.outbound().sender());
                super::listen::serve(session.gateway(), req, sink).await
            }
            method::COMPLETION_COMPLETE => {
                let mut params = object(req)?;
                let mut reference: RawObject = params
                    .get_as("ref")
                    .ok_or_else(|| GatewayError::InvalidParams("completion/complete: missing \"ref\" object".into()))?;
                let server = match reference.get_str("type").as_deref() {
                    Some("ref/prompt") => {
                        let name = reference
                            .get_str("name")
                            .ok_or_else(|| GatewayError::InvalidParams("ref/prompt without \"name\"".into()))?;
                        if !session.policy.allows(&name) {
                            return Err(GatewayError::UnknownPrompt(name));
                        }
                        let subject = Subject { prompt: Some(&name), ..Subject::default() };
                        let (server, original, _) = match self.ruled(&rules, m, subject)? {
                            Some(to) => self.redirect(method::PROMPTS_GET, &name, &to),
                            None => self.resolve_name(method::PROMPTS_GET, &name)?,
                        };
                        reference.set("name", &original);
                        server
                    }
                    Some("ref/resource") => {
                        let uri = reference
                            .get_str("uri")
                            .ok_or_else(|| GatewayError::InvalidParams("ref/resource without \"uri\"".into()))?;
                        self.may_use_resource(session, &uri)?;
                        let (server, original) = self.resolve_uri_ruled(&rules, m, &uri)?;
                        reference.set("uri", &original);
                        server
                    }
                    other => {
                        return Err(GatewayError::InvalidParams(format!(
                            "completion/complete: unknown ref type {other:?}"
                        )));
                    }
                };
                params.set("ref", &reference);
                self.forward(session, &server, m, params, related, true).await
            }
            method::LOGGING_SET_LEVEL => {
                self.ruled(&rules, m, Subject::default())?;
                let mut params = object(req)?;
                crate::protocol::stateless::strip_client_meta(&mut params);
                // Every replica keeps its own level: all of them hear it.
                let calls = self
                    .servers()
                    .into_iter()
                    .flat_map(|s| s.conns())
                    .filter(|c| c.info().is_some_and(|i| i.has("logging")))
                    .map(|c| {
                        let p = params.to_raw();
                        async move {
                            if let Err(e) = c.call(method::LOGGING_SET_LEVEL, Some(p), None, None).await {
                                tracing::warn!(server = %c.server, "logging/setLevel: {e}");
                            }
                        }
                    });
                join_all(calls).await;
                Ok(jsonrpc::empty_object())
            }
            // The vmcp/* methods describe the whole gateway: they are names under
            // the policies like any other.
            _ if m.starts_with("vmcp/") && !session.policy.allows(m) => Err(GatewayError::MethodNotFound(m.to_owned())),
            _ => match self.extension(m, req.params.as_deref()) {
                Some(answer) => {
                    self.ruled(&rules, m, Subject::default())?;
                    answer
                }
                None => Err(GatewayError::MethodNotFound(m.to_owned())),
            },
        }
    }

    /// A resource the principal may not use is, to it, a resource that does not exist.
    fn may_use_resource(&self, session: &ClientSession, uri: &str) -> Result<(), GatewayError> {
        if session.policy.allows(uri) {
            Ok(())
        } else {
            Err(GatewayError::UnknownResource { uri: uri.to_owned(), reason: "no such resource".into() })
        }
    }

    /// Writes the audit line of a tool call, prompt get or resource read.
    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        session: &ClientSession,
        m: &str,
        name: &str,
        server: Option<&str>,
        arguments: Option<&RawValue>,
        started: Instant,
        result: Result<&RawValue, &GatewayError>,
        denied: bool,
    ) {
        if !self.audit.is_enabled() {
            return;
        }
        let (outcome, code) = match result {
            Ok(r) if r.get().contains("\"isError\":true") => ("tool_error", None),
            Ok(_) => ("ok", None),
            Err(_) if denied => ("denied", None),
            Err(e) => ("error", Some(e.to_error_object().code)),
        };
        self.audit.record(&crate::observe::audit::Entry {
            principal: &session.principal.name,
            session: session.id,
            server,
            method: m,
            name,
            outcome,
            code,
            duration: started.elapsed(),
            arguments,
        });
    }

    /// The gateway-wide limits: concurrency, and the client's rate. A
    /// `subscriptions/listen` stream lasts as long as its client wants, so it
    /// holds no place in the concurrency limit.
    fn admit_client(&self, session: &ClientSession, m: &str) -> Result<Option<super::limit::Permit>, GatewayError> {
        if let Some(rate) = &self.limits.client_rate {
            // An authenticated client is its principal. Without authentication a
            // client is its session; a stateless HTTP client has none, so all of
            // them share one allowance.
            let key = match session.principal.via {
                crate::auth::Via::ApiKey | crate::auth::Via::Jwt => format!("principal:{}", session.principal.name),
                _ if session.is_stateless() && session.front != "stdio" => "stateless".to_owned(),
                _ => format!("session:{}", session.id),
            };
            if let Err(wait) = rate.check(&key) {
                return Err(GatewayError::RateLimited {
                    server: None,
                    scope: "this client".into(),
                    retry_after_ms: wait.as_millis().max(1),
                });
            }
        }
        if m == method::SUBSCRIPTIONS_LISTEN {
            return Ok(None);
        }
        let c = &self.limits.concurrency;
        c.try_acquire().map(Some).ok_or_else(|| GatewayError::Overloaded {
            server: None,
            scope: "the gateway".into(),
            limit: c.limit(),
        })
    }

    /// Applies the routing rules: `Some(server)` when a rule sends the request
    /// there, `None` when the catalog decides, an error when a rule denies it.
    fn ruled(&self, rules: &RouteTable, m: &str, subject: Subject<'_>) -> Result<Option<String>, GatewayError> {
        match rules.decide(m, subject) {
            Decision::Catalog => Ok(None),
            Decision::To { server, .. } => Ok(Some(server)),
            Decision::Deny { rule, reason } => {
                let name = subject.tool.or(subject.prompt).or(subject.resource);
                let what = match name {
                    Some(n) => format!("{m} of '{n}'"),
                    None => m.to_owned(),
                };
                let by = match reason {
                    Some(r) => format!("route rule {} ({r})", rule + 1),
                    None => format!("route rule {}", rule + 1),
                };
                let e = GatewayError::Denied { what, by };
                count_rejection(&e);
                Err(e)
            }
        }
    }

    /// The server and original name for a tool or prompt a rule sends to `to`.
    fn redirect(&self, m: &str, name: &str, to: &str) -> (Arc<str>, String, bool) {
        let catalog = self.catalog();
        let listing = if m == method::TOOLS_CALL { &catalog.tools } else { &catalog.prompts };
        if let Some(e) = listing.lookup(name)
            && &*e.server == to
        {
            return (e.server.clone(), e.original.clone(), e.safe);
        }
        let prefix = format!("{to}{}", self.settings.naming.separator);
        let original = name.strip_prefix(&prefix).unwrap_or(name);
        (Arc::from(to), original.to_owned(), false)
    }

    /// [`Gateway::resolve_uri`] after the routing rules.
    fn resolve_uri_ruled(&self, rules: &RouteTable, m: &str, uri: &str) -> Result<(Arc<str>, String), GatewayError> {
        let subject = Subject { resource: Some(uri), ..Subject::default() };
        match self.ruled(rules, m, subject)? {
            Some(to) => {
                let original = self
                    .settings
                    .naming
                    .split_uri(uri)
                    .filter(|(server, _)| *server == to)
                    .map_or(uri, |(_, original)| original);
                Ok((Arc::from(to.as_str()), original.to_owned()))
            }
            None => self.resolve_uri(uri),
        }
    }

    /// Lists served from the catalog come in one page; a cursor can only be one
    /// the gateway never issued.
    fn no_cursor(&self, req: &Request) -> Result<(), GatewayError> {
        let cursor = req.params.as_deref().and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get_str("cursor"));
        match cursor {
            Some(c) => Err(GatewayError::InvalidParams(format!(
                "{}: invalid cursor {c:?}: this list has a single page",
                req.method
            ))),
            None => Ok(()),
        }
    }

    /// Finds the server and original name behind an exposed tool or prompt name.
    fn resolve_name(&self, m: &str, name: &str) -> Result<(Arc<str>, String, bool), GatewayError> {
        let catalog = self.catalog();
        let listing = if m == method::TOOLS_CALL { &catalog.tools } else { &catalog.prompts };
        if let Some(e) = listing.lookup(name) {
            return Ok((e.server.clone(), e.original.clone(), e.safe));
        }
        // Not in the catalog: if the name points at a server that is down, say so
        // rather than "unknown".
        let n = &self.settings.naming;
        if n.prefixed
            && let Some((server, _)) = name.split_once(n.separator.as_str())
            && let Some(s) = self.server(server)
            && s.conn().is_none()
        {
            return Err(GatewayError::Unavailable { server: server.to_owned(), reason: s.describe() });
        }
        Err(if m == method::TOOLS_CALL {
            GatewayError::UnknownTool(name.to_owned())
        } else {
            GatewayError::UnknownPrompt(name.to_owned())
        })
    }

    /// Finds the server and original URI behind an exposed resource URI.
    pub(crate) fn resolve_uri(&self, uri: &str) -> Result<(Arc<str>, String), GatewayError> {
        let n = &self.settings.naming;
        if n.prefixed {
            let unknown = |reason: String| GatewayError::UnknownResource { uri: uri.to_owned(), reason };
            let (server, original) = n
                .split_uri(uri)
                .ok_or_else(|| unknown("expected <server>+<uri>, as resources/list shows them".into()))?;
            let s = self.server(server).ok_or_else(|| unknown(format!("no server '{server}'")))?;
            return Ok((s.id.clone(), original.to_owned()));
        }
        let servers = self.servers();
        if let [only] = &servers[..] {
            return Ok((only.id.clone(), uri.to_owned()));
        }
        if let Some(server) = self.upstream.resource_owner(uri) {
            return Ok((server, uri.to_owned()));
        }
        let with_resources: Vec<_> =
            self.ready().into_iter().filter(|(_, c)| c.info().is_some_and(|i| i.has("resources"))).collect();
        match &with_resources[..] {
            [(s, _)] => Ok((s.id.clone(), uri.to_owned())),
            _ => Err(GatewayError::UnknownResource {
                uri: uri.to_owned(),
                reason: "several servers offer resources and this URI was not in any list; set gateway.prefix = \"always\" to route by prefix".into(),
            }),
        }
    }

    pub(crate) fn conn_for(&self, server: &str) -> Result<Arc<BackendConn>, GatewayError> {
        let s = self
            .server(server)
            .ok_or_else(|| GatewayError::Unavailable { server: server.to_owned(), reason: "not mounted".into() })?;
        s.conn().ok_or_else(|| GatewayError::Unavailable { server: server.to_owned(), reason: s.describe() })
    }

    /// `resources/list` and `resources/templates/list`: one page from every server
    /// that has more, merged, with a composite cursor for the rest.
    async fn fan_out_list(
        &self,
        session: &ClientSession,
        req: &Request,
        key: &'static str,
        uri_key: &'static str,
        only: Option<&str>,
    ) -> Routed {
        let m = req.method.as_str();
        let params = match &req.params {
            Some(p) => RawObject::parse(p).map_err(|e| GatewayError::InvalidParams(format!("{m}: {e}")))?,
            None => RawObject::new(),
        };
        let targets: Vec<(Arc<str>, Arc<BackendConn>, Option<String>)> = match params.get_str("cursor") {
            Some(c) => {
                let composite = Composite::decode(&c).map_err(|e| GatewayError::InvalidParams(format!("{m}: {e}")))?;
                composite
                    .servers()
                    .filter_map(|(server, cursor)| {
                        let conn = self.server(server)?.conn()?;
                        Some((conn.server.clone(), conn, Some(cursor.to_owned())))
                    })
                    .collect()
            }
            None => self
                .ready()
                .into_iter()
                .filter(|(s, _)| only.is_none_or(|o| *s.id == *o))
                .filter(|(_, c)| c.info().is_some_and(|i| i.has("resources")))
                .map(|(s, c)| (s.id.clone(), c, None))
                .collect(),
        };
        let mut params = params;
        crate::protocol::stateless::strip_client_meta(&mut params);
        let calls = targets.into_iter().map(|(server, conn, cursor)| {
            let mut p = params.clone();
            match &cursor {
                Some(c) => p.set("cursor", c),
                None => {
                    p.remove("cursor");
                }
            }
            async move { (server, conn.call(m, Some(p.to_raw()), None, None).await) }
        });
        let mut items: Vec<RawObject> = Vec::new();
        let mut next = Composite::new();
        let mut hints = crate::protocol::stateless::CacheHints::default();
        for (server, result) in join_all(calls).await {
            let page = match result.and_then(|r| RawObject::parse(&r).map_err(|e| bad(&server, m, e.to_string()))) {
                Ok(page) => page,
                Err(e) => {
                    // Fail open: one broken server must not hide everyone else's resources.
                    tracing::warn!(server = %server, "{m} failed: {e}");
                    continue;
                }
            };
            let list: Vec<RawObject> = match page.get(key) {
                Some(raw) => match serde_json::from_str(raw.get()) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(server = %server, "{m}: bad \"{key}\": {e}");
                        continue;
                    }
                },
                None => Vec::new(),
            };
            for mut item in list {
                if let Some(uri) = item.get_str(uri_key) {
                    if !self.settings.naming.prefixed {
                        self.upstream.remember_resource_owner(&uri, &server);
                    }
                    let exposed = self.settings.naming.expose_uri(&server, &uri);
                    if !session.policy.allows(&exposed) {
                        continue;
                    }
                    item.set(uri_key, &exposed);
                }
                items.push(item);
            }
            if let Some(c) = page.get_str("nextCursor") {
                next.insert(&server, c);
            }
            hints.add(&page);
        }
        let mut result = RawObject::new();
        result.set(key, &items);
        if !next.is_empty() {
            result.set("nextCursor", &next.encode());
        }
        hints.apply(&mut result);
        Ok(result.to_raw())
    }

    /// Counts one more subscriber for an exposed URI; the owning server hears
    /// `resources/subscribe` for the first one only.
    pub(crate) async fn subscribe_upstream(&self, uri: &str) -> Result<(), GatewayError> {
        let (server, original) = self.resolve_uri(uri)?;
        if !self.upstream.subscribe(uri) {
            return Ok(());
        }
        let p = jsonrpc::to_raw(&serde_json::json!({ "uri": original }));
        let result = match self.conn_for(&server) {
            Ok(c) => c.call(method::RESOURCES_SUBSCRIBE, Some(p), None, None).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.upstream.unsubscribe(uri);
        }
        result
    }

    async fn subscription(&self, session: &Arc<ClientSession>, req: &Request) -> Routed {
        let m = req.method.as_str();
        let mut params = object(req)?;
        let uri = params.get_str("uri").ok_or_else(|| GatewayError::InvalidParams(format!("{m}: missing \"uri\"")))?;
        let (server, original) = self.resolve_uri(&uri)?;
        params.set("uri", &original);
        let subscribe = m == method::RESOURCES_SUBSCRIBE;
        let changed = match session.subscriptions.lock() {
            Ok(mut subs) => {
                if subscribe {
                    subs.insert(uri.clone())
                } else {
                    subs.remove(&uri)
                }
            }
            Err(_) => false,
        };
        if !changed {
            // Already (un)subscribed: nothing to tell the server.
            return Ok(jsonrpc::empty_object());
        }
        // Several sessions share one backend: it hears the first subscribe and the
        // last unsubscribe only.
        let forward = if subscribe { self.upstream.subscribe(&uri) } else { self.upstream.unsubscribe(&uri) };
        if !forward {
            return Ok(jsonrpc::empty_object());
        }
        let conn = self.conn_for(&server);
        let result = match conn {
            Ok(c) => c.call(m, Some(params.to_raw()), None, None).await,
            Err(e) => Err(e),
        };
        if result.is_err() && subscribe {
            if let Ok(mut subs) = session.subscriptions.lock() {
                subs.remove(&uri);
            }
            self.upstream.unsubscribe(&uri);
        }
        result
    }

    /// A session that goes away gives up its subscriptions.
    pub(crate) async fn release_subscription(&self, uri: &str) {
        if !self.upstream.unsubscribe(uri) {
            return;
        }
        if let Ok((server, original)) = self.resolve_uri(uri)
            && let Ok(conn) = self.conn_for(&server)
        {
            let p = jsonrpc::to_raw(&serde_json::json!({ "uri": original }));
            let _ = conn.call(method::RESOURCES_UNSUBSCRIBE, Some(p), None, None).await;
        }
    }

    /// What the gateway answers to `server/discover` (2026-07-28): every revision
    /// it speaks, and the capabilities it can honour for stateless clients.
    pub(crate) fn discover_result(&self) -> Box<RawValue> {
        let init = RawObject::parse(&self.initialize_result(Revision::LATEST_HANDSHAKE)).unwrap_or_default();
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
            meta.set_raw(crate::protocol::stateless::META_SERVER_INFO, info.to_owned());
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
    pub(crate) fn initialize_result(&self, revision: Revision) -> Box<RawValue> {
        let servers = self.servers();
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
            "vmcp": { "version": env!("CARGO_PKG_VERSION"), "methods": super::extension::METHODS },
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
}

fn object(req: &Request) -> Result<RawObject, GatewayError> {
    match &req.params {
        Some(p) => RawObject::parse(p)
            .map_err(|e| GatewayError::InvalidParams(format!("{}: params must be an object: {e}", req.method))),
        None => Err(GatewayError::InvalidParams(format!("{}: missing params", req.method))),
    }
}

fn bad(server: &str, m: &str, reason: String) -> GatewayError {
    GatewayError::BadResult { server: server.to_owned(), method: m.to_owned(), reason }
}

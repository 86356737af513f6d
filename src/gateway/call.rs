//! [`Call`]: a client request, parsed once into what it asks for.
//!
//! The method decides the shape; the params are read once, here, and each
//! variant carries what its handling needs (a name, a URI, the params to pass
//! on). Everything after this point matches on the variant, never on the
//! method string again.

use serde_json::value::RawValue;

use super::catalog::Kind;
use super::error::GatewayError;
use crate::protocol::{Id, RawObject, Request, method};

/// `resources/list` or `resources/templates/list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceList {
    Resources,
    Templates,
}

impl ResourceList {
    pub fn method(self) -> &'static str {
        match self {
            ResourceList::Resources => method::RESOURCES_LIST,
            ResourceList::Templates => method::RESOURCES_TEMPLATES_LIST,
        }
    }

    /// The result's array, and the member of each item that holds its URI.
    pub fn keys(self) -> (&'static str, &'static str) {
        match self {
            ResourceList::Resources => ("resources", "uri"),
            ResourceList::Templates => ("resourceTemplates", "uriTemplate"),
        }
    }
}

/// What `completion/complete` completes an argument of.
#[derive(Debug)]
pub enum Reference {
    Prompt(String),
    Resource(String),
}

#[derive(Debug)]
pub enum Call {
    Initialize(RawObject),
    Ping,
    Discover,
    /// `tools/list` or `prompts/list`: served from the catalog, in one page.
    List(Kind),
    /// `resources/list` or `resources/templates/list`: fanned out.
    ListResources(ResourceList, RawObject),
    /// `tools/call` or `prompts/get` of an exposed name.
    Get {
        kind: Kind,
        name: String,
        params: RawObject,
    },
    /// `resources/read` of an exposed URI.
    Read {
        uri: String,
        params: RawObject,
    },
    /// `resources/subscribe` (`on`) or `resources/unsubscribe`.
    Subscribe {
        uri: String,
        params: RawObject,
        on: bool,
    },
    /// `subscriptions/listen` (2026-07-28), by the request's id (which tags
    /// everything the stream carries).
    Listen(Id, Option<RawObject>),
    /// `completion/complete`; `reference` is the params' `ref`, which names
    /// the prompt or resource.
    Complete {
        params: RawObject,
        reference: RawObject,
        target: Reference,
    },
    /// `logging/setLevel`: every server hears it.
    SetLevel(RawObject),
    /// A `vmcp/*` method: the gateway describing itself.
    Extension(String, Option<Box<RawValue>>),
    Unknown(String),
}

impl Call {
    /// The JSON-RPC method this call came as.
    pub fn method(&self) -> &str {
        match self {
            Call::Initialize(_) => method::INITIALIZE,
            Call::Ping => method::PING,
            Call::Discover => method::SERVER_DISCOVER,
            Call::List(Kind::Tool) => method::TOOLS_LIST,
            Call::List(Kind::Prompt) => method::PROMPTS_LIST,
            Call::ListResources(which, _) => which.method(),
            Call::Get { kind: Kind::Tool, .. } => method::TOOLS_CALL,
            Call::Get { kind: Kind::Prompt, .. } => method::PROMPTS_GET,
            Call::Read { .. } => method::RESOURCES_READ,
            Call::Subscribe { on: true, .. } => method::RESOURCES_SUBSCRIBE,
            Call::Subscribe { on: false, .. } => method::RESOURCES_UNSUBSCRIBE,
            Call::Listen(..) => method::SUBSCRIPTIONS_LISTEN,
            Call::Complete { .. } => method::COMPLETION_COMPLETE,
            Call::SetLevel(_) => method::LOGGING_SET_LEVEL,
            Call::Extension(m, _) | Call::Unknown(m) => m,
        }
    }

    pub fn parse(req: &Request) -> Result<Call, GatewayError> {
        let m = req.method.as_str();
        Ok(match m {
            method::INITIALIZE => Call::Initialize(match &req.params {
                Some(p) => RawObject::parse(p).map_err(|e| GatewayError::InvalidParams(format!("initialize: {e}")))?,
                None => return Err(GatewayError::InvalidParams("initialize needs params".into())),
            }),
            method::PING => Call::Ping,
            method::SERVER_DISCOVER => Call::Discover,
            method::TOOLS_LIST | method::PROMPTS_LIST => {
                // Served from the catalog in one page: a cursor can only be one
                // the gateway never issued.
                let cursor =
                    req.params.as_deref().and_then(|p| RawObject::parse(p).ok()).and_then(|p| p.get_str("cursor"));
                if let Some(c) = cursor {
                    return Err(GatewayError::InvalidParams(format!(
                        "{m}: invalid cursor {c:?}: this list has a single page"
                    )));
                }
                Call::List(if m == method::TOOLS_LIST { Kind::Tool } else { Kind::Prompt })
            }
            method::RESOURCES_LIST | method::RESOURCES_TEMPLATES_LIST => {
                let which = if m == method::RESOURCES_LIST { ResourceList::Resources } else { ResourceList::Templates };
                let params = match &req.params {
                    Some(p) => RawObject::parse(p).map_err(|e| GatewayError::InvalidParams(format!("{m}: {e}")))?,
                    None => RawObject::new(),
                };
                Call::ListResources(which, params)
            }
            method::TOOLS_CALL | method::PROMPTS_GET => {
                let params = object(req)?;
                let name = required(&params, m, "name")?;
                let kind = if m == method::TOOLS_CALL { Kind::Tool } else { Kind::Prompt };
                Call::Get { kind, name, params }
            }
            method::RESOURCES_READ => {
                let params = object(req)?;
                Call::Read { uri: required(&params, m, "uri")?, params }
            }
            method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => {
                let params = object(req)?;
                Call::Subscribe { uri: required(&params, m, "uri")?, params, on: m == method::RESOURCES_SUBSCRIBE }
            }
            method::SUBSCRIPTIONS_LISTEN => Call::Listen(
                req.id.clone(),
                req.params
                    .as_deref()
                    .map(RawObject::parse)
                    .transpose()
                    .map_err(|e| GatewayError::InvalidParams(e.to_string()))?,
            ),
            method::COMPLETION_COMPLETE => {
                let params = object(req)?;
                let reference: RawObject = params
                    .get_as("ref")
                    .ok_or_else(|| GatewayError::InvalidParams("completion/complete: missing \"ref\" object".into()))?;
                let target = match reference.get_str("type").as_deref() {
                    Some("ref/prompt") => Reference::Prompt(
                        reference
                            .get_str("name")
                            .ok_or_else(|| GatewayError::InvalidParams("ref/prompt without \"name\"".into()))?,
                    ),
                    Some("ref/resource") => Reference::Resource(
                        reference
                            .get_str("uri")
                            .ok_or_else(|| GatewayError::InvalidParams("ref/resource without \"uri\"".into()))?,
                    ),
                    other => {
                        return Err(GatewayError::InvalidParams(format!(
                            "completion/complete: unknown ref type {other:?}"
                        )));
                    }
                };
                Call::Complete { params, reference, target }
            }
            method::LOGGING_SET_LEVEL => Call::SetLevel(object(req)?),
            _ if m.starts_with("vmcp/") => Call::Extension(m.to_owned(), req.params.clone()),
            _ => Call::Unknown(m.to_owned()),
        })
    }
}

fn object(req: &Request) -> Result<RawObject, GatewayError> {
    match &req.params {
        Some(p) => RawObject::parse(p)
            .map_err(|e| GatewayError::InvalidParams(format!("{}: params must be an object: {e}", req.method))),
        None => Err(GatewayError::InvalidParams(format!("{}: missing params", req.method))),
    }
}

fn required(params: &RawObject, m: &str, key: &str) -> Result<String, GatewayError> {
    params.get_str(key).ok_or_else(|| GatewayError::InvalidParams(format!("{m}: missing \"{key}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(m: &str, params: Option<&str>) -> Request {
        Request {
            id: Id::Number(1),
            method: m.into(),
            params: params.map(|p| RawValue::from_string(p.into()).unwrap()),
        }
    }

    #[test]
    fn named_calls_carry_their_name_and_params() {
        let call = Call::parse(&req("tools/call", Some(r#"{"name":"a__echo","arguments":{"x":1}}"#))).unwrap();
        let Call::Get { kind: Kind::Tool, name, params } = call else { panic!("{call:?}") };
        assert_eq!(name, "a__echo");
        assert_eq!(params.get("arguments").unwrap().get(), r#"{"x":1}"#);
        assert!(matches!(
            Call::parse(&req("prompts/get", Some(r#"{"name":"p"}"#))),
            Ok(Call::Get { kind: Kind::Prompt, .. })
        ));
    }

    #[test]
    fn malformed_params_are_invalid_params_naming_the_method() {
        for (m, p, says) in [
            ("tools/call", None, "tools/call: missing params"),
            ("tools/call", Some("[1]"), "tools/call: params must be an object"),
            ("tools/call", Some("{}"), "tools/call: missing \"name\""),
            ("resources/read", Some(r#"{"name":"x"}"#), "resources/read: missing \"uri\""),
            ("tools/list", Some(r#"{"cursor":"abc"}"#), "this list has a single page"),
            ("completion/complete", Some(r#"{"ref":{"type":"ref/tool"}}"#), "unknown ref type"),
        ] {
            let e = Call::parse(&req(m, p)).unwrap_err();
            assert!(matches!(e, GatewayError::InvalidParams(_)), "{m}: {e:?}");
            assert!(e.to_string().contains(says), "{m}: {e}");
        }
    }

    #[test]
    fn other_methods_are_extensions_or_unknown() {
        assert!(matches!(Call::parse(&req("vmcp/health", None)), Ok(Call::Extension(m, None)) if m == "vmcp/health"));
        assert!(matches!(Call::parse(&req("foo/bar", None)), Ok(Call::Unknown(m)) if m == "foo/bar"));
    }
}

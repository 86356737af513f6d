//! MCP vocabulary: protocol revisions and the method names the gateway treats
//! specially. Everything else is forwarded by name without interpretation.

/// MCP protocol revisions, oldest first. The gateway negotiates one per client and
/// one per backend; see `gateway/DESIGN.md` for how they are bridged.
///
/// Two eras: up to 2025-11-25 a session starts with the `initialize` handshake;
/// 2026-07-28 is stateless, each request carrying its revision and the client's
/// capabilities in `_meta` (see [`crate::protocol::stateless`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Revision {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl Revision {
    pub const ALL: [Revision; 5] = [
        Revision::V2024_11_05,
        Revision::V2025_03_26,
        Revision::V2025_06_18,
        Revision::V2025_11_25,
        Revision::V2026_07_28,
    ];
    /// The revisions negotiated by `initialize`.
    pub const HANDSHAKE: [Revision; 4] =
        [Revision::V2024_11_05, Revision::V2025_03_26, Revision::V2025_06_18, Revision::V2025_11_25];
    /// The newest revision with the `initialize` handshake.
    pub const LATEST_HANDSHAKE: Revision = Revision::V2025_11_25;
    pub const LATEST: Revision = Revision::V2026_07_28;

    pub fn as_str(self) -> &'static str {
        match self {
            Revision::V2024_11_05 => "2024-11-05",
            Revision::V2025_03_26 => "2025-03-26",
            Revision::V2025_06_18 => "2025-06-18",
            Revision::V2025_11_25 => "2025-11-25",
            Revision::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(s: &str) -> Option<Revision> {
        Revision::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Stateless (2026-07-28 and later): no handshake, no session.
    pub fn is_stateless(self) -> bool {
        self >= Revision::V2026_07_28
    }

    /// What a server answers to `initialize` asking for `requested`: the same
    /// revision when it is a handshake revision, otherwise the latest handshake
    /// revision (a client asking for 2026-07-28 in `initialize`, as rmcp does,
    /// thereby learns that the server speaks the handshake era).
    pub fn negotiate(requested: &str) -> Revision {
        Revision::parse(requested).filter(|r| !r.is_stateless()).unwrap_or(Revision::LATEST_HANDSHAKE)
    }

    /// Elicitation (`elicitation/create`) exists from 2025-06-18 on.
    pub fn has_elicitation(self) -> bool {
        self >= Revision::V2025_06_18
    }
}

impl std::fmt::Display for Revision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Method names.
pub mod method {
    pub const INITIALIZE: &str = "initialize";
    pub const INITIALIZED: &str = "notifications/initialized";
    pub const PING: &str = "ping";
    pub const TOOLS_LIST: &str = "tools/list";
    pub const TOOLS_CALL: &str = "tools/call";
    pub const PROMPTS_LIST: &str = "prompts/list";
    pub const PROMPTS_GET: &str = "prompts/get";
    pub const RESOURCES_LIST: &str = "resources/list";
    pub const RESOURCES_TEMPLATES_LIST: &str = "resources/templates/list";
    pub const RESOURCES_READ: &str = "resources/read";
    pub const RESOURCES_SUBSCRIBE: &str = "resources/subscribe";
    pub const RESOURCES_UNSUBSCRIBE: &str = "resources/unsubscribe";
    pub const COMPLETION_COMPLETE: &str = "completion/complete";
    pub const LOGGING_SET_LEVEL: &str = "logging/setLevel";
    pub const SERVER_DISCOVER: &str = "server/discover";
    pub const SUBSCRIPTIONS_LISTEN: &str = "subscriptions/listen";

    pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
    pub const ELICITATION_CREATE: &str = "elicitation/create";
    pub const ROOTS_LIST: &str = "roots/list";

    pub const CANCELLED: &str = "notifications/cancelled";
    pub const PROGRESS: &str = "notifications/progress";
    pub const MESSAGE: &str = "notifications/message";
    pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
    pub const PROMPTS_LIST_CHANGED: &str = "notifications/prompts/list_changed";
    pub const RESOURCES_LIST_CHANGED: &str = "notifications/resources/list_changed";
    pub const RESOURCES_UPDATED: &str = "notifications/resources/updated";
    pub const ROOTS_LIST_CHANGED: &str = "notifications/roots/list_changed";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_known_and_falls_back_to_latest() {
        for r in Revision::HANDSHAKE {
            assert_eq!(Revision::negotiate(r.as_str()), r);
        }
        assert_eq!(Revision::negotiate("1999-01-01"), Revision::LATEST_HANDSHAKE);
        assert_eq!(Revision::negotiate("2026-07-28"), Revision::V2025_11_25);
        assert!(Revision::V2026_07_28.is_stateless() && !Revision::V2025_11_25.is_stateless());
        assert!(Revision::V2024_11_05 < Revision::V2025_11_25);
        assert!(!Revision::V2025_03_26.has_elicitation());
    }
}

/// The HTTP headers MCP defines (lowercase, as HTTP/2 and `http` spell them).
/// Streamable HTTP carries the session and the revision in headers; 2026-07-28
/// mirrors the method and the tool, prompt or resource name in them too.
pub mod header {
    pub const SESSION_ID: &str = "mcp-session-id";
    pub const PROTOCOL_VERSION: &str = "mcp-protocol-version";
    pub const METHOD: &str = "mcp-method";
    pub const NAME: &str = "mcp-name";
}

//! [`Kind`]: the kinds of request a workload mixes.

/// A kind of request in the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    List = 0,
    Call = 1,
    Read = 2,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::List, Kind::Call, Kind::Read];

    pub fn method(self) -> &'static str {
        match self {
            Kind::List => crate::protocol::method::TOOLS_LIST,
            Kind::Call => crate::protocol::method::TOOLS_CALL,
            Kind::Read => crate::protocol::method::RESOURCES_READ,
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s.trim() {
            "list" | "tools/list" => Some(Kind::List),
            "call" | "tools/call" => Some(Kind::Call),
            "read" | "resources/read" => Some(Kind::Read),
            _ => None,
        }
    }
}

//! vmcp: a virtual MCP gateway. One MCP endpoint in front of many MCP servers,
//! the way a virtual file system puts one tree over many storage backends.
//! (crate map: rewritten at the end of the restructure)

pub mod admin;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod config;
pub mod framing;
pub mod front;
pub mod gateway;
pub mod link;
pub mod mock;
pub mod observe;
pub mod protocol;
pub mod registry;
pub mod service;

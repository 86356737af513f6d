//! The admin API: what the CLI (`vmcp list`, `mount`, `stop`, …) talks to.
//!
//! JSON over HTTP under `/admin/v1/`, apart from the data plane: on a Unix socket
//! in `gateway.state_dir` (`admin.sock`, mode 0600), so only the gateway's user can
//! reach it. Runtime mounts are written to the registry before they are
//! acknowledged, so an acknowledged mount survives `kill -9`.
//!
//! - [`api`]: [`Admin`], the routes and their handlers.
//! - [`client`]: [`AdminClient`], what the CLI talks to the API with.
//! - [`status`]: [`StatusView`], the shape of `vmcp status --json`.

pub mod api;
pub mod client;
pub mod status;

pub use crate::gateway::views::ServerView;
pub use api::{Admin, serve, serve_tcp, socket_path};
pub use client::AdminClient;
pub use status::StatusView;

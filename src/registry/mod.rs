//! The registry: which servers exist at runtime beyond the configuration
//! files, and the guard that keeps one gateway per state directory.
//!
//! This module owns `<gateway.state_dir>/registry.db`, the embedded SQLite
//! database of runtime mounts (`vmcp mount` / `vmcp unmount`), and
//! `<gateway.state_dir>/vmcp.lock`, the single-instance lock `vmcp start`
//! takes. It stores each mount's id, its TOML snippet verbatim, an enabled
//! flag and when it was mounted; parsing a snippet into a server is
//! [`crate::config::parse_server_snippet`]'s job, and merging mounts with the
//! configured servers is the gateway's.
//!
//! - [`Store`] (`store.rs`): open, list, insert, remove, enable/disable; every
//!   write one durable transaction, so `kill -9` loses no acknowledged mount.
//! - [`InstanceLock`] (`lock.rs`): the exclusive `flock`.
//! - [`RegistryError`] (`error.rs`): every failure, with the path involved.
//! - `state_dir.rs`: the state directory, created with mode 0700.

mod error;
mod lock;
mod state_dir;
mod store;

pub use error::RegistryError;
pub use lock::{InstanceLock, LOCK_FILE_NAME};
pub use store::{BUSY_TIMEOUT, FILE_NAME, Mount, Store};

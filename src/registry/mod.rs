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

mod error;
mod lock;
mod store;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

pub use error::RegistryError;
pub use lock::{InstanceLock, LOCK_FILE_NAME};
pub use store::{BUSY_TIMEOUT, FILE_NAME, Mount, Store};

/// Creates `dir` and any missing parents with mode 0700 (the state directory
/// holds the registry and the admin socket: its owner's only). An existing
/// directory is left as it is.
fn create_state_dir(dir: &Path) -> Result<(), RegistryError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| RegistryError::Open { path: dir.to_owned(), source: Box::new(e) })
}

//! The registry: which servers exist at runtime beyond the configuration
//! files, which replicas share them, and the guard that keeps one gateway per
//! state directory.
//!
//! Runtime mounts (`vmcp mount` / `vmcp unmount`) live in the embedded SQLite
//! file `<gateway.state_dir>/registry.db`, or, with `[registry] url`, in a
//! PostgreSQL database that every replica of a cluster shares. Each mount is
//! its id, its TOML snippet verbatim, an enabled flag and when it was mounted;
//! every write bumps a revision. Parsing a snippet into a server is
//! [`crate::config::parse_server_snippet`]'s job, and applying mounts to a
//! running gateway is [`crate::cluster`]'s.
//!
//! - [`Registry`] (`handle.rs`): the face the rest of vmcp uses, over either store.
//! - `sqlite.rs`: the SQLite store; every write one durable transaction, so
//!   `kill -9` loses no acknowledged mount.
//! - `postgres.rs`: the PostgreSQL store: versioned migrations, a revision
//!   announced by `NOTIFY` at each commit, a [`Listener`], the members table.
//! - [`Mount`], [`Snapshot`] (`mount.rs`), [`Member`] (`member.rs`): what is stored.
//! - [`InstanceLock`] (`lock.rs`): the exclusive `flock` on `vmcp.lock`.
//! - [`RegistryError`] (`error.rs`): every failure, with the file or URL involved.
//! - `state_dir.rs`: the state directory, created with mode 0700.

mod error;
mod handle;
mod lock;
mod member;
mod mount;
mod postgres;
mod sqlite;
mod state_dir;

pub use error::RegistryError;
pub use handle::Registry;
pub use lock::{InstanceLock, LOCK_FILE_NAME};
pub use member::Member;
pub use mount::{Mount, Snapshot, now_unix};
pub use postgres::{Listener, MEMBER_TIMEOUT};
pub use sqlite::{BUSY_TIMEOUT, FILE_NAME, SqliteStore};

//! What can go wrong with the registry, each case with what a user needs to
//! fix it: the file involved, and what was found there.

use std::path::PathBuf;
use std::time::Duration;

/// An error from the registry database or the instance lock.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The state directory, the database or the lock file could not be
    /// created or opened (permissions, a file where a directory should be...).
    #[error("cannot open {}: {source}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// Another connection (another vmcp, or a tool) holds a write lock on the
    /// database for longer than the registry waits.
    #[error(
        "the registry database {} is locked by another process (waited {}s); \
         is another vmcp or an sqlite3 shell using it?",
        path.display(),
        waited.as_secs()
    )]
    Locked { path: PathBuf, waited: Duration },
    /// The file is not a SQLite database, fails its integrity check, or has a
    /// schema this version does not know.
    #[error("the registry database {} is unusable: {detail}; move it aside to start with no runtime mounts", path.display())]
    Corrupt { path: PathBuf, detail: String },
    /// Mounting an id that is already mounted.
    #[error("server `{0}` is already mounted; unmount it first")]
    Duplicate(String),
    /// Unmounting (or enabling, disabling) an id that is not mounted.
    #[error("server `{0}` is not mounted")]
    Unknown(String),
    /// An id that is not `^[a-z][a-z0-9-]{{0,31}}$`.
    #[error(
        "invalid server id `{0}`: expected ^[a-z][a-z0-9-]{{0,31}}$ \
         (a lowercase letter, then at most 31 lowercase letters, digits or `-`)"
    )]
    InvalidId(String),
    /// Another vmcp holds the instance lock of this state directory.
    #[error(
        "another vmcp is already running with this state directory (it holds the lock {}); \
         stop it first, or give this one another gateway.state_dir",
        path.display()
    )]
    Running { path: PathBuf },
    /// The PostgreSQL registry cannot be reached, or refused a statement.
    #[error("registry database {url}: {}", crate::observe::errors::error_chain(&**source))]
    Postgres {
        /// The URL with its password hidden.
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The PostgreSQL registry's schema is newer than this vmcp knows.
    #[error(
        "the registry database {url} has schema version {found}, newer than the {current} this vmcp knows \
         (migrated by a newer vmcp?): upgrade this replica"
    )]
    NewerSchema { url: String, found: i64, current: i64 },
    /// Any other SQLite failure.
    #[error("registry database error: {0}")]
    Sql(#[source] rusqlite::Error),
}

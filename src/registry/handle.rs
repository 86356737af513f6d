//! [`Registry`]: the one face of the registry the rest of vmcp sees, over
//! either store: the embedded SQLite file (the default) or a PostgreSQL
//! database shared by replicas (`[registry] url`).
//!
//! The SQLite store is synchronous (its calls run on the blocking pool) and
//! belongs to one gateway: nobody else writes it while that gateway runs (the
//! instance lock), so its revision is counted here. The PostgreSQL store is
//! asynchronous and shared, and announces every revision (see `postgres.rs`).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::RegistryError;
use super::member::Member;
use super::mount::Snapshot;
use super::postgres::{Listener, PgStore};
use super::sqlite::SqliteStore;
use crate::config::RegistryConfig;

/// The registry of runtime mounts and replicas.
#[derive(Debug)]
pub struct Registry {
    store: Store,
}

#[derive(Debug)]
enum Store {
    Sqlite { store: Arc<SqliteStore>, revision: AtomicU64 },
    Postgres(Box<PgStore>),
}

impl Registry {
    /// Opens the store `config` names: PostgreSQL at `url` (connected and
    /// migrated, its connections named after `replica`), else
    /// `<state_dir>/registry.db`.
    pub async fn open(config: &RegistryConfig, state_dir: &Path, replica: &str) -> Result<Registry, RegistryError> {
        let store = match &config.url {
            Some(url) => Store::Postgres(Box::new(PgStore::open(url, replica).await?)),
            None => {
                let dir = state_dir.to_owned();
                let store = tokio::task::spawn_blocking(move || SqliteStore::open(&dir)).await.map_err(joined)??;
                Store::Sqlite { store: Arc::new(store), revision: AtomicU64::new(0) }
            }
        };
        Ok(Registry { store })
    }

    /// Whether other replicas may share it (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// Where it is: the SQLite file, or the PostgreSQL URL with its password hidden.
    pub fn location(&self) -> String {
        match &self.store {
            Store::Sqlite { store, .. } => store.path().display().to_string(),
            Store::Postgres(pg) => pg.shown().to_owned(),
        }
    }

    /// The revision and every mount, ordered by id.
    pub async fn snapshot(&self) -> Result<Snapshot, RegistryError> {
        match &self.store {
            Store::Sqlite { store, revision } => {
                let store = store.clone();
                let mounts = tokio::task::spawn_blocking(move || store.mounts()).await.map_err(joined)??;
                Ok(Snapshot { revision: revision.load(Ordering::Acquire), mounts })
            }
            Store::Postgres(pg) => pg.snapshot().await,
        }
    }

    /// Adds a mount ([`RegistryError::Duplicate`] if the id is taken); the new revision.
    pub async fn insert(&self, id: &str, snippet: &str, enabled: bool) -> Result<u64, RegistryError> {
        match &self.store {
            Store::Sqlite { store, revision } => {
                let (store, id, snippet) = (store.clone(), id.to_owned(), snippet.to_owned());
                tokio::task::spawn_blocking(move || store.insert(&id, &snippet, enabled)).await.map_err(joined)??;
                Ok(revision.fetch_add(1, Ordering::AcqRel) + 1)
            }
            Store::Postgres(pg) => pg.insert(id, snippet, enabled).await,
        }
    }

    /// Removes a mount ([`RegistryError::Unknown`] if there is none); the new revision.
    pub async fn remove(&self, id: &str) -> Result<u64, RegistryError> {
        match &self.store {
            Store::Sqlite { store, revision } => {
                let (store, id) = (store.clone(), id.to_owned());
                tokio::task::spawn_blocking(move || store.remove(&id)).await.map_err(joined)??;
                Ok(revision.fetch_add(1, Ordering::AcqRel) + 1)
            }
            Store::Postgres(pg) => pg.remove(id).await,
        }
    }

    /// Enables or disables a mount ([`RegistryError::Unknown`] if there is none); the new revision.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<u64, RegistryError> {
        match &self.store {
            Store::Sqlite { store, revision } => {
                let (store, id) = (store.clone(), id.to_owned());
                tokio::task::spawn_blocking(move || store.set_enabled(&id, enabled)).await.map_err(joined)??;
                Ok(revision.fetch_add(1, Ordering::AcqRel) + 1)
            }
            Store::Postgres(pg) => pg.set_enabled(id, enabled).await,
        }
    }

    /// A connection announcing each new revision; `None` for the SQLite file,
    /// which only this process writes.
    pub async fn listen(&self) -> Option<Result<Listener, RegistryError>> {
        match &self.store {
            Store::Sqlite { .. } => None,
            Store::Postgres(pg) => Some(pg.listen().await),
        }
    }

    /// Says that `me` is alive. Nothing to do for the SQLite file.
    pub async fn heartbeat(&self, me: &Member) -> Result<(), RegistryError> {
        match &self.store {
            Store::Sqlite { .. } => Ok(()),
            Store::Postgres(pg) => pg.heartbeat(me).await,
        }
    }

    /// Takes `id` off the members list.
    pub async fn leave(&self, id: &str) -> Result<(), RegistryError> {
        match &self.store {
            Store::Sqlite { .. } => Ok(()),
            Store::Postgres(pg) => pg.leave(id).await,
        }
    }

    /// The live replicas (PostgreSQL), or `None` for the SQLite file, whose
    /// only member is this gateway.
    pub async fn members(&self) -> Option<Result<Vec<Member>, RegistryError>> {
        match &self.store {
            Store::Sqlite { .. } => None,
            Store::Postgres(pg) => Some(pg.members().await),
        }
    }
}

/// A blocking-pool task that panicked or was cancelled.
fn joined(e: tokio::task::JoinError) -> RegistryError {
    RegistryError::Open { path: Default::default(), source: Box::new(e) }
}

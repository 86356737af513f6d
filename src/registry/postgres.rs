//! The PostgreSQL registry: runtime mounts and the members list shared by
//! every replica pointed at one database (`[registry] url`).
//!
//! Changes are announced, not polled. Every write is one transaction that
//! bumps the single-row `vmcp_revision` (its row lock orders concurrent
//! writers, so revisions are gap-free and monotonic) and sends
//! `NOTIFY vmcp_registry, '<revision>'`, which PostgreSQL delivers at commit to
//! every listening connection. A [`Listener`] is such a connection. A
//! notification sent while a replica was disconnected is lost, so a listener
//! that reconnects reads everything again ([`PgStore::snapshot`]) before it
//! trusts notifications.
//!
//! The schema is versioned in `vmcp_schema`; [`MIGRATIONS`] lists the steps
//! from an empty database, applied at open under an advisory lock so that
//! replicas starting together migrate once.
//!
//! Two connections per replica: one for reads and writes (behind a mutex;
//! re-opened after a failure) and the listener's.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard, mpsc};
use tokio_postgres::{AsyncMessage, Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::RegistryError;
use super::member::Member;
use super::mount::{Mount, Snapshot, now_unix};
use crate::config::{is_valid_server_id, redact_url};

/// The channel of `LISTEN` / `NOTIFY`.
const CHANNEL: &str = "vmcp_registry";

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Serialises migrations across replicas (`pg_advisory_xact_lock`).
const MIGRATION_LOCK: i64 = 0x766d_6370_6d69_6772; // "vmcpmigr"

/// A replica not seen for this long has left the members list.
pub const MEMBER_TIMEOUT: Duration = Duration::from_secs(15);

/// Schema steps: `MIGRATIONS[n]` takes `vmcp_schema.version` n to n + 1. Append only.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: mounts, the revision counter, the members.
    "CREATE TABLE vmcp_mounts (
        id text PRIMARY KEY,
        snippet text NOT NULL,
        enabled boolean NOT NULL,
        mounted_at bigint NOT NULL,
        revision bigint NOT NULL
    );
    CREATE TABLE vmcp_revision (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        revision bigint NOT NULL
    );
    INSERT INTO vmcp_revision (only_row, revision) VALUES (true, 0);
    CREATE TABLE vmcp_replicas (
        id text PRIMARY KEY,
        advertise text,
        version text NOT NULL,
        started_at bigint NOT NULL,
        last_seen timestamptz NOT NULL
    );",
];

/// The registry in PostgreSQL.
pub struct PgStore {
    config: Config,
    tls: MakeRustlsConnect,
    /// The URL with its password hidden, for messages.
    shown: String,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("url", &self.shown).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects and migrates the schema to the current version. The
    /// connections are named `vmcp/<replica>` (`application_name`, as seen in
    /// `pg_stat_activity`).
    pub async fn open(url: &str, replica: &str) -> Result<PgStore, RegistryError> {
        let shown = redact_url(url);
        let mut config: Config =
            url.parse().map_err(|e| RegistryError::Postgres { url: shown.clone(), source: Box::new(e) })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name(format!("vmcp/{replica}"));
        let tls = tls().map_err(|e| RegistryError::Postgres { url: shown.clone(), source: e.into() })?;
        let store = PgStore { config, tls, shown, client: Mutex::new(None) };
        let mut client = store.client().await?;
        match migrate(&mut client).await.map_err(|e| store.fail(e))? {
            Ok(()) => {}
            Err(found) => {
                let current = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
                return Err(RegistryError::NewerSchema { url: store.shown.clone(), found: i64::from(found), current });
            }
        }
        drop(client);
        Ok(store)
    }

    /// The URL with its password hidden.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The revision and every mount, read in one snapshot.
    pub async fn snapshot(&self) -> Result<Snapshot, RegistryError> {
        let mut client = self.client().await?;
        let read = async {
            let tx = client.build_transaction().read_only(true).isolation_level(REPEATABLE_READ).start().await?;
            let revision: i64 = tx.query_one("SELECT revision FROM vmcp_revision", &[]).await?.get(0);
            let rows = tx.query("SELECT id, snippet, enabled, mounted_at FROM vmcp_mounts ORDER BY id", &[]).await?;
            tx.commit().await?;
            let mounts = rows
                .iter()
                .map(|r| Mount { id: r.get(0), snippet: r.get(1), enabled: r.get(2), mounted_at: r.get(3) })
                .collect();
            Ok::<_, tokio_postgres::Error>(Snapshot { revision: revision.unsigned_abs(), mounts })
        };
        read.await.map_err(|e| self.fail(e))
    }

    /// Adds a mount. [`RegistryError::Duplicate`] if the id is taken.
    pub async fn insert(&self, id: &str, snippet: &str, enabled: bool) -> Result<u64, RegistryError> {
        if !is_valid_server_id(id) {
            return Err(RegistryError::InvalidId(id.to_owned()));
        }
        let mounted_at = now_unix();
        self.write(async |tx, revision| {
            let added = tx
                .execute(
                    "INSERT INTO vmcp_mounts (id, snippet, enabled, mounted_at, revision) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                    &[&id, &snippet, &enabled, &mounted_at, &revision],
                )
                .await?;
            Ok(if added == 0 { Err(RegistryError::Duplicate(id.to_owned())) } else { Ok(()) })
        })
        .await
    }

    /// Removes a mount. [`RegistryError::Unknown`] if there is none by `id`.
    pub async fn remove(&self, id: &str) -> Result<u64, RegistryError> {
        self.write(async |tx, _| {
            let removed = tx.execute("DELETE FROM vmcp_mounts WHERE id = $1", &[&id]).await?;
            Ok(if removed == 0 { Err(RegistryError::Unknown(id.to_owned())) } else { Ok(()) })
        })
        .await
    }

    /// Enables or disables a mount. [`RegistryError::Unknown`] if there is none by `id`.
    pub async fn set_enabled(&self, id: &str, enabled: bool) -> Result<u64, RegistryError> {
        self.write(async |tx, revision| {
            let changed = tx
                .execute(
                    "UPDATE vmcp_mounts SET enabled = $2, revision = $3 WHERE id = $1",
                    &[&id, &enabled, &revision],
                )
                .await?;
            Ok(if changed == 0 { Err(RegistryError::Unknown(id.to_owned())) } else { Ok(()) })
        })
        .await
    }

    /// Says that `me` is alive (and forgets replicas gone for an hour).
    pub async fn heartbeat(&self, me: &Member) -> Result<(), RegistryError> {
        let client = self.client().await?;
        let beat = async {
            client
                .execute(
                    "INSERT INTO vmcp_replicas (id, advertise, version, started_at, last_seen) \
                     VALUES ($1, $2, $3, $4, now()) \
                     ON CONFLICT (id) DO UPDATE SET advertise = $2, version = $3, started_at = $4, last_seen = now()",
                    &[&me.id, &me.advertise, &me.version, &me.started_at],
                )
                .await?;
            client.execute("DELETE FROM vmcp_replicas WHERE last_seen < now() - interval '1 hour'", &[]).await
        };
        beat.await.map(|_| ()).map_err(|e| self.fail(e))
    }

    /// Takes `id` off the members list (a clean stop).
    pub async fn leave(&self, id: &str) -> Result<(), RegistryError> {
        let client = self.client().await?;
        client.execute("DELETE FROM vmcp_replicas WHERE id = $1", &[&id]).await.map(|_| ()).map_err(|e| self.fail(e))
    }

    /// The replicas seen within [`MEMBER_TIMEOUT`], ordered by id.
    pub async fn members(&self) -> Result<Vec<Member>, RegistryError> {
        let client = self.client().await?;
        let timeout = MEMBER_TIMEOUT.as_secs_f64();
        let rows = client
            .query(
                "SELECT id, advertise, version, started_at, \
                        extract(epoch FROM now() - last_seen)::float8 \
                 FROM vmcp_replicas WHERE last_seen > now() - make_interval(secs => $1) ORDER BY id",
                &[&timeout],
            )
            .await
            .map_err(|e| self.fail(e))?;
        Ok(rows
            .iter()
            .map(|r| Member {
                id: r.get(0),
                advertise: r.get(1),
                version: r.get(2),
                started_at: r.get(3),
                seen_ago: Duration::try_from_secs_f64(r.get::<_, f64>(4).max(0.0)).unwrap_or_default(),
            })
            .collect())
    }

    /// A connection that has run `LISTEN`: revisions as they are committed.
    pub async fn listen(&self) -> Result<Listener, RegistryError> {
        let (client, mut connection) = tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(self.tls.clone()))
            .await
            .map_err(|_| self.unreachable("connecting timed out"))?
            .map_err(|e| self.fail(e))?;
        let (tx, rx) = mpsc::unbounded_channel();
        // The connection's messages, driven here: notifications go to the
        // listener; the stream ends when the connection does.
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let _ = tx.send(n.payload().parse::<u64>().unwrap_or(0));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(
                            "registry: the listening connection failed: {}",
                            crate::observe::errors::error_chain(&e)
                        );
                        break;
                    }
                }
            }
        });
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(|e| self.fail(e))?;
        Ok(Listener { rx, _client: client, driver })
    }

    /// Runs `body` in a transaction after bumping the revision; commits (and
    /// so notifies) when it returns `Ok(Ok(()))`, rolls back otherwise.
    async fn write(
        &self,
        body: impl AsyncFnOnce(
            &tokio_postgres::Transaction<'_>,
            i64,
        ) -> Result<Result<(), RegistryError>, tokio_postgres::Error>,
    ) -> Result<u64, RegistryError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.fail(e))?;
        let revision: i64 = tx
            .query_one("UPDATE vmcp_revision SET revision = revision + 1 RETURNING revision", &[])
            .await
            .map_err(|e| self.fail(e))?
            .get(0);
        body(&tx, revision).await.map_err(|e| self.fail(e))??;
        tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &revision.to_string()]).await.map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(revision.unsigned_abs())
    }

    /// The shared connection, opened (again) if there is none or it closed.
    async fn client(&self) -> Result<MappedMutexGuard<'_, Client>, RegistryError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, self.config.connect(self.tls.clone()))
                .await
                .map_err(|_| self.unreachable("connecting timed out"))?
                .map_err(|e| self.fail(e))?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!("registry connection closed: {e}");
                }
            });
            *guard = Some(client);
        }
        MutexGuard::try_map(guard, Option::as_mut).map_err(|_| self.unreachable("no connection"))
    }

    fn fail(&self, e: tokio_postgres::Error) -> RegistryError {
        RegistryError::Postgres { url: self.shown.clone(), source: Box::new(e) }
    }

    fn unreachable(&self, why: &str) -> RegistryError {
        RegistryError::Postgres { url: self.shown.clone(), source: why.into() }
    }
}

const REPEATABLE_READ: tokio_postgres::IsolationLevel = tokio_postgres::IsolationLevel::RepeatableRead;

/// Committed revisions, from a connection that listens for them.
pub struct Listener {
    rx: mpsc::UnboundedReceiver<u64>,
    /// Kept so the connection stays open.
    _client: Client,
    driver: tokio::task::JoinHandle<()>,
}

impl Listener {
    /// The next revision announced; `None` once the connection is lost
    /// (notifications may then have been missed: read everything again).
    pub async fn next(&mut self) -> Option<u64> {
        self.rx.recv().await
    }

    /// A revision already announced, without waiting (to coalesce a burst).
    pub fn try_next(&mut self) -> Option<u64> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// Applies the missing migrations in one transaction, under an advisory lock
/// so that replicas starting together do it once.
/// `Ok(Err(found))`: the database has a newer schema than this vmcp knows.
async fn migrate(client: &mut Client) -> Result<Result<(), i32>, tokio_postgres::Error> {
    let current = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS vmcp_schema (version integer NOT NULL)").await?;
        let found: Option<i32> = tx.query_opt("SELECT version FROM vmcp_schema", &[]).await?.map(|r| r.get(0));
        let found = match found {
            Some(v) => v,
            None => {
                tx.execute("INSERT INTO vmcp_schema (version) VALUES (0)", &[]).await?;
                0
            }
        };
        if found > current {
            return Ok(Err(found));
        }
        for step in MIGRATIONS.iter().skip(usize::try_from(found).unwrap_or(0)) {
            tx.batch_execute(step).await?;
        }
        tx.execute("UPDATE vmcp_schema SET version = $1", &[&current]).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
}

/// TLS for `sslmode=prefer|require`: the system's roots and Mozilla's.
fn tls() -> Result<MakeRustlsConnect, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

//! The SQLite store of runtime mounts: `<state_dir>/registry.db`, the default.
//!
//! Durability: WAL journal with `synchronous = FULL`, so a write is on disk
//! before [`SqliteStore::insert`], [`SqliteStore::remove`] or [`SqliteStore::set_enabled`]
//! returns, and a process killed at any moment (even `kill -9`) loses no
//! acknowledged write. Every write is one `BEGIN IMMEDIATE` transaction whose
//! checks (duplicate, unknown id) run inside it, so a refused write changes
//! nothing. A lock held by someone else is waited for [`BUSY_TIMEOUT`], then
//! reported as [`RegistryError::Locked`] rather than waited on forever.
//!
//! The schema is versioned with `PRAGMA user_version`; [`MIGRATIONS`] lists the
//! steps from an empty file to the current version, and opening applies the
//! missing ones in one transaction.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, params};

use super::error::RegistryError;
use super::mount::{Mount, now_unix};
use super::state_dir::create_state_dir;
use crate::config::is_valid_server_id;

/// The database's file name inside the state directory.
pub const FILE_NAME: &str = "registry.db";

/// How long an operation waits for another connection's lock before failing
/// with [`RegistryError::Locked`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// Schema steps: `MIGRATIONS[n]` takes `user_version` n to n + 1. Append only.
const MIGRATIONS: &[&str] = &[
    // 0 → 1: the mounts table.
    "CREATE TABLE mounts (
        id TEXT PRIMARY KEY NOT NULL,
        snippet TEXT NOT NULL,
        enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
        mounted_at INTEGER NOT NULL
    ) STRICT;",
];

/// The columns of `mounts` at the current version, in order.
const MOUNT_COLUMNS: &[&str] = &["id", "snippet", "enabled", "mounted_at"];

/// The schema version this code reads and writes.
fn schema_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// The registry database. One connection behind a mutex: `Send + Sync`, and
/// cheap enough for the rare writes of mounting and unmounting.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating) `<state_dir>/registry.db`; creates `state_dir` with
    /// mode 0700 if missing. Sets WAL and `synchronous = FULL`, checks the file
    /// (`PRAGMA quick_check`), and migrates the schema to the current version.
    ///
    /// Errors: [`RegistryError::Open`] when the directory or file cannot be
    /// created or opened, [`RegistryError::Locked`] when another connection
    /// holds it locked past [`BUSY_TIMEOUT`], [`RegistryError::Corrupt`] when
    /// the file is not a SQLite database, fails the check, or has a schema
    /// this version does not know.
    pub fn open(state_dir: &Path) -> Result<SqliteStore, RegistryError> {
        create_state_dir(state_dir)?;
        let path = state_dir.join(FILE_NAME);
        let mut conn = Connection::open(&path).map_err(|e| match classify(&path, e) {
            RegistryError::Sql(e) => RegistryError::Open { path: path.clone(), source: Box::new(e) },
            other => other,
        })?;
        setup(&mut conn, &path)?;
        Ok(SqliteStore { conn: Mutex::new(conn), path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every mount, ordered by id.
    pub fn mounts(&self) -> Result<Vec<Mount>, RegistryError> {
        let conn = self.conn();
        let read = || -> rusqlite::Result<Vec<Mount>> {
            let mut statement =
                conn.prepare_cached("SELECT id, snippet, enabled, mounted_at FROM mounts ORDER BY id")?;
            let rows = statement.query_map([], |row| {
                Ok(Mount { id: row.get(0)?, snippet: row.get(1)?, enabled: row.get(2)?, mounted_at: row.get(3)? })
            })?;
            rows.collect()
        };
        read().map_err(|e| classify(&self.path, e))
    }

    /// Adds a mount, stamped with the current time.
    /// [`RegistryError::InvalidId`] if `id` is not `^[a-z][a-z0-9-]{0,31}$`,
    /// [`RegistryError::Duplicate`] if it is already mounted.
    pub fn insert(&self, id: &str, snippet: &str, enabled: bool) -> Result<(), RegistryError> {
        if !is_valid_server_id(id) {
            return Err(RegistryError::InvalidId(id.to_owned()));
        }
        let mounted_at = now_unix();
        self.write(|tx| {
            let exists: bool =
                tx.query_row("SELECT EXISTS (SELECT 1 FROM mounts WHERE id = ?1)", [id], |r| r.get(0))?;
            if exists {
                return Ok(Err(RegistryError::Duplicate(id.to_owned())));
            }
            tx.execute(
                "INSERT INTO mounts (id, snippet, enabled, mounted_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, snippet, enabled, mounted_at],
            )?;
            Ok(Ok(()))
        })
    }

    /// Removes a mount; [`RegistryError::Unknown`] if there is none by `id`.
    pub fn remove(&self, id: &str) -> Result<(), RegistryError> {
        self.write(|tx| {
            let changed = tx.execute("DELETE FROM mounts WHERE id = ?1", [id])?;
            Ok(if changed == 0 { Err(RegistryError::Unknown(id.to_owned())) } else { Ok(()) })
        })
    }

    /// Enables or disables a mount; [`RegistryError::Unknown`] if there is
    /// none by `id`.
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), RegistryError> {
        self.write(|tx| {
            let changed = tx.execute("UPDATE mounts SET enabled = ?2 WHERE id = ?1", params![id, enabled])?;
            Ok(if changed == 0 { Err(RegistryError::Unknown(id.to_owned())) } else { Ok(()) })
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no transaction open (dropping
        // one rolls it back), so the connection is still good.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `body` in an immediate transaction: committed if it returns
    /// `Ok(Ok(_))`, rolled back otherwise (a refusal or a failure).
    fn write<T>(
        &self,
        body: impl FnOnce(&Transaction<'_>) -> rusqlite::Result<Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(|e| classify(&self.path, e))?;
        let value = body(&tx).map_err(|e| classify(&self.path, e))??;
        tx.commit().map_err(|e| classify(&self.path, e))?;
        Ok(value)
    }
}

/// Pragmas, integrity check, migrations and a schema check, on a fresh
/// connection.
fn setup(conn: &mut Connection, path: &Path) -> Result<(), RegistryError> {
    let sql = |e| classify(path, e);
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
    // The first statement that reads the file: a file that is not a
    // database fails here.
    let _mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;

    let problems = quick_check(conn).map_err(sql)?;
    if problems.iter().any(|p| p != "ok") {
        return Err(RegistryError::Corrupt {
            path: path.to_owned(),
            detail: format!("SQLite's integrity check failed: {}", problems.join("; ")),
        });
    }

    let current = schema_version();
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(sql)?;
    if found > current {
        return Err(newer_schema(path, found, current));
    }
    if found < current {
        migrate(conn, path, current)?;
    }

    let columns = mount_columns(conn).map_err(sql)?;
    if columns != MOUNT_COLUMNS {
        let found = if columns.is_empty() { "no such table".to_owned() } else { columns.join(", ") };
        return Err(RegistryError::Corrupt {
            path: path.to_owned(),
            detail: format!(
                "schema version {current} should have a table `mounts` ({}), found: {found}",
                MOUNT_COLUMNS.join(", ")
            ),
        });
    }
    Ok(())
}

/// The first few lines of `PRAGMA quick_check`: `["ok"]` for a sound file.
fn quick_check(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("PRAGMA quick_check(5)")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}

fn mount_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_table_info('mounts') ORDER BY cid")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// Applies the missing migrations in one transaction. The version is read
/// again inside it: another process may have migrated in the meantime.
fn migrate(conn: &mut Connection, path: &Path, current: i64) -> Result<(), RegistryError> {
    let sql = |e| classify(path, e);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(sql)?;
    if found > current {
        return Err(newer_schema(path, found, current));
    }
    let from = usize::try_from(found).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(from) {
        tx.execute_batch(step).map_err(sql)?;
    }
    tx.pragma_update(None, "user_version", current).map_err(sql)?;
    tx.commit().map_err(sql)
}

fn newer_schema(path: &Path, found: i64, current: i64) -> RegistryError {
    RegistryError::Corrupt {
        path: path.to_owned(),
        detail: format!(
            "its schema version is {found}, newer than the {current} this vmcp knows (written by a newer vmcp?)"
        ),
    }
}

/// Sorts SQLite's failures into what a user can act on.
fn classify(path: &Path, error: rusqlite::Error) -> RegistryError {
    match error.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            RegistryError::Locked { path: path.to_owned(), waited: BUSY_TIMEOUT }
        }
        Some(ErrorCode::NotADatabase) => RegistryError::Corrupt { path: path.to_owned(), detail: what_is_there(path) },
        Some(ErrorCode::DatabaseCorrupt) => {
            RegistryError::Corrupt { path: path.to_owned(), detail: format!("SQLite reports: {error}") }
        }
        _ => RegistryError::Sql(error),
    }
}

/// What a file SQLite refuses as a database starts with.
fn what_is_there(path: &Path) -> String {
    const MAGIC: &[u8] = b"SQLite format 3\0";
    let mut head = Vec::with_capacity(MAGIC.len());
    let read = std::fs::File::open(path).and_then(|file| file.take(MAGIC.len() as u64).read_to_end(&mut head));
    match read {
        Err(e) => format!("not a SQLite database (and cannot be read back: {e})"),
        Ok(_) if head.starts_with(MAGIC) => "a SQLite header, but SQLite cannot read the file".to_owned(),
        Ok(_) => format!("not a SQLite database: it begins with \"{}\"", head.escape_ascii()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use super::*;

    fn open(dir: &Path) -> SqliteStore {
        match SqliteStore::open(dir) {
            Ok(store) => store,
            Err(e) => panic!("open {}: {e}", dir.display()),
        }
    }

    fn ids(store: &SqliteStore) -> Vec<(String, String, bool)> {
        let mounts = store.mounts().unwrap_or_else(|e| panic!("mounts: {e}"));
        mounts.into_iter().map(|m| (m.id, m.snippet, m.enabled)).collect()
    }

    fn row(id: &str, snippet: &str, enabled: bool) -> (String, String, bool) {
        (id.to_owned(), snippet.to_owned(), enabled)
    }

    #[test]
    fn insert_list_remove_set_enabled_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        assert_eq!(store.path(), dir.path().join("registry.db"));
        assert!(store.mounts().unwrap().is_empty());

        let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        store.insert("time", "command = \"uvx\"", true).unwrap();
        store.insert("search", "transport = \"http\"\nurl = \"https://x/mcp\"", false).unwrap();
        let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        // Ordered by id, not by insertion.
        assert_eq!(
            ids(&store),
            vec![
                row("search", "transport = \"http\"\nurl = \"https://x/mcp\"", false),
                row("time", "command = \"uvx\"", true)
            ]
        );
        for mount in store.mounts().unwrap() {
            assert!((before..=after).contains(&mount.mounted_at), "{mount:?} not in {before}..={after}");
        }

        store.set_enabled("search", true).unwrap();
        store.set_enabled("time", false).unwrap();
        // Setting the value it already has is fine, not Unknown.
        store.set_enabled("time", false).unwrap();
        assert_eq!(
            ids(&store),
            vec![
                row("search", "transport = \"http\"\nurl = \"https://x/mcp\"", true),
                row("time", "command = \"uvx\"", false)
            ]
        );

        store.remove("search").unwrap();
        assert_eq!(ids(&store), vec![row("time", "command = \"uvx\"", false)]);
        store.remove("time").unwrap();
        assert!(store.mounts().unwrap().is_empty());
    }

    #[test]
    fn refused_writes_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.insert("time", "command = \"a\"", true).unwrap();
        let before = store.mounts().unwrap();

        let e = store.insert("time", "command = \"b\"", false).unwrap_err();
        assert!(matches!(&e, RegistryError::Duplicate(id) if id == "time"), "{e:?}");
        assert_eq!(e.to_string(), "server `time` is already mounted; unmount it first");

        let e = store.remove("nope").unwrap_err();
        assert!(matches!(&e, RegistryError::Unknown(id) if id == "nope"), "{e:?}");
        assert_eq!(e.to_string(), "server `nope` is not mounted");
        let e = store.set_enabled("nope", false).unwrap_err();
        assert!(matches!(&e, RegistryError::Unknown(id) if id == "nope"), "{e:?}");

        for bad in ["Time", "1x", "a_b", "", "a b", &"x".repeat(33)] {
            let e = store.insert(bad, "command = \"c\"", true).unwrap_err();
            assert!(matches!(&e, RegistryError::InvalidId(id) if id == bad), "{e:?}");
        }
        assert!(store.insert(&"x".repeat(32), "command = \"c\"", true).is_ok());
        store.remove(&"x".repeat(32)).unwrap();

        assert_eq!(store.mounts().unwrap(), before);
    }

    #[test]
    fn reopening_sees_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.insert("a", "command = \"a\"", true).unwrap();
        store.insert("b", "command = \"b\"", false).unwrap();
        store.insert("c", "command = \"c\"", true).unwrap();
        store.remove("c").unwrap();
        let before = store.mounts().unwrap();
        drop(store);

        let store = open(dir.path());
        assert_eq!(store.mounts().unwrap(), before);
        assert_eq!(before.len(), 2);
        let version: i64 = store.conn().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, schema_version());
        let mode: String = store.conn().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        // synchronous = FULL is 2.
        let synchronous: i64 = store.conn().pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(synchronous, 2);
    }

    /// The child half of [`acknowledged_mounts_survive_kill_9`]: mounts, then
    /// kills itself with SIGKILL, with the connection still open.
    #[test]
    #[ignore = "run by acknowledged_mounts_survive_kill_9 in a child process"]
    fn child_mounts_then_is_killed() {
        let Some(dir) = std::env::var_os("VMCP_REGISTRY_KILL_TEST_DIR") else { return };
        let store = open(Path::new(&dir));
        store.insert("first", "command = \"a\"", true).unwrap();
        store.insert("second", "command = \"b\"", false).unwrap();
        store.set_enabled("first", false).unwrap();
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::Signal::SIGKILL);
        unreachable!("SIGKILL returned");
    }

    #[test]
    fn acknowledged_mounts_survive_kill_9() {
        use std::os::unix::process::ExitStatusExt;
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "registry::sqlite::tests::child_mounts_then_is_killed", "--ignored", "--test-threads=1"])
            .env("VMCP_REGISTRY_KILL_TEST_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "the child should die by SIGKILL: {status:?}");
        // Not checkpointed: the rows live in the WAL the killed process left.
        assert!(dir.path().join("registry.db-wal").exists());
        let store = open(dir.path());
        assert_eq!(ids(&store), vec![row("first", "command = \"a\"", false), row("second", "command = \"b\"", false)]);
    }

    #[test]
    fn a_held_write_lock_gives_locked_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        store.insert("time", "command = \"a\"", true).unwrap();

        let other = Connection::open(store.path()).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE; INSERT INTO mounts VALUES ('held', 'x', 1, 0);").unwrap();
        let started = Instant::now();
        let e = store.insert("search", "command = \"b\"", true).unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(&e, RegistryError::Locked { path, .. } if path == store.path()), "{e:?}");
        assert!(waited >= BUSY_TIMEOUT - Duration::from_millis(200), "gave up too early: {waited:?}");
        assert!(waited < BUSY_TIMEOUT + Duration::from_secs(5), "waited too long: {waited:?}");
        assert!(e.to_string().contains("is locked by another process"), "{e}");
        assert!(matches!(store.remove("time"), Err(RegistryError::Locked { .. })));
        assert!(matches!(store.set_enabled("time", false), Err(RegistryError::Locked { .. })));
        // WAL: reads go on, and see neither the held write nor a change.
        assert_eq!(ids(&store), vec![row("time", "command = \"a\"", true)]);

        other.execute_batch("ROLLBACK").unwrap();
        store.insert("search", "command = \"b\"", true).unwrap();
        assert_eq!(ids(&store).len(), 2);
    }

    #[test]
    fn opening_a_database_locked_by_another_process_gives_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        // A rollback-journal writer holding EXCLUSIVE keeps readers out too.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE; CREATE TABLE t (x);").unwrap();
        let started = Instant::now();
        let e = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(&e, RegistryError::Locked { path: p, .. } if *p == path), "{e:?}");
        assert!(started.elapsed() < BUSY_TIMEOUT + Duration::from_secs(5));
        other.execute_batch("ROLLBACK").unwrap();
        drop(other);
        assert!(open(dir.path()).mounts().unwrap().is_empty());
    }

    #[test]
    fn a_garbage_file_is_corrupt_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let garbage = b"this is not a database, just text that is long enough\n".repeat(100);
        std::fs::write(&path, &garbage).unwrap();
        let e = SqliteStore::open(dir.path()).unwrap_err();
        match &e {
            RegistryError::Corrupt { path: p, detail } => {
                assert_eq!(*p, path);
                assert_eq!(detail, "not a SQLite database: it begins with \"this is not a da\"");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        let message = e.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_newer_or_foreign_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", schema_version() + 1).unwrap();
        drop(conn);
        let e = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(&e, RegistryError::Corrupt { detail, .. } if detail.contains("newer")), "{e:?}");

        // Current version, but not our table.
        std::fs::remove_file(&path).unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE mounts (name TEXT); PRAGMA user_version = 1;").unwrap();
        drop(conn);
        let e = SqliteStore::open(dir.path()).unwrap_err();
        assert!(matches!(&e, RegistryError::Corrupt { detail, .. } if detail.contains("found: name")), "{e:?}");
    }

    #[test]
    fn state_dir_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("a/b/state");
        let store = open(&state);
        let mode = std::fs::metadata(&state).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{mode:o}");
        assert!(store.path().starts_with(&state));

        // Not a directory: Open, naming it.
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = SqliteStore::open(&file).unwrap_err();
        assert!(matches!(&e, RegistryError::Open { path, .. } if *path == file), "{e:?}");
    }

    #[test]
    fn store_is_shared_across_threads_and_connections() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<SqliteStore>();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || store.insert(&format!("s{i}"), "command = \"x\"", true))
            })
            .collect();
        for thread in threads {
            thread.join().unwrap().unwrap();
        }
        // A second store on the same file (another process, say) sees them.
        let second = open(dir.path());
        let seen: Vec<String> = second.mounts().unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(seen, ["s0", "s1", "s2", "s3"]);
    }
}

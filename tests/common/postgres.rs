//! A private PostgreSQL for a test: a fresh cluster (`initdb`) in a temporary
//! directory, listening on a free loopback port, stopped when dropped.
//!
//! The server binaries come from `VMCP_TEST_PG_BIN` (`.ci/run` installs Debian's
//! `postgresql` and exports it), else the newest `/usr/lib/postgresql/*/bin`.
//! Without either a test is skipped loudly, or fails when `CI` is set. PostgreSQL
//! refuses to run as root: as root, its commands run as the `postgres` user the
//! package creates (`runuser`), in directories handed to that user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    sockets: PathBuf,
    pub port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    /// Starts one, or returns `None` (the test is skipped) when there is no
    /// PostgreSQL on this machine and `CI` is not set.
    pub fn start(test: &str) -> Option<Postgres> {
        let Some(bin) = binaries() else {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: no PostgreSQL server binaries (VMCP_TEST_PG_BIN, /usr/lib/postgresql/*/bin)");
            }
            eprintln!("SKIPPED {test}: no PostgreSQL (apt-get install postgresql, or set VMCP_TEST_PG_BIN)");
            return None;
        };
        let as_postgres = nix::unistd::geteuid().is_root();
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&sockets).expect("sockets dir");
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
            run_ok(Command::new("chown").arg("postgres:").arg(&sockets));
            run_ok(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let port = free_port();
        let pg = Postgres { bin, data, sockets, port, as_postgres, _dir: dir };
        pg.run(
            "initdb",
            &["-D", &pg.data.display().to_string(), "-U", "vmcp", "--auth=trust", "-E", "UTF8", "--no-sync"],
        );
        pg.start_server();
        Some(pg)
    }

    /// Starts the server (again) on its port, and waits until it accepts connections.
    pub fn start_server(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off",
            self.port,
            self.sockets.display()
        );
        let log = self.data.with_file_name("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server at once (`-m fast`: connections are cut), keeping its data.
    pub fn stop_server(&self) {
        self.run("pg_ctl", &["-D", &self.data.display().to_string(), "-m", "fast", "-w", "stop"]);
    }

    /// The URL of its `postgres` database as the superuser `vmcp`.
    pub fn url(&self) -> String {
        format!("postgres://vmcp@127.0.0.1:{}/postgres", self.port)
    }

    /// A connection for the test itself, driven on the test's runtime.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.url(), tokio_postgres::NoTls).await.expect("connect to the test PostgreSQL");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap_or_else(|e| panic!("run {program}: {e}"));
        check(program, &out);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ =
            self.command("pg_ctl").args(["-D", &self.data.display().to_string(), "-m", "immediate", "stop"]).output();
    }
}

fn binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VMCP_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| Path::new(&bin.join("initdb")).exists())
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("address").port()
}

fn run_ok(c: &mut Command) {
    let out = c.output().expect("run");
    check(&format!("{c:?}"), &out);
}

fn check(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

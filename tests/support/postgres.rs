//! A throwaway PostgreSQL server for tests, from the Debian `postgresql` package (or any
//! installation whose `initdb` and `pg_ctl` are found, see below).
//!
//! [`PgServer::start`] runs `initdb` in a new temporary directory, starts the server on a free
//! port of 127.0.0.1 only (its Unix socket inside that directory, password authentication
//! with a random password), waits until it accepts connections, and stops it and removes the
//! directory on drop. [`test_database`] hands out a fresh database on one server shared by
//! the whole test process, as a libpq connection string.
//!
//! - **As root** (PostgreSQL refuses to run as root), the server runs as the `postgres`
//!   system user that the Debian package creates (created with `useradd --system` if
//!   missing): the temporary directory is owned by that user and `initdb`/`pg_ctl` run through
//!   `runuser -u postgres --`.
//! - **Binaries**: `$SPLIT_RSA_PG_BIN` if set, else the newest `/usr/lib/postgresql/*/bin`,
//!   else `pg_ctl` on the `PATH`.
//! - **CI** (`CI=true`): a server that cannot be started fails the test, never skips it.
//!   Outside CI, missing binaries skip the PostgreSQL tests with a loud message (any other
//!   failure still fails).
//! - **Cleanup** even if the test process is killed: each server has a small watchdog shell
//!   that stops it and removes its directory once the test process is gone.
#![allow(dead_code)]
// Test support: failing to provide the server is a failed test.
#![allow(clippy::panic)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The user the tests' server runs as when the tests run as root.
const SYSTEM_USER: &str = "postgres";
/// The database superuser `initdb` creates.
const DB_USER: &str = "splitrsa";

/// A running throwaway server; stopped and removed on drop.
#[derive(Debug)]
pub struct PgServer {
    dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    password: String,
    run_as: Option<String>,
    watchdog: Option<Child>,
}

/// Whether this run is CI (`CI=true`), where nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The directory holding `initdb` and `pg_ctl`, if any.
pub fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPLIT_RSA_PG_BIN").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).find(|d| has_tools(d)))
}

/// Runs a command, returning its output or a description of the failure.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{cmd:?} failed ({}):\n{text}", out.status))
    }
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0")
}

/// uid and gid of the system user the server runs as (created if missing).
fn system_user_ids() -> Result<(u32, u32), String> {
    if run(Command::new("id").args(["-u", SYSTEM_USER])).is_err() {
        run(Command::new("useradd").args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SYSTEM_USER,
        ]))?;
    }
    let id = |flag: &str| -> Result<u32, String> {
        run(Command::new("id").args([flag, SYSTEM_USER]))?
            .trim()
            .parse()
            .map_err(|e| format!("id {flag} {SYSTEM_USER}: {e}"))
    };
    Ok((id("-u")?, id("-g")?))
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    Ok(buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

impl PgServer {
    /// Starts a server, or returns `None` (after a loud message) when PostgreSQL is not
    /// installed and this is not CI. Panics on any other failure, and in CI on every failure.
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bin_dir() else {
            let msg = "PostgreSQL binaries (initdb, pg_ctl) not found: install the Debian \
                       `postgresql` package or set SPLIT_RSA_PG_BIN";
            if in_ci() {
                panic!("{msg} (CI=true: this is a failure, not a skip)");
            }
            eprintln!(
                "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
                 !!! SKIPPING the PostgreSQL key-store tests: {msg}\n\
                 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
            );
            return None;
        };
        match Self::try_start(&bin) {
            Ok(server) => Some(server),
            Err(e) => panic!(
                "cannot start a throwaway PostgreSQL from {}: {e}",
                bin.display()
            ),
        }
    }

    fn try_start(bin: &Path) -> Result<Self, String> {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let run_as = is_root().then(|| SYSTEM_USER.to_string());
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "split-rsa-pg-{}-{}-{nanos:x}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let mut server = Self {
            data: dir.join("data"),
            dir,
            bin: bin.to_path_buf(),
            port: 0,
            password: random_hex(24)?,
            run_as,
            watchdog: None,
        };
        // From here on, dropping `server` cleans up whatever was created.
        std::fs::set_permissions(&server.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("chmod {}: {e}", server.dir.display()))?;
        let pwfile = server.dir.join("pwfile");
        std::fs::write(&pwfile, &server.password).map_err(|e| format!("pwfile: {e}"))?;
        if server.run_as.is_some() {
            let (uid, gid) = system_user_ids()?;
            for p in [&server.dir, &pwfile] {
                std::os::unix::fs::chown(p, Some(uid), Some(gid))
                    .map_err(|e| format!("chown {}: {e}", p.display()))?;
            }
        }
        server.spawn_watchdog()?;
        run(server
            .tool("initdb")
            .arg("-D")
            .arg(&server.data)
            .args([
                "-U",
                DB_USER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            // A test server: no need to wait for initdb's own fsyncs (the server itself runs
            // with fsync on).
            .arg("--no-sync"))?;
        let _ = std::fs::remove_file(&pwfile);

        let mut last_err = String::new();
        for _ in 0..3 {
            server.port = free_port()?;
            // Appended last, so these settings win over initdb's.
            let conf = format!(
                "\n# split-rsa tests\nlisten_addresses = '127.0.0.1'\nport = {}\n\
                 unix_socket_directories = '{}'\nmax_connections = 64\nshared_buffers = 16MB\n\
                 fsync = on\nsynchronous_commit = on\n",
                server.port,
                server.dir.display()
            );
            let conf_path = server.data.join("postgresql.conf");
            let mut text = std::fs::read_to_string(&conf_path)
                .map_err(|e| format!("{}: {e}", conf_path.display()))?;
            if let Some(i) = text.find("\n# split-rsa tests\n") {
                text.truncate(i);
            }
            text.push_str(&conf);
            std::fs::write(&conf_path, text)
                .map_err(|e| format!("{}: {e}", conf_path.display()))?;
            match run(server
                .tool("pg_ctl")
                .arg("-D")
                .arg(&server.data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]))
            {
                Ok(_) => return Ok(server),
                Err(e) => {
                    let log =
                        std::fs::read_to_string(server.dir.join("server.log")).unwrap_or_default();
                    last_err = format!("{e}\nserver log:\n{log}");
                    // Another process may have taken the port in between: try another one.
                }
            }
        }
        Err(last_err)
    }

    /// A command for one of the server's tools, as the system user when running as root.
    fn tool(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Stops the server and removes its directory once this process is gone, however it ends.
    fn spawn_watchdog(&mut self) -> Result<(), String> {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = match &self.run_as {
            Some(user) => format!("runuser -u {user} -- \"$2\" -D \"$3\" -m immediate stop"),
            None => "\"$2\" -D \"$3\" -m immediate stop".to_string(),
        };
        let script = format!(
            "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; \
             if [ -f \"$3/postmaster.pid\" ]; then {stop}; fi; rm -rf \"$4\""
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("split-rsa-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(pg_ctl)
            .arg(&self.data)
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the cleanup watchdog: {e}"))?;
        self.watchdog = Some(child);
        Ok(())
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A libpq connection string for database `dbname` on this server.
    pub fn connection_string(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user={DB_USER} password={} dbname={dbname} connect_timeout=10",
            self.port, self.password
        )
    }

    /// Creates database `name` and returns its connection string.
    pub fn create_database(&self, name: &str) -> String {
        run(Command::new(self.bin.join("createdb"))
            .env("PGPASSWORD", &self.password)
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                DB_USER,
                name,
            ]))
        .unwrap_or_else(|e| panic!("createdb {name}: {e}"));
        self.connection_string(name)
    }

    /// Creates a database with a fresh name and returns its connection string.
    pub fn fresh_database(&self) -> String {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "split_rsa_test_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        self.create_database(&name)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.data.join("postmaster.pid").exists() {
            let stopped = run(self
                .tool("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "fast", "-w", "-t", "30", "stop"]));
            if stopped.is_err() {
                let _ = run(self.tool("pg_ctl").arg("-D").arg(&self.data).args([
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
    }
}

/// A database on the test process's shared server; keeps the server alive while it lives.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    server: Arc<PgServer>,
    url: String,
}

impl TestDatabase {
    /// Its libpq connection string.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server it lives on.
    pub fn server(&self) -> &PgServer {
        &self.server
    }
}

/// A fresh database on a server shared by this test process (started on first use; stopped
/// and removed by its watchdog when the process ends), or `None` when PostgreSQL is not
/// installed outside CI.
pub fn test_database() -> Option<TestDatabase> {
    static SHARED: OnceLock<Mutex<Option<Arc<PgServer>>>> = OnceLock::new();
    let slot = SHARED.get_or_init(|| Mutex::new(None));
    let server = {
        let mut guard = slot.lock().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some(s) => Arc::clone(s),
            None => {
                let started = Instant::now();
                let s = Arc::new(PgServer::start()?);
                eprintln!(
                    "throwaway PostgreSQL on 127.0.0.1:{} started in {:.1?}",
                    s.port(),
                    started.elapsed()
                );
                *guard = Some(Arc::clone(&s));
                s
            }
        }
    };
    let url = server.fresh_database();
    Some(TestDatabase { server, url })
}

//! Shared set-up for the tests that run servers and devices in several OS processes
//! (tests/store_processes.rs, tests/crash.rs): the test binary re-executes itself as a child
//! with an environment variable; parent and children share files in a temporary directory
//! (the transport key and KEK bytes, messages, device records, logs).
//!
//! - [`CountingKek`] (`hooked_kek.rs`): a `LocalKek` that counts share openings (one per
//!   evaluated partial signature, so one per PIN-guess evaluation);
//! - [`write_atomic`]: the device's durable record write (temp file, fsync, rename, fsync of
//!   the directory), as SPEC §10 asks of an application;
//! - [`TempDir`], [`ChildGuard`] (a child killed with SIGKILL and reaped when dropped), hex.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[path = "hooked_kek.rs"]
mod hooked_kek;
// Not every test that includes this file uses the KEK hooks.
#[allow(unused_imports)]
pub use hooked_kek::{CountingKek, HookedKek, OnOpen};

/// A key store shared by the threads of one process.
pub type Store = std::sync::Arc<dyn split_rsa::KeyStore + Send + Sync>;

/// Opens the store of `kind` (`sqlite`: a file path; `postgres`: a connection string).
pub fn open_store(kind: &str, target: &str) -> Store {
    match kind {
        "sqlite" => std::sync::Arc::new(split_rsa::SqliteKeyStore::open(target).unwrap()),
        #[cfg(feature = "postgres")]
        "postgres" => std::sync::Arc::new(split_rsa::PostgresKeyStore::connect(target).unwrap()),
        other => panic!("unknown store {other}"),
    }
}

/// Registers a signing key with PIN `digits` (SPEC §3: challenge, request, sealed answer, PIN
/// seal) at a test size, the way every multi-process test starts.
pub fn register_device<K: split_rsa::KeyStore, E: split_rsa::KeyEncryptionKey>(
    rng: &mut rand_chacha::ChaCha20Rng,
    server: &split_rsa::Server<K, E>,
    size: split_rsa::KeySize,
    digits: &str,
    now: u64,
) -> split_rsa::DeviceRecord {
    use split_rsa::{Argon2Params, DeviceRegistration, KeyPurpose, Pin};
    let challenge = server.issue_challenge(rng, now);
    let (registration, request) = DeviceRegistration::start(
        rng,
        &challenge,
        KeyPurpose::Signing,
        size,
        &server.transport_public_key(),
    )
    .unwrap();
    let registered = server.register(rng, &request, now).unwrap();
    let answer = registration.open_response(&registered.response).unwrap();
    let pin = Pin::new_allow_trivial(digits, KeyPurpose::Signing).unwrap();
    registration
        .finish(rng, answer, &pin, Argon2Params::insecure_fast_for_tests())
        .unwrap()
}

/// A temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "split-rsa-{label}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed (SIGKILL) and reaped if still running when dropped, so a
/// failing parent leaves no worker behind.
#[derive(Debug)]
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    pub fn take(&mut self) -> Child {
        self.0.take().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writes `bytes` to `path` so that after a crash at any point the file holds either its old
/// content or all of `bytes`: a temporary file in the same directory, written and fsync'd,
/// renamed over `path`, then the directory fsync'd (so the rename itself is durable).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Appends one line to a log with a single `write` (O_APPEND): a process killed at any point
/// leaves whole lines only. Not fsync'd: the tests kill processes, not the machine.
pub fn append_line(path: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(format!("{line}\n").as_bytes()).unwrap();
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2).unwrap(), 16).unwrap())
        .collect()
}

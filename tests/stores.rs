//! Key stores (SPEC §3.5, §7) against the conformance kit, one check per guarantee written on
//! `KeyStore`: the in-memory store, the SQLite store on a temporary file, and the PostgreSQL
//! store on a throwaway server (tests/support/postgres.rs). Then the guarantee the lockout
//! rests on across OS processes: 2 processes × 8 threads doing load → compare-and-swap
//! increments of one record, in one SQLite file and in one PostgreSQL database, lose no
//! update and see no error but `Conflict`.
#![cfg(feature = "test-kit")]
// Test code: a panic is a failed test (clippy.toml allows it in `#[test]` functions only, not
// in their helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[cfg(feature = "postgres")]
#[path = "support/postgres.rs"]
mod pg_support;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "split-rsa-stores-{label}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The in-memory store, one `#[test]` per check (this also tests the macro).
mod in_memory {
    split_rsa::key_store_conformance_tests!(split_rsa::InMemoryKeyStore::new);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::error::Error as _;

    use split_rsa::{KeyStore, NewRecord, SqliteKeyStore, StoreError, test_kit};

    use super::TempDir;

    /// One `#[test]` per check, each on its own temporary file (removed when the factory,
    /// which owns the directory, drops at the end of the test).
    mod kit {
        use split_rsa::SqliteKeyStore;

        use super::super::TempDir;

        split_rsa::key_store_conformance_tests!(
            {
                let dir = TempDir::new("sqlite-kit");
                move || SqliteKeyStore::open(dir.path().join("keys.sqlite")).unwrap()
            },
            reopen: {
                let dir = TempDir::new("sqlite-kit-reopen");
                move || SqliteKeyStore::open(dir.path().join("keys.sqlite")).unwrap()
            }
        );
    }

    /// Processes starting together on a new file create the schema once, without an error.
    #[test]
    fn concurrent_first_open() {
        let dir = TempDir::new("sqlite-open");
        let path = dir.path().join("keys.sqlite");
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| s.spawn(|| SqliteKeyStore::open(&path).map(drop)))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        test_kit::insert_starts_at_version_0(&SqliteKeyStore::open(&path).unwrap()).unwrap();
    }

    /// A file written by a newer library (schema version 2) is refused, not written into.
    #[test]
    fn newer_schema_is_refused() {
        let dir = TempDir::new("sqlite-schema");
        let path = dir.path().join("keys.sqlite");
        drop(SqliteKeyStore::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "INSERT INTO split_rsa_schema_migrations (version, applied_at) VALUES (?1, 0)",
            [split_rsa::SQLITE_SCHEMA_VERSION + 1],
        )
        .unwrap();
        drop(conn);
        match SqliteKeyStore::open(&path) {
            Err(StoreError::Backend(e)) => {
                assert!(e.to_string().contains("newer"), "{e}");
            }
            other => panic!("opened a newer schema: {other:?}"),
        }
    }

    /// An in-memory database cannot be durable: refused.
    #[test]
    fn in_memory_database_is_refused() {
        assert!(matches!(
            SqliteKeyStore::open(":memory:"),
            Err(StoreError::Backend(_))
        ));
    }

    /// A driver failure is a `Backend` error whose source is the driver's error.
    #[test]
    fn backend_error_carries_the_driver_error() {
        let dir = TempDir::new("sqlite-err");
        let path = dir.path().join("not-a-database");
        std::fs::write(&path, [0x5a; 8192]).unwrap();
        let err = SqliteKeyStore::open(&path).unwrap_err();
        let StoreError::Backend(backend) = &err else {
            panic!("{err:?}")
        };
        let source = backend.source().expect("the driver's error is the source");
        assert!(
            source.downcast_ref::<rusqlite::Error>().is_some(),
            "{source:?}"
        );
        // And a directory that does not exist: the operating system's error.
        let err =
            SqliteKeyStore::open(dir.path().join("no such dir").join("keys.sqlite")).unwrap_err();
        let StoreError::Backend(backend) = &err else {
            panic!("{err:?}")
        };
        assert!(backend.source().is_some(), "{backend:?}");
    }

    /// The file, its WAL and shared-memory files are private to the server's user.
    #[cfg(unix)]
    #[test]
    fn file_is_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TempDir::new("sqlite-mode");
        let path = dir.path().join("keys.sqlite");
        let store = SqliteKeyStore::open(&path).unwrap();
        test_kit::insert_counter(&store).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let file = dir.path().join(format!("keys.sqlite{suffix}"));
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}: {mode:o}", file.display());
        }
    }

    /// `integrity_check` is no rubber stamp: a file with overwritten pages is reported.
    #[test]
    fn integrity_check_reports_damage() {
        let dir = TempDir::new("sqlite-damage");
        let path = dir.path().join("keys.sqlite");
        {
            let store = SqliteKeyStore::open(&path).unwrap();
            for _ in 0..200 {
                let id = test_kit::insert_counter(&store).unwrap();
                store.compare_and_swap(&id, 0, &[0x42; 600]).unwrap();
            }
            store.integrity_check().unwrap();
        }
        // The last connection closed: the WAL is checkpointed into the file. Damage a page in
        // the middle of the table's b-tree.
        let mut bytes = std::fs::read(&path).unwrap();
        assert!(bytes.len() > 16 * 4096, "{} bytes", bytes.len());
        let page = 4096 * 10;
        bytes[page..page + 4096].fill(0xa5);
        std::fs::write(&path, bytes).unwrap();
        let damaged = SqliteKeyStore::open(&path).and_then(|s| s.integrity_check());
        assert!(
            matches!(damaged, Err(StoreError::Backend(_))),
            "{damaged:?}"
        );
    }

    /// A refused insert leaves no row in the file (the kit checks it through the store; this
    /// looks at the table itself), and leaves its other values free.
    #[test]
    fn insert_writes_nothing_on_duplicate() {
        let dir = TempDir::new("sqlite-dup");
        let path = dir.path().join("keys.sqlite");
        let store = SqliteKeyStore::open(&path).unwrap();
        let id = test_kit::insert_counter(&store).unwrap();
        let n1 = [7u8; 32];
        let other_id: [u8; 16] = [9; 16];
        let err = store
            .insert(&NewRecord {
                key_id: &id,
                n1_hash: &n1,
                challenge: &[1; 16],
                blob: b"dup",
            })
            .unwrap_err();
        assert_eq!(err, StoreError::Duplicate(split_rsa::Uniqueness::KeyId));
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM split_rsa_key_records", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(rows, 1);
        store
            .insert(&NewRecord {
                key_id: &other_id.into(),
                n1_hash: &n1,
                challenge: &[1; 16],
                blob: b"not a dup",
            })
            .unwrap();
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use std::error::Error as _;

    use split_rsa::{KeyStore, PostgresKeyStore, StoreError, test_kit};

    use super::pg_support::test_database;

    #[test]
    fn conformance() {
        let Some(db) = test_database() else { return };
        let open = || PostgresKeyStore::connect(db.url()).unwrap();
        test_kit::run_all(open).unwrap();
        test_kit::run_reopen(open).unwrap();
    }

    /// Servers starting together on a new database create the schema once (advisory lock),
    /// without an error.
    #[test]
    fn concurrent_first_open() {
        let Some(db) = test_database() else { return };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| s.spawn(|| PostgresKeyStore::connect(db.url()).map(drop)))
                .collect();
            for h in handles {
                h.join().unwrap().unwrap();
            }
        });
        let store = PostgresKeyStore::connect(db.url()).unwrap();
        test_kit::insert_starts_at_version_0(&store).unwrap();
    }

    /// A database migrated by a newer library is refused, not written into.
    #[test]
    fn newer_schema_is_refused() {
        let Some(db) = test_database() else { return };
        drop(PostgresKeyStore::connect(db.url()).unwrap());
        let mut client = ::postgres::Client::connect(db.url(), ::postgres::NoTls).unwrap();
        client
            .execute(
                "INSERT INTO split_rsa_schema_migrations (version) VALUES ($1)",
                &[&(split_rsa::POSTGRES_SCHEMA_VERSION + 1)],
            )
            .unwrap();
        match PostgresKeyStore::connect(db.url()) {
            Err(StoreError::Backend(e)) => assert!(e.to_string().contains("newer"), "{e}"),
            other => panic!("opened a newer schema: {other:?}"),
        }
    }

    /// Connections the server closed are replaced: a read that finds its connection closed
    /// runs again on a new one; a write is not repeated (it may have committed), it fails with
    /// a `Backend` error carrying the driver's error, and the next one works.
    #[test]
    fn reconnects_after_the_server_closed_connections() {
        let Some(db) = test_database() else { return };
        let store = PostgresKeyStore::connect(db.url()).unwrap();
        let id = test_kit::insert_counter(&store).unwrap();
        let mut admin = ::postgres::Client::connect(db.url(), ::postgres::NoTls).unwrap();
        let mut terminate = || {
            let killed: i64 = admin
                .query_one(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE datname = current_database() AND pid <> pg_backend_pid()",
                    &[],
                )
                .unwrap()
                .get(0);
            assert!(killed >= 1, "no store connection to terminate");
            // Let the terminations land.
            std::thread::sleep(std::time::Duration::from_millis(200));
        };
        terminate();
        assert_eq!(test_kit::read_counter(&store, &id).unwrap(), 0);

        terminate();
        match store.compare_and_swap(&id, 0, b"not a counter") {
            Err(StoreError::Backend(e)) => assert!(
                e.source()
                    .is_some_and(|s| s.downcast_ref::<::postgres::Error>().is_some()),
                "{e:?}"
            ),
            other => panic!("a write on a closed connection: {other:?}"),
        }
        test_kit::increment_counter(&store, &id, 3).unwrap();
        assert_eq!(test_kit::read_counter(&store, &id).unwrap(), 3);
    }

    /// A server that cannot be reached is a `Backend` error carrying the driver's error.
    #[test]
    fn unreachable_server_is_a_backend_error() {
        // Port 1 on loopback: nothing listens there.
        let err = PostgresKeyStore::connect(
            "host=127.0.0.1 port=1 user=nobody dbname=nothing connect_timeout=2",
        )
        .unwrap_err();
        let StoreError::Backend(e) = &err else {
            panic!("{err:?}")
        };
        assert!(
            e.source()
                .is_some_and(|s| s.downcast_ref::<::postgres::Error>().is_some()),
            "{e:?}"
        );
    }
}

/// 2 OS processes × 8 threads, compare-and-swap increments of one record. The test binary
/// re-executes itself: `multiprocess::child` (ignored in normal runs) is the worker.
mod multiprocess {
    use std::process::Command;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use split_rsa::test_kit::{self, CasStats};
    use split_rsa::{KeyStore, StoreError};

    const PROCESSES: usize = 2;
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 25;

    const CHILD: &str = "SPLIT_RSA_STORES_CHILD";
    const TARGET: &str = "SPLIT_RSA_STORES_TARGET";
    const KEY: &str = "SPLIT_RSA_STORES_KEY";
    const START_MS: &str = "SPLIT_RSA_STORES_START_MS";

    fn now_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn unhex(s: &str) -> [u8; 16] {
        let v: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    /// The worker, run only in the child processes `run_children` starts (it returns at once
    /// without their environment).
    #[test]
    #[ignore = "worker of the multi-process tests, which run it in child processes"]
    fn child() {
        let Ok(kind) = std::env::var(CHILD) else {
            return;
        };
        let target = std::env::var(TARGET).unwrap();
        let key = unhex(&std::env::var(KEY).unwrap());
        let start: u64 = std::env::var(START_MS).unwrap().parse().unwrap();
        let began = std::cell::Cell::new(0);
        let stats = match kind.as_str() {
            #[cfg(feature = "sqlite")]
            "sqlite" => {
                // One connection per thread, as separate servers would have.
                let stores: Vec<_> = (0..THREADS)
                    .map(|_| split_rsa::SqliteKeyStore::open(&target).unwrap())
                    .collect();
                std::thread::sleep(Duration::from_millis(start.saturating_sub(now_ms())));
                began.set(now_ms());
                std::thread::scope(|s| {
                    let handles: Vec<_> = stores
                        .iter()
                        .map(|store| {
                            s.spawn(move || {
                                test_kit::increment_counter(store, &key.into(), PER_THREAD)
                            })
                        })
                        .collect();
                    handles.into_iter().fold(CasStats::default(), |acc, h| {
                        let s = h.join().unwrap().unwrap_or_else(|f| panic!("{f}"));
                        CasStats {
                            increments: acc.increments + s.increments,
                            conflicts: acc.conflicts + s.conflicts,
                        }
                    })
                })
            }
            #[cfg(feature = "postgres")]
            "postgres" => {
                // One store per process: 8 threads share its pool of connections.
                let store = split_rsa::PostgresKeyStore::connect(&target).unwrap();
                std::thread::sleep(Duration::from_millis(start.saturating_sub(now_ms())));
                began.set(now_ms());
                test_kit::hammer_counter(&store, &key.into(), THREADS, PER_THREAD)
                    .unwrap_or_else(|f| panic!("{f}"))
            }
            other => panic!("unknown child mode {other}"),
        };
        println!(
            "\nCHILD-STATS increments={} conflicts={} began={} ended={}",
            stats.increments,
            stats.conflicts,
            began.get(),
            now_ms()
        );
    }

    /// Starts `PROCESSES` children on `target`, waits for them, checks that they ran at the
    /// same time, returns their counts.
    fn run_children(kind: &str, target: &str, key: &[u8; 16]) -> Vec<CasStats> {
        let exe = std::env::current_exe().unwrap();
        let start = now_ms() + 1500;
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(&exe)
                    .args([
                        "--ignored",
                        "--exact",
                        "multiprocess::child",
                        "--nocapture",
                        "--test-threads=1",
                    ])
                    .env(CHILD, kind)
                    .env(TARGET, target)
                    .env(KEY, hex(key))
                    .env(START_MS, start.to_string())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let results: Vec<(CasStats, u64, u64)> = children
            .into_iter()
            .map(|c| {
                let out = c.wait_with_output().unwrap();
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr);
                assert!(
                    out.status.success(),
                    "child failed ({}):\n{stdout}\n{stderr}",
                    out.status
                );
                let line = stdout
                    .lines()
                    .find_map(|l| l.split_once("CHILD-STATS ").map(|(_, r)| r))
                    .unwrap_or_else(|| panic!("child printed no stats:\n{stdout}\n{stderr}"));
                let field = |name: &str| -> u64 {
                    line.split_whitespace()
                        .find_map(|f| f.strip_prefix(name))
                        .unwrap()
                        .parse()
                        .unwrap()
                };
                let stats = CasStats {
                    increments: field("increments="),
                    conflicts: field("conflicts="),
                };
                (stats, field("began="), field("ended="))
            })
            .collect();
        // The point is concurrency between processes: their increment loops must overlap.
        let last_began = results.iter().map(|r| r.1).max().unwrap();
        let first_ended = results.iter().map(|r| r.2).min().unwrap();
        assert!(
            last_began < first_ended,
            "{kind}: the child processes did not run at the same time (one ended at \
             {first_ended} ms, before another began at {last_began} ms); raise PER_THREAD"
        );
        results.into_iter().map(|r| r.0).collect()
    }

    fn check(kind: &str, store: &dyn KeyStore, id_bytes: &[u8; 16], stats: &[CasStats]) {
        let expected = (PROCESSES * THREADS) as u64 * PER_THREAD;
        let increments: u64 = stats.iter().map(|s| s.increments).sum();
        let conflicts: u64 = stats.iter().map(|s| s.conflicts).sum();
        assert_eq!(increments, expected);
        let count = test_kit::read_counter(store, &(*id_bytes).into()).unwrap();
        assert_eq!(
            count, expected,
            "{kind}: lost updates: {expected} successful compare-and-swaps, the record counts \
             {count}"
        );
        eprintln!(
            "{kind}: {PROCESSES} processes x {THREADS} threads: {increments} increments, \
             {conflicts} conflicts retried, no lost update"
        );
        // The store still refuses a stale version.
        assert_eq!(
            store.compare_and_swap(&(*id_bytes).into(), expected - 1, b"stale"),
            Err(StoreError::Conflict)
        );
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_two_processes() {
        let dir = super::TempDir::new("sqlite-mp");
        let path = dir.path().join("keys.sqlite");
        let store = split_rsa::SqliteKeyStore::open(&path).unwrap();
        let id = test_kit::insert_counter(&store).unwrap();
        let stats = run_children("sqlite", path.to_str().unwrap(), id.as_bytes());
        check("sqlite", &store, id.as_bytes(), &stats);
        store.integrity_check().unwrap();
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_two_processes() {
        let Some(db) = super::pg_support::test_database() else {
            return;
        };
        let store = split_rsa::PostgresKeyStore::connect(db.url()).unwrap();
        let id = test_kit::insert_counter(&store).unwrap();
        let stats = run_children("postgres", db.url(), id.as_bytes());
        check("postgres", &store, id.as_bytes(), &stats);
    }
}

/// The kit must catch broken stores, each in the check for the guarantee it breaks: a kit that
/// passes everything proves nothing. A naive store (one mutex over a map) with one fault at a
/// time; without a fault it passes every check.
mod kit_catches_broken_stores {
    use std::collections::HashMap;
    use std::sync::{Mutex, MutexGuard};

    use split_rsa::test_kit::{self, KeyId};
    use split_rsa::{KeyStore, N1Hash, NewRecord, StoreError, StoredRecord, Uniqueness};

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Fault {
        None,
        /// Compare-and-swap writes whatever the stored version.
        BlindWrite,
        /// Compare-and-swap checks the version, lets go of the lock, then writes.
        CheckThenWrite,
        /// Uniqueness of n1 only among records never rewritten.
        ForgetsN1AfterWrites,
        /// Blobs over 8 KiB come back cut.
        TruncatesBlobs,
        /// Compare-and-swap on an unknown id says Conflict.
        ConflictForUnknown,
        /// Every duplicate is reported as a duplicate key id.
        WrongDuplicateName,
        /// A refused insert (duplicate challenge) still takes its n1 hash.
        PartialInsert,
        /// Insert checks uniqueness, lets go of the lock, then inserts.
        CheckThenInsert,
        /// Compare-and-swap stores the version it was given, not one more.
        VersionNotIncremented,
    }

    struct Row {
        version: u64,
        blob: Vec<u8>,
        n1: N1Hash,
        challenge: [u8; 16],
    }

    struct Naive {
        fault: Fault,
        rows: Mutex<HashMap<KeyId, Row>>,
        /// n1 hashes of refused inserts (the `PartialInsert` fault).
        leaked_n1: Mutex<Vec<N1Hash>>,
    }

    impl Naive {
        fn new(fault: Fault) -> Self {
            Self {
                fault,
                rows: Mutex::new(HashMap::new()),
                leaked_n1: Mutex::new(Vec::new()),
            }
        }

        fn rows(&self) -> MutexGuard<'_, HashMap<KeyId, Row>> {
            self.rows.lock().unwrap()
        }

        fn pause() {
            std::thread::sleep(std::time::Duration::from_micros(300));
        }

        fn duplicate(&self, rows: &HashMap<KeyId, Row>, r: &NewRecord<'_>) -> Option<Uniqueness> {
            let n1_taken = rows.values().any(|row| {
                row.n1 == *r.n1_hash
                    && !(self.fault == Fault::ForgetsN1AfterWrites && row.version > 0)
            }) || self.leaked_n1.lock().unwrap().contains(r.n1_hash);
            let which = if rows.contains_key(r.key_id) {
                Uniqueness::KeyId
            } else if n1_taken {
                Uniqueness::N1
            } else if rows.values().any(|row| row.challenge == *r.challenge) {
                Uniqueness::Challenge
            } else {
                return None;
            };
            if self.fault == Fault::PartialInsert && which == Uniqueness::Challenge {
                self.leaked_n1.lock().unwrap().push(*r.n1_hash);
            }
            Some(if self.fault == Fault::WrongDuplicateName {
                Uniqueness::KeyId
            } else {
                which
            })
        }
    }

    impl KeyStore for Naive {
        fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
            Ok(self.rows().get(key_id).map(|row| {
                let mut blob = row.blob.clone();
                if self.fault == Fault::TruncatesBlobs {
                    blob.truncate(8192);
                }
                StoredRecord {
                    version: row.version,
                    blob: blob.into(),
                }
            }))
        }

        fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
            Ok(self
                .rows()
                .iter()
                .find(|(_, row)| row.n1 == *n1_hash)
                .map(|(id, _)| *id))
        }

        fn insert(&self, r: &NewRecord<'_>) -> Result<(), StoreError> {
            let mut rows = self.rows();
            if let Some(which) = self.duplicate(&rows, r) {
                return Err(StoreError::Duplicate(which));
            }
            if self.fault == Fault::CheckThenInsert {
                drop(rows);
                Self::pause();
                rows = self.rows();
            }
            rows.insert(
                *r.key_id,
                Row {
                    version: 0,
                    blob: r.blob.to_vec(),
                    n1: *r.n1_hash,
                    challenge: *r.challenge,
                },
            );
            Ok(())
        }

        fn compare_and_swap(
            &self,
            key_id: &KeyId,
            expected_version: u64,
            blob: &[u8],
        ) -> Result<(), StoreError> {
            let mut rows = self.rows();
            let Some(row) = rows.get(key_id) else {
                return Err(if self.fault == Fault::ConflictForUnknown {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound
                });
            };
            if row.version != expected_version && self.fault != Fault::BlindWrite {
                return Err(StoreError::Conflict);
            }
            if self.fault == Fault::CheckThenWrite {
                drop(rows);
                Self::pause();
                rows = self.rows();
            }
            let row = rows.get_mut(key_id).unwrap();
            row.version = if self.fault == Fault::VersionNotIncremented {
                expected_version
            } else {
                row.version + 1
            };
            row.blob = blob.to_vec();
            Ok(())
        }
    }

    /// Runs the kit on a naive store with `fault`; returns the check that failed.
    fn first_failure(fault: Fault) -> Option<&'static str> {
        let all = test_kit::run_all(|| Naive::new(fault));
        // The reopen checks, on one shared instance ("reopening" returns it again).
        let shared = std::sync::Arc::new(Naive::new(fault));
        let reopen = all.and_then(|()| test_kit::run_reopen(|| std::sync::Arc::clone(&shared)));
        reopen.err().map(|f| {
            eprintln!("{fault:?}: {f}");
            f.check()
        })
    }

    #[test]
    fn a_correct_naive_store_passes() {
        assert_eq!(first_failure(Fault::None), None);
    }

    #[test]
    fn each_fault_is_caught_by_its_check() {
        for (fault, check) in [
            (Fault::BlindWrite, "stale_cas_conflicts"),
            (Fault::CheckThenWrite, "concurrent_cas_no_lost_update"),
            (Fault::ForgetsN1AfterWrites, "uniqueness_forever"),
            (Fault::TruncatesBlobs, "blobs_byte_exact"),
            (Fault::ConflictForUnknown, "cas_unknown_is_not_found"),
            (Fault::WrongDuplicateName, "duplicate_n1_hash"),
            (Fault::PartialInsert, "duplicate_challenge"),
            (Fault::CheckThenInsert, "concurrent_insert_same_n1"),
            (Fault::VersionNotIncremented, "cas_increments_version"),
        ] {
            assert_eq!(first_failure(fault), Some(check), "{fault:?}");
        }
    }
}

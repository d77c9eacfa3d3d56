//! A durable [`KeyStore`] on one SQLite file (feature `sqlite`): [`SqliteKeyStore`].

use core::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use zeroize::Zeroizing;

use super::{KeyStore, N1Hash, NewRecord, StoredRecord};
use crate::error::{StoreError, Uniqueness};
use crate::wire::ids::{KEY_ID_LEN, KeyId};

/// The schema version this library writes and understands. A file whose schema is newer is
/// refused, so that an old server never writes into a layout it does not know.
pub const SQLITE_SCHEMA_VERSION: i64 = 1;

/// How long a call waits for another connection's write lock by default.
pub const SQLITE_DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const TABLE: &str = "split_rsa_key_records";

/// The migrations, in order: migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1. STRICT: a blob column holds only blobs (never text that could be re-encoded),
    // and the lengths of the fixed-size columns are checked by the database too.
    "CREATE TABLE split_rsa_key_records (
         key_id    BLOB    NOT NULL PRIMARY KEY CHECK (length(key_id) = 16),
         n1_hash   BLOB    NOT NULL UNIQUE      CHECK (length(n1_hash) = 32),
         challenge BLOB    NOT NULL UNIQUE      CHECK (length(challenge) = 16),
         version   INTEGER NOT NULL             CHECK (version >= 0),
         blob      BLOB    NOT NULL
     ) STRICT, WITHOUT ROWID;",
];

/// A durable [`KeyStore`] on one SQLite file (feature `sqlite`; SQLite is compiled in by
/// `rusqlite`'s `bundled` feature, no system library is needed).
///
/// How each guarantee of [`KeyStore`] is met:
///
/// - **Compare-and-swap** is one statement, `UPDATE … SET blob = ?, version = version + 1
///   WHERE key_id = ? AND version = ?`, whose changed-row count says whether it wrote. SQLite
///   runs every write under the database's single write lock, so the check and the write are
///   one atomic step for every connection of every process on the file.
/// - **Durable before `Ok`**: the file is in WAL mode with `synchronous = FULL`, so the
///   write-ahead log is synced to disk before a commit returns.
/// - **Uniqueness** is enforced by the schema itself (the key id is the primary key, the n1
///   hash and the challenge are `UNIQUE` columns); an insert checks them first, inside the
///   same `BEGIN IMMEDIATE` transaction, only to name the constraint that was hit.
/// - **Destroyed records are kept**: the store never deletes a row.
/// - **No rollback**: every read is a transaction of its own and sees the latest commit of
///   any process. Restoring the file from a backup, or copying it to another machine, is a
///   rollback: don't.
///
/// Several processes may open the same file (each with its own [`SqliteKeyStore`]); they
/// wait for each other's write lock up to the busy timeout, after which the call fails with
/// [`StoreError::Backend`]. The file must be on a local disk: SQLite's locking does not work
/// reliably over network file systems.
///
/// A file the store creates is readable and writable by its owner only (mode 0600 on Unix).
/// `PRAGMA secure_delete` is on, so a replaced blob is overwritten in the database file when
/// its page is freed; copies may linger in the write-ahead log until the next checkpoint.
///
/// One connection per instance, behind a mutex: the calls of threads sharing an instance are
/// serialised. Open one instance per process (or several, for parallel reads).
pub struct SqliteKeyStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl SqliteKeyStore {
    /// Opens (creating if needed) the store in the SQLite file at `path`, with the default
    /// busy timeout ([`SQLITE_DEFAULT_BUSY_TIMEOUT`]).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the file cannot be opened or put in WAL mode, or its schema is
    /// newer than this library's ([`SQLITE_SCHEMA_VERSION`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with_busy_timeout(path, SQLITE_DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`open`](Self::open), waiting at most `busy_timeout` for the write lock of
    /// another connection before a call fails.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with_busy_timeout(
        path: impl AsRef<Path>,
        busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        create_private(&path)?;
        let mut conn = Connection::open(&path).map_err(StoreError::backend)?;
        // First, so that every following step waits for other processes opening the same file.
        conn.busy_timeout(busy_timeout)
            .map_err(StoreError::backend)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(StoreError::backend)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::backend(format!(
                "SQLite key store {}: journal mode is {mode:?}, not WAL (an in-memory or \
                 read-only database cannot be a durable key store)",
                path.display()
            )));
        }
        // Per connection: the WAL is synced before every commit returns.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(StoreError::backend)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(StoreError::backend)?;
        migrate(&mut conn, &path)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
        })
    }

    /// The file this store was opened on.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `PRAGMA integrity_check` over the whole file (after a crash, for instance).
    ///
    /// # Errors
    /// [`StoreError::Backend`] listing the problems SQLite found, or if the check could not
    /// run.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(StoreError::backend)?;
        let problems = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(StoreError::backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(StoreError::backend)?;
        if problems.len() == 1 && problems.first().is_some_and(|p| p == "ok") {
            Ok(())
        } else {
            Err(StoreError::backend(format!(
                "SQLite key store {}: integrity check failed: {}",
                self.path.display(),
                problems.join("; ")
            )))
        }
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic cannot leave the connection inside a transaction: `rusqlite::Transaction`
        // rolls back when dropped during unwinding. So a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for SqliteKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteKeyStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Creates the file readable and writable by its owner only, if it does not exist yet: the
/// blobs are sensitive (lockout state, OTP hashes) even though the shares inside are
/// encrypted. SQLite gives its `-wal` and `-shm` files the database file's permissions.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let name = path.as_os_str().to_string_lossy();
    if name == ":memory:" || name.starts_with("file:") {
        // Not a file name: SQLite's in-memory database (refused below) or a URI.
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::backend(e)),
    }
}

/// Creates or upgrades the schema, in one `BEGIN IMMEDIATE` transaction: the write lock
/// serialises processes that open a new file at the same time.
fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS split_rsa_schema_migrations (
             version    INTEGER NOT NULL PRIMARY KEY,
             applied_at INTEGER NOT NULL
         ) STRICT;",
    )
    .map_err(StoreError::backend)?;
    let current: i64 = tx
        .query_row(
            "SELECT coalesce(max(version), 0) FROM split_rsa_schema_migrations",
            [],
            |row| row.get(0),
        )
        .map_err(StoreError::backend)?;
    if current > SQLITE_SCHEMA_VERSION {
        return Err(StoreError::backend(format!(
            "SQLite key store {}: schema version {current} is newer than this library's \
             ({SQLITE_SCHEMA_VERSION}); refusing to use it",
            path.display()
        )));
    }
    let applied = usize::try_from(current).map_err(|_| {
        StoreError::backend(format!(
            "SQLite key store {}: invalid schema version {current}",
            path.display()
        ))
    })?;
    for (version, sql) in (1_i64..).zip(MIGRATIONS.iter()).skip(applied) {
        tx.execute_batch(sql).map_err(StoreError::backend)?;
        tx.execute(
            "INSERT INTO split_rsa_schema_migrations (version, applied_at) \
             VALUES (?1, unixepoch())",
            params![version],
        )
        .map_err(StoreError::backend)?;
    }
    tx.commit().map_err(StoreError::backend)
}

/// A version as the database stores it (a signed 64-bit integer).
fn to_sql_version(version: u64) -> Option<i64> {
    i64::try_from(version).ok()
}

fn from_sql_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version)
        .map_err(|_| StoreError::backend(format!("negative version {version} in {TABLE}")))
}

fn key_id_from_sql(bytes: &[u8]) -> Result<KeyId, StoreError> {
    <[u8; KEY_ID_LEN]>::try_from(bytes)
        .map(KeyId::from_bytes)
        .map_err(|_| StoreError::backend(format!("key id of {} bytes in {TABLE}", bytes.len())))
}

/// Which uniqueness constraint a failed insert hit, from SQLite's message
/// ("UNIQUE constraint failed: split_rsa_key_records.n1_hash").
fn duplicate_from_sqlite(e: &rusqlite::Error) -> Option<Uniqueness> {
    match e {
        rusqlite::Error::SqliteFailure(err, msg) if err.code == ErrorCode::ConstraintViolation => {
            let msg = msg.as_deref().unwrap_or("");
            if msg.contains(".n1_hash") {
                Some(Uniqueness::N1)
            } else if msg.contains(".challenge") {
                Some(Uniqueness::Challenge)
            } else if msg.contains(".key_id") {
                Some(Uniqueness::KeyId)
            } else {
                None
            }
        }
        _ => None,
    }
}

impl KeyStore for SqliteKeyStore {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT version, blob FROM split_rsa_key_records WHERE key_id = ?1")
            .map_err(StoreError::backend)?;
        let row = stmt
            .query_row(params![key_id.as_bytes()], |row| {
                let version: i64 = row.get(0)?;
                // Copied straight from SQLite's buffer into a wiping one.
                let blob = Zeroizing::new(row.get_ref(1)?.as_blob()?.to_vec());
                Ok((version, blob))
            })
            .optional()
            .map_err(StoreError::backend)?;
        row.map(|(version, blob)| {
            Ok(StoredRecord {
                version: from_sql_version(version)?,
                blob,
            })
        })
        .transpose()
    }

    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT key_id FROM split_rsa_key_records WHERE n1_hash = ?1")
            .map_err(StoreError::backend)?;
        let id = stmt
            .query_row(params![&n1_hash[..]], |row| {
                Ok(row.get_ref(0)?.as_blob()?.to_vec())
            })
            .optional()
            .map_err(StoreError::backend)?;
        id.as_deref().map(key_id_from_sql).transpose()
    }

    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        let mut conn = self.lock();
        // IMMEDIATE: the write lock is taken first, so the checks below and the insert see
        // the same database. The UNIQUE constraints would refuse a duplicate anyway; the
        // checks only name it, in the same order as every other store.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::backend)?;
        let taken = |sql: &str, value: &[u8]| -> Result<bool, StoreError> {
            tx.prepare_cached(sql)
                .and_then(|mut s| s.exists(params![value]))
                .map_err(StoreError::backend)
        };
        if taken(
            "SELECT 1 FROM split_rsa_key_records WHERE key_id = ?1",
            record.key_id.as_bytes(),
        )? {
            return Err(StoreError::Duplicate(Uniqueness::KeyId));
        }
        if taken(
            "SELECT 1 FROM split_rsa_key_records WHERE n1_hash = ?1",
            record.n1_hash,
        )? {
            return Err(StoreError::Duplicate(Uniqueness::N1));
        }
        if taken(
            "SELECT 1 FROM split_rsa_key_records WHERE challenge = ?1",
            record.challenge,
        )? {
            return Err(StoreError::Duplicate(Uniqueness::Challenge));
        }
        tx.prepare_cached(
            "INSERT INTO split_rsa_key_records (key_id, n1_hash, challenge, version, blob) \
             VALUES (?1, ?2, ?3, 0, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                record.key_id.as_bytes(),
                &record.n1_hash[..],
                &record.challenge[..],
                record.blob
            ])
        })
        .map_err(|e| match duplicate_from_sqlite(&e) {
            Some(which) => StoreError::Duplicate(which),
            None => StoreError::backend(e),
        })?;
        // Dropping `tx` on any error above rolls back: nothing is written.
        tx.commit().map_err(StoreError::backend)
    }

    fn compare_and_swap(
        &self,
        key_id: &KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        let conn = self.lock();
        let changed = match (
            to_sql_version(expected_version),
            expected_version.checked_add(1).and_then(to_sql_version),
        ) {
            (Some(expected), Some(_)) => conn
                .prepare_cached(
                    "UPDATE split_rsa_key_records SET blob = ?3, version = version + 1 \
                     WHERE key_id = ?1 AND version = ?2",
                )
                .and_then(|mut s| s.execute(params![key_id.as_bytes(), expected, blob]))
                .map_err(StoreError::backend)?,
            // No stored version can be this large (the database cannot hold the next one):
            // nothing to swap.
            _ => 0,
        };
        match changed {
            1 => Ok(()),
            0 => {
                // Rows are never deleted, so if the record exists now it existed during the
                // update, with another version.
                let exists = conn
                    .prepare_cached("SELECT 1 FROM split_rsa_key_records WHERE key_id = ?1")
                    .and_then(|mut s| s.exists(params![key_id.as_bytes()]))
                    .map_err(StoreError::backend)?;
                Err(if exists {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound
                })
            }
            n => Err(StoreError::backend(format!(
                "compare-and-swap changed {n} rows of {TABLE}"
            ))),
        }
    }
}

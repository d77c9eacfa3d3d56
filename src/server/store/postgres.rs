//! A durable [`KeyStore`] on PostgreSQL (feature `postgres`): [`PostgresKeyStore`].

use core::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use postgres::error::SqlState;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};
use zeroize::Zeroizing;

use super::{KeyStore, N1Hash, NewRecord, StoredRecord};
use crate::error::{StoreError, Uniqueness};
use crate::wire::ids::{KEY_ID_LEN, KeyId};

/// The schema version this library writes and understands.
pub const POSTGRES_SCHEMA_VERSION: i32 = 1;

/// The default maximum number of connections one store opens.
pub const POSTGRES_DEFAULT_MAX_CONNECTIONS: usize = 4;

/// Arbitrary constant key of the advisory lock taken while migrating ("splitrsa").
const MIGRATION_LOCK: i64 = 0x7370_6c69_7472_7361;

/// The migrations, in order: migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // Version 1.
    "CREATE TABLE split_rsa_key_records (
         key_id    bytea  NOT NULL CHECK (octet_length(key_id) = 16),
         n1_hash   bytea  NOT NULL CHECK (octet_length(n1_hash) = 32),
         challenge bytea  NOT NULL CHECK (octet_length(challenge) = 16),
         version   bigint NOT NULL CHECK (version >= 0),
         blob      bytea  NOT NULL,
         CONSTRAINT split_rsa_key_records_key_id PRIMARY KEY (key_id),
         CONSTRAINT split_rsa_key_records_n1_hash UNIQUE (n1_hash),
         CONSTRAINT split_rsa_key_records_challenge UNIQUE (challenge)
     );",
];

type Connector = dyn Fn() -> Result<Client, postgres::Error> + Send + Sync;

/// One connection with its prepared statements.
struct Conn {
    client: Client,
    load: Statement,
    find_n1: Statement,
    insert: Statement,
    cas: Statement,
    exists: Statement,
}

struct Pool {
    idle: Vec<Conn>,
    open: usize,
}

/// A durable [`KeyStore`] on PostgreSQL (feature `postgres`; the synchronous `postgres`
/// client). Safe to share between threads; several processes may each open their own on the
/// same database.
///
/// How each guarantee of [`KeyStore`] is met:
///
/// - **Compare-and-swap** is one statement, `UPDATE … SET blob = $3, version = version + 1
///   WHERE key_id = $1 AND version = $2`, whose row count says whether it wrote. Plain
///   `READ COMMITTED` is enough, and is what every connection of this store sets: the
///   `UPDATE` locks the row it matches; if another transaction changed the row first, PostgreSQL
///   waits for it to end and evaluates the `WHERE` clause again on the newest row version, whose
///   version no longer matches, so the statement changes nothing. Check and write are thus one
///   atomic step against every other connection, of any process. `SERIALIZABLE` would add
///   nothing for single-statement operations but serialization failures to retry.
/// - **Durable before `Ok`**: every statement runs in its own transaction, and each connection
///   sets `synchronous_commit = on`, whatever the server's default, so a commit returns only
///   after its WAL record is flushed (and, with synchronous replication configured, received
///   by the standbys).
/// - **Uniqueness** is the schema's: the key id is the primary key, the n1 hash and the
///   challenge have `UNIQUE` constraints; a violation names the constraint, which this store maps
///   to [`Uniqueness`].
/// - **Destroyed records are kept**: the store never deletes a row.
/// - **No rollback**: connect to the primary, never to a read replica (a connection to a
///   server in recovery is refused), and never restore the table from a backup.
///
/// The schema is created and upgraded by the library (a `split_rsa_schema_migrations` table,
/// under an advisory lock, so that several servers starting at once do not race); a schema
/// newer than this library's is refused.
///
/// Connections: a small pool, opened on demand up to a maximum, each call holding one
/// connection for one statement. A connection the server closed (a restart, an idle timeout)
/// is replaced: a read that finds its connection closed runs once more on a new one; a write
/// is never repeated, since it may have committed before the connection broke: it fails with
/// [`StoreError::Backend`], and the caller reloads. [`connect`](PostgresKeyStore::connect)
/// uses no TLS (a Unix socket or a loopback address); for a remote server, pass a TLS
/// connector through [`with_connector`](PostgresKeyStore::with_connector).
pub struct PostgresKeyStore {
    connect: Box<Connector>,
    pool: Mutex<Pool>,
    returned: Condvar,
    max_connections: usize,
    target: String,
}

impl PostgresKeyStore {
    /// Connects without TLS (for a Unix socket or a loopback address) with a libpq-style
    /// connection string (`"host=/run/postgresql dbname=keys user=split"` or
    /// `"postgresql://user:password@127.0.0.1:5432/keys"`), creates or upgrades the schema, and
    /// keeps up to [`POSTGRES_DEFAULT_MAX_CONNECTIONS`] connections.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the string does not parse, the server cannot be reached or
    /// is a standby, or its schema is newer than this library's
    /// ([`POSTGRES_SCHEMA_VERSION`]).
    pub fn connect(params: &str) -> Result<Self, StoreError> {
        let config: Config = params.parse().map_err(StoreError::backend)?;
        let target = describe(&config);
        Self::open(
            target,
            POSTGRES_DEFAULT_MAX_CONNECTIONS,
            Box::new(move || config.connect(NoTls)),
        )
    }

    /// Like [`connect`](Self::connect), with a connection function of the caller's (for TLS:
    /// `move || config.connect(tls.clone())` with a `postgres-openssl` or
    /// `postgres-native-tls` connector) and at most `max_connections` connections (at least 1).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn with_connector(
        max_connections: usize,
        connect: impl Fn() -> Result<Client, postgres::Error> + Send + Sync + 'static,
    ) -> Result<Self, StoreError> {
        Self::open(
            "custom connector".into(),
            max_connections,
            Box::new(connect),
        )
    }

    fn open(
        target: String,
        max_connections: usize,
        connect: Box<Connector>,
    ) -> Result<Self, StoreError> {
        let mut client = connect().map_err(StoreError::backend)?;
        configure_session(&mut client)?;
        migrate(&mut client)?;
        let first = prepare(client)?;
        Ok(Self {
            connect,
            pool: Mutex::new(Pool {
                idle: vec![first],
                open: 1,
            }),
            returned: Condvar::new(),
            max_connections: max_connections.max(1),
            target,
        })
    }

    fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        // The pool's bookkeeping is updated without anything that can panic in between.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes an idle connection, opens a new one if under the maximum, or waits for one.
    fn get(&self) -> Result<PooledConn<'_>, StoreError> {
        let mut pool = self.lock_pool();
        loop {
            if let Some(conn) = pool.idle.pop() {
                if conn.client.is_closed() {
                    pool.open = pool.open.saturating_sub(1);
                    continue;
                }
                return Ok(PooledConn {
                    store: self,
                    conn: Some(conn),
                });
            }
            if pool.open < self.max_connections {
                pool.open += 1;
                drop(pool);
                let opened =
                    (self.connect)()
                        .map_err(StoreError::backend)
                        .and_then(|mut client| {
                            configure_session(&mut client)?;
                            prepare(client)
                        });
                return match opened {
                    Ok(conn) => Ok(PooledConn {
                        store: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        let mut pool = self.lock_pool();
                        pool.open = pool.open.saturating_sub(1);
                        drop(pool);
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            pool = self
                .returned
                .wait(pool)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs a read-only query returning at most one row. If it fails because the server had
    /// closed the connection (a restart, an idle timeout), it runs once more on another one:
    /// a read is safe to repeat. A write is not (it may have committed before the connection
    /// broke), so writes are never retried here.
    fn read(
        &self,
        statement: fn(&Conn) -> &Statement,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, StoreError> {
        let mut retried = false;
        loop {
            let mut pooled = self.get()?;
            let c = pooled.conn()?;
            let stmt = statement(c).clone();
            match c.client.query_opt(&stmt, params) {
                Ok(row) => return Ok(row),
                // Dropping `pooled` discards the closed connection.
                Err(_) if !retried && c.client.is_closed() => retried = true,
                Err(e) => return Err(StoreError::backend(e)),
            }
        }
    }
}

/// A connection on loan from the pool; returned (or dropped, if the server closed it) when
/// this guard drops.
struct PooledConn<'a> {
    store: &'a PostgresKeyStore,
    conn: Option<Conn>,
}

impl PooledConn<'_> {
    fn conn(&mut self) -> Result<&mut Conn, StoreError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::backend("connection already returned to the pool"))
    }
}

impl Drop for PooledConn<'_> {
    fn drop(&mut self) {
        let mut pool = self.store.lock_pool();
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() => pool.idle.push(conn),
            _ => pool.open = pool.open.saturating_sub(1),
        }
        drop(pool);
        self.store.returned.notify_one();
    }
}

impl fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresKeyStore")
            .field("target", &self.target)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

/// Host, port, database and user, never the password.
fn describe(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    format!(
        "host={} port={:?} dbname={} user={}",
        hosts.join(","),
        config.get_ports(),
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
    )
}

/// Per-connection settings the guarantees rest on, whatever the server's defaults.
fn configure_session(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED;
             SET synchronous_commit = on;",
        )
        .map_err(StoreError::backend)?;
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .and_then(|row| row.try_get(0))
        .map_err(StoreError::backend)?;
    if in_recovery {
        return Err(StoreError::backend(
            "PostgreSQL key store: the server is a standby (in recovery); a key store must \
             use the primary",
        ));
    }
    Ok(())
}

/// Creates or upgrades the schema in one transaction, under an advisory lock.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(StoreError::backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(StoreError::backend)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS split_rsa_schema_migrations (
             version    integer     NOT NULL PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now()
         );",
    )
    .map_err(StoreError::backend)?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM split_rsa_schema_migrations",
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(StoreError::backend)?;
    if current > POSTGRES_SCHEMA_VERSION {
        return Err(StoreError::backend(format!(
            "PostgreSQL key store: schema version {current} is newer than this library's \
             ({POSTGRES_SCHEMA_VERSION}); refusing to use it"
        )));
    }
    let applied = usize::try_from(current).map_err(|_| {
        StoreError::backend(format!(
            "PostgreSQL key store: invalid schema version {current}"
        ))
    })?;
    for (version, sql) in (1_i32..).zip(MIGRATIONS.iter()).skip(applied) {
        tx.batch_execute(sql).map_err(StoreError::backend)?;
        tx.execute(
            "INSERT INTO split_rsa_schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .map_err(StoreError::backend)?;
    }
    tx.commit().map_err(StoreError::backend)
}

fn prepare(mut client: Client) -> Result<Conn, StoreError> {
    let mut p = |sql: &str| client.prepare(sql).map_err(StoreError::backend);
    let load = p("SELECT version, blob FROM split_rsa_key_records WHERE key_id = $1")?;
    let find_n1 = p("SELECT key_id FROM split_rsa_key_records WHERE n1_hash = $1")?;
    let insert = p(
        "INSERT INTO split_rsa_key_records (key_id, n1_hash, challenge, version, blob) \
         VALUES ($1, $2, $3, 0, $4)",
    )?;
    let cas = p(
        "UPDATE split_rsa_key_records SET blob = $3, version = version + 1 \
         WHERE key_id = $1 AND version = $2",
    )?;
    let exists = p("SELECT 1 FROM split_rsa_key_records WHERE key_id = $1")?;
    Ok(Conn {
        client,
        load,
        find_n1,
        insert,
        cas,
        exists,
    })
}

fn from_sql_version(version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| {
        StoreError::backend(format!(
            "negative version {version} in split_rsa_key_records"
        ))
    })
}

fn duplicate_from_postgres(e: &postgres::Error) -> Option<Uniqueness> {
    let db = e.as_db_error()?;
    if *db.code() != SqlState::UNIQUE_VIOLATION {
        return None;
    }
    match db.constraint()? {
        "split_rsa_key_records_key_id" => Some(Uniqueness::KeyId),
        "split_rsa_key_records_n1_hash" => Some(Uniqueness::N1),
        "split_rsa_key_records_challenge" => Some(Uniqueness::Challenge),
        _ => None,
    }
}

impl KeyStore for PostgresKeyStore {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        let Some(row) = self.read(|c| &c.load, &[&&key_id.as_bytes()[..]])? else {
            return Ok(None);
        };
        let version: i64 = row.try_get(0).map_err(StoreError::backend)?;
        let blob: &[u8] = row.try_get(1).map_err(StoreError::backend)?;
        Ok(Some(StoredRecord {
            version: from_sql_version(version)?,
            blob: Zeroizing::new(blob.to_vec()),
        }))
    }

    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        let Some(row) = self.read(|c| &c.find_n1, &[&&n1_hash[..]])? else {
            return Ok(None);
        };
        let id: &[u8] = row.try_get(0).map_err(StoreError::backend)?;
        <[u8; KEY_ID_LEN]>::try_from(id)
            .map(|b| Some(KeyId::from_bytes(b)))
            .map_err(|_| {
                StoreError::backend(format!(
                    "key id of {} bytes in split_rsa_key_records",
                    id.len()
                ))
            })
    }

    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        let mut pooled = self.get()?;
        let c = pooled.conn()?;
        c.client
            .execute(
                &c.insert,
                &[
                    &&record.key_id.as_bytes()[..],
                    &&record.n1_hash[..],
                    &&record.challenge[..],
                    &record.blob,
                ],
            )
            .map_err(|e| match duplicate_from_postgres(&e) {
                Some(which) => StoreError::Duplicate(which),
                None => StoreError::backend(e),
            })
            .map(drop)
    }

    fn compare_and_swap(
        &self,
        key_id: &KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        let mut pooled = self.get()?;
        let c = pooled.conn()?;
        let id = &key_id.as_bytes()[..];
        let changed = match (
            i64::try_from(expected_version).ok(),
            expected_version
                .checked_add(1)
                .and_then(|v| i64::try_from(v).ok()),
        ) {
            (Some(expected), Some(_)) => c
                .client
                .execute(&c.cas, &[&id, &expected, &blob])
                .or_else(|e| {
                    // Only if someone runs this connection SERIALIZABLE after all: the row
                    // changed under us and nothing was written, which is a conflict.
                    if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE) {
                        Ok(0)
                    } else {
                        Err(StoreError::backend(e))
                    }
                })?,
            // No stored version can be this large (the column cannot hold the next one).
            _ => 0,
        };
        match changed {
            1 => Ok(()),
            0 => {
                // Rows are never deleted: if the record exists now, it existed during the
                // update with another version.
                let exists = c
                    .client
                    .query_opt(&c.exists, &[&id])
                    .map_err(StoreError::backend)?
                    .is_some();
                Err(if exists {
                    StoreError::Conflict
                } else {
                    StoreError::NotFound
                })
            }
            n => Err(StoreError::backend(format!(
                "compare-and-swap changed {n} rows of split_rsa_key_records"
            ))),
        }
    }
}

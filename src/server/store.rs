//! Key stores (SPEC §3.5, §7): where the server keeps one record per split key.
//!
//! A [`KeyStore`] stores opaque record blobs: the library encodes each record (SPEC §9) and
//! encrypts the server's share inside it under a key-encryption key before the store sees it
//! (SPEC §7, [`crate::server::kek`]), so a store never holds a share in the clear. The store
//! keeps, beside each blob and outside it:
//!
//! - the key id (the primary key);
//! - the version number, for compare-and-swap: every write names the version it was computed
//!   from and fails with [`StoreError::Conflict`] if another write came first;
//! - SHA-256(n1), unique over every record the store ever held, destroyed ones included
//!   (SPEC §3.5: a recorded registration replayed later must not create a second key on the
//!   same device share);
//! - the registration challenge the record was created with, unique likewise (SPEC §3.0: a
//!   challenge is single use).
//!
//! [`InMemoryKeyStore`] is a thread-safe implementation for tests and single-process servers;
//! the `sqlite` and `postgres` features add durable ones.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::Zeroizing;

use crate::error::{StoreError, Uniqueness};
use crate::wire::ids::KeyId;

#[cfg(feature = "test-kit")]
pub mod conformance;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// Length of the registration challenge (SPEC §3.0).
pub const CHALLENGE_LEN: usize = 16;

/// SHA-256 of a device modulus n1 (SPEC §3.5): the store's uniqueness key for device shares.
pub type N1Hash = [u8; 32];

/// A record as a store returns it: its version and its blob (the canonical encoding of the
/// server's key record, SPEC §9, with the share encrypted under a key-encryption key). The
/// blob is held in a wiping buffer: it is sensitive even though the share inside is
/// encrypted (lockout state, OTP hashes).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record's version: 0 when inserted, +1 on every successful compare-and-swap.
    pub version: u64,
    /// The record's encoding.
    pub blob: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for StoredRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("version", &self.version)
            .field("blob_len", &self.blob.len())
            .finish()
    }
}

/// A record to insert at registration (SPEC §3.5), with the columns a store keeps outside the
/// blob.
#[derive(Clone, Copy)]
pub struct NewRecord<'a> {
    /// The key id the server drew for it.
    pub key_id: &'a KeyId,
    /// SHA-256(n1): unique over every record ever stored.
    pub n1_hash: &'a N1Hash,
    /// The registration challenge it was created with: unique over every record ever stored.
    pub challenge: &'a [u8; CHALLENGE_LEN],
    /// The record's encoding at version 0.
    pub blob: &'a [u8],
}

impl fmt::Debug for NewRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRecord")
            .field("key_id", self.key_id)
            .field("blob_len", &self.blob.len())
            .finish_non_exhaustive()
    }
}

/// Storage for the server's key records (SPEC §7): compare-and-swap on a version number, and
/// two uniqueness constraints.
///
/// # What an implementation must guarantee
///
/// The lockout (SPEC §1 (d), (h)) and clone detection ((c)) are only as good as the store. The
/// server charges a wrong-PIN attempt with [`compare_and_swap`](Self::compare_and_swap) and
/// evaluates the partial signature only after that call returned `Ok`; every other change
/// (an outcome, a rotation, a destruction) is likewise one compare-and-swap. So:
///
/// - **Compare-and-swap.** `compare_and_swap(id, v, blob)` writes only if the stored version
///   is still `v`, and the stored version becomes `v + 1`; otherwise it fails with
///   [`StoreError::Conflict`] and changes nothing. The check and the write are one atomic step
///   with respect to every other call, from any thread or process. A blind write would let
///   concurrent requests lose each other's charges.
/// - **Durable before `Ok`.** `Ok` means committed: a crash of the server, the store or the
///   machine after `Ok` must not lose the write. A store that acknowledges early lets an
///   attacker who can crash the server get uncounted PIN guesses.
/// - **No rollback.** Never restore a record from an older copy (a backup, a lagging
///   replica): it would undo charges and bring back a one-time password. `load` returns the
///   latest committed version.
/// - **Uniqueness forever.** `insert` refuses an n1 hash or a challenge that any record ever
///   inserted carried, destroyed records included, with [`StoreError::Duplicate`].
/// - **Keep destroyed records.** A destroyed record holds no share but must stay, so that its
///   key id answers "destroyed" rather than "not found", and its n1 hash stays taken.
/// - **Errors abort.** Any error other than `Conflict` is returned as it is; when it comes from
///   the charge, nothing is evaluated.
pub trait KeyStore {
    /// Loads the latest committed record, or `None` if there is none with that id.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the backend fails.
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError>;

    /// The key id of the record registered with this n1 hash, if any (destroyed records
    /// included).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the backend fails.
    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError>;

    /// Inserts a new record at version 0, durably.
    ///
    /// # Errors
    /// [`StoreError::Duplicate`] naming the constraint if the key id, the n1 hash or the
    /// challenge is taken (nothing is written); [`StoreError::Backend`] if the backend fails.
    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError>;

    /// Replaces the record's blob if its stored version is still `expected_version`; the
    /// stored version becomes `expected_version + 1`. Durable before `Ok`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the stored version differs (nothing is written);
    /// [`StoreError::NotFound`] if there is no such record; [`StoreError::Backend`] if the
    /// backend fails.
    fn compare_and_swap(
        &self,
        key_id: &KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), StoreError>;
}

impl<K: KeyStore + ?Sized> KeyStore for &K {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        (**self).load(key_id)
    }
    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        (**self).find_n1(n1_hash)
    }
    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        (**self).insert(record)
    }
    fn compare_and_swap(
        &self,
        key_id: &KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        (**self).compare_and_swap(key_id, expected_version, blob)
    }
}

impl<K: KeyStore + ?Sized> KeyStore for std::sync::Arc<K> {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        (**self).load(key_id)
    }
    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        (**self).find_n1(n1_hash)
    }
    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        (**self).insert(record)
    }
    fn compare_and_swap(
        &self,
        key_id: &KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), StoreError> {
        (**self).compare_and_swap(key_id, expected_version, blob)
    }
}

#[derive(Default)]
struct Tables {
    records: HashMap<KeyId, StoredRecord>,
    n1_hashes: HashMap<N1Hash, KeyId>,
    challenges: HashMap<[u8; CHALLENGE_LEN], KeyId>,
}

/// A thread-safe in-memory [`KeyStore`] (one `Mutex` over the tables), for tests and
/// single-process servers that may lose their keys on restart. Replaced blobs are wiped.
#[derive(Default)]
pub struct InMemoryKeyStore {
    tables: Mutex<Tables>,
}

impl InMemoryKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records (active or destroyed).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // No code path panics while holding the lock, so the tables are consistent even if a
        // caller's thread panicked elsewhere and poisoned it.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for InMemoryKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryKeyStore")
            .field("records", &self.len())
            .finish()
    }
}

impl KeyStore for InMemoryKeyStore {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        Ok(self.lock().records.get(key_id).cloned())
    }

    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        Ok(self.lock().n1_hashes.get(n1_hash).copied())
    }

    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        let mut t = self.lock();
        if t.records.contains_key(record.key_id) {
            return Err(StoreError::Duplicate(Uniqueness::KeyId));
        }
        if t.n1_hashes.contains_key(record.n1_hash) {
            return Err(StoreError::Duplicate(Uniqueness::N1));
        }
        if t.challenges.contains_key(record.challenge) {
            return Err(StoreError::Duplicate(Uniqueness::Challenge));
        }
        t.n1_hashes.insert(*record.n1_hash, *record.key_id);
        t.challenges.insert(*record.challenge, *record.key_id);
        t.records.insert(
            *record.key_id,
            StoredRecord {
                version: 0,
                blob: Zeroizing::new(record.blob.to_vec()),
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
        let mut t = self.lock();
        let slot = t.records.get_mut(key_id).ok_or(StoreError::NotFound)?;
        if slot.version != expected_version {
            return Err(StoreError::Conflict);
        }
        // The old blob is wiped when it drops (Zeroizing).
        *slot = StoredRecord {
            version: expected_version.saturating_add(1),
            blob: Zeroizing::new(blob.to_vec()),
        };
        Ok(())
    }
}

//! The key-store conformance kit (feature `test-kit`): one check per guarantee written on
//! [`KeyStore`], to run against any implementation, including your own.
//!
//! ```ignore
//! // In a test of your crate (with split-rsa's `test-kit` feature):
//! #[test]
//! fn my_store_conforms() {
//!     split_rsa::test_kit::run_all(|| MyStore::connect("...")).unwrap();
//!     // Checks that need two instances on the same backing storage (same file, database):
//!     split_rsa::test_kit::run_reopen(|| MyStore::connect("...")).unwrap();
//! }
//!
//! // Or one `#[test]` per check:
//! mod my_store {
//!     split_rsa::key_store_conformance_tests!(|| super::MyStore::connect("..."));
//! }
//! ```
//!
//! Every check draws fresh key ids, n1 hashes and challenges (derived from the process id, the
//! time and a counter), so the checks may share one backing storage with each other and with
//! earlier runs: a store under test never needs to be emptied.
//!
//! What is checked ([`CHECKS`], then [`REOPEN_CHECKS`]):
//!
//! - `load` of an unknown id is `None`, `find_n1` of an unknown hash is `None`;
//! - `insert` stores version 0 and the blob; `find_n1` finds the key;
//! - every compare-and-swap increments the version by one and replaces the blob;
//! - a stale (or future) version is a `Conflict` and writes nothing; an unknown id is
//!   `NotFound` and creates nothing;
//! - a duplicate key id, n1 hash or challenge is `Duplicate` naming it, and writes nothing
//!   (not even the parts of the rejected record that were not duplicates), also after the
//!   first record was overwritten many times and shrunk to a "destroyed" stub (uniqueness
//!   *forever*);
//! - blobs come back byte-exact: every byte value, NULs, invalid UTF-8, 16 KiB and 64 KiB;
//! - records are independent of each other;
//! - concurrency: threads doing load → compare-and-swap loops (retrying on `Conflict`) on one
//!   record lose no update, and every load sees a blob consistent with its version;
//!   concurrent inserts of one n1 hash, challenge or key id: exactly one succeeds;
//! - with a factory that reopens the same storage: a new instance sees the latest version and
//!   the uniqueness constraints; instances on one storage serialise compare-and-swaps.
//!
//! Durability across a crash of the process or the machine cannot be checked from inside one
//! process; test it by killing a writer (SIGKILL) and reopening, with the counter helpers
//! ([`insert_counter`], [`increment_counter`], [`read_counter`]).

use core::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;

use sha2::{Digest, Sha256};

use super::{CHALLENGE_LEN, KeyStore, N1Hash, NewRecord};
use crate::error::{StoreError, Uniqueness};
use crate::wire::ids::KEY_ID_LEN;
/// The key id type of [`KeyStore`]'s methods, re-exported here so that a store outside this
/// crate can implement the trait.
pub use crate::wire::ids::KeyId;

/// A check that failed: which one, and what the store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    check: &'static str,
    message: String,
}

impl Failure {
    fn new(message: String) -> Self {
        Self { check: "", message }
    }

    fn in_check(mut self, check: &'static str) -> Self {
        if self.check.is_empty() {
            self.check = check;
        }
        self
    }

    /// The check that failed (empty if a helper was called directly).
    pub fn check(&self) -> &'static str {
        self.check
    }

    /// What the store did that it must not.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.check.is_empty() {
            write!(f, "key store conformance: {}", self.message)
        } else {
            write!(
                f,
                "key store conformance check `{}` failed: {}",
                self.check, self.message
            )
        }
    }
}

impl core::error::Error for Failure {}

/// The result of a check.
pub type CheckResult = Result<(), Failure>;

/// A check on one store instance.
pub type Check = fn(&(dyn KeyStore + Sync)) -> CheckResult;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(Failure::new(format!($($msg)+)));
        }
    };
}

/// Every check on one store instance, by name, in the order [`run_all`] runs them.
pub const CHECKS: &[(&str, Check)] = &[
    ("load_unknown_is_none", load_unknown_is_none),
    ("insert_starts_at_version_0", insert_starts_at_version_0),
    ("cas_increments_version", cas_increments_version),
    ("stale_cas_conflicts", stale_cas_conflicts),
    ("cas_unknown_is_not_found", cas_unknown_is_not_found),
    ("duplicate_key_id", duplicate_key_id),
    ("duplicate_n1_hash", duplicate_n1_hash),
    ("duplicate_challenge", duplicate_challenge),
    ("uniqueness_forever", uniqueness_forever),
    ("blobs_byte_exact", blobs_byte_exact),
    ("records_independent", records_independent),
    (
        "concurrent_cas_no_lost_update",
        concurrent_cas_no_lost_update,
    ),
    ("concurrent_insert_same_n1", concurrent_insert_same_n1),
    (
        "concurrent_insert_same_challenge",
        concurrent_insert_same_challenge,
    ),
    (
        "concurrent_insert_same_key_id",
        concurrent_insert_same_key_id,
    ),
];

/// The names of the checks that need a factory reopening the same storage, in the order
/// [`run_reopen`] runs them.
pub const REOPEN_CHECKS: &[&str] = &["reopen_keeps_latest", "cas_across_instances"];

/// Runs every check of [`CHECKS`], each on a store from `make_store` (a new one each time; it
/// may be on the same backing storage as the others), and stops at the first failure.
///
/// # Errors
/// The first [`Failure`].
pub fn run_all<S: KeyStore + Sync>(make_store: impl Fn() -> S) -> CheckResult {
    for (name, check) in CHECKS {
        let store = make_store();
        check(&store).map_err(|f| f.in_check(name))?;
    }
    Ok(())
}

/// Runs the checks that need several instances on one backing storage (the same file, the
/// same database): `open` must return a new instance on that storage each time it is called.
///
/// # Errors
/// The first [`Failure`].
pub fn run_reopen<S: KeyStore + Sync>(open: impl Fn() -> S + Sync) -> CheckResult {
    reopen_keeps_latest(&open).map_err(|f| f.in_check("reopen_keeps_latest"))?;
    cas_across_instances(&open).map_err(|f| f.in_check("cas_across_instances"))
}

// ---------------------------------------------------------------------------------------------
// Fresh values and small helpers.

/// Bytes no other call (in this process or, with overwhelming probability, any other) returns.
fn fresh<const N: usize>(label: &str) -> [u8; N] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut out = [0u8; N];
    let mut block = 0u32;
    let mut filled = 0;
    while filled < N {
        let digest = Sha256::new()
            .chain_update(b"split-rsa key store conformance")
            .chain_update(std::process::id().to_be_bytes())
            .chain_update(nanos.to_be_bytes())
            .chain_update(n.to_be_bytes())
            .chain_update(label.as_bytes())
            .chain_update(block.to_be_bytes())
            .finalize();
        for (o, d) in out.iter_mut().skip(filled).zip(digest.iter()) {
            *o = *d;
            filled += 1;
        }
        block += 1;
    }
    out
}

/// A record not yet inserted, with fresh key id, n1 hash and challenge.
#[derive(Clone)]
struct Fixture {
    key_id: KeyId,
    n1_hash: N1Hash,
    challenge: [u8; CHALLENGE_LEN],
    blob: Vec<u8>,
}

impl Fixture {
    fn fresh() -> Self {
        let key_id = KeyId::from_bytes(fresh::<KEY_ID_LEN>("key id"));
        let mut blob = b"split-rsa conformance record v0 ".to_vec();
        blob.extend_from_slice(key_id.as_bytes());
        Self {
            key_id,
            n1_hash: fresh("n1 hash"),
            challenge: fresh("challenge"),
            blob,
        }
    }

    fn record(&self) -> NewRecord<'_> {
        NewRecord {
            key_id: &self.key_id,
            n1_hash: &self.n1_hash,
            challenge: &self.challenge,
            blob: &self.blob,
        }
    }
}

fn ok<T>(what: &str, r: Result<T, StoreError>) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(format!("{what}: unexpected error {e:?}")))
}

fn insert(store: &dyn KeyStore, f: &Fixture) -> CheckResult {
    ok("insert of a fresh record", store.insert(&f.record()))
}

/// Checks that the record is stored at `version` with `blob`.
fn expect_record(store: &dyn KeyStore, id: &KeyId, version: u64, blob: &[u8]) -> CheckResult {
    match ok("load", store.load(id))? {
        None => Err(Failure::new(format!(
            "load of {id:?}: None, expected version {version}"
        ))),
        Some(r) => {
            ensure!(
                r.version == version,
                "load of {id:?}: version {}, expected {version}",
                r.version
            );
            ensure!(
                r.blob.as_slice() == blob,
                "load of {id:?} at version {version}: blob of {} bytes differs from the {} \
                 bytes written{}",
                r.blob.len(),
                blob.len(),
                first_difference(&r.blob, blob)
            );
            Ok(())
        }
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| format!(" (first difference at byte {i})"))
        .unwrap_or_default()
}

fn expect_err(what: &str, r: Result<(), StoreError>, expected: &StoreError) -> CheckResult {
    match r {
        Err(e) if e == *expected => Ok(()),
        Err(e) => Err(Failure::new(format!(
            "{what}: got {e:?}, expected {expected:?}"
        ))),
        Ok(()) => Err(Failure::new(format!(
            "{what}: succeeded, expected {expected:?}"
        ))),
    }
}

fn expect_n1(store: &dyn KeyStore, n1: &N1Hash, expected: Option<&KeyId>) -> CheckResult {
    let found = ok("find_n1", store.find_n1(n1))?;
    ensure!(
        found.as_ref() == expected,
        "find_n1: got {found:?}, expected {expected:?}"
    );
    Ok(())
}

fn blob_for(version: u64, len: usize) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.resize(len.max(8), (version as u8) ^ 0x5a);
    b
}

// ---------------------------------------------------------------------------------------------
// Checks on one instance.

/// `load` of an unknown key id is `None`; `find_n1` of an unknown hash is `None`.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn load_unknown_is_none(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    let loaded = ok("load of an unknown id", store.load(&f.key_id))?;
    ensure!(
        loaded.is_none(),
        "load of an unknown id: {loaded:?}, expected None"
    );
    expect_n1(store, &f.n1_hash, None)
}

/// `insert` stores the record at version 0 with its blob, and `find_n1` finds its key id.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn insert_starts_at_version_0(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    expect_record(store, &f.key_id, 0, &f.blob)?;
    expect_n1(store, &f.n1_hash, Some(&f.key_id))
}

/// Each successful compare-and-swap increments the version by one and replaces the blob
/// (longer and shorter ones); `find_n1` keeps finding the key.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn cas_increments_version(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    for (v, len) in (0..6u64).zip([300, 20, 5000, 8, 64, 1]) {
        let blob = blob_for(v + 1, len);
        ok(
            "compare-and-swap at the current version",
            store.compare_and_swap(&f.key_id, v, &blob),
        )?;
        expect_record(store, &f.key_id, v + 1, &blob)?;
    }
    expect_n1(store, &f.n1_hash, Some(&f.key_id))
}

/// A compare-and-swap naming a stale or a future version is a `Conflict` and writes nothing.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn stale_cas_conflicts(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    let b1 = blob_for(1, 100);
    ok(
        "first compare-and-swap",
        store.compare_and_swap(&f.key_id, 0, &b1),
    )?;
    for stale in [0, 2, 7, i64::MAX as u64, u64::MAX] {
        expect_err(
            &format!("compare-and-swap at version {stale} when the record is at 1"),
            store.compare_and_swap(&f.key_id, stale, b"must not be written"),
            &StoreError::Conflict,
        )?;
        expect_record(store, &f.key_id, 1, &b1)?;
    }
    // And the store still accepts the right version afterwards.
    let b2 = blob_for(2, 50);
    ok(
        "compare-and-swap after refused ones",
        store.compare_and_swap(&f.key_id, 1, &b2),
    )?;
    expect_record(store, &f.key_id, 2, &b2)
}

/// A compare-and-swap on an unknown key id is `NotFound` and creates nothing.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn cas_unknown_is_not_found(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    for v in [0, 1, u64::MAX] {
        expect_err(
            &format!("compare-and-swap of an unknown id at version {v}"),
            store.compare_and_swap(&f.key_id, v, b"must not be written"),
            &StoreError::NotFound,
        )?;
    }
    let loaded = ok("load", store.load(&f.key_id))?;
    ensure!(
        loaded.is_none(),
        "a compare-and-swap on an unknown id created a record: {loaded:?}"
    );
    Ok(())
}

/// Which field of a second record repeats the first's.
#[derive(Clone, Copy)]
enum Repeat {
    KeyId,
    N1,
    Challenge,
}

impl Repeat {
    fn uniqueness(self) -> Uniqueness {
        match self {
            Repeat::KeyId => Uniqueness::KeyId,
            Repeat::N1 => Uniqueness::N1,
            Repeat::Challenge => Uniqueness::Challenge,
        }
    }

    /// A fresh record sharing only this field with `first`.
    fn clash(self, first: &Fixture) -> Fixture {
        let mut g = Fixture::fresh();
        match self {
            Repeat::KeyId => g.key_id = first.key_id,
            Repeat::N1 => g.n1_hash = first.n1_hash,
            Repeat::Challenge => g.challenge = first.challenge,
        }
        g.blob = b"a duplicate that must not be written".to_vec();
        g
    }
}

/// Inserts a record sharing one field with `first` (already stored at `version` with `blob`):
/// it must be refused naming that field, and nothing of it may be written.
fn refuse_duplicate(
    store: &dyn KeyStore,
    first: &Fixture,
    version: u64,
    blob: &[u8],
    repeat: Repeat,
) -> CheckResult {
    let dup = repeat.clash(first);
    let expected = StoreError::Duplicate(repeat.uniqueness());
    expect_err(
        &format!("insert repeating the {:?}", repeat.uniqueness()),
        store.insert(&dup.record()),
        &expected,
    )?;
    // The first record is untouched.
    expect_record(store, &first.key_id, version, blob)?;
    expect_n1(store, &first.n1_hash, Some(&first.key_id))?;
    // Nothing of the refused record was written: its other values are still free.
    if !matches!(repeat, Repeat::KeyId) {
        let loaded = ok("load", store.load(&dup.key_id))?;
        ensure!(
            loaded.is_none(),
            "a refused insert left a record under its key id"
        );
    }
    if !matches!(repeat, Repeat::N1) {
        expect_n1(store, &dup.n1_hash, None)?;
    }
    let mut reuse = Fixture::fresh();
    match repeat {
        Repeat::KeyId => {
            reuse.n1_hash = dup.n1_hash;
            reuse.challenge = dup.challenge;
        }
        Repeat::N1 => {
            reuse.key_id = dup.key_id;
            reuse.challenge = dup.challenge;
        }
        Repeat::Challenge => {
            reuse.key_id = dup.key_id;
            reuse.n1_hash = dup.n1_hash;
        }
    }
    ok(
        "insert reusing the non-duplicate values of a refused insert (they must be free)",
        store.insert(&reuse.record()),
    )?;
    expect_record(store, &reuse.key_id, 0, &reuse.blob)
}

/// A second record with the key id of the first is refused with `Duplicate(KeyId)`; nothing
/// of it is written.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn duplicate_key_id(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    refuse_duplicate(store, &f, 0, &f.blob, Repeat::KeyId)
}

/// A second record with the n1 hash of the first is refused with `Duplicate(N1)` (SPEC §3.5);
/// nothing of it is written.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn duplicate_n1_hash(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    refuse_duplicate(store, &f, 0, &f.blob, Repeat::N1)
}

/// A second record with the challenge of the first is refused with `Duplicate(Challenge)`
/// (SPEC §3.0); nothing of it is written.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn duplicate_challenge(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let f = Fixture::fresh();
    insert(store, &f)?;
    refuse_duplicate(store, &f, 0, &f.blob, Repeat::Challenge)
}

/// Uniqueness *forever*: after the first record was overwritten many times, ending as a short
/// "destroyed" stub (SPEC §7: a destroyed record keeps only the reason, the time and the n1
/// hash), its key id, n1 hash and challenge are still refused, and `find_n1` still finds it.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn uniqueness_forever(store: &(dyn KeyStore + Sync)) -> CheckResult {
    const WRITES: u64 = 40;
    let f = Fixture::fresh();
    insert(store, &f)?;
    let mut blob = f.blob.clone();
    for v in 0..WRITES {
        blob = if v + 1 == WRITES {
            b"destroyed".to_vec()
        } else {
            blob_for(v + 1, 200 + (v as usize % 7) * 300)
        };
        ok(
            "compare-and-swap",
            store.compare_and_swap(&f.key_id, v, &blob),
        )?;
    }
    expect_record(store, &f.key_id, WRITES, &blob)?;
    for repeat in [Repeat::KeyId, Repeat::N1, Repeat::Challenge] {
        refuse_duplicate(store, &f, WRITES, &blob, repeat)?;
    }
    Ok(())
}

/// Blobs come back byte for byte: every byte value, NULs (leading, trailing, only), invalid
/// UTF-8, and large blobs (16 KiB, 64 KiB), through insert and compare-and-swap.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn blobs_byte_exact(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let all_bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let mut large = Vec::with_capacity(64 * 1024);
    while large.len() < 64 * 1024 {
        large.extend_from_slice(&fresh::<32>("large blob"));
    }
    let blobs: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0; 1000],
        [&b"\0\0leading and trailing NULs"[..], &[0, 0, 0]].concat(),
        vec![
            0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf8, 0x88, 0x80, 0x80, 0x80,
        ],
        all_bytes,
        large
            .get(..16 * 1024)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        large,
        vec![0x42],
    ];
    for (i, first) in blobs.iter().enumerate() {
        let mut f = Fixture::fresh();
        f.blob.clone_from(first);
        insert(store, &f)?;
        expect_record(store, &f.key_id, 0, first)
            .map_err(|e| Failure::new(format!("inserted blob #{i}: {}", e.message)))?;
        // Then through compare-and-swap, each blob replacing the previous one.
        let mut version = 0;
        for (j, next) in blobs.iter().enumerate().skip(i + 1).take(3) {
            ok(
                "compare-and-swap",
                store.compare_and_swap(&f.key_id, version, next),
            )?;
            version += 1;
            expect_record(store, &f.key_id, version, next)
                .map_err(|e| Failure::new(format!("blob #{j} written over #{i}: {}", e.message)))?;
        }
    }
    Ok(())
}

/// Records are independent: a compare-and-swap of one changes no other, and versions are per
/// record.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn records_independent(store: &(dyn KeyStore + Sync)) -> CheckResult {
    let a = Fixture::fresh();
    let b = Fixture::fresh();
    insert(store, &a)?;
    insert(store, &b)?;
    let a1 = blob_for(1, 77);
    ok(
        "compare-and-swap",
        store.compare_and_swap(&a.key_id, 0, &a1),
    )?;
    expect_record(store, &b.key_id, 0, &b.blob)?;
    expect_err(
        "compare-and-swap of the second record at the first record's version",
        store.compare_and_swap(&b.key_id, 1, b"must not be written"),
        &StoreError::Conflict,
    )?;
    expect_record(store, &a.key_id, 1, &a1)?;
    expect_record(store, &b.key_id, 0, &b.blob)?;
    expect_n1(store, &a.n1_hash, Some(&a.key_id))?;
    expect_n1(store, &b.n1_hash, Some(&b.key_id))
}

/// Threads doing load → compare-and-swap loops on one record (retrying on `Conflict`) lose no
/// update: the final count is the number of increments, and each load sees a blob that
/// matches its version.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn concurrent_cas_no_lost_update(store: &(dyn KeyStore + Sync)) -> CheckResult {
    const THREADS: usize = 8;
    const PER_THREAD: u64 = 25;
    let id = insert_counter(store)?;
    hammer_counter(store, &id, THREADS, PER_THREAD)?;
    let count = read_counter(store, &id)?;
    let expected = THREADS as u64 * PER_THREAD;
    ensure!(
        count == expected,
        "lost updates: {THREADS} threads made {expected} successful compare-and-swaps, the \
         record counts {count}"
    );
    Ok(())
}

/// Inserts from `THREADS` threads at once that all repeat one field: exactly one succeeds,
/// every other is `Duplicate` naming that field, and the winner is what the store holds.
fn concurrent_inserts(store: &(dyn KeyStore + Sync), repeat: Repeat) -> CheckResult {
    const THREADS: usize = 8;
    let base = Fixture::fresh();
    let fixtures: Vec<Fixture> = (0..THREADS)
        .map(|i| {
            let mut g = repeat.clash(&base);
            g.blob = format!("contender {i}").into_bytes();
            g
        })
        .collect();
    let barrier = Barrier::new(THREADS);
    let results: Vec<Result<(), StoreError>> = thread::scope(|s| {
        let handles: Vec<_> = fixtures
            .iter()
            .map(|g| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    store.insert(&g.record())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::backend("the inserting thread panicked")))
            })
            .collect()
    });
    let expected = StoreError::Duplicate(repeat.uniqueness());
    let mut winners = Vec::new();
    for (g, r) in fixtures.iter().zip(&results) {
        match r {
            Ok(()) => winners.push(g),
            Err(e) if *e == expected => {}
            Err(e) => {
                return Err(Failure::new(format!(
                    "concurrent insert: got {e:?}, expected Ok or {expected:?}"
                )));
            }
        }
    }
    ensure!(
        winners.len() == 1,
        "{} of {THREADS} concurrent inserts repeating the {:?} succeeded, expected exactly one",
        winners.len(),
        repeat.uniqueness()
    );
    let Some(winner) = winners.first() else {
        return Ok(());
    };
    expect_record(store, &winner.key_id, 0, &winner.blob)?;
    expect_n1(store, &winner.n1_hash, Some(&winner.key_id))?;
    for loser in fixtures.iter().filter(|g| g.key_id != winner.key_id) {
        ensure!(
            ok("load", store.load(&loser.key_id))?.is_none(),
            "a refused concurrent insert left a record"
        );
        if loser.n1_hash != winner.n1_hash {
            expect_n1(store, &loser.n1_hash, None)?;
        }
    }
    Ok(())
}

/// Concurrent inserts of one n1 hash (with distinct key ids and challenges): exactly one
/// succeeds.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn concurrent_insert_same_n1(store: &(dyn KeyStore + Sync)) -> CheckResult {
    concurrent_inserts(store, Repeat::N1)
}

/// Concurrent inserts of one challenge: exactly one succeeds.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn concurrent_insert_same_challenge(store: &(dyn KeyStore + Sync)) -> CheckResult {
    concurrent_inserts(store, Repeat::Challenge)
}

/// Concurrent inserts of one key id: exactly one succeeds.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn concurrent_insert_same_key_id(store: &(dyn KeyStore + Sync)) -> CheckResult {
    concurrent_inserts(store, Repeat::KeyId)
}

// ---------------------------------------------------------------------------------------------
// Checks that reopen the same storage.

/// A new instance on the same storage sees the latest committed version and blob, and the
/// uniqueness constraints of records written by an earlier instance.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn reopen_keeps_latest<S: KeyStore>(open: &dyn Fn() -> S) -> CheckResult {
    let f = Fixture::fresh();
    let last = blob_for(3, 4096);
    {
        let first = open();
        insert(&first, &f)?;
        ok(
            "compare-and-swap",
            first.compare_and_swap(&f.key_id, 0, &blob_for(1, 10)),
        )?;
        ok(
            "compare-and-swap",
            first.compare_and_swap(&f.key_id, 1, &blob_for(2, 20)),
        )?;
        ok(
            "compare-and-swap",
            first.compare_and_swap(&f.key_id, 2, &last),
        )?;
    }
    let second = open();
    expect_record(&second, &f.key_id, 3, &last)?;
    expect_err(
        "compare-and-swap at a stale version after reopening",
        second.compare_and_swap(&f.key_id, 2, b"must not be written"),
        &StoreError::Conflict,
    )?;
    for repeat in [Repeat::KeyId, Repeat::N1, Repeat::Challenge] {
        refuse_duplicate(&second, &f, 3, &last, repeat)?;
    }
    ok(
        "compare-and-swap after reopening",
        second.compare_and_swap(&f.key_id, 3, b"v4"),
    )?;
    expect_record(&open(), &f.key_id, 4, b"v4")
}

/// Threads each with their own instance on one storage (as separate processes would have)
/// lose no compare-and-swap update, and concurrent inserts of one n1 hash through different
/// instances: exactly one succeeds.
///
/// # Errors
/// A [`Failure`] saying what the store did instead.
pub fn cas_across_instances<S: KeyStore + Sync>(open: &(dyn Fn() -> S + Sync)) -> CheckResult {
    const INSTANCES: usize = 4;
    const PER_INSTANCE: u64 = 25;
    let id = insert_counter(&open())?;
    let barrier = Barrier::new(INSTANCES);
    let results: Vec<Result<CasStats, Failure>> = thread::scope(|s| {
        let handles: Vec<_> = (0..INSTANCES)
            .map(|_| {
                let (barrier, id) = (&barrier, &id);
                s.spawn(move || {
                    let store = open();
                    barrier.wait();
                    increment_counter(&store, id, PER_INSTANCE)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Failure::new("a thread panicked".into())))
            })
            .collect()
    });
    for r in results {
        r?;
    }
    let count = read_counter(&open(), &id)?;
    let expected = INSTANCES as u64 * PER_INSTANCE;
    ensure!(
        count == expected,
        "lost updates across instances: {expected} successful compare-and-swaps, the record \
         counts {count}"
    );

    // One n1 hash inserted through every instance at once.
    let base = Fixture::fresh();
    let stores: Vec<S> = (0..INSTANCES).map(|_| open()).collect();
    let barrier = Barrier::new(INSTANCES);
    let wins = AtomicU64::new(0);
    let errors = Mutex::new(Vec::new());
    thread::scope(|s| {
        for (i, store) in stores.iter().enumerate() {
            let (barrier, base, wins, errors) = (&barrier, &base, &wins, &errors);
            s.spawn(move || {
                let mut g = Repeat::N1.clash(base);
                g.blob = format!("instance {i}").into_bytes();
                barrier.wait();
                match store.insert(&g.record()) {
                    Ok(()) => {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(StoreError::Duplicate(Uniqueness::N1)) => {}
                    Err(e) => errors
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(e),
                }
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_else(PoisonError::into_inner);
    ensure!(
        errors.is_empty(),
        "concurrent inserts through several instances: unexpected errors {errors:?}"
    );
    let wins = wins.into_inner();
    ensure!(
        wins == 1,
        "{wins} of {INSTANCES} instances inserted the same n1 hash, expected exactly one"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The counter: a record whose blob counts the compare-and-swaps done on it. For concurrency
// and crash tests of your own (several processes, a writer killed midway).

const COUNTER_MAGIC: &[u8] = b"split-rsa counter";

/// Counts of one increment loop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CasStats {
    /// Successful compare-and-swaps.
    pub increments: u64,
    /// `Conflict`s retried.
    pub conflicts: u64,
}

fn counter_blob(count: u64) -> Vec<u8> {
    let mut b = COUNTER_MAGIC.to_vec();
    b.extend_from_slice(&count.to_be_bytes());
    // Some bulk, so that a torn write could not go unnoticed.
    b.resize(b.len() + 200, (count as u8).wrapping_mul(31));
    b
}

/// Reads the counter and checks that the blob is the one written with that version.
fn counter_at(store: &dyn KeyStore, id: &KeyId) -> Result<(u64, u64), Failure> {
    let r = ok("load of the counter", store.load(id))?
        .ok_or_else(|| Failure::new(format!("the counter record {id:?} is gone")))?;
    let count = r
        .blob
        .get(COUNTER_MAGIC.len()..COUNTER_MAGIC.len() + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| Failure::new("the counter's blob is not a counter".into()))?;
    ensure!(
        r.blob.as_slice() == counter_blob(count).as_slice(),
        "the counter's blob at version {} is torn or altered",
        r.version
    );
    ensure!(
        count == r.version,
        "the counter's blob says {count} but its version is {}: a load returned a blob and a \
         version from different writes",
        r.version
    );
    Ok((r.version, count))
}

/// Inserts a fresh counter record (at 0) and returns its key id.
///
/// # Errors
/// A [`Failure`] if the insert fails.
pub fn insert_counter(store: &dyn KeyStore) -> Result<KeyId, Failure> {
    let mut f = Fixture::fresh();
    f.blob = counter_blob(0);
    insert(store, &f)?;
    Ok(f.key_id)
}

/// Adds `times` to the counter with load → compare-and-swap loops, retrying on `Conflict`;
/// any other error is a failure.
///
/// # Errors
/// A [`Failure`] on any error but `Conflict`, on a torn or inconsistent counter, or if one
/// increment needed more than 100 000 retries.
pub fn increment_counter(
    store: &dyn KeyStore,
    id: &KeyId,
    times: u64,
) -> Result<CasStats, Failure> {
    const MAX_RETRIES: u64 = 100_000;
    let mut stats = CasStats::default();
    for _ in 0..times {
        let mut retries = 0;
        loop {
            let (version, count) = counter_at(store, id)?;
            match store.compare_and_swap(id, version, &counter_blob(count + 1)) {
                Ok(()) => {
                    stats.increments += 1;
                    break;
                }
                Err(StoreError::Conflict) => {
                    stats.conflicts += 1;
                    retries += 1;
                    ensure!(
                        retries <= MAX_RETRIES,
                        "an increment still conflicted after {MAX_RETRIES} retries"
                    );
                }
                Err(e) => {
                    return Err(Failure::new(format!(
                        "compare-and-swap of the counter: unexpected error {e:?} (only \
                         Conflict may be retried)"
                    )));
                }
            }
        }
    }
    Ok(stats)
}

/// Runs [`increment_counter`] from `threads` threads at once (`per_thread` each) and sums
/// their counts.
///
/// # Errors
/// The first thread's [`Failure`].
pub fn hammer_counter(
    store: &(dyn KeyStore + Sync),
    id: &KeyId,
    threads: usize,
    per_thread: u64,
) -> Result<CasStats, Failure> {
    let barrier = Barrier::new(threads);
    let results: Vec<Result<CasStats, Failure>> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    increment_counter(store, id, per_thread)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Failure::new("a thread panicked".into())))
            })
            .collect()
    });
    let mut total = CasStats::default();
    for r in results {
        let s = r?;
        total.increments += s.increments;
        total.conflicts += s.conflicts;
    }
    Ok(total)
}

/// The counter's value, checked against the record's version.
///
/// # Errors
/// A [`Failure`] if the record is missing, torn, or its count and version disagree.
pub fn read_counter(store: &dyn KeyStore, id: &KeyId) -> Result<u64, Failure> {
    counter_at(store, id).map(|(_, count)| count)
}

/// Generates one `#[test]` per conformance check (feature `test-kit`) for a store factory: an
/// expression of type `impl Fn() -> S` with `S: KeyStore + Sync` (each test calls it once;
/// the stores may share their backing storage). With `reopen: factory`, also the checks that
/// need several instances on one storage (the factory must reopen the same storage each
/// time).
///
/// ```ignore
/// mod in_memory {
///     split_rsa::key_store_conformance_tests!(|| split_rsa::InMemoryKeyStore::new());
/// }
/// mod sqlite {
///     split_rsa::key_store_conformance_tests!(
///         || split_rsa::SqliteKeyStore::open("/tmp/keys.sqlite").unwrap(),
///         reopen: || split_rsa::SqliteKeyStore::open("/tmp/keys.sqlite").unwrap()
///     );
/// }
/// ```
#[macro_export]
macro_rules! key_store_conformance_tests {
    ($make:expr $(,)?) => {
        $crate::key_store_conformance_tests!(@checks $make;
            load_unknown_is_none,
            insert_starts_at_version_0,
            cas_increments_version,
            stale_cas_conflicts,
            cas_unknown_is_not_found,
            duplicate_key_id,
            duplicate_n1_hash,
            duplicate_challenge,
            uniqueness_forever,
            blobs_byte_exact,
            records_independent,
            concurrent_cas_no_lost_update,
            concurrent_insert_same_n1,
            concurrent_insert_same_challenge,
            concurrent_insert_same_key_id,
        );
    };
    ($make:expr, reopen: $open:expr $(,)?) => {
        $crate::key_store_conformance_tests!($make);
        $crate::key_store_conformance_tests!(@reopen $open;
            reopen_keeps_latest,
            cas_across_instances,
        );
    };
    (@checks $make:expr; $($check:ident,)+) => {
        $(
            #[test]
            fn $check() {
                let make = $make;
                let store = make();
                if let Err(f) = $crate::test_kit::$check(&store) {
                    panic!("{}", f);
                }
            }
        )+

        #[test]
        fn every_conformance_check_is_generated() {
            let generated: &[&str] = &[$(stringify!($check)),+];
            let all: Vec<&str> = $crate::test_kit::CHECKS.iter().map(|(n, _)| *n).collect();
            assert_eq!(generated, all.as_slice(), "key_store_conformance_tests! is out of date");
        }
    };
    (@reopen $open:expr; $($check:ident,)+) => {
        $(
            #[test]
            fn $check() {
                let open = $open;
                if let Err(f) = $crate::test_kit::$check(&open) {
                    panic!("{}", f);
                }
            }
        )+

        #[test]
        fn every_reopen_check_is_generated() {
            let generated: &[&str] = &[$(stringify!($check)),+];
            assert_eq!(generated, $crate::test_kit::REOPEN_CHECKS, "key_store_conformance_tests! is out of date");
        }
    };
}

//! The server's per-key record and the key-store interface (SPEC §7).
//!
//! A [`KeyRecord`] is everything the server keeps about one split key: its id, a version
//! number for compare-and-swap, creation and expiry times, and either the active state
//! (the server's share `S`, the lockout [`AttemptState`], the [`OtpState`]) or, once the key
//! is destroyed, only the reason and the time (SPEC §7). Destroying a record wipes the share.
//!
//! A [`RecordStore`] loads records and writes them back with compare-and-swap on the version:
//! every write names the version it was computed from and fails with
//! [`StoreError::Conflict`] if another write came first. [`InMemoryRecordStore`] is a
//! thread-safe implementation for tests and single-process servers.

use core::fmt;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use zeroize::{Zeroize, Zeroizing};

use crate::error::{DecodeError, DecodeErrorKind, Error, Result, StoreError};
use crate::rsa::keygen::ServerShare;
use crate::rsa::keygen::server::ServerShareFields;
use crate::server::lockout::AttemptState;
use crate::server::otp::{LastExchange, OTP_LEN, Otp, OtpHash, OtpState};
use crate::server::session::Answer;
use crate::wire::encoding::{MessageType, Reader, Writer};
use crate::wire::messages::MAX_SIGNATURE_BYTES;

/// A key id (SPEC §3.6).
pub type KeyId = [u8; crate::device::seal::KEY_ID_LEN];

/// Why a key was destroyed (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyReason {
    /// The consecutive wrong-PIN count reached the destroy threshold.
    WrongPins,
    /// A valid partial signature arrived with a stale OTP: a cloned device share.
    Clone,
    /// Closed by its owner.
    Closed,
    /// Its lifetime ran out (requests on it answer [`Error::KeyExpired`]).
    Expired,
}

/// The live part of a key record: the server's share and the §7 counters.
pub struct ActiveKey<S> {
    share: S,
    attempts: AttemptState,
    otp: OtpState<Answer>,
}

impl<S> ActiveKey<S> {
    /// Rebuilds from stored parts (for a persistent key store).
    pub fn from_parts(share: S, attempts: AttemptState, otp: OtpState<Answer>) -> Self {
        Self {
            share,
            attempts,
            otp,
        }
    }

    /// The server's cryptographic share.
    pub fn share(&self) -> &S {
        &self.share
    }

    /// The lockout state.
    pub fn attempts(&self) -> &AttemptState {
        &self.attempts
    }

    /// The OTP state.
    pub fn otp(&self) -> &OtpState<Answer> {
        &self.otp
    }

    pub(crate) fn attempts_mut(&mut self) -> &mut AttemptState {
        &mut self.attempts
    }

    pub(crate) fn otp_mut(&mut self) -> &mut OtpState<Answer> {
        &mut self.otp
    }
}

impl<S: Clone> Clone for ActiveKey<S> {
    // Cloning a share is allowed only because a store hands out a fresh copy on every load,
    // exactly as a database would deserialise one; `S` must wipe itself on drop.
    fn clone(&self) -> Self {
        Self {
            share: self.share.clone(),
            attempts: self.attempts,
            otp: self.otp.clone(),
        }
    }
}

impl<S> fmt::Debug for ActiveKey<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveKey")
            .field("attempts", &self.attempts)
            .field("otp", &self.otp)
            .finish_non_exhaustive()
    }
}

/// A key's lifecycle state (SPEC §7).
pub enum KeyState<S> {
    /// Usable (possibly locked).
    Active(ActiveKey<S>),
    /// Destroyed: the share is gone; only the reason and the time are kept.
    Destroyed {
        /// Why.
        reason: DestroyReason,
        /// When (seconds since the Unix epoch).
        at: u64,
    },
}

impl<S: Clone> Clone for KeyState<S> {
    fn clone(&self) -> Self {
        match self {
            KeyState::Active(a) => KeyState::Active(a.clone()),
            KeyState::Destroyed { reason, at } => KeyState::Destroyed {
                reason: *reason,
                at: *at,
            },
        }
    }
}

impl<S> fmt::Debug for KeyState<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyState::Active(a) => f.debug_tuple("Active").field(a).finish(),
            KeyState::Destroyed { reason, at } => f
                .debug_struct("Destroyed")
                .field("reason", reason)
                .field("at", at)
                .finish(),
        }
    }
}

/// The server's record of one split key (SPEC §7). `S` is the server's cryptographic share;
/// it should wipe itself on drop (`ZeroizeOnDrop`).
pub struct KeyRecord<S> {
    key_id: KeyId,
    version: u64,
    created_at: u64,
    expires_at: u64,
    state: KeyState<S>,
}

impl<S> KeyRecord<S> {
    /// A new active record at version 0 with OTP_0 = `first_otp` (SPEC §3.5), created at
    /// `now` and expiring `lifetime_secs` later.
    pub fn new(key_id: KeyId, share: S, first_otp: &Otp, now: u64, lifetime_secs: u64) -> Self {
        Self {
            key_id,
            version: 0,
            created_at: now,
            expires_at: now.saturating_add(lifetime_secs),
            state: KeyState::Active(ActiveKey {
                share,
                attempts: AttemptState::new(),
                otp: OtpState::new(first_otp),
            }),
        }
    }

    /// Rebuilds a record from stored parts (for a persistent key store).
    pub fn from_parts(
        key_id: KeyId,
        version: u64,
        created_at: u64,
        expires_at: u64,
        state: KeyState<S>,
    ) -> Self {
        Self {
            key_id,
            version,
            created_at,
            expires_at,
            state,
        }
    }

    /// The key id.
    pub const fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The version this record was loaded at (a store's `store` ignores it and writes
    /// `expected_version + 1`).
    pub const fn version(&self) -> u64 {
        self.version
    }

    /// Registration time (seconds since the Unix epoch).
    pub const fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Expiry time: the key is expired at `now >= expires_at` (SPEC §7).
    pub const fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the key is expired at `now`.
    pub const fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The lifecycle state.
    pub const fn state(&self) -> &KeyState<S> {
        &self.state
    }

    /// The active state, or `None` if destroyed.
    pub const fn active(&self) -> Option<&ActiveKey<S>> {
        match &self.state {
            KeyState::Active(a) => Some(a),
            KeyState::Destroyed { .. } => None,
        }
    }

    /// Why and when the key was destroyed, or `None` if active.
    pub const fn destroyed(&self) -> Option<(DestroyReason, u64)> {
        match self.state {
            KeyState::Destroyed { reason, at } => Some((reason, at)),
            KeyState::Active(_) => None,
        }
    }

    pub(crate) fn active_mut(&mut self) -> Option<&mut ActiveKey<S>> {
        match &mut self.state {
            KeyState::Active(a) => Some(a),
            KeyState::Destroyed { .. } => None,
        }
    }

    pub(crate) const fn set_version(&mut self, version: u64) {
        self.version = version;
    }
}

impl<S: Zeroize> KeyRecord<S> {
    /// Destroys the key (SPEC §7): wipes the share and keeps only `reason` and `at`. A record
    /// that is already destroyed keeps its original reason and time.
    pub fn destroy(&mut self, reason: DestroyReason, at: u64) {
        if let KeyState::Active(active) = &mut self.state {
            active.share.zeroize();
            self.state = KeyState::Destroyed { reason, at };
        }
    }
}

impl<S: Clone> Clone for KeyRecord<S> {
    // See `ActiveKey::clone` for why a share may be cloned.
    fn clone(&self) -> Self {
        Self {
            key_id: self.key_id,
            version: self.version,
            created_at: self.created_at,
            expires_at: self.expires_at,
            state: self.state.clone(),
        }
    }
}

impl<S> fmt::Debug for KeyRecord<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("key_id", &self.key_id)
            .field("version", &self.version)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("state", &self.state)
            .finish()
    }
}

/// Storage for key records with compare-and-swap writes (SPEC §7).
///
/// Implementations must make `insert` and `store` atomic with respect to each other and to
/// concurrent calls: that is what makes "charge before compute" hold under concurrency.
///
/// # What an implementation must guarantee
///
/// The lockout (property (d) of SPEC §1) and clone detection (property (c)) are only as good
/// as the store. [`Server`](crate::Server) charges a wrong-PIN attempt with `store` and
/// computes with the share only after that call returned `Ok` (SPEC §4.5); a success, a
/// rotation of the one-time password, or a destruction is likewise one `store`. So:
///
/// - **Compare-and-swap.** `store(record, v)` writes only if the stored version is still `v`,
///   and the stored version becomes `v + 1`; otherwise it fails with
///   `Error::Store(StoreError::Conflict)` and changes nothing. The server reloads and retries a
///   conflict up to [`ServerPolicy::cas_retries`](crate::ServerPolicy::cas_retries) times. A
///   blind (last-writer-wins) write would let concurrent requests lose each other's charges.
/// - **Durable before `Ok`.** `Ok` means committed: a crash after `Ok` must not lose the
///   write. A store that acknowledges early lets an attacker who can crash or fail over the
///   server get uncounted PIN guesses.
/// - **No rollback.** Never restore a record from an older copy (a backup, a lagging replica):
///   it would undo charges and resurrect a one-time password. `load` returns the latest
///   committed version.
/// - **Keep destroyed records.** A destroyed record holds no share but must stay, so the key
///   id answers [`Error::KeyDestroyed`] rather than [`StoreError::NotFound`].
/// - **Errors abort.** Any error other than `Conflict` is returned to the caller as is; when it
///   comes from the charge, nothing is computed.
/// - **Secrets.** An active record holds the server's share `d1''` (and p2, q2): encrypt it at
///   rest; [`KeyRecord::to_bytes`] hands it out in a wiping buffer.
///
/// # Example
///
/// A store that keeps each record as a row `(key_id, version, blob)` with the canonical
/// encoding [`KeyRecord::to_bytes`]; a database would do the same with a conditional
/// `UPDATE ... WHERE version = ?` in a transaction.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// use rand_chacha::ChaCha20Rng;
/// use rand_core::SeedableRng;
/// use split_rsa::{
///     Argon2Params, DeviceRegistration, Error, HashAlg, KeyId, KeyPurpose, KeyRecord, KeySize,
///     RecordStore, Pin, Scheme, Server, ServerPolicy, ServerShare, ServerTransportKey,
///     SigningRequest, StoreError,
/// };
/// use zeroize::Zeroizing;
///
/// #[derive(Debug, Default)]
/// struct BlobStore {
///     rows: Mutex<HashMap<KeyId, (u64, Zeroizing<Vec<u8>>)>>,
/// }
///
/// /// `record` re-encoded at `version` (the version field of the argument is ignored).
/// fn at_version(record: &KeyRecord<ServerShare>, version: u64) -> Zeroizing<Vec<u8>> {
///     KeyRecord::from_parts(
///         *record.key_id(),
///         version,
///         record.created_at(),
///         record.expires_at(),
///         record.state().clone(),
///     )
///     .to_bytes()
/// }
///
/// impl RecordStore for BlobStore {
///     type Share = ServerShare;
///
///     fn load(&self, key_id: &KeyId) -> split_rsa::Result<Option<KeyRecord<ServerShare>>> {
///         let rows = self.rows.lock().map_err(|_| StoreError::Backend("poisoned"))?;
///         rows.get(key_id).map(|(_, blob)| KeyRecord::from_bytes(blob)).transpose()
///     }
///
///     fn insert(&self, record: &KeyRecord<ServerShare>) -> split_rsa::Result<()> {
///         let mut rows = self.rows.lock().map_err(|_| StoreError::Backend("poisoned"))?;
///         if rows.contains_key(record.key_id()) {
///             return Err(StoreError::Conflict.into());
///         }
///         rows.insert(*record.key_id(), (0, at_version(record, 0)));
///         Ok(())
///     }
///
///     fn store(&self, record: &KeyRecord<ServerShare>, expected: u64) -> split_rsa::Result<()> {
///         // One lock for the compare and the swap: the write is atomic.
///         let mut rows = self.rows.lock().map_err(|_| StoreError::Backend("poisoned"))?;
///         let row = rows.get_mut(record.key_id()).ok_or(StoreError::NotFound)?;
///         if row.0 != expected {
///             return Err(StoreError::Conflict.into());
///         }
///         *row = (expected + 1, at_version(record, expected + 1));
///         Ok(())
///     }
/// }
///
/// let mut rng = ChaCha20Rng::seed_from_u64(11); // an OS RNG in production
/// let size = KeySize::insecure_for_tests(768).unwrap(); // KeySize::BITS_3072 in production
/// let server = Server::new(
///     ServerTransportKey::generate(&mut rng),
///     BlobStore::default(),
///     ServerPolicy::default(),
///     size,
/// );
/// let now = 1_800_000_000;
/// let pin = Pin::new("58213", KeyPurpose::Signing)?;
/// let (registration, request) =
///     DeviceRegistration::start(&mut rng, KeyPurpose::Signing, size, &server.transport_public_key())?;
/// let response = server.register(&mut rng, &request, now)?;
/// let device =
///     registration.finish(&mut rng, response, &pin, Argon2Params::insecure_fast_for_tests())?;
///
/// // A wrong PIN: the charge was persisted before the share check, and it stands.
/// let scheme = Scheme::Pss(HashAlg::Sha256);
/// let request = SigningRequest::new(&mut rng, *device.key_id(), scheme, &HashAlg::Sha256.digest(b"x"))?;
/// let wrong = Pin::new("58231", KeyPurpose::Signing)?;
/// let partial = device.sign(&mut rng, &request, &wrong)?;
/// assert!(matches!(
///     server.complete(&mut rng, &request, &partial, now),
///     Err(Error::WrongPin { attempts_left: 8, .. })
/// ));
/// let record = server.state().store().load(device.key_id())?.unwrap();
/// assert_eq!(record.version(), 1);
/// assert_eq!(record.active().unwrap().attempts().failures(), 1);
/// # Ok::<(), Error>(())
/// ```
pub trait RecordStore {
    /// The server's cryptographic share held in each record.
    type Share;

    /// Loads a record (a fresh copy), or `None` if there is none with that id.
    ///
    /// # Errors
    /// [`Error::Store`] if the backend fails.
    fn load(&self, key_id: &KeyId) -> Result<Option<KeyRecord<Self::Share>>>;

    /// Inserts a new record at version 0.
    ///
    /// # Errors
    /// `Error::Store(StoreError::Conflict)` if a record with that id exists;
    /// [`Error::Store`] if the backend fails.
    fn insert(&self, record: &KeyRecord<Self::Share>) -> Result<()>;

    /// Writes `record` if the stored version is still `expected_version`; the stored copy
    /// gets version `expected_version + 1` (the version field of `record` is ignored).
    ///
    /// # Errors
    /// `Error::Store(StoreError::Conflict)` if the stored version differs;
    /// `Error::Store(StoreError::NotFound)` if there is no such record;
    /// [`Error::Store`] if the backend fails.
    fn store(&self, record: &KeyRecord<Self::Share>, expected_version: u64) -> Result<()>;
}

impl<K: RecordStore + ?Sized> RecordStore for &K {
    type Share = K::Share;

    fn load(&self, key_id: &KeyId) -> Result<Option<KeyRecord<Self::Share>>> {
        (**self).load(key_id)
    }

    fn insert(&self, record: &KeyRecord<Self::Share>) -> Result<()> {
        (**self).insert(record)
    }

    fn store(&self, record: &KeyRecord<Self::Share>, expected_version: u64) -> Result<()> {
        (**self).store(record, expected_version)
    }
}

/// A thread-safe in-memory [`RecordStore`] (`Mutex<HashMap>`), for tests and single-process
/// servers. Overwritten and dropped shares are wiped.
pub struct InMemoryRecordStore<S> {
    records: Mutex<HashMap<KeyId, KeyRecord<S>>>,
}

impl<S> InMemoryRecordStore<S> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Number of records (active or destroyed).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<KeyId, KeyRecord<S>>> {
        // No code path panics while holding the lock, so the map is consistent even if a
        // caller's thread panicked elsewhere and poisoned it.
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S> Default for InMemoryRecordStore<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> fmt::Debug for InMemoryRecordStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryRecordStore")
            .field("records", &self.len())
            .finish()
    }
}

impl<S: Clone + Zeroize> RecordStore for InMemoryRecordStore<S> {
    type Share = S;

    fn load(&self, key_id: &KeyId) -> Result<Option<KeyRecord<S>>> {
        Ok(self.lock().get(key_id).cloned())
    }

    fn insert(&self, record: &KeyRecord<S>) -> Result<()> {
        let mut map = self.lock();
        if map.contains_key(record.key_id()) {
            return Err(Error::Store(StoreError::Conflict));
        }
        let mut copy = record.clone();
        copy.set_version(0);
        map.insert(copy.key_id, copy);
        Ok(())
    }

    fn store(&self, record: &KeyRecord<S>, expected_version: u64) -> Result<()> {
        let mut map = self.lock();
        let slot = map
            .get_mut(record.key_id())
            .ok_or(Error::Store(StoreError::NotFound))?;
        if slot.version != expected_version {
            return Err(Error::Store(StoreError::Conflict));
        }
        let mut copy = record.clone();
        copy.set_version(expected_version.saturating_add(1));
        let mut old = core::mem::replace(slot, copy);
        if let KeyState::Active(a) = &mut old.state {
            a.share.zeroize();
        }
        Ok(())
    }
}

/// Tag of [`KeyState::Active`] in a stored record.
const STATE_ACTIVE: u8 = 1;
/// Tag of [`KeyState::Destroyed`] in a stored record.
const STATE_DESTROYED: u8 = 2;

impl DestroyReason {
    /// The reason's tag in a stored record (SPEC §9).
    const fn tag(self) -> u8 {
        match self {
            DestroyReason::WrongPins => 1,
            DestroyReason::Clone => 2,
            DestroyReason::Closed => 3,
            DestroyReason::Expired => 4,
        }
    }

    const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(DestroyReason::WrongPins),
            2 => Some(DestroyReason::Clone),
            3 => Some(DestroyReason::Closed),
            4 => Some(DestroyReason::Expired),
            _ => None,
        }
    }
}

fn decode_err(field: &'static str, kind: DecodeErrorKind) -> Error {
    Error::Decode(DecodeError::new(field, kind))
}

/// An optional field: a presence byte, exactly 0 (absent) or 1 (present).
fn read_flag(r: &mut Reader<'_>, field: &'static str) -> Result<bool> {
    Ok(r.bool(field)?)
}

impl KeyRecord<ServerShare> {
    /// The canonical encoding of the server's key record (SPEC §9, type
    /// [`MessageType::ServerKeyRecord`]; layout in `docs/encodings.md`), in a wiping buffer:
    /// it holds the server's share. Every field is written: key id, version, creation and
    /// expiry times, and the state, either active (attempt count and lock, OTP hash, the last
    /// exchange with its stored answer, the share) or destroyed (reason and time only; a
    /// destroyed record has no share).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(MessageType::ServerKeyRecord);
        w.fixed(&self.key_id)
            .u64(self.version)
            .u64(self.created_at)
            .u64(self.expires_at);
        match &self.state {
            KeyState::Active(a) => {
                w.u8(STATE_ACTIVE).u32(a.attempts.failures());
                match a.attempts.locked_until() {
                    Some(t) => w.u8(1).u64(t),
                    None => w.u8(0),
                };
                w.fixed(a.otp.current().as_bytes());
                match a.otp.last() {
                    Some(last) => {
                        w.u8(1)
                            .fixed(last.previous().as_bytes())
                            .fixed(last.request_id())
                            .var(last.answer().signature())
                            .fixed(last.answer().next_otp().as_bytes());
                    }
                    None => {
                        w.u8(0);
                    }
                }
                a.share.write_body(&mut w);
            }
            KeyState::Destroyed { reason, at } => {
                w.u8(STATE_DESTROYED).u8(reason.tag()).u64(*at);
            }
        }
        w.finish()
    }

    /// Strict decoding of [`KeyRecord::to_bytes`] (SPEC §9): header, every field, no trailing
    /// bytes, tags and presence flags from their closed sets, the share's consistency checks
    /// (`n = n1·n2`, `p2·q2 = n2`, `q2·qinv = 1 mod p2`, `n1·n1^-1 = 1 mod n2`, `d1'' < n1`,
    /// sizes; see `docs/encodings.md`), and a stored answer's signature of exactly
    /// `ceil(|n|/8)` bytes with `s < n`.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field and what was wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::ServerKeyRecord)?;
        let key_id = r.array("key_id")?;
        let version = r.u64("version")?;
        let created_at = r.u64("created_at")?;
        let expires_at = r.u64("expires_at")?;
        match r.u8("state")? {
            STATE_ACTIVE => {
                let failures = r.u32("attempts.failures")?;
                let locked_until = if read_flag(&mut r, "attempts.locked_until")? {
                    Some(r.u64("attempts.locked_until")?)
                } else {
                    None
                };
                let current = OtpHash::from_bytes(r.array("otp.current")?);
                let last = if read_flag(&mut r, "otp.last")? {
                    let previous = OtpHash::from_bytes(r.array("otp.last.previous")?);
                    let request_id = r.array("otp.last.request_id")?;
                    let signature = r.var("otp.last.signature", MAX_SIGNATURE_BYTES)?;
                    let next_otp = Otp::from_bytes(r.array::<OTP_LEN>("otp.last.next_otp")?);
                    Some((previous, request_id, signature, next_otp))
                } else {
                    None
                };
                let fields = ServerShareFields::read(&mut r)?;
                r.finish()?;
                let share = fields.build()?;
                let last = match last {
                    Some((previous, request_id, signature, next_otp)) => {
                        check_signature_range(&share, signature)?;
                        let answer = Answer::new(signature.to_vec(), next_otp);
                        Some(LastExchange::from_parts(previous, request_id, answer))
                    }
                    None => None,
                };
                let active = ActiveKey::from_parts(
                    share,
                    AttemptState::from_parts(failures, locked_until),
                    OtpState::from_parts(current, last),
                );
                Ok(Self::from_parts(
                    key_id,
                    version,
                    created_at,
                    expires_at,
                    KeyState::Active(active),
                ))
            }
            STATE_DESTROYED => {
                let reason = DestroyReason::from_tag(r.u8("destroyed.reason")?)
                    .ok_or(decode_err("destroyed.reason", DecodeErrorKind::UnknownTag))?;
                let at = r.u64("destroyed.at")?;
                r.finish()?;
                Ok(Self::from_parts(
                    key_id,
                    version,
                    created_at,
                    expires_at,
                    KeyState::Destroyed { reason, at },
                ))
            }
            _ => Err(decode_err("state", DecodeErrorKind::UnknownTag)),
        }
    }
}

/// A stored signature: exactly `ceil(|n|/8)` bytes and `s < n` (SPEC §9). Public data.
fn check_signature_range(share: &ServerShare, signature: &[u8]) -> Result<()> {
    let n = share.n_be_bytes();
    if signature.len() != n.len() {
        return Err(decode_err("otp.last.signature", DecodeErrorKind::Invalid));
    }
    // Big-endian byte strings of equal length compare like the integers.
    if signature >= n.as_slice() {
        return Err(decode_err(
            "otp.last.signature",
            DecodeErrorKind::OutOfRange,
        ));
    }
    Ok(())
}

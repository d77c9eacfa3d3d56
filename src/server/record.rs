//! The server's record of one split key (SPEC §7, §9).
//!
//! A [`KeyRecord`] is everything the server keeps about one key: its id, purpose, SHA-256(n1),
//! creation and expiry times, and either the active state or, once destroyed, only the reason
//! and the time. The active state ([`ActiveKey`]) holds:
//!
//! - the public composite modulus n (for the public key, SPEC §3.6);
//! - the lockout state: consecutive failures and the lock's end (SPEC §7);
//! - SHA-256 of the current and of the previous one-time password, never an OTP (SPEC §7);
//! - the pending request the server created (SPEC §4.1), with the hashes of the messages
//!   already charged for it;
//! - the hashes of the messages that were charged but whose outcome is not yet persisted
//!   (SPEC §4.5 g): in flight at some worker, or left by a crash;
//! - the last evaluated message's hash with its sealed answer, and the last completed one's
//!   (the registration's answer until the first signature completes) (SPEC §4.5 b);
//! - the server's share, sealed under a key-encryption key bound to the key id and n1
//!   (SPEC §7, [`crate::server::kek`]). It is opened only when a charged message is evaluated.
//!
//! The record's version lives outside it, in the store (compare-and-swap, [`KeyStore`]).
//!
//! [`KeyStore`]: crate::KeyStore

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::device::pin::KeyPurpose;
use crate::error::{DecodeErrorKind, Error, KekError, Result, decode_err};
use crate::rsa::keygen::ServerShare;
use crate::server::kek::{KEK_NONCE_LEN, KEK_TAG_LEN, KekId, KeyEncryptionKey};
use crate::server::otp::OtpHash;
use crate::server::store::N1Hash;
use crate::wire::encoding::{MessageType, Reader, Writer};
use crate::wire::ids::{KeyId, RequestId};
use crate::wire::messages::{
    MAX_SIGNATURE_BYTES, Outcome, SealedResponse, SigningRequest, is_composite_len, read_opt_u64,
    read_outcome, write_opt_u64, write_outcome,
};

/// Why a key was destroyed (SPEC §7).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestroyReason {
    /// The consecutive wrong-PIN count reached the destroy threshold.
    WrongPins,
    /// A valid partial signature arrived with the previous OTP: a cloned device share.
    Clone,
    /// Closed by its owner.
    Closed,
    /// Its lifetime ran out.
    Expired,
}

impl DestroyReason {
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

    /// The outcome a message for a key destroyed for this reason gets (SPEC §4.5 c).
    pub(crate) const fn outcome(self) -> Outcome {
        match self {
            DestroyReason::Expired => Outcome::Expired,
            DestroyReason::WrongPins | DestroyReason::Clone | DestroyReason::Closed => {
                Outcome::Destroyed
            }
        }
    }

    /// The error an operation on a key destroyed for this reason returns.
    pub(crate) const fn error(self) -> Error {
        match self {
            DestroyReason::Expired => Error::KeyExpired,
            DestroyReason::WrongPins | DestroyReason::Clone | DestroyReason::Closed => {
                Error::KeyDestroyed
            }
        }
    }
}

/// The most messages one pending request may have charged (each costs a PIN attempt, so the
/// lockout stops an honest user long before; the bound keeps the record small).
pub const MAX_TRIED: usize = 64;

/// The most charged messages whose outcome is not yet persisted. Every one is a charge since
/// the last completed signature, and charges stop at the destroy threshold (at most
/// `LockoutPolicy::MAX_DESTROY_AT`), so this bound is never reached by the rules; it bounds
/// the record's encoding.
pub const MAX_UNRESOLVED: usize = 16;

/// The key's pending request (SPEC §4.1): the request the server created, when it expires,
/// and the hashes of the messages already charged for it (a replay of one of them is refused
/// without a second charge, SPEC §1 (i)).
#[derive(Clone, PartialEq, Eq)]
pub struct PendingRequest {
    pub(crate) request: SigningRequest,
    pub(crate) request_hash: [u8; 32],
    pub(crate) tried: Vec<[u8; 32]>,
}

impl PendingRequest {
    /// A fresh pending request.
    pub(crate) fn new(request: SigningRequest) -> Self {
        let request_hash = request.hash();
        Self {
            request,
            request_hash,
            tried: Vec::new(),
        }
    }

    /// The request.
    pub fn request(&self) -> &SigningRequest {
        &self.request
    }

    /// SHA-256 of the request's encoding.
    pub fn request_hash(&self) -> &[u8; 32] {
        &self.request_hash
    }

    /// The request id.
    pub fn request_id(&self) -> &RequestId {
        &self.request.request_id
    }

    /// When it expires.
    pub fn expires_at(&self) -> u64 {
        self.request.expires_at
    }

    /// Hashes of the messages charged for it.
    pub fn tried(&self) -> &[[u8; 32]] {
        &self.tried
    }
}

impl fmt::Debug for PendingRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingRequest")
            .field("request_id", self.request_id())
            .field("expires_at", &self.expires_at())
            .field("tried", &self.tried.len())
            .finish()
    }
}

/// A message that was charged and whose outcome is not persisted yet (SPEC §4.5 g): its hash,
/// and the request it answers (kept here because a later request may replace the pending one
/// while this message is still being evaluated).
#[derive(Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub(crate) message_hash: [u8; 32],
    pub(crate) request: SigningRequest,
}

impl Unresolved {
    /// SHA-256 of the message.
    pub fn message_hash(&self) -> &[u8; 32] {
        &self.message_hash
    }

    /// The request it answers.
    pub fn request(&self) -> &SigningRequest {
        &self.request
    }
}

impl fmt::Debug for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unresolved")
            .field("request_id", self.request.request_id())
            .finish_non_exhaustive()
    }
}

/// What a stored answer answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerSummary {
    /// A registration (the sealed answer holds the key id, n2 and OTP_0).
    Registered,
    /// A signing message, with its public outcome.
    Signing(Outcome),
}

/// An answer kept so that a byte-identical resend of the message gets it again, changing
/// nothing (SPEC §4.5 b): the message's hash, a public summary, and the sealed answer (only
/// the device that sent the message can open it).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub(crate) message_hash: [u8; 32],
    pub(crate) summary: AnswerSummary,
    pub(crate) response: SealedResponse,
}

impl StoredAnswer {
    /// A stored registration answer (SPEC §3.5).
    pub fn registration(message_hash: [u8; 32], response: SealedResponse) -> Self {
        Self {
            message_hash,
            summary: AnswerSummary::Registered,
            response,
        }
    }

    /// SHA-256 of the message it answers.
    pub fn message_hash(&self) -> &[u8; 32] {
        &self.message_hash
    }

    /// The public summary.
    pub fn summary(&self) -> &AnswerSummary {
        &self.summary
    }

    /// The sealed answer.
    pub fn response(&self) -> &SealedResponse {
        &self.response
    }
}

impl fmt::Debug for StoredAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAnswer")
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

/// The server's share sealed under a key-encryption key (SPEC §7): the KEK's id, the nonce
/// and the AEAD ciphertext of the share's plaintext encoding. Associated data: a label, the
/// key id and SHA-256(n1).
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedShare {
    pub(crate) kek: KekId,
    pub(crate) nonce: [u8; KEK_NONCE_LEN],
    pub(crate) ciphertext: Vec<u8>,
}

/// The largest sealed share: the plaintext for 4096 + 4096 bits (header, two 2-byte lengths,
/// n1, n2, n, d1'', p2, q2, qinv, n1^-1, dp, dq) plus the tag.
const MAX_WRAPPED_SHARE: usize = 6 + 4 + 512 + 512 + 1024 + 512 + 5 * 256 + 512 + KEK_TAG_LEN;

impl WrappedShare {
    /// A sealed share from its stored parts (for stores, migrations and the model checker; it
    /// opens only under the KEK it was sealed with, for its key id and n1).
    pub fn from_parts(kek: KekId, nonce: [u8; KEK_NONCE_LEN], ciphertext: Vec<u8>) -> Self {
        Self {
            kek,
            nonce,
            ciphertext,
        }
    }

    fn aad(key_id: &KeyId, n1_hash: &N1Hash) -> Vec<u8> {
        let mut w = Writer::new(MessageType::ServerShare);
        w.fixed(key_id.as_bytes()).fixed(n1_hash);
        w.finish_public()
    }

    /// Seals `share` under the KEK provider's current KEK (SPEC §7).
    ///
    /// # Errors
    /// The provider's error.
    pub(crate) fn seal<K: KeyEncryptionKey + ?Sized, R: CryptoRng + ?Sized>(
        kek: &K,
        rng: &mut R,
        key_id: &KeyId,
        n1_hash: &N1Hash,
        share: &ServerShare,
    ) -> Result<Self> {
        let mut nonce = [0u8; KEK_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let id = kek.current();
        let plaintext = share.to_sealable_bytes();
        let ciphertext = kek.seal(id, &nonce, &Self::aad(key_id, n1_hash), &plaintext)?;
        Ok(Self {
            kek: id,
            nonce,
            ciphertext,
        })
    }

    /// Opens the share (SPEC §7); a share that does not authenticate for this key id and n1 is
    /// refused.
    ///
    /// # Errors
    /// [`Error::Kek`]; [`Error::Decode`] if an authentic plaintext does not decode (a bug).
    pub(crate) fn open<K: KeyEncryptionKey + ?Sized>(
        &self,
        kek: &K,
        key_id: &KeyId,
        n1_hash: &N1Hash,
    ) -> Result<ServerShare> {
        let plaintext = kek.open(
            self.kek,
            &self.nonce,
            &Self::aad(key_id, n1_hash),
            &self.ciphertext,
        )?;
        ServerShare::from_authenticated_bytes(&plaintext)
    }

    /// The id of the KEK it is sealed under.
    pub fn kek(&self) -> KekId {
        self.kek
    }
}

impl fmt::Debug for WrappedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappedShare")
            .field("kek", &self.kek)
            .field("len", &self.ciphertext.len())
            .finish()
    }
}

/// The live part of a key record (SPEC §7). See the module documentation.
#[derive(Clone, PartialEq, Eq)]
pub struct ActiveKey {
    pub(crate) n: Vec<u8>,
    pub(crate) failures: u32,
    pub(crate) locked_until: Option<u64>,
    pub(crate) otp_current: OtpHash,
    pub(crate) otp_previous: Option<OtpHash>,
    pub(crate) pending: Option<PendingRequest>,
    pub(crate) unresolved: Vec<Unresolved>,
    pub(crate) last: Option<StoredAnswer>,
    pub(crate) completed: Option<StoredAnswer>,
    pub(crate) share: WrappedShare,
}

impl ActiveKey {
    /// The composite modulus n, big-endian.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// Consecutive wrong PINs since the last completed signature (SPEC §7).
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// When the current lock ends, if one was set.
    pub fn locked_until(&self) -> Option<u64> {
        self.locked_until
    }

    /// The pending request, if any.
    pub fn pending(&self) -> Option<&PendingRequest> {
        self.pending.as_ref()
    }

    /// The messages charged whose outcome is not yet persisted (SPEC §4.5 g).
    pub fn unresolved(&self) -> &[Unresolved] {
        &self.unresolved
    }

    /// Whether the message with this hash was charged and its outcome is not persisted.
    pub fn is_unresolved(&self, message_hash: &[u8; 32]) -> bool {
        self.unresolved
            .iter()
            .any(|u| &u.message_hash == message_hash)
    }

    /// The last evaluated message's stored answer.
    pub fn last(&self) -> Option<&StoredAnswer> {
        self.last.as_ref()
    }

    /// The last completed message's (or the registration's) stored answer.
    pub fn completed(&self) -> Option<&StoredAnswer> {
        self.completed.as_ref()
    }

    /// The sealed share.
    pub fn share(&self) -> &WrappedShare {
        &self.share
    }

    /// Hash of the current OTP.
    pub fn otp_current(&self) -> &OtpHash {
        &self.otp_current
    }

    /// Hash of the previous OTP, once a signature has completed.
    pub fn otp_previous(&self) -> Option<&OtpHash> {
        self.otp_previous.as_ref()
    }
}

impl fmt::Debug for ActiveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActiveKey")
            .field("failures", &self.failures)
            .field("locked_until", &self.locked_until)
            .field("pending", &self.pending)
            .field("unresolved", &self.unresolved.len())
            .field("last", &self.last)
            .field("completed", &self.completed)
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

/// A key's lifecycle state (SPEC §7).
// A record is decoded, changed and encoded once per operation; boxing the active state would
// add an allocation to each without saving any copy.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// Usable (possibly locked).
    Active(ActiveKey),
    /// Destroyed: the share is gone; only the reason and the time are kept.
    Destroyed {
        /// Why.
        reason: DestroyReason,
        /// When (seconds since the Unix epoch).
        at: u64,
    },
}

/// The server's record of one split key (SPEC §7). See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub(crate) key_id: KeyId,
    pub(crate) purpose: KeyPurpose,
    pub(crate) n1_hash: N1Hash,
    pub(crate) created_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) state: KeyState,
}

impl KeyRecord {
    /// A new active record as registration stores it (SPEC §3.5): no failures, `otp0_hash`
    /// as the current OTP hash, no pending request, `registration` (if any) as the stored
    /// answer to the registration message.
    #[allow(clippy::too_many_arguments)]
    pub fn new_active(
        key_id: KeyId,
        purpose: KeyPurpose,
        n1_hash: N1Hash,
        created_at: u64,
        expires_at: u64,
        n: Vec<u8>,
        otp0_hash: OtpHash,
        share: WrappedShare,
        registration: Option<StoredAnswer>,
    ) -> Self {
        Self {
            key_id,
            purpose,
            n1_hash,
            created_at,
            expires_at,
            state: KeyState::Active(ActiveKey {
                n,
                failures: 0,
                locked_until: None,
                otp_current: otp0_hash,
                otp_previous: None,
                pending: None,
                unresolved: Vec::new(),
                last: None,
                completed: registration,
                share,
            }),
        }
    }

    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The key's purpose (SPEC §3.5).
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// SHA-256(n1).
    pub fn n1_hash(&self) -> &N1Hash {
        &self.n1_hash
    }

    /// Registration time (seconds since the Unix epoch).
    pub fn created_at(&self) -> u64 {
        self.created_at
    }

    /// Expiry time: the key is expired at `now >= expires_at` (SPEC §7).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Whether the key is expired at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }

    /// The lifecycle state.
    pub fn state(&self) -> &KeyState {
        &self.state
    }

    /// The active state, or `None` if destroyed.
    pub fn active(&self) -> Option<&ActiveKey> {
        match &self.state {
            KeyState::Active(a) => Some(a),
            KeyState::Destroyed { .. } => None,
        }
    }

    pub(crate) fn active_mut(&mut self) -> Option<&mut ActiveKey> {
        match &mut self.state {
            KeyState::Active(a) => Some(a),
            KeyState::Destroyed { .. } => None,
        }
    }

    /// Why and when the key was destroyed, or `None` if active.
    pub fn destroyed(&self) -> Option<(DestroyReason, u64)> {
        match self.state {
            KeyState::Destroyed { reason, at } => Some((reason, at)),
            KeyState::Active(_) => None,
        }
    }

    /// Destroys the key (SPEC §7): drops the sealed share and every other part of the active
    /// state; keeps only `reason` and `at` (and the id, purpose, n1 hash and times). A record
    /// that is already destroyed keeps its original reason and time.
    pub(crate) fn destroy(&mut self, reason: DestroyReason, at: u64) {
        if let KeyState::Active(_) = self.state {
            self.state = KeyState::Destroyed { reason, at };
        }
    }
}

const STATE_ACTIVE: u8 = 1;
const STATE_DESTROYED: u8 = 2;
const SUMMARY_REGISTERED: u8 = 0;
/// The largest stored SealedResponse encoding.
const MAX_STORED_RESPONSE: usize = 2048;
/// The largest stored request encoding.
const MAX_STORED_REQUEST: usize = 512;
/// The largest composite modulus, in bytes.
const MAX_N: usize = MAX_SIGNATURE_BYTES;

fn write_answer(w: &mut Writer, a: &Option<StoredAnswer>) {
    match a {
        None => {
            w.u8(0);
        }
        Some(a) => {
            w.u8(1).fixed(&a.message_hash);
            match &a.summary {
                AnswerSummary::Registered => {
                    w.u8(SUMMARY_REGISTERED);
                }
                AnswerSummary::Signing(o) => write_outcome(w, o),
            }
            w.var(&a.response.to_bytes());
        }
    }
}

fn read_answer(r: &mut Reader<'_>, field: &'static str) -> Result<Option<StoredAnswer>> {
    if !r.bool(field)? {
        return Ok(None);
    }
    let message_hash = r.array(field)?;
    let summary = if r.peek_u8() == Some(SUMMARY_REGISTERED) {
        r.u8(field)?;
        AnswerSummary::Registered
    } else {
        AnswerSummary::Signing(read_outcome(r)?)
    };
    let response = SealedResponse::from_bytes(r.var(field, MAX_STORED_RESPONSE)?)?;
    Ok(Some(StoredAnswer {
        message_hash,
        summary,
        response,
    }))
}

impl KeyRecord {
    /// The canonical encoding (SPEC §9, type [`MessageType::ServerKeyRecord`]; layout in
    /// `docs/encodings.md`). The share inside is sealed under its KEK; the rest (lockout
    /// state, OTP hashes, the pending request, stored sealed answers) is not secret in the
    /// clear but is held in a wiping buffer all the same.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(MessageType::ServerKeyRecord);
        w.fixed(self.key_id.as_bytes())
            .u8(self.purpose.tag())
            .fixed(&self.n1_hash)
            .u64(self.created_at)
            .u64(self.expires_at);
        match &self.state {
            KeyState::Active(a) => {
                w.u8(STATE_ACTIVE);
                // |n| <= 1024 bytes.
                w.u16(a.n.len() as u16).fixed(&a.n);
                w.u32(a.failures);
                write_opt_u64(&mut w, a.locked_until);
                w.fixed(a.otp_current.as_bytes());
                match &a.otp_previous {
                    Some(h) => w.u8(1).fixed(h.as_bytes()),
                    None => w.u8(0),
                };
                match &a.pending {
                    Some(p) => {
                        w.u8(1).var(&p.request.to_bytes());
                        // At most MAX_TRIED (64) entries.
                        w.u8(p.tried.len() as u8);
                        for h in &p.tried {
                            w.fixed(h);
                        }
                    }
                    None => {
                        w.u8(0);
                    }
                }
                // At most MAX_UNRESOLVED (16) entries.
                w.u8(a.unresolved.len() as u8);
                for u in &a.unresolved {
                    w.fixed(&u.message_hash).var(&u.request.to_bytes());
                }
                write_answer(&mut w, &a.last);
                write_answer(&mut w, &a.completed);
                w.u32(a.share.kek.0)
                    .fixed(&a.share.nonce)
                    .var(&a.share.ciphertext);
            }
            KeyState::Destroyed { reason, at } => {
                w.u8(STATE_DESTROYED).u8(reason.tag()).u64(*at);
            }
        }
        w.finish()
    }

    /// Strict decoding of [`to_bytes`](Self::to_bytes) (SPEC §9): header, every field, no
    /// trailing bytes, tags and flags from their closed sets, lengths within their maxima. It
    /// does not open the share: that happens only when a charged message is evaluated, so a
    /// refused message costs no cryptography.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::ServerKeyRecord)?;
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(decode_err("purpose", DecodeErrorKind::UnknownTag))?;
        let n1_hash = r.array("n1_hash")?;
        let created_at = r.u64("created_at")?;
        let expires_at = r.u64("expires_at")?;
        let state = match r.u8("state")? {
            STATE_ACTIVE => {
                let n_len = usize::from(r.u16("n")?);
                if n_len > MAX_N || !is_composite_len(n_len) {
                    return Err(decode_err("n", DecodeErrorKind::OutOfRange));
                }
                let n = r.take(n_len, "n")?.to_vec();
                // The composite modulus: odd, no leading zero byte (|n| = |n1| + |n2| or one
                // bit less for an imported key, SPEC §2, so its top byte is not zero).
                if n.first().is_none_or(|b| *b == 0) {
                    return Err(decode_err("n", DecodeErrorKind::NonCanonical));
                }
                if n.last().is_none_or(|b| b & 1 == 0) {
                    return Err(decode_err("n", DecodeErrorKind::Invalid));
                }
                let failures = r.u32("failures")?;
                let locked_until = read_opt_u64(&mut r, "locked_until")?;
                let otp_current = OtpHash::from_bytes(r.array("otp_current")?);
                let otp_previous = if r.bool("otp_previous")? {
                    Some(OtpHash::from_bytes(r.array("otp_previous")?))
                } else {
                    None
                };
                let pending = if r.bool("pending")? {
                    let request =
                        SigningRequest::from_bytes(r.var("pending.request", MAX_STORED_REQUEST)?)?;
                    if request.key_id != key_id {
                        return Err(decode_err("pending.request", DecodeErrorKind::Invalid));
                    }
                    let count = usize::from(r.u8("pending.tried")?);
                    if count > MAX_TRIED {
                        return Err(decode_err("pending.tried", DecodeErrorKind::TooLong));
                    }
                    let mut tried = Vec::with_capacity(count);
                    for _ in 0..count {
                        tried.push(r.array("pending.tried")?);
                    }
                    let mut p = PendingRequest::new(request);
                    p.tried = tried;
                    Some(p)
                } else {
                    None
                };
                let count = usize::from(r.u8("unresolved")?);
                if count > MAX_UNRESOLVED {
                    return Err(decode_err("unresolved", DecodeErrorKind::TooLong));
                }
                let mut unresolved = Vec::with_capacity(count);
                for _ in 0..count {
                    let message_hash = r.array("unresolved.message_hash")?;
                    let request = SigningRequest::from_bytes(
                        r.var("unresolved.request", MAX_STORED_REQUEST)?,
                    )?;
                    if request.key_id != key_id {
                        return Err(decode_err("unresolved.request", DecodeErrorKind::Invalid));
                    }
                    unresolved.push(Unresolved {
                        message_hash,
                        request,
                    });
                }
                let last = read_answer(&mut r, "last")?;
                let completed = read_answer(&mut r, "completed")?;
                let kek = KekId(r.u32("share.kek")?);
                let nonce = r.array("share.nonce")?;
                let ciphertext = r.var("share.ciphertext", MAX_WRAPPED_SHARE)?.to_vec();
                if ciphertext.len() < KEK_TAG_LEN {
                    return Err(decode_err("share.ciphertext", DecodeErrorKind::Truncated));
                }
                KeyState::Active(ActiveKey {
                    n,
                    failures,
                    locked_until,
                    otp_current,
                    otp_previous,
                    pending,
                    unresolved,
                    last,
                    completed,
                    share: WrappedShare {
                        kek,
                        nonce,
                        ciphertext,
                    },
                })
            }
            STATE_DESTROYED => {
                let reason = DestroyReason::from_tag(r.u8("destroyed.reason")?)
                    .ok_or(decode_err("destroyed.reason", DecodeErrorKind::UnknownTag))?;
                let at = r.u64("destroyed.at")?;
                KeyState::Destroyed { reason, at }
            }
            _ => return Err(decode_err("state", DecodeErrorKind::UnknownTag)),
        };
        r.finish()?;
        Ok(Self {
            key_id,
            purpose,
            n1_hash,
            created_at,
            expires_at,
            state,
        })
    }

    /// Re-seals the share under the KEK provider's current KEK (key rotation, SPEC §7).
    /// Returns whether anything changed (an active record sealed under another KEK).
    ///
    /// # Errors
    /// [`Error::Kek`] if the share does not open or the provider fails.
    pub fn rewrap<K: KeyEncryptionKey + ?Sized, R: CryptoRng + ?Sized>(
        &mut self,
        kek: &K,
        rng: &mut R,
    ) -> Result<bool> {
        let (key_id, n1_hash) = (self.key_id, self.n1_hash);
        let Some(active) = self.active_mut() else {
            return Ok(false);
        };
        if active.share.kek == kek.current() {
            return Ok(false);
        }
        let share = active.share.open(kek, &key_id, &n1_hash)?;
        active.share = WrappedShare::seal(kek, rng, &key_id, &n1_hash, &share)?;
        Ok(true)
    }
}

impl From<KekError> for Error {
    fn from(e: KekError) -> Self {
        Error::Kek(e)
    }
}

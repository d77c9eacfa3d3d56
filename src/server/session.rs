//! The server's session rules (SPEC §4.5, §7): a pure transition core.
//!
//! Functional core, imperative shell: the functions here take a key record and the facts of
//! one message and return what to do: no I/O, no clock, no RNG, no cryptography. The
//! [`Server`](crate::Server) loads, calls, evaluates, seals and stores; the model checker in
//! `tests/model.rs` calls the very same functions with the RSA arithmetic abstracted as "valid
//! iff the right PIN".
//!
//! # One signing message, in the order of SPEC §4.5
//! [`admit`] decides, touching nothing:
//!
//! - **b.** the message is byte-identical to the last evaluated or the last completed one:
//!   answer the stored sealed answer again ([`Admission::Resend`]); nothing is charged,
//!   evaluated, reset or rotated;
//! - **c.** the key is destroyed or expired: refuse ([`Admission::Refuse`]);
//! - a message that was charged but whose outcome is not persisted (in flight at another
//!   worker, or the server crashed in between) is evaluated again **without a second charge**
//!   ([`Admission::Evaluate`]);
//! - **d.** the message does not name the pending request (id and hash), the request expired,
//!   or the message was already charged for it and settled (a replay of an older try): refuse
//!   with [`Outcome::NotPending`];
//! - **e.** locked (or at the destroy threshold with a charge still unresolved): refuse;
//! - **f.** the OTP hashes neither to the current nor to the previous OTP hash (constant-time
//!   comparisons): [`Outcome::StaleRecord`];
//! - **g.** otherwise charge one failed attempt, note the message's hash, and persist that
//!   ([`Admission::Charge`]) **before** anything is evaluated.
//!
//! After the evaluation (step h), [`settle`] computes the outcome on the freshest record (it
//! is called again on a reloaded record when a compare-and-swap is lost, never with a second
//! evaluation): not valid, the charge stands ([`Outcome::WrongPin`], or destruction at the
//! threshold); valid with the previous OTP, a clone ([`Outcome::CloneDetected`], destroyed);
//! valid with the current OTP, [`Outcome::Completed`]: the count is cleared, the OTP rotated
//! and the pending request dropped. [`record_answer`] then notes the message's hash with its
//! sealed answer, persisted with the outcome in one compare-and-swap.
//!
//! # Why these rules hold against the attacker (SPEC §1 (h), (i))
//! Only a message for the request the server itself created and still holds can cost an
//! attempt, and only once: replays of the stored message are answered from storage, replays of
//! older tries are refused, resends after a crash are not charged twice. Only a completed
//! signature (valid share, current OTP) resets the count. The properties are model-checked in
//! `tests/model.rs` and fuzzed statefully in `fuzz/fuzz_targets/session.rs`.

use crate::error::{PolicyError, RequestError};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::server::lockout::LockoutPolicy;
use crate::server::otp::OtpHash;
use crate::server::record::{
    ActiveKey, AnswerSummary, DestroyReason, KeyRecord, KeyState, MAX_TRIED, MAX_UNRESOLVED,
    PendingRequest, StoredAnswer, Unresolved,
};
use crate::wire::ids::RequestId;
use crate::wire::messages::{Outcome, SealedResponse, SigningRequest};

/// Default key lifetime: 3 years (1096 days, covering one leap day) (SPEC §7).
pub const DEFAULT_KEY_LIFETIME_SECS: u64 = 1096 * 24 * 3600;

/// Default lifetime of a signing request: 5 minutes (SPEC §4.1).
pub const DEFAULT_REQUEST_LIFETIME_SECS: u64 = 5 * 60;

/// Default lifetime of a registration challenge: 15 minutes (SPEC §3.0).
pub const DEFAULT_CHALLENGE_LIFETIME_SECS: u64 = 15 * 60;

/// Default bound on compare-and-swap retries per phase of an operation.
pub const DEFAULT_CAS_RETRIES: u32 = 32;

/// Server-side policy (SPEC §3.0, §4.1, §7): lockout, lifetimes of keys, requests and
/// registration challenges, and compare-and-swap retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    lockout: LockoutPolicy,
    key_lifetime_secs: u64,
    request_lifetime_secs: u64,
    challenge_lifetime_secs: u64,
    cas_retries: u32,
}

impl Default for ServerPolicy {
    /// SPEC defaults: 3/6/9 lockout, 3-year keys, 5-minute requests, 15-minute challenges;
    /// [`DEFAULT_CAS_RETRIES`].
    fn default() -> Self {
        Self {
            lockout: LockoutPolicy::default(),
            key_lifetime_secs: DEFAULT_KEY_LIFETIME_SECS,
            request_lifetime_secs: DEFAULT_REQUEST_LIFETIME_SECS,
            challenge_lifetime_secs: DEFAULT_CHALLENGE_LIFETIME_SECS,
            cas_retries: DEFAULT_CAS_RETRIES,
        }
    }
}

impl ServerPolicy {
    /// Builds a policy with the default request and challenge lifetimes.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if `key_lifetime_secs` or `cas_retries` is 0.
    pub fn new(lockout: LockoutPolicy, key_lifetime_secs: u64, cas_retries: u32) -> Result<Self> {
        if key_lifetime_secs == 0 {
            return Err(Error::InvalidRequest(RequestError::Policy(
                PolicyError::Lifetime,
            )));
        }
        if cas_retries == 0 {
            return Err(Error::InvalidRequest(RequestError::Policy(
                PolicyError::CasRetries,
            )));
        }
        Ok(Self {
            lockout,
            key_lifetime_secs,
            cas_retries,
            ..Self::default()
        })
    }

    /// The same policy with other request and challenge lifetimes (seconds).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if either is 0.
    pub fn with_lifetimes(mut self, request_secs: u64, challenge_secs: u64) -> Result<Self> {
        if request_secs == 0 || challenge_secs == 0 {
            return Err(Error::InvalidRequest(RequestError::Policy(
                PolicyError::Lifetime,
            )));
        }
        self.request_lifetime_secs = request_secs;
        self.challenge_lifetime_secs = challenge_secs;
        Ok(self)
    }

    /// The lockout policy.
    pub fn lockout(&self) -> &LockoutPolicy {
        &self.lockout
    }

    /// How long a key lives after registration, in seconds.
    pub fn key_lifetime_secs(&self) -> u64 {
        self.key_lifetime_secs
    }

    /// How long a signing request stays pending, in seconds.
    pub fn request_lifetime_secs(&self) -> u64 {
        self.request_lifetime_secs
    }

    /// How long a registration challenge is accepted, in seconds.
    pub fn challenge_lifetime_secs(&self) -> u64 {
        self.challenge_lifetime_secs
    }

    /// How many times each phase of an operation reloads after losing a compare-and-swap
    /// before giving up with `Error::Store(StoreError::Conflict)`.
    pub fn cas_retries(&self) -> u32 {
        self.cas_retries
    }
}

/// The facts of one opened and decoded signing message that the session rules look at.
#[derive(Clone, Copy, Debug)]
pub struct MessageFacts {
    /// SHA-256 of the message's canonical encoding (its identity for resends).
    pub message_hash: [u8; 32],
    /// The request id it names.
    pub request_id: RequestId,
    /// The request hash it names.
    pub request_hash: [u8; 32],
    /// SHA-256 of the OTP inside it.
    pub otp_hash: OtpHash,
}

/// What [`admit`] decides for a message (SPEC §4.5 b-g).
// Returned once per message and consumed at once: a box would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// b: answer this stored sealed answer again; nothing changes.
    Resend(StoredAnswer),
    /// c-f: answer this outcome; nothing changes (nothing is stored either).
    Refuse(Outcome),
    /// g: persist this record (the charge) by compare-and-swap, then evaluate.
    Charge(KeyRecord),
    /// The message was charged and its outcome never persisted: evaluate it again without
    /// writing anything first.
    Evaluate,
}

/// The result of the share check (SPEC §4.5 h).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// `s1^e = m (mod n1)`, and the completed signature (with its checks) is this.
    Valid {
        /// The completed signature, k bytes big-endian (empty in the model).
        signature: Vec<u8>,
    },
    /// The share check failed: a wrong PIN (or a malformed y).
    Invalid,
}

/// What [`settle`] decides after an evaluation.
// Returned once per evaluation and consumed at once (see `Admission`).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The same message was settled meanwhile (a duplicate won the race): answer this stored
    /// answer; write nothing.
    Resend(StoredAnswer),
    /// Answer this outcome; write nothing (the key was destroyed meanwhile).
    Answer(Outcome),
    /// Answer this outcome and persist this record, after [`record_answer`] has put the
    /// sealed answer in it.
    Persist(KeyRecord, Outcome),
}

fn matches_stored(a: Option<&StoredAnswer>, hash: &[u8; 32]) -> bool {
    a.is_some_and(|a| &a.message_hash == hash)
}

/// SPEC §4.5 b-g: what to do with a message for `record` at `now`. Pure; see the module
/// documentation for the order.
pub fn admit(record: &KeyRecord, m: &MessageFacts, lockout: &LockoutPolicy, now: u64) -> Admission {
    let active = match &record.state {
        // c. (A destroyed record keeps no stored answer, so b cannot apply.)
        KeyState::Destroyed { reason, .. } => return Admission::Refuse(reason.outcome()),
        KeyState::Active(a) => a,
    };
    // b.
    for stored in [active.last.as_ref(), active.completed.as_ref()] {
        if let Some(s) = stored.filter(|s| s.message_hash == m.message_hash) {
            return Admission::Resend(s.clone());
        }
    }
    // c.
    if record.is_expired(now) {
        return Admission::Refuse(Outcome::Expired);
    }
    let otp_ok = m.otp_hash.ct_eq(&active.otp_current)
        | active
            .otp_previous
            .as_ref()
            .map_or(subtle::Choice::from(0), |p| m.otp_hash.ct_eq(p));
    // A message that was charged and whose outcome is not persisted (in flight at another
    // worker, or left by a crash) is evaluated again without a second charge (g), whatever
    // happened to the pending request since: its attempt was admitted and paid for before any
    // later lock or request, and refusing it now with a final answer (NotPending) while its
    // first evaluation may still complete would make the device miss a rotation.
    if active.is_unresolved(&m.message_hash) {
        return if bool::from(otp_ok) {
            Admission::Evaluate
        } else {
            Admission::Refuse(Outcome::StaleRecord)
        };
    }
    // d.
    let Some(pending) = &active.pending else {
        return Admission::Refuse(Outcome::NotPending);
    };
    if pending.request_id() != &m.request_id
        || pending.request_hash != m.request_hash
        || now >= pending.expires_at()
        || pending.tried.contains(&m.message_hash)
        || pending.tried.len() >= MAX_TRIED
    {
        return Admission::Refuse(Outcome::NotPending);
    }
    // e.
    if let Some(until) = active.locked_until.filter(|&u| now < u) {
        return Admission::Refuse(Outcome::Locked { until: Some(until) });
    }
    if active.failures >= lockout.destroy_at() || active.unresolved.len() >= MAX_UNRESOLVED {
        return Admission::Refuse(Outcome::Locked { until: None });
    }
    // f.
    if !bool::from(otp_ok) {
        return Admission::Refuse(Outcome::StaleRecord);
    }
    // g.
    let mut charged = record.clone();
    if let Some(a) = charged.active_mut() {
        a.failures = a.failures.saturating_add(1);
        if let Some(duration) = lockout.lock_for(a.failures) {
            a.locked_until = Some(now.saturating_add(duration));
        }
        if let Some(p) = a.pending.as_mut() {
            p.tried.push(m.message_hash);
            a.unresolved.push(Unresolved {
                message_hash: m.message_hash,
                request: p.request.clone(),
            });
        }
    }
    Admission::Charge(charged)
}

/// SPEC §4.5 h: the outcome of an evaluated message on the freshest `record` (the one the
/// charge was written to, or a reload after a lost compare-and-swap). `next_otp_hash` is the
/// hash of the OTP a completion issues. Pure; see the module documentation.
pub fn settle(
    record: &KeyRecord,
    m: &MessageFacts,
    evaluation: Evaluation,
    next_otp_hash: &OtpHash,
    lockout: &LockoutPolicy,
    now: u64,
) -> Settlement {
    let active = match &record.state {
        KeyState::Destroyed { reason, .. } => return Settlement::Answer(reason.outcome()),
        KeyState::Active(a) => a,
    };
    for stored in [active.last.as_ref(), active.completed.as_ref()] {
        if let Some(s) = stored.filter(|s| s.message_hash == m.message_hash) {
            return Settlement::Resend(s.clone());
        }
    }
    let mut next = record.clone();
    let mut destroy = None;
    let outcome = {
        let Some(a) = next.active_mut() else {
            return Settlement::Answer(Outcome::Destroyed);
        };
        a.unresolved.retain(|u| u.message_hash != m.message_hash);
        match evaluation {
            Evaluation::Invalid => {
                // At the threshold the key is destroyed once every charge that counts towards
                // it is settled: another message charged meanwhile (unresolved) may still be
                // the right PIN, whose completion would reset the count. Until then the key
                // refuses new messages (SPEC §4.5 e).
                if a.failures >= lockout.destroy_at() && a.unresolved.is_empty() {
                    destroy = Some(DestroyReason::WrongPins);
                    Outcome::Destroyed
                } else {
                    Outcome::WrongPin {
                        attempts_left: lockout.destroy_at().saturating_sub(a.failures),
                        locked_until: a.locked_until.filter(|&u| now < u),
                    }
                }
            }
            Evaluation::Valid { signature } => {
                let current = m.otp_hash.ct_eq(&a.otp_current);
                let previous = a
                    .otp_previous
                    .as_ref()
                    .map_or(subtle::Choice::from(0), |p| m.otp_hash.ct_eq(p));
                if bool::from(current) {
                    a.failures = 0;
                    a.locked_until = None;
                    // Charges still in flight were made before this completion: erased with
                    // the count (their outcomes still settle, without a count to add to).
                    a.unresolved.clear();
                    a.otp_previous = Some(core::mem::replace(&mut a.otp_current, *next_otp_hash));
                    if a.pending
                        .as_ref()
                        .is_some_and(|p| p.request_id() == &m.request_id)
                    {
                        a.pending = None;
                    }
                    Outcome::Completed { signature }
                } else if bool::from(previous) {
                    destroy = Some(DestroyReason::Clone);
                    Outcome::CloneDetected
                } else {
                    // The OTP rotated twice since the charge (only under concurrency): an
                    // old copy. The charge stands; nothing else changes.
                    Outcome::StaleRecord
                }
            }
        }
    };
    if let Some(reason) = destroy {
        next.destroy(reason, now);
    }
    Settlement::Persist(next, outcome)
}

/// The active state of a record that is neither destroyed nor expired at `now`.
///
/// # Errors
/// [`Error::KeyDestroyed`] or [`Error::KeyExpired`].
pub fn live(record: &KeyRecord, now: u64) -> Result<&ActiveKey> {
    match &record.state {
        KeyState::Destroyed { reason, .. } => Err(reason.error()),
        KeyState::Active(_) if record.is_expired(now) => Err(Error::KeyExpired),
        KeyState::Active(a) => Ok(a),
    }
}

/// SPEC §4 step 1: `record` with `request` as its pending request, replacing any earlier one
/// (one session per key at a time). Refused, with nothing to store, if the key is destroyed,
/// expired, locked (or at the destroy threshold with an unresolved charge), if the request is
/// for another key or purpose, or if it expires no later than `now`.
///
/// # Errors
/// [`Error::KeyDestroyed`], [`Error::KeyExpired`], [`Error::KeyLocked`],
/// [`Error::InvalidRequest`].
pub fn start_request(
    record: &KeyRecord,
    request: &SigningRequest,
    lockout: &LockoutPolicy,
    now: u64,
) -> Result<KeyRecord> {
    let active = live(record, now)?;
    if request.key_id() != &record.key_id {
        return Err(Error::InvalidRequest(RequestError::OtherKey));
    }
    if request.purpose() != record.purpose {
        return Err(Error::InvalidRequest(RequestError::OtherPurpose));
    }
    if request.expires_at() <= now {
        return Err(Error::InvalidRequest(RequestError::RequestExpired));
    }
    if let Some(until) = active.locked_until.filter(|&u| now < u) {
        return Err(Error::KeyLocked { until: Some(until) });
    }
    if active.failures >= lockout.destroy_at() {
        return Err(Error::KeyLocked { until: None });
    }
    let mut next = record.clone();
    if let Some(a) = next.active_mut() {
        a.pending = Some(PendingRequest::new(request.clone()));
    }
    Ok(next)
}

/// Notes `message_hash` with its sealed answer in `record` (SPEC §4.5 h, "in every case"), as
/// the last evaluated message and, for a completed signature, as the last completed one.
pub fn record_answer(
    record: &mut KeyRecord,
    message_hash: [u8; 32],
    outcome: &Outcome,
    response: SealedResponse,
) {
    let completed = matches!(outcome, Outcome::Completed { .. });
    if let Some(a) = record.active_mut() {
        let stored = StoredAnswer {
            message_hash,
            summary: AnswerSummary::Signing(outcome.clone()),
            response,
        };
        if completed {
            a.completed = Some(stored.clone());
        }
        a.last = Some(stored);
    }
}

/// Whether `hash` is the message of the stored registration answer (SPEC §3.5: a
/// byte-identical resend of a registration is answered from storage).
pub fn is_stored_registration(record: &KeyRecord, hash: &[u8; 32]) -> Option<StoredAnswer> {
    let a = record.active()?;
    let c = a.completed.as_ref()?;
    (matches_stored(Some(c), hash) && c.summary == AnswerSummary::Registered).then(|| c.clone())
}

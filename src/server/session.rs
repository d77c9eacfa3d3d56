//! The server's key-state operations (SPEC §3.5, §4.5, §7), independent of the cryptography.
//!
//! [`ServerState`] runs registration, the completion of a signature, closing and expiry on a
//! [`RecordStore`]. The share check itself is a closure supplied by the caller
//! (`evaluate`), so this module is pure policy: the order of SPEC §4.5, charge before compute,
//! one-time passwords and compare-and-swap.
//!
//! # `complete_signature`, step by step (SPEC §4.5)
//! 1. Load the record. Refuse, **without counting an attempt and without evaluating**, if it
//!    is destroyed ([`Error::KeyDestroyed`]), expired ([`Error::KeyExpired`]; the share is
//!    wiped) or locked ([`Error::KeyLocked`]). A record whose count already reached the
//!    destroy threshold (a crash after the last charge) is destroyed now.
//! 2. Charge one failed attempt ([`AttemptState::charge`](crate::AttemptState::charge)) and persist it with
//!    compare-and-swap. If the write fails, stop: nothing is evaluated. On a conflict, go back
//!    to 1 (bounded by [`ServerPolicy::cas_retries`]).
//! 3. Evaluate the share check **once** (`evaluate(&share)`).
//! 4. Not valid: the charge stands; answer [`Error::WrongPin`] (or destroy the key and answer
//!    [`Error::KeyDestroyed`] at the destroy threshold).
//! 5. Valid: classify the presented OTP ([`OtpState::classify`](crate::OtpState::classify)):
//!    - current: clear the charge, rotate the OTP, keep the answer for retransmission,
//!      persist, return [`Answer`] { signature, next OTP };
//!    - previous OTP with the request id of the last completed request (a retransmission):
//!      clear the charge, persist, return the *stored* answer again (the fresh signature is
//!      discarded, the OTP is not rotated);
//!    - anything else: a clone. Destroy the key (wipe the share), persist, answer
//!      [`Error::CloneDetected`].
//!
//!    A conflict here reloads the record and repeats step 5 on it with the same evaluation
//!    result (the share of an active record never changes, so the result still holds, and
//!    our charge was persisted before we evaluated). A destroyed record is never revived.
//!
//! # Retransmissions run the share check
//! A retransmission is answered only after the share check says valid, exactly in the SPEC
//! §4.5 order: the stored answer carries the next OTP, so handing it to anyone who merely
//! replays the previous OTP and request id would let them take over the OTP chain. The
//! retransmission therefore costs one charge, which the valid result clears; an invalid one
//! is an ordinary wrong PIN.
//!
//! # Concurrency
//! Every write is compare-and-swap, so concurrent requests on one key are serialised by their
//! writes. The count is bounded by the persisted charges: with the default policy at most 3
//! share checks can be in flight before a lock refuses the rest. A success resets the count,
//! erasing charges written before it, including those of requests still being evaluated (a
//! wrong PIN whose charge reached the destroy threshold then does not destroy the key; its
//! answer reports the state after the reset). If the destroying failure is recorded first,
//! the success is withheld and answered [`Error::KeyDestroyed`].
//!
//! # Store failures
//! A failed write never releases a signature or an OTP that is not persisted: if the
//! success write fails, the charge stands (the device retries with the same, still current
//! OTP). If the write that destroys a key fails, the persisted charge already marks it
//! exhausted and the next access finishes the destruction.

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroize;

use crate::error::{Error, Result, StoreError};
use crate::server::lockout::{FailureOutcome, LockoutPolicy};
use crate::server::otp::{Otp, OtpClass, REQUEST_ID_LEN};
use crate::server::record::{DestroyReason, KeyId, KeyRecord, RecordStore};

/// Default key lifetime: 3 years (1096 days, covering one leap day) (SPEC §7).
pub const DEFAULT_KEY_LIFETIME_SECS: u64 = 1096 * 24 * 3600;

/// Default bound on compare-and-swap retries per phase of an operation.
pub const DEFAULT_CAS_RETRIES: u32 = 32;

/// A request id (SPEC §4.1).
pub type RequestId = [u8; REQUEST_ID_LEN];

/// Server-side policy: lockout, key lifetime, compare-and-swap retries (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPolicy {
    lockout: LockoutPolicy,
    key_lifetime_secs: u64,
    cas_retries: u32,
}

impl Default for ServerPolicy {
    /// SPEC §7 defaults: 3/6/9 lockout, 3-year lifetime; [`DEFAULT_CAS_RETRIES`].
    fn default() -> Self {
        Self {
            lockout: LockoutPolicy::default(),
            key_lifetime_secs: DEFAULT_KEY_LIFETIME_SECS,
            cas_retries: DEFAULT_CAS_RETRIES,
        }
    }
}

impl ServerPolicy {
    /// Builds a policy.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if `key_lifetime_secs` or `cas_retries` is 0.
    pub fn new(lockout: LockoutPolicy, key_lifetime_secs: u64, cas_retries: u32) -> Result<Self> {
        if key_lifetime_secs == 0 {
            return Err(Error::InvalidRequest(
                "server policy: key lifetime must be > 0",
            ));
        }
        if cas_retries == 0 {
            return Err(Error::InvalidRequest(
                "server policy: CAS retries must be >= 1",
            ));
        }
        Ok(Self {
            lockout,
            key_lifetime_secs,
            cas_retries,
        })
    }

    /// The lockout policy.
    pub fn lockout(&self) -> &LockoutPolicy {
        &self.lockout
    }

    /// How long a key lives after registration, in seconds.
    pub fn key_lifetime_secs(&self) -> u64 {
        self.key_lifetime_secs
    }

    /// How many times each phase of an operation reloads after losing a compare-and-swap
    /// before giving up with `Error::Store(StoreError::Conflict)`.
    pub fn cas_retries(&self) -> u32 {
        self.cas_retries
    }
}

/// The answer to a completed signature (SPEC §4.5): the signature and the next OTP.
///
/// Holds a secret (the next OTP, which wipes itself on drop); `Debug` shows neither it nor
/// the signature.
pub struct Answer {
    signature: Vec<u8>,
    next_otp: Otp,
}

impl Answer {
    /// Builds an answer (also for a persistent key store rebuilding a stored one).
    pub fn new(signature: Vec<u8>, next_otp: Otp) -> Self {
        Self {
            signature,
            next_otp,
        }
    }

    /// The signature (k bytes, big-endian).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The OTP the device must present next.
    pub fn next_otp(&self) -> &Otp {
        &self.next_otp
    }
}

impl Clone for Answer {
    // The server keeps a copy of the last answer so it can resend it after a lost response
    // (SPEC §7); that is the reason this secret-bearing type is `Clone`.
    fn clone(&self) -> Self {
        Self {
            signature: self.signature.clone(),
            next_otp: self.next_otp.duplicate(),
        }
    }
}

impl PartialEq for Answer {
    /// Constant-time in the OTP.
    fn eq(&self, other: &Self) -> bool {
        self.signature == other.signature && self.next_otp == other.next_otp
    }
}

impl Eq for Answer {}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("signature_len", &self.signature.len())
            .finish_non_exhaustive()
    }
}

/// A valid evaluation's result and the OTP to issue if it completes a fresh request.
struct Completed {
    next: Otp,
    signature: Vec<u8>,
}

/// The answer for a destroyed record.
const fn destroyed_error(reason: DestroyReason) -> Error {
    match reason {
        DestroyReason::Expired => Error::KeyExpired,
        DestroyReason::WrongPins | DestroyReason::Clone | DestroyReason::Closed => {
            Error::KeyDestroyed
        }
    }
}

const fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Store(StoreError::Conflict))
}

/// The server's key-state operations on a [`RecordStore`] under a [`ServerPolicy`]
/// (SPEC §3.5, §4.5, §7). See the module documentation for the exact order of steps.
#[derive(Debug)]
pub struct ServerState<K> {
    store: K,
    policy: ServerPolicy,
}

impl<K> ServerState<K>
where
    K: RecordStore,
    K::Share: Zeroize,
{
    /// Wraps a store and a policy.
    pub fn new(store: K, policy: ServerPolicy) -> Self {
        Self { store, policy }
    }

    /// The store.
    pub fn store(&self) -> &K {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &ServerPolicy {
        &self.policy
    }

    /// Registers a new key (SPEC §3.5): stores its record with a fresh OTP_0, created at `now`
    /// and expiring after the policy's lifetime. Returns OTP_0 for the RegistrationResponse.
    ///
    /// # Errors
    /// `Error::Store(StoreError::Conflict)` if the key id is taken; [`Error::Store`] if the
    /// store fails.
    pub fn register<R: CryptoRng + ?Sized>(
        &self,
        key_id: KeyId,
        share: K::Share,
        now: u64,
        rng: &mut R,
    ) -> Result<Otp> {
        let otp = Otp::generate(rng);
        let record = KeyRecord::new(key_id, share, &otp, now, self.policy.key_lifetime_secs);
        self.store.insert(&record)?;
        Ok(otp)
    }

    /// Completes a signature request on the server side (SPEC §4.5), given the share check
    /// `evaluate`. See the module documentation for the exact steps.
    ///
    /// `evaluate(&share)` returns `Ok(signature)` if the partial signature is valid and the
    /// signature was completed, `Err(Error::SigningFailed)` if the share check failed (wrong
    /// PIN). Any other `Err(e)` is treated like a failed check (nothing proved the PIN right,
    /// so the charge stands) but `e` is returned instead of `WrongPin`. It is called at most
    /// once, and only after the charge is persisted.
    ///
    /// # Errors
    /// [`Error::KeyDestroyed`], [`Error::KeyExpired`], [`Error::KeyLocked`] (refused, nothing
    /// counted or evaluated); [`Error::WrongPin`]; [`Error::CloneDetected`]; [`Error::Store`]
    /// (`NotFound` for an unknown key id, `Conflict` after too many lost races, backend
    /// failures); an error returned by `evaluate`.
    pub fn complete_signature<R, F>(
        &self,
        key_id: &KeyId,
        request_id: &RequestId,
        presented_otp: &Otp,
        now: u64,
        rng: &mut R,
        evaluate: F,
    ) -> Result<Answer>
    where
        R: CryptoRng + ?Sized,
        F: FnOnce(&K::Share) -> Result<Vec<u8>>,
    {
        let (record, version, outcome) = self.charge(key_id, now)?;
        let Some(active) = record.active() else {
            // `charge` returns only active records.
            return Err(Error::KeyDestroyed);
        };
        match evaluate(active.share()) {
            Err(e) => self.after_failure(key_id, now, outcome, e),
            Ok(signature) => {
                let done = Completed {
                    next: Otp::generate(rng),
                    signature,
                };
                self.after_success(record, version, request_id, presented_otp, now, done)
            }
        }
    }

    /// Closes a key at its owner's request (SPEC §7): destroys it (reason
    /// [`DestroyReason::Closed`]) and wipes the share. Closing a destroyed key changes
    /// nothing and succeeds.
    ///
    /// # Errors
    /// [`Error::Store`] (`NotFound` for an unknown key id).
    pub fn close_key(&self, key_id: &KeyId, now: u64) -> Result<()> {
        self.destroy(key_id, DestroyReason::Closed, now).map(|_| ())
    }

    /// Destroys the key with reason [`DestroyReason::Expired`] if it is active and expired at
    /// `now` (SPEC §7). Returns whether it did. Requests on an expired key are refused with
    /// [`Error::KeyExpired`] whether or not this ran first.
    ///
    /// # Errors
    /// [`Error::Store`] (`NotFound` for an unknown key id).
    pub fn expire_key(&self, key_id: &KeyId, now: u64) -> Result<bool> {
        for _ in 0..self.policy.cas_retries {
            let mut record = self.load(key_id)?;
            if record.destroyed().is_some() || !record.is_expired(now) {
                return Ok(false);
            }
            let version = record.version();
            record.destroy(DestroyReason::Expired, now);
            match self.store.store(&record, version) {
                Ok(()) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    fn load(&self, key_id: &KeyId) -> Result<KeyRecord<K::Share>> {
        self.store
            .load(key_id)?
            .ok_or(Error::Store(StoreError::NotFound))
    }

    /// Destroys the key unless it is already destroyed; returns whether this call did it.
    fn destroy(&self, key_id: &KeyId, reason: DestroyReason, now: u64) -> Result<bool> {
        for _ in 0..self.policy.cas_retries {
            let mut record = self.load(key_id)?;
            if record.destroyed().is_some() {
                return Ok(false);
            }
            let version = record.version();
            record.destroy(reason, now);
            match self.store.store(&record, version) {
                Ok(()) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// Steps 1 and 2: refuse or charge, and persist the charge. Returns the charged record,
    /// the version it was persisted at, and the outcome the charge stands for.
    fn charge(
        &self,
        key_id: &KeyId,
        now: u64,
    ) -> Result<(KeyRecord<K::Share>, u64, FailureOutcome)> {
        let lockout = &self.policy.lockout;
        for _ in 0..self.policy.cas_retries {
            let mut record = self.load(key_id)?;
            let version = record.version();
            if let Some((reason, _)) = record.destroyed() {
                return Err(destroyed_error(reason));
            }
            // Finish a destruction that the state already implies (SPEC §7).
            let pending = match record.active() {
                Some(a) if a.attempts().is_exhausted(lockout) => Some(DestroyReason::WrongPins),
                Some(_) if record.is_expired(now) => Some(DestroyReason::Expired),
                _ => None,
            };
            if let Some(reason) = pending {
                record.destroy(reason, now);
                match self.store.store(&record, version) {
                    Ok(()) => return Err(destroyed_error(reason)),
                    Err(e) if is_conflict(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
            let Some(active) = record.active_mut() else {
                return Err(Error::KeyDestroyed);
            };
            active.attempts().check(lockout, now)?;
            let outcome = active.attempts_mut().charge(lockout, now);
            match self.store.store(&record, version) {
                Ok(()) => {
                    let new_version = version.saturating_add(1);
                    record.set_version(new_version);
                    return Ok((record, new_version, outcome));
                }
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// Step 4: the share check failed; the charge stands.
    fn after_failure(
        &self,
        key_id: &KeyId,
        now: u64,
        outcome: FailureOutcome,
        e: Error,
    ) -> Result<Answer> {
        let lockout = &self.policy.lockout;
        if outcome == FailureOutcome::Destroyed {
            // Destroy, unless a concurrent success (serialised after our charge) has reset the
            // count in the meantime: then our failure came before that success and is erased
            // by it, as any earlier failure would be.
            for _ in 0..self.policy.cas_retries {
                let mut record = self.load(key_id)?;
                let version = record.version();
                let attempts = match record.active() {
                    None => return Err(Error::KeyDestroyed),
                    Some(a) => *a.attempts(),
                };
                if !attempts.is_exhausted(lockout) {
                    return Err(match e {
                        Error::SigningFailed => Error::WrongPin {
                            attempts_left: attempts.attempts_left(lockout),
                            locked_until: None,
                        },
                        other => other,
                    });
                }
                record.destroy(DestroyReason::WrongPins, now);
                match self.store.store(&record, version) {
                    Ok(()) => return Err(Error::KeyDestroyed),
                    Err(err) if is_conflict(&err) => continue,
                    Err(err) => return Err(err),
                }
            }
            return Err(Error::Store(StoreError::Conflict));
        }
        Err(match e {
            Error::SigningFailed => outcome.to_error(),
            other => other,
        })
    }

    /// Step 5: the share check succeeded.
    fn after_success(
        &self,
        charged: KeyRecord<K::Share>,
        charged_version: u64,
        request_id: &RequestId,
        presented_otp: &Otp,
        now: u64,
        done: Completed,
    ) -> Result<Answer> {
        let Completed { next, signature } = done;
        let mut record = charged;
        let mut version = charged_version;
        for attempt in 0..self.policy.cas_retries {
            if attempt > 0 {
                record = self.load(record.key_id())?;
                version = record.version();
            }
            let Some(active) = record.active_mut() else {
                let reason = record
                    .destroyed()
                    .map_or(DestroyReason::WrongPins, |(r, _)| r);
                return Err(destroyed_error(reason));
            };
            let result = match active.otp().classify(presented_otp, request_id) {
                OtpClass::Current => {
                    active.attempts_mut().success();
                    let answer = Answer::new(signature.clone(), next.duplicate());
                    active.otp_mut().rotate(&next, *request_id, answer.clone());
                    Ok(answer)
                }
                OtpClass::Retransmission if active.otp().last().is_some() => {
                    active.attempts_mut().success();
                    let stored = active.otp().last().map(|last| last.answer().clone());
                    stored.ok_or(Error::CloneDetected)
                }
                // `classify` says Retransmission only when there is a last exchange, so the
                // guard above always holds; a Retransmission without one would be Stale.
                OtpClass::Retransmission | OtpClass::Stale => {
                    record.destroy(DestroyReason::Clone, now);
                    Err(Error::CloneDetected)
                }
            };
            match self.store.store(&record, version) {
                Ok(()) => return result,
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }
}

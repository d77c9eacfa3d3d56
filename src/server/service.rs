//! The server (SPEC §3 steps 0 and 5, §4 steps 1 and 5, §6, §7): the imperative shell
//! around the session rules of [`crate::server::session`].
//!
//! [`Server`] holds the transport key (SPEC §6), a [`KeyStore`] with compare-and-swap, a
//! [`KeyEncryptionKey`] for the shares at rest (SPEC §7) and the policy. Each operation loads
//! a record, calls the pure session rules, does the cryptography they ask for (open, evaluate,
//! seal) and stores the result by compare-and-swap, starting again from the load when a
//! write loses a race.

use crate::error::ChallengeError;
use core::fmt;

use hmac::{KeyInit, Mac};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::arith::Uint;
use crate::device::pin::KeyPurpose;
use crate::error::{DecodeError, DecodeErrorKind, Error, Result, StoreError, Uniqueness};
use crate::rsa::keygen::{KeySize, RegistrationPayload, ServerShare, check_size_policy};
use crate::rsa::padding::Scheme;
use crate::rsa::public_key::PublicKey;
use crate::rsa::signing::{CompletionFailure, Fault, server_complete};
use crate::server::kek::KeyEncryptionKey;
use crate::server::otp::Otp;
use crate::server::record::{AnswerSummary, DestroyReason, KeyRecord, StoredAnswer, WrappedShare};
use crate::server::session::{
    Admission, Evaluation, MessageFacts, ServerPolicy, Settlement, admit, is_stored_registration,
    live, record_answer, settle, start_request,
};
use crate::server::store::{CHALLENGE_LEN, KeyStore, N1Hash, NewRecord};
use crate::server::transport::{ResponseKey, ServerTransportKey, TransportPublicKey};
use crate::wire::ids::{KeyId, RequestId};
use crate::wire::messages::{
    Outcome, RegistrationChallenge, RegistrationRequest, RegistrationResult, ResponseKind,
    SealedPartialSignature, SealedResponse, SigningAnswer, SigningRequest, decode_partial,
};

type HmacSha256 = hmac::Hmac<Sha256>;

/// What [`Server::register`] returns: the new key's id, its composite public key (what a CA
/// certifies, SPEC §3.6), and the sealed answer for the device.
#[derive(Debug, Clone)]
pub struct Registered {
    /// The key id.
    pub key_id: KeyId,
    /// The composite public key (n, e).
    pub public_key: PublicKey,
    /// The answer to send to the device (only it can open it).
    pub response: SealedResponse,
}

/// What [`Server::complete`] returns: the sealed answer for the device and, for the
/// application, the public outcome (the signature itself once completed).
#[derive(Debug, Clone)]
pub struct Completion {
    /// The answer to send to the device (only it can open it).
    pub response: SealedResponse,
    /// What the answer says, for the server's application (public: no OTP).
    pub outcome: Outcome,
    /// Whether this is a stored answer sent again for a byte-identical resend (SPEC §4.5 b).
    pub resent: bool,
}

/// The server side of split-rsa: registration challenges and registration, signing requests
/// and their completion, key closing and expiry, KEK rotation.
///
/// Generic over the key store `K` ([`InMemoryKeyStore`](crate::InMemoryKeyStore) for tests; a
/// database with compare-and-swap in production: see [`KeyStore`] for what it must guarantee)
/// and the key-encryption key `E` that protects the shares at rest. The server reads no clock:
/// every operation takes `now`, in seconds since the Unix epoch.
pub struct Server<K, E> {
    transport: ServerTransportKey,
    store: K,
    kek: E,
    policy: ServerPolicy,
    n2_size: KeySize,
}

impl<K, E> fmt::Debug for Server<K, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("transport", &self.transport)
            .field("policy", &self.policy)
            .field("n2_size", &self.n2_size)
            .finish_non_exhaustive()
    }
}

fn is_conflict(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict)
}

impl<K: KeyStore, E: KeyEncryptionKey> Server<K, E> {
    /// A server with its transport key, key store, key-encryption key, policy and the size of
    /// the RSA keys it generates for itself (n2).
    pub fn new(
        transport: ServerTransportKey,
        store: K,
        kek: E,
        policy: ServerPolicy,
        n2_size: KeySize,
    ) -> Self {
        Self {
            transport,
            store,
            kek,
            policy,
            n2_size,
        }
    }

    /// The transport public key devices seal to (SPEC §6).
    pub fn transport_public_key(&self) -> TransportPublicKey {
        self.transport.public_key()
    }

    /// The key store.
    pub fn store(&self) -> &K {
        &self.store
    }

    /// The policy.
    pub fn policy(&self) -> &ServerPolicy {
        &self.policy
    }

    /// Loads and decodes a record with its version.
    ///
    /// # Errors
    /// [`Error::Store`] (`NotFound` for an unknown key id); [`Error::Decode`].
    pub fn load(&self, key_id: &KeyId) -> Result<(KeyRecord, u64)> {
        let stored = self
            .store
            .load(key_id)?
            .ok_or(Error::Store(StoreError::NotFound))?;
        Ok((KeyRecord::from_bytes(&stored.blob)?, stored.version))
    }

    fn cas(&self, record: &KeyRecord, version: u64) -> core::result::Result<(), StoreError> {
        self.store
            .compare_and_swap(&record.key_id, version, &record.to_bytes())
    }

    /// SPEC §3 step 0: a registration challenge, valid for the policy's challenge lifetime
    /// (15 minutes by default), authenticated with HMAC-SHA256 under a key derived from the
    /// transport key. Nothing is stored: the key store makes it single use when a key is
    /// registered with it.
    pub fn issue_challenge<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        now: u64,
    ) -> RegistrationChallenge {
        let mut challenge = [0u8; CHALLENGE_LEN];
        rng.fill_bytes(&mut challenge);
        let expires_at = now.saturating_add(self.policy.challenge_lifetime_secs());
        let tag = self.challenge_tag(&challenge, expires_at);
        RegistrationChallenge {
            challenge,
            expires_at,
            tag,
        }
    }

    fn challenge_tag(&self, challenge: &[u8; CHALLENGE_LEN], expires_at: u64) -> [u8; 32] {
        let key = self.transport.challenge_key();
        // HMAC accepts keys of any length.
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key.as_slice())
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        mac.update(&RegistrationChallenge::tagged_bytes(challenge, expires_at));
        mac.finalize().into_bytes().into()
    }

    /// SPEC §3 step 5: opens the sealed `{n1, d1''}` and derives the answer's response key
    /// (SPEC §6); answers a byte-identical resend of a registration from storage; refuses an
    /// n1 that was ever registered, a challenge that is not this server's, expired or used, a
    /// size the server cannot pair with its own; then generates the server's RSA key, stores
    /// the record with OTP_0 (n1 hash and challenge unique in the store) and answers
    /// `{key_id, n2, OTP_0}` sealed to the device.
    ///
    /// # Errors
    /// [`Error::Unseal`] for a tampered request; [`Error::Decode`] / [`Error::InvalidKey`] for
    /// a malformed payload or sizes the server does not pair; [`Error::AlreadyRegistered`];
    /// [`Error::InvalidChallenge`]; store and KEK errors. Nothing is stored on any error.
    pub fn register<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        request: &RegistrationRequest,
        now: u64,
    ) -> Result<Registered> {
        let aad = RegistrationRequest::aad(&request.challenge, request.purpose, &request.n1);
        let (plaintext, response_key) = self.transport.open_for_response(&request.sealed, &aad)?;
        let payload = RegistrationPayload::from_bytes(plaintext.as_bytes())?;
        drop(plaintext);
        if payload.n1_be_bytes() != request.n1 {
            return Err(Error::Decode(DecodeError::new(
                "n1",
                DecodeErrorKind::Invalid,
            )));
        }
        let message_hash: [u8; 32] = Sha256::digest(request.to_bytes()).into();
        let n1_hash: N1Hash = Sha256::digest(&request.n1).into();

        // A resend of a registration that was stored: its stored answer, nothing new.
        if let Some(key_id) = self.store.find_n1(&n1_hash)? {
            let (record, _) = self.load(&key_id)?;
            if let Some(stored) = is_stored_registration(&record, &message_hash) {
                let public_key = match record.active() {
                    Some(a) => PublicKey::from_uint(&Uint::from_be_bytes(&a.n))?,
                    None => return Err(Error::AlreadyRegistered),
                };
                return Ok(Registered {
                    key_id,
                    public_key,
                    response: stored.response,
                });
            }
            return Err(Error::AlreadyRegistered);
        }
        // The challenge: this server's, unexpired (single use: the store's constraint).
        let c = &request.challenge;
        let tag_ok = self.challenge_tag(&c.challenge, c.expires_at).ct_eq(&c.tag);
        if !bool::from(tag_ok) {
            return Err(Error::InvalidChallenge(ChallengeError::Foreign));
        }
        if now >= c.expires_at {
            return Err(Error::InvalidChallenge(ChallengeError::Expired));
        }
        // Sizes before any key generation or storage.
        check_size_policy(payload.key_size(), self.n2_size)?;

        let share = ServerShare::generate(rng, payload, self.n2_size)?;
        let n2 = share.n2_be_bytes();
        let n = share.n_be_bytes();
        let public_key = PublicKey::from_uint(share.n().modulus())?;
        let otp = Otp::generate(rng);
        for _ in 0..4 {
            let key_id = KeyId::random(rng);
            let request_id = RequestId::from_bytes(c.challenge);
            let result = RegistrationResult {
                key_id,
                n2: n2.clone(),
                otp: Otp::from_bytes(*otp.as_bytes()),
            };
            let response = seal_response(
                rng,
                &response_key,
                ResponseKind::Registration,
                key_id,
                request_id,
                &result.to_bytes(),
            );
            let wrapped = WrappedShare::seal(&self.kek, rng, &key_id, &n1_hash, &share)?;
            let record = KeyRecord::new_active(
                key_id,
                request.purpose,
                n1_hash,
                now,
                now.saturating_add(self.policy.key_lifetime_secs()),
                n.clone(),
                otp.hash(),
                wrapped,
                Some(StoredAnswer::registration(message_hash, response.clone())),
            );
            let blob = record.to_bytes();
            match self.store.insert(&NewRecord {
                key_id: &key_id,
                n1_hash: &n1_hash,
                challenge: &c.challenge,
                blob: &blob,
            }) {
                Ok(()) => {
                    return Ok(Registered {
                        key_id,
                        public_key,
                        response,
                    });
                }
                // A fresh random key id collided: draw another.
                Err(StoreError::Duplicate(Uniqueness::KeyId)) => continue,
                Err(StoreError::Duplicate(Uniqueness::N1)) => return Err(Error::AlreadyRegistered),
                Err(StoreError::Duplicate(Uniqueness::Challenge)) => {
                    return Err(Error::InvalidChallenge(ChallengeError::Used));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// The composite public key (n, e) of a key (what a CA certifies). Honours expiry.
    ///
    /// # Errors
    /// [`Error::Store`] (`NotFound`); [`Error::KeyDestroyed`]; [`Error::KeyExpired`].
    pub fn public_key(&self, key_id: &KeyId, now: u64) -> Result<PublicKey> {
        let (record, _) = self.load(key_id)?;
        let active = live(&record, now)?;
        PublicKey::from_uint(&Uint::from_be_bytes(&active.n))
    }

    /// SPEC §4 step 1: creates a signing request for `key_id` and makes it the key's pending
    /// request (replacing any earlier one), persisted by compare-and-swap. Refused, with
    /// nothing stored, if the key is destroyed, expired, locked, or not of `purpose`.
    ///
    /// # Errors
    /// [`Error::KeyDestroyed`], [`Error::KeyExpired`], [`Error::KeyLocked`],
    /// [`Error::InvalidRequest`] (purpose, digest length), store errors.
    pub fn create_request<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        key_id: &KeyId,
        purpose: KeyPurpose,
        scheme: Scheme,
        digest: &[u8],
        now: u64,
    ) -> Result<SigningRequest> {
        for _ in 0..self.policy.cas_retries() {
            let (record, version) = self.load(key_id)?;
            let request = SigningRequest::new(
                rng,
                *key_id,
                purpose,
                scheme,
                digest,
                now.saturating_add(self.policy.request_lifetime_secs()),
            )?;
            let next = start_request(&record, &request, self.policy.lockout(), now)?;
            match self.cas(&next, version) {
                Ok(()) => return Ok(request),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// SPEC §4 step 5: the session rules for one sealed partial signature, in the order a-h
    /// (the session rules of SPEC §4.5). Opening needs no key state: a message that does not
    /// open or decode is refused with a plain error and changes nothing (a). Every other
    /// answer is sealed under the message's response key (SPEC §6).
    ///
    /// # Errors
    /// [`Error::Unseal`], [`Error::Decode`] (a); [`Error::Fault`] (a check of the server's own
    /// computation failed: nothing released, the charge stands and a resend re-evaluates
    /// without a second charge); store and KEK errors. Everything the protocol says to the
    /// device (wrong PIN, locked, destroyed, ...) is an `Ok` [`Completion`].
    pub fn complete<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &SealedPartialSignature,
        now: u64,
    ) -> Result<Completion> {
        self.complete_inner(rng, message, now, Fault::None)
    }

    /// [`Server::complete`] with a fault injected into the server's own signature s2, to show
    /// that the fault checks catch it (tests). ⚠️ Hazmat: never use in production.
    #[cfg(feature = "hazmat")]
    pub fn complete_with_injected_fault<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &SealedPartialSignature,
        now: u64,
        after_s2_check: bool,
    ) -> Result<Completion> {
        let fault = if after_s2_check {
            Fault::S2AfterCheck
        } else {
            Fault::S2
        };
        self.complete_inner(rng, message, now, fault)
    }

    fn complete_inner<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        message: &SealedPartialSignature,
        now: u64,
        fault: Fault,
    ) -> Result<Completion> {
        // a.
        let aad = SealedPartialSignature::aad(
            &message.key_id,
            &message.request_id,
            &message.request_hash,
        );
        let (plaintext, response_key) = self.transport.open_for_response(&message.sealed, &aad)?;
        let (otp, y) = decode_partial(plaintext.as_bytes())?;
        let facts = MessageFacts {
            message_hash: message.hash(),
            request_id: message.request_id,
            request_hash: message.request_hash,
            otp_hash: otp.hash(),
        };
        drop(otp);
        let key_id = message.key_id;
        let lockout = self.policy.lockout();
        let reply = |outcome: Outcome, next_otp: Option<Otp>, rng: &mut R| {
            let answer = SigningAnswer { outcome, next_otp };
            seal_response(
                rng,
                &response_key,
                ResponseKind::Signing,
                key_id,
                message.request_id,
                &answer.to_bytes(),
            )
        };

        // b-g, serialised by compare-and-swap.
        let mut admitted = None;
        for _ in 0..self.policy.cas_retries() {
            let (record, version) = self.load(&key_id)?;
            match admit(&record, &facts, lockout, now) {
                Admission::Resend(stored) => return Ok(resent(stored)),
                Admission::Refuse(outcome) => {
                    let response = reply(outcome.clone(), None, rng);
                    return Ok(Completion {
                        response,
                        outcome,
                        resent: false,
                    });
                }
                Admission::Evaluate => {
                    admitted = Some((record, version));
                    break;
                }
                Admission::Charge(charged) => match self.cas(&charged, version) {
                    Ok(()) => {
                        admitted = Some((charged, version.saturating_add(1)));
                        break;
                    }
                    Err(e) if is_conflict(&e) => continue,
                    Err(e) => return Err(e.into()),
                },
            }
        }
        let Some((record, version)) = admitted else {
            return Err(Error::Store(StoreError::Conflict));
        };

        // h. The share is opened only now, after the charge is persisted.
        let evaluation = self.evaluate(&record, &facts.message_hash, y, fault)?;
        let next_otp = Otp::generate(rng);
        let next_hash = next_otp.hash();
        let mut current = (record, version);
        for attempt in 0..self.policy.cas_retries() {
            if attempt > 0 {
                current = self.load(&key_id)?;
            }
            let (record, version) = &current;
            match settle(record, &facts, evaluation.clone(), &next_hash, lockout, now) {
                Settlement::Resend(stored) => return Ok(resent(stored)),
                Settlement::Answer(outcome) => {
                    let response = reply(outcome.clone(), None, rng);
                    return Ok(Completion {
                        response,
                        outcome,
                        resent: false,
                    });
                }
                Settlement::Persist(mut next, outcome) => {
                    let otp = matches!(outcome, Outcome::Completed { .. })
                        .then(|| Otp::from_bytes(*next_otp.as_bytes()));
                    let response = reply(outcome.clone(), otp, rng);
                    record_answer(&mut next, facts.message_hash, &outcome, response.clone());
                    match self.cas(&next, *version) {
                        Ok(()) => {
                            return Ok(Completion {
                                response,
                                outcome,
                                resent: false,
                            });
                        }
                        Err(e) if is_conflict(&e) => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// SPEC §4.5 h on the opened share: `|y| = |n1|/8` and `y < n1` (a malformed y is a failed
    /// share check, counted like a wrong PIN), EM recomputed from the request the message was
    /// charged for, then the two-party completion with its fault checks.
    fn evaluate(
        &self,
        record: &KeyRecord,
        message_hash: &[u8; 32],
        y_bytes: &[u8],
        fault: Fault,
    ) -> Result<Evaluation> {
        let Some(active) = record.active() else {
            return Err(Error::KeyDestroyed);
        };
        // Admission returns Evaluate or Charge only for a message among the unresolved ones.
        let Some(charged) = active
            .unresolved()
            .iter()
            .find(|u| u.message_hash() == message_hash)
        else {
            return Err(Error::Store(StoreError::Conflict));
        };
        let share = active
            .share
            .open(&self.kek, &record.key_id, &record.n1_hash)?;
        if y_bytes.len() != share.n1_size().bytes() {
            return Ok(Evaluation::Invalid);
        }
        let y = Uint::from_be_bytes(y_bytes);
        // DECLASSIFY: y >= n1 is malformed input from the device, refused and counted like a
        // failed share check.
        if !bool::from(y.ct_lt(share.n1().modulus())) {
            return Ok(Evaluation::Invalid);
        }
        let n_bits = share.n().modulus().bits_vartime();
        let em = Zeroizing::new(charged.request().encoded_message(n_bits)?);
        let m = Uint::from_be_bytes(&em);
        let key = share.completion_key();
        match server_complete(&key, &y, &m, fault) {
            Ok(s) => {
                let (bytes, _) = s.to_be_bytes(n_bits.div_ceil(8));
                Ok(Evaluation::Valid {
                    signature: bytes.to_vec(),
                })
            }
            Err(CompletionFailure::WrongShare) => Ok(Evaluation::Invalid),
            Err(CompletionFailure::Fault) => Err(Error::Fault),
        }
    }

    /// Closes a key at its owner's request (SPEC §7): it is destroyed and its share dropped.
    /// Closing a destroyed key changes nothing and succeeds.
    ///
    /// # Errors
    /// Store errors (`NotFound` for an unknown key id).
    pub fn close(&self, key_id: &KeyId, now: u64) -> Result<()> {
        self.destroy(key_id, DestroyReason::Closed, now).map(|_| ())
    }

    /// Destroys the key with reason [`DestroyReason::Expired`] if it is active and expired at
    /// `now` (SPEC §7). Returns whether it did. Every operation honours expiry whether or not
    /// this ran first.
    ///
    /// # Errors
    /// Store errors.
    pub fn expire(&self, key_id: &KeyId, now: u64) -> Result<bool> {
        let (record, _) = self.load(key_id)?;
        if record.destroyed().is_some() || !record.is_expired(now) {
            return Ok(false);
        }
        self.destroy(key_id, DestroyReason::Expired, now)
    }

    fn destroy(&self, key_id: &KeyId, reason: DestroyReason, now: u64) -> Result<bool> {
        for _ in 0..self.policy.cas_retries() {
            let (mut record, version) = self.load(key_id)?;
            if record.destroyed().is_some() {
                return Ok(false);
            }
            record.destroy(reason, now);
            match self.cas(&record, version) {
                Ok(()) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }

    /// Re-seals the key's share under the KEK provider's current KEK (rotation, SPEC §7).
    /// Returns whether the record changed.
    ///
    /// # Errors
    /// [`Error::Kek`] (the share does not authenticate, the old KEK is gone), store errors.
    pub fn rewrap<R: CryptoRng + ?Sized>(&self, rng: &mut R, key_id: &KeyId) -> Result<bool> {
        for _ in 0..self.policy.cas_retries() {
            let (mut record, version) = self.load(key_id)?;
            if !record.rewrap(&self.kek, rng)? {
                return Ok(false);
            }
            match self.cas(&record, version) {
                Ok(()) => return Ok(true),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Store(StoreError::Conflict))
    }
}

fn resent(stored: StoredAnswer) -> Completion {
    let outcome = match stored.summary {
        AnswerSummary::Signing(o) => o,
        // A registration answer is never stored under a signing message's hash.
        AnswerSummary::Registered => Outcome::NotPending,
    };
    Completion {
        response: stored.response,
        outcome,
        resent: true,
    }
}

/// Seals an answer's plaintext under a response key (SPEC §6).
fn seal_response<R: CryptoRng + ?Sized>(
    rng: &mut R,
    key: &ResponseKey,
    kind: ResponseKind,
    key_id: KeyId,
    request_id: RequestId,
    plaintext: &[u8],
) -> SealedResponse {
    let aad = SealedResponse::aad(kind, &key_id, &request_id);
    SealedResponse {
        kind,
        key_id,
        request_id,
        sealed: key.seal(rng, &aad, plaintext),
    }
}

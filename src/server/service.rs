//! The server's role (SPEC §3 step 5, §4 steps 1 and 5, §7).
//!
//! [`Server`] ties together the server's transport key (SPEC §6), its key store with the
//! lockout and one-time-password state (SPEC §7, [`ServerState`]) and the cryptography of
//! completing a signature (SPEC §4.5, [`crate::rsa::signing`]): every partial signature is charged
//! as a failed attempt and persisted *before* the share check runs.

use core::fmt;

use rand_core::CryptoRng;

use crate::arith::Uint;
use crate::error::{DecodeError, DecodeErrorKind, Error, Result};
use crate::rsa::keygen::{KeySize, RegistrationPayload, ServerShare};
use crate::rsa::public_key::PublicKey;
use crate::rsa::signing::{CompletionFailure, Fault, server_complete};
use crate::server::record::{KeyId, RecordStore};
use crate::server::session::{ServerPolicy, ServerState};
use crate::server::transport::{ServerTransportKey, TransportPublicKey};
use crate::wire::messages::{
    RegistrationRequest, RegistrationResponse, SealedPartialSignature, SigningRequest,
    SigningResponse, decode_partial,
};

/// The server side of split-rsa: registration, signature completion, key closing.
///
/// Generic over the key store `K` (an [`InMemoryRecordStore`](crate::InMemoryRecordStore) for tests;
/// a database with compare-and-swap in production: see [`RecordStore`] for what an
/// implementation must guarantee). The server reads no clock: every operation takes `now`,
/// in seconds since the Unix epoch.
///
/// # Example
///
/// Setting up a server: its long-term transport key (SPEC §6; generate once, keep the
/// private key encrypted, give [`transport_public_key`](Self::transport_public_key) to the
/// devices), a key store, the lockout and lifetime policy (SPEC §7) and the size of the
/// server's half modulus n2. The README shows registration and signing with it.
///
/// ```
/// use rand_chacha::ChaCha20Rng;
/// use rand_core::SeedableRng;
/// use split_rsa::{
///     DEFAULT_CAS_RETRIES, Error, InMemoryRecordStore, KeySize, LockStep, LockoutPolicy, Server,
///     ServerPolicy, ServerTransportKey,
/// };
///
/// let mut rng = ChaCha20Rng::seed_from_u64(3); // an OS RNG in production
///
/// // Once: generate the transport key and persist its private half (a wiping buffer).
/// let saved = ServerTransportKey::generate(&mut rng).to_bytes();
/// // At every start: load it.
/// let transport = ServerTransportKey::from_bytes(saved.as_slice())?;
///
/// // SPEC §7 defaults: lock 3 h after 3 wrong PINs, 24 h after 6, destroy at 9; keys live
/// // 3 years. A deployment may choose its own:
/// let hour = 3600;
/// let lockout = LockoutPolicy::new(
///     &[
///         LockStep { at_failures: 3, duration_secs: hour },
///         LockStep { at_failures: 5, duration_secs: 24 * hour },
///     ],
///     7,
/// )?;
/// let policy = ServerPolicy::new(lockout, 2 * 365 * 24 * hour, DEFAULT_CAS_RETRIES)?;
///
/// let server = Server::new(transport, InMemoryRecordStore::new(), policy, KeySize::BITS_3072);
/// let for_devices: [u8; 32] = server.transport_public_key().to_bytes();
/// # let _ = for_devices;
/// # assert!(server.state().store().is_empty());
///
/// // Policies are checked: a lock step must come before destruction.
/// assert!(LockoutPolicy::new(&[LockStep { at_failures: 9, duration_secs: hour }], 9).is_err());
/// # Ok::<(), Error>(())
/// ```
pub struct Server<K> {
    state: ServerState<K>,
    transport: ServerTransportKey,
    n2_size: KeySize,
}

impl<K> fmt::Debug for Server<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("transport", &self.transport)
            .field("n2_size", &self.n2_size)
            .finish_non_exhaustive()
    }
}

impl<K: RecordStore<Share = ServerShare>> Server<K> {
    /// A server with its transport key, key store, policy and the size of the RSA keys it
    /// generates for itself (n2).
    pub fn new(
        transport: ServerTransportKey,
        store: K,
        policy: ServerPolicy,
        n2_size: KeySize,
    ) -> Self {
        Self {
            state: ServerState::new(store, policy),
            transport,
            n2_size,
        }
    }

    /// The transport public key devices seal to (SPEC §6).
    pub fn transport_public_key(&self) -> TransportPublicKey {
        self.transport.public_key()
    }

    /// The key store and lockout state.
    pub fn state(&self) -> &ServerState<K> {
        &self.state
    }

    /// SPEC §3 step 5: opens the sealed `{n1, d1''}`, checks it against the request's public
    /// n1, generates the server's RSA key (n2 coprime to n1, |n1·n2| exact) with its CRT
    /// parameters, stores the new key with OTP_0 and answers `{key_id, n2, OTP_0}`.
    ///
    /// # Errors
    /// [`Error::Unseal`] for a tampered request; [`Error::Decode`] / [`Error::InvalidKey`] for
    /// a malformed payload; store errors.
    pub fn register<R: CryptoRng>(
        &self,
        rng: &mut R,
        request: &RegistrationRequest,
        now: u64,
    ) -> Result<RegistrationResponse> {
        let aad = RegistrationRequest::aad(request.purpose, &request.n1);
        let plaintext = self.transport.open(&request.sealed, &aad)?;
        let payload = RegistrationPayload::from_bytes(plaintext.as_bytes())?;
        drop(plaintext);
        if payload.n1_be_bytes() != request.n1 {
            return Err(Error::Decode(DecodeError::new(
                "n1",
                DecodeErrorKind::Invalid,
            )));
        }
        let share = ServerShare::generate(payload, self.n2_size, rng)?;
        let n2 = share.n2_be_bytes();
        let mut key_id = KeyId::default();
        rng.fill_bytes(&mut key_id);
        let otp = self.state.register(key_id, share, now, rng)?;
        Ok(RegistrationResponse { key_id, n2, otp })
    }

    /// The composite public key (n, e) of a key (what a CA certifies).
    ///
    /// # Errors
    /// [`Error::Store`] for an unknown key; [`Error::KeyDestroyed`] for a destroyed one.
    pub fn public_key(&self, key_id: &KeyId) -> Result<PublicKey> {
        let record = self
            .state
            .store()
            .load(key_id)?
            .ok_or(Error::Store(crate::error::StoreError::NotFound))?;
        let active = record.active().ok_or(Error::KeyDestroyed)?;
        PublicKey::from_uint(active.share().n().modulus())
    }

    /// SPEC §4 step 5: completes the signature for `request` from the device's sealed partial
    /// signature. First, touching no key state: the ids must match, the sealed `{otp, y}` is
    /// opened (SPEC §6, RFC 9180 base mode) and its plaintext decoded; a tampered or malformed
    /// message is refused without counting (see `docs/protocol.md`, "Where the code departs
    /// from the text"). Then in the SPEC's order: refuse a destroyed, expired or locked key
    /// (nothing counted); charge one failed attempt and persist it; check `|y|` and `y < n1`;
    /// `s1 = y·m^d1'' mod n1` and check `s1^e = m`; on success classify the OTP (current,
    /// retransmission, or a clone), compute `s2` by CRT with its check, combine by Garner,
    /// check `s^e = m mod n`, clear the charge, rotate the OTP, persist, answer.
    ///
    /// # Errors
    /// [`Error::WrongPin`] (attempt counted), [`Error::KeyLocked`], [`Error::KeyDestroyed`],
    /// [`Error::KeyExpired`], [`Error::CloneDetected`], [`Error::Unseal`] (tampered message,
    /// not counted), [`Error::Decode`] (malformed plaintext: not counted; a `y` of the wrong
    /// length or `≥ n1`: counted), [`Error::InvalidRequest`] (ids do not match),
    /// [`Error::Fault`] (a check of the server's own `s2` or `s` failed; nothing released, the
    /// charge stands), store errors. No error carries any part of y, s1, s2 or s.
    pub fn complete<R: CryptoRng>(
        &self,
        rng: &mut R,
        request: &SigningRequest,
        partial: &SealedPartialSignature,
        now: u64,
    ) -> Result<SigningResponse> {
        self.complete_inner(rng, request, partial, now, Fault::None)
    }

    /// [`Server::complete`] with a fault injected into the server's own signature s2, to show
    /// that the fault checks catch it (tests). ⚠️ Hazmat: never use in production.
    #[cfg(feature = "hazmat")]
    pub fn complete_with_injected_fault<R: CryptoRng>(
        &self,
        rng: &mut R,
        request: &SigningRequest,
        partial: &SealedPartialSignature,
        now: u64,
        after_s2_check: bool,
    ) -> Result<SigningResponse> {
        let fault = if after_s2_check {
            Fault::S2AfterCheck
        } else {
            Fault::S2
        };
        self.complete_inner(rng, request, partial, now, fault)
    }

    fn complete_inner<R: CryptoRng>(
        &self,
        rng: &mut R,
        request: &SigningRequest,
        partial: &SealedPartialSignature,
        now: u64,
        fault: Fault,
    ) -> Result<SigningResponse> {
        if partial.key_id != request.key_id || partial.request_id != request.request_id {
            return Err(Error::InvalidRequest(
                "the partial signature answers another request",
            ));
        }
        // Opening needs no key state: a tampered message is refused before anything is charged
        // (it proves nothing about the PIN).
        let plaintext = self
            .transport
            .open(&partial.sealed, &request.partial_aad())?;
        // Malformed plaintext (header, y not of a supported size) is refused before anything
        // is charged; |y| = |n1|/8 and y < n1 need the key and are checked after the charge.
        let (otp, y_bytes) = decode_partial(plaintext.as_bytes())?;
        let answer = self.state.complete_signature(
            &request.key_id,
            &request.request_id,
            &otp,
            now,
            rng,
            |share: &ServerShare| {
                if y_bytes.len() != share.n1_size().bytes() {
                    return Err(Error::Decode(DecodeError::new(
                        "y",
                        DecodeErrorKind::Invalid,
                    )));
                }
                let y = Uint::from_be_bytes(y_bytes);
                // DECLASSIFY: y >= n1 is malformed input from the device, refused (and
                // counted as an attempt, like any other invalid y).
                if !bool::from(y.ct_lt(share.n1().modulus())) {
                    return Err(Error::Decode(DecodeError::new(
                        "y",
                        DecodeErrorKind::OutOfRange,
                    )));
                }
                let n_bits = share.n().modulus().bits_vartime();
                let em = zeroize::Zeroizing::new(request.encoded_message(n_bits)?);
                let m = Uint::from_be_bytes(&em);
                let key = share.completion_key();
                match server_complete(&key, &y, &m, fault) {
                    Ok(s) => {
                        let (bytes, _) = s.to_be_bytes(n_bits.div_ceil(8));
                        Ok(bytes.to_vec())
                    }
                    Err(CompletionFailure::WrongShare) => Err(Error::SigningFailed),
                    Err(CompletionFailure::Fault) => Err(Error::Fault),
                }
            },
        )?;
        Ok(SigningResponse {
            key_id: request.key_id,
            request_id: request.request_id,
            signature: answer.signature().to_vec(),
            next_otp: *answer.next_otp().as_bytes(),
        })
    }

    /// Closes a key at its owner's request (SPEC §7): the share is wiped.
    ///
    /// # Errors
    /// Store errors.
    pub fn close(&self, key_id: &KeyId, now: u64) -> Result<()> {
        self.state.close_key(key_id, now)
    }
}

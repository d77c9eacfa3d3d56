//! The protocol's messages (SPEC §3, §4) and their canonical encodings (SPEC §9).
//!
//! Each message is a type with `to_bytes`/`from_bytes`; the byte layouts are in
//! `docs/encodings.md`. Messages that carry a secret (d1'' at registration, otp and y when
//! signing) carry it only inside an HPKE [`SealedMessage`] to the server (SPEC §6); their
//! associated data binds the message's public fields, so a sealed part cannot be moved to
//! another message. Every answer of the server travels as a [`SealedResponse`], sealed under
//! the response key of the message it answers (SPEC §6), so only the real server can answer and
//! only the device that sent the message can read the answer.
//!
//! | message | direction | SPEC |
//! |---|---|---|
//! | [`RegistrationChallenge`] | server → device | §3.0 |
//! | [`RegistrationRequest`] | device → server | §3.4 |
//! | [`SealedResponse`] with a registration result | server → device | §3.6 |
//! | [`SigningRequest`] | server → device | §4.1 |
//! | [`SealedPartialSignature`] | device → server | §4.4 |
//! | [`SealedResponse`] with an [`Outcome`] | server → device | §4.5 |

use crate::error::RequestError;
use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::device::pin::KeyPurpose;
use crate::error::{DecodeErrorKind, Error, Result, decode_err};
use crate::rsa::hash::HashAlg;
use crate::rsa::keygen::KeySize;
use crate::rsa::padding::Scheme;
use crate::server::otp::{OTP_LEN, Otp};
use crate::server::store::CHALLENGE_LEN;
use crate::server::transport::{ENC_LEN, RESPONSE_NONCE_LEN, SealedMessage, TAG_LEN};
use crate::wire::encoding::{HEADER_LEN, MessageType, Reader, Writer};
use crate::wire::hex::Hex;
use crate::wire::ids::{KeyId, RequestId};

/// The largest signature, in bytes (8192 bits).
pub(crate) const MAX_SIGNATURE_BYTES: usize = 1024;
/// The largest HPKE ciphertext inside a message: the registration secret for a 4096-bit n1
/// (header 6 + size 2 + n1 512 + d1'' 512, plus the 16-byte tag).
const MAX_SEALED_CIPHERTEXT: usize = HEADER_LEN + 2 + 2 * 512 + TAG_LEN;
/// The largest digest or PSS salt (SHA-512).
const MAX_DIGEST: usize = 64;

/// Whether `bytes` is the length of a composite modulus `n = n1·n2` (and so of a signature):
/// the sum of two supported half lengths of the same class (test or production, SPEC §2).
pub(crate) fn is_composite_len(bytes: usize) -> bool {
    const HALVES: [usize; 6] = [64, 96, 128, 256, 384, 512];
    HALVES.iter().any(|&a| {
        bytes
            .checked_sub(a)
            .and_then(KeySize::from_bytes_any)
            .zip(KeySize::from_bytes_any(a))
            .is_some_and(|(x, y)| x.is_insecure_test_size() == y.is_insecure_test_size())
    })
}

/// Reads a half-modulus (n1 or n2): a 2-byte length that is a supported size in bytes
/// (`KeySize::from_bytes_any`, else `OutOfRange`), then that many bytes with the top bit set (the size is
/// exact, SPEC §2; else `NonCanonical`) and the low bit set (else `Invalid`).
pub(crate) fn read_half_modulus<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8]> {
    let len = usize::from(r.u16(field)?);
    if KeySize::from_bytes_any(len).is_none() {
        return Err(decode_err(field, DecodeErrorKind::OutOfRange));
    }
    let n = r.take(len, field)?;
    if n.first().is_none_or(|b| b & 0x80 == 0) {
        return Err(decode_err(field, DecodeErrorKind::NonCanonical));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(decode_err(field, DecodeErrorKind::Invalid));
    }
    Ok(n)
}

fn write_half_modulus(w: &mut Writer, n: &[u8]) {
    // Lengths are bounded by 512 at construction.
    w.u16(n.len() as u16).fixed(n);
}

fn write_sealed(w: &mut Writer, s: &SealedMessage) {
    w.fixed(s.enc()).var(s.ciphertext());
}

/// Reads a sealed part: `enc` (32 bytes), then the ciphertext with a 4-byte length of at most
/// [`MAX_SEALED_CIPHERTEXT`] that `len_ok` accepts (the plaintext's length is fixed by the
/// message, so the ciphertext's is too; else `Invalid`).
fn read_sealed(r: &mut Reader<'_>, len_ok: impl Fn(usize) -> bool) -> Result<SealedMessage> {
    let enc = r.take(ENC_LEN, "sealed.enc")?;
    let ct = r.var("sealed.ciphertext", MAX_SEALED_CIPHERTEXT)?;
    if !len_ok(ct.len()) {
        return Err(decode_err("sealed.ciphertext", DecodeErrorKind::Invalid));
    }
    let mut bytes = Vec::with_capacity(ENC_LEN + ct.len());
    bytes.extend_from_slice(enc);
    bytes.extend_from_slice(ct);
    SealedMessage::from_bytes(&bytes)
}

/// Length of the sealed registration secret for an n1 of `k1` bytes: header, 2-byte size,
/// n1 and d1'' (`k1` bytes each), tag.
const fn registration_ciphertext_len(k1: usize) -> usize {
    HEADER_LEN + 2 + 2 * k1 + TAG_LEN
}

/// Length of the plaintext of a partial signature before y: header, OTP, y's length.
const PARTIAL_PREFIX_LEN: usize = HEADER_LEN + OTP_LEN + 2;

fn scheme_tags(s: Scheme) -> (u8, u8) {
    let h = match s.hash() {
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    };
    match s {
        Scheme::Pkcs1v15(_) => (1, h),
        Scheme::Pss(_) => (2, h),
    }
}

fn scheme_from_tags(scheme: u8, hash: u8) -> Result<Scheme> {
    let h = match hash {
        1 => HashAlg::Sha256,
        2 => HashAlg::Sha384,
        3 => HashAlg::Sha512,
        _ => return Err(decode_err("hash", DecodeErrorKind::UnknownTag)),
    };
    match scheme {
        1 => Ok(Scheme::Pkcs1v15(h)),
        2 => Ok(Scheme::Pss(h)),
        _ => Err(decode_err("scheme", DecodeErrorKind::UnknownTag)),
    }
}

/// A registration challenge (SPEC §3.0): 16 random bytes and an expiry time, authenticated by
/// the server (HMAC-SHA256 under a key derived from its transport key), so that it can later
/// recognise the challenge as its own and unexpired without storing it. The key store makes
/// each challenge single use (SPEC §3.5).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationChallenge {
    pub(crate) challenge: [u8; CHALLENGE_LEN],
    pub(crate) expires_at: u64,
    pub(crate) tag: [u8; 32],
}

impl RegistrationChallenge {
    /// The challenge's random bytes.
    pub fn challenge(&self) -> &[u8; CHALLENGE_LEN] {
        &self.challenge
    }

    /// When it expires (seconds since the Unix epoch).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// The bytes the tag authenticates: header, challenge, expiry.
    pub(crate) fn tagged_bytes(challenge: &[u8; CHALLENGE_LEN], expires_at: u64) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationChallenge);
        w.fixed(challenge).u64(expires_at);
        w.finish_public()
    }

    fn write_fields(&self, w: &mut Writer) {
        w.fixed(&self.challenge)
            .u64(self.expires_at)
            .fixed(&self.tag);
    }

    fn read_fields(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Self {
            challenge: r.array("challenge")?,
            expires_at: r.u64("challenge.expires_at")?,
            tag: r.array("challenge.tag")?,
        })
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationChallenge);
        self.write_fields(&mut w);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::RegistrationChallenge)?;
        let c = Self::read_fields(&mut r)?;
        r.finish()?;
        Ok(c)
    }
}

impl fmt::Debug for RegistrationChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationChallenge")
            .field("challenge", &Hex(&self.challenge))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Device → server at registration (SPEC §3 step 4): the server's challenge, the key's
/// purpose, the device modulus n1, and `{n1, d1''}` sealed to the server with the challenge,
/// the purpose and n1 as associated data.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub(crate) challenge: RegistrationChallenge,
    pub(crate) purpose: KeyPurpose,
    pub(crate) n1: Vec<u8>,
    pub(crate) sealed: SealedMessage,
}

impl RegistrationRequest {
    /// The challenge this registration answers.
    pub fn challenge(&self) -> &RegistrationChallenge {
        &self.challenge
    }

    /// The key's purpose.
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The device modulus n1, big-endian, exactly |n1|/8 bytes.
    pub fn n1(&self) -> &[u8] {
        &self.n1
    }

    fn write_public(
        w: &mut Writer,
        challenge: &RegistrationChallenge,
        purpose: KeyPurpose,
        n1: &[u8],
    ) {
        challenge.write_fields(w);
        w.u8(purpose.tag());
        write_half_modulus(w, n1);
    }

    /// The associated data (SPEC §3 step 4, §6) that binds the sealed d1'' to this request's
    /// public fields: the encoding of everything before the sealed part.
    pub(crate) fn aad(
        challenge: &RegistrationChallenge,
        purpose: KeyPurpose,
        n1: &[u8],
    ) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationRequest);
        Self::write_public(&mut w, challenge, purpose, n1);
        w.finish_public()
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationRequest);
        Self::write_public(&mut w, &self.challenge, self.purpose, &self.n1);
        write_sealed(&mut w, &self.sealed);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::RegistrationRequest)?;
        let challenge = RegistrationChallenge::read_fields(&mut r)?;
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(decode_err("purpose", DecodeErrorKind::UnknownTag))?;
        let n1 = read_half_modulus(&mut r, "n1")?.to_vec();
        let k1 = n1.len();
        let sealed = read_sealed(&mut r, |len| len == registration_ciphertext_len(k1))?;
        r.finish()?;
        Ok(Self {
            challenge,
            purpose,
            n1,
            sealed,
        })
    }
}

impl fmt::Debug for RegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationRequest")
            .field("challenge", &self.challenge)
            .field("purpose", &self.purpose)
            .field("n1_bits", &(self.n1.len() * 8))
            .finish_non_exhaustive()
    }
}

/// The plaintext of the server's answer to a registration (SPEC §3 step 6): the key id, the
/// server modulus n2 and the first one-time password. It travels only inside a
/// [`SealedResponse`]; the OTP is a secret, so the encoding is a wiping buffer.
pub(crate) struct RegistrationResult {
    pub(crate) key_id: KeyId,
    pub(crate) n2: Vec<u8>,
    pub(crate) otp: Otp,
}

impl RegistrationResult {
    /// The canonical encoding (SPEC §9), in a wiping buffer.
    pub(crate) fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut w = Writer::with_capacity(
            MessageType::RegistrationResponse,
            16 + 2 + self.n2.len() + OTP_LEN,
        );
        w.fixed(self.key_id.as_bytes());
        write_half_modulus(&mut w, &self.n2);
        w.fixed(self.otp.as_bytes());
        w.finish()
    }

    /// Strict decoding (SPEC §9).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::RegistrationResponse)?;
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let n2 = read_half_modulus(&mut r, "n2")?.to_vec();
        let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
        r.finish()?;
        Ok(Self { key_id, n2, otp })
    }
}

/// What a [`SealedResponse`] answers: a registration or a signing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseKind {
    /// The answer to a [`RegistrationRequest`]; its request id is the registration challenge.
    Registration,
    /// The answer to a [`SealedPartialSignature`].
    Signing,
}

impl ResponseKind {
    const fn tag(self) -> u8 {
        match self {
            ResponseKind::Registration => 1,
            ResponseKind::Signing => 2,
        }
    }
}

/// Server → device: an answer sealed under the response key of the message it answers
/// (SPEC §6; ChaCha20-Poly1305 with a random nonce; associated data: the header, the kind,
/// the key id and the request id, which travel in the clear). Only the device that sent the
/// message can open it, and nobody but the server can make one that opens: a corrupted or
/// forged answer is ignored by the device (SPEC §4.6).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedResponse {
    pub(crate) kind: ResponseKind,
    pub(crate) key_id: KeyId,
    pub(crate) request_id: RequestId,
    pub(crate) sealed: Vec<u8>,
}

/// The largest sealed answer: nonce, a Completed outcome with the largest signature, tag.
const MAX_SEALED_RESPONSE: usize =
    RESPONSE_NONCE_LEN + HEADER_LEN + 1 + 4 + MAX_SIGNATURE_BYTES + OTP_LEN + TAG_LEN;
/// The smallest: nonce, header, tag.
const MIN_SEALED_RESPONSE: usize = RESPONSE_NONCE_LEN + HEADER_LEN + TAG_LEN;

impl SealedResponse {
    /// A sealed answer from its parts (the sealed bytes as they are; an answer that was not
    /// sealed under the device's response key does not open there). For stores, transports
    /// and the model checker.
    pub fn from_parts(
        kind: ResponseKind,
        key_id: KeyId,
        request_id: RequestId,
        sealed: Vec<u8>,
    ) -> Self {
        Self {
            kind,
            key_id,
            request_id,
            sealed,
        }
    }

    /// What it answers.
    pub fn kind(&self) -> ResponseKind {
        self.kind
    }

    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id it answers (for a registration: the challenge's bytes).
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The associated data of the sealed part.
    pub(crate) fn aad(kind: ResponseKind, key_id: &KeyId, request_id: &RequestId) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedResponse);
        w.u8(kind.tag())
            .fixed(key_id.as_bytes())
            .fixed(request_id.as_bytes());
        w.finish_public()
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedResponse);
        w.u8(self.kind.tag())
            .fixed(self.key_id.as_bytes())
            .fixed(self.request_id.as_bytes())
            .var(&self.sealed);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SealedResponse)?;
        let kind = match r.u8("kind")? {
            1 => ResponseKind::Registration,
            2 => ResponseKind::Signing,
            _ => return Err(decode_err("kind", DecodeErrorKind::UnknownTag)),
        };
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let request_id = RequestId::from_bytes(r.array("request_id")?);
        let sealed = r.var("sealed", MAX_SEALED_RESPONSE)?;
        if sealed.len() < MIN_SEALED_RESPONSE {
            return Err(decode_err("sealed", DecodeErrorKind::Truncated));
        }
        let sealed = sealed.to_vec();
        r.finish()?;
        Ok(Self {
            kind,
            key_id,
            request_id,
            sealed,
        })
    }
}

impl fmt::Debug for SealedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedResponse")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("request_id", &self.request_id)
            .field("sealed_len", &self.sealed.len())
            .finish()
    }
}

/// What the server says about one signing message (SPEC §4.5). Public: it carries no secret
/// (the next one-time password of a completed signature travels beside it, inside the sealed
/// answer only).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The signature is complete (k bytes, big-endian). The device verifies it, stores the
    /// next one-time password and leaves the pending state.
    Completed {
        /// The RSA signature under the composite key.
        signature: Vec<u8>,
    },
    /// The PIN was wrong; the attempt is counted (SPEC §7). The request stays pending, so the
    /// user may try again with a new message.
    WrongPin {
        /// Wrong PINs still allowed before the key is destroyed.
        attempts_left: u32,
        /// If the key is locked now: until when (seconds since the Unix epoch).
        locked_until: Option<u64>,
    },
    /// The message does not answer the key's pending request (another request replaced it, it
    /// expired, it was completed, or the message is a replay). Nothing was charged.
    NotPending,
    /// The key is locked; nothing was evaluated or charged. Not final: the device keeps the
    /// exchange pending and resends after the lock. `until` is `None` while earlier charged
    /// evaluations are unresolved at the destroy threshold (a resend of those messages
    /// resolves them).
    Locked {
        /// When the lock ends (seconds since the Unix epoch), if it has an end.
        until: Option<u64>,
    },
    /// The key is destroyed (9 wrong PINs, a clone, or closed by its owner).
    Destroyed,
    /// The key expired.
    Expired,
    /// A valid partial signature came with the previous one-time password: a second copy of
    /// the device share is in use. The key has been destroyed (SPEC §1 (c)).
    CloneDetected,
    /// The one-time password is neither the current nor the previous one: the message comes
    /// from an old copy of the device record. Nothing was charged or evaluated.
    StaleRecord,
}

impl Outcome {
    /// The signature of a completed outcome, or the error that says what the server answered
    /// instead (for code that wants a `Result`, e.g. a signer closure): WrongPin →
    /// [`Error::WrongPin`], Locked → [`Error::KeyLocked`], NotPending → [`Error::NotPending`],
    /// Destroyed → [`Error::KeyDestroyed`], Expired → [`Error::KeyExpired`], CloneDetected →
    /// [`Error::CloneDetected`], StaleRecord → [`Error::KeyDead`].
    ///
    /// # Errors
    /// As above, for every outcome but Completed.
    pub fn into_signature(self) -> Result<Vec<u8>> {
        match self {
            Outcome::Completed { signature } => Ok(signature),
            Outcome::WrongPin {
                attempts_left,
                locked_until,
            } => Err(Error::WrongPin {
                attempts_left,
                locked_until,
            }),
            Outcome::Locked { until } => Err(Error::KeyLocked { until }),
            Outcome::NotPending => Err(Error::NotPending),
            Outcome::Destroyed => Err(Error::KeyDestroyed),
            Outcome::Expired => Err(Error::KeyExpired),
            Outcome::CloneDetected => Err(Error::CloneDetected),
            Outcome::StaleRecord => Err(Error::KeyDead),
        }
    }

    /// Whether the key is dead after this answer (SPEC §4.6).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Outcome::Destroyed | Outcome::Expired | Outcome::CloneDetected | Outcome::StaleRecord
        )
    }
}

pub(crate) fn write_opt_u64(w: &mut Writer, v: Option<u64>) {
    match v {
        Some(t) => w.u8(1).u64(t),
        None => w.u8(0),
    };
}

pub(crate) fn read_opt_u64(r: &mut Reader<'_>, field: &'static str) -> Result<Option<u64>> {
    Ok(if r.bool(field)? {
        Some(r.u64(field)?)
    } else {
        None
    })
}

/// The plaintext of a sealed signing answer (SPEC §4.5): the outcome and, for a completed
/// signature, the next one-time password. Secret while it holds an OTP.
pub(crate) struct SigningAnswer {
    pub(crate) outcome: Outcome,
    pub(crate) next_otp: Option<Otp>,
}

/// Writes an outcome: a tag, then its fields (a Completed signature with a 4-byte length).
pub(crate) fn write_outcome(w: &mut Writer, outcome: &Outcome) {
    match outcome {
        Outcome::Completed { signature } => {
            w.u8(1).var(signature);
        }
        Outcome::WrongPin {
            attempts_left,
            locked_until,
        } => {
            w.u8(2).u32(*attempts_left);
            write_opt_u64(w, *locked_until);
        }
        Outcome::NotPending => {
            w.u8(3);
        }
        Outcome::Locked { until } => {
            w.u8(4);
            write_opt_u64(w, *until);
        }
        Outcome::Destroyed => {
            w.u8(5);
        }
        Outcome::Expired => {
            w.u8(6);
        }
        Outcome::CloneDetected => {
            w.u8(7);
        }
        Outcome::StaleRecord => {
            w.u8(8);
        }
    }
}

/// Reads what [`write_outcome`] wrote. A Completed signature must have the length of a
/// composite modulus of supported sizes.
pub(crate) fn read_outcome(r: &mut Reader<'_>) -> Result<Outcome> {
    Ok(match r.u8("outcome")? {
        1 => {
            let signature = r.var("signature", MAX_SIGNATURE_BYTES)?;
            if !is_composite_len(signature.len()) {
                return Err(decode_err("signature", DecodeErrorKind::Invalid));
            }
            Outcome::Completed {
                signature: signature.to_vec(),
            }
        }
        2 => Outcome::WrongPin {
            attempts_left: r.u32("attempts_left")?,
            locked_until: read_opt_u64(r, "locked_until")?,
        },
        3 => Outcome::NotPending,
        4 => Outcome::Locked {
            until: read_opt_u64(r, "until")?,
        },
        5 => Outcome::Destroyed,
        6 => Outcome::Expired,
        7 => Outcome::CloneDetected,
        8 => Outcome::StaleRecord,
        _ => return Err(decode_err("outcome", DecodeErrorKind::UnknownTag)),
    })
}

impl SigningAnswer {
    /// The canonical encoding (SPEC §9): the outcome, then for a Completed outcome the next
    /// OTP; in a wiping buffer of its exact size.
    pub(crate) fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let sig_len = match &self.outcome {
            Outcome::Completed { signature } => signature.len(),
            _ => 0,
        };
        let mut w =
            Writer::with_capacity(MessageType::SigningAnswer, 1 + 4 + sig_len + OTP_LEN + 9);
        write_outcome(&mut w, &self.outcome);
        if let Outcome::Completed { .. } = self.outcome {
            let otp = self
                .next_otp
                .as_ref()
                .map_or(&[0u8; OTP_LEN], Otp::as_bytes);
            w.fixed(otp);
        }
        w.finish()
    }

    /// Strict decoding (SPEC §9); the device checks a Completed signature against its key
    /// (and verifies it) before storing anything.
    pub(crate) fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SigningAnswer)?;
        let outcome = read_outcome(&mut r)?;
        let next_otp = match outcome {
            Outcome::Completed { .. } => Some(Otp::from_bytes(r.array::<OTP_LEN>("next_otp")?)),
            _ => None,
        };
        r.finish()?;
        Ok(Self { outcome, next_otp })
    }
}

/// What the server asks the device to sign (SPEC §4 step 1), created by the server
/// ([`Server::create_request`](crate::Server::create_request)) and held as the key's pending
/// request: the key, a fresh request id, the purpose the key must have, the scheme and hash,
/// the digest, for PSS the salt the server chose, and when the request expires.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningRequest {
    pub(crate) key_id: KeyId,
    pub(crate) request_id: RequestId,
    pub(crate) purpose: KeyPurpose,
    pub(crate) scheme: Scheme,
    pub(crate) digest: Vec<u8>,
    pub(crate) pss_salt: Vec<u8>,
    pub(crate) expires_at: u64,
}

impl SigningRequest {
    /// A new request with a random request id and, for PSS, a random salt as long as the hash
    /// (SPEC §4 step 1; the salt is EMSA-PSS's `salt`, RFC 8017 §9.1.1 step 4, chosen here so
    /// that both parties encode the same `EM`, SPEC §4 step 2). Only the server makes
    /// requests that count ([`Server::create_request`](crate::Server::create_request) stores
    /// it as the key's pending request); this constructor is for the server and for tests.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if the digest's length is not the hash's.
    pub(crate) fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        key_id: KeyId,
        purpose: KeyPurpose,
        scheme: Scheme,
        digest: &[u8],
        expires_at: u64,
    ) -> Result<Self> {
        let request_id = RequestId::random(rng);
        let mut pss_salt = vec![0u8; scheme.salt_len()];
        rng.fill_bytes(&mut pss_salt);
        Self::from_parts(
            key_id, request_id, purpose, scheme, digest, &pss_salt, expires_at,
        )
    }

    /// A request from its parts, checked as the decoder checks them (digest and salt
    /// lengths). Only [`Server::create_request`](crate::Server::create_request) makes a request
    /// *pending*; a request built here counts for nothing until a server holds it (this is for
    /// the model checker and for tests).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] for a digest or salt of the wrong length.
    pub fn from_parts(
        key_id: KeyId,
        request_id: RequestId,
        purpose: KeyPurpose,
        scheme: Scheme,
        digest: &[u8],
        pss_salt: &[u8],
        expires_at: u64,
    ) -> Result<Self> {
        scheme.hash().check_digest(digest)?;
        if pss_salt.len() != scheme.salt_len() {
            return Err(Error::InvalidRequest(RequestError::SaltLength));
        }
        Ok(Self {
            key_id,
            request_id,
            purpose,
            scheme,
            digest: digest.to_vec(),
            pss_salt: pss_salt.to_vec(),
            expires_at,
        })
    }

    /// The key that is to sign.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The purpose the key must have (PIN1 authentication or PIN2 signing).
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The signature scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The digest to sign.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The PSS salt (empty for PKCS#1 v1.5).
    pub fn pss_salt(&self) -> &[u8] {
        &self.pss_salt
    }

    /// When the server stops accepting answers to it (seconds since the Unix epoch).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// SHA-256 of the request's encoding: what the partial signature and the server's pending
    /// request name it by (SPEC §4.1, §4.4).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// SPEC §4 step 2: EM = EMSA-ENCODE(digest) for a modulus of `mod_bits` bits, k bytes.
    pub(crate) fn encoded_message(&self, mod_bits: usize) -> Result<Vec<u8>> {
        crate::rsa::padding::encode(self.scheme, &self.digest, &self.pss_salt, mod_bits)
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (s, h) = scheme_tags(self.scheme);
        let mut w = Writer::new(MessageType::SigningRequest);
        w.fixed(self.key_id.as_bytes())
            .fixed(self.request_id.as_bytes())
            .u8(self.purpose.tag())
            .u8(s)
            .u8(h);
        w.var(&self.digest).var(&self.pss_salt).u64(self.expires_at);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9): the digest must be as long as the hash, the salt as long as
    /// the hash for PSS and empty for PKCS#1 v1.5.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SigningRequest)?;
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let request_id = RequestId::from_bytes(r.array("request_id")?);
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(decode_err("purpose", DecodeErrorKind::UnknownTag))?;
        let s = r.u8("scheme")?;
        let h = r.u8("hash")?;
        let scheme = scheme_from_tags(s, h)?;
        let digest = r.var("digest", MAX_DIGEST)?;
        if digest.len() != scheme.hash().output_len() {
            return Err(decode_err("digest", DecodeErrorKind::Invalid));
        }
        let salt = r.var("pss_salt", MAX_DIGEST)?;
        if salt.len() != scheme.salt_len() {
            return Err(decode_err("pss_salt", DecodeErrorKind::Invalid));
        }
        let expires_at = r.u64("expires_at")?;
        r.finish()?;
        Ok(Self {
            key_id,
            request_id,
            purpose,
            scheme,
            digest: digest.to_vec(),
            pss_salt: salt.to_vec(),
            expires_at,
        })
    }
}

impl fmt::Debug for SigningRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningRequest")
            .field("key_id", &self.key_id)
            .field("request_id", &self.request_id)
            .field("purpose", &self.purpose)
            .field("scheme", &self.scheme)
            .field("digest", &Hex(&self.digest))
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Device → server when signing (SPEC §4 step 4): the key id, the request id and SHA-256 of
/// the request's encoding in the clear, and `{ otp, y }` sealed to the server with the clear
/// fields bound in as associated data.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPartialSignature {
    pub(crate) key_id: KeyId,
    pub(crate) request_id: RequestId,
    pub(crate) request_hash: [u8; 32],
    pub(crate) sealed: SealedMessage,
}

impl SealedPartialSignature {
    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id.
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// SHA-256 of the encoding of the request it answers.
    pub fn request_hash(&self) -> &[u8; 32] {
        &self.request_hash
    }

    /// The associated data binding the sealed part to the clear fields (SPEC §6).
    pub(crate) fn aad(key_id: &KeyId, request_id: &RequestId, request_hash: &[u8; 32]) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedPartialSignature);
        w.fixed(key_id.as_bytes())
            .fixed(request_id.as_bytes())
            .fixed(request_hash);
        w.finish_public()
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedPartialSignature);
        w.fixed(self.key_id.as_bytes())
            .fixed(self.request_id.as_bytes())
            .fixed(&self.request_hash);
        write_sealed(&mut w, &self.sealed);
        w.finish_public()
    }

    /// SHA-256 of the canonical encoding: the message's identity for resends (SPEC §4.5 b).
    pub fn hash(&self) -> [u8; 32] {
        Sha256::digest(self.to_bytes()).into()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SealedPartialSignature)?;
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let request_id = RequestId::from_bytes(r.array("request_id")?);
        let request_hash = r.array("request_hash")?;
        let sealed = read_sealed(&mut r, |len| {
            len.checked_sub(PARTIAL_PREFIX_LEN + TAG_LEN)
                .and_then(KeySize::from_bytes_any)
                .is_some()
        })?;
        r.finish()?;
        Ok(Self {
            key_id,
            request_id,
            request_hash,
            sealed,
        })
    }
}

impl fmt::Debug for SealedPartialSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedPartialSignature")
            .field("key_id", &self.key_id)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// The plaintext inside a [`SealedPartialSignature`]: the current one-time password, then
/// `y = m^d1' mod n1` as exactly |n1|/8 bytes with a 2-byte length. As secret as the PIN
/// (SPEC §4): never logged.
pub(crate) fn encode_partial(otp: &Otp, y: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut w = Writer::with_capacity(MessageType::PartialSignature, OTP_LEN + 2 + y.len());
    // |y| = |n1|/8 <= 512.
    w.fixed(otp.as_bytes()).u16(y.len() as u16).fixed(y);
    w.finish()
}

/// Decodes the plaintext of a partial signature (SPEC §4 step 4, §9): header, OTP, y's
/// 2-byte length (a supported half-modulus size, else `y` `OutOfRange`) and y. The checks that
/// need the key, `|y| = |n1|/8` and `y < n1`, are the server's.
pub(crate) fn decode_partial(bytes: &[u8]) -> Result<(Otp, &[u8])> {
    let mut r = Reader::new(bytes, MessageType::PartialSignature)?;
    let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
    let y_len = usize::from(r.u16("y")?);
    if KeySize::from_bytes_any(y_len).is_none() {
        return Err(decode_err("y", DecodeErrorKind::OutOfRange));
    }
    let y = r.take(y_len, "y")?;
    r.finish()?;
    Ok((otp, y))
}

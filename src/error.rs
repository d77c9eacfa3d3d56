//! The crate's one error type (STYLE.md rule 5).
//!
//! Failures that depend on a secret carry no detail about it, so an error can never serve as
//! an oracle: a failed share check is [`Error::SigningFailed`] inside the crate and reaches
//! the device as the protocol's [`Error::WrongPin`] answer (SPEC §4.5: attempts left, lock
//! time), a failed check of the server's own computation is the bare [`Error::Fault`], and
//! neither says which value or how it was wrong. Errors about malformed *public* input say
//! exactly what was wrong and whose fault it is.

use core::fmt;

/// Everything that can go wrong in split-rsa.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A private-key operation did not produce a valid signature: the share check
    /// `s1^e = m (mod n1)` failed (wrong PIN, wrong or tampered share). Deliberately carries no
    /// detail (SPEC §4.5). [`Server::complete`](crate::Server::complete) answers it as
    /// [`Error::WrongPin`]; the `hazmat` functions return it as is.
    SigningFailed,
    /// A check of the server's own computation failed (a fault: s2^e != m mod n2, or
    /// s^e != m mod n). Nothing was released (SPEC §4.5, STYLE.md rule 6).
    Fault,
    /// A signature did not verify under the given public key.
    InvalidSignature,
    /// A key (built here or imported) failed one of the SPEC §2 checks.
    InvalidKey(KeyError),
    /// A PIN does not meet the PIN policy (SPEC §5).
    InvalidPin(PinError),
    /// Bytes could not be decoded (SPEC §9): which field, and what was wrong.
    Decode(DecodeError),
    /// A call's arguments are inconsistent: what was wrong, as a [`RequestError`].
    InvalidRequest(RequestError),
    /// The message is too long for the modulus (RFC 8017 "intended encoded message length too
    /// short").
    MessageTooLong,
    /// HPKE opening failed: the ciphertext or its associated data was tampered with, or it was
    /// not sealed to this key (SPEC §6).
    Unseal,
    /// The key is locked after too many wrong PINs until the given time (seconds since the Unix
    /// epoch) (SPEC §7).
    KeyLocked {
        /// When the lock ends (seconds since the Unix epoch); `None` while a charged
        /// evaluation at the destroy threshold is unresolved (SPEC §4.5 e).
        until: Option<u64>,
    },
    /// The key has been destroyed (SPEC §7).
    KeyDestroyed,
    /// The key has expired (SPEC §7).
    KeyExpired,
    /// The PIN was wrong; the attempt was counted (SPEC §4.5, §7).
    WrongPin {
        /// Wrong PINs still allowed before the key is destroyed.
        attempts_left: u32,
        /// If this failure locked the key: until when (seconds since the Unix epoch).
        locked_until: Option<u64>,
    },
    /// A valid partial signature arrived with a stale one-time password: the device share was
    /// cloned. The key has been destroyed (SPEC §4.5, §7).
    CloneDetected,
    /// The key store failed or a compare-and-swap lost a race (SPEC §7).
    Store(StoreError),
    /// Prime generation found no prime within its budget of candidates (SPEC §2). With a
    /// working random number generator this does not happen (the budget is far above the
    /// expected number of candidates); it signals a broken or exhausted RNG.
    NoPrimeFound,
    /// The key-encryption key protecting shares at rest failed (SPEC §7).
    Kek(KekError),
    /// A registration for an n1 that was registered before (SPEC §3.5): a replayed or
    /// repeated registration. Nothing was created.
    AlreadyRegistered,
    /// A registration challenge that this server did not issue, that expired, or that was
    /// already used (SPEC §3.0, §3.5). Nothing was created.
    InvalidChallenge(ChallengeError),
    /// The device record holds an exchange that is not resolved yet: resend it and accept the
    /// answer first (SPEC §4.3, §10).
    ExchangePending,
    /// There is no pending exchange to resend or accept.
    NoPendingExchange,
    /// The server answered that the message does not answer the key's pending request
    /// ([`Outcome::NotPending`](crate::Outcome::NotPending)): replaced, expired or completed.
    NotPending,
    /// The server answered that the key is dead (destroyed, expired, a clone, or a stale
    /// record); the device record can no longer sign (SPEC §4.6).
    KeyDead,
}

/// What was inconsistent in a call's arguments ([`Error::InvalidRequest`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// A digest whose length is not its hash function's.
    DigestLength,
    /// A PSS salt that is not as long as the hash, or a salt for PKCS#1 v1.5.
    SaltLength,
    /// An MGF1 mask longer than the RFC 8017 limit.
    MaskTooLong,
    /// A request, PIN or record for another key.
    OtherKey,
    /// A request or PIN for another purpose than the key's (PIN1 authentication vs PIN2
    /// signing).
    OtherPurpose,
    /// A request that expires no later than now.
    RequestExpired,
    /// A device share of a length no key size has.
    ShareLength,
    /// PIN-KDF parameters out of their bounds; names the parameter (`argon2.m_cost`, ...).
    KdfParams(&'static str),
    /// The PIN KDF's memory could not be allocated.
    KdfMemory,
    /// A plaintext too long to seal to the server.
    PlaintextTooLong,
    /// HPKE sealing or its secret export failed.
    Hpke,
    /// The server's transport public key is not a valid X25519 key.
    TransportKey,
    /// A prime size the generator does not support.
    PrimeSize,
    /// Operands whose sizes do not match the modulus, or a modulus of no supported size.
    OperandSize,
    /// A lockout or server policy out of its safe bounds.
    Policy(PolicyError),
    /// Sealing under a key-encryption key that is not the current one.
    KekNotCurrent,
    /// Adding a key-encryption key whose id is already held.
    KekIdHeld,
    /// Retiring the current key-encryption key.
    RetireCurrentKek,
}

/// Which bound a lockout or server policy broke (SPEC §7: "configurable within safe bounds").
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyError {
    /// The destroy threshold is 0 or above `LockoutPolicy::MAX_DESTROY_AT`.
    DestroyThreshold,
    /// Lock thresholds that are not strictly increasing from 1, or not below the destroy
    /// threshold.
    LockThresholds,
    /// A lock of zero seconds.
    LockDuration,
    /// A key, request or challenge lifetime of zero.
    Lifetime,
    /// Zero compare-and-swap retries.
    CasRetries,
}

/// Why a registration challenge was refused (SPEC §3.0, §3.5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeError {
    /// Its tag does not verify: this server did not issue it (or it was altered).
    Foreign,
    /// It expired.
    Expired,
    /// A key was already registered with it.
    Used,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::DigestLength => f.write_str("the digest's length is not its hash's"),
            RequestError::SaltLength => f.write_str("the PSS salt's length is not the hash's"),
            RequestError::MaskTooLong => f.write_str("the MGF1 mask is too long"),
            RequestError::OtherKey => f.write_str("it is for another key"),
            RequestError::OtherPurpose => f.write_str("it is for another purpose than the key's"),
            RequestError::RequestExpired => f.write_str("the request has expired"),
            RequestError::ShareLength => f.write_str("the device share has no supported length"),
            RequestError::KdfParams(p) => write!(f, "the PIN-KDF parameter {p} is out of bounds"),
            RequestError::KdfMemory => f.write_str("the PIN KDF's memory could not be allocated"),
            RequestError::PlaintextTooLong => f.write_str("the plaintext is too long to seal"),
            RequestError::Hpke => f.write_str("HPKE sealing failed"),
            RequestError::TransportKey => f.write_str("the transport public key is invalid"),
            RequestError::PrimeSize => f.write_str("unsupported prime size"),
            RequestError::OperandSize => f.write_str("operand sizes do not match the modulus"),
            RequestError::Policy(p) => write!(f, "policy out of bounds: {p}"),
            RequestError::KekNotCurrent => f.write_str("only the current KEK seals"),
            RequestError::KekIdHeld => f.write_str("that KEK id is already held"),
            RequestError::RetireCurrentKek => f.write_str("the current KEK cannot be retired"),
        }
    }
}

impl core::error::Error for RequestError {}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyError::DestroyThreshold => {
                "the destroy threshold must be between 1 and LockoutPolicy::MAX_DESTROY_AT"
            }
            PolicyError::LockThresholds => {
                "lock thresholds must increase strictly from 1 and stay below the destroy threshold"
            }
            PolicyError::LockDuration => "a lock must last at least one second",
            PolicyError::Lifetime => "lifetimes must be at least one second",
            PolicyError::CasRetries => "at least one compare-and-swap retry",
        })
    }
}

impl core::error::Error for PolicyError {}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChallengeError::Foreign => "not issued by this server",
            ChallengeError::Expired => "expired",
            ChallengeError::Used => "already used",
        })
    }
}

impl core::error::Error for ChallengeError {}

/// Which SPEC §2 check a key failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The modulus is even.
    EvenModulus,
    /// The modulus does not have the stated or a supported size.
    ModulusSize,
    /// The public exponent is not 65537.
    PublicExponent,
    /// gcd(n1, n2) is not 1.
    NotCoprime,
    /// n is not n1*n2.
    CompositeMismatch,
    /// A prime failed a check (gcd(e, p-1), |p-q|, primality).
    BadPrime,
}

/// Why a PIN was refused by the policy (SPEC §5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinError {
    /// A character is not a decimal digit.
    NotDigits,
    /// Too short or too long for its purpose.
    Length {
        /// Smallest allowed length.
        min: usize,
        /// Largest allowed length.
        max: usize,
    },
    /// A trivial PIN (one repeated digit, an ascending or descending run).
    Trivial,
}

/// A key-store failure (SPEC §7).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No record with that key id.
    NotFound,
    /// The record's version changed under us (compare-and-swap lost).
    Conflict,
    /// An insert would break a uniqueness constraint (SPEC §3.5); nothing was written.
    Duplicate(Uniqueness),
    /// The backing store failed; the backend's own error is the [`source`](core::error::Error::source).
    Backend(BackendError),
}

impl StoreError {
    /// A backend failure carrying the backend's own error as its source.
    pub fn backend(e: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        StoreError::Backend(BackendError(std::sync::Arc::from(e.into())))
    }
}

/// The uniqueness constraints of a key store (SPEC §3.5).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    /// The key id is taken.
    KeyId,
    /// A key was already registered with this n1 (destroyed or not).
    N1,
    /// The registration challenge was already used.
    Challenge,
}

/// An error from outside the library (a database driver, a KMS), kept as the source of a
/// [`StoreError::Backend`] or a [`KekError::Provider`]. Two are equal when they display the
/// same text.
#[derive(Clone)]
pub struct BackendError(pub std::sync::Arc<dyn core::error::Error + Send + Sync>);

impl BackendError {
    /// Wraps a backend's error.
    pub fn new(e: impl Into<Box<dyn core::error::Error + Send + Sync>>) -> Self {
        Self(std::sync::Arc::from(e.into()))
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for BackendError {}

impl core::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// A failure of the key-encryption key that protects shares at rest (SPEC §7).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KekError {
    /// The record names a KEK the provider does not hold.
    UnknownKek(u32),
    /// The sealed share did not authenticate under its KEK, key id and n1 hash: the record
    /// was altered, or moved from another key.
    NotAuthentic,
    /// The KEK provider (an HSM, a KMS) failed.
    Provider(BackendError),
}

/// What was wrong with encoded bytes (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// The field being decoded when the error was found.
    pub field: &'static str,
    /// What was wrong with it.
    pub kind: DecodeErrorKind,
}

/// The kinds of decoding failure (SPEC §9).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The input ended before the field did.
    Truncated,
    /// Bytes remain after the last field.
    TrailingBytes,
    /// The magic bytes are wrong.
    BadMagic,
    /// The format version is not supported.
    BadVersion,
    /// The message type is not the one expected.
    BadType,
    /// A length exceeds the field's maximum.
    TooLong,
    /// An integer or length is not in canonical form.
    NonCanonical,
    /// A value is out of range (e.g. y >= n1, s >= n).
    OutOfRange,
    /// An enumeration tag is unknown.
    UnknownTag,
    /// The value is otherwise invalid (e.g. PEM/DER syntax, n != n1*n2).
    Invalid,
}

impl DecodeError {
    /// Builds a decode error for `field`.
    pub const fn new(field: &'static str, kind: DecodeErrorKind) -> Self {
        Self { field, kind }
    }
}

/// A decode error for `field` (SPEC §9) as an [`Error`]: the one builder every decoder uses.
pub(crate) const fn decode_err(field: &'static str, kind: DecodeErrorKind) -> Error {
    Error::Decode(DecodeError::new(field, kind))
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::InvalidKey(e)
    }
}

impl From<PinError> for Error {
    fn from(e: PinError) -> Self {
        Error::InvalidPin(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SigningFailed => f.write_str("signing failed"),
            Error::Fault => f.write_str("fault detected; nothing released"),
            Error::InvalidSignature => f.write_str("invalid signature"),
            Error::InvalidKey(k) => write!(f, "invalid key: {k}"),
            Error::InvalidPin(p) => write!(f, "PIN refused by policy: {p}"),
            Error::Decode(d) => write!(f, "{d}"),
            Error::InvalidRequest(why) => write!(f, "invalid request: {why}"),
            Error::MessageTooLong => f.write_str("message too long for the modulus"),
            Error::Unseal => f.write_str("sealed message could not be opened"),
            Error::KeyLocked { until: Some(until) } => write!(f, "key locked until {until}"),
            Error::KeyLocked { until: None } => {
                f.write_str("key locked until an earlier attempt is resolved")
            }
            Error::KeyDestroyed => f.write_str("key destroyed"),
            Error::KeyExpired => f.write_str("key expired"),
            Error::WrongPin {
                attempts_left,
                locked_until,
            } => match locked_until {
                Some(t) => write!(
                    f,
                    "wrong PIN; {attempts_left} attempts left; locked until {t}"
                ),
                None => write!(f, "wrong PIN; {attempts_left} attempts left"),
            },
            Error::CloneDetected => f.write_str("cloned device share detected; key destroyed"),
            Error::Store(s) => write!(f, "key store: {s}"),
            Error::NoPrimeFound => f.write_str(
                "no prime found within the candidate budget (is the random number generator broken?)",
            ),
            Error::Kek(k) => write!(f, "key-encryption key: {k}"),
            Error::AlreadyRegistered => f.write_str("a key was already registered for this n1"),
            Error::InvalidChallenge(why) => write!(f, "registration challenge refused: {why}"),
            Error::ExchangePending => {
                f.write_str("an exchange is pending: resend it and accept the answer first")
            }
            Error::NoPendingExchange => f.write_str("no exchange is pending"),
            Error::NotPending => f.write_str("the server holds no such pending request"),
            Error::KeyDead => f.write_str("the server reported the key dead"),
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::InvalidKey(e) => Some(e),
            Error::InvalidPin(e) => Some(e),
            Error::InvalidRequest(e) => Some(e),
            Error::InvalidChallenge(e) => Some(e),
            Error::Decode(e) => Some(e),
            Error::Store(e) => Some(e),
            Error::Kek(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyError::EvenModulus => "the modulus is even",
            KeyError::ModulusSize => "the modulus has an unsupported size",
            KeyError::PublicExponent => "the public exponent is not 65537",
            KeyError::NotCoprime => "n1 and n2 are not coprime",
            KeyError::CompositeMismatch => "n is not n1 times n2",
            KeyError::BadPrime => "a prime failed its checks",
        })
    }
}

impl core::error::Error for KeyError {}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinError::NotDigits => f.write_str("a PIN has decimal digits only"),
            PinError::Length { min, max } => {
                write!(f, "a PIN has {min} to {max} digits")
            }
            PinError::Trivial => f.write_str("the PIN is too easy to guess"),
        }
    }
}

impl core::error::Error for PinError {}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeErrorKind::Truncated => "the input ends inside it",
            DecodeErrorKind::TrailingBytes => "bytes follow the last field",
            DecodeErrorKind::BadMagic => "wrong magic bytes",
            DecodeErrorKind::BadVersion => "unsupported format version",
            DecodeErrorKind::BadType => "wrong message type",
            DecodeErrorKind::TooLong => "longer than its maximum",
            DecodeErrorKind::NonCanonical => "not in canonical form",
            DecodeErrorKind::OutOfRange => "out of range",
            DecodeErrorKind::UnknownTag => "unknown tag",
            DecodeErrorKind::Invalid => "invalid",
        })
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode field `{}`: {}", self.field, self.kind)
    }
}

impl core::error::Error for DecodeError {}

impl fmt::Display for Uniqueness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Uniqueness::KeyId => "the key id is taken",
            Uniqueness::N1 => "a key was already registered with this n1",
            Uniqueness::Challenge => "the registration challenge was already used",
        })
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("no record with that key id"),
            StoreError::Conflict => {
                f.write_str("the record changed concurrently (compare-and-swap lost)")
            }
            StoreError::Duplicate(u) => write!(f, "not inserted: {u}"),
            StoreError::Backend(e) => write!(f, "the backend failed: {e}"),
        }
    }
}

impl core::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            StoreError::Backend(e) => Some(&*e.0),
            _ => None,
        }
    }
}

impl fmt::Display for KekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KekError::UnknownKek(id) => write!(f, "no key-encryption key with id {id}"),
            KekError::NotAuthentic => {
                f.write_str("the sealed share does not authenticate for this key")
            }
            KekError::Provider(e) => write!(f, "the key-encryption key provider failed: {e}"),
        }
    }
}

impl core::error::Error for KekError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            KekError::Provider(e) => Some(&*e.0),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T> = core::result::Result<T, Error>;

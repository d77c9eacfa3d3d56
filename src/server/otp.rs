//! One-time passwords (SPEC §7): clone detection and retransmission.
//!
//! The server issues a fresh 32-byte [`Otp`] at registration and after every successful
//! signature. It stores only [`OtpHash`] = SHA-256(OTP) of the current one and, so that a
//! device whose answer was lost can ask again, the hash of the previous one together with the
//! last completed `request_id` and the answer it got ([`LastExchange`]).
//!
//! A presented OTP is classified by [`OtpState::classify`] (SPEC §4.5):
//! - [`OtpClass::Current`]: the hash matches the current one;
//! - [`OtpClass::Retransmission`]: the hash matches the *previous* one **and** the request id
//!   is that of the last completed request;
//! - [`OtpClass::Stale`]: anything else. Combined with a valid partial signature this means a
//!   second copy of the device share is in use: a clone.
//!
//! The comparisons of hashes and request ids are constant-time (`subtle`).
//!
//! Note: the stored answer of the last exchange necessarily contains the current OTP in
//! recoverable form (it is what gets resent). A persistent store should protect it at rest.

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a one-time password in bytes (SPEC §7).
pub const OTP_LEN: usize = 32;

/// Length of a request id in bytes (SPEC §4.1).
pub const REQUEST_ID_LEN: usize = 16;

/// A one-time password (SPEC §7): 32 random bytes.
///
/// Secret: wiped on drop, hidden from `Debug`, compared in constant time. Not `Clone`: copy it
/// explicitly with [`Otp::from_bytes`]`(*otp.as_bytes())` where a copy is really needed.
pub struct Otp([u8; OTP_LEN]);

impl Otp {
    /// Draws a fresh OTP from a cryptographic RNG (SPEC §3.5, §4.5).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = [0u8; OTP_LEN];
        rng.fill_bytes(&mut bytes);
        let otp = Self(bytes);
        bytes.zeroize();
        otp
    }

    /// Wraps received bytes (e.g. the `otp` field of a PartialSignature, SPEC §4.4).
    pub const fn from_bytes(bytes: [u8; OTP_LEN]) -> Self {
        Self(bytes)
    }

    /// A copy, for the one place that needs it: the answer kept for retransmission.
    pub(crate) const fn duplicate(&self) -> Self {
        Self(self.0)
    }

    /// The bytes, for encoding into a message.
    pub const fn as_bytes(&self) -> &[u8; OTP_LEN] {
        &self.0
    }

    /// SHA-256 of the OTP: what the server stores (SPEC §7).
    pub fn hash(&self) -> OtpHash {
        OtpHash(Sha256::digest(self.0).into())
    }
}

impl ConstantTimeEq for Otp {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for Otp {
    /// Constant-time.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for Otp {}

impl Zeroize for Otp {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for Otp {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Otp {}

impl fmt::Debug for Otp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Otp(..)")
    }
}

/// SHA-256 of an [`Otp`]: the verifier the server stores (SPEC §7).
///
/// Not secret in itself (the OTP is 256 random bits), but `Debug` elides it anyway and
/// comparisons are constant-time.
#[derive(Clone, Copy)]
pub struct OtpHash([u8; 32]);

impl OtpHash {
    /// Wraps stored bytes (for a persistent key store).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The bytes, for storing.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl ConstantTimeEq for OtpHash {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl PartialEq for OtpHash {
    /// Constant-time.
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for OtpHash {}

impl fmt::Debug for OtpHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpHash(..)")
    }
}

/// How a presented OTP relates to the server's state (SPEC §4.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpClass {
    /// The current OTP: a fresh request.
    Current,
    /// The previous OTP with the request id of the last completed request: the device lost
    /// the answer and asks again.
    Retransmission,
    /// Anything else: with a valid partial signature, a cloned device share.
    Stale,
}

/// The last completed exchange, kept for retransmission (SPEC §7).
#[derive(Clone)]
pub struct LastExchange<A> {
    previous: OtpHash,
    request_id: [u8; REQUEST_ID_LEN],
    answer: A,
}

impl<A> LastExchange<A> {
    /// Rebuilds from stored parts (for a persistent key store).
    pub const fn from_parts(
        previous: OtpHash,
        request_id: [u8; REQUEST_ID_LEN],
        answer: A,
    ) -> Self {
        Self {
            previous,
            request_id,
            answer,
        }
    }

    /// Hash of the OTP that the completed request presented.
    pub const fn previous(&self) -> &OtpHash {
        &self.previous
    }

    /// The completed request's id.
    pub const fn request_id(&self) -> &[u8; REQUEST_ID_LEN] {
        &self.request_id
    }

    /// The answer it got.
    pub const fn answer(&self) -> &A {
        &self.answer
    }
}

impl<A> fmt::Debug for LastExchange<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastExchange")
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// The server's OTP state for one key (SPEC §7): the current OTP's hash and the last
/// completed exchange. `A` is the stored answer type.
#[derive(Clone)]
pub struct OtpState<A> {
    current: OtpHash,
    last: Option<LastExchange<A>>,
}

impl<A> OtpState<A> {
    /// The state right after registration: `first` is OTP_0 (SPEC §3.5), no exchange yet.
    pub fn new(first: &Otp) -> Self {
        Self {
            current: first.hash(),
            last: None,
        }
    }

    /// Rebuilds from stored parts (for a persistent key store).
    pub const fn from_parts(current: OtpHash, last: Option<LastExchange<A>>) -> Self {
        Self { current, last }
    }

    /// Hash of the current OTP.
    pub const fn current(&self) -> &OtpHash {
        &self.current
    }

    /// The last completed exchange, if any.
    pub const fn last(&self) -> Option<&LastExchange<A>> {
        self.last.as_ref()
    }

    /// Classifies a presented OTP and request id (SPEC §4.5). The hash and request-id
    /// comparisons are constant-time; only the resulting class is branched on (it decides the
    /// answer, which is public).
    pub fn classify(&self, presented: &Otp, request_id: &[u8; REQUEST_ID_LEN]) -> OtpClass {
        let h = presented.hash();
        let current = h.ct_eq(&self.current);
        let retransmission = match &self.last {
            Some(last) => h.ct_eq(&last.previous) & request_id.ct_eq(&last.request_id),
            None => Choice::from(0),
        };
        if bool::from(current) {
            OtpClass::Current
        } else if bool::from(retransmission) {
            OtpClass::Retransmission
        } else {
            OtpClass::Stale
        }
    }

    /// After a successful signature (SPEC §4 step 5, §7): the presented (current) OTP becomes
    /// the previous one,
    /// `next` becomes current, and `answer` is kept for a retransmission of `request_id`.
    pub fn rotate(&mut self, next: &Otp, request_id: [u8; REQUEST_ID_LEN], answer: A) {
        let previous = core::mem::replace(&mut self.current, next.hash());
        self.last = Some(LastExchange {
            previous,
            request_id,
            answer,
        });
    }
}

impl<A> fmt::Debug for OtpState<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtpState")
            .field("last", &self.last)
            .finish_non_exhaustive()
    }
}

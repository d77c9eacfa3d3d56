//! One-time passwords (SPEC §7): clone detection.
//!
//! The server issues a fresh 32-byte [`Otp`] at registration and after every completed
//! signature, delivered only inside answers sealed to the device (SPEC §6). It stores only
//! [`OtpHash`] = SHA-256(OTP) of the current and of the previous one, never an OTP in the
//! clear; the session rules (`crate::server::session`, SPEC §4.5 f and h) compare a presented
//! OTP's hash with both, in constant time.

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a one-time password in bytes (SPEC §7).
pub const OTP_LEN: usize = 32;

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

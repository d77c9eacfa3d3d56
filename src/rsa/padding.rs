//! RFC 8017 encoding methods for signatures (SPEC §4.1, §4.2): EMSA-PKCS1-v1_5 (§9.2) and
//! EMSA-PSS (§9.1) with MGF1 (§B.2.1).
//!
//! Both parties of a split signature compute the same encoded message `EM` from the signing
//! request (SPEC §4.2), and the verifier checks it (SPEC §4.6). The encoders take the
//! **digest** of the message (the message itself never reaches this module) and produce `EM`
//! as exactly `k = ceil(modBits/8)` big-endian bytes, ready to be read as the integer `m`.
//! In both schemes `m < 2^(modBits-1) < n`, so `m` is always a valid input to the RSA
//! primitive.
//!
//! Everything here is public data (digests, salts, encoded messages), so nothing needs to be
//! constant-time; the verification checks are nevertheless branch-free combinations of
//! [`Choice`]s and report only valid/invalid, never which check failed.

mod pkcs1v15;
mod pss;

pub use pkcs1v15::{emsa_pkcs1v15_encode, emsa_pkcs1v15_verify};
pub use pss::{emsa_pss_encode, emsa_pss_verify, mgf1};

use crate::error::RequestError;
use subtle::Choice;

use crate::arith::{LIMB_BITS, MAX_LIMBS};
use crate::error::{Error, KeyError, Result};
use crate::rsa::hash::HashAlg;

/// The largest modulus the encoders accept, in bits (the width limit of the arithmetic).
pub(crate) const MAX_MODULUS_BITS: usize = MAX_LIMBS * LIMB_BITS;

/// A signature scheme: the encoding method and its hash (SPEC §4.1).
///
/// PSS always uses MGF1 with the same hash and a salt as long as the hash (`sLen = hLen`),
/// with the trailer field 0xbc (RFC 8017 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) with EMSA-PKCS1-v1_5 (§9.2).
    Pkcs1v15(HashAlg),
    /// RSASSA-PSS (RFC 8017 §8.1) with EMSA-PSS (§9.1), MGF1 with the same hash,
    /// `sLen = hLen`.
    Pss(HashAlg),
}

impl Scheme {
    /// The hash function that digests the message.
    pub const fn hash(self) -> HashAlg {
        match self {
            Scheme::Pkcs1v15(h) | Scheme::Pss(h) => h,
        }
    }

    /// The salt length the scheme requires, in bytes: `hLen` for PSS, 0 for PKCS#1 v1.5.
    pub const fn salt_len(self) -> usize {
        match self {
            Scheme::Pkcs1v15(_) => 0,
            Scheme::Pss(h) => h.output_len(),
        }
    }
}

/// `EM = EMSA-ENCODE(digest)` for `scheme` and a modulus of `mod_bits` bits (SPEC §4.2), as
/// exactly `ceil(mod_bits/8)` big-endian bytes.
///
/// `pss_salt` must be empty for PKCS#1 v1.5 and exactly `hLen` bytes for PSS (SPEC §4.1).
///
/// # Errors
/// - [`Error::InvalidRequest`] if the digest or salt length is wrong for the scheme;
/// - [`Error::MessageTooLong`] if the modulus is too small for the encoding;
/// - [`Error::InvalidKey`]`(`[`KeyError::ModulusSize`]`)` if `mod_bits` exceeds 8192.
pub fn encode(scheme: Scheme, digest: &[u8], pss_salt: &[u8], mod_bits: usize) -> Result<Vec<u8>> {
    match scheme {
        Scheme::Pkcs1v15(h) => {
            if !pss_salt.is_empty() {
                return Err(Error::InvalidRequest(RequestError::SaltLength));
            }
            emsa_pkcs1v15_encode(h, digest, mod_bits)
        }
        Scheme::Pss(h) => emsa_pss_encode(h, digest, pss_salt, mod_bits),
    }
}

/// Whether `em` (exactly `ceil(mod_bits/8)` bytes, the integer `s^e mod n`) is a valid
/// encoding of `digest` under `scheme` (RFC 8017 §8.1.2 steps 3-4 with EMSA-PSS-VERIFY §9.1.2,
/// §8.2.2 steps 3-4 by re-encoding; SPEC §4.6). Reports no detail.
pub fn verify_em(scheme: Scheme, digest: &[u8], em: &[u8], mod_bits: usize) -> Choice {
    match scheme {
        Scheme::Pkcs1v15(h) => emsa_pkcs1v15_verify(h, digest, em, mod_bits),
        Scheme::Pss(h) => emsa_pss_verify(h, digest, em, mod_bits),
    }
}

/// `k = ceil(mod_bits/8)`, checking that `mod_bits` is within what the crate handles.
fn modulus_len(mod_bits: usize) -> Result<usize> {
    if mod_bits > MAX_MODULUS_BITS {
        return Err(Error::InvalidKey(KeyError::ModulusSize));
    }
    Ok(mod_bits.div_ceil(8))
}

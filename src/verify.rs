//! Signature verification under a [`PublicKey`] (SPEC §1 (e), §4.6): RSASSA-PKCS1-v1_5-VERIFY
//! (RFC 8017 §8.2.2) and RSASSA-PSS-VERIFY (§8.1.2) on a precomputed digest.
//!
//! Signatures, keys and digests are public, so verification runs in variable time
//! (`s^e mod n` by square-and-multiply, `Modulus::pow_vartime`).

use crate::arith::Uint;
use crate::error::{Error, Result};
use crate::padding::{Scheme, verify_em};
use crate::public_key::PublicKey;

/// Verifies `signature` on the message whose digest is `digest` under `public_key` and
/// `scheme` (RFC 8017 §8.1.2 / §8.2.2, SPEC §4.6).
///
/// The signature must be exactly `k = public_key.size()` bytes and, as an integer, less than
/// `n` (§5.2.2 RSAVP1 step 1); then `m = s^e mod n` is encoded as `I2OSP(m, k)` and checked
/// against the scheme's encoding of `digest`.
///
/// # Errors
/// - [`Error::InvalidRequest`] if `digest` does not have the scheme's hash length;
/// - [`Error::InvalidSignature`] for every bad signature (wrong length, out of range, wrong
///   padding, wrong digest), with no detail on which check failed.
pub fn verify(
    public_key: &PublicKey,
    scheme: Scheme,
    digest: &[u8],
    signature: &[u8],
) -> Result<()> {
    scheme.hash().check_digest(digest)?;
    let k = public_key.size();
    // §8.1.2 / §8.2.2 step 1: length check.
    if signature.len() != k {
        return Err(Error::InvalidSignature);
    }
    let modulus = public_key.modulus();
    let s = Uint::from_be_slice(signature, modulus.nlimbs()).ok_or(Error::InvalidSignature)?;
    // RSAVP1 step 1: s < n.
    if !bool::from(s.ct_lt(modulus.modulus())) {
        return Err(Error::InvalidSignature);
    }
    // RSAVP1 step 2: m = s^e mod n (public data: variable time).
    let e = Uint::from_u64(u64::from(public_key.e()), 1);
    let m = modulus.from_monty(&modulus.pow_vartime(&modulus.to_monty(&s), &e));
    // I2OSP(m, k); m < n < 2^(8k) always fits.
    let (em, _) = m.to_be_bytes(k);
    if bool::from(verify_em(scheme, digest, &em, public_key.bits())) {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

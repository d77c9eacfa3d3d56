//! Signature verification under a [`PublicKey`] (SPEC §1 (e), §4.6): RSASSA-PKCS1-v1_5-VERIFY
//! (RFC 8017 §8.2.2) and RSASSA-PSS-VERIFY (§8.1.2) on a precomputed digest.
//!
//! Signatures, keys and digests are public, so verification runs in variable time
//! (`s^e mod n` by square-and-multiply on the public exponent, [`rsavp1_vartime`]).

use crate::arith::Uint;
use crate::error::{Error, Result};
use crate::rsa::padding::{Scheme, verify_em};
use crate::rsa::public_key::PublicKey;

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
///
/// # Example
///
/// Verifying a signature made by OpenSSL (`openssl dgst -sha256 -sign key.pem`, RSASSA-PKCS1-v1_5
/// with SHA-256 under a 2048-bit key) with the public key imported from PEM. A split-rsa
/// signature is verified the same way, with the composite key from
/// [`DeviceRecord::public_key`](crate::DeviceRecord::public_key) or a CA certificate.
/// Through the RustCrypto `signature` traits, the same check is
/// [`pkcs1v15::VerifyingKey`](crate::pkcs1v15::VerifyingKey) /
/// [`pss::VerifyingKey`](crate::pss::VerifyingKey) with [`Signature`](crate::Signature).
///
/// ```
/// use split_rsa::spki::DecodePublicKey;
/// use split_rsa::{Error, HashAlg, PublicKey, Scheme, verify};
///
/// let pem = "\
/// -----BEGIN PUBLIC KEY-----
/// MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxsS47Q3+TI46FaJ0DlDo
/// 5VLvrH0JGSuwkGl8IMCSjtiqJryvB34fWjpupAFcMTAhbKeZUDljj0emTjexhOJ6
/// kTsZgABGAk9nQeRrIfMGmgBeKcxwEJAQFDscB/nrpgghYUCpBYf0DneXc5+RFo/g
/// wFUYBIb3vm2Jt0FwjneF79OvJYkRUJMHqP2pZtTPLYzLI+F/RLkcuCD60fNNC1gd
/// 0iOdpCFW0YUarsXtYcDRV1oV4IIItNUm+7CmUl6jxrmpsIrThcVWZ+suwO8Jg7u2
/// gTQg4RaylDukd5ZMA6uhxW5EEN//t/Zd4FGy6hDVVNCnyojfM9fg7ItRHfqRvrL7
/// 2wIDAQAB
/// -----END PUBLIC KEY-----
/// ";
/// let signature_hex = concat!(
///     "c44488110ca1dbb0ed9165a33f6526ec6f421d085324305120bade4bff690c22",
///     "46a8949b7a631812d0d544df7236bb6f20fffdda6f0dc0f6311e80de28107693",
///     "682a26be13008c6ba388340ea6cb1f16396eb791571a95958534933a6674a106",
///     "a79244d4ecc75b112f418b3f36eb493904e1dc6cc99e0df6131d60a77859dc7f",
///     "1a07f265d485960a869ac94d82df5e65da9ba8e2a984559c6dc8e4efc94f7b5e",
///     "31399de4b6c222c40a9b91405c41f3590a40078ba4f1b6f96f9ca0faca7a03fe",
///     "56bc07f806138c76b305c8557eb60c243867e4a79a56fd5d33813baced4b812f",
///     "3d35e84fc924c6495c6bb6d1333ff72db7a3f166b9e6211be7ad9efde54938cd",
/// );
/// # let signature: Vec<u8> = (0..signature_hex.len())
/// #     .step_by(2)
/// #     .map(|i| u8::from_str_radix(&signature_hex[i..i + 2], 16).unwrap())
/// #     .collect();
/// // `signature` holds the 256 bytes of `signature_hex`.
/// let key = PublicKey::from_public_key_pem(pem)?;
/// let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
/// let digest = HashAlg::Sha256.digest(b"the document");
/// verify(&key, scheme, &digest, &signature)?;
///
/// // Any other message, or any change to the signature, is refused without detail.
/// let other = HashAlg::Sha256.digest(b"another document");
/// assert_eq!(verify(&key, scheme, &other, &signature), Err(Error::InvalidSignature));
/// let mut tampered = signature.clone();
/// tampered[100] ^= 1;
/// assert_eq!(verify(&key, scheme, &digest, &tampered), Err(Error::InvalidSignature));
/// // A digest of the wrong length is a caller error, not a bad signature.
/// assert!(matches!(
///     verify(&key, scheme, &digest[..20], &signature),
///     Err(Error::InvalidRequest(_))
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    let m = rsavp1_vartime(public_key, s);
    // I2OSP(m, k); m < n < 2^(8k) always fits.
    let (em, _) = m.to_be_bytes(k);
    if bool::from(verify_em(scheme, digest, &em, public_key.bits())) {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

/// RSAVP1 (RFC 8017 §5.2.2) step 2: `s^e mod n` for `s < n`, with as few Montgomery
/// operations as the odd public exponent allows. **Variable time** in `e` (public).
///
/// Montgomery multiplication computes `REDC(a·b) = a·b·R^-1 mod n` for any representatives
/// with `a·b < R·n`; the plain integer `s < n` is such a representative. So:
///
/// 1. `S = REDC(s · (R^2 mod n)) = s·R`: `s` in Montgomery form, one multiplication with the
///    key's cached `R^2 mod n` (instead of a general reduction and a multiplication by 1);
/// 2. `A = S^(e-1)` in Montgomery form by left-to-right square-and-multiply starting from `S`
///    (no squaring of 1, no multiplication by 1): for `e = 65537`, `e - 1 = 2^16`, exactly 16
///    squarings;
/// 3. `REDC(A · s) = s^(e-1)·R · s · R^-1 = s^e mod n`, already out of Montgomery form: the
///    last multiplication by `s` and the conversion back are one operation.
///
/// For `e = 65537`: 16 squarings and 2 multiplications (`Modulus::pow_vartime` between
/// `to_monty` and `from_monty` takes 17 squarings and 5 multiplications).
fn rsavp1_vartime(public_key: &PublicKey, s: Uint) -> Uint {
    let modulus = public_key.modulus();
    let e = u64::from(public_key.e());
    debug_assert!(e & 1 == 1 && e >= 3);
    // `s < n` was checked by the caller (RSAVP1 step 1): a valid representative.
    let s_plain = modulus.residue_from_montgomery_unchecked(s);
    let s_mont = modulus.mul(&s_plain, public_key.r2());
    let mut acc = s_mont.clone();
    let mut tmp = Uint::zero(modulus.nlimbs());
    let exp = e - 1;
    let top = 63 - exp.leading_zeros() as usize;
    for i in (0..top).rev() {
        modulus.square_assign(&mut acc, &mut tmp);
        if (exp >> i) & 1 == 1 {
            modulus.mul_assign(&mut acc, &s_mont, &mut tmp);
        }
    }
    modulus.mul(&acc, &s_plain).as_montgomery().clone()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use num_bigint::BigUint;

    /// `rsavp1_vartime` against num-bigint's `modpow` for edge values and pseudo-random ones,
    /// on a 2048-bit and a 6144-bit odd modulus.
    #[test]
    fn rsavp1_matches_modpow() {
        let mut state = 0x5eed_u64;
        let mut next = || {
            // xorshift64*: deterministic filler, not a cryptographic RNG.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_f491_4f6c_dd1d)
        };
        for bytes in [256usize, 768] {
            let mut n: Vec<u8> = (0..bytes).map(|_| next() as u8).collect();
            n[0] |= 0x80;
            n[bytes - 1] |= 1;
            let pk = PublicKey::from_modulus(&n).unwrap();
            let n_big = BigUint::from_bytes_be(&n);
            let e = BigUint::from(65537u32);
            let mut cases: Vec<BigUint> = vec![
                BigUint::from(0u8),
                BigUint::from(1u8),
                BigUint::from(2u8),
                &n_big - 1u8,
            ];
            for _ in 0..8 {
                let x: Vec<u8> = (0..bytes).map(|_| next() as u8).collect();
                cases.push(BigUint::from_bytes_be(&x) % &n_big);
            }
            for s in cases {
                let mut be = vec![0u8; bytes];
                let sb = s.to_bytes_be();
                be[bytes - sb.len()..].copy_from_slice(&sb);
                let su = Uint::from_be_slice(&be, pk.modulus().nlimbs()).unwrap();
                let (got, _) = rsavp1_vartime(&pk, su).to_be_bytes(bytes);
                assert_eq!(BigUint::from_bytes_be(&got), s.modpow(&e, &n_big));
            }
        }
    }
}

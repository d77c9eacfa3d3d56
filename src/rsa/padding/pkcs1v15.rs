//! EMSA-PKCS1-v1_5 (RFC 8017 §9.2) and its verification by re-encoding (§8.2.2 steps 3-4).

use subtle::{Choice, ConstantTimeEq};

use super::modulus_len;
use crate::error::{Error, Result};
use crate::rsa::hash::HashAlg;

/// EMSA-PKCS1-v1_5-ENCODE (RFC 8017 §9.2) of a precomputed `digest`, for a modulus of
/// `mod_bits` bits: `EM = 0x00 || 0x01 || PS (0xff...) || 0x00 || DigestInfo(digest)`, exactly
/// `emLen = k = ceil(mod_bits/8)` bytes.
///
/// # Errors
/// - [`Error::InvalidRequest`] if `digest` is not `hLen` bytes (step 1 is done by the caller);
/// - [`Error::MessageTooLong`] if `emLen < tLen + 11` (step 3, "intended encoded message
///   length too short");
/// - [`Error::InvalidKey`] if `mod_bits` exceeds 8192.
pub fn emsa_pkcs1v15_encode(hash: HashAlg, digest: &[u8], mod_bits: usize) -> Result<Vec<u8>> {
    hash.check_digest(digest)?;
    let em_len = modulus_len(mod_bits)?;
    // Step 2: T = DigestInfo prefix || H.
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + digest.len();
    // Step 3.
    let ps_len = em_len
        .checked_sub(t_len + 3)
        .filter(|l| *l >= 8)
        .ok_or(Error::MessageTooLong)?;
    // Steps 4-5: EM = 0x00 || 0x01 || PS || 0x00 || T.
    let mut em = Vec::with_capacity(em_len);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps_len, 0xff);
    em.push(0x00);
    em.extend_from_slice(prefix);
    em.extend_from_slice(digest);
    debug_assert_eq!(em.len(), em_len);
    Ok(em)
}

/// Whether `em` equals EMSA-PKCS1-v1_5-ENCODE(`digest`) for a `mod_bits`-bit modulus
/// (RFC 8017 §8.2.2 steps 3-4: re-encode and compare). The comparison is constant-time; a
/// wrong-length `em` or digest, or an encoding error, gives "invalid". No detail is reported.
pub fn emsa_pkcs1v15_verify(hash: HashAlg, digest: &[u8], em: &[u8], mod_bits: usize) -> Choice {
    match emsa_pkcs1v15_encode(hash, digest, mod_bits) {
        // `[u8]::ct_eq` is 0 for slices of different lengths.
        Ok(expected) => expected.as_slice().ct_eq(em),
        Err(_) => Choice::from(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_errors() {
        let d = [0xabu8; 32];
        let em = emsa_pkcs1v15_encode(HashAlg::Sha256, &d, 2048).unwrap_or_default();
        assert_eq!(em.len(), 256);
        assert_eq!(em.get(..2), Some(&[0u8, 1][..]));
        let t_len = 19 + 32;
        assert!(
            em.get(2..256 - t_len - 1)
                .is_some_and(|ps| ps.iter().all(|b| *b == 0xff))
        );
        assert_eq!(em.get(256 - t_len - 1), Some(&0));
        assert_eq!(em.get(256 - 32..), Some(&d[..]));
        assert!(bool::from(emsa_pkcs1v15_verify(
            HashAlg::Sha256,
            &d,
            &em,
            2048
        )));
        assert!(!bool::from(emsa_pkcs1v15_verify(
            HashAlg::Sha384,
            &d,
            &em,
            2048
        )));

        assert_eq!(
            emsa_pkcs1v15_encode(HashAlg::Sha256, &d[..31], 2048),
            Err(Error::InvalidRequest(
                crate::error::RequestError::DigestLength
            ))
        );
        // Smallest modulus that fits SHA-512: tLen = 83, emLen >= 94 bytes.
        assert!(emsa_pkcs1v15_encode(HashAlg::Sha512, &[0; 64], 94 * 8).is_ok());
        assert_eq!(
            emsa_pkcs1v15_encode(HashAlg::Sha512, &[0; 64], 93 * 8),
            Err(Error::MessageTooLong)
        );
        assert_eq!(
            emsa_pkcs1v15_encode(HashAlg::Sha256, &d, 0),
            Err(Error::MessageTooLong)
        );
        assert!(emsa_pkcs1v15_encode(HashAlg::Sha256, &d, usize::MAX).is_err());
    }
}

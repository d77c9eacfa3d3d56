//! EMSA-PSS (RFC 8017 §9.1) with MGF1 (§B.2.1), `sLen = hLen` (SPEC §4.1).
//!
//! `emBits = modBits - 1` and `emLen = ceil(emBits/8)` (RFC 8017 §8.1.1 step 1). When
//! `modBits ≡ 1 (mod 8)`, `emLen = k - 1`: the encoded message is left-padded with one zero
//! byte to `k` bytes, which is `I2OSP(m, k)` for the same integer `m` (§8.1.1 step 2).

use crate::error::RequestError;
use subtle::{Choice, ConstantTimeEq};

use super::modulus_len;
use crate::error::{Error, Result};
use crate::rsa::hash::HashAlg;

/// The eight zero bytes that start `M'` (RFC 8017 §9.1.1 step 5).
const M_PRIME_PADDING: [u8; 8] = [0; 8];

/// The trailer field (RFC 8017 §9.1.1 step 12).
const TRAILER: u8 = 0xbc;

/// MGF1 (RFC 8017 §B.2.1): `mask_len` bytes of `Hash(seed || C)` for `C = 0, 1, ...` as
/// 4-byte big-endian counters.
///
/// # Errors
/// [`Error::InvalidRequest`] if `mask_len > 2^32 hLen` (step 1, "mask too long").
pub fn mgf1(hash: HashAlg, seed: &[u8], mask_len: usize) -> Result<Vec<u8>> {
    let h_len = hash.output_len();
    let blocks = mask_len.div_ceil(h_len);
    if blocks as u64 > 1 << 32 {
        return Err(Error::InvalidRequest(RequestError::MaskTooLong));
    }
    let mut t = Vec::with_capacity(blocks * h_len);
    for counter in 0..blocks {
        let c = (counter as u32).to_be_bytes();
        t.extend_from_slice(hash.hash_parts(&[seed, &c]).as_bytes());
    }
    t.truncate(mask_len);
    Ok(t)
}

/// The PSS layout for a modulus of `mod_bits` bits: `(k, emBits, emLen)`.
fn layout(mod_bits: usize) -> Result<(usize, usize, usize)> {
    let k = modulus_len(mod_bits)?;
    let em_bits = mod_bits.checked_sub(1).ok_or(Error::MessageTooLong)?;
    Ok((k, em_bits, em_bits.div_ceil(8)))
}

/// The mask that keeps the low `emBits mod 8` bits of the first byte, i.e. clears the
/// leftmost `8 emLen - emBits` bits (RFC 8017 §9.1.1 step 11).
fn top_byte_mask(em_bits: usize, em_len: usize) -> u8 {
    let zero_bits = (8 * em_len - em_bits) as u32; // 0..=7
    0xffu8.checked_shr(zero_bits).unwrap_or(0)
}

/// `H = Hash(0x00 * 8 || mHash || salt)` (RFC 8017 §9.1.1 steps 5-6, §9.1.2 steps 12-13).
fn m_prime_hash(hash: HashAlg, digest: &[u8], salt: &[u8]) -> crate::rsa::hash::HashOutput {
    hash.hash_parts(&[&M_PRIME_PADDING, digest, salt])
}

/// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) of a precomputed `digest` with the caller's `salt`
/// (`sLen = hLen`, SPEC §4.1), for a modulus of `mod_bits` bits (`emBits = mod_bits - 1`).
/// Returns `EM` left-padded to exactly `k = ceil(mod_bits/8)` bytes.
///
/// # Errors
/// - [`Error::InvalidRequest`] if `digest` or `salt` is not `hLen` bytes (step 2 is done by
///   the caller);
/// - [`Error::MessageTooLong`] if `emLen < hLen + sLen + 2` (step 3, "encoding error");
/// - [`Error::InvalidKey`] if `mod_bits` exceeds 8192.
pub fn emsa_pss_encode(
    hash: HashAlg,
    digest: &[u8],
    salt: &[u8],
    mod_bits: usize,
) -> Result<Vec<u8>> {
    hash.check_digest(digest)?;
    let h_len = hash.output_len();
    if salt.len() != h_len {
        return Err(Error::InvalidRequest(RequestError::SaltLength));
    }
    let (k, em_bits, em_len) = layout(mod_bits)?;
    // Step 3.
    let db_len = em_len.checked_sub(h_len + 1).ok_or(Error::MessageTooLong)?;
    let ps_len = db_len
        .checked_sub(salt.len() + 1)
        .ok_or(Error::MessageTooLong)?;
    // Steps 5-6.
    let h = m_prime_hash(hash, digest, salt);
    // Steps 7-8: DB = PS || 0x01 || salt.
    let mut db = Vec::with_capacity(db_len);
    db.resize(ps_len, 0);
    db.push(0x01);
    db.extend_from_slice(salt);
    // Steps 9-10.
    let db_mask = mgf1(hash, h.as_bytes(), db_len)?;
    for (d, m) in db.iter_mut().zip(db_mask.iter()) {
        *d ^= m;
    }
    // Step 11.
    if let Some(first) = db.first_mut() {
        *first &= top_byte_mask(em_bits, em_len);
    }
    // Step 12, left-padded to k bytes.
    let mut em = Vec::with_capacity(k);
    em.resize(k - em_len, 0);
    em.extend_from_slice(&db);
    em.extend_from_slice(h.as_bytes());
    em.push(TRAILER);
    debug_assert_eq!(em.len(), k);
    Ok(em)
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with `sLen = hLen` and MGF1 of the same hash: whether
/// `em` (exactly `k = ceil(mod_bits/8)` bytes, the integer `s^e mod n` as `I2OSP(m, k)`) is a
/// valid encoding of `digest` for a `mod_bits`-bit modulus.
///
/// Every check of steps 3-14 (and the `I2OSP(m, emLen)` length check of §8.1.2 step 2c) is
/// evaluated and combined into one [`Choice`]; no detail is reported. Wrong lengths of `em`
/// or `digest` give "invalid".
pub fn emsa_pss_verify(hash: HashAlg, digest: &[u8], em: &[u8], mod_bits: usize) -> Choice {
    let h_len = hash.output_len();
    let s_len = h_len;
    if digest.len() != h_len {
        return Choice::from(0);
    }
    let Ok((k, em_bits, em_len)) = layout(mod_bits) else {
        return Choice::from(0);
    };
    // Step 3 (public lengths).
    let Some(db_len) = em_len.checked_sub(h_len + 1) else {
        return Choice::from(0);
    };
    let Some(ps_len) = db_len.checked_sub(s_len + 1) else {
        return Choice::from(0);
    };
    if em.len() != k {
        return Choice::from(0);
    }
    // §8.1.2 step 2c: m must fit in emLen bytes, so the (0 or 1) leading bytes are zero.
    let Some((lead, em)) = em.split_at_checked(k - em_len) else {
        return Choice::from(0);
    };
    let mut ok = lead.iter().fold(0u8, |acc, b| acc | b).ct_eq(&0);
    // Steps 4-5.
    let Some((masked_db, rest)) = em.split_at_checked(db_len) else {
        return Choice::from(0);
    };
    let Some((h, trailer)) = rest.split_at_checked(h_len) else {
        return Choice::from(0);
    };
    ok &= trailer.ct_eq(&[TRAILER]);
    // Step 6: the leftmost 8 emLen - emBits bits of maskedDB are zero.
    let keep = top_byte_mask(em_bits, em_len);
    ok &= (masked_db.first().copied().unwrap_or(0) & !keep).ct_eq(&0);
    // Steps 7-9.
    let Ok(db_mask) = mgf1(hash, h, db_len) else {
        return Choice::from(0);
    };
    let mut db: Vec<u8> = masked_db
        .iter()
        .zip(db_mask.iter())
        .map(|(a, b)| a ^ b)
        .collect();
    if let Some(first) = db.first_mut() {
        *first &= keep;
    }
    // Step 10: DB = 0x00 ... 0x00 || 0x01 || salt.
    let Some((ps, one_salt)) = db.split_at_checked(ps_len) else {
        return Choice::from(0);
    };
    let Some((one, salt)) = one_salt.split_at_checked(1) else {
        return Choice::from(0);
    };
    ok &= ps.iter().fold(0u8, |acc, b| acc | b).ct_eq(&0);
    ok &= one.ct_eq(&[0x01]);
    // Steps 11-14.
    let h2 = m_prime_hash(hash, digest, salt);
    ok & h.ct_eq(h2.as_bytes())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::integer_division)]
mod tests {
    use super::*;

    /// MGF1-SHA-256 known answer: the first 32 bytes are SHA-256(seed || 00000000).
    #[test]
    fn mgf1_structure() {
        let seed = b"seed";
        let m = mgf1(HashAlg::Sha256, seed, 70).unwrap();
        assert_eq!(m.len(), 70);
        let b0 = HashAlg::Sha256.digest(b"seed\x00\x00\x00\x00");
        let b1 = HashAlg::Sha256.digest(b"seed\x00\x00\x00\x01");
        let b2 = HashAlg::Sha256.digest(b"seed\x00\x00\x00\x02");
        let want: Vec<u8> = [b0, b1, b2].concat().into_iter().take(70).collect();
        assert_eq!(m, want);
        assert!(mgf1(HashAlg::Sha512, seed, 0).unwrap().is_empty());
    }

    #[test]
    fn round_trip_all_alignments() {
        for h in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let d = h.digest(b"message");
            let salt = vec![0x5a; h.output_len()];
            for mod_bits in 2040..=2056 {
                let em = emsa_pss_encode(h, &d, &salt, mod_bits).unwrap();
                assert_eq!(em.len(), mod_bits.div_ceil(8));
                assert_eq!(em.last(), Some(&TRAILER));
                // m < 2^(mod_bits - 1).
                let top = em.first().copied().unwrap();
                let used = mod_bits - 8 * (em.len() - 1); // bits of n in its top byte
                assert!(u32::from(top) < 1u32 << (used - 1), "mod_bits {mod_bits}");
                assert!(bool::from(emsa_pss_verify(h, &d, &em, mod_bits)));
                let mut bad = em.clone();
                if let Some(b) = bad.get_mut(em.len() / 2) {
                    *b ^= 1;
                }
                assert!(!bool::from(emsa_pss_verify(h, &d, &bad, mod_bits)));
                assert!(!bool::from(emsa_pss_verify(
                    h,
                    &h.digest(b"other"),
                    &em,
                    mod_bits
                )));
            }
        }
    }

    #[test]
    fn size_limits() {
        let d = [0u8; 64];
        // emLen = ceil((modBits - 1)/8) >= 2 hLen + 2 = 130 bytes: modBits >= 1034.
        assert!(emsa_pss_encode(HashAlg::Sha512, &d, &d, 1034).is_ok());
        assert_eq!(
            emsa_pss_encode(HashAlg::Sha512, &d, &d, 1033),
            Err(Error::MessageTooLong)
        );
        assert_eq!(
            emsa_pss_encode(HashAlg::Sha512, &d, &d, 0),
            Err(Error::MessageTooLong)
        );
        assert!(emsa_pss_encode(HashAlg::Sha512, &d, &d[..63], 4096).is_err());
        assert!(emsa_pss_encode(HashAlg::Sha512, &d, &d, usize::MAX).is_err());
        assert!(!bool::from(emsa_pss_verify(HashAlg::Sha512, &d, &[], 0)));
        assert!(!bool::from(emsa_pss_verify(
            HashAlg::Sha512,
            &d,
            &[0; 130],
            1033
        )));
    }
}

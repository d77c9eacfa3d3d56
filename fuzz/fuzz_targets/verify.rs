//! `verify` on arbitrary keys and signatures, with num-bigint as the oracle.
//!
//! Input: a format byte (key format in the low 3 bits, scheme in the next 3), a 2-byte key
//! length, the key (PKCS#1 or SPKI DER, PKCS#1 or SPKI PEM, or a raw modulus), then the digest
//! (the scheme's hash length) and the signature (the rest). `verify` never panics; whenever it
//! accepts, the signature is `k` bytes, `s < n`, and `s^65537 mod n` computed by num-bigint is
//! an encoded message the scheme accepts for the digest (for PKCS#1 v1.5: exactly the
//! deterministic encoding). A signature `>= n` is always refused. The `signature` traits
//! (`PrehashVerifier` on `pkcs1v15::VerifyingKey<D>` / `pss::VerifyingKey<D>`) give the same
//! verdict as `verify`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigUint;
use split_rsa::hazmat::padding::{encode, verify_em};
use split_rsa::pkcs1::DecodeRsaPublicKey;
use split_rsa::sha2::{Sha256, Sha384, Sha512};
use split_rsa::signature::hazmat::PrehashVerifier;
use split_rsa::spki::DecodePublicKey;
use split_rsa::{HashAlg, PublicKey, Scheme, Signature, SupportedDigest, pkcs1v15, pss, verify};

/// `PrehashVerifier::verify_prehash` with the verifying key of `scheme`; a signature that does
/// not decode as a `Signature` counts as refused.
fn trait_verdict(key: &PublicKey, scheme: Scheme, digest: &[u8], sig: &[u8]) -> bool {
    fn with<D: SupportedDigest>(key: &PublicKey, pss: bool, digest: &[u8], s: &Signature) -> bool {
        if pss {
            pss::VerifyingKey::<D>::new(key.clone())
                .verify_prehash(digest, s)
                .is_ok()
        } else {
            pkcs1v15::VerifyingKey::<D>::new(key.clone())
                .verify_prehash(digest, s)
                .is_ok()
        }
    }
    let Ok(s) = Signature::try_from(sig) else {
        return false;
    };
    let pss = matches!(scheme, Scheme::Pss(_));
    match scheme.hash() {
        HashAlg::Sha256 => with::<Sha256>(key, pss, digest, &s),
        HashAlg::Sha384 => with::<Sha384>(key, pss, digest, &s),
        HashAlg::Sha512 => with::<Sha512>(key, pss, digest, &s),
    }
}

const SCHEMES: [Scheme; 6] = [
    Scheme::Pkcs1v15(HashAlg::Sha256),
    Scheme::Pkcs1v15(HashAlg::Sha384),
    Scheme::Pkcs1v15(HashAlg::Sha512),
    Scheme::Pss(HashAlg::Sha256),
    Scheme::Pss(HashAlg::Sha384),
    Scheme::Pss(HashAlg::Sha512),
];

fuzz_target!(|data: &[u8]| {
    let [sel, l0, l1, rest @ ..] = data else {
        return;
    };
    let key_len = usize::from(u16::from_be_bytes([*l0, *l1]));
    if rest.len() < key_len {
        return;
    }
    let (key_bytes, rest) = rest.split_at(key_len);
    let key = match sel & 7 {
        0 => PublicKey::from_pkcs1_der(key_bytes).ok(),
        1 => PublicKey::from_public_key_der(key_bytes).ok(),
        2 | 3 => match core::str::from_utf8(key_bytes) {
            Ok(s) if sel & 7 == 2 => PublicKey::from_pkcs1_pem(s).ok(),
            Ok(s) => PublicKey::from_public_key_pem(s).ok(),
            Err(_) => return,
        },
        _ => PublicKey::from_modulus(key_bytes).ok(),
    };
    let Some(key) = key else { return };
    let scheme = SCHEMES[usize::from((sel >> 3) & 7) % SCHEMES.len()];
    let hlen = scheme.hash().output_len();
    if rest.len() < hlen {
        return;
    }
    let (digest, sig) = rest.split_at(hlen);
    let result = verify(&key, scheme, digest, sig);
    assert_eq!(trait_verdict(&key, scheme, digest, sig), result.is_ok());

    let n = BigUint::from_bytes_be(key.modulus_bytes());
    let s = BigUint::from_bytes_be(sig);
    if s >= n {
        assert!(result.is_err(), "accepted s >= n");
    }
    if result.is_ok() {
        assert_eq!(sig.len(), key.size());
        let m = s.modpow(&BigUint::from(65537u32), &n);
        let mut em = m.to_bytes_be();
        assert!(em.len() <= key.size());
        em.splice(0..0, core::iter::repeat_n(0, key.size() - em.len()));
        assert!(bool::from(verify_em(scheme, digest, &em, key.bits())));
        if let Scheme::Pkcs1v15(_) = scheme {
            assert_eq!(encode(scheme, digest, &[], key.bits()).unwrap(), em);
        }
    }
});

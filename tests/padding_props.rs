//! Seeded property tests of the RFC 8017 encoders and checks (SPEC §4.2) and of `verify`
//! on arbitrary input: no panics, exact lengths, `m < 2^(modBits-1)` (num-bigint oracle),
//! encode/verify round trips, and random encoded messages never verifying.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::integer_division,
    clippy::panic
)]

use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::padding::{self, emsa_pkcs1v15_verify, emsa_pss_verify};
use split_rsa::{Error, HashAlg, PublicKey, Scheme, verify};

const HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

fn bytes(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rng.fill_bytes(&mut v);
    v
}

#[test]
fn encoders_on_arbitrary_parameters() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0001);
    let (mut ok, mut too_long, mut bad_req) = (0, 0, 0);
    for i in 0..6000 {
        let h = HASHES[i % 3];
        let h_len = h.output_len();
        let pss = i % 2 == 0;
        let scheme = if pss {
            Scheme::Pss(h)
        } else {
            Scheme::Pkcs1v15(h)
        };
        // Mostly valid lengths, sometimes not.
        let d_len = if rng.next_u32() % 8 == 0 {
            (rng.next_u32() % 80) as usize
        } else {
            h_len
        };
        let s_len = match (pss, rng.next_u32() % 8) {
            (true, 0) => (rng.next_u32() % 80) as usize,
            (true, _) => h_len,
            (false, 0) => 1,
            (false, _) => 0,
        };
        let mod_bits = match rng.next_u32() % 4 {
            0 => (rng.next_u32() % 1200) as usize,
            1 => (rng.next_u32() % 9000) as usize,
            _ => 2048 + (rng.next_u32() % 6145) as usize,
        };
        let digest = bytes(&mut rng, d_len);
        let salt = bytes(&mut rng, s_len);
        match padding::encode(scheme, &digest, &salt, mod_bits) {
            Ok(em) => {
                ok += 1;
                assert!(d_len == h_len && s_len == scheme.salt_len() && mod_bits <= 8192);
                assert_eq!(em.len(), mod_bits.div_ceil(8));
                assert!(BigUint::from_bytes_be(&em).bits() < mod_bits as u64);
                assert_eq!(em.last(), Some(&if pss { 0xbc } else { digest[h_len - 1] }));
                assert!(bool::from(padding::verify_em(
                    scheme, &digest, &em, mod_bits
                )));
                // One flipped bit anywhere: rejected.
                let mut bad = em.clone();
                let bit = rng.next_u32() as usize % (8 * bad.len());
                bad[bit / 8] ^= 1 << (bit % 8);
                assert!(!bool::from(padding::verify_em(
                    scheme, &digest, &bad, mod_bits
                )));
            }
            Err(Error::MessageTooLong) => {
                too_long += 1;
                let min_bytes = if pss {
                    2 * h_len + 2
                } else {
                    h.digest_info_prefix().len() + h_len + 11
                };
                let em_len = if pss {
                    mod_bits.saturating_sub(1).div_ceil(8)
                } else {
                    mod_bits.div_ceil(8)
                };
                assert!(em_len < min_bytes, "{scheme:?} {mod_bits}");
            }
            Err(Error::InvalidRequest(_)) => {
                bad_req += 1;
                assert!(d_len != h_len || s_len != scheme.salt_len());
            }
            Err(Error::InvalidKey(_)) => assert!(mod_bits > 8192),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(
        ok > 3000 && too_long > 100 && bad_req > 500,
        "{ok} {too_long} {bad_req}"
    );
}

#[test]
fn checks_on_arbitrary_encoded_messages() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0002);
    for i in 0..20000 {
        let h = HASHES[i % 3];
        let mod_bits = (rng.next_u32() % 8300) as usize;
        let len = if i % 2 == 0 {
            mod_bits.div_ceil(8)
        } else {
            (rng.next_u32() % 1100) as usize
        };
        let mut em = bytes(&mut rng, len);
        // Sometimes make the structure look right.
        if let Some(b) = em.last_mut().filter(|_| i % 4 == 0) {
            *b = 0xbc;
        }
        let digest = bytes(&mut rng, h.output_len());
        assert!(!bool::from(emsa_pss_verify(h, &digest, &em, mod_bits)));
        assert!(!bool::from(emsa_pkcs1v15_verify(h, &digest, &em, mod_bits)));
    }
}

#[test]
fn verify_on_arbitrary_signatures() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0004);
    for bits in [2048usize, 2049, 3071, 6144] {
        let mut n = bytes(&mut rng, bits.div_ceil(8));
        n[0] = (0xffu16 >> (8 * n.len() - bits)) as u8 | (1 << ((bits - 1) % 8)) as u8;
        *n.last_mut().unwrap() |= 1;
        let pk = PublicKey::from_modulus(&n).unwrap();
        assert_eq!(pk.bits(), bits);
        for i in 0..60 {
            let h = HASHES[i % 3];
            let scheme = if i % 2 == 0 {
                Scheme::Pss(h)
            } else {
                Scheme::Pkcs1v15(h)
            };
            let len = if i % 3 == 0 {
                (rng.next_u32() % 1000) as usize
            } else {
                pk.size()
            };
            let sig = bytes(&mut rng, len);
            let digest = h.digest(&sig);
            assert_eq!(
                verify(&pk, scheme, &digest, &sig),
                Err(Error::InvalidSignature)
            );
        }
    }
}

//! Verification code known answers (SPEC §8; the same values appear in the Smart-ID RP API
//! documentation), and a cross-check of the formula against an independent SHA-256
//! (RustCrypto sha2 0.10) on seeded random digests.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::integer_division,
    clippy::panic
)]

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2_010::{Digest, Sha256};
use split_rsa::{HashAlg, verification_code};

#[test]
fn spec_known_answers() {
    let cases: [(&[u8], &str); 3] = [
        (b"Hello World!", "7712"),
        (b"Go ahead, make my day.", "7782"),
        (b"You're gonna need a bigger boat.", "1464"),
    ];
    for (msg, vc) in cases {
        let digest = HashAlg::Sha256.digest(msg);
        assert_eq!(verification_code(&digest).to_string(), vc);
    }
    assert_eq!(verification_code(&[0x1b, 0xbb]).to_string(), "4555");
}

#[test]
fn formula_against_independent_sha256() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0008);
    let mut small = 0;
    for _ in 0..2000 {
        let mut d = vec![0u8; (rng.next_u32() % 70) as usize];
        rng.fill_bytes(&mut d);
        let h = Sha256::digest(&d);
        let want = u16::from_be_bytes([h[30], h[31]]) % 10000;
        let vc = verification_code(&d);
        assert_eq!(vc.value(), want);
        let s = vc.to_string();
        assert_eq!(s.len(), 4);
        assert_eq!(s.parse::<u16>().unwrap(), want);
        small += usize::from(want < 1000);
    }
    // About 10% of codes have a leading zero; they were exercised.
    assert!(small > 100, "{small}");
}

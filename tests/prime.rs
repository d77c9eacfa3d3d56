//! Prime generation (SPEC §2) against num-bigint as the oracle.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::integer_division,
    clippy::panic
)] // test code: panics are failures

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::Uint;
use split_rsa::hazmat::prime::{
    MAX_TWO_ADIC, MillerRabin, PUBLIC_EXPONENT, SIEVE_LIMIT, TOP_WORD_MIN, e_divides_p_minus_1,
    generate_prime, generate_prime_pair, has_small_factor, miller_rabin_rounds, random_candidate,
    rem_small, too_close,
};

enum T {}

fn big(u: &Uint) -> BigUint {
    BigUint::from_bytes_be(&u.to_be_bytes(u.nlimbs() * 8).0)
}

fn uint(b: &BigUint, nlimbs: usize) -> Uint {
    Uint::from_be_slice(&b.to_bytes_be(), nlimbs).unwrap()
}

fn nlimbs_for(b: &BigUint) -> usize {
    (b.bits() as usize).div_ceil(64).max(1)
}

/// Strong probable prime test to base `a` (oracle; variable time, num-bigint).
fn is_sprp(n: &BigUint, a: &BigUint) -> bool {
    let one = BigUint::one();
    let nm1 = n - &one;
    let s = nm1.trailing_zeros().unwrap();
    let d = &nm1 >> s;
    let mut x = a.modpow(&d, n);
    if x == one || x == nm1 {
        return true;
    }
    for _ in 1..s {
        x = x.modpow(&BigUint::from(2u32), n);
        if x == nm1 {
            return true;
        }
    }
    false
}

const ORACLE_BASES: [u32; 40] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173,
];

/// Oracle primality: trial division by small primes, then strong tests to 40 fixed bases and
/// 24 random ones.
fn is_prime_oracle(n: &BigUint, rng: &mut ChaCha20Rng) -> bool {
    if n < &BigUint::from(2u32) {
        return false;
    }
    for p in ORACLE_BASES {
        let p = BigUint::from(p);
        if n == &p {
            return true;
        }
        if (n % &p).is_zero() {
            return false;
        }
    }
    let bits = n.bits();
    for &a in ORACLE_BASES.iter() {
        if !is_sprp(n, &BigUint::from(a)) {
            return false;
        }
    }
    for _ in 0..24 {
        let mut bytes = vec![0u8; (bits as usize).div_ceil(8) + 8];
        rng.fill_bytes(&mut bytes);
        let a = BigUint::from_bytes_be(&bytes) % (n - 3u32) + 2u32;
        if !is_sprp(n, &a) {
            return false;
        }
    }
    true
}

/// p ≥ 2^(b - 1/4)  ⇔  p^4 ≥ 2^(4b - 1).
fn in_range(p: &BigUint, b: usize) -> bool {
    p.pow(4) >= (BigUint::one() << (4 * b - 1)) && p < &(BigUint::one() << b)
}

fn check_prime(p: &BigUint, b: usize, rng: &mut ChaCha20Rng) {
    assert_eq!(p.bits() as usize, b, "exact bit length");
    assert!(in_range(p, b), "p in [2^(b-1/4), 2^b)");
    assert!(is_prime_oracle(p, rng), "oracle says prime");
    assert!(!((p - 1u32) % PUBLIC_EXPONENT).is_zero(), "gcd(e, p-1) = 1");
}

#[test]
fn top_word_min_is_ceil_2_pow_63_75() {
    let t = BigUint::from(TOP_WORD_MIN);
    let bound = BigUint::one() << 255;
    assert!(t.pow(4) > bound);
    assert!((t - 1u32).pow(4) < bound);
}

#[test]
fn small_test_size_primes() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut oracle_rng = ChaCha20Rng::seed_from_u64(101);
    for &b in &[128usize, 192, 256, 384, 512] {
        for _ in 0..6 {
            let p = generate_prime::<T, _>(&mut rng, b).unwrap();
            assert_eq!(p.nlimbs(), b / 64);
            check_prime(&big(p.modulus()), b, &mut oracle_rng);
        }
    }
}

#[test]
fn production_size_primes() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut oracle_rng = ChaCha20Rng::seed_from_u64(102);
    for &b in &[1024usize, 1536, 2048] {
        let p = generate_prime::<T, _>(&mut rng, b).unwrap();
        check_prime(&big(p.modulus()), b, &mut oracle_rng);
    }
}

#[test]
fn odd_width_prime_sizes() {
    // Sizes that are not a multiple of 64 place the top word across two limbs.
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut oracle_rng = ChaCha20Rng::seed_from_u64(103);
    for &b in &[130usize, 200, 333] {
        let p = generate_prime::<T, _>(&mut rng, b).unwrap();
        check_prime(&big(p.modulus()), b, &mut oracle_rng);
    }
}

#[test]
fn unsupported_sizes_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    assert!(generate_prime::<T, _>(&mut rng, 64).is_err());
    assert!(generate_prime::<T, _>(&mut rng, 4097).is_err());
}

#[test]
fn generation_is_deterministic_for_a_seed() {
    let a = generate_prime::<T, _>(&mut ChaCha20Rng::seed_from_u64(5), 256).unwrap();
    let b = generate_prime::<T, _>(&mut ChaCha20Rng::seed_from_u64(5), 256).unwrap();
    let c = generate_prime::<T, _>(&mut ChaCha20Rng::seed_from_u64(6), 256).unwrap();
    assert_eq!(big(a.modulus()), big(b.modulus()));
    assert_ne!(big(a.modulus()), big(c.modulus()));
}

#[test]
fn pairs_are_far_apart_and_distinct() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    for _ in 0..3 {
        let (p, q) = generate_prime_pair::<T, T, _>(&mut rng, 256).unwrap();
        let (p, q) = (big(p.modulus()), big(q.modulus()));
        let d = if p > q { &p - &q } else { &q - &p };
        assert!(d > BigUint::one() << 156);
    }
}

#[test]
fn random_candidates_are_odd_and_in_range() {
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    for &b in &[128usize, 130, 256, 1536] {
        for _ in 0..50 {
            let x = big(&random_candidate(&mut rng, b));
            assert!(x.is_odd());
            assert!(in_range(&x, b));
            assert!(x >= BigUint::from(TOP_WORD_MIN) << (b - 64));
        }
    }
}

#[test]
fn rem_small_matches_oracle() {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let primes = [3u32, 5, 7, 65521, 65537, 4_294_967_291, 4_294_967_295];
    for w in [1usize, 2, 5, 24, 32] {
        for _ in 0..20 {
            let mut bytes = vec![0u8; w * 8];
            rng.fill_bytes(&mut bytes);
            let x = Uint::from_be_bytes(&bytes);
            let xb = big(&x);
            for p in primes {
                assert_eq!(
                    BigUint::from(rem_small(&x, p)),
                    &xb % p,
                    "x mod {p}, {w} limbs"
                );
            }
        }
    }
    // Edge values.
    for v in [0u64, 1, 2, u64::MAX] {
        let x = Uint::from_u64(v, 3);
        assert_eq!(u64::from(rem_small(&x, 65521)), v % 65521);
    }
}

/// Smallest prime factor below the sieve limit, by the oracle.
fn has_small_factor_oracle(x: &BigUint) -> bool {
    let mut p = 3u32;
    while (p as usize) < SIEVE_LIMIT {
        if Integer::is_multiple_of(x, &BigUint::from(p)) && x != &BigUint::from(p) {
            return true;
        }
        if x == &BigUint::from(p) {
            return true; // the sieve rejects the small primes themselves, too
        }
        p += 2;
    }
    false
}

#[test]
fn sieve_matches_oracle() {
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let mut with = 0;
    for _ in 0..300 {
        let mut bytes = vec![0u8; 24 * 8];
        rng.fill_bytes(&mut bytes);
        let mut x = Uint::from_be_bytes(&bytes);
        x.as_limbs_mut()[0] |= 1;
        let expect = has_small_factor_oracle(&big(&x));
        with += usize::from(expect);
        assert_eq!(bool::from(has_small_factor(&x)), expect);
    }
    assert!(
        with > 200 && with < 300,
        "about 90% of odd numbers have a factor < 2^16"
    );
    // Largest sieve prime times a large prime; and a product of two primes just above.
    let p = BigUint::from(65521u32) * BigUint::from(4_294_967_291u64);
    assert!(bool::from(has_small_factor(&uint(&p, 1))));
    let q = BigUint::from(65537u32) * BigUint::from(65539u32);
    assert!(!bool::from(has_small_factor(&uint(&q, 1))));
}

#[test]
fn e_divides_p_minus_1_matches_oracle() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    for i in 0..100u64 {
        let mut bytes = vec![0u8; 16 * 8];
        rng.fill_bytes(&mut bytes);
        let mut x = BigUint::from_bytes_be(&bytes);
        if i % 2 == 0 {
            // Force p ≡ 1 (mod e).
            x = &x - (&x % PUBLIC_EXPONENT) + 1u32;
        }
        let expect = ((&x - 1u32) % PUBLIC_EXPONENT).is_zero();
        assert_eq!(bool::from(e_divides_p_minus_1(&uint(&x, 16))), expect);
    }
}

#[test]
fn too_close_boundary() {
    let b = 256;
    let p = (BigUint::one() << 255) + 12345u32;
    let at = &p + (BigUint::one() << (b - 100));
    let past = &at + 1u32;
    let w = 4;
    assert!(bool::from(too_close(&uint(&p, w), &uint(&at, w), b)));
    assert!(bool::from(too_close(&uint(&at, w), &uint(&p, w), b)));
    assert!(!bool::from(too_close(&uint(&p, w), &uint(&past, w), b)));
    assert!(!bool::from(too_close(&uint(&past, w), &uint(&p, w), b)));
    assert!(bool::from(too_close(&uint(&p, w), &uint(&p, w), b)));
}

fn mr_round(n: &BigUint, base: u64) -> Option<bool> {
    let w = nlimbs_for(n);
    let bits = n.bits() as usize;
    let mr = MillerRabin::<T>::new(uint(n, w), bits)?;
    if !bool::from(mr.supported()) {
        return None;
    }
    let b = mr.modulus().to_monty(&Uint::from_u64(base, 1));
    Some(bool::from(mr.round(&b)))
}

#[test]
fn miller_rabin_round_rejects_known_composites() {
    // Carmichael numbers (OEIS A002997) and strong pseudoprimes to the first bases
    // (OEIS A014233: smallest strong pseudoprimes to all of the first k prime bases).
    let carmichael: [u64; 8] = [561, 1105, 1729, 2465, 2821, 6601, 8911, 41041];
    let spsp: [(&str, &[u64]); 6] = [
        ("2047", &[2]),
        ("1373653", &[2, 3]),
        ("25326001", &[2, 3, 5]),
        ("3215031751", &[2, 3, 5, 7]),
        ("3825123056546413051", &[2, 3, 5, 7, 11, 13, 17, 19, 23]),
        (
            "318665857834031151167461",
            &[2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37],
        ),
    ];
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let check_composite = |n: &BigUint, liar_bases: &[u64], rng: &mut ChaCha20Rng| {
        // The constant-time round agrees with the oracle on every base tried...
        for &a in liar_bases {
            assert_eq!(
                mr_round(n, a),
                Some(true),
                "{n} is a strong pseudoprime to {a}"
            );
        }
        for a in 2..60u64 {
            assert_eq!(
                mr_round(n, a),
                Some(is_sprp(n, &BigUint::from(a))),
                "{n} base {a}"
            );
        }
        // ...and random bases expose it.
        let mr = MillerRabin::<T>::new(uint(n, nlimbs_for(n)), n.bits() as usize).unwrap();
        let caught = (0..32).any(|_| !bool::from(mr.round(&mr.random_base(rng))));
        assert!(caught, "{n} survived 32 random bases");
    };
    for n in carmichael {
        check_composite(&BigUint::from(n), &[], &mut rng);
    }
    for (n, bases) in spsp {
        check_composite(&n.parse().unwrap(), bases, &mut rng);
    }
    // A product of two large primes with p - 1 | n - 1 structure: 2^255-19 times 2^127-1.
    let p1 = (BigUint::one() << 255) - 19u32;
    let p2 = (BigUint::one() << 127) - 1u32;
    check_composite(&(&p1 * &p2), &[], &mut rng);
}

#[test]
fn miller_rabin_round_accepts_primes_with_large_two_adic_valuation() {
    // p - 1 = 2^a m with a up to MAX_TWO_ADIC: the masked squaring loop must find -1 late.
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let mut found = 0;
    for a in [1usize, 2, 5, 16, 31, MAX_TWO_ADIC] {
        // Search k·2^a + 1 for a prime (oracle), k odd.
        let mut k = BigUint::from(0xfedc_ba98_7654_3211u64);
        loop {
            let p = (&k << a) + 1u32;
            if is_prime_oracle(&p, &mut rng) {
                for base in [2u64, 3, 5, 7, 11, 13] {
                    assert_eq!(mr_round(&p, base), Some(true), "prime with a = {a}");
                }
                found += 1;
                break;
            }
            k += 2u32;
        }
    }
    assert_eq!(found, 6);
    // a = MAX_TWO_ADIC + 1 is refused (supported() unset).
    let p = (BigUint::from(3u32) << (MAX_TWO_ADIC + 1)) + 1u32;
    assert_eq!(mr_round(&p, 2), None);
}

#[test]
fn miller_rabin_round_matches_oracle_on_random_odd_numbers() {
    let mut rng = ChaCha20Rng::seed_from_u64(14);
    let mut primes = 0;
    for i in 0..400 {
        let bits = 64 + (i % 3) * 40;
        let mut bytes = vec![0u8; bits / 8];
        rng.fill_bytes(&mut bytes);
        let mut n = BigUint::from_bytes_be(&bytes) | BigUint::one();
        n.set_bit(bits as u64 - 1, true);
        // Bias towards primes and pseudoprimes: product of a prime and 2p-1 half the time.
        let base = 2 + rng.next_u64() % 1000;
        if let Some(got) = mr_round(&n, base) {
            assert_eq!(got, is_sprp(&n, &BigUint::from(base)), "{n} base {base}");
            primes += usize::from(got);
        }
    }
    assert!(primes > 0);
}

/// Damgård-Landrock-Pomerance (1993), Theorem 2: for k ≥ 21 and 3 ≤ t ≤ k/9,
/// p_{k,t} < k^{3/2} 2^t t^{-1/2} 4^{2-√(tk)}; log2 of it.
fn dlp_log2(k: f64, t: f64) -> f64 {
    1.5 * k.log2() + t - 0.5 * t.log2() + 2.0 * (2.0 - (t * k).sqrt())
}

#[test]
fn miller_rabin_round_counts_reach_2_pow_minus_128() {
    // FIPS 186-5 Table B.1 (2^-128 column): 1536-bit primes 4 rounds, 2048-bit 2 rounds.
    assert!(miller_rabin_rounds(1536) >= 4);
    assert!(miller_rabin_rounds(2048) >= 2);
    // Table B.1 gives 5 rounds for 1024-bit primes at 2^-112 only; we need 2^-128.
    assert!(miller_rabin_rounds(1024) >= 5);
    for k in [512usize, 768, 1024, 1536, 2048, 3072, 4096] {
        let t = miller_rabin_rounds(k);
        assert!((t as f64) <= k as f64 / 9.0);
        assert!(dlp_log2(k as f64, t as f64) <= -128.0, "k = {k}, t = {t}");
    }
    // Below 512 bits: Rabin's worst-case bound 4^-t.
    for k in [128usize, 256, 384, 511] {
        assert!(2 * miller_rabin_rounds(k) >= 128);
    }
    let _ = BigUint::from(3u32).to_u64();
}

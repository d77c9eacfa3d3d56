//! Differential tests of the Montgomery kernels: the backend in use (BMI2/ADX assembly on
//! capable x86-64 CPUs) against the portable reference kernels, at every width from 1 to 128
//! limbs, on random and edge inputs; plus num-bigint as the oracle for `a * b * R^-1 mod n`.
//!
//! No test in this binary calls `force_portable`, so `mont_*_slices` run the detected backend.
//! Under valgrind (whose CPUID hides ADX) set `SPLIT_RSA_ASSUME_ADX=1` to run the assembly.

// Test code: a panic is a failure, and indexing is on lengths built here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{Limb, MAX_LIMBS};
use split_rsa::hazmat::backend::{
    active_backend, mont_mul_slices, mont_mul_slices_portable, mont_sqr_slices,
    mont_sqr_slices_portable,
};

/// `-n0^-1 mod 2^64` by Newton iteration (independent of the crate's own).
fn n0inv(n0: Limb) -> Limb {
    let mut x: Limb = 1;
    for _ in 0..7 {
        x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
    }
    assert_eq!(n0.wrapping_mul(x), 1);
    x.wrapping_neg()
}

fn random_limbs(rng: &mut ChaCha20Rng, k: usize) -> Vec<Limb> {
    (0..k).map(|_| rng.next_u64()).collect()
}

/// A random value below `n`: random low limbs, top limb strictly below `n`'s top limb (zero
/// for the modulus 1).
fn random_below(rng: &mut ChaCha20Rng, n: &[Limb]) -> Vec<Limb> {
    let k = n.len();
    if n == [1] {
        return vec![0];
    }
    let mut v = random_limbs(rng, k);
    v[k - 1] = rng.next_u64() % n[k - 1];
    v
}

fn one(k: usize) -> Vec<Limb> {
    let mut v = vec![0; k];
    v[0] = 1;
    v
}

fn minus_one(n: &[Limb]) -> Vec<Limb> {
    let mut v = n.to_vec();
    v[0] -= 1; // n is odd
    v
}

/// Moduli of `k` limbs: random with the top bit set, random with a small top limb, all-ones
/// (R - 1), 2^(64k-1) + 1, and for k = 1 also n = 1 and n = 3.
fn moduli(rng: &mut ChaCha20Rng, k: usize) -> Vec<Vec<Limb>> {
    let mut out = Vec::new();
    let mut n = random_limbs(rng, k);
    n[0] |= 1;
    n[k - 1] |= 1 << 63;
    out.push(n);
    let mut n = random_limbs(rng, k);
    n[0] |= 1;
    n[k - 1] = (n[k - 1] >> 40) | 1;
    out.push(n);
    out.push(vec![Limb::MAX; k]);
    let mut n = vec![0; k];
    n[0] = 1;
    n[k - 1] |= 1 << 63;
    out.push(n);
    if k == 1 {
        out.push(vec![1]);
        out.push(vec![3]);
    }
    out
}

/// Honour `SPLIT_RSA_ASSUME_ADX` (for valgrind, which executes ADX but hides its CPUID bit).
fn setup() {
    if std::env::var_os("SPLIT_RSA_ASSUME_ADX").is_some() {
        // SAFETY: whoever sets the variable vouches that the (emulated) CPU executes
        // MULX/ADCX/ADOX, as valgrind does.
        #[allow(unsafe_code)]
        unsafe {
            split_rsa::hazmat::backend::assume_adx_unchecked()
        };
    }
}

fn check_mul(a: &[Limb], b: &[Limb], n: &[Limb], ctx: &str) {
    let k = n.len();
    let inv = n0inv(n[0]);
    let mut got = vec![0; k];
    let mut want = vec![0; k];
    mont_mul_slices(&mut got, a, b, n, inv).unwrap();
    mont_mul_slices_portable(&mut want, a, b, n, inv).unwrap();
    assert_eq!(got, want, "mont_mul differs: k = {k}, {ctx}");
}

fn check_sqr(a: &[Limb], n: &[Limb], ctx: &str) {
    let k = n.len();
    let inv = n0inv(n[0]);
    let mut got = vec![0; k];
    let mut want = vec![0; k];
    mont_sqr_slices(&mut got, a, n, inv).unwrap();
    mont_sqr_slices_portable(&mut want, a, n, inv).unwrap();
    assert_eq!(got, want, "mont_sqr differs: k = {k}, {ctx}");
    // The square agrees with the multiplication too.
    mont_mul_slices(&mut want, a, a, n, inv).unwrap();
    assert_eq!(got, want, "mont_sqr != mont_mul(a, a): k = {k}, {ctx}");
}

#[test]
fn backend_detected() {
    setup();
    eprintln!("backend in use: {}", active_backend());
    #[cfg(target_arch = "x86_64")]
    eprintln!(
        "bmi2 {} adx {} avx2 {}",
        std::arch::is_x86_feature_detected!("bmi2"),
        std::arch::is_x86_feature_detected!("adx"),
        std::arch::is_x86_feature_detected!("avx2")
    );
    #[cfg(target_arch = "x86_64")]
    if std::env::var_os("SPLIT_RSA_ASSUME_ADX").is_some()
        || (std::arch::is_x86_feature_detected!("bmi2")
            && std::arch::is_x86_feature_detected!("adx"))
    {
        assert_eq!(active_backend(), "x86_64-bmi2-adx");
        return;
    }
    assert_eq!(active_backend(), "portable");
}

#[test]
fn mul_matches_portable_all_widths() {
    setup();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6261_636b_656e_6401);
    for k in 1..=MAX_LIMBS {
        for (mi, n) in moduli(&mut rng, k).iter().enumerate() {
            let zero = vec![0; k];
            // Edge values of a (any a < R, including R - 1) and of b (b < n).
            let edges_a = [zero.clone(), one(k), minus_one(n), vec![Limb::MAX; k]];
            let edges_b = [zero, one(k), minus_one(n)];
            for (i, a) in edges_a.iter().enumerate() {
                for (j, b) in edges_b.iter().enumerate() {
                    check_mul(a, b, n, &format!("modulus {mi}, edge a {i}, edge b {j}"));
                }
                let b = random_below(&mut rng, n);
                check_mul(a, &b, n, &format!("modulus {mi}, edge a {i}, random b"));
            }
            for t in 0..8 {
                let a = if t % 2 == 0 {
                    random_limbs(&mut rng, k)
                } else {
                    random_below(&mut rng, n)
                };
                let b = random_below(&mut rng, n);
                check_mul(&a, &b, n, &format!("modulus {mi}, random {t}"));
            }
        }
    }
}

#[test]
fn sqr_matches_portable_all_widths() {
    setup();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6261_636b_656e_6402);
    for k in 1..=MAX_LIMBS {
        for (mi, n) in moduli(&mut rng, k).iter().enumerate() {
            let edges = [vec![0; k], one(k), minus_one(n)];
            for (i, a) in edges.iter().enumerate() {
                check_sqr(a, n, &format!("modulus {mi}, edge {i}"));
            }
            for t in 0..8 {
                let a = random_below(&mut rng, n);
                check_sqr(&a, n, &format!("modulus {mi}, random {t}"));
            }
        }
    }
}

fn to_big(v: &[Limb]) -> BigUint {
    let bytes: Vec<u8> = v.iter().flat_map(|l| l.to_le_bytes()).collect();
    BigUint::from_bytes_le(&bytes)
}

/// num-bigint oracle: `out < n` and `out * R ≡ a * b (mod n)`, for the backend in use and the
/// portable kernels.
#[test]
fn oracle_num_bigint() {
    setup();
    let mut rng = ChaCha20Rng::seed_from_u64(0x6261_636b_656e_6403);
    type Mul = fn(&mut [Limb], &[Limb], &[Limb], &[Limb], Limb) -> split_rsa::Result<()>;
    type Sqr = fn(&mut [Limb], &[Limb], &[Limb], Limb) -> split_rsa::Result<()>;
    let kernels: [(&str, Mul, Sqr); 2] = [
        ("backend", mont_mul_slices, mont_sqr_slices),
        (
            "portable",
            mont_mul_slices_portable,
            mont_sqr_slices_portable,
        ),
    ];
    for k in [1usize, 2, 3, 7, 8, 9, 16, 24, 31, 48, 64, 96, 127, 128] {
        for n in moduli(&mut rng, k) {
            let inv = n0inv(n[0]);
            let nb = to_big(&n);
            let r = BigUint::from(1u8) << (64 * k);
            for t in 0..4 {
                let a = if t == 0 {
                    vec![Limb::MAX; k]
                } else {
                    random_limbs(&mut rng, k)
                };
                let b = random_below(&mut rng, &n);
                let s = random_below(&mut rng, &n);
                for (name, mul, sqr) in kernels {
                    let mut out = vec![0; k];
                    mul(&mut out, &a, &b, &n, inv).unwrap();
                    let o = to_big(&out);
                    assert!(
                        o < nb || (n == [1] && o == BigUint::ZERO),
                        "{name} k = {k}: not reduced"
                    );
                    assert_eq!(
                        (&o * &r) % &nb,
                        (to_big(&a) * to_big(&b)) % &nb,
                        "{name} mul, k = {k}"
                    );

                    sqr(&mut out, &s, &n, inv).unwrap();
                    let o = to_big(&out);
                    assert!(
                        o < nb || (n == [1] && o == BigUint::ZERO),
                        "{name} k = {k}: square not reduced"
                    );
                    let sb = to_big(&s);
                    assert_eq!((&o * &r) % &nb, (&sb * &sb) % &nb, "{name} sqr, k = {k}");
                }
            }
        }
    }
}

#[test]
fn wrong_lengths_are_refused() {
    setup();
    let n = vec![Limb::MAX; 4];
    let inv = n0inv(n[0]);
    let mut out = vec![0; 4];
    assert!(mont_mul_slices(&mut out, &[1; 3], &[1; 4], &n, inv).is_err());
    assert!(mont_mul_slices(&mut out, &[1; 4], &[1; 5], &n, inv).is_err());
    assert!(mont_sqr_slices(&mut out[..3], &[1; 4], &n, inv).is_err());
    assert!(mont_sqr_slices(&mut [], &[], &[], inv).is_err());
    let big = vec![Limb::MAX; MAX_LIMBS + 1];
    let mut out = vec![0; MAX_LIMBS + 1];
    assert!(mont_sqr_slices(&mut out, &big, &big, inv).is_err());
    assert!(mont_mul_slices_portable(&mut out, &big, &big, &big, inv).is_err());
}

/// Ring marker for the exponentiation test.
struct PowRing;

/// `Modulus::pow` (which runs the backend's kernels and its table selection) against
/// num-bigint's `modpow`, for several widths and exponent lengths covering window widths 1 to 6.
#[test]
fn pow_matches_num_bigint() {
    setup();
    use split_rsa::hazmat::arith::{Modulus, Uint};
    let mut rng = ChaCha20Rng::seed_from_u64(0x6261_636b_656e_6404);
    for k in [1usize, 3, 8, 13, 24, 48] {
        let n = moduli(&mut rng, k).swap_remove(0);
        let m = Modulus::<PowRing>::new(Uint::from_limbs(n.clone())).unwrap();
        let nb = to_big(&n);
        for exp_bits in [1usize, 5, 17, 100, 300, 1000, 64 * k] {
            let base = random_below(&mut rng, &n);
            let mut e = random_limbs(&mut rng, exp_bits.div_ceil(64));
            if exp_bits % 64 != 0 {
                let last = e.len() - 1;
                e[last] &= (1 << (exp_bits % 64)) - 1;
            }
            let got = m.from_monty(&m.pow(
                &m.to_monty(&Uint::from_limbs(base.clone())),
                &Uint::from_limbs(e.clone()),
                exp_bits,
            ));
            let want = to_big(&base).modpow(&to_big(&e), &nb);
            assert_eq!(
                to_big(got.as_limbs()),
                want,
                "k = {k}, exp_bits = {exp_bits}"
            );
        }
    }
}

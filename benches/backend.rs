//! Montgomery kernels and constant-time exponentiation: the BMI2/ADX backend against the
//! portable kernels and against OpenSSL's constant-time `BN_mod_exp`.
//!
//! Run: `cargo bench --bench backend -- --sample-size 20`. Compare medians from the same run.

// Test code: a panic is a failure, and indexing is on lengths built here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use openssl::bn::{BigNum, BigNumContext};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{Limb, Modulus, Uint};
use split_rsa::hazmat::backend::{
    active_backend, force_portable, mont_mul_slices, mont_mul_slices_portable, mont_sqr_slices,
    mont_sqr_slices_portable,
};

/// Ring marker for the benchmark modulus.
struct Bench;

fn n0inv(n0: Limb) -> Limb {
    let mut x: Limb = 1;
    for _ in 0..7 {
        x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

/// A random odd `k`-limb modulus with its top bit set, and two random values below it.
fn operands(rng: &mut ChaCha20Rng, k: usize) -> (Vec<Limb>, Vec<Limb>, Vec<Limb>) {
    let mut n: Vec<Limb> = (0..k).map(|_| rng.next_u64()).collect();
    n[0] |= 1;
    n[k - 1] |= 1 << 63;
    let mut a: Vec<Limb> = (0..k).map(|_| rng.next_u64()).collect();
    let mut b: Vec<Limb> = (0..k).map(|_| rng.next_u64()).collect();
    a[k - 1] >>= 1;
    b[k - 1] >>= 1;
    (n, a, b)
}

fn kernels(c: &mut Criterion) {
    eprintln!("backend in use: {}", active_backend());
    let mut rng = ChaCha20Rng::seed_from_u64(8);
    for bits in [3072usize, 6144] {
        let k = bits / 64;
        let (n, a, b) = operands(&mut rng, k);
        let inv = n0inv(n[0]);
        let mut out = vec![0; k];
        let mut g = c.benchmark_group(format!("mont_mul/{bits}"));
        g.bench_function("portable", |z| {
            z.iter(|| mont_mul_slices_portable(&mut out, black_box(&a), black_box(&b), &n, inv))
        });
        g.bench_function("backend", |z| {
            z.iter(|| mont_mul_slices(&mut out, black_box(&a), black_box(&b), &n, inv))
        });
        g.finish();
        let mut g = c.benchmark_group(format!("mont_sqr/{bits}"));
        g.bench_function("portable", |z| {
            z.iter(|| mont_sqr_slices_portable(&mut out, black_box(&a), &n, inv))
        });
        g.bench_function("backend", |z| {
            z.iter(|| mont_sqr_slices(&mut out, black_box(&a), &n, inv))
        });
        g.finish();
    }
}

fn to_be(v: &[Limb]) -> Vec<u8> {
    v.iter().rev().flat_map(|l| l.to_be_bytes()).collect()
}

fn modexp(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    for bits in [1536usize, 3072, 6144] {
        let k = bits / 64;
        let (n, a, mut e) = operands(&mut rng, k);
        e[k - 1] |= 1 << 63; // full-length exponent
        let m = Modulus::<Bench>::new(Uint::from_limbs(n.clone())).unwrap();
        let base = m.to_monty(&Uint::from_limbs(a.clone()));
        let exp = Uint::from_limbs(e.clone());

        let mut ctx = BigNumContext::new().unwrap();
        let mut on = BigNum::from_slice(&to_be(&n)).unwrap();
        let mut oa = BigNum::from_slice(&to_be(&a)).unwrap();
        let mut oe = BigNum::from_slice(&to_be(&e)).unwrap();
        on.set_const_time();
        oa.set_const_time();
        oe.set_const_time();
        let mut r = BigNum::new().unwrap();

        // Same answer from both.
        let ours = m.from_monty(&m.pow(&base, &exp, bits));
        r.mod_exp(&oa, &oe, &on, &mut ctx).unwrap();
        let mut want = vec![0u8; bits / 8];
        let rb = r.to_vec();
        want[bits / 8 - rb.len()..].copy_from_slice(&rb);
        assert_eq!(
            to_be(ours.as_limbs()),
            want,
            "pow disagrees with OpenSSL at {bits} bits"
        );

        let mut g = c.benchmark_group(format!("modexp_ct/{bits}"));
        g.bench_function(BenchmarkId::from_parameter("backend"), |z| {
            force_portable(false);
            z.iter(|| m.pow(black_box(&base), &exp, bits))
        });
        g.bench_function(BenchmarkId::from_parameter("portable"), |z| {
            force_portable(true);
            z.iter(|| m.pow(black_box(&base), &exp, bits));
            force_portable(false);
        });
        force_portable(false);
        g.bench_function(BenchmarkId::from_parameter("openssl"), |z| {
            z.iter(|| r.mod_exp(black_box(&oa), &oe, &on, &mut ctx).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, kernels, modexp);
criterion_main!(benches);

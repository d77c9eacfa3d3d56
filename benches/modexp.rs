//! Constant-time modular exponentiation: ours against OpenSSL (constant-time flag set),
//! crypto-bigint 0.7 (`BoxedMontyForm::pow`) and num-bigint (`modpow`, variable time), in the
//! same run (results in docs/benchmarks.md).
//!
//! At 1536, 3072 and 6144 bits: a random odd modulus with its top bit set, an exponent as long
//! as the modulus (top bit set), a random base below the modulus. Every contender computes
//! `base^exp mod n` from integers to an integer, so each measurement includes its conversions
//! into and out of Montgomery form; the Montgomery context of the modulus is built once,
//! outside the measurement, for ours and crypto-bigint (OpenSSL's `BN_mod_exp_mont_consttime`
//! builds its own inside every call: a division, small next to the exponentiation).
//!
//! Criterion group `modexp_<bits>`, functions `ours` (the backend chosen at run time),
//! `ours_portable` (forced portable kernels), `openssl_ct`, `crypto_bigint`,
//! `num_bigint`. Run: `cargo bench --bench modexp -- --sample-size 10`.

// Bench code: a panic is a failed setup; `missing_docs` for the items `criterion_group!` makes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use crypto_bigint::BoxedUint;
use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use num_bigint::BigUint;
use openssl::bn::{BigNum, BigNumContext};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{Modulus, Uint};
use split_rsa::hazmat::backend;

/// The ring marker of the benchmark modulus.
enum N {}

/// `bits`-bit random integer (big-endian bytes), top bit set, optionally odd.
fn random_be(r: &mut ChaCha20Rng, bits: usize, odd: bool) -> Vec<u8> {
    let mut v = vec![0u8; bits.div_ceil(8)];
    r.fill_bytes(&mut v);
    let top = (bits - 1) % 8;
    if let Some(b) = v.first_mut() {
        *b &= (1u16 << (top + 1)).wrapping_sub(1) as u8;
        *b |= 1 << top;
    }
    if odd && let Some(b) = v.last_mut() {
        *b |= 1;
    }
    v
}

fn bench_modexp(c: &mut Criterion) {
    let mut r = ChaCha20Rng::seed_from_u64(0x6d6f_6465_7870);
    for bits in [1536usize, 3072, 6144] {
        let n_be = random_be(&mut r, bits, true);
        let e_be = random_be(&mut r, bits, false);
        // A base below n: one bit shorter.
        let x_be = random_be(&mut r, bits - 1, false);
        let nl = bits.div_ceil(64);

        // Ours.
        let n = Uint::from_be_slice(&n_be, nl).expect("fits");
        let e = Uint::from_be_slice(&e_be, nl).expect("fits");
        let x = Uint::from_be_slice(&x_be, nl).expect("fits");
        let m = Modulus::<N>::new(n).expect("odd");
        let ours = || m.from_monty(&m.pow(&m.to_monty(black_box(&x)), black_box(&e), bits));

        // OpenSSL, constant-time flag on all three operands.
        let mut on = BigNum::from_slice(&n_be).expect("bn");
        let mut oe = BigNum::from_slice(&e_be).expect("bn");
        let mut ox = BigNum::from_slice(&x_be).expect("bn");
        on.set_const_time();
        oe.set_const_time();
        ox.set_const_time();
        let mut ctx = BigNumContext::new().expect("ctx");
        let mut out = BigNum::new().expect("bn");

        // crypto-bigint.
        let cn = BoxedUint::from_be_slice(&n_be, bits as u32).expect("fits");
        let ce = BoxedUint::from_be_slice(&e_be, bits as u32).expect("fits");
        let cx = BoxedUint::from_be_slice(&x_be, bits as u32).expect("fits");
        let params = BoxedMontyParams::new(cn.to_odd().expect("odd"));
        let cbig = |x: &BoxedUint| BoxedMontyForm::new(x.clone(), &params).pow(&ce).retrieve();

        // num-bigint.
        let (bn, be, bx) = (
            BigUint::from_bytes_be(&n_be),
            BigUint::from_bytes_be(&e_be),
            BigUint::from_bytes_be(&x_be),
        );

        // All four agree before anything is timed.
        let want = bx.modpow(&be, &bn);
        let (ours_be, _) = ours().to_be_bytes(n_be.len());
        assert_eq!(BigUint::from_bytes_be(&ours_be), want, "ours at {bits}");
        out.mod_exp(&ox, &oe, &on, &mut ctx).expect("mod_exp");
        assert_eq!(
            BigUint::from_bytes_be(&out.to_vec()),
            want,
            "openssl at {bits}"
        );
        assert_eq!(
            BigUint::from_bytes_be(&cbig(&cx).to_be_bytes()),
            want,
            "crypto-bigint at {bits}"
        );

        let mut g = c.benchmark_group(format!("modexp_{bits}"));
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("ours", |b| b.iter(ours));
        // The same code on the portable safe-Rust kernels (the reference and the fallback on
        // CPUs without BMI2/ADX), so both of our backends stand in the table.
        backend::force_portable(true);
        g.bench_function("ours_portable", |b| b.iter(ours));
        backend::force_portable(false);
        g.bench_function("openssl_ct", |b| {
            b.iter(|| {
                out.mod_exp(black_box(&ox), black_box(&oe), &on, &mut ctx)
                    .expect("mod_exp")
            })
        });
        g.bench_function("crypto_bigint", |b| b.iter(|| cbig(black_box(&cx))));
        g.bench_function("num_bigint", |b| {
            b.iter(|| black_box(&bx).modpow(black_box(&be), &bn))
        });
        g.finish();
    }
}

criterion_group!(benches, bench_modexp);
criterion_main!(benches);

//! Differential target: the constant-time arithmetic against num-bigint (the oracle).
//!
//! Input: a modulus, two operands and an exponent, carved from the fuzz bytes. Every
//! operation's result must equal num-bigint's, and the two Montgomery backends (the x86-64
//! BMI2/ADX assembly where the CPU has it, and the portable reference) must agree exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigUint;
use split_rsa::hazmat::arith::{Modulus, Uint, garner, inv_small_prime_mod};
use split_rsa::hazmat::backend;

enum Ring {}
enum Other {}

fn big(x: &Uint) -> BigUint {
    let (b, _) = x.to_be_bytes(x.nlimbs() * 8);
    BigUint::from_bytes_be(&b)
}

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let n = n.min(data.len());
    let (h, t) = data.split_at(n);
    *data = t;
    h
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let Some((&sizes, rest)) = data.split_first() else {
        return;
    };
    data = rest;
    // Modulus of 1..=16 limbs (64..1024 bits) keeps each run fast; operands up to 2x wider.
    let nbytes = 8 * (1 + (sizes & 0x0f) as usize);
    let nb = take(&mut data, nbytes);
    if nb.len() != nbytes {
        return;
    }
    let mut nb = nb.to_vec();
    if let Some(last) = nb.last_mut() {
        *last |= 1;
    }
    let n = Uint::from_be_bytes(&nb);
    let nn = BigUint::from_bytes_be(&nb);
    let Some(m) = Modulus::<Ring>::new(n.clone()) else {
        panic!("odd modulus refused")
    };
    let a = Uint::from_be_bytes(take(&mut data, 2 * nbytes));
    let b = Uint::from_be_bytes(take(&mut data, nbytes));
    let e = Uint::from_be_bytes(take(&mut data, nbytes));
    let (ab, bb, eb) = (big(&a), big(&b), big(&e));

    let am = m.to_monty(&a);
    let bm = m.to_monty(&b);
    assert_eq!(big(&m.from_monty(&am)), &ab % &nn, "to_monty");
    assert_eq!(
        big(&m.from_monty(&m.mul(&am, &bm))),
        (&ab * &bb) % &nn,
        "mul"
    );
    assert_eq!(
        big(&m.from_monty(&m.square(&am))),
        (&ab * &ab) % &nn,
        "square"
    );
    assert_eq!(
        big(&m.from_monty(&m.add(&am, &bm))),
        (&ab + &bb) % &nn,
        "add"
    );
    assert_eq!(
        big(&m.from_monty(&m.sub(&am, &bm))),
        ((&ab % &nn) + &nn - (&bb % &nn)) % &nn,
        "sub"
    );
    let want = (&ab % &nn).modpow(&eb, &nn);
    assert_eq!(
        big(&m.from_monty(&m.pow(&am, &e, e.bits_precision()))),
        want,
        "pow"
    );
    assert_eq!(
        big(&m.from_monty(&m.pow_vartime(&am, &e))),
        want,
        "pow_vartime"
    );

    // Both backends: the raw kernels on the same limbs, and a whole exponentiation.
    let k = n.nlimbs();
    let n0inv = {
        let n0 = n.as_limbs()[0];
        let mut x = n0;
        for _ in 0..5 {
            x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
        }
        x.wrapping_neg()
    };
    let am_l = am.as_montgomery().as_limbs();
    let bm_l = bm.as_montgomery().as_limbs();
    let (mut o1, mut o2) = (vec![0u64; k], vec![0u64; k]);
    backend::mont_mul_slices(&mut o1, am_l, bm_l, n.as_limbs(), n0inv).unwrap();
    backend::mont_mul_slices_portable(&mut o2, am_l, bm_l, n.as_limbs(), n0inv).unwrap();
    assert_eq!(o1, o2, "mont_mul backends differ");
    backend::mont_sqr_slices(&mut o1, am_l, n.as_limbs(), n0inv).unwrap();
    backend::mont_sqr_slices_portable(&mut o2, am_l, n.as_limbs(), n0inv).unwrap();
    assert_eq!(o1, o2, "mont_sqr backends differ");
    // a < R with b < n is allowed for mont_mul (reduction of wide values relies on it).
    let a_raw: Vec<u64> = a
        .as_limbs()
        .iter()
        .copied()
        .chain(core::iter::repeat(0))
        .take(k)
        .collect();
    backend::mont_mul_slices(&mut o1, &a_raw, bm_l, n.as_limbs(), n0inv).unwrap();
    backend::mont_mul_slices_portable(&mut o2, &a_raw, bm_l, n.as_limbs(), n0inv).unwrap();
    assert_eq!(o1, o2, "mont_mul backends differ for a < R");
    backend::force_portable(true);
    let portable = big(&m.from_monty(&m.pow(&am, &e, e.bits_precision())));
    backend::force_portable(false);
    assert_eq!(portable, want, "pow on the portable kernels");

    // Wide arithmetic.
    assert_eq!(big(&a.mul_wide(&b)), &ab * &bb, "mul_wide");
    assert_eq!(bool::from(a.ct_lt(&b)), ab < bb, "ct_lt");
    assert_eq!(bool::from(a.ct_eq(&b)), ab == bb, "ct_eq");

    // e^-1 mod m for e = 65537 (m odd here; the even case is covered by unit tests).
    let (d, ok) = inv_small_prime_mod(65537, &n);
    let has_inverse = &nn % 65537u32 != BigUint::from(0u32);
    assert_eq!(bool::from(ok), has_inverse, "inv exists");
    if has_inverse && nn > BigUint::from(1u32) {
        assert_eq!(
            (big(&d) * 65537u32) % &nn,
            BigUint::from(1u32) % &nn,
            "inv_small_prime_mod"
        );
    }

    // Garner with a second, small odd modulus coprime to n (when it is).
    let n2v = 0xffff_ffff_ffff_ffc5u64; // the largest prime below 2^64
    let n2 = Uint::from_u64(n2v, 1);
    if let Some(m2) = Modulus::<Other>::new(n2) {
        let n_mod = m2.to_monty(&n);
        if !bool::from(n_mod.is_zero()) {
            let inv = m2.inv_prime(&n_mod);
            let s1 = m.from_monty(&am);
            let s2 = m2.from_monty(&m2.to_monty(&b));
            let s = big(&garner(&s1, &m, &s2, &m2, &inv));
            assert_eq!(&s % &nn, big(&s1), "garner mod n1");
            assert_eq!(&s % n2v, big(&s2), "garner mod n2");
            assert!(s < &nn * n2v, "garner range");
        }
    }
});

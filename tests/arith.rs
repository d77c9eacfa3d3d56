//! Property tests of the constant-time arithmetic (`src/arith/`) against num-bigint, the
//! variable-time oracle.
//!
//! Every operation is checked at random sizes from 64 to 8192 bits (and products up to
//! 16384 bits), with edge values mixed in: 0, 1, n-1, all-ones limbs, sparse limbs, moduli of
//! one limb, moduli with leading zero limbs, exponents 0 and 1, exponents longer than the
//! modulus, and operands of different widths. All randomness is seeded (ChaCha20), so a
//! failure reproduces; each test prints its seed and the case in its assertion message.

// Test code: a panic is a test failure, which is what these lints guard against elsewhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{
    LIMB_BITS, LIMB_BYTES, MAX_LIMBS, Modulus, Residue, Uint, garner, inv_small_prime_mod,
};
use subtle::Choice;

/// Ring markers.
enum Ra {}
enum Rb {}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

// ---------------------------------------------------------------------------------------------
// Conversions between the oracle and `Uint` (through limbs only, never through the code under
// test's byte conversions).

fn big(x: &Uint) -> BigUint {
    let mut bytes = Vec::with_capacity(x.nlimbs() * LIMB_BYTES);
    for l in x.as_limbs() {
        bytes.extend_from_slice(&l.to_le_bytes());
    }
    BigUint::from_bytes_le(&bytes)
}

/// `x` as a `Uint` of `nlimbs` limbs; panics if it does not fit.
fn uint(x: &BigUint, nlimbs: usize) -> Uint {
    let mut d = x.to_u64_digits();
    assert!(
        d.len() <= nlimbs,
        "oracle value does not fit {nlimbs} limbs"
    );
    d.resize(nlimbs, 0);
    Uint::from_limbs(d)
}

fn pow2(bits: usize) -> BigUint {
    BigUint::one() << bits
}

fn b(c: Choice) -> bool {
    bool::from(c)
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// A random bit count in 64..=8192, biased towards the RSA sizes and to odd bit counts.
fn rand_bits(r: &mut ChaCha20Rng) -> usize {
    match r.next_u32() % 8 {
        0 => [64, 128, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192][(r.next_u32() % 10) as usize],
        1 => 64 + (r.next_u32() % 200) as usize,
        _ => 64 + (r.next_u32() as usize % (8192 - 64 + 1)),
    }
}

fn limbs_for(bits: usize) -> usize {
    bits.div_ceil(LIMB_BITS)
}

/// A random value of at most `bits` bits, in `nlimbs` limbs, of one of several shapes.
fn rand_value(r: &mut ChaCha20Rng, bits: usize, nlimbs: usize) -> Uint {
    let nl = limbs_for(bits).min(nlimbs);
    let mut v = vec![0u64; nlimbs];
    let shape = r.next_u32() % 10;
    for (i, l) in v.iter_mut().enumerate().take(nl) {
        *l = match shape {
            0 => 0,                                                      // zero
            1 if i == 0 => 1,                                            // one
            1 => 0,                                                      //
            2 => u64::MAX,                                               // all-ones limbs
            3 => [0, u64::MAX, 1, 1 << 63][(r.next_u32() % 4) as usize], // sparse limbs
            4 if i + 1 == nl => u64::MAX, // top limb all ones, rest random
            _ => r.next_u64(),
        };
    }
    let mut x = Uint::from_limbs(v);
    x.truncate_bits(bits);
    x
}

/// A random odd modulus of exactly `bits` bits (top bit set), in `limbs_for(bits)` limbs, or
/// one of the edge shapes (all ones; 2^(bits-1)+1; leading zero limbs when `wide`).
fn rand_modulus(r: &mut ChaCha20Rng, bits: usize) -> BigUint {
    let shape = r.next_u32() % 8;
    let n = match shape {
        0 => pow2(bits) - 1u32,     // all ones
        1 => pow2(bits - 1) + 1u32, // 100..001
        _ => {
            let mut bytes = vec![0u8; bits.div_ceil(8)];
            r.fill_bytes(&mut bytes);
            let x = BigUint::from_bytes_le(&bytes) % pow2(bits);
            x | pow2(bits - 1) | BigUint::one()
        }
    };
    debug_assert_eq!(n.bits() as usize, bits);
    n
}

/// A random value below `n`, with the edges 0, 1, n-1 mixed in.
fn rand_below(r: &mut ChaCha20Rng, n: &BigUint) -> BigUint {
    match r.next_u32() % 8 {
        0 => BigUint::zero(),
        1 => BigUint::one() % n,
        2 => n - 1u32,
        _ => {
            let bits = n.bits() as usize;
            let x = big(&rand_value(r, bits, limbs_for(bits)));
            x % n
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Uint.

#[test]
fn uint_add_sub_widths() {
    let mut r = rng(1);
    for case in 0..300 {
        let (ba, bb) = (rand_bits(&mut r), rand_bits(&mut r));
        let (na, nb) = (limbs_for(ba), limbs_for(bb));
        let x = rand_value(&mut r, ba, na);
        let y = rand_value(&mut r, bb, nb);
        let (xb, yb) = (big(&x), big(&y));
        let m = pow2(na * LIMB_BITS);
        let yt = &yb % &m; // rhs read truncated to self's width

        let mut s = x.clone();
        let carry = s.adc_assign(&y);
        let sum = &xb + &yt;
        assert_eq!(big(&s), &sum % &m, "add case {case} ({ba}+{bb} bits)");
        assert_eq!(carry, u64::from(sum >= m), "add carry case {case}");
        assert_eq!(s.nlimbs(), na);

        let mut d = x.clone();
        let borrow = d.sbb_assign(&y);
        let expect = (&xb + &m - &yt) % &m;
        assert_eq!(big(&d), expect, "sub case {case}");
        assert_eq!(borrow, u64::from(xb < yt), "sub borrow case {case}");

        // Small-operand forms.
        let v = r.next_u64();
        let mut s = x.clone();
        let c = s.add_u64_assign(v);
        let sum = &xb + v;
        assert_eq!(big(&s), &sum % &m);
        assert_eq!(c, u64::from(sum >= m));
        let mut d = x.clone();
        let c = d.sub_u64_assign(v);
        assert_eq!(big(&d), (&xb + &m - v) % &m);
        assert_eq!(c, u64::from(xb < BigUint::from(v)));
        let mut p = x.clone();
        let hi = p.mul_u64_assign(v);
        let prod = &xb * v;
        assert_eq!(big(&p), &prod % &m);
        assert_eq!(BigUint::from(hi), &prod >> (na * LIMB_BITS));
    }
    // Carry/borrow chains through every limb.
    for nl in [1, 2, 7, MAX_LIMBS] {
        let mut x = Uint::from_limbs(vec![u64::MAX; nl]);
        assert_eq!(x.add_u64_assign(1), 1);
        assert!(b(x.is_zero()));
        assert_eq!(x.sub_u64_assign(1), 1);
        assert_eq!(big(&x), pow2(nl * 64) - 1u32);
        let mut y = Uint::from_limbs(vec![u64::MAX; nl]);
        assert_eq!(y.adc_assign(&Uint::one(1)), 1);
        assert!(b(y.is_zero()));
        assert_eq!(y.sbb_assign(&Uint::one(nl + 3)), 1);
        assert_eq!(big(&y), pow2(nl * 64) - 1u32);
    }
}

#[test]
fn uint_compare() {
    let mut r = rng(2);
    for case in 0..400 {
        let (ba, bb) = (rand_bits(&mut r), rand_bits(&mut r));
        let x = rand_value(&mut r, ba, limbs_for(ba));
        // Sometimes the same value in another width, or a near neighbour.
        let y = match r.next_u32() % 4 {
            0 => x.resize(limbs_for(bb).max(limbs_for(ba))),
            1 => {
                let mut y = x.resize(limbs_for(ba) + 1);
                y.add_u64_assign(1);
                y
            }
            _ => rand_value(&mut r, bb, limbs_for(bb)),
        };
        let (xb, yb) = (big(&x), big(&y));
        assert_eq!(b(x.ct_eq(&y)), xb == yb, "eq case {case}");
        assert_eq!(b(subtle::ConstantTimeEq::ct_eq(&x, &y)), xb == yb);
        assert_eq!(b(x.ct_lt(&y)), xb < yb, "lt case {case}");
        assert_eq!(b(y.ct_lt(&x)), yb < xb, "gt case {case}");
        assert_eq!(b(x.is_zero()), xb.is_zero());
        assert_eq!(b(x.is_odd()), xb.is_odd());
        let v = match r.next_u32() % 3 {
            0 => x.as_limbs()[0],
            1 => x.as_limbs()[0].wrapping_add(1),
            _ => r.next_u64(),
        };
        assert_eq!(
            b(x.ct_lt_u64(v)),
            xb < BigUint::from(v),
            "lt_u64 case {case}"
        );
        assert_eq!(x.bits_vartime(), xb.bits() as usize);
    }
    assert!(b(Uint::zero(0).is_zero()));
    assert!(b(Uint::zero(3).ct_eq(&Uint::zero(0))));
    assert!(!b(Uint::zero(3).ct_lt(&Uint::zero(1))));
    assert!(b(Uint::zero(2).ct_lt_u64(1)));
    assert!(!b(Uint::zero(2).ct_lt_u64(0)));
    assert_eq!(Uint::zero(5).bits_vartime(), 0);
}

#[test]
fn uint_select_swap() {
    let mut r = rng(3);
    for _ in 0..100 {
        let bits = rand_bits(&mut r);
        let nl = limbs_for(bits);
        let x = rand_value(&mut r, bits, nl);
        let y = rand_value(&mut r, bits, nl);
        for c in [0u8, 1] {
            let c = Choice::from(c);
            let sel = Uint::conditional_select(&x, &y, c);
            let want = if b(c) { &y } else { &x };
            assert_eq!(big(&sel), big(want));
            assert_eq!(sel.nlimbs(), nl);
            let mut a = x.clone();
            a.conditional_assign(&y, c);
            assert_eq!(big(&a), big(want));
            let (mut p, mut q) = (x.clone(), y.clone());
            Uint::conditional_swap(&mut p, &mut q, c);
            let (wp, wq) = if b(c) { (&y, &x) } else { (&x, &y) };
            assert_eq!(big(&p), big(wp));
            assert_eq!(big(&q), big(wq));
        }
        // Different width: other read zero-extended / truncated into self's width.
        let z = rand_value(&mut r, 8192, MAX_LIMBS);
        let sel = Uint::conditional_select(&x, &z, Choice::from(1));
        assert_eq!(sel.nlimbs(), nl);
        assert_eq!(big(&sel), big(&z) % pow2(nl * 64));
    }
}

#[test]
fn uint_bits_and_shifts() {
    let mut r = rng(4);
    for case in 0..200 {
        let bits = rand_bits(&mut r);
        let nl = limbs_for(bits);
        let x = rand_value(&mut r, bits, nl);
        let xb = big(&x);
        let m = pow2(nl * 64);

        let mut s = x.clone();
        let out = s.shl1_assign();
        assert_eq!(big(&s), (&xb << 1usize) % &m, "shl1 case {case}");
        assert_eq!(out, u64::from(xb.bit(nl as u64 * 64 - 1)));
        let mut s = x.clone();
        let out = s.shr1_assign();
        assert_eq!(big(&s), &xb >> 1usize, "shr1 case {case}");
        assert_eq!(out, u64::from(xb.bit(0)));

        for _ in 0..20 {
            let pos = (r.next_u32() as usize) % (nl * 64 + 130);
            assert_eq!(b(x.bit(pos)), xb.bit(pos as u64), "bit {pos} case {case}");
            let w = 1 + (r.next_u32() as usize % 64);
            let want = (&xb >> pos) % pow2(w);
            assert_eq!(
                BigUint::from(x.bits_at(pos, w)),
                want,
                "bits_at({pos},{w}) case {case}"
            );
            let mut t = x.clone();
            t.set_bit(pos);
            let want = if pos < nl * 64 {
                &xb | pow2(pos)
            } else {
                xb.clone()
            };
            assert_eq!(big(&t), want, "set_bit {pos}");
            let mut t = x.clone();
            t.truncate_bits(pos);
            assert_eq!(big(&t), &xb % pow2(pos), "truncate_bits {pos}");
        }
        let w = 1 + (r.next_u32() as usize % (MAX_LIMBS + 3));
        let t = x.resize(w);
        assert_eq!(t.nlimbs(), w);
        assert_eq!(big(&t), &xb % pow2(w * 64));
        assert_eq!(x.bits_precision(), nl * 64);
    }
    let mut t = Uint::from_limbs(vec![u64::MAX; 3]);
    t.truncate_bits(0);
    assert!(b(t.is_zero()));
    let one = Uint::one(4);
    assert_eq!(one.nlimbs(), 4);
    assert_eq!(big(&one), BigUint::one());
    assert_eq!(big(&Uint::from_u64(77, 2)), BigUint::from(77u32));
    assert_eq!(Uint::from_u64(77, 0).nlimbs(), 0);
}

#[test]
fn uint_mul_wide() {
    let mut r = rng(5);
    for case in 0..120 {
        let (ba, bb) = (rand_bits(&mut r), rand_bits(&mut r));
        let x = rand_value(&mut r, ba, limbs_for(ba));
        let y = rand_value(&mut r, bb, limbs_for(bb));
        let p = x.mul_wide(&y);
        assert_eq!(p.nlimbs(), x.nlimbs() + y.nlimbs());
        assert_eq!(
            big(&p),
            big(&x) * big(&y),
            "mul_wide case {case} ({ba}x{bb})"
        );
    }
    let ones = Uint::from_limbs(vec![u64::MAX; MAX_LIMBS]);
    assert_eq!(
        big(&ones.mul_wide(&ones)),
        (pow2(8192) - 1u32) * (pow2(8192) - 1u32)
    );
}

#[test]
fn uint_bytes() {
    let mut r = rng(6);
    for case in 0..300 {
        let bits = rand_bits(&mut r);
        let nl = limbs_for(bits);
        let x = rand_value(&mut r, bits, nl);
        let xb = big(&x);
        let minimal = xb.to_bytes_be();
        let minimal: &[u8] = if xb.is_zero() { &[] } else { &minimal };

        // Fixed-width output: exact, longer (left-padded), shorter (fits or not).
        let len = match r.next_u32() % 4 {
            0 => nl * 8,
            1 => nl * 8 + 1 + (r.next_u32() as usize % 20),
            2 => minimal.len(),
            _ => r.next_u32() as usize % (nl * 8 + 1),
        };
        let (out, fit) = x.to_be_bytes(len);
        assert_eq!(out.len(), len);
        let fits = minimal.len() <= len;
        assert_eq!(b(fit), fits, "fit case {case} len {len}");
        let want = big_to_fixed(&(&xb % pow2(len * 8)), len);
        assert_eq!(&out[..], &want[..], "to_be_bytes case {case} len {len}");
        let mut buf = vec![0xAAu8; len];
        assert_eq!(b(x.write_be_bytes(&mut buf)), fits);
        assert_eq!(buf, want);

        // Parsing: fixed width, wider, too long.
        let enc = big_to_fixed(&xb, nl * 8);
        let y = Uint::from_be_slice(&enc, nl).expect("fits");
        assert_eq!(big(&y), xb);
        assert_eq!(y.nlimbs(), nl);
        let y = Uint::from_be_slice(minimal, nl + 2).expect("fits");
        assert_eq!((big(&y), y.nlimbs()), (xb.clone(), nl + 2));
        let mut long = vec![0u8; nl * 8 + 1];
        long[1..].copy_from_slice(&enc);
        assert!(
            Uint::from_be_slice(&long, nl).is_none(),
            "too long input is rejected, even zeros"
        );
        let y = Uint::from_be_bytes(&long);
        assert_eq!(big(&y), xb);
        assert_eq!(y.nlimbs(), nl + 1);
        // Odd lengths (not multiples of 8).
        let k = 1 + r.next_u32() as usize % 70;
        let mut odd = vec![0u8; k];
        r.fill_bytes(&mut odd);
        let y = Uint::from_be_bytes(&odd);
        assert_eq!(y.nlimbs(), k.div_ceil(8));
        assert_eq!(big(&y), BigUint::from_bytes_be(&odd));
    }
    let z = Uint::from_be_bytes(&[]);
    assert_eq!(z.nlimbs(), 1);
    assert!(b(z.is_zero()));
    assert!(Uint::from_be_slice(&[], 0).is_some());
    assert!(Uint::from_be_slice(&[0], 0).is_none());
    let (out, fit) = Uint::from_u64(0x0102, 1).to_be_bytes(0);
    assert!(out.is_empty() && !b(fit));
    let (out, fit) = Uint::zero(2).to_be_bytes(0);
    assert!(out.is_empty() && b(fit));
}

fn big_to_fixed(x: &BigUint, len: usize) -> Vec<u8> {
    let mut v = if x.is_zero() { vec![] } else { x.to_bytes_be() };
    assert!(v.len() <= len);
    let mut out = vec![0u8; len - v.len()];
    out.append(&mut v);
    out
}

#[test]
fn debug_prints_no_value() {
    let x = Uint::from_u64(0xdead_beef_1234_5678, 2);
    let s = format!("{x:?}");
    assert!(s.contains("128") && !s.to_lowercase().contains("deadbeef") && !s.contains("1600"));
    let m = Modulus::<Ra>::new(Uint::from_u64(0xdead_beef_1234_5679, 1)).expect("odd");
    let a = m.to_monty(&x);
    for s in [format!("{m:?}"), format!("{a:?}")] {
        assert!(!s.contains(&format!("{}", 0xdead_beef_1234_5679u64)), "{s}");
        assert!(!s.to_lowercase().contains("deadbeef"), "{s}");
    }
}

// ---------------------------------------------------------------------------------------------
// Montgomery.

#[test]
fn modulus_new() {
    let mut r = rng(7);
    for _ in 0..40 {
        let bits = rand_bits(&mut r);
        let n = rand_modulus(&mut r, bits);
        let nl = limbs_for(bits);
        let m = Modulus::<Ra>::new(uint(&n, nl)).expect("odd modulus accepted");
        assert_eq!(big(m.modulus()), n);
        assert_eq!(m.nlimbs(), nl);
        assert_eq!(m.bits_vartime(), bits);
        // one() is R mod n; from_monty(one) = 1.
        assert_eq!(big(m.one().as_montgomery()), pow2(nl * 64) % &n);
        assert_eq!(big(&m.from_monty(&m.one())), BigUint::one());
        assert!(b(m.zero().is_zero()));
        // Even: rejected (also n + 1 for odd n, and 0).
        assert!(Modulus::<Ra>::new(uint(&(&n + 1u32), nl + 1)).is_none());
        assert!(Modulus::<Ra>::new(uint(&(&n - 1u32), nl)).is_none());
    }
    assert!(Modulus::<Ra>::new(Uint::zero(4)).is_none());
    assert!(Modulus::<Ra>::new(Uint::zero(0)).is_none());
    assert!(Modulus::<Ra>::new(Uint::from_u64(2, 1)).is_none());
    let mut too_wide = Uint::zero(MAX_LIMBS + 1);
    too_wide.set_bit(0);
    assert!(Modulus::<Ra>::new(too_wide).is_none());
    let mut widest = Uint::from_limbs(vec![u64::MAX; MAX_LIMBS]);
    widest.set_bit(0);
    assert!(Modulus::<Ra>::new(widest).is_some());
    assert!(Modulus::<Ra>::new(Uint::from_u64(3, 1)).is_some());
}

/// A random modulus context: mostly exact-width moduli, sometimes with leading zero limbs.
fn rand_ctx(r: &mut ChaCha20Rng, bits: usize) -> (Modulus<Ra>, BigUint) {
    let n = rand_modulus(r, bits);
    let extra = if r.next_u32().is_multiple_of(6) {
        1 + (r.next_u32() as usize % 3)
    } else {
        0
    };
    let nl = (limbs_for(bits) + extra).min(MAX_LIMBS);
    (Modulus::new(uint(&n, nl)).expect("odd"), n)
}

#[test]
fn to_monty_any_width() {
    let mut r = rng(8);
    let mut sizes: Vec<(usize, usize)> = vec![
        (3072, 6144),
        (64, 8192),
        (8192, 16384),
        (1536, 3072),
        (64, 64),
        (128, 64),
        (4096, 64),
        (3072, 3072),
        (3000, 6100),
    ];
    for _ in 0..60 {
        let nb = rand_bits(&mut r);
        let xb = rand_bits(&mut r) * (1 + r.next_u32() as usize % 2);
        sizes.push((nb, xb));
    }
    for (case, (nb, xbits)) in sizes.into_iter().enumerate() {
        let (m, n) = rand_ctx(&mut r, nb);
        let nl = m.nlimbs();
        let x = rand_value(&mut r, xbits, limbs_for(xbits));
        let xv = big(&x);
        let a = m.to_monty(&x);
        let rr = pow2(nl * 64);
        assert_eq!(
            big(a.as_montgomery()),
            (&xv * &rr) % &n,
            "to_monty case {case} {xbits} mod {nb}"
        );
        assert_eq!(a.as_montgomery().nlimbs(), nl);
        let back = m.from_monty(&a);
        assert_eq!(back.nlimbs(), nl);
        assert_eq!(big(&back), &xv % &n, "from_monty case {case}");
        // Edge values n-1, n, n+1, k*n, k*n - 1 in a wide integer.
        for v in [
            &n - 1u32,
            n.clone(),
            &n + 1u32,
            &n * &n,
            &n * &n - 1u32,
            &n * 12345u32,
        ] {
            let w = limbs_for(v.bits() as usize).max(1);
            let a = m.to_monty(&uint(&v, w));
            assert_eq!(big(&m.from_monty(&a)), &v % &n);
        }
    }
}

#[test]
fn residue_ops() {
    let mut r = rng(9);
    for case in 0..150 {
        let bits = if case < 10 { 64 } else { rand_bits(&mut r) };
        let (m, n) = rand_ctx(&mut r, bits);
        let nl = m.nlimbs();
        let (xa, xb) = (rand_below(&mut r, &n), rand_below(&mut r, &n));
        let a = m.to_monty(&uint(&xa, nl));
        let bb = m.to_monty(&uint(&xb, nl));
        let val = |x: &Residue<Ra>| big(&m.from_monty(x));
        let ctx = format!("case {case}, {bits}-bit n, {nl} limbs");

        let p = m.mul(&a, &bb);
        assert_eq!(val(&p), (&xa * &xb) % &n, "mul {ctx}");
        assert!(big(p.as_montgomery()) < n, "mul reduced {ctx}");
        let s = m.square(&a);
        assert_eq!(val(&s), (&xa * &xa) % &n, "square {ctx}");
        assert!(big(s.as_montgomery()) < n);
        let s = m.add(&a, &bb);
        assert_eq!(val(&s), (&xa + &xb) % &n, "add {ctx}");
        assert!(big(s.as_montgomery()) < n);
        let s = m.sub(&a, &bb);
        assert_eq!(val(&s), (&xa + &n - &xb) % &n, "sub {ctx}");
        assert!(big(s.as_montgomery()) < n);
        let s = m.neg(&a);
        assert_eq!(val(&s), (&n - &xa) % &n, "neg {ctx}");
        assert!(big(s.as_montgomery()) < n);
        assert_eq!(b(m.ct_eq(&a, &bb)), xa == xb);
        assert!(b(a.ct_eq(&a.clone())));
        assert_eq!(b(subtle::ConstantTimeEq::ct_eq(&a, &bb)), xa == xb);
        assert_eq!(b(a.is_zero()), xa.is_zero());
        let sel = Residue::conditional_select(&a, &bb, Choice::from(1));
        assert_eq!(val(&sel), xb);
        let sel = Residue::conditional_select(&a, &bb, Choice::from(0));
        assert_eq!(val(&sel), xa);
    }
    // The largest residues: (n-1)^2 with all-ones moduli of every limb count in a range.
    for nl in [1, 2, 3, 8, 48, MAX_LIMBS] {
        let n = pow2(nl * 64) - 1u32;
        let m = Modulus::<Ra>::new(uint(&n, nl)).expect("odd");
        let a = m.to_monty(&uint(&(&n - 1u32), nl));
        assert_eq!(big(&m.from_monty(&m.square(&a))), BigUint::one());
        assert_eq!(big(&m.from_monty(&m.mul(&a, &a))), BigUint::one());
        assert_eq!(big(&m.from_monty(&m.add(&a, &a))), &n - 2u32);
    }
}

// ---------------------------------------------------------------------------------------------
// Exponentiation.

#[test]
fn pow_ct_and_vartime() {
    let mut r = rng(10);
    // (modulus bits, exponent bits): the sizes, plus random ones.
    let mut cases: Vec<(usize, usize)> = vec![
        (64, 64),
        (64, 1),
        (64, 300),
        (128, 2),
        (1024, 1024),
        (1536, 1536),
        (3072, 3072),
        (2048, 17),
        (512, 4096), // exponent longer than the modulus
        (8192, 200),
    ];
    for _ in 0..30 {
        let nb = rand_bits(&mut r).min(2048);
        let eb = match r.next_u32() % 4 {
            0 => 1 + r.next_u32() as usize % 40,
            1 => nb + 1 + r.next_u32() as usize % 200,
            _ => 1 + r.next_u32() as usize % nb,
        };
        cases.push((nb, eb));
    }
    for (case, (nb, eb)) in cases.into_iter().enumerate() {
        let (m, n) = rand_ctx(&mut r, nb);
        let nl = m.nlimbs();
        let x = rand_below(&mut r, &n);
        let base = m.to_monty(&uint(&x, nl));
        let e = rand_value(&mut r, eb, limbs_for(eb));
        let ev = big(&e);
        let ctx = format!("case {case}: {nb}-bit n, {eb}-bit e");
        // exp_bits = exact width, the full precision, shorter (ignores high bits), longer.
        let short = 1 + r.next_u32() as usize % eb;
        for exp_bits in [
            eb,
            e.bits_precision(),
            short,
            eb + 1 + r.next_u32() as usize % 130,
        ] {
            let got = big(&m.from_monty(&m.pow(&base, &e, exp_bits)));
            let want = x.modpow(&(&ev % pow2(exp_bits)), &n);
            assert_eq!(got, want, "pow {ctx}, exp_bits {exp_bits}");
        }
        let got = big(&m.from_monty(&m.pow_vartime(&base, &e)));
        assert_eq!(got, x.modpow(&ev, &n), "pow_vartime {ctx}");
    }
    // Exponent 0 and 1, exp_bits 0, base 0 and 1.
    for nb in [64, 65, 1024, 3072] {
        let (m, n) = rand_ctx(&mut r, nb);
        let nl = m.nlimbs();
        let x = rand_below(&mut r, &n);
        let base = m.to_monty(&uint(&x, nl));
        let val = |a: &Residue<Ra>| big(&m.from_monty(a));
        for w in [1, 2, nl] {
            let zero = Uint::zero(w);
            let one = Uint::one(w);
            for exp_bits in [0, 1, 2, 63, 64, 65, 64 * w, 1000] {
                assert_eq!(val(&m.pow(&base, &zero, exp_bits)), BigUint::one() % &n);
                let want = if exp_bits == 0 {
                    BigUint::one()
                } else {
                    x.clone()
                };
                assert_eq!(val(&m.pow(&base, &one, exp_bits)), want);
            }
            assert_eq!(val(&m.pow_vartime(&base, &zero)), BigUint::one());
            assert_eq!(val(&m.pow_vartime(&base, &one)), x);
        }
        let e = rand_value(&mut r, nb, nl);
        let eb = e.bits_precision();
        assert_eq!(
            val(&m.pow(&m.zero(), &e, eb)),
            BigUint::zero().modpow(&big(&e), &n)
        );
        assert_eq!(val(&m.pow(&m.one(), &e, eb)), BigUint::one());
        // Exponent of zero limbs.
        assert_eq!(val(&m.pow(&base, &Uint::zero(0), 10)), BigUint::one());
        assert_eq!(val(&m.pow_vartime(&base, &Uint::zero(0))), BigUint::one());
    }
}

/// The full-size exponentiations: 4096..8192-bit moduli with exponents as long (few cases: the
/// oracle is slow there).
#[test]
fn pow_large() {
    let mut r = rng(11);
    for (case, nb) in [4096usize, 6144, 8192, 5000].into_iter().enumerate() {
        let (m, n) = rand_ctx(&mut r, nb);
        let x = rand_below(&mut r, &n);
        let base = m.to_monty(&uint(&x, m.nlimbs()));
        let e = rand_value(&mut r, nb, limbs_for(nb));
        let want = x.modpow(&big(&e), &n);
        assert_eq!(
            big(&m.from_monty(&m.pow(&base, &e, nb))),
            want,
            "pow case {case} {nb}"
        );
        if case == 0 {
            assert_eq!(big(&m.from_monty(&m.pow_vartime(&base, &e))), want);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inverses modulo a prime.

/// Miller-Rabin with `rounds` random bases (oracle side: num-bigint), after trial division.
fn is_probable_prime(n: &BigUint, r: &mut ChaCha20Rng, rounds: usize) -> bool {
    for p in [
        2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71,
    ] {
        if (n % p).is_zero() {
            return *n == BigUint::from(p);
        }
    }
    let nm1 = n - 1u32;
    let s = nm1.trailing_zeros().expect("n > 1");
    let d = &nm1 >> s;
    'bases: for _ in 0..rounds {
        let a = big(&rand_value(
            r,
            n.bits() as usize,
            limbs_for(n.bits() as usize),
        )) % (n - 3u32)
            + 2u32;
        let mut x = a.modpow(&d, n);
        if x.is_one() || x == nm1 {
            continue;
        }
        for _ in 1..s {
            x = (&x * &x) % n;
            if x == nm1 {
                continue 'bases;
            }
        }
        return false;
    }
    true
}

fn random_prime(r: &mut ChaCha20Rng, bits: usize) -> BigUint {
    loop {
        let mut bytes = vec![0u8; bits.div_ceil(8)];
        r.fill_bytes(&mut bytes);
        let c = (BigUint::from_bytes_le(&bytes) % pow2(bits)) | pow2(bits - 1) | BigUint::one();
        if is_probable_prime(&c, r, 24) {
            return c;
        }
    }
}

#[test]
fn inv_prime_known_and_random_primes() {
    let mut r = rng(12);
    // Mersenne primes 2^p - 1 (p = 61, 89, 127, 521, 607, 1279, 2203, 4423), the 64-bit prime
    // 2^64 - 59, the P-256 field prime, and random primes (Miller-Rabin, 24 rounds).
    let mut primes: Vec<BigUint> = [61usize, 89, 127, 521, 607, 1279, 2203, 4423]
        .iter()
        .map(|&p| pow2(p) - 1u32)
        .collect();
    primes.push(pow2(64) - 59u32);
    primes.push(BigUint::from(3u32));
    primes.push(
        BigUint::parse_bytes(
            b"ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
            16,
        )
        .expect("hex"),
    );
    for bits in [64, 65, 100, 256, 511, 512, 700, 1024] {
        primes.push(random_prime(&mut r, bits));
    }
    for (case, p) in primes.iter().enumerate() {
        // A sanity check of the list (the Mersenne primes are known; the random ones passed 24
        // rounds already).
        let mut mr = rng(1000 + case as u64);
        assert!(
            is_probable_prime(p, &mut mr, 2),
            "test prime {case} is prime"
        );
        let nl = limbs_for(p.bits() as usize);
        let m = Modulus::<Ra>::new(uint(p, nl)).expect("odd prime");
        for _ in 0..2 {
            let x = rand_below(&mut r, p);
            let a = m.to_monty(&uint(&x, nl));
            let inv = big(&m.from_monty(&m.inv_prime(&a)));
            if x.is_zero() {
                assert!(inv.is_zero(), "inverse of 0 is 0 (case {case})");
            } else {
                assert_eq!((&x * &inv) % p, BigUint::one(), "inv_prime case {case}");
                assert_eq!(Some(inv), x.modinv(p));
            }
        }
        let zero = m.inv_prime(&m.zero());
        assert!(b(zero.is_zero()));
        let one = m.inv_prime(&m.one());
        assert_eq!(big(&m.from_monty(&one)), BigUint::one());
    }
}

// ---------------------------------------------------------------------------------------------
// CRT and inverses of the public exponent.

#[test]
fn garner_recombines() {
    let mut r = rng(13);
    let mut sizes = vec![
        (64, 64),
        (64, 8192),
        (1536, 1536),
        (3072, 3072),
        (1536, 64),
        (4096, 4000),
    ];
    for _ in 0..40 {
        sizes.push((rand_bits(&mut r), rand_bits(&mut r)));
    }
    for (case, (b1, b2)) in sizes.into_iter().enumerate() {
        let (n1m, n1) = rand_ctx(&mut r, b1);
        let (n2, n2v) = loop {
            let n2v = rand_modulus(&mut r, b2);
            if n1.gcd(&n2v).is_one() {
                let nl = limbs_for(b2) + usize::from(r.next_u32().is_multiple_of(5));
                break (
                    Modulus::<Rb>::new(uint(&n2v, nl.min(MAX_LIMBS))).expect("odd"),
                    n2v,
                );
            }
        };
        let n1_inv_v = (&n1 % &n2v).modinv(&n2v).expect("coprime");
        let n1_inv = n2.to_monty(&uint(&n1_inv_v, n2.nlimbs()));
        let s1v = rand_below(&mut r, &n1);
        let s2v = rand_below(&mut r, &n2v);
        let s1 = uint(&s1v, n1m.nlimbs());
        let s2 = uint(&s2v, n2.nlimbs());
        let s = garner(&s1, &n1m, &s2, &n2, &n1_inv);
        assert_eq!(s.nlimbs(), n1m.nlimbs() + n2.nlimbs());
        let sv = big(&s);
        let ctx = format!("case {case}: {b1}/{b2} bits");
        assert!(sv < &n1 * &n2v, "{ctx}");
        assert_eq!(&sv % &n1, s1v, "s mod n1, {ctx}");
        assert_eq!(&sv % &n2v, s2v, "s mod n2, {ctx}");
    }
}

#[test]
fn inv_small_prime_mod_e() {
    let mut r = rng(14);
    for case in 0..300 {
        let e: u32 = match case % 5 {
            0 => 3,
            1 => 17,
            2 => 4_294_967_291, // largest 32-bit prime
            _ => 65537,
        };
        let bits = rand_bits(&mut r);
        let nl = limbs_for(bits) + usize::from(r.next_u32().is_multiple_of(8));
        let mut mv = big(&rand_value(&mut r, bits, nl));
        match r.next_u32() % 6 {
            0 => mv = (&mv / e) * e, // divisible by e: no inverse
            1 => mv |= BigUint::one(),
            2 => mv = &mv - (&mv % 2u32), // even
            _ => {}
        }
        if mv <= BigUint::one() {
            mv = BigUint::from(2u32) * e + 4u32;
        }
        let m = uint(&mv, nl);
        let (d, ok) = inv_small_prime_mod(e, &m);
        let ctx = format!("case {case}: e={e}, {bits}-bit m");
        let exists = !(&mv % e).is_zero();
        assert_eq!(b(ok), exists, "exists {ctx}");
        assert_eq!(d.nlimbs(), nl);
        if exists {
            let dv = big(&d);
            assert!(dv < mv, "d < m {ctx}");
            assert_eq!((&dv * e) % &mv, BigUint::one(), "d*e = 1 mod m {ctx}");
        }
    }
    // RSA-shaped: phi = (p-1)(q-1) is even, and m = k*e (multiples of e) fail.
    let phi = (pow2(1279) - 2u32) * (pow2(607) - 2u32);
    let (d, ok) = inv_small_prime_mod(65537, &uint(&phi, limbs_for(phi.bits() as usize)));
    assert!(b(ok));
    assert_eq!((big(&d) * 65537u32) % &phi, BigUint::one());
    for m in [65537u64, 2 * 65537, 65537 * 65537] {
        let (_, ok) = inv_small_prime_mod(65537, &Uint::from_u64(m, 1));
        assert!(!b(ok), "m = {m}");
    }
    let (_, ok) = inv_small_prime_mod(65537, &Uint::zero(2));
    assert!(!b(ok), "m = 0");
    let (d, ok) = inv_small_prime_mod(65537, &Uint::from_u64(2, 1));
    assert!(b(ok));
    assert_eq!(big(&d), BigUint::one());
}

// ---------------------------------------------------------------------------------------------
// Regressions (bugs found by the tests above, fixed in src/arith).

/// Regression: `inv_small_prime_mod` divided `1 + k*m` by `e` by multiplying with
/// `e^-1 mod 2^64` only, which is wrong above the low limb for every multi-limb `m`.
#[test]
fn regression_inv_small_prime_mod_multi_limb() {
    for (e, m) in [
        (3u32, pow2(64) + 1u32),
        (65537, pow2(127) - 1u32),
        (65537, (pow2(2047) + 12345u32) * 2u32),
        (17, pow2(3056) - 3u32),
    ] {
        let (d, ok) = inv_small_prime_mod(e, &uint(&m, limbs_for(m.bits() as usize)));
        assert!(b(ok));
        assert_eq!(
            big(&d),
            BigUint::from(e).modinv(&m).expect("coprime"),
            "e={e}"
        );
    }
}

/// Regression: `Modulus::new(1)` left `one()` at 1 instead of 0 (its doc promises the zero
/// ring), so `pow(x, 0)` returned an unreduced 1.
#[test]
fn regression_modulus_one() {
    let m = Modulus::<Ra>::new(Uint::one(2)).expect("odd");
    assert!(b(m.one().is_zero()));
    assert!(b(m.from_monty(&m.one()).is_zero()));
    let x = m.to_monty(&Uint::from_u64(9, 1));
    assert!(b(x.is_zero()), "9 mod 1 = 0");
    assert!(b(m.pow(&x, &Uint::zero(1), 0).is_zero()));
    assert!(b(m
        .from_monty(&m.pow_vartime(&x, &Uint::from_u64(3, 1)))
        .is_zero()));
}

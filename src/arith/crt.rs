//! Chinese remaindering (Garner) and inverses of the public exponent, in constant time:
//! SPEC §4 step 5 (`s2` from `sp`, `sq`; `s` from `s1`, `s2`) and §3 steps 1 and 5
//! (`d = e^-1 mod phi`, `dp`, `dq`).

use subtle::Choice;
use zeroize::Zeroize;

use super::monty::{Modulus, Residue};
use super::uint::{Limb, Uint, mac, sbb};

/// Garner's recombination: the unique `s < n1 * n2` with `s ≡ s1 (mod n1)` and
/// `s ≡ s2 (mod n2)`, for coprime odd `n1`, `n2`:
/// `s = s1 + n1 * ((s2 - s1) * n1^-1 mod n2)`. Constant time.
///
/// `s1 < n1` and `s2 < n2` are integers (not Montgomery form); `n1_inv` is `n1^-1 mod n2`.
/// The result is `n1.nlimbs() + n2.nlimbs()` limbs wide.
pub fn garner<A, B>(
    s1: &Uint,
    n1: &Modulus<A>,
    s2: &Uint,
    n2: &Modulus<B>,
    n1_inv: &Residue<B>,
) -> Uint {
    let s1_b = n2.to_monty(s1);
    let s2_b = n2.to_monty(s2);
    let diff = n2.sub(&s2_b, &s1_b);
    let h = n2.from_monty(&n2.mul(&diff, n1_inv));
    let mut s = n1.modulus().mul_wide(&h);
    s.adc_assign(s1);
    s
}

/// `e^-1 mod m` for a small public prime `e` and a (secret) modulus `m` of any parity, in
/// constant time, with `Choice` set iff the inverse exists (`e` does not divide `m`).
///
/// Uses `d = (1 + k*m) / e` with `k = -m^-1 mod e` (SPEC §3 step 1): the division is exact,
/// and is done as a multiplication by `e^-1 mod 2^(64w)`. The result is `m.nlimbs()` wide and
/// `< m`. When the inverse does not exist the value is unspecified.
pub fn inv_small_prime_mod(e: u32, m: &Uint) -> (Uint, Choice) {
    enum SmallPrime {}
    let w = m.nlimbs();
    let e64 = Limb::from(e);
    // Modulus::new only fails for an even e; a small prime e > 2 is odd.
    let Some(pe) = Modulus::<SmallPrime>::new(Uint::from_u64(e64, 1)) else {
        return (Uint::zero(w), Choice::from(0));
    };
    let m_mod_e = pe.to_monty(m);
    let exists = !m_mod_e.is_zero();
    let inv = pe.from_monty(&pe.inv_prime(&m_mod_e));
    // k = e - m^-1 mod e, in [1, e].
    let k = e64 - inv.as_limbs().first().copied().unwrap_or(0);
    // x = 1 + k*m, one limb wider than m.
    let mut x = m.resize(w + 1);
    x.mul_u64_assign(k);
    x.add_u64_assign(1);
    // Exact division by e (x = q*e, q < 2^(64(w+1))), limb by limb from the bottom as in
    // GMP's divexact_1: q_i = (x_i - c) * e^-1 mod 2^64, and c carries the high half of q_i*e.
    let einv = inv_mod_2_64(e64);
    let mut c: Limb = 0;
    for l in x.as_limbs_mut() {
        let (s, b) = sbb(*l, c, 0);
        let q = s.wrapping_mul(einv);
        let (_, hi) = mac(0, q, e64, 0);
        *l = q;
        c = hi + b;
    }
    let d = x.resize(w);
    x.zeroize();
    (d, exists)
}

/// `a^-1 mod 2^64` for odd `a` (Newton).
fn inv_mod_2_64(a: Limb) -> Limb {
    let mut x = a;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

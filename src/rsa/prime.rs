//! Random probable primes for RSA (SPEC §2), after FIPS 186-5 appendix A.1.3 and B.3.
//!
//! A prime of `b` bits is found by drawing **fresh, independent** random candidates:
//!
//! 1. **Range.** The top 64 bits `T` of the candidate are drawn first and redrawn until
//!    `T ≥ ⌈2^63.75⌉ = 0xd744fccad69d6af5`; the remaining `b - 64` bits are uniform and bit 0
//!    is set. Then `p ≥ ⌈2^63.75⌉ · 2^(b-64) > 2^(b-1/4)` and `p < 2^b`, so every prime lies in
//!    `[2^(b-1/4), 2^b)` (SPEC §2; FIPS 186-5 A.1.3 step 4.4 asks for `p ≥ √2 · 2^(b-1)`,
//!    which is weaker). The candidates are uniform on the odd integers of
//!    `[⌈2^63.75⌉ · 2^(b-64), 2^b)`; the part of `[2^(b-1/4), 2^b)` left out is smaller than
//!    `2^-63` of it. A redrawn top word is discarded random data that never becomes part of
//!    a prime, so the (variable) number of redraws reveals nothing about the prime.
//! 2. **Sieve.** Divisibility by every odd prime below [`SIEVE_LIMIT`], in constant time: the
//!    primes are packed into groups whose product `M < 2^63` is public; the candidate is
//!    reduced mod `M` by a one-limb Montgomery reduction (multiplications only), then the
//!    64-bit remainder is tested against each prime of the group by the Granlund-Montgomery
//!    divisibility test (`r · p^-1 mod 2^64 ≤ ⌊(2^64-1)/p⌋`), again multiplications only. No
//!    `/` or `%` touches a candidate.
//! 3. **`gcd(e, p-1) = 1`**: since `e = 65537` is prime, this is `e ∤ p-1`, tested the same way.
//! 4. **Miller-Rabin** ([`MillerRabin`]) with random bases, [`miller_rabin_rounds`] rounds;
//!    every exponentiation is the constant-time [`Modulus::pow`].
//!
//! **Declassification.** A candidate that fails any step is thrown away and never used again.
//! Only then is the failing verdict turned into a `bool` and branched on (each such place is
//! marked `DECLASSIFY` in the code). Because candidates are independent (no incremental
//! search from a common start), a rejected candidate carries no information about the prime
//! that is finally returned. Everything computed on the candidate that is returned runs in
//! time independent of its value: for the accepted candidate the sequence of steps is always
//! "top word accepted, every sieve group passed, `e ∤ p-1`, all rounds passed".

use crate::error::RequestError;
use rand_core::CryptoRng;
use subtle::{Choice, ConditionallySelectable, ConstantTimeLess};
use zeroize::{Zeroize, Zeroizing};

use std::sync::OnceLock;

use crate::arith::{LIMB_BITS, Limb, Modulus, Residue, Uint};
use crate::error::{Error, Result};

pub use crate::rsa::PUBLIC_EXPONENT;

/// The smallest prime size [`generate_prime`] accepts, in bits.
pub const MIN_PRIME_BITS: usize = 128;

/// The largest prime size [`generate_prime`] accepts, in bits.
pub const MAX_PRIME_BITS: usize = 4096;

/// The sieve divides candidates by every odd prime below this bound.
///
/// Chosen by measurement (docs/benchmarks.md): past about 2^16 the cost of the extra groups on
/// the surviving candidates outweighs the Miller-Rabin exponentiations it saves.
pub const SIEVE_LIMIT: usize = 1 << 16;

/// The largest 2-adic valuation `a` of `p - 1` (`p - 1 = 2^a · m`, `m` odd) the constant-time
/// Miller-Rabin supports. The squaring loop always runs `MAX_TWO_ADIC - 1` times whatever `a`
/// is. Candidates with `2^(MAX_TWO_ADIC + 1) | p - 1` (probability `2^-32`) are rejected like
/// composites.
pub const MAX_TWO_ADIC: usize = 32;

/// `⌈2^63.75⌉`: the smallest top word of a candidate (see the module docs). Computed as
/// `⌊(2^255)^(1/4)⌋ + 1` with integer square roots; 2^255 is not a fourth power.
pub const TOP_WORD_MIN: u64 = 0xd744_fccad69d6af5;

/// Number of Miller-Rabin rounds with random bases for a random `bits`-bit candidate, for an
/// error probability of at most 2^-128 (SPEC §2).
///
/// | prime bits | rounds | source |
/// |-----------:|-------:|--------|
/// | ≥ 2048 | 4 | FIPS 186-5 Table B.1 asks for 2 at 2^-128 (and 4 at 2^-144); we use 4 |
/// | ≥ 1536 | 4 | FIPS 186-5 Table B.1: 4 rounds for 2^-128 |
/// | ≥ 1024 | 6 | Table B.1 stops at 2^-112 (5 rounds) for this size; the Damgård-Landrock-Pomerance bound `k^(3/2) 2^t t^(-1/2) 4^(2-√(tk))` gives 2^-133 for t = 6 |
/// | ≥ 512  | 12 | test sizes only: the same bound gives 2^-129 |
/// | < 512  | 64 | test sizes only: Rabin's worst-case bound 4^-64 = 2^-128 |
///
/// `tests/prime.rs` recomputes the bound for every row. The rounds are in addition to the
/// sieve; composites almost always fail the first round.
pub const fn miller_rabin_rounds(bits: usize) -> usize {
    if bits >= 1536 {
        4
    } else if bits >= 1024 {
        6
    } else if bits >= 512 {
        12
    } else {
        64
    }
}

// ---------------------------------------------------------------------------------------------
// Small primes and sieve groups: public tables, built once on first use (about a millisecond;
// building them at compile time made const evaluation take minutes for larger limits).

/// A run of consecutive small primes whose product `m` is below 2^63.
#[derive(Clone, Copy)]
struct Group {
    /// The product of the group's primes.
    m: u64,
    /// `-m^-1 mod 2^64`.
    m_neg_inv: u64,
    /// Index of the group's first prime in [`Tables::primes`].
    start: u32,
    /// Number of primes in the group.
    len: u32,
}

/// The sieve's public tables.
struct Tables {
    /// The odd primes below [`SIEVE_LIMIT`], ascending.
    #[cfg_attr(not(test), allow(dead_code))] // read by the unit tests
    primes: Vec<u32>,
    /// Per prime `p`: `(p^-1 mod 2^64, ⌊(2^64 - 1) / p⌋)` for the divisibility test.
    inverses: Vec<(u64, u64)>,
    /// The primes packed into groups, in order.
    groups: Vec<Group>,
}

static TABLES: OnceLock<Tables> = OnceLock::new();

/// The sieve tables (public data; variable-time construction is fine).
#[allow(clippy::integer_division)] // public constants
fn tables() -> &'static Tables {
    TABLES.get_or_init(|| {
        // Sieve of Eratosthenes over the public range.
        let mut composite = vec![false; SIEVE_LIMIT];
        let mut primes = Vec::new();
        for i in 2..SIEVE_LIMIT {
            if composite.get(i).copied().unwrap_or(true) {
                continue;
            }
            if i > 2 {
                primes.push(i as u32);
            }
            let mut j = i * i;
            while let Some(c) = composite.get_mut(j) {
                *c = true;
                j += i;
            }
        }
        let inverses = primes
            .iter()
            .map(|&p| (inv_mod_2_64(u64::from(p)), u64::MAX / u64::from(p)))
            .collect();
        let mut groups = Vec::new();
        let mut i = 0;
        while i < primes.len() {
            let start = i;
            let mut m: u64 = 1;
            while let Some(&p) = primes.get(i) {
                if u128::from(m) * u128::from(p) >= 1 << 63 {
                    break;
                }
                m *= u64::from(p);
                i += 1;
            }
            groups.push(Group {
                m,
                m_neg_inv: inv_mod_2_64(m).wrapping_neg(),
                start: start as u32,
                len: (i - start) as u32,
            });
        }
        Tables {
            primes,
            inverses,
            groups,
        }
    })
}

/// `a^-1 mod 2^64` for odd `a` (Newton; constant time).
const fn inv_mod_2_64(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// `x · 2^(-64w) mod m`, up to one extra `m` (the result is `< m + 2`), for an odd public
/// `m < 2^63` with `m_neg_inv = -m^-1 mod 2^64` and a `w`-limb `x`. Montgomery reduction
/// with a one-limb modulus, one limb at a time from the bottom; multiplications only,
/// constant time in `x`.
#[inline]
fn redc_one_limb(x: &[Limb], m: u64, m_neg_inv: u64) -> u64 {
    let mut acc: u64 = 0;
    for &limb in x {
        // t = acc + limb < 2^65; (t + q·m) / 2^64 < m + 2 because acc < m + 2 ≤ 2^63 + 1.
        let t = u128::from(acc) + u128::from(limb);
        let q = (t as u64).wrapping_mul(m_neg_inv);
        acc = ((t + u128::from(q) * u128::from(m)) >> 64) as u64;
    }
    acc
}

/// Whether the odd prime with divisibility constants `(pinv, limit)` divides the 64-bit `r`:
/// `r · p^-1 mod 2^64 ≤ ⌊(2^64 - 1) / p⌋` (Granlund-Montgomery). Constant time.
#[inline]
fn divides_u64(r: u64, (pinv, limit): (u64, u64)) -> Choice {
    !limit.ct_lt(&r.wrapping_mul(pinv))
}

/// Whether some prime of group `g` divides `x`. Constant time in `x`.
fn group_divides(x: &Uint, g: &Group) -> Choice {
    // x · 2^(-64w) ≡ r (mod m) and 2 is invertible mod every odd prime p | m, so
    // p | x  ⇔  p | r. (r < m + 2 < 2^64 need not be fully reduced for this.)
    let r = redc_one_limb(x.as_limbs(), g.m, g.m_neg_inv);
    let start = g.start as usize;
    let end = start + g.len as usize;
    let mut hit = Choice::from(0);
    for c in tables().inverses.get(start..end).unwrap_or(&[]) {
        hit |= divides_u64(r, *c);
    }
    hit
}

/// Whether `x` is divisible by some odd prime below [`SIEVE_LIMIT`] (the sieve of SPEC §2),
/// scanning every group
/// (constant time in `x`). Prime generation uses the same per-group test but stops at the
/// first hit, declassifying the rejection of a candidate that is then discarded.
pub fn has_small_factor(x: &Uint) -> Choice {
    let mut hit = Choice::from(0);
    for g in tables().groups.iter() {
        hit |= group_divides(x, g);
    }
    hit
}

/// `x mod p` for an odd public `p < 2^32`, in constant time in `x` (two Montgomery
/// reductions with a one-limb modulus; multiplications only).
///
/// The remainder is exact; the sieve itself only needs divisibility and skips the second
/// reduction. Returns 0 for even `p` (not supported).
pub fn rem_small(x: &Uint, p: u32) -> u32 {
    if p & 1 == 0 {
        return 0;
    }
    let m = u64::from(p);
    let m_neg_inv = inv_mod_2_64(m).wrapping_neg();
    // r ≡ x · 2^(-64w) (mod p), r < p + 2.
    let r = redc_one_limb(x.as_limbs(), m, m_neg_inv);
    // Multiply back by 2^(64w) with one more reduction: REDC(r · 2^(128w) mod p) over w+1
    // limbs... done as: r · (2^(64(w+1)) mod p) < 2^34 · 2^32 fits in two limbs; a one-limb
    // Montgomery reduction of (lo, hi) divides by 2^128, so multiply by 2^(64(w+2)) mod p.
    // The constant depends only on the public p and width w (variable-time `%` is fine here).
    let c = pow2_mod_public(LIMB_BITS * (x.nlimbs() + 2), m);
    let prod = u128::from(r) * u128::from(c);
    let limbs = [prod as u64, (prod >> 64) as u64];
    let t = redc_one_limb(&limbs, m, m_neg_inv);
    // t < p + 2: subtract p at most once, in constant time.
    let (s, borrow) = t.overflowing_sub(m);
    u64::conditional_select(&s, &t, Choice::from(borrow as u8)) as u32
}

/// `2^k mod m` for public `k` and `m` (variable time).
fn pow2_mod_public(k: usize, m: u64) -> u64 {
    let mut r: u128 = 1 % u128::from(m);
    for _ in 0..k {
        r = (r << 1) % u128::from(m);
    }
    r as u64
}

/// `(e^-1 mod 2^64, ⌊(2^64 - 1) / e⌋)` for `e = 65537`.
#[allow(clippy::integer_division)] // public compile-time constant
const E_DIVISIBILITY: (u64, u64) = (
    inv_mod_2_64(PUBLIC_EXPONENT as u64),
    u64::MAX / PUBLIC_EXPONENT as u64,
);

/// Whether `e = 65537` divides `p - 1` (then `gcd(e, p - 1) ≠ 1`, refused by SPEC §2).
/// Constant time in `p`.
pub fn e_divides_p_minus_1(p: &Uint) -> Choice {
    let mut pm1 = p.clone();
    pm1.sub_u64_assign(1);
    let e = u64::from(PUBLIC_EXPONENT);
    let r = redc_one_limb(pm1.as_limbs(), e, inv_mod_2_64(e).wrapping_neg());
    pm1.zeroize();
    divides_u64(r, E_DIVISIBILITY)
}

/// Whether `|p - q| ≤ 2^(bits - 100)`, for `p`, `q` of the same width. Constant time. Two
/// primes that close make `n` easy to factor (Fermat); SPEC §2 requires `|p - q| > 2^(b-100)`.
pub fn too_close(p: &Uint, q: &Uint, bits: usize) -> Choice {
    let w = p.nlimbs().max(q.nlimbs());
    let mut d = p.resize(w);
    let borrow = d.sbb_assign(q);
    // |p - q|: negate (two's complement) if it borrowed.
    let mut neg = Uint::zero(w);
    neg.sbb_assign(&d);
    d.conditional_assign(&neg, Choice::from(borrow as u8));
    let mut bound = Uint::zero(w);
    bound.set_bit(bits.saturating_sub(100));
    bound.add_u64_assign(1);
    let close = d.ct_lt(&bound);
    d.zeroize();
    neg.zeroize();
    close
}

// ---------------------------------------------------------------------------------------------
// Miller-Rabin.

/// A Miller-Rabin context for one (secret) odd candidate `p > 3`: its Montgomery context and
/// the decomposition `p - 1 = 2^a · m`, `m` odd, computed in constant time.
///
/// Wiped on drop (every field wipes itself). `Debug` prints only the width.
pub struct MillerRabin<M> {
    modulus: Modulus<M>,
    /// The odd part `m` of `p - 1`.
    m: Uint,
    /// The 2-adic valuation `a` of `p - 1`, in `[1, MAX_TWO_ADIC]` when supported (secret).
    a: Zeroizing<u64>,
    /// `p - 1` in Montgomery form.
    minus_one: Residue<M>,
    /// Set iff `a ≤ MAX_TWO_ADIC`.
    supported: Choice,
    /// Public bit size of the candidate (its width bound).
    bits: usize,
}

impl<M> core::fmt::Debug for MillerRabin<M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MillerRabin")
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// `x >> s` for a public `s < 64`, within the width.
fn shr_public(x: &Uint, s: usize) -> Uint {
    let mut r = x.clone();
    if s == 0 {
        return r;
    }
    let limbs = r.as_limbs_mut();
    let n = limbs.len();
    for i in 0..n {
        let lo = limbs.get(i).copied().unwrap_or(0) >> s;
        let hi = limbs.get(i + 1).copied().unwrap_or(0) << (LIMB_BITS - s);
        if let Some(l) = limbs.get_mut(i) {
            *l = lo | hi;
        }
    }
    r
}

impl<M> MillerRabin<M> {
    /// Sets up the test for the candidate `p` of `bits` bits (`p < 2^bits`, public bound).
    ///
    /// Returns `None` only for public reasons (an even or zero-width `p`, or `bits` wider than
    /// `p`'s width). Constant time in the value of `p`; check [`Self::supported`] before use.
    pub fn new(p: Uint, bits: usize) -> Option<Self> {
        if bits == 0 || bits > p.bits_precision() {
            return None;
        }
        let mut pm1 = p.clone();
        pm1.sub_u64_assign(1);
        let modulus = Modulus::<M>::new(p)?;
        // a = 1 + #{i in 1..=MAX : bits 1..=i of p-1 are all zero}; supported iff some bit in
        // 1..=MAX is set. p is odd, so bit 0 of p-1 is zero.
        let mut zero_so_far = Choice::from(1);
        let mut a: u64 = 1;
        for i in 1..=MAX_TWO_ADIC {
            zero_so_far &= !pm1.bit(i);
            a += u64::from(zero_so_far.unwrap_u8());
        }
        let supported = !zero_so_far;
        // m = (p-1) >> a, by a barrel shifter over the bits of a (a ≤ MAX_TWO_ADIC + 1 < 64).
        let mut m = pm1.clone();
        let mut j = 0;
        while (1usize << j) <= MAX_TWO_ADIC + 1 {
            let shifted = shr_public(&m, 1 << j);
            let bit = Choice::from(((a >> j) & 1) as u8);
            m.conditional_assign(&shifted, bit);
            j += 1;
        }
        pm1.zeroize();
        let minus_one = modulus.neg(&modulus.one());
        Some(Self {
            modulus,
            m,
            a: Zeroizing::new(a),
            minus_one,
            supported,
            bits,
        })
    }

    /// Whether the candidate's `p - 1` has 2-adic valuation at most [`MAX_TWO_ADIC`] (secret;
    /// a candidate without it is rejected).
    pub fn supported(&self) -> Choice {
        self.supported
    }

    /// The candidate's Montgomery context.
    pub fn modulus(&self) -> &Modulus<M> {
        &self.modulus
    }

    /// Ends the test, returning the Montgomery context of the (now accepted) candidate.
    pub fn into_modulus(self) -> Modulus<M> {
        // The remaining fields wipe themselves on drop.
        self.modulus
    }

    /// A uniformly random base in `[2, p - 2]` in Montgomery form: `bits + 64` random bits
    /// reduced mod `p` in constant time (statistical distance < 2^-64 from uniform on
    /// `[0, p)`), redrawn if it is 0, 1 or `p - 1` (FIPS 186-5 B.3.1 step 4.2; probability
    /// `3/p`).
    pub fn random_base<R: CryptoRng + ?Sized>(&self, rng: &mut R) -> Residue<M> {
        let w = self.bits.div_ceil(LIMB_BITS) + 1;
        let mut buf = vec![0u8; w * 8];
        loop {
            rng.fill_bytes(&mut buf);
            let mut r = Uint::from_be_bytes(&buf);
            r.truncate_bits(self.bits + 64);
            let b = self.modulus.to_monty(&r);
            r.zeroize();
            let bad = b.is_zero() | b.ct_eq(&self.modulus.one()) | b.ct_eq(&self.minus_one);
            // DECLASSIFY: a base in {0, 1, p-1} (probability 3/p < 2^-100) is discarded and
            // redrawn. Only that negligible event is revealed.
            if !bool::from(bad) {
                buf.zeroize();
                return b;
            }
        }
    }

    /// One Miller-Rabin round with the given base (SPEC §2; FIPS 186-5 B.3.1 steps 4.3-4.7):
    /// set iff
    /// `p` is a strong probable prime to that base. Constant time in `p` and the base: one
    /// [`Modulus::pow`] with the public exponent length `bits - 1` (`m < 2^(bits-1)`), then
    /// always `MAX_TWO_ADIC - 1` squarings, of which only the first `a - 1` count (masked).
    ///
    /// Meaningful only if [`Self::supported`] is set.
    pub fn round(&self, base: &Residue<M>) -> Choice {
        let md = &self.modulus;
        let mut z = md.pow(base, &self.m, self.bits - 1);
        let mut probable = z.ct_eq(&md.one()) | z.ct_eq(&self.minus_one);
        let mut tmp = Uint::zero(md.nlimbs());
        for j in 1..MAX_TWO_ADIC {
            md.square_assign(&mut z, &mut tmp);
            let active = (j as u64).ct_lt(&*self.a);
            probable |= active & z.ct_eq(&self.minus_one);
        }
        tmp.zeroize();
        probable
    }
}

#[allow(clippy::integer_division)] // public bit positions
/// A random odd `bits`-bit candidate in `[⌈2^63.75⌉ · 2^(bits-64), 2^bits)` (SPEC §2: primes
/// in `[2^(b-1/4), 2^b)`), `bits ≥ 64` (see the module docs), of width `⌈bits/64⌉` limbs.
pub fn random_candidate<R: CryptoRng + ?Sized>(rng: &mut R, bits: usize) -> Uint {
    let w = bits.div_ceil(LIMB_BITS);
    // DECLASSIFY: a top word below the bound is discarded random data (never part of a
    // candidate); redrawing it reveals nothing about the candidate that is kept.
    let mut top = rng.next_u64();
    while top < TOP_WORD_MIN {
        top = rng.next_u64();
    }
    let mut buf = vec![0u8; w * 8];
    rng.fill_bytes(&mut buf);
    let mut x = Uint::from_be_bytes(&buf);
    buf.zeroize();
    let pos = bits - 64;
    x.truncate_bits(pos);
    let (idx, off) = (pos / LIMB_BITS, pos % LIMB_BITS);
    let limbs = x.as_limbs_mut();
    if let Some(l) = limbs.get_mut(idx) {
        *l |= top << off;
    }
    if off != 0
        && let Some(l) = limbs.get_mut(idx + 1)
    {
        *l |= top >> (LIMB_BITS - off);
    }
    top.zeroize();
    if let Some(l) = limbs.first_mut() {
        *l |= 1;
    }
    x
}

/// Candidates drawn before [`generate_prime`] gives up and reports a broken RNG. A working
/// RNG needs about `0.35 · bits` candidates on average; this bound is never reached by one.
const MAX_CANDIDATES: usize = 1 << 22;

/// A random probable prime `p` of exactly `bits` bits with `p ≥ 2^(bits - 1/4)` and
/// `gcd(65537, p - 1) = 1` (SPEC §2), as its Montgomery context in the ring `M`.
///
/// `bits` must be in `[MIN_PRIME_BITS, MAX_PRIME_BITS]`. Constant time for the prime that is
/// returned; see the module docs for what is declassified about rejected candidates.
pub fn generate_prime<M, R: CryptoRng + ?Sized>(rng: &mut R, bits: usize) -> Result<Modulus<M>> {
    if !(MIN_PRIME_BITS..=MAX_PRIME_BITS).contains(&bits) {
        return Err(Error::InvalidRequest(RequestError::PrimeSize));
    }
    let rounds = miller_rabin_rounds(bits);
    'candidates: for _ in 0..MAX_CANDIDATES {
        let x = random_candidate(rng, bits);
        // Sieve. DECLASSIFY: a candidate with a small factor is discarded; stopping at the
        // first group that divides it reveals only which small prime group divides a number
        // that is never used.
        for g in tables().groups.iter() {
            if bool::from(group_divides(&x, g)) {
                continue 'candidates;
            }
        }
        // DECLASSIFY: gcd(e, p - 1) ≠ 1; the candidate is discarded.
        if bool::from(e_divides_p_minus_1(&x)) {
            continue;
        }
        let Some(mr) = MillerRabin::<M>::new(x, bits) else {
            continue; // public: cannot happen for an odd candidate of this width
        };
        // DECLASSIFY: 2^33 | p - 1 (probability 2^-32); the candidate is discarded.
        if !bool::from(mr.supported()) {
            continue;
        }
        for _ in 0..rounds {
            let base = mr.random_base(rng);
            // DECLASSIFY: "composite" verdict; the candidate is discarded.
            if !bool::from(mr.round(&base)) {
                continue 'candidates;
            }
        }
        return Ok(mr.into_modulus());
    }
    Err(Error::NoPrimeFound)
}

/// Two independent random primes `p`, `q` of `bits` bits each (as [`generate_prime`]) with
/// `|p - q| > 2^(bits - 100)` (SPEC §2).
pub fn generate_prime_pair<P, Q, R: CryptoRng + ?Sized>(
    rng: &mut R,
    bits: usize,
) -> Result<(Modulus<P>, Modulus<Q>)> {
    let p = generate_prime::<P, R>(rng, bits)?;
    loop {
        let q = generate_prime::<Q, R>(rng, bits)?;
        // DECLASSIFY: a q too close to p (probability about 2^-98) is discarded and redrawn.
        if !bool::from(too_close(p.modulus(), q.modulus(), bits)) {
            return Ok((p, q));
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::integer_division)] // test code
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        let t = tables();
        assert_eq!(t.primes.first().copied(), Some(3));
        assert!(t.primes.iter().all(|&p| (p as usize) < SIEVE_LIMIT));
        assert!(t.primes.windows(2).all(|w| w[0] < w[1]));
        let total: usize = t.groups.iter().map(|g| g.len as usize).sum();
        assert_eq!(total, t.primes.len());
        for g in t.groups.iter() {
            let s = g.start as usize;
            let prod: u128 = t.primes[s..s + g.len as usize]
                .iter()
                .map(|&p| u128::from(p))
                .product();
            assert_eq!(prod, u128::from(g.m));
            assert!(g.m < 1 << 63);
            assert_eq!(g.m.wrapping_mul(g.m_neg_inv), u64::MAX);
        }
        for (&p, &(inv, lim)) in t.primes.iter().zip(t.inverses.iter()) {
            assert_eq!(u64::from(p).wrapping_mul(inv), 1);
            assert_eq!(lim, u64::MAX / u64::from(p));
        }
    }
}

//! Montgomery arithmetic modulo an odd modulus (which may be secret), in constant time
//! (SPEC §1 (g)): the rings mod n1, p2, q2, n2 and n of SPEC §3 and §4, and prime candidates
//! (§2).
//!
//! A [`Modulus<M>`] is the Montgomery context of one odd modulus; `M` is a marker type naming
//! the ring (for example the device's n1 or a server prime), so that a [`Residue<M>`] of one
//! ring cannot be passed to another (STYLE.md rule 2). Residues are kept in Montgomery form
//! `aR mod n`, `R = 2^(64k)` for a `k`-limb modulus, and are always fully reduced.

use core::fmt;
use core::marker::PhantomData;

use subtle::{Choice, ConstantTimeEq};
use zeroize::Zeroize;

use super::backend;
use super::uint::{LIMB_BITS, Limb, MAX_LIMBS, Uint, adc, mac, mask, sbb};

/// The Montgomery context of an odd modulus `n`, for the ring named by the marker `M`.
///
/// Construction runs in constant time (the modulus may be a secret prime). The context is
/// wiped when dropped.
pub struct Modulus<M> {
    n: Uint,
    /// `-n^-1 mod 2^64`.
    n0inv: Limb,
    /// `R mod n`: one in Montgomery form.
    one: Uint,
    /// `R^2 mod n`.
    r2: Uint,
    _ring: PhantomData<fn() -> M>,
}

/// An element of `Z/nZ` for the ring `M`, in Montgomery form, fully reduced. Wiped on drop.
pub struct Residue<M> {
    v: Uint,
    _ring: PhantomData<fn() -> M>,
}

// Clone: exponentiation tables and CRT need copies; each copy wipes itself on drop.
impl<M> Clone for Residue<M> {
    fn clone(&self) -> Self {
        Self {
            v: self.v.clone(),
            _ring: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Residue<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Residue")
            .field("bits", &self.v.bits_precision())
            .finish_non_exhaustive()
    }
}

impl<M> fmt::Debug for Modulus<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Modulus")
            .field("bits", &self.n.bits_precision())
            .finish_non_exhaustive()
    }
}

impl<M> Zeroize for Residue<M> {
    fn zeroize(&mut self) {
        self.v.zeroize();
    }
}

impl<M> Residue<M> {
    /// The Montgomery representation `aR mod n` (not the value `a`).
    pub fn as_montgomery(&self) -> &Uint {
        &self.v
    }

    /// Equality of residues, in constant time.
    pub fn ct_eq(&self, rhs: &Self) -> Choice {
        self.v.ct_eq(&rhs.v)
    }

    /// `a` if `c` is unset, else `b`.
    pub fn conditional_select(a: &Self, b: &Self, c: Choice) -> Self {
        Self {
            v: Uint::conditional_select(&a.v, &b.v, c),
            _ring: PhantomData,
        }
    }

    /// Whether the residue is zero.
    pub fn is_zero(&self) -> Choice {
        self.v.is_zero()
    }
}

// Clone: a server keeps its moduli and hands copies to worker threads; each copy wipes itself.
impl<M> Clone for Modulus<M> {
    fn clone(&self) -> Self {
        Self {
            n: self.n.clone(),
            n0inv: self.n0inv,
            one: self.one.clone(),
            r2: self.r2.clone(),
            _ring: PhantomData,
        }
    }
}

impl<M> Drop for Modulus<M> {
    fn drop(&mut self) {
        self.n0inv.zeroize();
    }
}

/// `-n0^-1 mod 2^64` for odd `n0`, by Newton iteration (constant time).
fn neg_inv_limb(n0: Limb) -> Limb {
    // x = n0 is correct to 3 bits for odd n0; each step doubles the precision: 3, 6, 12, 24, 48, 96.
    let mut x = n0;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

/// `t = t - n` if `carry` is set or `t >= n`: the final step of Montgomery reduction, for
/// `t + carry * 2^(64k) < 2n`. Constant time.
#[inline(always)]
#[allow(clippy::indexing_slicing)] // lengths checked at entry
pub(crate) fn final_sub(out: &mut [Limb], t: &[Limb], carry: Limb, n: &[Limb]) {
    let k = n.len();
    let (out, t) = (&mut out[..k], &t[..k]);
    let mut borrow = 0;
    for i in 0..k {
        (out[i], borrow) = sbb(t[i], n[i], borrow);
    }
    // Keep t - n unless it borrowed and there was no carry.
    let keep_t = mask(Choice::from((borrow & !carry & 1) as u8));
    for i in 0..k {
        out[i] = (t[i] & keep_t) | (out[i] & !keep_t);
    }
}

/// Portable Montgomery multiplication (CIOS): `out = a * b / R mod n`, all `k = n.len()`
/// limbs, `a * b < R * n` (e.g. `a < R`, `b < n`), `n` odd, `k ≤ MAX_LIMBS`.
///
/// Two limbs of `b` per pass over `t`: four independent carry chains per inner step, and half
/// the loads and stores of `t`. Loop bounds and branches depend only on `k`.
#[allow(clippy::indexing_slicing)] // lengths established at entry; keeps the loop free of checks
pub(crate) fn mont_mul_portable(out: &mut [Limb], a: &[Limb], b: &[Limb], n: &[Limb], n0inv: Limb) {
    let k = n.len();
    debug_assert!((1..=MAX_LIMBS).contains(&k));
    let (a, b) = (&a[..k], &b[..k]);
    let mut buf = [0 as Limb; MAX_LIMBS + 1];
    let t = &mut buf[..k + 1];
    let mut i = 0;
    while i + 1 < k {
        // t = (t + a b_i + m0 n + (a b_{i+1} + m1 n) 2^64) / 2^128.
        let (bi, bj) = (b[i], b[i + 1]);
        let (u0, c1) = mac(t[0], a[0], bi, 0);
        let m0 = u0.wrapping_mul(n0inv);
        let (_, c2) = mac(u0, m0, n[0], 0);
        let (u, mut c1) = mac(t[1], a[1], bi, c1);
        let (u, mut c2) = mac(u, m0, n[1], c2);
        let (u1, mut c3) = mac(u, a[0], bj, 0);
        let m1 = u1.wrapping_mul(n0inv);
        let (_, mut c4) = mac(u1, m1, n[0], 0);
        for j in 2..k {
            let (u, c) = mac(t[j], a[j], bi, c1);
            c1 = c;
            let (u, c) = mac(u, m0, n[j], c2);
            c2 = c;
            let (u, c) = mac(u, a[j - 1], bj, c3);
            c3 = c;
            (t[j - 2], c4) = mac(u, m1, n[j - 1], c4);
        }
        let (u, c3) = mac(t[k], a[k - 1], bj, c3);
        let (u, c4) = mac(u, m1, n[k - 1], c4);
        let (u, x) = adc(u, c1, 0);
        let (u, y) = adc(u, c2, 0);
        t[k - 2] = u;
        let (s, z1) = adc(c3, c4, x);
        let (s, z2) = adc(s, y, 0);
        t[k - 1] = s;
        t[k] = z1 + z2;
        i += 2;
    }
    if i < k {
        // Odd k: the last limb of b alone.
        let bi = b[i];
        let (u, mut c1) = mac(t[0], a[0], bi, 0);
        let m = u.wrapping_mul(n0inv);
        let (_, mut c2) = mac(u, m, n[0], 0);
        for j in 1..k {
            let (u, c) = mac(t[j], a[j], bi, c1);
            c1 = c;
            (t[j - 1], c2) = mac(u, m, n[j], c2);
        }
        let (u, c) = adc(t[k], c1, 0);
        let (v, c3) = adc(u, c2, 0);
        t[k - 1] = v;
        t[k] = c + c3;
    }
    final_sub(out, &t[..k], t[k], n);
    t.zeroize();
}

/// Portable Montgomery squaring: `out = a^2 / R mod n`, `a < n`. Computes the full square
/// using the symmetry of the cross products, then reduces.
///
/// Both the cross products and the reduction process two rows at a time, so that each inner
/// loop step carries two independent carry chains (as CIOS does for multiplication) instead
/// of one serial chain; the doubling of the cross products and the squares `a_i^2` are added
/// in a single pass. Loop bounds and branches depend only on `k`.
#[allow(clippy::indexing_slicing)] // lengths established at entry
pub(crate) fn mont_sqr_portable(out: &mut [Limb], a: &[Limb], n: &[Limb], n0inv: Limb) {
    let k = n.len();
    debug_assert!((1..=MAX_LIMBS).contains(&k));
    let a = &a[..k];
    let mut buf = [0 as Limb; 2 * MAX_LIMBS];
    let t = &mut buf[..2 * k];
    // Cross products a_i a_j, i < j, at t[i + j]; rows i and i + 1 together. Row i's carry
    // lands on t[i + k], which no earlier row has written (it is still zero).
    let mut i = 0;
    while i + 1 < k {
        let (ai, ai1) = (a[i], a[i + 1]);
        let (x, mut c1) = mac(t[2 * i + 1], ai, ai1, 0);
        t[2 * i + 1] = x;
        if i + 2 < k {
            (t[2 * i + 2], c1) = mac(t[2 * i + 2], ai, a[i + 2], c1);
            let mut c2 = 0;
            // t[i + j] += a_i a_j + a_{i+1} a_{j-1}, for j = i + 3 .. k - 1.
            // (a_{j-1} is carried over from the previous step, not loaded again.)
            let mut aj1 = a[i + 2];
            for (tj, &aj) in t[2 * i + 3..i + k].iter_mut().zip(&a[i + 3..]) {
                let (u, c) = mac(*tj, ai, aj, c1);
                c1 = c;
                (*tj, c2) = mac(u, ai1, aj1, c2);
                aj1 = aj;
            }
            // Position i + k: row i's carry and row i + 1's last product a_{i+1} a_{k-1}.
            let (x, c) = mac(c1, ai1, a[k - 1], c2);
            t[i + k] = x;
            t[i + k + 1] = c;
        } else {
            // i = k - 2: row i has the one product a_{k-2} a_{k-1}; row k - 1 has none.
            t[i + k] = c1;
        }
        i += 2;
    }
    // (For odd k the last row, k - 1, has no cross products.)
    // Double the cross products and add the squares a_i^2, in one pass.
    let mut top = 0;
    let mut c = 0;
    for (pair, &ai) in t.chunks_exact_mut(2).zip(a) {
        let (x, y) = (pair[0], pair[1]);
        let x2 = (x << 1) | top;
        let y2 = (y << 1) | (x >> (LIMB_BITS - 1));
        top = y >> (LIMB_BITS - 1);
        let (lo, hi) = mac(0, ai, ai, 0);
        let (x, c1) = adc(x2, lo, c);
        let (y, c2) = adc(y2, hi, c1);
        pair[0] = x;
        pair[1] = y;
        c = c2;
    }
    // Montgomery reduction of the 2k-limb t, two rows of n at a time. `hi_carry` is the
    // carry out of the top limb written so far, added when the next rows reach that limb.
    let mut hi_carry = 0;
    let mut i = 0;
    while i + 1 < k {
        let m0 = t[i].wrapping_mul(n0inv);
        let (_, c1) = mac(t[i], m0, n[0], 0);
        let (u1, mut c1) = mac(t[i + 1], m0, n[1], c1);
        let m1 = u1.wrapping_mul(n0inv);
        let (_, mut c2) = mac(u1, m1, n[0], 0);
        // t[i + j] += m0 n_j + m1 n_{j-1}, for j = 2 .. k - 1.
        let mut nj1 = n[1];
        for (tj, &nj) in t[i + 2..i + k].iter_mut().zip(&n[2..]) {
            let (u, c) = mac(*tj, m0, nj, c1);
            c1 = c;
            (*tj, c2) = mac(u, m1, nj1, c2);
            nj1 = nj;
        }
        let (v, c) = mac(t[i + k], m1, n[k - 1], c2);
        let (v, x) = adc(v, c1, hi_carry);
        t[i + k] = v;
        (t[i + k + 1], hi_carry) = adc(t[i + k + 1], c, x);
        i += 2;
    }
    if i < k {
        // Odd k: the last row alone.
        let m = t[i].wrapping_mul(n0inv);
        let mut c = 0;
        for (tj, &nj) in t[i..i + k].iter_mut().zip(n) {
            (*tj, c) = mac(*tj, m, nj, c);
        }
        (t[i + k], hi_carry) = adc(t[i + k], c, hi_carry);
    }
    final_sub(out, &t[k..], hi_carry, n);
    t.zeroize();
}

impl<M> Modulus<M> {
    /// The Montgomery context of `n`, in constant time in the value of `n`.
    ///
    /// Returns `None` if `n` has no limbs or more than [`MAX_LIMBS`], or if `n` is even. Only
    /// the width and bit 0 of `n` are inspected by branches: every modulus used by the
    /// protocol is odd by construction, so bit 0 is public. `n = 1` gives the zero ring.
    pub fn new(n: Uint) -> Option<Self> {
        let k = n.nlimbs();
        if k == 0 || k > MAX_LIMBS {
            return None;
        }
        let n0 = n.as_limbs().first().copied().unwrap_or(0);
        if n0 & 1 == 0 {
            return None;
        }
        let n0inv = neg_inv_limb(n0);
        // R mod n by 64k modular doublings of 1 mod n.
        let mut one = Uint::one(k);
        let mut tmp = Uint::zero(k);
        // Reduce 1 itself in case n = 1 (then R mod n = 0): one < n holds for n > 1 already,
        // and `mod_double` needs its input below n.
        final_sub(tmp.as_limbs_mut(), one.as_limbs(), 0, n.as_limbs());
        core::mem::swap(&mut one, &mut tmp);
        for _ in 0..k * LIMB_BITS {
            mod_double(&mut one, &mut tmp, &n);
        }
        let mut m = Self {
            n,
            n0inv,
            r2: one.clone(),
            one,
            _ring: PhantomData,
        };
        // R^2 mod n is 2^(64k) in Montgomery form: raise Montgomery(2) to the public 64k.
        let mut two = m.one.clone();
        mod_double(&mut two, &mut tmp, &m.n);
        let two = Residue {
            v: two,
            _ring: PhantomData,
        };
        let exp = Uint::from_u64((k * LIMB_BITS) as u64, 1);
        let r2 = m.pow_vartime(&two, &exp);
        m.r2 = r2.v.clone();
        Some(m)
    }

    /// The modulus.
    pub fn modulus(&self) -> &Uint {
        &self.n
    }

    /// The width of the modulus, in limbs.
    pub fn nlimbs(&self) -> usize {
        self.n.nlimbs()
    }

    /// The bit length of the modulus. **Variable time**: public moduli only.
    pub fn bits_vartime(&self) -> usize {
        self.n.bits_vartime()
    }

    /// Montgomery multiplication of raw limbs, dispatched to the fastest available backend.
    #[inline]
    fn mont_mul_into(&self, out: &mut Uint, a: &Uint, b: &Uint) {
        backend::mont_mul(
            out.as_limbs_mut(),
            a.as_limbs(),
            b.as_limbs(),
            self.n.as_limbs(),
            self.n0inv,
        );
    }

    #[inline]
    fn mont_sqr_into(&self, out: &mut Uint, a: &Uint) {
        backend::mont_sqr(
            out.as_limbs_mut(),
            a.as_limbs(),
            self.n.as_limbs(),
            self.n0inv,
        );
    }

    /// One, in Montgomery form.
    pub fn one(&self) -> Residue<M> {
        Residue {
            v: self.one.clone(),
            _ring: PhantomData,
        }
    }

    /// Zero.
    pub fn zero(&self) -> Residue<M> {
        Residue {
            v: Uint::zero(self.nlimbs()),
            _ring: PhantomData,
        }
    }

    /// `x mod n` in Montgomery form, for `x` of any width, in constant time.
    pub fn to_monty(&self, x: &Uint) -> Residue<M> {
        let k = self.nlimbs();
        let nchunks = x.nlimbs().div_ceil(k).max(1);
        let mut acc = self.zero();
        let mut chunk = Uint::zero(k);
        let mut tmp = Uint::zero(k);
        for c in (0..nchunks).rev() {
            // chunk = limbs [c*k, (c+1)*k) of x; a value < R.
            for (j, d) in chunk.as_limbs_mut().iter_mut().enumerate() {
                *d = x.as_limbs().get(c * k + j).copied().unwrap_or(0);
            }
            if c + 1 == nchunks {
                // The top chunk: acc = chunk in Montgomery form (chunk * R^2 / R, valid for
                // chunk < R); nothing to shift yet.
                self.mont_mul_into(&mut acc.v, &chunk, &self.r2);
                continue;
            }
            // acc = acc * R (as values): Montgomery-multiply by R^2.
            self.mont_mul_into(&mut tmp, &acc.v, &self.r2);
            // chunk in Montgomery form, added.
            self.mont_mul_into(&mut acc.v, &chunk, &self.r2);
            let a = Residue {
                v: tmp.clone(),
                _ring: PhantomData,
            };
            acc = self.add(&a, &acc);
        }
        chunk.zeroize();
        tmp.zeroize();
        acc
    }

    /// The value of a residue, as an integer `nlimbs` wide, `< n`.
    pub fn from_monty(&self, a: &Residue<M>) -> Uint {
        let mut out = Uint::zero(self.nlimbs());
        let one = Uint::one(self.nlimbs());
        self.mont_mul_into(&mut out, &a.v, &one);
        out
    }

    /// `a * b mod n`.
    pub fn mul(&self, a: &Residue<M>, b: &Residue<M>) -> Residue<M> {
        let mut out = Uint::zero(self.nlimbs());
        self.mont_mul_into(&mut out, &a.v, &b.v);
        Residue {
            v: out,
            _ring: PhantomData,
        }
    }

    /// `a^2 mod n`.
    pub fn square(&self, a: &Residue<M>) -> Residue<M> {
        let mut out = Uint::zero(self.nlimbs());
        self.mont_sqr_into(&mut out, &a.v);
        Residue {
            v: out,
            _ring: PhantomData,
        }
    }

    /// In-place `a = a * b mod n`, using `tmp` (same width) as scratch.
    pub(crate) fn mul_assign(&self, a: &mut Residue<M>, b: &Residue<M>, tmp: &mut Uint) {
        self.mont_mul_into(tmp, &a.v, &b.v);
        core::mem::swap(&mut a.v, tmp);
    }

    /// In-place `a = a * b mod n` for `b` given by its Montgomery representation (`< n`, e.g.
    /// an entry of an exponentiation table), using `tmp` (same width) as scratch.
    pub(crate) fn mul_assign_montgomery(&self, a: &mut Residue<M>, b: &Uint, tmp: &mut Uint) {
        self.mont_mul_into(tmp, &a.v, b);
        core::mem::swap(&mut a.v, tmp);
    }

    /// In-place `a = a^2 mod n`, using `tmp` (same width) as scratch.
    pub(crate) fn square_assign(&self, a: &mut Residue<M>, tmp: &mut Uint) {
        self.mont_sqr_into(tmp, &a.v);
        core::mem::swap(&mut a.v, tmp);
    }

    /// `a + b mod n`.
    pub fn add(&self, a: &Residue<M>, b: &Residue<M>) -> Residue<M> {
        let mut t = a.v.clone();
        let carry = t.adc_assign(&b.v);
        let mut out = Uint::zero(self.nlimbs());
        final_sub(out.as_limbs_mut(), t.as_limbs(), carry, self.n.as_limbs());
        Residue {
            v: out,
            _ring: PhantomData,
        }
    }

    /// `a - b mod n`.
    pub fn sub(&self, a: &Residue<M>, b: &Residue<M>) -> Residue<M> {
        let mut t = a.v.clone();
        let borrow = t.sbb_assign(&b.v);
        // Add n back if it borrowed.
        let mut nm = self.n.clone();
        let m = mask(Choice::from(borrow as u8));
        for l in nm.as_limbs_mut() {
            *l &= m;
        }
        t.adc_assign(&nm);
        Residue {
            v: t,
            _ring: PhantomData,
        }
    }

    /// `-a mod n`.
    pub fn neg(&self, a: &Residue<M>) -> Residue<M> {
        self.sub(&self.zero(), a)
    }

    /// Whether two residues are equal.
    pub fn ct_eq(&self, a: &Residue<M>, b: &Residue<M>) -> Choice {
        a.v.ct_eq(&b.v)
    }

    /// The Montgomery representation as a residue, for an integer already `< n` in Montgomery
    /// form. The caller guarantees the bound (it is not checked).
    pub(crate) fn residue_from_montgomery_unchecked(&self, v: Uint) -> Residue<M> {
        debug_assert_eq!(v.nlimbs(), self.nlimbs());
        Residue {
            v,
            _ring: PhantomData,
        }
    }
}

/// `x = 2x mod n` for `x < n`, with `tmp` as scratch (same width). Constant time.
fn mod_double(x: &mut Uint, tmp: &mut Uint, n: &Uint) {
    let carry = x.shl1_assign();
    final_sub(tmp.as_limbs_mut(), x.as_limbs(), carry, n.as_limbs());
    core::mem::swap(x, tmp);
}

impl<M> ConstantTimeEq for Residue<M> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.v.ct_eq(&other.v)
    }
}

//! Runtime-sized, fixed-width unsigned integers of 64-bit limbs, with constant-time operations
//! (SPEC §1 (g); every secret of §2–§4 is one).
//!
//! The width (number of limbs) of a [`Uint`] is public; its value may be secret. Every method
//! runs in time that depends only on the widths of its operands, unless its name ends in
//! `_vartime`.

use core::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeLess};
use zeroize::{Zeroize, Zeroizing};

/// One machine word of a [`Uint`].
pub type Limb = u64;

/// Bits in a [`Limb`].
pub const LIMB_BITS: usize = 64;

/// Bytes in a [`Limb`].
pub const LIMB_BYTES: usize = 8;

/// `log2(LIMB_BITS)`: bit positions are split into limb index and offset by shifts, not `/`.
pub(crate) const LIMB_SHIFT: u32 = 6;

/// The widest integer the crate handles, in limbs (8192 bits), for moduli. Products may be
/// twice as wide.
pub const MAX_LIMBS: usize = 128;

/// `a + b + carry`, returning (sum, carry out); `carry` must be 0 or 1.
#[inline(always)]
pub(crate) const fn adc(a: Limb, b: Limb, carry: Limb) -> (Limb, Limb) {
    let t = (a as u128) + (b as u128) + (carry as u128);
    (t as Limb, (t >> 64) as Limb)
}

/// `a - b - borrow`, returning (difference, borrow out); `borrow` must be 0 or 1.
#[inline(always)]
pub(crate) const fn sbb(a: Limb, b: Limb, borrow: Limb) -> (Limb, Limb) {
    let t = (a as u128).wrapping_sub((b as u128) + (borrow as u128));
    (t as Limb, (t >> 127) as Limb)
}

/// `a + b * c + carry`, returning (low, high). Never overflows.
#[inline(always)]
pub(crate) const fn mac(a: Limb, b: Limb, c: Limb, carry: Limb) -> (Limb, Limb) {
    let t = (a as u128) + (b as u128) * (c as u128) + (carry as u128);
    (t as Limb, (t >> 64) as Limb)
}

/// All-ones if `c` is set, zero otherwise.
#[inline(always)]
pub(crate) fn mask(c: Choice) -> Limb {
    Limb::conditional_select(&0, &Limb::MAX, c)
}

/// A fixed-width unsigned integer: little-endian limbs, width fixed at construction.
///
/// The value is wiped when dropped. `Debug` prints only the width.
// Clone: values are copied into working buffers by the arithmetic; every copy wipes itself.
#[derive(Clone)]
pub struct Uint {
    limbs: Box<[Limb]>,
}

impl Drop for Uint {
    fn drop(&mut self) {
        self.limbs.zeroize();
    }
}

impl Zeroize for Uint {
    fn zeroize(&mut self) {
        self.limbs.zeroize();
    }
}

impl fmt::Debug for Uint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uint")
            .field("bits", &(self.limbs.len() * LIMB_BITS))
            .finish_non_exhaustive()
    }
}

impl Uint {
    /// Zero, `nlimbs` limbs wide.
    pub fn zero(nlimbs: usize) -> Self {
        Self {
            limbs: vec![0; nlimbs].into_boxed_slice(),
        }
    }

    /// One, `nlimbs` limbs wide (`nlimbs` ≥ 1).
    pub fn one(nlimbs: usize) -> Self {
        Self::from_u64(1, nlimbs)
    }

    /// A small value, `nlimbs` limbs wide (`nlimbs` ≥ 1; with 0 limbs the result is 0).
    pub fn from_u64(v: u64, nlimbs: usize) -> Self {
        let mut r = Self::zero(nlimbs);
        if let Some(l) = r.limbs.first_mut() {
            *l = v;
        }
        r
    }

    /// Takes ownership of little-endian limbs.
    pub fn from_limbs(limbs: Vec<Limb>) -> Self {
        Self {
            limbs: limbs.into_boxed_slice(),
        }
    }

    /// The little-endian limbs.
    pub fn as_limbs(&self) -> &[Limb] {
        &self.limbs
    }

    /// The little-endian limbs, mutable.
    pub fn as_limbs_mut(&mut self) -> &mut [Limb] {
        &mut self.limbs
    }

    /// The width in limbs.
    pub fn nlimbs(&self) -> usize {
        self.limbs.len()
    }

    /// The width in bits (`64 * nlimbs`); not the value's bit length.
    pub fn bits_precision(&self) -> usize {
        self.limbs.len() * LIMB_BITS
    }

    /// Parses big-endian bytes into an integer `nlimbs` wide. Returns `None` if `bytes` is
    /// longer than `8 * nlimbs` (a public length check; the value is not inspected).
    pub fn from_be_slice(bytes: &[u8], nlimbs: usize) -> Option<Self> {
        if bytes.len() > nlimbs * LIMB_BYTES {
            return None;
        }
        let mut r = Self::zero(nlimbs);
        for (limb, chunk) in r.limbs.iter_mut().zip(bytes.rchunks(LIMB_BYTES)) {
            let mut buf = [0u8; LIMB_BYTES];
            if let Some(dst) = buf.get_mut(LIMB_BYTES - chunk.len()..) {
                dst.copy_from_slice(chunk);
            }
            *limb = Limb::from_be_bytes(buf);
            buf.zeroize();
        }
        Some(r)
    }

    /// Parses big-endian bytes into an integer just wide enough to hold `bytes.len()` bytes.
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        let nlimbs = bytes.len().div_ceil(LIMB_BYTES).max(1);
        // The width was chosen to fit, so this cannot fail.
        Self::from_be_slice(bytes, nlimbs).unwrap_or_else(|| Self::zero(nlimbs))
    }

    /// Writes the low `out.len()` bytes of the value into `out`, big-endian, and returns
    /// whether the value fit (all higher bytes zero), as a [`Choice`].
    pub fn write_be_bytes(&self, out: &mut [u8]) -> Choice {
        let n = out.len();
        out.fill(0);
        let mut overflow: Limb = 0;
        for (i, limb) in self.limbs.iter().enumerate() {
            let bytes = limb.to_be_bytes();
            for (j, b) in bytes.iter().enumerate() {
                // Byte position counted from the least significant end: public.
                let pos = i * LIMB_BYTES + (LIMB_BYTES - 1 - j);
                match n.checked_sub(pos + 1).and_then(|k| out.get_mut(k)) {
                    Some(dst) => *dst = *b,
                    None => overflow |= *b as Limb,
                }
            }
        }
        overflow.ct_eq(&0)
    }

    /// The value as exactly `len` big-endian bytes in a wiping buffer, and whether it fit.
    pub fn to_be_bytes(&self, len: usize) -> (Zeroizing<Vec<u8>>, Choice) {
        let mut out = Zeroizing::new(vec![0u8; len]);
        let fit = self.write_be_bytes(&mut out);
        (out, fit)
    }

    /// The same value in a width of `nlimbs` limbs: zero-extended, or truncated (high limbs
    /// dropped) if narrower.
    pub fn resize(&self, nlimbs: usize) -> Self {
        let mut r = Self::zero(nlimbs);
        for (d, s) in r.limbs.iter_mut().zip(self.limbs.iter()) {
            *d = *s;
        }
        r
    }

    /// Bit `i` (public position; beyond the width it is 0).
    pub fn bit(&self, i: usize) -> Choice {
        let limb = self.limbs.get(i >> LIMB_SHIFT).copied().unwrap_or(0);
        Choice::from(((limb >> (i % LIMB_BITS)) & 1) as u8)
    }

    /// `w` ≤ 64 bits starting at bit `pos` (public position), as a limb. Bits beyond the
    /// width read as 0.
    pub fn bits_at(&self, pos: usize, w: usize) -> Limb {
        debug_assert!((1..=LIMB_BITS).contains(&w));
        let idx = pos >> LIMB_SHIFT;
        let off = pos % LIMB_BITS;
        let lo = self.limbs.get(idx).copied().unwrap_or(0) >> off;
        let hi = if off == 0 {
            0
        } else {
            self.limbs.get(idx + 1).copied().unwrap_or(0) << (LIMB_BITS - off)
        };
        let m = if w == LIMB_BITS {
            Limb::MAX
        } else {
            (1 << w) - 1
        };
        (lo | hi) & m
    }

    /// Sets bit `i` (public position) to 1; beyond the width, does nothing.
    pub fn set_bit(&mut self, i: usize) {
        if let Some(l) = self.limbs.get_mut(i >> LIMB_SHIFT) {
            *l |= 1 << (i % LIMB_BITS);
        }
    }

    /// Clears every bit at position `i` and above (public position).
    pub fn truncate_bits(&mut self, i: usize) {
        for (k, l) in self.limbs.iter_mut().enumerate() {
            let lo = k * LIMB_BITS;
            if lo >= i {
                *l = 0;
            } else if i - lo < LIMB_BITS {
                *l &= (1 << (i - lo)) - 1;
            }
        }
    }

    /// The bit length of the value (0 for 0). **Variable time**: public values only.
    pub fn bits_vartime(&self) -> usize {
        for (i, l) in self.limbs.iter().enumerate().rev() {
            if *l != 0 {
                return i * LIMB_BITS + (LIMB_BITS - l.leading_zeros() as usize);
            }
        }
        0
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> Choice {
        let acc = self.limbs.iter().fold(0, |acc, l| acc | l);
        acc.ct_eq(&0)
    }

    /// Whether the value is odd.
    pub fn is_odd(&self) -> Choice {
        Choice::from((self.limbs.first().copied().unwrap_or(0) & 1) as u8)
    }

    /// Whether `self == rhs` as numbers (widths may differ).
    pub fn ct_eq(&self, rhs: &Self) -> Choice {
        let n = self.nlimbs().max(rhs.nlimbs());
        let mut acc = 0;
        for i in 0..n {
            let a = self.limbs.get(i).copied().unwrap_or(0);
            let b = rhs.limbs.get(i).copied().unwrap_or(0);
            acc |= a ^ b;
        }
        acc.ct_eq(&0)
    }

    /// Whether `self < rhs` as numbers (widths may differ).
    pub fn ct_lt(&self, rhs: &Self) -> Choice {
        let n = self.nlimbs().max(rhs.nlimbs());
        let mut borrow = 0;
        for i in 0..n {
            let a = self.limbs.get(i).copied().unwrap_or(0);
            let b = rhs.limbs.get(i).copied().unwrap_or(0);
            (_, borrow) = sbb(a, b, borrow);
        }
        Choice::from(borrow as u8)
    }

    /// Whether `self < v` for a small `v`.
    pub fn ct_lt_u64(&self, v: u64) -> Choice {
        let mut high = 0;
        for l in self.limbs.iter().skip(1) {
            high |= l;
        }
        let low = self.limbs.first().copied().unwrap_or(0);
        high.ct_eq(&0) & low.ct_lt(&v)
    }

    /// `self += rhs` over `self`'s width; `rhs` is read zero-extended or truncated. Returns
    /// the carry out (0 or 1).
    pub fn adc_assign(&mut self, rhs: &Self) -> Limb {
        let mut carry = 0;
        for (i, a) in self.limbs.iter_mut().enumerate() {
            let b = rhs.limbs.get(i).copied().unwrap_or(0);
            (*a, carry) = adc(*a, b, carry);
        }
        carry
    }

    /// `self -= rhs` over `self`'s width; `rhs` is read zero-extended or truncated. Returns
    /// the borrow out (0 or 1).
    pub fn sbb_assign(&mut self, rhs: &Self) -> Limb {
        let mut borrow = 0;
        for (i, a) in self.limbs.iter_mut().enumerate() {
            let b = rhs.limbs.get(i).copied().unwrap_or(0);
            (*a, borrow) = sbb(*a, b, borrow);
        }
        borrow
    }

    /// `self += v` for a small `v`; returns the carry out.
    pub fn add_u64_assign(&mut self, v: u64) -> Limb {
        let mut carry = v;
        for a in self.limbs.iter_mut() {
            (*a, carry) = adc(*a, carry, 0);
        }
        carry
    }

    /// `self -= v` for a small `v`; returns the borrow out.
    pub fn sub_u64_assign(&mut self, v: u64) -> Limb {
        let mut borrow = v;
        for a in self.limbs.iter_mut() {
            let (d, b) = sbb(*a, borrow, 0);
            *a = d;
            borrow = b;
        }
        borrow
    }

    /// `self = self * v + carry` for a small `v`; returns the high limb.
    pub fn mul_u64_assign(&mut self, v: u64) -> Limb {
        let mut carry = 0;
        for a in self.limbs.iter_mut() {
            (*a, carry) = mac(0, *a, v, carry);
        }
        carry
    }

    /// Shifts left by one bit within the width; returns the bit shifted out.
    pub fn shl1_assign(&mut self) -> Limb {
        let mut carry = 0;
        for a in self.limbs.iter_mut() {
            let out = *a >> (LIMB_BITS - 1);
            *a = (*a << 1) | carry;
            carry = out;
        }
        carry
    }

    /// Shifts right by one bit within the width; returns the bit shifted out.
    pub fn shr1_assign(&mut self) -> Limb {
        let mut carry = 0;
        for a in self.limbs.iter_mut().rev() {
            let out = *a & 1;
            *a = (*a >> 1) | (carry << (LIMB_BITS - 1));
            carry = out;
        }
        carry
    }

    /// The full product, `self.nlimbs() + rhs.nlimbs()` limbs wide (schoolbook, constant time).
    pub fn mul_wide(&self, rhs: &Self) -> Self {
        let mut r = Self::zero(self.nlimbs() + rhs.nlimbs());
        for (i, &a) in self.limbs.iter().enumerate() {
            let mut carry = 0;
            if let Some(row) = r.limbs.get_mut(i..) {
                let mut it = row.iter_mut();
                for (&b, t) in rhs.limbs.iter().zip(it.by_ref()) {
                    (*t, carry) = mac(*t, a, b, carry);
                }
                if let Some(t) = it.next() {
                    *t = carry;
                }
            }
        }
        r
    }

    /// `self` if `c` is unset, else `other` (both of the same width; `other` is read
    /// zero-extended or truncated).
    pub fn conditional_assign(&mut self, other: &Self, c: Choice) {
        let m = mask(c);
        for (i, a) in self.limbs.iter_mut().enumerate() {
            let b = other.limbs.get(i).copied().unwrap_or(0);
            *a ^= m & (*a ^ b);
        }
    }

    /// `a` if `c` is unset, else `b`, in `a`'s width.
    pub fn conditional_select(a: &Self, b: &Self, c: Choice) -> Self {
        let mut r = a.clone();
        r.conditional_assign(b, c);
        r
    }

    /// Swaps `a` and `b` if `c` is set (equal widths; extra limbs are left alone).
    pub fn conditional_swap(a: &mut Self, b: &mut Self, c: Choice) {
        let m = mask(c);
        for (x, y) in a.limbs.iter_mut().zip(b.limbs.iter_mut()) {
            let t = m & (*x ^ *y);
            *x ^= t;
            *y ^= t;
        }
    }
}

impl ConstantTimeEq for Uint {
    fn ct_eq(&self, other: &Self) -> Choice {
        Uint::ct_eq(self, other)
    }
}

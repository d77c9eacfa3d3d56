//! Modular exponentiation: constant-time fixed-window for secret exponents (SPEC §4 steps 3
//! and 5: `m^d1'`, `m^d1''`, `m^dp`, `m^dq`; §2 Miller–Rabin), and a `_vartime`
//! square-and-multiply for public ones (the checks `s^e = m`, verification).

use zeroize::Zeroize;

use super::monty::{Modulus, Residue};
use super::uint::{Limb, Uint};

/// The window width for a constant-time exponentiation with an exponent of `exp_bits` bits
/// and a modulus of `nlimbs` limbs. Chosen by measurement (docs/benchmarks.md): the cost is
/// `exp_bits` squarings plus `exp_bits / w` multiplications plus `2^w` table entries built
/// and scanned `exp_bits / w` times.
pub(crate) fn window_width(exp_bits: usize) -> usize {
    match exp_bits {
        0..=16 => 1,
        17..=96 => 2,
        97..=288 => 3,
        289..=768 => 4,
        769..=2048 => 5,
        _ => 6,
    }
}

impl<M> Modulus<M> {
    /// `base^exp mod n` in constant time: the running time and memory accesses depend only on
    /// the widths of the modulus and on `exp_bits`, not on the values of `base` and `exp`.
    ///
    /// The low `exp_bits` bits of `exp` are used (`exp_bits` is public; bits of `exp` beyond
    /// its width read as 0). Fixed window; each table entry is fetched by scanning the whole
    /// table with masks.
    pub fn pow(&self, base: &Residue<M>, exp: &Uint, exp_bits: usize) -> Residue<M> {
        let k = self.nlimbs();
        if exp_bits == 0 {
            return self.one();
        }
        let w = window_width(exp_bits);
        let size = 1usize << w;
        // table[i] = base^i, Montgomery form, stored contiguously.
        let mut table: Vec<Limb> = Vec::with_capacity(size * k);
        table.extend_from_slice(self.one().as_montgomery().as_limbs());
        table.extend_from_slice(base.as_montgomery().as_limbs());
        let mut tmp = Uint::zero(k);
        let mut prev = base.clone();
        for i in 2..size {
            let next = if i % 2 == 0 {
                // base^i = (base^(i/2))^2
                let half = self.residue_from_montgomery_unchecked(lookup_public(&table, k, i >> 1));
                self.square(&half)
            } else {
                self.mul(&prev, base)
            };
            table.extend_from_slice(next.as_montgomery().as_limbs());
            prev = next;
        }
        drop(prev);

        let nwin = exp_bits.div_ceil(w);
        let mut acc = Uint::zero(k);
        let mut entry = Uint::zero(k);
        // Top window (possibly partial): start from it directly.
        let top_pos = (nwin - 1) * w;
        let top_w = exp_bits - top_pos;
        let digit = exp.bits_at(top_pos, top_w);
        lookup_ct(&table, k, digit, acc.as_limbs_mut());
        let mut acc = self.residue_from_montgomery_unchecked(acc);
        for win in (0..nwin - 1).rev() {
            for _ in 0..w {
                self.square_assign(&mut acc, &mut tmp);
            }
            let digit = exp.bits_at(win * w, w);
            lookup_ct(&table, k, digit, entry.as_limbs_mut());
            self.mul_assign_montgomery(&mut acc, &entry, &mut tmp);
        }
        table.zeroize();
        entry.zeroize();
        tmp.zeroize();
        acc
    }

    /// `base^exp mod n` by left-to-right square-and-multiply. **Variable time** in `exp`: for
    /// public exponents only (e = 65537, verification).
    pub fn pow_vartime(&self, base: &Residue<M>, exp: &Uint) -> Residue<M> {
        let bits = exp.bits_vartime();
        if bits == 0 {
            return self.one();
        }
        // The top bit is 1: start from the base.
        let mut acc = base.clone();
        let mut tmp = Uint::zero(self.nlimbs());
        for i in (0..bits - 1).rev() {
            self.square_assign(&mut acc, &mut tmp);
            if bool::from(exp.bit(i)) {
                self.mul_assign(&mut acc, base, &mut tmp);
            }
        }
        acc
    }

    /// `a^-1 mod p` for a prime modulus `p`, by Fermat (`a^(p-2)`), in constant time. The
    /// modulus must be prime (this is not checked); for `a = 0` the result is 0.
    pub fn inv_prime(&self, a: &Residue<M>) -> Residue<M> {
        let mut e = self.modulus().clone();
        e.sub_u64_assign(2);
        let r = self.pow(a, &e, e.bits_precision());
        e.zeroize();
        r
    }
}

/// Entry `i` of a table of `k`-limb entries, at a public index.
fn lookup_public(table: &[Limb], k: usize, i: usize) -> Uint {
    let mut v = Uint::zero(k);
    if let Some(src) = table.get(i * k..(i + 1) * k) {
        v.as_limbs_mut().copy_from_slice(src);
    }
    v
}

/// `out = table[digit]` by reading every entry and keeping the one whose index matches
/// (constant time in `digit`).
fn lookup_ct(table: &[Limb], k: usize, digit: Limb, out: &mut [Limb]) {
    super::backend::select_ct(table, k, digit, out);
}

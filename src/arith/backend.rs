//! Backend dispatch for the Montgomery kernels.
//!
//! Today every call goes to the portable, safe-Rust kernels of `monty.rs`, which are the
//! reference. The x86-64 BMI2/ADX backend (issue 8) plugs in here, chosen at run time by CPU
//! feature detection; this module is the only place in the crate allowed to contain `unsafe`.
//!
//! Contract of both kernels, whichever backend runs them: all slices have the modulus' length
//! `k` (1 ≤ k ≤ `MAX_LIMBS`); `n` is odd; `n0inv = -n^-1 mod 2^64`; for `mont_mul`,
//! `a * b < R * n` (in particular `a < R` and `b < n` is allowed: `to_monty` relies on it);
//! for `mont_sqr`, `a < n`. The output is `< n`. Running time and memory access pattern
//! depend only on `k`.

use super::monty::{mont_mul_portable, mont_sqr_portable};
use super::uint::Limb;

/// `out = a * b / R mod n`.
#[inline]
pub(crate) fn mont_mul(out: &mut [Limb], a: &[Limb], b: &[Limb], n: &[Limb], n0inv: Limb) {
    mont_mul_portable(out, a, b, n, n0inv)
}

/// `out = a^2 / R mod n`.
#[inline]
pub(crate) fn mont_sqr(out: &mut [Limb], a: &[Limb], n: &[Limb], n0inv: Limb) {
    mont_sqr_portable(out, a, n, n0inv)
}

//! Backend dispatch for the Montgomery kernels.
//!
//! Two implementations of the same two kernels:
//!
//! - the portable, safe-Rust kernels of `monty.rs` (the reference, and the fallback), and
//! - an x86-64 BMI2/ADX backend (`backend/x86_64.rs`, issue 8): hand-scheduled `asm!` using
//!   `MULX` with the two independent carry chains of `ADCX` (carry flag) and `ADOX` (overflow
//!   flag), chosen at run time when the CPU has both features.
//!
//! The choice is made once (CPU feature detection, cached in an atomic) and can be forced to the
//! portable kernels with [`force_portable`] (tests and benchmarks compare the two).
//!
//! Contract of both kernels, whichever backend runs them: all slices have the modulus' length
//! `k` (1 ≤ k ≤ `MAX_LIMBS`); `n` is odd; `n0inv = -n^-1 mod 2^64`; for `mont_mul`,
//! `a * b < R * n` (in particular `a < R` and `b < n` is allowed: `to_monty` relies on it);
//! for `mont_sqr`, `a < n`. The output is `< n`. Running time and memory access pattern
//! depend only on `k`.

// This module is the only place in the crate allowed to contain `unsafe`: inline assembly
// (`core::arch::asm!`) is inherently unsafe, and the BMI2/ADX kernels need it to schedule the two
// carry chains, which no safe Rust or LLVM code generation expresses. Every unsafe block carries
// a `// SAFETY:` comment; the safe wrappers check every slice length before entering assembly.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod x86_64;

use core::sync::atomic::{AtomicU8, Ordering};

use super::monty::{mont_mul_portable, mont_sqr_portable};
use super::uint::Limb;
use crate::error::Error;

/// Not yet decided: detect on first use.
const UNDECIDED: u8 = 0;
/// The portable kernels (no BMI2/ADX, not x86-64, or forced).
const PORTABLE: u8 = 1;
/// The x86-64 BMI2/ADX kernels.
const ADX: u8 = 2;

/// The backend in use; written once by detection, or by [`force_portable`].
static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The backend the CPU supports, ignoring any forcing.
fn detect() -> u8 {
    #[cfg(target_arch = "x86_64")]
    {
        if x86_64::Adx::detect().is_some() {
            return ADX;
        }
    }
    PORTABLE
}

#[inline]
fn mode() -> u8 {
    match MODE.load(Ordering::Relaxed) {
        UNDECIDED => {
            let m = detect();
            // Only fill an undecided slot: a concurrent `force_portable(true)` wins.
            let _ = MODE.compare_exchange(UNDECIDED, m, Ordering::Relaxed, Ordering::Relaxed);
            MODE.load(Ordering::Relaxed)
        }
        m => m,
    }
}

/// Force the portable kernels (`true`), or go back to the fastest kernels the CPU supports
/// (`false`). Process-wide; meant for tests and benchmarks that compare the two backends.
pub fn force_portable(force: bool) {
    let m = if force { PORTABLE } else { detect() };
    MODE.store(m, Ordering::Relaxed);
}

/// The name of the backend currently in use: `"x86_64-bmi2-adx"` or `"portable"`.
pub fn active_backend() -> &'static str {
    match mode() {
        ADX => "x86_64-bmi2-adx",
        _ => "portable",
    }
}

/// `out = a * b / R mod n`.
#[inline]
pub(crate) fn mont_mul(out: &mut [Limb], a: &[Limb], b: &[Limb], n: &[Limb], n0inv: Limb) {
    #[cfg(target_arch = "x86_64")]
    {
        if mode() == ADX
            && let Some(adx) = x86_64::Adx::detect()
            && adx.mont_mul(out, a, b, n, n0inv)
        {
            return;
        }
    }
    mont_mul_portable(out, a, b, n, n0inv)
}

/// `out = a^2 / R mod n`.
#[inline]
pub(crate) fn mont_sqr(out: &mut [Limb], a: &[Limb], n: &[Limb], n0inv: Limb) {
    #[cfg(target_arch = "x86_64")]
    {
        if mode() == ADX
            && let Some(adx) = x86_64::Adx::detect()
            && adx.mont_sqr(out, a, n, n0inv)
        {
            return;
        }
    }
    mont_sqr_portable(out, a, n, n0inv)
}

/// Check the slice lengths of the kernels' contract: `k = n.len()` in `1..=MAX_LIMBS`, every
/// other slice exactly `k` long.
fn check_lengths(out: &[Limb], a: &[Limb], b: &[Limb], n: &[Limb]) -> Result<(), Error> {
    let k = n.len();
    if k == 0 || k > super::uint::MAX_LIMBS {
        return Err(Error::InvalidRequest(
            "modulus must have 1 to MAX_LIMBS limbs",
        ));
    }
    if out.len() != k || a.len() != k || b.len() != k {
        return Err(Error::InvalidRequest(
            "operands must have as many limbs as the modulus",
        ));
    }
    Ok(())
}

/// Montgomery multiplication `out = a * b / R mod n` with the backend in use (see
/// [`active_backend`]). Requires `n` odd, `n0inv = -n^-1 mod 2^64`, `a * b < R * n`; all
/// slices `n.len()` limbs. Fails only on wrong lengths.
pub fn mont_mul_slices(
    out: &mut [Limb],
    a: &[Limb],
    b: &[Limb],
    n: &[Limb],
    n0inv: Limb,
) -> Result<(), Error> {
    check_lengths(out, a, b, n)?;
    mont_mul(out, a, b, n, n0inv);
    Ok(())
}

/// Montgomery squaring `out = a^2 / R mod n` with the backend in use. Requires `a < n`.
pub fn mont_sqr_slices(out: &mut [Limb], a: &[Limb], n: &[Limb], n0inv: Limb) -> Result<(), Error> {
    check_lengths(out, a, a, n)?;
    mont_sqr(out, a, n, n0inv);
    Ok(())
}

/// [`mont_mul_slices`] with the portable kernel, whatever the CPU.
pub fn mont_mul_slices_portable(
    out: &mut [Limb],
    a: &[Limb],
    b: &[Limb],
    n: &[Limb],
    n0inv: Limb,
) -> Result<(), Error> {
    check_lengths(out, a, b, n)?;
    mont_mul_portable(out, a, b, n, n0inv);
    Ok(())
}

/// [`mont_sqr_slices`] with the portable kernel, whatever the CPU.
pub fn mont_sqr_slices_portable(
    out: &mut [Limb],
    a: &[Limb],
    n: &[Limb],
    n0inv: Limb,
) -> Result<(), Error> {
    check_lengths(out, a, a, n)?;
    mont_sqr_portable(out, a, n, n0inv);
    Ok(())
}

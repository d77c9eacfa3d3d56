//! Backend dispatch for the Montgomery kernels (SPEC §1 (g): both backends are constant time).
//!
//! Two implementations of the same two kernels:
//!
//! - the portable, safe-Rust kernels of `monty.rs` (the reference, and the fallback), and
//! - an x86-64 BMI2/ADX backend (`backend/x86_64.rs`): hand-scheduled `asm!` using
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

use crate::error::RequestError;
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
/// The portable kernels, forced by [`force_portable`].
const FORCED_PORTABLE: u8 = 3;

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
    let m = if force { FORCED_PORTABLE } else { detect() };
    MODE.store(m, Ordering::Relaxed);
}

/// Use the x86-64 BMI2/ADX kernels even where CPU feature detection does not report ADX (and
/// leave any [`force_portable`] in place until `force_portable(false)`). For running the
/// assembly under emulators that execute the instructions but hide the feature bit: valgrind
/// 3.19 runs `MULX`/`ADCX`/`ADOX` yet reports no ADX in its CPUID, so without this call a
/// memcheck run exercises only the portable kernels. No effect on other architectures.
///
/// # Safety
///
/// The CPU, or the emulator running the process, must execute `MULX`, `ADCX` and `ADOX`;
/// otherwise the next kernel call dies of an illegal instruction.
pub unsafe fn assume_adx_unchecked() {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: forwarded to our caller (see `# Safety` above).
        unsafe { x86_64::Adx::assume_available() };
        if MODE.load(Ordering::Relaxed) != FORCED_PORTABLE {
            MODE.store(ADX, Ordering::Relaxed);
        }
    }
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
        return Err(Error::InvalidRequest(RequestError::OperandSize));
    }
    if out.len() != k || a.len() != k || b.len() != k {
        return Err(Error::InvalidRequest(RequestError::OperandSize));
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

/// Limbs of each entry gathered per pass of [`select_ct`]: the accumulator stays in registers.
const SELECT_CHUNK: usize = 8;
/// Entries whose masks are computed per pass of [`select_ct`].
const SELECT_GROUP: usize = 64;

/// `out = entry number digit` of `table`, a table of `k`-limb entries stored one after the
/// other, by reading every limb of every entry and keeping the one whose index is `digit`
/// with masks: constant time in `digit`. `out` is zero if `digit` is not an index. Only
/// lengths steer the loops.
///
/// The exponentiation's table scan: the accumulator is kept in registers 8 limbs at a time,
/// and with AVX2 (when the CPU has it) 4 limbs go through each vector instruction.
pub(crate) fn select_ct(table: &[Limb], k: usize, digit: Limb, out: &mut [Limb]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // `select_ct_avx2`.
            unsafe { select_ct_avx2(table, k, digit, out) };
            return;
        }
    }
    select_ct_generic(table, k, digit, out);
}

/// [`select_ct`] compiled with AVX2 enabled.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn select_ct_avx2(table: &[Limb], k: usize, digit: Limb, out: &mut [Limb]) {
    select_ct_generic(table, k, digit, out);
}

#[inline(always)]
fn select_ct_generic(table: &[Limb], k: usize, digit: Limb, out: &mut [Limb]) {
    use subtle::ConstantTimeEq;
    out.fill(0);
    if k == 0 {
        return;
    }
    let mut masks = [0 as Limb; SELECT_GROUP];
    for (g, group) in table.chunks(SELECT_GROUP * k).enumerate() {
        for (i, m) in masks.iter_mut().enumerate() {
            let index = (g * SELECT_GROUP + i) as Limb;
            *m = super::uint::mask(index.ct_eq(&digit));
        }
        for (c, o) in out.chunks_mut(SELECT_CHUNK).enumerate() {
            let start = c * SELECT_CHUNK;
            if let Ok(o) = <&mut [Limb; SELECT_CHUNK]>::try_from(&mut *o) {
                let mut acc = *o;
                for (entry, &m) in group.chunks_exact(k).zip(masks.iter()) {
                    if let Some(Ok(e)) = entry
                        .get(start..start + SELECT_CHUNK)
                        .map(<&[Limb; SELECT_CHUNK]>::try_from)
                    {
                        for (a, &x) in acc.iter_mut().zip(e) {
                            *a |= m & x;
                        }
                    }
                }
                *o = acc;
            } else {
                for (entry, &m) in group.chunks_exact(k).zip(masks.iter()) {
                    for (a, &x) in o.iter_mut().zip(entry.iter().skip(start)) {
                        *a |= m & x;
                    }
                }
            }
        }
    }
}

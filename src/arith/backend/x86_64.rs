//! x86-64 Montgomery kernels with BMI2 (`MULX`) and ADX (`ADCX`/`ADOX`).
//!
//! `MULX` multiplies without touching the flags, `ADCX` propagates a carry in CF only and
//! `ADOX` in OF only. One row `t[0..len] += x * v[0..len]` therefore runs as two interleaved
//! carry chains: the low halves of the products go into `t` through CF, the high halves through
//! OF. Loop control uses only `LEA`, `MOV` and `JRCXZ`, which leave both flags alone. The row is
//! unrolled by 8 with a single-limb tail, so any length is handled.
//!
//! - `mont_mul`: interleaved operand scanning (CIOS order): for each limb `b_i`, one row
//!   `t += a * b_i`, then one reduction row `t += m_i * n` with `m_i = t_i * n0inv`.
//! - `mont_sqr`: the triangle of cross products `a_i a_j` (`i < j`) row by row, one pass that
//!   doubles it and adds the squares `a_i^2` (the doubling in the CF chain, the squares in the
//!   OF chain), then `k` reduction rows.
//!
//! Both finish with the constant-time final subtraction shared with the portable kernels.
//! Every branch and every address depends only on `k` (and on loop counters derived from it):
//! never on the value of an operand.

use core::arch::asm;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};

use super::super::uint::{Limb, MAX_LIMBS};

/// Proof that the CPU supports BMI2 and ADX: only [`Adx::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(super) struct Adx(());

/// Parameters read by the assembly (by offset from a pointer held in `r15`).
///
/// Offsets: 0 `n0inv`, 8 `a`, 16 `n`, 24 `k * 8`, 32 `-main`, 40 `-rem`, 48 `k`, 56 `out`,
/// 64 `t` (the `2k`-limb scratch), where the row being computed has `len = main + rem` limbs,
/// `main = len - len % 8`.
#[repr(C)]
struct Ctx {
    n0inv: Limb,
    a: *const Limb,
    n: *const Limb,
    kbytes: usize,
    neg_main: isize,
    neg_rem: isize,
    k: usize,
    out: *mut Limb,
    t: *mut Limb,
}

impl Ctx {
    fn new(
        k: usize,
        n0inv: Limb,
        a: *const Limb,
        n: *const Limb,
        out: *mut Limb,
        t: *mut Limb,
    ) -> Self {
        let rem = k % 8;
        let main = k - rem;
        Ctx {
            n0inv,
            a,
            n,
            kbytes: 8 * k,
            neg_main: -(main as isize),
            neg_rem: -(rem as isize),
            k,
            out,
            t,
        }
    }
}

/// Zero the scratch `t[0..2k]`; leaves `rdi = t`. Clobbers `rax`, `rcx`.
macro_rules! zero_t {
    () => {
        concat!(
            "mov rdi, qword ptr [r15 + 64]\n",
            "mov rcx, qword ptr [r15 + 48]\n",
            "add rcx, rcx\n",
            "xor eax, eax\n",
            "rep stosq\n",
            "mov rdi, qword ptr [r15 + 64]\n",
        )
    };
}

/// The final step, with the reduced value in `t[k..2k]` and its carry bit in `r14`:
/// `out = t[k..2k] - n` unless that borrows with no carry, else `t[k..2k]` (selected with masks,
/// constant time); then wipe `t[0..2k]`. Clobbers `rax`, `rcx`, `rsi`, `rdi`, `r9`-`r11`, `r14`.
/// Uses local labels 24-27.
macro_rules! finish {
    () => {
        concat!(
            "mov r9, qword ptr [r15 + 24]\n",
            "mov rsi, qword ptr [r15 + 64]\n",
            "add rsi, r9\n",
            "mov rdi, qword ptr [r15 + 56]\n",
            "mov r11, qword ptr [r15 + 16]\n",
            "mov rcx, qword ptr [r15 + 48]\n",
            // out = t_hi - n, borrow in CF.
            "xor eax, eax\n",
            "24:\n",
            "mov rax, qword ptr [rsi]\n",
            "sbb rax, qword ptr [r11]\n",
            "mov qword ptr [rdi], rax\n",
            "lea rsi, [rsi + 8]\n",
            "lea r11, [r11 + 8]\n",
            "lea rdi, [rdi + 8]\n",
            "lea rcx, [rcx - 1]\n",
            "jrcxz 25f\n",
            "jmp 24b\n",
            "25:\n",
            // rax = all-ones iff (borrow and no carry): keep t_hi.
            "sbb rax, rax\n",
            "neg r14\n",
            "not r14\n",
            "and rax, r14\n",
            "sub rsi, r9\n",
            "sub rdi, r9\n",
            "mov rcx, qword ptr [r15 + 48]\n",
            "26:\n",
            "mov r10, qword ptr [rsi]\n",
            "mov r11, qword ptr [rdi]\n",
            "xor r10, r11\n",
            "and r10, rax\n",
            "xor r11, r10\n",
            "mov qword ptr [rdi], r11\n",
            "lea rsi, [rsi + 8]\n",
            "lea rdi, [rdi + 8]\n",
            "dec rcx\n",
            "jnz 26b\n",
            // Wipe the scratch.
            "mov rdi, qword ptr [r15 + 64]\n",
            "mov rcx, qword ptr [r15 + 48]\n",
            "add rcx, rcx\n",
            "xor eax, eax\n",
            "rep stosq\n",
        )
    };
}

/// One limb of a row: `t[j] += lo(x v_j) + CF`, `t[j] += hi(x v_{j-1}) + OF`. The previous
/// high half is in `$prev`, this one's goes to `$hi`. Base pointers: `r11` (v), `r10` (t),
/// index `rcx` (limbs).
macro_rules! step {
    ($off:literal, $hi:literal, $prev:literal) => {
        concat!(
            "mulx ",
            $hi,
            ", r9, qword ptr [r11 + ",
            $off,
            "]\n",
            "adcx r9, qword ptr [r10 + ",
            $off,
            "]\n",
            "adox r9, ",
            $prev,
            "\n",
            "mov qword ptr [r10 + ",
            $off,
            "], r9\n",
        )
    };
}

/// `t[0..len] += rdx * v[0..len]`, with `rdi = t`, `rsi = v`, `r15 = &Ctx` (the row length
/// from its `main`/`rem` fields). Leaves the carry word (`< 2^64`) in `r8`. Clobbers `rax`,
/// `rcx`, `r8`-`r11`, flags. Uses local labels 2-5.
macro_rules! row {
    () => {
        concat!(
            "mov r10, rdi\n",
            "mov r11, rsi\n",
            "mov rcx, qword ptr [r15 + 32]\n",
            // r8 = 0 and CF = OF = 0.
            "xor r8d, r8d\n",
            // The test sits at the loop's bottom: JRCXZ only jumps 127 bytes.
            "jmp 23f\n",
            "2:\n",
            step!("0", "rax", "r8"),
            step!("8", "r8", "rax"),
            step!("16", "rax", "r8"),
            step!("24", "r8", "rax"),
            step!("32", "rax", "r8"),
            step!("40", "r8", "rax"),
            step!("48", "rax", "r8"),
            step!("56", "r8", "rax"),
            "lea rcx, [rcx + 8]\n",
            "lea r10, [r10 + 64]\n",
            "lea r11, [r11 + 64]\n",
            "23:\n",
            "jrcxz 3f\n",
            "jmp 2b\n",
            "3:\n",
            "mov rcx, qword ptr [r15 + 40]\n",
            "jrcxz 5f\n",
            "4:\n",
            step!("0", "rax", "r8"),
            "mov r8, rax\n",
            "lea r10, [r10 + 8]\n",
            "lea r11, [r11 + 8]\n",
            "lea rcx, [rcx + 1]\n",
            "jrcxz 5f\n",
            "jmp 4b\n",
            "5:\n",
            // Close both chains into the last high half (cannot overflow).
            "mov r9d, 0\n",
            "adcx r8, r9\n",
            "adox r8, r9\n",
        )
    };
}

/// Reduction row at `rdi = t + i`: `m = t_i * n0inv`, `t += m * n`, then the row's carry and
/// the pending carry bit `r14` go into `t_{i+k}`, the new carry bit into `r14`.
macro_rules! redc_row {
    () => {
        concat!(
            "mov rdx, qword ptr [rdi]\n",
            "imul rdx, qword ptr [r15]\n",
            "mov rsi, qword ptr [r15 + 16]\n",
            row!(),
            "mov r9, qword ptr [r15 + 24]\n",
            "mov rax, qword ptr [rdi + r9]\n",
            // CF = (r14 != 0); r14 is 0 or 1.
            "neg r14\n",
            "adc rax, r8\n",
            "mov qword ptr [rdi + r9], rax\n",
            "mov r14d, 0\n",
            "adc r14, 0\n",
        )
    };
}

/// Set by [`Adx::assume_available`]: use the kernels even if CPUID does not report ADX.
static ASSUMED: AtomicBool = AtomicBool::new(false);

impl Adx {
    /// `Some` if the CPU supports BMI2 and ADX (cached by the standard library), or if
    /// [`Adx::assume_available`] was called.
    #[inline]
    pub(super) fn detect() -> Option<Self> {
        if ASSUMED.load(Ordering::Relaxed)
            || (std::arch::is_x86_feature_detected!("bmi2")
                && std::arch::is_x86_feature_detected!("adx"))
        {
            Some(Adx(()))
        } else {
            None
        }
    }

    /// Make [`Adx::detect`] succeed from now on, whatever CPUID says.
    ///
    /// # Safety
    ///
    /// The CPU, or the emulator running the process, must execute `MULX`, `ADCX` and `ADOX`.
    pub(super) unsafe fn assume_available() {
        ASSUMED.store(true, Ordering::Relaxed);
    }

    /// `out = a * b / R mod n`. Returns `false` (doing nothing) if the lengths break the
    /// contract (`k = n.len()` in `1..=MAX_LIMBS`, the others at least `k` long).
    #[inline]
    pub(super) fn mont_mul(
        self,
        out: &mut [Limb],
        a: &[Limb],
        b: &[Limb],
        n: &[Limb],
        n0inv: Limb,
    ) -> bool {
        let k = n.len();
        let (Some(a), Some(b), Some(out)) = (a.get(..k), b.get(..k), out.get_mut(..k)) else {
            return false;
        };
        if k == 0 || k > MAX_LIMBS {
            return false;
        }
        // Scratch for the 2k-limb intermediate: zeroed, used and wiped by the assembly only.
        let mut buf = MaybeUninit::<[Limb; 2 * MAX_LIMBS]>::uninit();
        let ctx = Ctx::new(
            k,
            n0inv,
            a.as_ptr(),
            n.as_ptr(),
            out.as_mut_ptr(),
            buf.as_mut_ptr().cast(),
        );
        // SAFETY: `self` proves BMI2 and ADX are available. The assembly reads `k` limbs from
        // `a`, `b` and `n` and writes `k` limbs to `out` (all checked to be `k` long above). It
        // zeroes `t[0..2k]` of the scratch (`2k <= 2 * MAX_LIMBS`) before reading any of it;
        // product and reduction row `i < k` touch `t[i..i+k]` and `t[i+k]`; the final step
        // reads `t[k..2k]` and wipes `t[0..2k]`. It reads the `Ctx` through `r15`, and pushes
        // nothing on the stack (`rep stosq` writes through `rdi` only, direction flag clear as
        // the ABI guarantees).
        unsafe {
            asm!(
                zero_t!(),
                "mov r13, qword ptr [r15 + 48]",
                "xor r14d, r14d",
                "6:",
                "mov rdx, qword ptr [r12]",
                "mov rsi, qword ptr [r15 + 8]",
                row!(),
                "mov r9, qword ptr [r15 + 24]",
                "mov qword ptr [rdi + r9], r8",
                redc_row!(),
                "lea rdi, [rdi + 8]",
                "lea r12, [r12 + 8]",
                "dec r13",
                "jnz 6b",
                finish!(),
                inout("r12") b.as_ptr() => _,
                in("r15") &ctx as *const Ctx,
                out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r13") _, out("r14") _,
                options(nostack),
            );
        }
        true
    }

    /// `out = a^2 / R mod n`. Returns `false` (doing nothing) if the lengths break the
    /// contract.
    #[inline]
    pub(super) fn mont_sqr(self, out: &mut [Limb], a: &[Limb], n: &[Limb], n0inv: Limb) -> bool {
        let k = n.len();
        let (Some(a), Some(out)) = (a.get(..k), out.get_mut(..k)) else {
            return false;
        };
        if k == 0 || k > MAX_LIMBS {
            return false;
        }
        let mut buf = MaybeUninit::<[Limb; 2 * MAX_LIMBS]>::uninit();
        let mut ctx = Ctx::new(
            k,
            n0inv,
            a.as_ptr(),
            n.as_ptr(),
            out.as_mut_ptr(),
            buf.as_mut_ptr().cast(),
        );
        // SAFETY: `self` proves BMI2 and ADX are available. Reads `a[0..k]`, `n[0..k]`, writes
        // `out[0..k]` (checked above). Zeroes `t[0..2k]` of the scratch (`2k <= 2 * MAX_LIMBS`)
        // before reading it; triangle row `i < k - 1` touches `t[2i+1..i+k]` and `t[i+k]`; the
        // diagonal pass touches `t[0..2k]`; reduction row `i < k` touches `t[i..i+k]` and
        // `t[i+k]`; the final step reads `t[k..2k]` and wipes `t[0..2k]`. It reads and writes
        // `ctx` (exclusively borrowed) through `r15` and pushes nothing on the stack.
        unsafe {
            asm!(
                zero_t!(),
                // --- Triangle: row i adds a_i * a[i+1..k] at t[2i+1], carry to t[i+k]. ---
                "mov r12, qword ptr [r15 + 8]",
                "mov r13, qword ptr [r15 + 48]",
                "lea rdi, [rdi + 8]",
                "dec r13",
                "jz 7f",
                "6:",
                // Row length r13 = k - 1 - i: split into main + rem in the context.
                "mov rax, r13",
                "and rax, 7",
                "neg rax",
                "mov qword ptr [r15 + 40], rax",
                "mov r9, r13",
                "and r9, -8",
                "neg r9",
                "mov qword ptr [r15 + 32], r9",
                "mov rdx, qword ptr [r12]",
                "lea rsi, [r12 + 8]",
                row!(),
                "mov qword ptr [rdi + r13*8], r8",
                "lea rdi, [rdi + 16]",
                "lea r12, [r12 + 8]",
                "dec r13",
                "jnz 6b",
                "7:",
                // --- Double the triangle and add the squares a_i^2. ---
                "mov rdi, qword ptr [r15 + 64]",
                "mov r12, qword ptr [r15 + 8]",
                "mov rcx, qword ptr [r15 + 48]",
                "xor eax, eax",
                "8:",
                "mov rdx, qword ptr [r12]",
                "mulx r9, r8, rdx",
                "mov r10, qword ptr [rdi]",
                "adcx r10, r10",
                "adox r10, r8",
                "mov qword ptr [rdi], r10",
                "mov r11, qword ptr [rdi + 8]",
                "adcx r11, r11",
                "adox r11, r9",
                "mov qword ptr [rdi + 8], r11",
                "lea rdi, [rdi + 16]",
                "lea r12, [r12 + 8]",
                "lea rcx, [rcx - 1]",
                "jrcxz 9f",
                "jmp 8b",
                "9:",
                // --- Reduction: k rows with the full length k. ---
                "mov rax, qword ptr [r15 + 48]",
                "mov r9, rax",
                "and rax, 7",
                "neg rax",
                "mov qword ptr [r15 + 40], rax",
                "and r9, -8",
                "neg r9",
                "mov qword ptr [r15 + 32], r9",
                "mov rdi, qword ptr [r15 + 64]",
                "mov r13, qword ptr [r15 + 48]",
                "xor r14d, r14d",
                "6:",
                redc_row!(),
                "lea rdi, [rdi + 8]",
                "dec r13",
                "jnz 6b",
                finish!(),
                in("r15") &mut ctx as *mut Ctx,
                out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _, out("r13") _,
                out("r14") _,
                options(nostack),
            );
        }
        true
    }
}

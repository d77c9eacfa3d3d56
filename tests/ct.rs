//! Constant-time checks under valgrind memcheck (issue 2).
//!
//! Each case marks its secret inputs *undefined* with memcheck client requests, runs a secret
//! computation, then marks the results *defined* again ("declassifies" them) before checking
//! them against num-bigint. Memcheck reports every conditional branch and every memory address
//! that depends on undefined data, so a case that runs with 0 memcheck errors has no
//! secret-dependent branch or secret-dependent memory access (on this compiler, target and
//! input sizes; data-dependent instruction timing, e.g. of division, is not covered).
//!
//! Run (as `.ci/run` does):
//!
//! ```text
//! CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="valgrind -q --error-exitcode=99" \
//!     cargo test --release --test ct
//! ```
//!
//! Outside valgrind the client requests are no-ops and every case is an ordinary test.
//!
//! The harness is proved to work by [`leaky_control_is_flagged`], `#[ignore]`d by default: it
//! feeds a secret exponent to the variable-time `pow_vartime`, and `.ci/run` runs it under
//! valgrind and requires exit code 99 with a "Conditional jump or move depends on
//! uninitialised value" report.
//!
//! **Adding a case** (later issues: key generation, signing): write one `#[test]` function that
//! builds its inputs, calls [`secret`] on each secret input, runs the computation, calls
//! [`declassify`] on each result and asserts on it.

// The memcheck client requests need one `asm!` block (module `memcheck`); `unsafe` is denied
// crate-wide for the library, and this test module is the documented exception.
#![allow(unsafe_code)]
// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{LIMB_BYTES, Modulus, Residue, Uint, garner, inv_small_prime_mod};
use subtle::Choice;

/// Valgrind memcheck client requests, as in `valgrind/memcheck.h`. Outside valgrind the magic
/// instruction sequence does nothing and the request returns its default (0).
mod memcheck {
    /// `VG_USERREQ__MAKE_MEM_UNDEFINED` (`VG_USERREQ_TOOL_BASE('M','C') + 1`).
    const MAKE_MEM_UNDEFINED: usize = 0x4d43_0001;
    /// `VG_USERREQ__MAKE_MEM_DEFINED`.
    const MAKE_MEM_DEFINED: usize = 0x4d43_0002;
    /// `VG_USERREQ__RUNNING_ON_VALGRIND` (core request).
    const RUNNING_ON_VALGRIND: usize = 0x1001;

    /// Issues a client request: `rax` points at the six-word request, the result comes back
    /// in `rdx` (the default is returned when not running under valgrind).
    #[cfg(target_arch = "x86_64")]
    fn request(default: usize, args: [usize; 6]) -> usize {
        let result;
        // SAFETY: the four rotations of rdi sum to 128 bits, so rdi is unchanged, and
        // `xchg rbx, rbx` is a no-op: natively the sequence changes no register or memory.
        // Under valgrind it is the client-request preamble; valgrind reads the six words at
        // `rax` (live for the whole block) and writes its answer to rdx. Memcheck only changes
        // its shadow state, never the program's memory.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") args.as_ptr(),
                inout("rdx") default => result,
                options(nostack, preserves_flags),
            );
        }
        result
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn request(default: usize, _args: [usize; 6]) -> usize {
        default
    }

    fn mark<T>(req: usize, data: &[T]) {
        let len = size_of_val(data);
        request(0, [req, data.as_ptr() as usize, len, 0, 0, 0]);
    }

    /// Marks the bytes of `data` undefined (secret).
    pub fn undefined<T>(data: &[T]) {
        mark(MAKE_MEM_UNDEFINED, data);
    }

    /// Marks the bytes of `data` defined (public) and returns a copy read back from memory.
    ///
    /// The copy is read with volatile loads: the compiler may otherwise reuse a value it still
    /// holds in a register from before the request, which memcheck still sees as undefined.
    pub fn defined<T: Copy>(data: &[T]) -> Vec<T> {
        mark(MAKE_MEM_DEFINED, data);
        data.iter()
            // SAFETY: `x` is a valid, aligned reference to an initialised `T`.
            .map(|x| unsafe { core::ptr::read_volatile(x) })
            .collect()
    }

    /// Whether the test runs under valgrind.
    pub fn running_on_valgrind() -> bool {
        request(0, [RUNNING_ON_VALGRIND, 0, 0, 0, 0, 0]) != 0
    }
}

/// Marks an integer secret: memcheck now reports any branch or address that depends on it.
fn secret(x: &Uint) {
    memcheck::undefined(x.as_limbs());
}

/// Marks an odd modulus secret except for bit 0, which is public (every modulus the protocol
/// builds is odd by construction, and `Modulus::new` checks it).
fn secret_odd(x: &mut Uint) {
    secret(x);
    if let Some(l) = x.as_limbs_mut().first_mut() {
        *l |= 1; // makes bit 0 a defined 1 again
    }
}

/// Makes a result public again, to assert on it, and returns its value for the oracle.
fn declassify(x: &Uint) -> BigUint {
    let limbs = memcheck::defined(x.as_limbs());
    big(&Uint::from_limbs(limbs))
}

/// Makes a `Choice` public again.
fn declassify_choice(c: Choice) -> bool {
    memcheck::defined(&[c.unwrap_u8()]) == [1]
}

/// Makes a word (a carry or borrow) public again.
fn declassify_word(w: u64) -> u64 {
    memcheck::defined(&[w])[0]
}

// ---------------------------------------------------------------------------------------------
// Test data (public until marked).

enum P {}
enum Q {}
enum N {}

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn big(x: &Uint) -> BigUint {
    let mut bytes = Vec::with_capacity(x.nlimbs() * LIMB_BYTES);
    for l in x.as_limbs() {
        bytes.extend_from_slice(&l.to_le_bytes());
    }
    BigUint::from_bytes_le(&bytes)
}

fn uint(x: &BigUint, nlimbs: usize) -> Uint {
    let mut d = x.to_u64_digits();
    assert!(d.len() <= nlimbs);
    d.resize(nlimbs, 0);
    Uint::from_limbs(d)
}

/// A random integer of exactly `bits` bits (top bit set; odd if `odd`).
fn random(r: &mut ChaCha20Rng, bits: usize, odd: bool) -> BigUint {
    let mut bytes = vec![0u8; bits.div_ceil(8)];
    r.fill_bytes(&mut bytes);
    let mut x = BigUint::from_bytes_le(&bytes) % (BigUint::from(1u8) << bits);
    x.set_bit(bits as u64 - 1, true);
    if odd {
        x.set_bit(0, true);
    }
    x
}

/// Known primes: the Mersenne primes 2^521 - 1 and 2^607 - 1, and 2^255 - 19.
fn mersenne(p: usize) -> BigUint {
    (BigUint::from(1u8) << p) - 1u8
}

fn p25519() -> BigUint {
    (BigUint::from(1u8) << 255usize) - 19u8
}

fn limbs(x: &BigUint) -> usize {
    (x.bits() as usize).div_ceil(64)
}

// ---------------------------------------------------------------------------------------------
// Cases: one test function each.

/// Constant-time exponentiation with secret base and exponent, public modulus (the device's
/// signing step), 1024-bit modulus and exponent, and a 512-bit modulus with a longer exponent.
#[test]
fn ct_pow_secret_base_and_exponent() {
    let mut r = rng(1);
    for (nbits, ebits) in [(1024, 1024), (512, 700)] {
        let n = random(&mut r, nbits, true);
        let m = Modulus::<N>::new(uint(&n, limbs(&n))).expect("odd");
        let x = random(&mut r, nbits - 1, false);
        let e = random(&mut r, ebits, false);
        let (xu, eu) = (uint(&x, m.nlimbs()), uint(&e, ebits.div_ceil(64)));
        secret(&xu);
        secret(&eu);
        let base = m.to_monty(&xu);
        let y = m.from_monty(&m.pow(&base, &eu, ebits));
        assert_eq!(declassify(&y), x.modpow(&e, &n));
    }
}

/// Montgomery setup with a secret modulus (a server or key-generation prime), then arithmetic
/// and exponentiation in it.
#[test]
fn ct_modulus_new_secret() {
    let mut r = rng(2);
    for nbits in [512, 768] {
        let n = random(&mut r, nbits, true);
        let mut nu = uint(&n, limbs(&n));
        secret_odd(&mut nu);
        let m = Modulus::<N>::new(nu).expect("odd");
        let x = random(&mut r, nbits - 2, false);
        let e = random(&mut r, 64, false);
        let xu = uint(&x, m.nlimbs());
        let eu = uint(&e, 1);
        secret(&xu);
        secret(&eu);
        let a = m.to_monty(&xu);
        let sq = m.from_monty(&m.square(&a));
        let sum = m.from_monty(&m.add(&a, &m.neg(&m.sub(&m.one(), &a))));
        let y = m.from_monty(&m.pow(&a, &eu, 64));
        assert_eq!(declassify(&sq), (&x * &x) % &n);
        assert_eq!(declassify(&sum), (&x + &x + &n - 1u8) % &n);
        assert_eq!(declassify(&y), x.modpow(&e, &n));
    }
}

/// Inverse modulo a secret prime (`inv_prime`, Fermat), with a secret operand.
#[test]
fn ct_inv_prime_secret() {
    let mut r = rng(3);
    for p in [mersenne(521), p25519()] {
        let mut pu = uint(&p, limbs(&p));
        secret_odd(&mut pu);
        let m = Modulus::<P>::new(pu).expect("odd");
        let x = random(&mut r, p.bits() as usize - 1, false);
        let xu = uint(&x, m.nlimbs());
        secret(&xu);
        let inv = m.from_monty(&m.inv_prime(&m.to_monty(&xu)));
        assert_eq!(Some(declassify(&inv)), x.modinv(&p));
    }
}

/// `e^-1 mod m` for e = 65537 and a secret `m` (key generation's `d` from a secret phi),
/// even and odd, and a multiple of e (no inverse).
#[test]
fn ct_inv_small_prime_mod_secret() {
    let mut r = rng(4);
    let even = random(&mut r, 1024, false) << 1usize;
    let odd = random(&mut r, 1023, true);
    let multiple = random(&mut r, 1000, false) * 65537u32;
    for m in [even, odd, multiple] {
        let mu = uint(&m, limbs(&m));
        secret(&mu);
        let (d, ok) = inv_small_prime_mod(65537, &mu);
        let want = BigUint::from(65537u32).modinv(&m);
        assert_eq!(declassify_choice(ok), want.is_some());
        let d = declassify(&d);
        if let Some(w) = want {
            assert_eq!(d, w);
        }
    }
}

/// Reduction of a wide secret (a 2048-bit value modulo a 1024-bit public modulus, and modulo a
/// secret 512-bit one).
#[test]
fn ct_to_monty_wide_secret() {
    let mut r = rng(5);
    let n = random(&mut r, 1024, true);
    let m = Modulus::<N>::new(uint(&n, limbs(&n))).expect("odd");
    let x = random(&mut r, 2048, false);
    let xu = uint(&x, 32);
    secret(&xu);
    assert_eq!(declassify(&m.from_monty(&m.to_monty(&xu))), &x % &n);

    let p = random(&mut r, 512, true);
    let mut pu = uint(&p, limbs(&p));
    secret_odd(&mut pu);
    let mp = Modulus::<P>::new(pu).expect("odd");
    assert_eq!(declassify(&mp.from_monty(&mp.to_monty(&xu))), &x % &p);
}

/// CRT with secret primes, exponents and message: s_p = m^dp mod p, s_q = m^dq mod q, Garner
/// recombination with q^-1 mod p computed by `inv_prime` (the server's CRT signing path).
#[test]
fn ct_crt_garner_secret() {
    let mut r = rng(6);
    let (p, q) = (mersenne(607), mersenne(521));
    let mut pu = uint(&p, limbs(&p));
    let mut qu = uint(&q, limbs(&q));
    secret_odd(&mut pu);
    secret_odd(&mut qu);
    let mp = Modulus::<P>::new(pu).expect("odd");
    let mq = Modulus::<Q>::new(qu).expect("odd");
    let msg = random(&mut r, 1100, false);
    let (dp, dq) = (random(&mut r, 607, false), random(&mut r, 521, false));
    let (msgu, dpu, dqu) = (uint(&msg, 18), uint(&dp, 10), uint(&dq, 9));
    secret(&msgu);
    secret(&dpu);
    secret(&dqu);
    let sp = mp.from_monty(&mp.pow(&mp.to_monty(&msgu), &dpu, 607));
    let sq = mq.from_monty(&mq.pow(&mq.to_monty(&msgu), &dqu, 521));
    // s = s_q + q * ((s_p - s_q) * q^-1 mod p)
    let q_inv: Residue<P> = mp.inv_prime(&mp.to_monty(mq.modulus()));
    let s = garner(&sq, &mq, &sp, &mp, &q_inv);
    let s = declassify(&s);
    let n = &p * &q;
    assert_eq!(&s % &q, msg.modpow(&dq, &q));
    assert_eq!(&s % &p, msg.modpow(&dp, &p));
    assert!(s < n);
}

/// The `Uint` primitives on secrets: add, subtract, compare, select, swap, bytes.
#[test]
fn ct_uint_ops_secret() {
    let mut r = rng(7);
    let (x, y) = (random(&mut r, 1000, false), random(&mut r, 900, false));
    let (mut xu, mut yu) = (uint(&x, 16), uint(&y, 16));
    secret(&xu);
    secret(&yu);
    let lt = xu.ct_lt(&yu);
    let eq = xu.ct_eq(&yu);
    let odd = xu.is_odd();
    let mut s = xu.clone();
    let c = s.adc_assign(&yu);
    let mut d = xu.clone();
    let bw = d.sbb_assign(&yu);
    let sel = Uint::conditional_select(&xu, &yu, lt);
    Uint::conditional_swap(&mut xu, &mut yu, !lt);
    let p = xu.mul_wide(&yu);
    let (bytes, fit) = p.to_be_bytes(240);
    let back = Uint::from_be_slice(&bytes, 30).expect("30 limbs hold 240 bytes");
    assert!(!declassify_choice(lt) && !declassify_choice(eq));
    assert_eq!(declassify_choice(odd), x.bit(0));
    assert_eq!((declassify(&s), declassify_word(c)), (&x + &y, 0));
    assert_eq!((declassify(&d), declassify_word(bw)), (&x - &y, 0));
    assert_eq!(declassify(&sel), x);
    assert_eq!(declassify(&xu), y, "swapped: x < y is false");
    assert_eq!(declassify(&yu), x);
    assert!(declassify_choice(fit));
    assert_eq!(declassify(&back), &x * &y);
}

// ---------------------------------------------------------------------------------------------
// The control.

/// A deliberately leaky computation: the variable-time exponentiation misused on a secret
/// exponent (square-and-multiply branches on each exponent bit). Under valgrind this MUST be
/// reported; `.ci/run` checks that it is (exit code 99 and "Conditional jump or move depends
/// on uninitialised value"). Outside valgrind it is an ordinary passing test.
#[test]
#[ignore = "leaks on purpose; .ci/run runs it under valgrind and expects memcheck to flag it"]
fn leaky_control_is_flagged() {
    let mut r = rng(99);
    let n = random(&mut r, 512, true);
    let m = Modulus::<N>::new(uint(&n, limbs(&n))).expect("odd");
    let (x, e) = (random(&mut r, 500, false), random(&mut r, 512, false));
    let (xu, eu) = (uint(&x, 8), uint(&e, 8));
    secret(&eu);
    let y = m.from_monty(&m.pow_vartime(&m.to_monty(&xu), &eu));
    assert_eq!(declassify(&y), x.modpow(&e, &n));
    if memcheck::running_on_valgrind() {
        eprintln!("leaky_control_is_flagged: under valgrind; memcheck must have reported errors");
    }
}

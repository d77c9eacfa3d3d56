//! Constant-time multi-precision arithmetic (SPEC §1 (g)).
//!
//! - [`Uint`]: runtime-sized fixed-width integers of 64-bit limbs (64 to 8192 bits and
//!   products of two such), wiped on drop, with constant-time add, subtract, compare, select
//!   and swap.
//! - [`Modulus<M>`] / [`Residue<M>`]: Montgomery arithmetic modulo an odd (possibly secret)
//!   modulus, typed by the ring `M`; constant-time setup, multiplication, dedicated squaring,
//!   conversions, reduction of wider integers, exponentiation (fixed window, full-table scan)
//!   and inversion modulo a prime; `_vartime` exponentiation for public exponents.
//! - [`garner`] (CRT recombination) and [`inv_small_prime_mod`] (`e^-1 mod phi`).
//!
//! Nothing here branches on, or indexes memory by, a value: only widths, bit positions and
//! the `_vartime` functions' public inputs steer control flow. `tests/ct.rs` checks this under
//! valgrind memcheck.

// The only module of the crate with `unsafe` (its own `allow`, a SAFETY comment per block).
pub(crate) mod backend;
#[forbid(unsafe_code)]
mod crt;
#[forbid(unsafe_code)]
mod monty;
#[forbid(unsafe_code)]
mod pow;
#[forbid(unsafe_code)]
mod uint;

pub use crt::{garner, inv_small_prime_mod};
pub use monty::{Modulus, Residue};
pub use uint::{LIMB_BITS, LIMB_BYTES, Limb, MAX_LIMBS, Uint};

//! Two-party key generation (registration), SPEC §3.
//!
//! - [`device`]: the device draws `p1`, `q1`, computes `n1` and `d1 = e^-1 mod φ(n1)`, splits
//!   `d1` into a fixed-length random `d1'` (kept, [`DeviceShare`]) and
//!   `d1'' = (d1 - d1') mod φ(n1)` (sent, [`RegistrationPayload`]), and wipes everything else
//!   (SPEC §3 steps 1-3).
//! - [`server`]: the server draws `p2`, `q2` with `gcd(n1, n2) = 1` and `|n1·n2| = |n1| + |n2|`,
//!   and keeps its CRT key, `d1''`, `n1^-1 mod n2` and `n = n1·n2` ([`ServerShare`], SPEC §3
//!   step 5).
//!
//! Rounds and roles are types (STYLE.md rule 4): no type holds both `d1'` and `d1''`, the
//! device API has no way to reach a [`ServerShare`] and the server API none to reach a
//! [`DeviceShare`].
//!
//! The ring marker types below name the moduli of the protocol, so that a residue mod `n1`
//! can never be used where a residue mod `n2` is expected (STYLE.md rule 2).

pub mod device;
pub mod server;

use crate::arith::Uint;
use crate::error::{KeyError, Result};

pub use device::{DeviceShare, RegistrationPayload};
pub use server::ServerShare;

/// Ring marker: the device's modulus `n1 = p1·q1` (SPEC §2).
#[derive(Debug)]
pub enum N1 {}
/// Ring marker: the device's first prime `p1` (used only during device key generation).
#[derive(Debug)]
pub enum P1 {}
/// Ring marker: the device's second prime `q1` (used only during device key generation).
#[derive(Debug)]
pub enum Q1 {}
/// Ring marker: the server's modulus `n2 = p2·q2` (SPEC §2).
#[derive(Debug)]
pub enum N2 {}
/// Ring marker: the server's first prime `p2`.
#[derive(Debug)]
pub enum P2 {}
/// Ring marker: the server's second prime `q2`.
#[derive(Debug)]
pub enum Q2 {}
/// Ring marker: the composite modulus `n = n1·n2`, the RSA public modulus (SPEC §2).
#[derive(Debug)]
pub enum N {}

/// The size of one half's modulus (`n1` or `n2`), in bits (SPEC §2).
///
/// Production sizes are 2048, 3072 (the default) and 4096 bits. Smaller sizes exist only for
/// fast tests, through [`KeySize::insecure_for_tests`]; a [`ServerShare`] refuses a test-size
/// `n1` unless its own size is a test size too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeySize {
    bits: u16,
}

// Sizes are public; every size is a multiple of 64, so these divisions are exact.
#[allow(clippy::integer_division)]
impl KeySize {
    /// 2048-bit half modulus (4096-bit composite).
    pub const BITS_2048: Self = Self { bits: 2048 };
    /// 3072-bit half modulus (6144-bit composite); the default.
    pub const BITS_3072: Self = Self { bits: 3072 };
    /// 4096-bit half modulus (8192-bit composite).
    pub const BITS_4096: Self = Self { bits: 4096 };

    /// ⚠️ **Insecure**: a 512, 768 or 1024-bit half modulus, for tests only (these keys can be
    /// factored or are below every current recommendation). `None` for any other size.
    pub const fn insecure_for_tests(bits: usize) -> Option<Self> {
        match bits {
            512 | 768 | 1024 => Some(Self { bits: bits as u16 }),
            _ => None,
        }
    }

    /// The production size with this many bits (2048, 3072 or 4096), if any.
    pub const fn from_bits(bits: usize) -> Option<Self> {
        match bits {
            2048 | 3072 | 4096 => Some(Self { bits: bits as u16 }),
            _ => None,
        }
    }

    /// Any size this crate can produce, production or test, for a half modulus of `bytes`
    /// bytes: what decoders accept (keys made here may have either).
    pub(crate) fn from_bytes_any(bytes: usize) -> Option<Self> {
        let bits = bytes.checked_mul(8)?;
        match Self::from_bits(bits) {
            Some(size) => Some(size),
            None => Self::insecure_for_tests(bits),
        }
    }

    /// The size in bits of the half modulus.
    pub const fn bits(self) -> usize {
        self.bits as usize
    }

    /// The size in bits of each of its two primes.
    pub const fn prime_bits(self) -> usize {
        (self.bits as usize) >> 1
    }

    /// The size in bytes of the half modulus (`bits / 8`; every size is a multiple of 64).
    pub const fn bytes(self) -> usize {
        (self.bits as usize) >> 3
    }

    /// Whether this is one of the insecure test sizes.
    pub const fn is_insecure_test_size(self) -> bool {
        self.bits < 2048
    }

    /// The width in 64-bit limbs of the half modulus.
    pub(crate) const fn limbs(self) -> usize {
        (self.bits as usize) >> 6
    }
}

impl Default for KeySize {
    fn default() -> Self {
        Self::BITS_3072
    }
}

/// The composite modulus `n = n1·n2` of two public half moduli, with the SPEC §2 checks that
/// need no secret: both odd, `gcd(n1, n2) = 1`, and `|n| = |n1| + |n2|` (or one bit less if
/// `allow_short` is set, for keys made elsewhere). Returns `n`, `n1.nlimbs() + n2.nlimbs()`
/// limbs wide.
///
/// **Variable time**: all inputs are public.
// Used by the public-key module (PKCS#1/SPKI) and the device's check of SPEC §3 step 6.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code))]
pub fn composite_modulus_vartime(
    n1: &Uint,
    n2: &Uint,
    allow_short: bool,
) -> core::result::Result<Uint, KeyError> {
    if !bool::from(n1.is_odd()) || !bool::from(n2.is_odd()) {
        return Err(KeyError::EvenModulus);
    }
    let (b1, b2) = (n1.bits_vartime(), n2.bits_vartime());
    if b1 < 2 || b2 < 2 {
        return Err(KeyError::ModulusSize);
    }
    if !gcd_is_one_vartime(n1, n2) {
        return Err(KeyError::NotCoprime);
    }
    let n = n1.mul_wide(n2);
    let bn = n.bits_vartime();
    if bn == b1 + b2 || (allow_short && bn + 1 == b1 + b2) {
        Ok(n)
    } else {
        Err(KeyError::ModulusSize)
    }
}

/// Whether `gcd(a, b) = 1` for odd `a`, binary GCD. **Variable time**: public inputs only.
fn gcd_is_one_vartime(a: &Uint, b: &Uint) -> bool {
    let w = a.nlimbs().max(b.nlimbs());
    let (mut x, mut y) = (a.resize(w), b.resize(w));
    if bool::from(x.is_zero()) || bool::from(y.is_zero()) {
        return false;
    }
    // Both odd here is not required of b; strip factors of 2 from y (a is odd, so they do
    // not divide the gcd).
    while !bool::from(y.is_odd()) {
        y.shr1_assign();
    }
    while !bool::from(x.is_odd()) {
        x.shr1_assign();
    }
    loop {
        // x, y odd.
        if bool::from(x.ct_eq(&y)) {
            return bool::from(x.ct_eq(&Uint::one(w)));
        }
        if bool::from(x.ct_lt(&y)) {
            core::mem::swap(&mut x, &mut y);
        }
        x.sbb_assign(&y);
        while !bool::from(x.is_odd()) {
            x.shr1_assign();
        }
    }
}

/// Checks a pair of half sizes: both insecure test sizes or both production sizes. A
/// production n1 with a test-size n2 would be a key the device refuses (and a test-size n1
/// with a production n2 a weak key that looks strong), so the server refuses either before it
/// generates or stores anything.
pub(crate) fn check_size_policy(n1: KeySize, n2: KeySize) -> Result<()> {
    if n1.is_insecure_test_size() != n2.is_insecure_test_size() {
        return Err(KeyError::ModulusSize.into());
    }
    Ok(())
}

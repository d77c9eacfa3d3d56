//! Device side of key generation, SPEC §3 steps 1-3.

use core::fmt;

use rand_core::CryptoRng;
use subtle::Choice;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::{KeySize, N1, P1, Q1};
use crate::arith::{Limb, Modulus, Uint, inv_small_prime_mod};
use crate::error::{DecodeError, DecodeErrorKind, Error, KeyError, Result};
use crate::rsa::prime::{PUBLIC_EXPONENT, generate_prime_pair};
use crate::wire::encoding::{MessageType, Reader, Writer};

/// Extra bits of `d1'` beyond `|n1|` (SPEC §3 step 2): `d1'` is uniform in
/// `[0, 2^(|n1| + 128))`.
pub const D1_PRIME_EXTRA_BITS: usize = 128;

/// [`D1_PRIME_EXTRA_BITS`] in bytes.
const D1_PRIME_EXTRA_BYTES: usize = 16;

/// [`D1_PRIME_EXTRA_BITS`] in 64-bit limbs.
const D1_PRIME_EXTRA_LIMBS: usize = 2;

/// The device's share of a split key (SPEC §3 step 3): the device modulus `n1` and the
/// exponent share `d1'`, a uniformly random `(|n1| + 128)`-bit string.
///
/// Secret. Not `Clone`; wiped on drop; `Debug` prints only the key size. The server's share
/// is a different type, [`ServerShare`](super::ServerShare), that this one cannot reach.
pub struct DeviceShare {
    size: KeySize,
    n1: Modulus<N1>,
    /// `d1'`, exactly `size.limbs() + 2` limbs (`|n1| + 128` bits).
    d1_prime: Uint,
}

/// What the device sends the server at registration (SPEC §3 step 4): `n1` and
/// `d1'' = (d1 - d1') mod φ(n1)`. The lead seals it to the server with HPKE (SPEC §6).
///
/// Secret (it carries `d1''`). Not `Clone`; wiped on drop; `Debug` prints only the key size.
/// It never contains `d1'`.
pub struct RegistrationPayload {
    size: KeySize,
    /// `n1`, `size.limbs()` limbs.
    n1: Uint,
    /// `d1'' < φ(n1) < n1`, `size.limbs()` limbs.
    d1_second: Uint,
}

impl fmt::Debug for DeviceShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceShare")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RegistrationPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationPayload")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Zeroize for DeviceShare {
    /// Wipes `d1'` (`n1` is public; its Montgomery context wipes itself on drop).
    fn zeroize(&mut self) {
        self.d1_prime.zeroize();
    }
}

impl Drop for DeviceShare {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for DeviceShare {}

impl Zeroize for RegistrationPayload {
    /// Wipes `d1''` and `n1`.
    fn zeroize(&mut self) {
        self.d1_second.zeroize();
        self.n1.zeroize();
    }
}

impl Drop for RegistrationPayload {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for RegistrationPayload {}

/// `n = p·q`, `φ = (p - 1)(q - 1)` and `d = e^-1 mod φ` (SPEC §3 step 1) for primes `p`, `q`
/// of equal width, with `Choice` set iff `d` exists. Constant time; every output is `2w`
/// limbs wide for `w`-limb primes.
pub fn private_exponent(p: &Uint, q: &Uint) -> (Uint, Uint, Uint, Choice) {
    let n = p.mul_wide(q);
    // φ = n - p - q + 1.
    let mut phi = n.clone();
    phi.sbb_assign(p);
    phi.sbb_assign(q);
    phi.add_u64_assign(1);
    let (d, exists) = inv_small_prime_mod(PUBLIC_EXPONENT, &phi);
    (n, phi, d, exists)
}

/// `x mod m` for a secret modulus `m > 0` of any parity (SPEC §3 step 2: `d1'' = (d1 - d1')
/// mod φ(n1)`; φ(n1) is even, so Montgomery
/// reduction does not apply), in constant time: schoolbook binary long division over the
/// public bit width of `x`, one shift, one trial subtraction and one masked select per bit.
/// The result is `m.nlimbs()` wide.
///
/// For `m = 0` the result is unspecified (no panic).
pub fn reduce_mod_even(x: &Uint, m: &Uint) -> Uint {
    let w = m.nlimbs() + 1;
    // Invariant: r < m before each step, so 2r + 1 < 2m fits in w limbs.
    let mut r = Uint::zero(w);
    let mut t = Uint::zero(w);
    for i in (0..x.bits_precision()).rev() {
        r.shl1_assign();
        if let Some(l) = r.as_limbs_mut().first_mut() {
            *l |= Limb::from(x.bit(i).unwrap_u8());
        }
        t.as_limbs_mut().copy_from_slice(r.as_limbs());
        let borrow = t.sbb_assign(m);
        // Keep r - m unless it borrowed.
        r.conditional_assign(&t, Choice::from((borrow ^ 1) as u8));
    }
    t.zeroize();
    let out = r.resize(m.nlimbs());
    r.zeroize();
    out
}

/// `d1'' = (d1 - d1') mod φ` (SPEC §3 step 2) for `d1 < φ`, any-width `d1'`, and an even
/// secret `φ`, in constant time. The result is `φ.nlimbs()` wide.
pub fn split_exponent(d1: &Uint, d1_prime: &Uint, phi: &Uint) -> Uint {
    let mut r = reduce_mod_even(d1_prime, phi);
    let mut out = d1.resize(phi.nlimbs());
    let borrow = out.sbb_assign(&r);
    // Add φ back if it borrowed.
    let mut back = phi.clone();
    for l in back.as_limbs_mut() {
        *l &= borrow.wrapping_neg();
    }
    out.adc_assign(&back);
    r.zeroize();
    back.zeroize();
    out
}

impl DeviceShare {
    /// Device key generation (SPEC §3 steps 1-3): draws `p1`, `q1` (SPEC §2), computes
    /// `n1 = p1·q1` (exactly `size.bits()` bits), `d1 = e^-1 mod φ(n1)`, a uniform
    /// `(|n1| + 128)`-bit `d1'` and `d1'' = (d1 - d1') mod φ(n1)`, then wipes `p1`, `q1`,
    /// `φ(n1)` and `d1`. Returns the device's share and the payload for the server.
    ///
    /// All computations on secrets are constant time (prime generation declassifies only
    /// rejected candidates; see the `prime` module docs). The RNG is the caller's; a seeded RNG gives
    /// a reproducible key (tests).
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        size: KeySize,
    ) -> Result<(DeviceShare, RegistrationPayload)> {
        let (p1, q1) = generate_prime_pair::<P1, Q1, R>(rng, size.prime_bits())?;
        let (n1, mut phi1, mut d1, exists) = private_exponent(p1.modulus(), q1.modulus());
        drop(p1);
        drop(q1);
        // DECLASSIFY: cannot fail, since gcd(e, p-1) = gcd(e, q-1) = 1 was checked during
        // prime generation; a failure is a fault and aborts the whole key generation.
        if !bool::from(exists) {
            phi1.zeroize();
            d1.zeroize();
            return Err(KeyError::BadPrime.into());
        }
        let n1 = n1.resize(size.limbs());
        // Public: n1 is public, and has exactly size.bits() bits by construction.
        if n1.bits_vartime() != size.bits() {
            return Err(KeyError::ModulusSize.into());
        }
        // d1': a fixed-length uniformly random bit string, not reduced mod anything.
        let mut buf = Zeroizing::new(vec![0u8; size.bytes() + D1_PRIME_EXTRA_BYTES]);
        rng.fill_bytes(&mut buf);
        let d1_prime = Uint::from_be_bytes(&buf);
        let d1_second = split_exponent(&d1, &d1_prime, &phi1).resize(size.limbs());
        phi1.zeroize();
        d1.zeroize();
        let Some(n1_mod) = Modulus::<N1>::new(n1.clone()) else {
            return Err(KeyError::EvenModulus.into());
        };
        Ok((
            DeviceShare {
                size,
                n1: n1_mod,
                d1_prime,
            },
            RegistrationPayload {
                size,
                n1,
                d1_second,
            },
        ))
    }

    /// The key size of `n1`.
    pub fn key_size(&self) -> KeySize {
        self.size
    }

    /// `n1` as `|n1|/8` big-endian bytes (public).
    pub fn n1_be_bytes(&self) -> Vec<u8> {
        let (b, _) = self.n1.modulus().to_be_bytes(self.size.bytes());
        b.to_vec()
    }

    /// Builds a share from its parts, e.g. after unsealing `d1'` (SPEC §5). `d1_prime` is
    /// resized to `|n1| + 128` bits (higher bits dropped).
    pub(crate) fn from_parts(size: KeySize, n1: Modulus<N1>, d1_prime: &Uint) -> Self {
        let mut d = d1_prime.resize(size.limbs() + D1_PRIME_EXTRA_LIMBS);
        d.truncate_bits(size.bits() + D1_PRIME_EXTRA_BITS);
        Self {
            size,
            n1,
            d1_prime: d,
        }
    }

    /// The Montgomery context of `n1` (SPEC §4 step 3).
    pub(crate) fn n1(&self) -> &Modulus<N1> {
        &self.n1
    }

    /// `d1'`, exactly [`Self::d1_prime_bits`] bits wide (secret).
    pub(crate) fn d1_prime(&self) -> &Uint {
        &self.d1_prime
    }

    /// The public bit length of `d1'`: `|n1| + 128`, the exponent length for the
    /// constant-time `m^d1' mod n1`.
    pub(crate) fn d1_prime_bits(&self) -> usize {
        self.size.bits() + D1_PRIME_EXTRA_BITS
    }

    /// `d1'` as `(|n1| + 128)/8` big-endian bytes in a wiping buffer (for sealing, SPEC §5).
    #[allow(dead_code)] // for the PIN sealing module (SPEC §5)
    pub(crate) fn d1_prime_be_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.d1_prime
            .to_be_bytes(self.size.bytes() + D1_PRIME_EXTRA_BYTES)
            .0
    }
}

impl RegistrationPayload {
    /// The key size of `n1`.
    pub fn key_size(&self) -> KeySize {
        self.size
    }

    /// `n1` as `|n1|/8` big-endian bytes (public).
    pub fn n1_be_bytes(&self) -> Vec<u8> {
        let (b, _) = self.n1.to_be_bytes(self.size.bytes());
        b.to_vec()
    }

    /// The plaintext to seal to the server (SPEC §3 step 4, §6, §9), in a wiping buffer: the
    /// header with type [`MessageType::RegistrationSecret`], `bits(n1)` as 2 bytes
    /// big-endian, then `n1` and `d1''`, each `|n1|/8` bytes big-endian (`docs/encodings.md`).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let k = self.size.bytes();
        // The exact length up front: the writer never has to grow (and copy d1'').
        let mut w = Writer::with_capacity(MessageType::RegistrationSecret, 2 + 2 * k);
        // Sizes are at most 4096 bits.
        w.u16(self.size.bits() as u16);
        w.fixed(&self.n1.to_be_bytes(k).0);
        w.fixed(&self.d1_second.to_be_bytes(k).0);
        w.finish()
    }

    /// Strict decoding of [`Self::to_bytes`] output (after unsealing on the server, SPEC §9).
    /// Checks the header, that the size is a production or test size, that `n1` is odd and
    /// has exactly that many bits, and that `d1'' < n1` (the only range the server can check:
    /// it does not know `φ(n1)`).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field (`magic`, `version`, `type`, `size`, `n1`, `d1''`,
    /// `end`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let err = |field, kind| Error::Decode(DecodeError::new(field, kind));
        let mut r = Reader::new(bytes, MessageType::RegistrationSecret)?;
        let bits = usize::from(r.u16("size")?);
        let size = KeySize::from_bits(bits)
            .or(KeySize::insecure_for_tests(bits))
            .ok_or_else(|| err("size", DecodeErrorKind::OutOfRange))?;
        let k = size.bytes();
        let n1_bytes = r.take(k, "n1")?;
        let d_bytes = r.take(k, "d1''")?;
        r.finish()?;
        let n1 = Uint::from_be_slice(n1_bytes, size.limbs())
            .ok_or_else(|| err("n1", DecodeErrorKind::Invalid))?;
        // Public checks on the public n1.
        if n1.bits_vartime() != bits {
            return Err(err("n1", DecodeErrorKind::NonCanonical));
        }
        if !bool::from(n1.is_odd()) {
            return Err(err("n1", DecodeErrorKind::Invalid));
        }
        let d1_second = Uint::from_be_slice(d_bytes, size.limbs())
            .ok_or_else(|| err("d1''", DecodeErrorKind::Invalid))?;
        // DECLASSIFY: whether d1'' < n1 — always true for an honest payload; a malformed one
        // is rejected.
        if !bool::from(d1_second.ct_lt(&n1)) {
            return Err(err("d1''", DecodeErrorKind::OutOfRange));
        }
        Ok(Self {
            size,
            n1,
            d1_second,
        })
    }

    /// `n1` (public).
    pub(crate) fn n1(&self) -> &Uint {
        &self.n1
    }

    /// `d1''` (secret), `|n1|` bits wide.
    pub(crate) fn d1_second(&self) -> &Uint {
        &self.d1_second
    }
}

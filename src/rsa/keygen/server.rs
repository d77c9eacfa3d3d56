//! Server side of key generation, SPEC §3 step 5.

use core::fmt;

use rand_core::CryptoRng;
use subtle::Choice;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::{
    KeySize, N, N1, N2, P2, Q2, RegistrationPayload, check_size_policy, composite_modulus_vartime,
};
use crate::arith::{Modulus, Residue, Uint, garner, inv_small_prime_mod};
use crate::error::decode_err;
use crate::error::{DecodeError, DecodeErrorKind, Error, KeyError, Result};
use crate::rsa::prime::{PUBLIC_EXPONENT, generate_prime_pair};
use crate::wire::encoding::{Reader, Writer};

/// Attempts at drawing `(p2, q2)` before giving up. Each attempt fails only if `p2` or `q2`
/// divides `n1` (impossible for an honest `n1`) or `|n1·n2| < |n1| + |n2|` (impossible when
/// `n1 ≥ 2^(|n1| - 1/2)`, which every `n1` made by this library satisfies).
const MAX_ATTEMPTS: usize = 16;

/// The server's share of a split key (SPEC §3 step 5): the device modulus `n1` with the
/// device's second exponent share `d1''`, the server key `n2 = p2·q2` in CRT form
/// (`dp = e^-1 mod (p2 - 1)`, `dq = e^-1 mod (q2 - 1)`, `qinv = q2^-1 mod p2`),
/// `n1^-1 mod n2` for Garner's recombination, and the composite modulus `n = n1·n2`.
///
/// Secret. Wiped on drop; `Debug` prints only the key sizes. It never holds
/// `d1'`, and the device's share is a different type that this one cannot reach.
// Clone: a key store hands out copies of the record that holds the share (load, then
// compare-and-swap); each copy wipes itself on drop.
#[derive(Clone)]
pub struct ServerShare {
    n1_size: KeySize,
    n2_size: KeySize,
    n1: Modulus<N1>,
    /// `d1'' < φ(n1)`, `|n1|` bits wide.
    d1_second: Uint,
    p2: Modulus<P2>,
    q2: Modulus<Q2>,
    /// `e^-1 mod (p2 - 1)`, `|p2|` bits wide.
    dp: Uint,
    /// `e^-1 mod (q2 - 1)`, `|q2|` bits wide.
    dq: Uint,
    /// `q2^-1 mod p2`.
    qinv: Residue<P2>,
    n2: Modulus<N2>,
    /// `n1^-1 mod n2`.
    n1_inv: Residue<N2>,
    n: Modulus<N>,
}

impl fmt::Debug for ServerShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerShare")
            .field("n1_size", &self.n1_size)
            .field("n2_size", &self.n2_size)
            .finish_non_exhaustive()
    }
}

impl Zeroize for ServerShare {
    /// Wipes `d1''`, `dp`, `dq`, `qinv` and `n1^-1 mod n2`. The Montgomery contexts of
    /// `p2`, `q2` (and of the public `n1`, `n2`, `n`) wipe themselves when dropped.
    fn zeroize(&mut self) {
        self.d1_second.zeroize();
        self.dp.zeroize();
        self.dq.zeroize();
        self.qinv.zeroize();
        self.n1_inv.zeroize();
    }
}

impl Drop for ServerShare {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ServerShare {}

/// The CRT parameters of `n2 = p·q` (SPEC §3 step 5): `dp = e^-1 mod (p - 1)`,
/// `dq = e^-1 mod (q - 1)`, `qinv = q^-1 mod p`, with `Choice` set iff `dp` and `dq` exist.
/// Constant time.
pub fn crt_params(p: &Modulus<P2>, q: &Modulus<Q2>) -> (Uint, Uint, Residue<P2>, Choice) {
    let mut pm1 = p.modulus().clone();
    pm1.sub_u64_assign(1);
    let mut qm1 = q.modulus().clone();
    qm1.sub_u64_assign(1);
    let (dp, ok_p) = inv_small_prime_mod(PUBLIC_EXPONENT, &pm1);
    let (dq, ok_q) = inv_small_prime_mod(PUBLIC_EXPONENT, &qm1);
    pm1.zeroize();
    qm1.zeroize();
    let qinv = p.inv_prime(&p.to_monty(q.modulus()));
    (dp, dq, qinv, ok_p & ok_q)
}

/// `x^-1 mod n2` for `n2 = p·q` (SPEC §3 step 5: `n1^-1 mod n2` for the recombination of
/// §4 step 5), computed in constant time from the primes: `x^-1 mod q`
/// and `x^-1 mod p` by Fermat, recombined by Garner with `qinv = q^-1 mod p`. `Choice` is set
/// iff `x` is invertible (neither prime divides it).
pub fn inverse_mod_n2(
    x: &Uint,
    p: &Modulus<P2>,
    q: &Modulus<Q2>,
    qinv: &Residue<P2>,
    n2: &Modulus<N2>,
) -> (Residue<N2>, Choice) {
    let xp = p.to_monty(x);
    let xq = q.to_monty(x);
    let invertible = !xp.is_zero() & !xq.is_zero();
    let mut ip = p.from_monty(&p.inv_prime(&xp));
    let mut iq = q.from_monty(&q.inv_prime(&xq));
    let mut inv = garner(&iq, q, &ip, p, qinv);
    let r = n2.to_monty(&inv);
    ip.zeroize();
    iq.zeroize();
    inv.zeroize();
    (r, invertible)
}

impl ServerShare {
    /// Server key generation (SPEC §3 step 5) for a device's registration payload: draws
    /// `p2`, `q2` of `n2_size.prime_bits()` bits each (SPEC §2) until `gcd(n1, n2) = 1` and
    /// `|n1·n2| = |n1| + |n2|`, then computes the CRT parameters, `n1^-1 mod n2` and
    /// `n = n1·n2`, and checks `n1 · n1^-1 = 1 mod n2` before returning.
    ///
    /// A test-size `n1` is refused unless `n2_size` is a test size too. Consumes the payload
    /// (its `d1''` moves into the share; the payload is wiped).
    pub fn generate<R: CryptoRng + ?Sized>(
        rng: &mut R,
        payload: RegistrationPayload,
        n2_size: KeySize,
    ) -> Result<ServerShare> {
        let n1_size = payload.key_size();
        check_size_policy(n1_size, n2_size)?;
        // Public checks on the public n1 (also made when decoding the payload).
        let n1_val = payload.n1().resize(n1_size.limbs());
        if n1_val.bits_vartime() != n1_size.bits() {
            return Err(KeyError::ModulusSize.into());
        }
        let n1 = Modulus::<N1>::new(n1_val.clone()).ok_or(KeyError::EvenModulus)?;
        let d1_second = payload.d1_second().resize(n1_size.limbs());
        drop(payload);

        let want_bits = n1_size.bits() + n2_size.bits();
        for _ in 0..MAX_ATTEMPTS {
            let (p2, q2) = generate_prime_pair::<P2, Q2, R>(rng, n2_size.prime_bits())?;
            // gcd(n1, n2) = 1 iff neither prime divides n1.
            // DECLASSIFY: a pair with p2 | n1 or q2 | n1 is discarded (never for an honest n1).
            let shares_factor = p2.to_monty(&n1_val).is_zero() | q2.to_monty(&n1_val).is_zero();
            if bool::from(shares_factor) {
                continue;
            }
            let n2_val = p2.modulus().mul_wide(q2.modulus()).resize(n2_size.limbs());
            let n_val = n1_val.mul_wide(&n2_val);
            // Public: n is the public key; a pair giving a short n is discarded.
            if n2_val.bits_vartime() != n2_size.bits() || n_val.bits_vartime() != want_bits {
                continue;
            }
            let (dp, dq, qinv, ok) = crt_params(&p2, &q2);
            // DECLASSIFY: cannot fail (gcd(e, p-1) = 1 was checked in prime generation); a
            // failure is a fault and aborts.
            if !bool::from(ok) {
                return Err(KeyError::BadPrime.into());
            }
            let n2 = Modulus::<N2>::new(n2_val).ok_or(KeyError::EvenModulus)?;
            let n = Modulus::<N>::new(n_val).ok_or(KeyError::EvenModulus)?;
            let (n1_inv, invertible) = inverse_mod_n2(&n1_val, &p2, &q2, &qinv, &n2);
            // Fault check (STYLE.md rule 6): n1 · n1^-1 = 1 (mod n2).
            let check = n2.mul(&n2.to_monty(&n1_val), &n1_inv).ct_eq(&n2.one());
            // DECLASSIFY: a failure here is a computation fault; nothing is returned.
            if !bool::from(invertible & check) {
                return Err(KeyError::NotCoprime.into());
            }
            return Ok(ServerShare {
                n1_size,
                n2_size,
                n1,
                d1_second,
                p2,
                q2,
                dp,
                dq,
                qinv,
                n2,
                n1_inv,
                n,
            });
        }
        Err(KeyError::ModulusSize.into())
    }

    /// The key size of `n1`.
    pub fn n1_size(&self) -> KeySize {
        self.n1_size
    }

    /// The key size of `n2`.
    pub fn n2_size(&self) -> KeySize {
        self.n2_size
    }

    /// `n1` as `|n1|/8` big-endian bytes (public).
    pub fn n1_be_bytes(&self) -> Vec<u8> {
        self.n1
            .modulus()
            .to_be_bytes(self.n1_size.bytes())
            .0
            .to_vec()
    }

    /// `n2` as `|n2|/8` big-endian bytes (public; sent to the device, SPEC §3 step 6).
    pub fn n2_be_bytes(&self) -> Vec<u8> {
        self.n2
            .modulus()
            .to_be_bytes(self.n2_size.bytes())
            .0
            .to_vec()
    }

    /// The composite modulus `n = n1·n2` as `(|n1| + |n2|)/8` big-endian bytes (public; the
    /// RSA public modulus, SPEC §3 step 6).
    pub fn n_be_bytes(&self) -> Vec<u8> {
        self.n
            .modulus()
            .to_be_bytes(self.n1_size.bytes() + self.n2_size.bytes())
            .0
            .to_vec()
    }

    /// The Montgomery context of `n1` (SPEC §4 step 5: `s1 = y · m^d1'' mod n1`).
    pub(crate) fn n1(&self) -> &Modulus<N1> {
        &self.n1
    }

    /// `d1''` (secret), `|n1|` bits wide: the exponent length for `m^d1''` is
    /// `self.n1_size.bits()`.
    pub(crate) fn d1_second(&self) -> &Uint {
        &self.d1_second
    }

    /// The Montgomery context of the secret prime `p2`.
    pub(crate) fn p2(&self) -> &Modulus<P2> {
        &self.p2
    }

    /// The Montgomery context of the secret prime `q2`.
    pub(crate) fn q2(&self) -> &Modulus<Q2> {
        &self.q2
    }

    /// `dp = e^-1 mod (p2 - 1)` (secret), `|p2|` bits wide.
    pub(crate) fn dp(&self) -> &Uint {
        &self.dp
    }

    /// `dq = e^-1 mod (q2 - 1)` (secret), `|q2|` bits wide.
    pub(crate) fn dq(&self) -> &Uint {
        &self.dq
    }

    /// `qinv = q2^-1 mod p2` (secret), for Garner with (q2, p2).
    pub(crate) fn qinv(&self) -> &Residue<P2> {
        &self.qinv
    }

    /// The Montgomery context of `n2`.
    pub(crate) fn n2(&self) -> &Modulus<N2> {
        &self.n2
    }

    /// `n1^-1 mod n2`, for Garner with (n1, n2) (SPEC §4 step 5).
    pub(crate) fn n1_inv(&self) -> &Residue<N2> {
        &self.n1_inv
    }

    /// The Montgomery context of the composite `n = n1·n2` (for the final fault check).
    pub(crate) fn n(&self) -> &Modulus<N> {
        &self.n
    }
}

/// The fields of a stored [`ServerShare`] as they appear in the server key record (SPEC §9,
/// `docs/encodings.md`), borrowed from the input and not yet checked. Reading them is cheap;
/// [`ServerShareFields::build`] runs the consistency checks (a few Montgomery contexts and
/// multiplications), so a record decoder reads every field and the end of input first.
pub(crate) struct ServerShareFields<'a> {
    n1: &'a [u8],
    n2: &'a [u8],
    n: &'a [u8],
    d1_second: &'a [u8],
    p2: &'a [u8],
    q2: &'a [u8],
    qinv: &'a [u8],
    n1_inv: &'a [u8],
}

/// A half modulus field: a 2-byte length that is a supported size in bytes, then the bytes.
fn read_half<'a>(
    r: &mut Reader<'a>,
    field: &'static str,
) -> core::result::Result<(&'a [u8], KeySize), Error> {
    let len = usize::from(r.u16(field)?);
    let size = KeySize::from_bytes_any(len).ok_or(Error::Decode(DecodeError::new(
        field,
        DecodeErrorKind::OutOfRange,
    )))?;
    Ok((r.take(len, field)?, size))
}

impl<'a> ServerShareFields<'a> {
    /// Reads the share's fields (layout in `docs/encodings.md`): `n1` and `n2` with 2-byte
    /// lengths, then `n` (`|n1|/8 + |n2|/8` bytes), `d1''` (`|n1|/8`), `p2`, `q2`, `qinv`
    /// (`|n2|/16` each) and `n1^-1 mod n2` (`|n2|/8`), all big-endian, fixed width.
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self> {
        let (n1, s1) = read_half(r, "share.n1")?;
        let (n2, s2) = read_half(r, "share.n2")?;
        let (k1, k2, kp) = (s1.bytes(), s2.bytes(), s2.bytes() >> 1);
        Ok(Self {
            n1,
            n2,
            n: r.take(k1 + k2, "share.n")?,
            d1_second: r.take(k1, "share.d1''")?,
            p2: r.take(kp, "share.p2")?,
            q2: r.take(kp, "share.q2")?,
            qinv: r.take(kp, "share.qinv")?,
            n1_inv: r.take(k2, "share.n1_inv")?,
        })
    }

    /// Rebuilds the share and checks every relation between its fields, so that a stored
    /// share that decodes is one [`ServerShare::generate`] could have made (except for the
    /// primality of `p2`, `q2`, which is not re-tested):
    ///
    /// - public, variable time: `n1`, `n2` of supported sizes (a test-size `n1` only with a
    ///   test-size `n2`), top bit set (`NonCanonical` otherwise), odd, `gcd(n1, n2) = 1`,
    ///   `|n1·n2| = |n1| + |n2|`, and the stored `n` equals `n1·n2` (`share.n`, `Invalid`);
    /// - secret, constant time with one declassified verdict per check: `d1'' < n1`,
    ///   `p2`, `q2` odd with their top bit set, `p2·q2 = n2`, `|p2 - q2| > 2^(b-100)`,
    ///   `gcd(e, p2 - 1) = gcd(e, q2 - 1) = 1` (so `dp`, `dq` exist; they are recomputed, not
    ///   stored), `qinv < p2` and `q2·qinv = 1 (mod p2)`, `n1^-1 < n2` and
    ///   `n1·n1^-1 = 1 (mod n2)`.
    ///
    /// DECLASSIFY: each verdict says whether a stored record is consistent; an honest record
    /// always is, and a corrupted one is refused (which check failed is the field named in the
    /// error). No other branch depends on a secret.
    pub(crate) fn build(self) -> Result<ServerShare> {
        let size_of = |b: &[u8]| KeySize::from_bytes_any(b.len());
        let n1_size =
            size_of(self.n1).ok_or(decode_err("share.n1", DecodeErrorKind::OutOfRange))?;
        let n2_size =
            size_of(self.n2).ok_or(decode_err("share.n2", DecodeErrorKind::OutOfRange))?;
        check_size_policy(n1_size, n2_size)
            .map_err(|_| decode_err("share.n2", DecodeErrorKind::OutOfRange))?;

        // Public values: n1, n2, n.
        let public_half = |b: &[u8], size: KeySize, field| {
            let v = Uint::from_be_slice(b, size.limbs())
                .ok_or(decode_err(field, DecodeErrorKind::Invalid))?;
            if v.bits_vartime() != size.bits() {
                return Err(decode_err(field, DecodeErrorKind::NonCanonical));
            }
            if !bool::from(v.is_odd()) {
                return Err(decode_err(field, DecodeErrorKind::Invalid));
            }
            Ok(v)
        };
        let n1_val = public_half(self.n1, n1_size, "share.n1")?;
        let n2_val = public_half(self.n2, n2_size, "share.n2")?;
        let n_val = composite_modulus_vartime(&n1_val, &n2_val, false)
            .map_err(|_| decode_err("share.n2", DecodeErrorKind::Invalid))?;
        let (n_bytes, _) = n_val.to_be_bytes(self.n.len());
        if n_bytes.as_slice() != self.n {
            return Err(decode_err("share.n", DecodeErrorKind::Invalid));
        }

        // Secret values.
        let d1_second = Uint::from_be_slice(self.d1_second, n1_size.limbs())
            .ok_or(decode_err("share.d1''", DecodeErrorKind::Invalid))?;
        // DECLASSIFY: record consistency (see above).
        if !bool::from(d1_second.ct_lt(&n1_val)) {
            return Err(decode_err("share.d1''", DecodeErrorKind::OutOfRange));
        }
        let prime_bits = n2_size.prime_bits();
        let prime = |b: &[u8], field| {
            let v = Uint::from_be_slice(b, prime_bits >> 6)
                .ok_or(decode_err(field, DecodeErrorKind::Invalid))?;
            // DECLASSIFY: the size of a prime is public; a short one is refused.
            if !bool::from(v.bit(prime_bits - 1)) {
                return Err(decode_err(field, DecodeErrorKind::NonCanonical));
            }
            // `Modulus::new` branches only on bit 0 (public: every prime is odd).
            Ok(v)
        };
        let p2_val = prime(self.p2, "share.p2")?;
        let q2_val = prime(self.q2, "share.q2")?;
        let p2 =
            Modulus::<P2>::new(p2_val).ok_or(decode_err("share.p2", DecodeErrorKind::Invalid))?;
        let q2 =
            Modulus::<Q2>::new(q2_val).ok_or(decode_err("share.q2", DecodeErrorKind::Invalid))?;
        // DECLASSIFY: record consistency.
        let product = p2.modulus().mul_wide(q2.modulus());
        if !bool::from(product.ct_eq(&n2_val)) {
            return Err(decode_err("share.q2", DecodeErrorKind::Invalid));
        }
        // DECLASSIFY: record consistency (SPEC §2 |p - q| > 2^(b-100)).
        if bool::from(crate::rsa::prime::too_close(
            p2.modulus(),
            q2.modulus(),
            prime_bits,
        )) {
            return Err(decode_err("share.q2", DecodeErrorKind::Invalid));
        }
        let (dp, dq, qinv_computed, ok) = crt_params(&p2, &q2);
        // DECLASSIFY: record consistency (SPEC §2 gcd(e, p - 1) = 1).
        if !bool::from(ok) {
            return Err(decode_err("share.p2", DecodeErrorKind::Invalid));
        }
        let qinv_val = Uint::from_be_slice(self.qinv, prime_bits >> 6)
            .ok_or(decode_err("share.qinv", DecodeErrorKind::Invalid))?;
        let qinv = p2.to_monty(&qinv_val);
        // qinv < p2 (canonical) and q2·qinv = 1 (mod p2); `qinv_computed` is the same value
        // when both hold, so this is one check of the stored field.
        let qinv_ok = qinv_val.ct_lt(p2.modulus()) & qinv.ct_eq(&qinv_computed);
        drop(qinv_computed);
        // DECLASSIFY: record consistency.
        if !bool::from(qinv_ok) {
            return Err(decode_err("share.qinv", DecodeErrorKind::Invalid));
        }
        let n2 =
            Modulus::<N2>::new(n2_val).ok_or(decode_err("share.n2", DecodeErrorKind::Invalid))?;
        let inv_val = Uint::from_be_slice(self.n1_inv, n2_size.limbs())
            .ok_or(decode_err("share.n1_inv", DecodeErrorKind::Invalid))?;
        let n1_inv = n2.to_monty(&inv_val);
        let inv_ok =
            inv_val.ct_lt(n2.modulus()) & n2.mul(&n2.to_monty(&n1_val), &n1_inv).ct_eq(&n2.one());
        // DECLASSIFY: record consistency.
        if !bool::from(inv_ok) {
            return Err(decode_err("share.n1_inv", DecodeErrorKind::Invalid));
        }
        let n1 =
            Modulus::<N1>::new(n1_val).ok_or(decode_err("share.n1", DecodeErrorKind::Invalid))?;
        let n = Modulus::<N>::new(n_val).ok_or(decode_err("share.n", DecodeErrorKind::Invalid))?;
        Ok(ServerShare {
            n1_size,
            n2_size,
            n1,
            d1_second,
            p2,
            q2,
            dp,
            dq,
            qinv,
            n2,
            n1_inv,
            n,
        })
    }
}

impl ServerShare {
    /// Appends the share's fields to a stored record (SPEC §9; layout in
    /// [`ServerShareFields::read`] and `docs/encodings.md`). `dp` and `dq` are not stored:
    /// the decoder recomputes them from `p2`, `q2`.
    pub(crate) fn write_body(&self, w: &mut Writer) {
        let (k1, k2) = (self.n1_size.bytes(), self.n2_size.bytes());
        let kp = k2 >> 1;
        // Sizes are at most 512 bytes.
        w.u16(k1 as u16).fixed(&self.n1.modulus().to_be_bytes(k1).0);
        w.u16(k2 as u16).fixed(&self.n2.modulus().to_be_bytes(k2).0);
        w.fixed(&self.n.modulus().to_be_bytes(k1 + k2).0);
        w.fixed(&self.d1_second.to_be_bytes(k1).0);
        w.fixed(&self.p2.modulus().to_be_bytes(kp).0);
        w.fixed(&self.q2.modulus().to_be_bytes(kp).0);
        w.fixed(&self.p2.from_monty(&self.qinv).to_be_bytes(kp).0);
        w.fixed(&self.n2.from_monty(&self.n1_inv).to_be_bytes(k2).0);
    }
}

impl ServerShare {
    /// Length of [`to_sealable_bytes`](Self::to_sealable_bytes) for these sizes.
    fn sealable_len(k1: usize, k2: usize) -> usize {
        let kp = k2 >> 1;
        crate::wire::encoding::HEADER_LEN + 2 + k1 + 2 + k2 + (k1 + k2) + k1 + 5 * kp + k2
    }

    /// The share's plaintext as it is sealed under the key-encryption key inside the server's
    /// key record (SPEC §7, §9; `docs/encodings.md`): the fields of [`write_body`](Self::write_body)
    /// followed by `dp` and `dq`, so that a record that authenticates can be loaded without
    /// recomputing them. A wiping buffer of its exact size (no reallocation leaves a copy).
    pub(crate) fn to_sealable_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let (k1, k2) = (self.n1_size.bytes(), self.n2_size.bytes());
        let kp = k2 >> 1;
        let mut w = Writer::with_capacity(
            crate::wire::encoding::MessageType::ServerShare,
            Self::sealable_len(k1, k2) - crate::wire::encoding::HEADER_LEN,
        );
        self.write_body(&mut w);
        w.fixed(&self.dp.to_be_bytes(kp).0);
        w.fixed(&self.dq.to_be_bytes(kp).0);
        w.finish()
    }

    /// Decodes [`to_sealable_bytes`](Self::to_sealable_bytes) from a record whose sealed share
    /// **authenticated** under the key-encryption key (SPEC §7): the AEAD vouches that the
    /// library wrote these bytes for this key id and n1, so the relations between the fields
    /// (checked by [`ServerShareFields::build`] at registration and on import) are not checked
    /// again. Only the structure is: sizes, the size policy, odd moduli. No exponentiation,
    /// no inversion: loading a record costs a few Montgomery set-ups (the CPU-amplification
    /// fix of the security review).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub(crate) fn from_authenticated_bytes(bytes: &[u8]) -> Result<ServerShare> {
        let mut r = Reader::new(bytes, crate::wire::encoding::MessageType::ServerShare)?;
        let f = ServerShareFields::read(&mut r)?;
        let n1_size = KeySize::from_bytes_any(f.n1.len())
            .ok_or(decode_err("share.n1", DecodeErrorKind::OutOfRange))?;
        let n2_size = KeySize::from_bytes_any(f.n2.len())
            .ok_or(decode_err("share.n2", DecodeErrorKind::OutOfRange))?;
        check_size_policy(n1_size, n2_size)
            .map_err(|_| decode_err("share.n2", DecodeErrorKind::OutOfRange))?;
        let kp = n2_size.bytes() >> 1;
        let dp_b = r.take(kp, "share.dp")?;
        let dq_b = r.take(kp, "share.dq")?;
        r.finish()?;
        let limbs_p = n2_size.prime_bits() >> 6;
        let uint = |b: &[u8], limbs: usize, field| {
            Uint::from_be_slice(b, limbs).ok_or(decode_err(field, DecodeErrorKind::Invalid))
        };
        let n1 = Modulus::<N1>::new(uint(f.n1, n1_size.limbs(), "share.n1")?)
            .ok_or(decode_err("share.n1", DecodeErrorKind::Invalid))?;
        let n2 = Modulus::<N2>::new(uint(f.n2, n2_size.limbs(), "share.n2")?)
            .ok_or(decode_err("share.n2", DecodeErrorKind::Invalid))?;
        let n = Modulus::<N>::new(uint(f.n, n1_size.limbs() + n2_size.limbs(), "share.n")?)
            .ok_or(decode_err("share.n", DecodeErrorKind::Invalid))?;
        let p2 = Modulus::<P2>::new(uint(f.p2, limbs_p, "share.p2")?)
            .ok_or(decode_err("share.p2", DecodeErrorKind::Invalid))?;
        let q2 = Modulus::<Q2>::new(uint(f.q2, limbs_p, "share.q2")?)
            .ok_or(decode_err("share.q2", DecodeErrorKind::Invalid))?;
        let d1_second = uint(f.d1_second, n1_size.limbs(), "share.d1''")?;
        let qinv = p2.to_monty(&uint(f.qinv, limbs_p, "share.qinv")?);
        let n1_inv = n2.to_monty(&uint(f.n1_inv, n2_size.limbs(), "share.n1_inv")?);
        let dp = uint(dp_b, limbs_p, "share.dp")?;
        let dq = uint(dq_b, limbs_p, "share.dq")?;
        Ok(ServerShare {
            n1_size,
            n2_size,
            n1,
            d1_second,
            p2,
            q2,
            dp,
            dq,
            qinv,
            n2,
            n1_inv,
            n,
        })
    }
}

impl ServerShare {
    /// The share's canonical encoding (SPEC §9; the plaintext that is sealed under the KEK in
    /// the server's key record), for backups and migration, in a wiping buffer. Secret.
    pub fn to_bytes(&self) -> zeroize::Zeroizing<Vec<u8>> {
        self.to_sealable_bytes()
    }

    /// Imports a share from [`to_bytes`](Self::to_bytes) **with every consistency check**
    /// of a share built outside this process (see `ServerShareFields::build`: sizes, `n =
    /// n1·n2`, `p2·q2 = n2`, `|p2 - q2|`, `gcd(e, p2 - 1)`, `qinv`, `n1^-1`, `d1'' < n1`), and
    /// the stored `dp`, `dq` equal to the recomputed ones. Expensive (modular inversions by
    /// exponentiation): for import, not for loading the server's own records, which
    /// authenticate under the KEK instead.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field that is wrong.
    pub fn from_bytes(bytes: &[u8]) -> Result<ServerShare> {
        let mut r = Reader::new(bytes, crate::wire::encoding::MessageType::ServerShare)?;
        let fields = ServerShareFields::read(&mut r)?;
        let kp = KeySize::from_bytes_any(fields.n2.len())
            .ok_or(decode_err("share.n2", DecodeErrorKind::OutOfRange))?
            .bytes()
            >> 1;
        let dp_b = r.take(kp, "share.dp")?;
        let dq_b = r.take(kp, "share.dq")?;
        r.finish()?;
        let share = fields.build()?;
        let limbs = share.dp.nlimbs();
        let dp = Uint::from_be_slice(dp_b, limbs)
            .ok_or(decode_err("share.dp", DecodeErrorKind::Invalid))?;
        let dq = Uint::from_be_slice(dq_b, limbs)
            .ok_or(decode_err("share.dq", DecodeErrorKind::Invalid))?;
        // DECLASSIFY: record consistency (an honest export always matches).
        if !bool::from(dp.ct_eq(&share.dp) & dq.ct_eq(&share.dq)) {
            return Err(decode_err("share.dp", DecodeErrorKind::Invalid));
        }
        Ok(share)
    }
}

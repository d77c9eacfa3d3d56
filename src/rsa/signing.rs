//! The arithmetic of two-party signing (SPEC §4 steps 3 and 5), on raw key parts.
//!
//! The device raises the encoded message to its share d1' modulo n1; the server raises it to
//! its share d1'' modulo n1, multiplies, checks the result with the public exponent, computes
//! its own RSA signature modulo n2 by CRT with a check, recombines by Garner and checks the
//! final signature modulo n before anything leaves (STYLE.md rule 6). Every step on a secret is
//! constant time; the only values that steer control flow are the three check verdicts, which
//! are declassified on purpose (the server must act on them, and they are what the protocol
//! reveals anyway: "wrong PIN" or "fault").

use subtle::Choice;

use crate::arith::{Modulus, Residue, Uint, garner};

pub use crate::rsa::PUBLIC_EXPONENT;

/// SPEC §4 step 3: `y = m^d1' mod n1`, constant time. `m` is the encoded message as an
/// integer (any width; it is reduced mod n1), `d1p` the device share with its public bit
/// length `d1p_bits` (|n1| + 128).
pub fn device_exponentiate<A>(n1: &Modulus<A>, d1p: &Uint, d1p_bits: usize, m: &Uint) -> Uint {
    let base = n1.to_monty(m);
    n1.from_monty(&n1.pow(&base, d1p, d1p_bits))
}

/// Whether `x^e = m` in the ring of `modulus` (public exponent: `pow_vartime` is constant time
/// in `x` and `m`).
fn check_e<M>(modulus: &Modulus<M>, x: &Residue<M>, m: &Residue<M>) -> Choice {
    let e = Uint::from_u64(u64::from(PUBLIC_EXPONENT), 1);
    modulus.pow_vartime(x, &e).ct_eq(m)
}

/// DECLASSIFY: turns one of the three check verdicts of [`server_complete`] into a `bool` the
/// server branches on. This is the only place in the signing arithmetic where a value computed
/// from secrets steers control flow, and it is deliberate: the verdict is exactly what the
/// protocol reveals anyway (SPEC §4 step 5: "wrong PIN", or a fault after which nothing is
/// released). The constant-time test (tests/ct.rs) runs the steps before each verdict with
/// secret inputs and declassifies the verdicts itself, at the same points.
fn declassify_verdict(verdict: Choice) -> bool {
    bool::from(verdict)
}

/// The server's key parts needed to complete a signature, borrowed from its share. Ring markers:
/// `A` = n1, `P`/`Q` = the server's primes, `B` = n2, `C` = n.
#[derive(Debug)]
pub struct CompletionKey<'a, A, P, Q, B, C> {
    /// The device modulus `n1`.
    pub n1: &'a Modulus<A>,
    /// The device's second exponent share `d1''` (secret); its width is the exponent length.
    pub d1pp: &'a Uint,
    /// The server's prime `p2` (secret).
    pub p2: &'a Modulus<P>,
    /// The server's prime `q2` (secret).
    pub q2: &'a Modulus<Q>,
    /// `dp = e^-1 mod (p2 - 1)` (secret); its width is the exponent length.
    pub dp: &'a Uint,
    /// `dq = e^-1 mod (q2 - 1)` (secret); its width is the exponent length.
    pub dq: &'a Uint,
    /// `q2^-1 mod p2`.
    pub qinv: &'a Residue<P>,
    /// The server modulus `n2 = p2·q2`.
    pub n2: &'a Modulus<B>,
    /// `n1^-1 mod n2`.
    pub n1_inv: &'a Residue<B>,
    /// The composite modulus `n = n1·n2`.
    pub n: &'a Modulus<C>,
}

/// A fault to inject into the server's computation, so tests can show the checks catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No fault: the normal path.
    None,
    /// Flip a bit of s2 (the server's own signature mod n2) before its check.
    S2,
    /// Flip a bit of s2 after its check, so only the final check modulo n can catch it.
    S2AfterCheck,
}

/// Why completion failed. Only the server sees this; it maps both to opaque errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompletionFailure {
    /// `s1^e != m mod n1`: the device's share (or PIN) was wrong. SPEC §4 step 5.
    WrongShare,
    /// A check of the server's own computation failed (a fault).
    Fault,
}

/// SPEC §4 step 5, first step: `s1 = y · m^d1'' mod n1` and the verdict `s1^e = m (mod n1)`
/// (set iff the device used the right share, i.e. the right PIN). Constant time in `y`,
/// `d1''` and `m`; the verdict is secret until the caller declassifies it. Returns `s1 < n1`
/// as an integer of n1's width.
pub fn complete_s1<A, P, Q, B, C>(
    key: &CompletionKey<'_, A, P, Q, B, C>,
    y: &Uint,
    m: &Uint,
) -> (Uint, Choice) {
    let m1 = key.n1.to_monty(m);
    let t = key.n1.pow(&m1, key.d1pp, key.d1pp.bits_precision());
    let s1 = key.n1.mul(&key.n1.to_monty(y), &t);
    let valid = check_e(key.n1, &s1, &m1);
    (key.n1.from_monty(&s1), valid)
}

/// SPEC §4 step 5, the server's own signature: `s2 = m^d2 mod n2` by CRT over `p2`, `q2`
/// (`m^dp mod p2`, `m^dq mod q2`, Garner with `q2^-1 mod p2`). Constant time in the key and
/// `m`. Returns `s2 < n2` as an integer of n2's width, **unchecked** (see [`check_s2`]).
pub fn complete_s2<A, P, Q, B, C>(key: &CompletionKey<'_, A, P, Q, B, C>, m: &Uint) -> Uint {
    let sp = key.p2.from_monty(
        &key.p2
            .pow(&key.p2.to_monty(m), key.dp, key.dp.bits_precision()),
    );
    let sq = key.q2.from_monty(
        &key.q2
            .pow(&key.q2.to_monty(m), key.dq, key.dq.bits_precision()),
    );
    garner(&sq, key.q2, &sp, key.p2, key.qinv).resize(key.n2.nlimbs())
}

/// The fault check of `s2` (SPEC §4 step 5): set iff `s2^e = m (mod n2)`. Constant time
/// (secret until declassified).
pub fn check_s2<A, P, Q, B, C>(
    key: &CompletionKey<'_, A, P, Q, B, C>,
    s2: &Uint,
    m: &Uint,
) -> Choice {
    check_e(key.n2, &key.n2.to_monty(s2), &key.n2.to_monty(m))
}

/// SPEC §4 step 5, last step: `s = s1 + n1·((s2 - s1)·n1^-1 mod n2)` and its fault check
/// `s^e = m (mod n)` (STYLE.md rule 6). Constant time; the check is secret until declassified.
/// Returns `s < n` as an integer of n's width.
pub fn combine<A, P, Q, B, C>(
    key: &CompletionKey<'_, A, P, Q, B, C>,
    s1: &Uint,
    s2: &Uint,
    m: &Uint,
) -> (Uint, Choice) {
    let s = garner(s1, key.n1, s2, key.n2, key.n1_inv).resize(key.n.nlimbs());
    let s_res = key.n.to_monty(&s);
    let ok = check_e(key.n, &s_res, &key.n.to_monty(m));
    (key.n.from_monty(&s_res), ok)
}

/// SPEC §4 step 5, the arithmetic: from the device's `y` and the encoded message `m < n`,
/// returns the signature `s < n` (as an integer of n's width) or why it failed.
///
/// [`complete_s1`], then [`complete_s2`] with [`check_s2`], then [`combine`]; the three verdicts
/// are declassified ([`declassify_verdict`]) and branched on, nothing else is.
///
/// `y` must already be known to be `< n1` (a decoding check).
pub(crate) fn server_complete<A, P, Q, B, C>(
    key: &CompletionKey<'_, A, P, Q, B, C>,
    y: &Uint,
    m: &Uint,
    fault: Fault,
) -> Result<Uint, CompletionFailure> {
    // s1 = y * m^d1'' mod n1; valid := s1^e = m (mod n1).
    let (s1, valid) = complete_s1(key, y, m);
    // DECLASSIFY: a wrong share is the protocol's "wrong PIN" answer.
    if !declassify_verdict(valid) {
        return Err(CompletionFailure::WrongShare);
    }
    // s2 = m^d2 mod n2 by CRT over p2, q2, checked.
    let mut s2 = complete_s2(key, m);
    if fault == Fault::S2 {
        flip_low_bit(&mut s2);
    }
    // DECLASSIFY: a failed check is a fault; nothing is released.
    if !declassify_verdict(check_s2(key, &s2, m)) {
        return Err(CompletionFailure::Fault);
    }
    if fault == Fault::S2AfterCheck {
        flip_low_bit(&mut s2);
    }
    // s = s1 + n1 * ((s2 - s1) * n1^-1 mod n2); check s^e = m (mod n) before release.
    let (s, ok) = combine(key, &s1, &s2, m);
    // DECLASSIFY: a failed final check is a fault; nothing is released.
    if !declassify_verdict(ok) {
        return Err(CompletionFailure::Fault);
    }
    Ok(s)
}

fn flip_low_bit(x: &mut Uint) {
    if let Some(l) = x.as_limbs_mut().first_mut() {
        *l ^= 1;
    }
}

impl crate::rsa::keygen::ServerShare {
    /// The parts of this share that complete a signature (SPEC §4.5).
    pub(crate) fn completion_key(
        &self,
    ) -> CompletionKey<
        '_,
        crate::rsa::keygen::N1,
        crate::rsa::keygen::P2,
        crate::rsa::keygen::Q2,
        crate::rsa::keygen::N2,
        crate::rsa::keygen::N,
    > {
        CompletionKey {
            n1: self.n1(),
            d1pp: self.d1_second(),
            p2: self.p2(),
            q2: self.q2(),
            dp: self.dp(),
            dq: self.dq(),
            qinv: self.qinv(),
            n2: self.n2(),
            n1_inv: self.n1_inv(),
            n: self.n(),
        }
    }
}

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

/// The public exponent of every key (SPEC §2).
pub const PUBLIC_EXPONENT: u32 = 65537;

/// SPEC §4 step 3: `y = m^d1' mod n1`, constant time. `m` is the encoded message as an
/// integer (any width; it is reduced mod n1), `d1p` the device share with its public bit
/// length `d1p_bits` (|n1| + 128).
pub(crate) fn device_exponentiate<A>(
    n1: &Modulus<A>,
    d1p: &Uint,
    d1p_bits: usize,
    m: &Uint,
) -> Uint {
    let base = n1.to_monty(m);
    n1.from_monty(&n1.pow(&base, d1p, d1p_bits))
}

/// Whether `x^e = m` in the ring of `modulus` (public exponent: `pow_vartime` is constant time
/// in `x` and `m`).
fn check_e<M>(modulus: &Modulus<M>, x: &Residue<M>, m: &Residue<M>) -> Choice {
    let e = Uint::from_u64(u64::from(PUBLIC_EXPONENT), 1);
    modulus.pow_vartime(x, &e).ct_eq(m)
}

/// The server's key parts needed to complete a signature, borrowed from its share. Ring markers:
/// `A` = n1, `P`/`Q` = the server's primes, `B` = n2, `C` = n.
pub(crate) struct CompletionKey<'a, A, P, Q, B, C> {
    pub n1: &'a Modulus<A>,
    pub d1pp: &'a Uint,
    pub p2: &'a Modulus<P>,
    pub q2: &'a Modulus<Q>,
    pub dp: &'a Uint,
    pub dq: &'a Uint,
    /// `q2^-1 mod p2`.
    pub qinv: &'a Residue<P>,
    pub n2: &'a Modulus<B>,
    /// `n1^-1 mod n2`.
    pub n1_inv: &'a Residue<B>,
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

/// SPEC §4 step 5, the arithmetic: from the device's `y` and the encoded message `m < n`,
/// returns the signature `s < n` (as an integer of n's width) or why it failed.
///
/// `y` must already be known to be `< n1` (a decoding check).
pub(crate) fn server_complete<A, P, Q, B, C>(
    key: &CompletionKey<'_, A, P, Q, B, C>,
    y: &Uint,
    m: &Uint,
    fault: Fault,
) -> Result<Uint, CompletionFailure> {
    // s1 = y * m^d1'' mod n1; valid := s1^e = m (mod n1).
    let m1 = key.n1.to_monty(m);
    let t = key.n1.pow(&m1, key.d1pp, key.d1pp.bits_precision());
    let s1 = key.n1.mul(&key.n1.to_monty(y), &t);
    // Declassified on purpose: a wrong share is the protocol's "wrong PIN" answer.
    if !bool::from(check_e(key.n1, &s1, &m1)) {
        return Err(CompletionFailure::WrongShare);
    }
    let s1 = key.n1.from_monty(&s1);

    // s2 = m^d2 mod n2 by CRT over p2, q2 (Garner with q2^-1 mod p2).
    let sp = key.p2.from_monty(
        &key.p2
            .pow(&key.p2.to_monty(m), key.dp, key.dp.bits_precision()),
    );
    let sq = key.q2.from_monty(
        &key.q2
            .pow(&key.q2.to_monty(m), key.dq, key.dq.bits_precision()),
    );
    let mut s2 = garner(&sq, key.q2, &sp, key.p2, key.qinv);
    if fault == Fault::S2 {
        flip_low_bit(&mut s2);
    }
    let m2 = key.n2.to_monty(m);
    let s2_res = key.n2.to_monty(&s2);
    if !bool::from(check_e(key.n2, &s2_res, &m2)) {
        return Err(CompletionFailure::Fault);
    }
    let mut s2 = key.n2.from_monty(&s2_res);
    if fault == Fault::S2AfterCheck {
        flip_low_bit(&mut s2);
    }

    // s = s1 + n1 * ((s2 - s1) * n1^-1 mod n2); check s^e = m (mod n) before release.
    let s = garner(&s1, key.n1, &s2, key.n2, key.n1_inv).resize(key.n.nlimbs());
    let s_res = key.n.to_monty(&s);
    let m_n = key.n.to_monty(m);
    if !bool::from(check_e(key.n, &s_res, &m_n)) {
        return Err(CompletionFailure::Fault);
    }
    Ok(key.n.from_monty(&s_res))
}

fn flip_low_bit(x: &mut Uint) {
    if let Some(l) = x.as_limbs_mut().first_mut() {
        *l ^= 1;
    }
}

impl crate::keygen::ServerShare {
    /// The parts of this share that complete a signature (SPEC §4.5).
    pub(crate) fn completion_key(
        &self,
    ) -> CompletionKey<
        '_,
        crate::keygen::N1,
        crate::keygen::P2,
        crate::keygen::Q2,
        crate::keygen::N2,
        crate::keygen::N,
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

//! ⚠️ Raw building blocks. **Hazardous materials**: these functions do exactly what they say
//! and nothing more. They do not check keys, do not pad, do not run fault checks and do not
//! enforce any protocol rule. Misuse breaks the security of the protocol. They exist for
//! tests, benchmarks, fuzzing and for experts who know why they need them.

/// Constant-time multi-precision arithmetic.
pub mod arith {
    pub use crate::arith::*;
}

/// Prime generation steps (SPEC §2): the constant-time sieve, Miller-Rabin rounds, range and
/// distance checks. Each runs in constant time on its secret input.
pub mod prime {
    pub use crate::prime::{
        MAX_PRIME_BITS, MAX_TWO_ADIC, MIN_PRIME_BITS, MillerRabin, PUBLIC_EXPONENT, SIEVE_LIMIT,
        TOP_WORD_MIN, e_divides_p_minus_1, generate_prime, generate_prime_pair, has_small_factor,
        miller_rabin_rounds, random_candidate, rem_small, too_close,
    };
}

/// Key generation steps (SPEC §3) and read access to the shares' secrets, for tests and the
/// constant-time checks. Each step runs in constant time on its secret inputs.
pub mod keygen {
    use crate::arith::{Modulus, Residue, Uint};
    pub use crate::keygen::device::{
        D1_PRIME_EXTRA_BITS, private_exponent, reduce_mod_even, split_exponent,
    };
    pub use crate::keygen::server::{crt_params, inverse_mod_n2};
    use crate::keygen::{DeviceShare, RegistrationPayload, ServerShare};
    pub use crate::keygen::{N, N1, N2, P1, P2, Q1, Q2, composite_modulus_vartime};

    /// The device share's `n1` context and `d1'` with its bit length.
    pub fn device_parts(share: &DeviceShare) -> (&Modulus<N1>, &Uint, usize) {
        (share.n1(), share.d1_prime(), share.d1_prime_bits())
    }

    /// A device share from `n1` and `d1'` (as after unsealing).
    pub fn device_from_parts(
        size: crate::keygen::KeySize,
        n1: Modulus<N1>,
        d1_prime: &Uint,
    ) -> DeviceShare {
        DeviceShare::from_parts(size, n1, d1_prime)
    }

    /// The payload's `n1` and `d1''`.
    pub fn payload_parts(payload: &RegistrationPayload) -> (&Uint, &Uint) {
        (payload.n1(), payload.d1_second())
    }

    /// Every part of a server share, in the order of its fields.
    #[allow(clippy::type_complexity)]
    pub fn server_parts(
        share: &ServerShare,
    ) -> (
        &Modulus<N1>,
        &Uint,
        &Modulus<P2>,
        &Modulus<Q2>,
        &Uint,
        &Uint,
        &Residue<P2>,
        &Modulus<N2>,
        &Residue<N2>,
        &Modulus<N>,
    ) {
        (
            share.n1(),
            share.d1_second(),
            share.p2(),
            share.q2(),
            share.dp(),
            share.dq(),
            share.qinv(),
            share.n2(),
            share.n1_inv(),
            share.n(),
        )
    }
}

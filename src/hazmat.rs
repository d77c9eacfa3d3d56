//! ⚠️ Raw building blocks. **Hazardous materials**: these functions do exactly what they say
//! and nothing more. They do not check keys, do not pad, do not run fault checks and do not
//! enforce any protocol rule. Misuse breaks the security of the protocol. They exist for
//! tests, benchmarks, fuzzing and for experts who know why they need them.

/// Constant-time multi-precision arithmetic.
pub mod arith {
    pub use crate::arith::*;
}

/// RFC 8017 encoding methods (EMSA-PKCS1-v1_5, EMSA-PSS, MGF1) without the RSA primitive.
pub mod padding {
    pub use crate::rsa::padding::*;
}

/// Prime generation steps (SPEC §2): the constant-time sieve, Miller-Rabin rounds, range and
/// distance checks. Each runs in constant time on its secret input.
pub mod prime {
    pub use crate::rsa::prime::{
        MAX_PRIME_BITS, MAX_TWO_ADIC, MIN_PRIME_BITS, MillerRabin, PUBLIC_EXPONENT, SIEVE_LIMIT,
        TOP_WORD_MIN, e_divides_p_minus_1, generate_prime, generate_prime_pair, has_small_factor,
        miller_rabin_rounds, random_candidate, rem_small, too_close,
    };
}

/// Key generation steps (SPEC §3) and read access to the shares' secrets, for tests and the
/// constant-time checks. Each step runs in constant time on its secret inputs.
pub mod keygen {
    use crate::arith::{Modulus, Residue, Uint};
    pub use crate::rsa::keygen::device::{
        D1_PRIME_EXTRA_BITS, private_exponent, reduce_mod_even, split_exponent,
    };
    pub use crate::rsa::keygen::server::{crt_params, inverse_mod_n2};
    use crate::rsa::keygen::{DeviceShare, RegistrationPayload, ServerShare};
    pub use crate::rsa::keygen::{N, N1, N2, P1, P2, Q1, Q2, composite_modulus_vartime};

    /// The device share's `n1` context and `d1'` with its bit length.
    pub fn device_parts(share: &DeviceShare) -> (&Modulus<N1>, &Uint, usize) {
        (share.n1(), share.d1_prime(), share.d1_prime_bits())
    }

    /// A device share from `n1` and `d1'` (as after unsealing).
    pub fn device_from_parts(
        size: crate::rsa::keygen::KeySize,
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

/// The Montgomery kernels on raw limb slices, with the backend in use or forced to the
/// portable one (for differential tests, benchmarks and fuzzing).
pub mod backend {
    pub use crate::arith::backend::{
        active_backend, assume_adx_unchecked, force_portable, mont_mul_slices,
        mont_mul_slices_portable, mont_sqr_slices, mont_sqr_slices_portable,
    };
}

/// The two-party signing arithmetic (SPEC §4 steps 3 and 5) on raw key parts, for tests,
/// benchmarks and the constant-time checks. No padding, no protocol state, no lockout: the
/// caller encodes the message and decides what to do with each verdict.
pub mod signing {
    use crate::rsa::keygen::{N, N1, N2, P2, Q2, ServerShare};
    pub use crate::rsa::signing::{
        CompletionKey, check_s2, combine, complete_s1, complete_s2, device_exponentiate,
    };

    /// The parts of a server share that complete a signature (SPEC §4 step 5).
    pub fn completion_key(share: &ServerShare) -> CompletionKey<'_, N1, P2, Q2, N2, N> {
        share.completion_key()
    }

    /// SPEC §4 step 5, the server's whole arithmetic, exactly as [`crate::Server::complete`]
    /// runs it: [`complete_s1`] and its verdict, [`complete_s2`] with [`check_s2`], then
    /// [`combine`] with the final check. Returns `s < n` as an integer of n's width. `y` must
    /// be `< n1` and `m < n`.
    ///
    /// Branches on the three verdicts (declassified: they are what the protocol reveals).
    ///
    /// # Errors
    /// [`crate::Error::SigningFailed`] if `s1^e ≠ m (mod n1)` (wrong device share);
    /// [`crate::Error::Fault`] if a check of the server's own computation fails.
    pub fn server_complete<A, P, Q, B, C>(
        key: &CompletionKey<'_, A, P, Q, B, C>,
        y: &crate::arith::Uint,
        m: &crate::arith::Uint,
    ) -> crate::Result<crate::arith::Uint> {
        use crate::rsa::signing::{CompletionFailure, Fault};
        crate::rsa::signing::server_complete(key, y, m, Fault::None).map_err(|f| match f {
            CompletionFailure::WrongShare => crate::Error::SigningFailed,
            CompletionFailure::Fault => crate::Error::Fault,
        })
    }
}

/// The session rules as pure functions (SPEC §4.1, §4.3, §4.5, §4.6): the functional core that
/// [`Server`](crate::Server) and [`DeviceRecord`](crate::DeviceRecord) call, exposed for the
/// model checker (`tests/model.rs`) and the stateful fuzz target. Calling them does not make
/// anything happen: the caller persists, seals and evaluates.
pub mod session {
    pub use crate::device::session::{AnswerEffect, answer_effect, may_sign};
    pub use crate::server::session::{
        Admission, Evaluation, MessageFacts, Settlement, admit, live, record_answer, settle,
        start_request,
    };
}

/// Read access to a device record's secret and internal parts, for tests.
pub mod device {
    use crate::DeviceRecord;

    /// The record's current one-time password.
    pub fn otp(record: &DeviceRecord) -> [u8; crate::OTP_LEN] {
        *record.otp().as_bytes()
    }

    /// The record's n1, big-endian.
    pub fn n1(record: &DeviceRecord) -> &[u8] {
        record.n1()
    }
}

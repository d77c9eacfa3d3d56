//! ⚠️ Raw building blocks. **Hazardous materials**: these functions do exactly what they say
//! and nothing more. They do not check keys, do not pad, do not run fault checks and do not
//! enforce any protocol rule. Misuse breaks the security of the protocol. They exist for
//! tests, benchmarks, fuzzing and for experts who know why they need them.

/// Constant-time multi-precision arithmetic.
pub mod arith {
    pub use crate::arith::*;
}

/// The Montgomery kernels on raw limb slices, with the backend in use or forced to the
/// portable one (for differential tests, benchmarks and fuzzing).
pub mod backend {
    pub use crate::arith::backend::{
        active_backend, assume_adx_unchecked, force_portable, mont_mul_slices,
        mont_mul_slices_portable, mont_sqr_slices, mont_sqr_slices_portable,
    };
}

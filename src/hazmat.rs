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
    pub use crate::padding::*;
}

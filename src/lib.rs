#![doc = include_str!("../README.md")]

// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
mod error;
mod hash;
#[cfg(feature = "hazmat")]
pub mod hazmat;
// The encoders are used by signing (SPEC §4.2) and re-exported under `hazmat`.
#[cfg_attr(
    not(feature = "hazmat"),
    allow(dead_code, unreachable_pub, unused_imports)
)]
mod padding;
mod public_key;
mod verification_code;
mod verify;

pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};
pub use hash::HashAlg;
pub use padding::Scheme;
pub use public_key::PublicKey;
pub use verification_code::{VerificationCode, verification_code};
pub use verify::verify;

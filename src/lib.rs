#![doc = include_str!("../README.md")]

// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
mod error;
// Prime generation and key generation; the `hazmat` feature exposes their raw steps.
#[cfg(feature = "hazmat")]
pub mod hazmat;
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod keygen;
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod prime;

pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};
pub use keygen::{DeviceShare, KeySize, RegistrationPayload, ServerShare};

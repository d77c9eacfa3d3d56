#![doc = include_str!("../README.md")]

// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
mod encoding;
mod error;
mod signing;
#[cfg(feature = "hazmat")]
pub mod hazmat;

pub use encoding::MessageType;
pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};

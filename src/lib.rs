#![doc = include_str!("../README.md")]

// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
mod error;
#[cfg(feature = "hazmat")]
pub mod hazmat;

mod lockout;
mod otp;
mod server_state;
mod store;

pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};
pub use lockout::{AttemptState, FailureOutcome, LockStep, LockoutPolicy};
pub use otp::{LastExchange, OTP_LEN, Otp, OtpClass, OtpHash, OtpState, REQUEST_ID_LEN};
pub use server_state::{
    Answer, DEFAULT_CAS_RETRIES, DEFAULT_KEY_LIFETIME_SECS, RequestId, ServerPolicy, ServerState,
};
pub use store::{ActiveKey, DestroyReason, InMemoryKeyStore, KeyId, KeyRecord, KeyState, KeyStore};

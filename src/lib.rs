#![doc = include_str!("../README.md")]

// `unsafe` is denied crate-wide (Cargo.toml) and forbidden, so that no `allow` can lift it, in
// every module but `arith`, whose `backend` module alone holds the x86-64 assembly (issue 8).
//
// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
// Fuzz entry points (STYLE.md rule 7): hidden, hazmat only.
#[cfg(feature = "hazmat")]
#[doc(hidden)]
#[forbid(unsafe_code)]
pub mod __fuzz;
#[forbid(unsafe_code)]
mod device;
#[forbid(unsafe_code)]
mod encoding;
#[forbid(unsafe_code)]
mod error;
#[forbid(unsafe_code)]
mod hash;
#[cfg(feature = "hazmat")]
#[forbid(unsafe_code)]
pub mod hazmat;
// Prime generation and key generation; the `hazmat` feature exposes their raw steps.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
#[forbid(unsafe_code)]
mod keygen;
#[forbid(unsafe_code)]
mod lockout;
#[forbid(unsafe_code)]
mod messages;
#[forbid(unsafe_code)]
mod otp;
#[forbid(unsafe_code)]
mod pin;
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
#[forbid(unsafe_code)]
mod prime;
#[forbid(unsafe_code)]
mod seal;
#[forbid(unsafe_code)]
mod secret;
#[forbid(unsafe_code)]
mod server;
#[forbid(unsafe_code)]
mod server_state;
#[forbid(unsafe_code)]
mod signing;
#[forbid(unsafe_code)]
mod store;
#[forbid(unsafe_code)]
mod transport;
// The encoders are used by signing (SPEC §4.2) and re-exported under `hazmat`.
#[cfg_attr(
    not(feature = "hazmat"),
    allow(dead_code, unreachable_pub, unused_imports)
)]
#[forbid(unsafe_code)]
mod padding;
#[forbid(unsafe_code)]
mod public_key;
#[forbid(unsafe_code)]
mod verification_code;
#[forbid(unsafe_code)]
mod verify;

pub use device::{DeviceRecord, DeviceRegistration};
pub use encoding::MessageType;
pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};
pub use hash::HashAlg;
pub use keygen::{DeviceShare, KeySize, RegistrationPayload, ServerShare};
pub use lockout::{AttemptState, FailureOutcome, LockStep, LockoutPolicy};
pub use messages::{
    RegistrationRequest, RegistrationResponse, SealedPartialSignature, SigningRequest,
    SigningResponse,
};
pub use otp::{LastExchange, OTP_LEN, Otp, OtpClass, OtpHash, OtpState, REQUEST_ID_LEN};
pub use padding::Scheme;
pub use pin::{KeyPurpose, MAX_PIN_LEN, Pin};
pub use public_key::PublicKey;
pub use seal::{Argon2Params, KEY_ID_LEN, MAX_SHARE_LEN, MIN_SHARE_LEN, SALT_LEN, SealedShare};
pub use secret::SecretBytes;
pub use server::Server;
pub use server_state::{
    Answer, DEFAULT_CAS_RETRIES, DEFAULT_KEY_LIFETIME_SECS, RequestId, ServerPolicy, ServerState,
};
pub use store::{ActiveKey, DestroyReason, InMemoryKeyStore, KeyId, KeyRecord, KeyState, KeyStore};
pub use transport::{
    ENC_LEN, MAX_PLAINTEXT_LEN, PRIVATE_KEY_LEN, PUBLIC_KEY_LEN, SealedMessage, ServerTransportKey,
    TAG_LEN, TRANSPORT_INFO, TransportPublicKey, seal_to_server,
};
pub use verification_code::{VerificationCode, verification_code};
pub use verify::verify;

#![doc = include_str!("../README.md")]

// The constant-time arithmetic is internal; the `hazmat` feature re-exports it for experts,
// tests and benches.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
mod arith;
mod encoding;
mod error;
#[cfg(feature = "hazmat")]
pub mod hazmat;
mod pin;
mod seal;
mod secret;
mod signing;
mod transport;

pub use encoding::MessageType;
pub use error::{DecodeError, DecodeErrorKind, Error, KeyError, PinError, Result, StoreError};
pub use pin::{KeyPurpose, MAX_PIN_LEN, Pin};
pub use seal::{Argon2Params, KEY_ID_LEN, MAX_SHARE_LEN, MIN_SHARE_LEN, SALT_LEN, SealedShare};
pub use secret::SecretBytes;
pub use transport::{
    ENC_LEN, MAX_PLAINTEXT_LEN, PRIVATE_KEY_LEN, PUBLIC_KEY_LEN, SealedMessage, ServerTransportKey,
    TAG_LEN, TRANSPORT_INFO, TransportPublicKey, seal_to_server,
};

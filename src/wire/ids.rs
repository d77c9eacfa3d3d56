//! Identifiers (SPEC §3.6, §4.1): the key id the server assigns at registration and the
//! request id it draws for each signing request. Distinct types, so that one cannot be passed
//! where the other is meant. Both are public values (they travel in the clear).

use core::fmt;

use rand_core::CryptoRng;

use crate::wire::hex::Hex;

/// Length of a key id in bytes.
pub const KEY_ID_LEN: usize = 16;

/// Length of a request id in bytes.
pub const REQUEST_ID_LEN: usize = 16;

/// The id of one split key, drawn by the server at registration (SPEC §3 step 6).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct KeyId([u8; KEY_ID_LEN]);

/// The id of one signing request, drawn by the server (SPEC §4 step 1).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RequestId([u8; REQUEST_ID_LEN]);

macro_rules! id_type {
    ($name:ident, $len:ident, $label:literal) => {
        impl $name {
            /// Draws a fresh random id.
            pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
                let mut bytes = [0u8; $len];
                rng.fill_bytes(&mut bytes);
                Self(bytes)
            }

            /// Wraps bytes (as read from a message or a database).
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl AsRef<[u8]> for $name {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($label, "({:?})"), Hex(&self.0))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&Hex(&self.0), f)
            }
        }
    };
}

id_type!(KeyId, KEY_ID_LEN, "KeyId");
id_type!(RequestId, REQUEST_ID_LEN, "RequestId");

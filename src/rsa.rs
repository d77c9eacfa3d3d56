//! The RSA building blocks (SPEC §2, §3, §4): random primes, the key generation steps of both
//! parties, the RFC 8017 encoding methods, verification, the composite public key, the hash
//! functions, and the arithmetic of the two-party signature.
//!
//! Nothing here knows about PINs, sessions or messages: the device and server roles
//! (`crate::device`, `crate::server`) drive these steps.

/// The public exponent `e = 65537` of every key, both halves and the composite (SPEC §2).
/// Defined here once; the modules below use it.
pub const PUBLIC_EXPONENT: u32 = 65537;

// Prime generation and key generation; the `hazmat` feature exposes their raw steps.
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
pub mod keygen;
#[cfg_attr(not(feature = "hazmat"), allow(dead_code, unreachable_pub))]
pub mod prime;

// X.509 signature algorithm identifiers of the schemes.
pub mod algorithm;
// Certificate signing requests signed by both parties (`x509-cert`).
#[cfg(feature = "csr")]
pub mod csr;
// The RustCrypto digest types of the supported hashes.
pub mod digest;
pub mod hash;
// The encoders are used by signing (SPEC §4.2) and re-exported under `hazmat`.
#[cfg_attr(
    not(feature = "hazmat"),
    allow(dead_code, unreachable_pub, unused_imports)
)]
pub mod padding;
pub mod public_key;
// Conversions to and from RustCrypto `rsa`'s `RsaPublicKey`.
#[cfg(feature = "rsa")]
pub mod rsa_crate;
// The signature type of the `signature` traits.
pub mod signature;
pub mod signing;
pub mod verify;
// Verifying keys for the `signature` traits.
pub mod verifying_key;

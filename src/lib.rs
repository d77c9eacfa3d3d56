#![doc = include_str!("../README.md")]
// docs.rs (`[package.metadata.docs.rs]`) builds with `--cfg docsrs`: feature badges on the
// `hazmat`, `rsa` and `csr` items.
#![cfg_attr(docsrs, feature(doc_cfg))]

// `unsafe` is denied crate-wide (Cargo.toml) and forbidden, so that no `allow` can lift it, in
// every module but `arith`, whose `backend` module alone holds the x86-64 assembly.
//
// Modules by role: `arith` (constant-time big integers), `rsa` (primes, key generation steps,
// padding, verification, the public key, hashes, the signing arithmetic), `device` (the
// device's registration and record, the PIN seal, the verification code), `server` (the
// server, its session state machine, lockout, one-time passwords, key stores, the transport
// key), `wire` (the canonical encoding and the messages).
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
mod error;
#[cfg(feature = "hazmat")]
#[cfg_attr(docsrs, doc(cfg(feature = "hazmat")))]
#[forbid(unsafe_code)]
pub mod hazmat;
#[forbid(unsafe_code)]
mod rsa;
#[forbid(unsafe_code)]
mod secret;
#[forbid(unsafe_code)]
mod server;
#[forbid(unsafe_code)]
mod wire;

pub use device::pin::{KeyPurpose, MAX_PIN_LEN, Pin};
pub use device::record::DeviceRecord;
pub use device::registration::{DeviceRegistration, RegistrationAnswer};
pub use device::seal::{Argon2Params, MAX_SHARE_LEN, MIN_SHARE_LEN, SALT_LEN, SealedShare};
pub use device::verification_code::{VerificationCode, verification_code};
pub use error::{
    BackendError, ChallengeError, DecodeError, DecodeErrorKind, Error, KekError, KeyError,
    PinError, PolicyError, RequestError, Result, StoreError, Uniqueness,
};
pub use rsa::hash::HashAlg;
pub use rsa::keygen::{DeviceShare, KeySize, RegistrationPayload, ServerShare};
pub use rsa::padding::Scheme;
pub use rsa::public_key::PublicKey;
pub use rsa::verify::verify;

// The RustCrypto ecosystem (STYLE.md rule 11): the crates whose traits the public key, the
// verifying keys and the signature implement, re-exported so that callers name the same
// versions; the signature type; one verifying key per scheme, digest-generic, as in `rsa`.
pub use pkcs1;
pub use rsa::digest::SupportedDigest;
pub use rsa::signature::Signature;
pub use sha2;
pub use signature;
pub use spki;

/// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2): the verifying key of the `signature` traits.
pub mod pkcs1v15 {
    pub use crate::rsa::verifying_key::pkcs1v15::VerifyingKey;
}

/// RSASSA-PSS (RFC 8017 §8.1) with the SPEC §4.1 profile: the verifying key of the `signature`
/// traits.
pub mod pss {
    pub use crate::rsa::verifying_key::pss::VerifyingKey;
}

/// Certificate signing requests signed by the two parties of a split key, through `x509-cert`
/// (feature `csr`).
#[cfg(feature = "csr")]
#[cfg_attr(docsrs, doc(cfg(feature = "csr")))]
pub mod csr {
    pub use crate::rsa::csr::SplitSigner;
    pub use x509_cert;
}
pub use secret::SecretBytes;
pub use server::kek::{KEK_NONCE_LEN, KEK_TAG_LEN, KekId, KeyEncryptionKey};
pub use server::kek::{LOCAL_KEK_LEN, LocalKek};
pub use server::lockout::{LockStep, LockoutPolicy};
pub use server::otp::{OTP_LEN, Otp, OtpHash};
pub use server::record::{
    ActiveKey, AnswerSummary, DestroyReason, KeyRecord, KeyState, MAX_TRIED, PendingRequest,
    StoredAnswer, Unresolved, WrappedShare,
};
pub use server::service::{Completion, Registered, Server};
pub use server::session::{
    Admission, DEFAULT_CAS_RETRIES, DEFAULT_CHALLENGE_LIFETIME_SECS, DEFAULT_KEY_LIFETIME_SECS,
    DEFAULT_REQUEST_LIFETIME_SECS, Evaluation, MessageFacts, ServerPolicy, Settlement, admit, live,
    record_answer, settle, start_request,
};
/// The key-store conformance kit (feature `test-kit`): checks any [`KeyStore`] against the
/// guarantees written on the trait.
#[cfg(feature = "test-kit")]
pub use server::store::conformance as test_kit;
#[cfg(feature = "postgres")]
pub use server::store::postgres::{
    POSTGRES_DEFAULT_MAX_CONNECTIONS, POSTGRES_SCHEMA_VERSION, PostgresKeyStore,
};
#[cfg(feature = "sqlite")]
pub use server::store::sqlite::{
    SQLITE_DEFAULT_BUSY_TIMEOUT, SQLITE_SCHEMA_VERSION, SqliteKeyStore,
};
pub use server::store::{
    CHALLENGE_LEN, InMemoryKeyStore, KeyStore, N1Hash, NewRecord, StoredRecord,
};
pub use server::transport::{
    ENC_LEN, MAX_PLAINTEXT_LEN, PRIVATE_KEY_LEN, PUBLIC_KEY_LEN, SealedMessage, ServerTransportKey,
    TAG_LEN, TRANSPORT_INFO, TransportPublicKey, seal_to_server,
};
pub use wire::encoding::MessageType;
pub use wire::ids::{KEY_ID_LEN, KeyId, REQUEST_ID_LEN, RequestId};
pub use wire::messages::{
    Outcome, RegistrationChallenge, RegistrationRequest, ResponseKind, SealedPartialSignature,
    SealedResponse, SigningRequest,
};

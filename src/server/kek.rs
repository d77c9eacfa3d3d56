//! Key-encryption keys (SPEC §7, "at rest"): the server's share inside every stored record is
//! encrypted under a key-encryption key (KEK) that the key store never sees.
//!
//! The share is sealed with an AEAD whose associated data binds the record's key id and
//! SHA-256(n1), so a share cannot be moved into another record, and a record that does not
//! authenticate is refused with a typed error. Each sealed share names the KEK it was sealed
//! under ([`KekId`]), so KEKs can be rotated: old ones stay available for opening while every
//! record is re-wrapped under the current one.
//!
//! [`KeyEncryptionKey`] is the small interface an HSM or a cloud KMS can implement;
//! [`LocalKek`] is a software implementation (XChaCha20-Poly1305 with keys held in memory).

use core::fmt;

use crate::error::Error;

/// Identifies one key-encryption key among those a server may hold (stored beside every
/// sealed share).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KekId(pub u32);

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({})", self.0)
    }
}

/// Length of the nonce the library draws for every sealing (XChaCha20-Poly1305's 24 bytes).
pub const KEK_NONCE_LEN: usize = 24;

/// Length of the AEAD tag appended to every sealed share.
pub const KEK_TAG_LEN: usize = 16;

/// A provider of key-encryption keys: seals under the current KEK, opens under any KEK it
/// still holds. Implement it over an HSM or a KMS to keep the KEKs out of the server's memory.
///
/// The library draws the nonce (random, [`KEK_NONCE_LEN`] bytes) and stores it beside the
/// ciphertext; an implementation must use the given nonce and associated data as they are.
pub trait KeyEncryptionKey: Send + Sync {
    /// The KEK new shares are sealed under.
    fn current(&self) -> KekId;

    /// Encrypts and authenticates `plaintext` under KEK `kek` (ciphertext || tag).
    ///
    /// # Errors
    /// [`Error::Kek`] if `kek` is unknown or the provider fails.
    fn seal(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error>;

    /// Decrypts and checks `ciphertext` (ciphertext || tag) under KEK `kek`, into a wiping
    /// buffer.
    ///
    /// # Errors
    /// [`Error::Kek`] if `kek` is unknown, the provider fails, or the ciphertext does not
    /// authenticate.
    fn open(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error>;
}

//! A wiping byte buffer for secrets handed back to the caller (STYLE.md rule 3).

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Secret bytes: an unsealed device share (SPEC §5) or an opened transport message
/// (SPEC §6).
///
/// The bytes are wiped (including the vector's spare capacity) on drop. No `Clone`;
/// `Debug` prints only the length, which is public for every use in this crate (a share is
/// (|n1|+128)/8 bytes, a message's length is visible on the wire).
pub struct SecretBytes {
    bytes: Vec<u8>,
}

impl SecretBytes {
    /// Takes ownership of `bytes`; they are wiped when the returned value is dropped.
    pub(crate) fn from_vec(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }

    /// The bytes, mutably (for decrypting in place).
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// The secret bytes. Do not copy them into a buffer that is not wiped.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bytes (public).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        // Wipes the contents and the spare capacity, then clears.
        self.bytes.zeroize();
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for SecretBytes {}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretBytes")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

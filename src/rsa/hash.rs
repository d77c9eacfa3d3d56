//! The hash functions a signature may use (SPEC §4.1): SHA-256, SHA-384 and SHA-512, with
//! their DigestInfo encodings for EMSA-PKCS1-v1_5 (RFC 8017 §9.2 note 1).
//!
//! Everything hashed here is public (messages, digests, salts, encoded messages), so nothing
//! in this module needs to be constant-time.

use crate::error::RequestError;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// The largest digest length of any supported hash, in bytes (SHA-512).
pub(crate) const MAX_HASH_LEN: usize = 64;

/// A hash function from the SHA-2 family (FIPS 180-4) used to digest the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256: 32-byte digests.
    Sha256,
    /// SHA-384: 48-byte digests.
    Sha384,
    /// SHA-512: 64-byte digests.
    Sha512,
}

/// The DER encoding of `DigestInfo` minus the digest itself, for each hash
/// (RFC 8017 §9.2 note 1): `SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (hLen) }`.
const SHA256_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
const SHA384_PREFIX: [u8; 19] = [
    0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05,
    0x00, 0x04, 0x30,
];
const SHA512_PREFIX: [u8; 19] = [
    0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05,
    0x00, 0x04, 0x40,
];

/// A digest computed by [`HashAlg::hash_parts`], in a fixed buffer (no allocation).
pub(crate) struct HashOutput {
    buf: [u8; MAX_HASH_LEN],
    len: usize,
}

impl HashOutput {
    /// The digest bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

/// Feeds `parts` to a fresh `D` and copies the digest into a [`HashOutput`].
fn hash_with<D: Digest>(parts: &[&[u8]]) -> HashOutput {
    let mut h = D::new();
    for p in parts {
        h.update(p);
    }
    let out = h.finalize();
    let mut buf = [0u8; MAX_HASH_LEN];
    let len = out.len().min(MAX_HASH_LEN);
    for (d, s) in buf.iter_mut().zip(out.iter()) {
        *d = *s;
    }
    HashOutput { buf, len }
}

impl HashAlg {
    /// The digest length in bytes (`hLen` in RFC 8017): 32, 48 or 64.
    pub const fn output_len(self) -> usize {
        match self {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    /// The DER `DigestInfo` prefix that precedes the digest in EMSA-PKCS1-v1_5
    /// (RFC 8017 §9.2 note 1).
    pub const fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha256 => &SHA256_PREFIX,
            HashAlg::Sha384 => &SHA384_PREFIX,
            HashAlg::Sha512 => &SHA512_PREFIX,
        }
    }

    /// Hashes a message: the digest that [`verify`](crate::verify) and the signing requests
    /// take (SPEC §4.1).
    pub fn digest(self, message: &[u8]) -> Vec<u8> {
        self.hash_parts(&[message]).as_bytes().to_vec()
    }

    /// Hashes the concatenation of `parts`.
    pub(crate) fn hash_parts(self, parts: &[&[u8]]) -> HashOutput {
        match self {
            HashAlg::Sha256 => hash_with::<Sha256>(parts),
            HashAlg::Sha384 => hash_with::<Sha384>(parts),
            HashAlg::Sha512 => hash_with::<Sha512>(parts),
        }
    }

    /// Checks that `digest` has this hash's length (SPEC §4.1).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) if the length is wrong.
    pub(crate) fn check_digest(self, digest: &[u8]) -> crate::Result<()> {
        if digest.len() == self.output_len() {
            Ok(())
        } else {
            Err(crate::Error::InvalidRequest(RequestError::DigestLength))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FIPS 180-4 examples (NIST CSRC "SHA-2 example values"): the digests of "abc".
    #[test]
    fn known_answers_abc() {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&HashAlg::Sha256.digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&HashAlg::Sha384.digest(b"abc")),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed\
             8086072ba1e7cc2358baeca134c825a7"
        );
        assert_eq!(
            hex(&HashAlg::Sha512.digest(b"abc")),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
             2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        );
        // Split input hashes the same as the whole.
        assert_eq!(
            HashAlg::Sha384.hash_parts(&[b"a", b"", b"bc"]).as_bytes(),
            HashAlg::Sha384.digest(b"abc")
        );
    }

    #[test]
    fn digest_info_prefixes_are_consistent() {
        for h in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let p = h.digest_info_prefix();
            // Outer SEQUENCE length covers the rest of the prefix plus the digest.
            assert_eq!(
                p.get(1).copied(),
                Some((p.len() - 2 + h.output_len()) as u8)
            );
            // The OCTET STRING length is hLen.
            assert_eq!(p.last().copied(), Some(h.output_len() as u8));
            assert!(h.check_digest(&vec![0; h.output_len()]).is_ok());
            assert!(h.check_digest(&vec![0; h.output_len() + 1]).is_err());
        }
    }
}

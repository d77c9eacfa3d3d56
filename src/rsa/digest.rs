//! The digest types the RustCrypto traits are generic over, mapped to [`HashAlg`] (SPEC §4.1):
//! `sha2::Sha256`, `sha2::Sha384` and `sha2::Sha512` (the `sha2` 0.11 types), and no other.

use sha2::digest::{Digest, FixedOutput, Update};
use sha2::{Sha256, Sha384, Sha512};

use crate::rsa::hash::HashAlg;

mod sealed {
    /// Implemented only in this module: the set of hash functions is closed (SPEC §4.1).
    pub trait Sealed {}
}

/// A RustCrypto digest type that split-rsa signs and verifies with: `sha2::Sha256`,
/// `sha2::Sha384` or `sha2::Sha512` (SPEC §4.1). Sealed: no other hash can be plugged in.
///
/// The digest-generic [`pkcs1v15::VerifyingKey<D>`](crate::pkcs1v15::VerifyingKey) and
/// [`pss::VerifyingKey<D>`](crate::pss::VerifyingKey) take `D` from this set, as RustCrypto
/// `rsa`'s do from any `Digest`.
pub trait SupportedDigest: sealed::Sealed + Digest + Default + FixedOutput + Update {
    /// The hash function `D` computes.
    const HASH_ALG: HashAlg;
}

impl sealed::Sealed for Sha256 {}
impl sealed::Sealed for Sha384 {}
impl sealed::Sealed for Sha512 {}

impl SupportedDigest for Sha256 {
    const HASH_ALG: HashAlg = HashAlg::Sha256;
}

impl SupportedDigest for Sha384 {
    const HASH_ALG: HashAlg = HashAlg::Sha384;
}

impl SupportedDigest for Sha512 {
    const HASH_ALG: HashAlg = HashAlg::Sha512;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `D` and its `HashAlg` compute the same function.
    #[test]
    fn digest_types_match_hash_alg() {
        fn check<D: SupportedDigest>() {
            assert_eq!(
                D::digest(b"abc").as_slice(),
                D::HASH_ALG.digest(b"abc").as_slice()
            );
            assert_eq!(<D as Digest>::output_size(), D::HASH_ALG.output_len());
        }
        check::<Sha256>();
        check::<Sha384>();
        check::<Sha512>();
    }
}

//! Conversions between [`PublicKey`] and RustCrypto `rsa` 0.10's `rsa::PublicKey` (named
//! `RsaPublicKey` before 0.10, still a deprecated alias there) (feature
//! `rsa`), so that a split key's composite public key can be handed to code that verifies (or
//! encrypts) with `rsa`, and an `rsa` key imported for verification here.
//!
//! `rsa` 0.10 accepts moduli of 1024 to 8192 bits by default, so the 6144-bit composite keys
//! convert without `RsaPublicKey::new_with_size_limits`. Public data only.

use ::rsa::BoxedUint;
use ::rsa::PublicKey as RsaPublicKey;
use ::rsa::traits::PublicKeyParts;

use crate::error::{Error, KeyError, Result};
use crate::rsa::public_key::PublicKey;

/// A big-endian integer (`n` or `e`) as a `BoxedUint` with exactly its byte length as
/// precision. Cannot fail for a key's `n` (at most 1024 bytes) or `e`.
fn boxed(bytes: &[u8]) -> Result<BoxedUint> {
    let bits = u32::try_from(8 * bytes.len()).map_err(|_| KeyError::ModulusSize)?;
    BoxedUint::from_be_slice(bytes, bits).map_err(|_| KeyError::ModulusSize.into())
}

/// The same key for `rsa`: `rsa::PublicKey::new` with the same `(n, e)`, under `rsa`'s own
/// checks.
///
/// # Errors
/// [`Error::InvalidKey`] with [`KeyError::ModulusSize`] if `rsa` refuses the key. It does not
/// for any key of this crate (an odd `n` of 1024 to 8192 bits, composites of the insecure test
/// sizes included, and `e = 65537` are within `rsa` 0.10's defaults); the error stays in case a
/// later `rsa` tightens its checks.
impl TryFrom<&PublicKey> for RsaPublicKey {
    type Error = Error;

    fn try_from(key: &PublicKey) -> Result<Self> {
        let n = boxed(key.modulus_bytes())?;
        let e = boxed(&key.e().to_be_bytes())?;
        RsaPublicKey::new(n, e).map_err(|_| Error::InvalidKey(KeyError::ModulusSize))
    }
}

/// As the conversion from `&PublicKey`.
impl TryFrom<PublicKey> for RsaPublicKey {
    type Error = Error;

    fn try_from(key: PublicKey) -> Result<Self> {
        Self::try_from(&key)
    }
}

/// The same key here, with this crate's checks (SPEC §2).
///
/// # Errors
/// [`Error::InvalidKey`] with [`KeyError::PublicExponent`] if `e ≠ 65537`, otherwise as
/// [`PublicKey::from_modulus`] (2048 to 8192 bits).
impl TryFrom<&RsaPublicKey> for PublicKey {
    type Error = Error;

    fn try_from(key: &RsaPublicKey) -> Result<Self> {
        if *key.e_bytes() != [0x01, 0x00, 0x01] {
            return Err(KeyError::PublicExponent.into());
        }
        PublicKey::from_modulus(&key.n_bytes())
    }
}

/// As the conversion from `&RsaPublicKey`.
impl TryFrom<RsaPublicKey> for PublicKey {
    type Error = Error;

    fn try_from(key: RsaPublicKey) -> Result<Self> {
        Self::try_from(&key)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_exponent() {
        for bits in [2048usize, 3071, 6144, 8192] {
            let mut n = vec![0xa7u8; bits.div_ceil(8)];
            if let Some(b) = n.first_mut() {
                *b = 0xffu8 >> (8 * bits.div_ceil(8) - bits);
            }
            let ours = PublicKey::from_modulus(&n).unwrap();
            let theirs = RsaPublicKey::try_from(&ours).unwrap();
            assert_eq!(theirs.size(), ours.size());
            assert_eq!(&*theirs.n_bytes(), ours.modulus_bytes());
            assert_eq!(PublicKey::try_from(theirs).unwrap(), ours);
        }
        let n = BoxedUint::from_be_slice(&[0xa7; 256], 2048).unwrap();
        let three = RsaPublicKey::new(n, BoxedUint::from(3u32)).unwrap();
        assert_eq!(
            PublicKey::try_from(&three),
            Err(KeyError::PublicExponent.into())
        );
    }
}

//! An RSA signature as bytes (RFC 8017 §8.1.1 / §8.2.1 output `S`, SPEC §4.6), with the
//! RustCrypto `signature` encoding traits, so that it plugs into [`signature::Verifier`],
//! [`signature::Signer`] and the `x509-cert` builders.
//!
//! One type serves both schemes: an RSASSA-PKCS1-v1_5 and an RSASSA-PSS signature are both the
//! `k`-byte integer `s < n`. A signature is public: nothing here needs to be constant-time.

use core::fmt;

use signature::SignatureEncoding;
use spki::SignatureBitStringEncoding;
use spki::der::asn1::{BitString, BitStringRef};

use crate::rsa::public_key::PublicKey;

/// An RSA signature: the octet string `S` of RFC 8017 (§8.1.1 step 3, §8.2.1 step 3), exactly
/// `k = ceil(modBits/8)` bytes for the key that made it.
///
/// Decoding ([`TryFrom<&[u8]>`](#impl-TryFrom%3C%26%5Bu8%5D%3E-for-Signature)) accepts 1 to
/// [`Signature::MAX_LEN`] bytes and keeps them as they are (leading zero bytes included); the
/// exact length and the range `s < n` are checked against the key at verification.
///
/// `Display` and `UpperHex` print upper-case hex, `LowerHex` lower-case (as RustCrypto `rsa`).
///
/// # Example
///
/// ```
/// use split_rsa::Signature;
/// use split_rsa::signature::SignatureEncoding;
///
/// let sig = Signature::try_from(&[0x00, 0x2a, 0xff][..])?;
/// assert_eq!(sig.to_vec(), [0x00, 0x2a, 0xff]);
/// assert_eq!(format!("{sig:x}"), "002aff");
/// assert_eq!(sig.to_string(), "002AFF");
/// assert!(Signature::try_from(&[][..]).is_err());
/// # Ok::<(), split_rsa::signature::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Signature {
    bytes: Box<[u8]>,
}

impl Signature {
    /// The longest accepted signature, in bytes: that of the largest accepted key
    /// ([`PublicKey::MAX_BITS`] bits).
    pub const MAX_LEN: usize = PublicKey::MAX_BITS.div_ceil(8);

    /// The signature bytes, big-endian.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The signature for `bytes`, checked for length (1 to [`Signature::MAX_LEN`] bytes).
    fn from_boxed(bytes: Box<[u8]>) -> signature::Result<Self> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return Err(signature::Error::new());
        }
        Ok(Self { bytes })
    }
}

impl SignatureEncoding for Signature {
    type Repr = Box<[u8]>;
}

/// The `x509-cert` builders' view of a signature: a BIT STRING with no unused bits
/// (RFC 5280 §4.1.1.3).
impl SignatureBitStringEncoding for Signature {
    fn to_bitstring(&self) -> spki::der::Result<BitString> {
        BitString::from_bytes(&self.bytes)
    }
}

impl TryFrom<&[u8]> for Signature {
    type Error = signature::Error;

    fn try_from(bytes: &[u8]) -> signature::Result<Self> {
        if bytes.len() > Self::MAX_LEN {
            return Err(signature::Error::new());
        }
        Self::from_boxed(bytes.into())
    }
}

impl TryFrom<Vec<u8>> for Signature {
    type Error = signature::Error;

    fn try_from(bytes: Vec<u8>) -> signature::Result<Self> {
        Self::from_boxed(bytes.into_boxed_slice())
    }
}

impl TryFrom<Box<[u8]>> for Signature {
    type Error = signature::Error;

    fn try_from(bytes: Box<[u8]>) -> signature::Result<Self> {
        Self::from_boxed(bytes)
    }
}

/// A signature field of a certificate or CSR (`signatureValue`, RFC 5280 §4.1.1.3, RFC 2986
/// §4.2): a BIT STRING with no unused bits.
impl TryFrom<BitStringRef<'_>> for Signature {
    type Error = signature::Error;

    fn try_from(bits: BitStringRef<'_>) -> signature::Result<Self> {
        Self::try_from(bits.as_bytes().ok_or_else(signature::Error::new)?)
    }
}

impl From<Signature> for Box<[u8]> {
    fn from(signature: Signature) -> Self {
        signature.bytes
    }
}

impl From<Signature> for Vec<u8> {
    fn from(signature: Signature) -> Self {
        signature.bytes.into_vec()
    }
}

impl AsRef<[u8]> for Signature {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::LowerHex for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::UpperHex for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.bytes.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::UpperHex::fmt(self, f)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self:x})")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use spki::der::referenced::OwnedToRef;

    #[test]
    fn lengths() {
        assert!(Signature::try_from(&[][..]).is_err());
        assert!(Signature::try_from(Vec::new()).is_err());
        let max = vec![0xa5; Signature::MAX_LEN];
        assert_eq!(
            Signature::try_from(max.as_slice()).unwrap().as_bytes(),
            max.as_slice()
        );
        let over = vec![0xa5; Signature::MAX_LEN + 1];
        assert!(Signature::try_from(over.as_slice()).is_err());
        assert!(Signature::try_from(over).is_err());
    }

    #[test]
    fn encodings() {
        let sig = Signature::try_from(vec![0, 1, 0xab]).unwrap();
        assert_eq!(sig.to_bytes().as_ref(), [0, 1, 0xab]);
        assert_eq!(sig.encoded_len(), 3);
        assert_eq!(
            format!("{sig:x} {sig:X} {sig} {sig:?}"),
            "0001ab 0001AB 0001AB Signature(0001ab)"
        );
        let bits = sig.to_bitstring().unwrap();
        assert_eq!(bits.unused_bits(), 0);
        assert_eq!(Signature::try_from(bits.owned_to_ref()).unwrap(), sig);
        assert_eq!(Vec::from(sig.clone()), [0, 1, 0xab]);
    }
}

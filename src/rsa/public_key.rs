//! The composite public key `(n, e)` (SPEC §2, §3.6): what a CA certifies and what any
//! verifier uses. It exports and imports as PKCS#1 `RSAPublicKey` and X.509
//! `SubjectPublicKeyInfo` (rsaEncryption, NULL parameters), in DER and PEM.
//!
//! Everything in a public key is public: nothing here needs to be constant-time.

use core::fmt;

use pkcs1::der::asn1::{BitStringRef, UintRef};
use pkcs1::der::pem::LineEnding;
use pkcs1::der::{Decode, Encode, ErrorKind};
use pkcs1::{ALGORITHM_OID, RsaPublicKeyRef};
use spki::SubjectPublicKeyInfoRef;

use crate::arith::{LIMB_BYTES, Modulus, Residue, Uint};
use crate::error::{DecodeError, DecodeErrorKind, Error, KeyError, Result};
use crate::rsa::keygen::N;

/// The public exponent `e = 65537` of every key (SPEC §2).
const E: u32 = 65537;
/// `e` as a big-endian byte string, as it appears in DER.
const E_BYTES: [u8; 3] = [0x01, 0x00, 0x01];

/// PEM label of a PKCS#1 `RSAPublicKey` (RFC 7468 is silent; OpenSSL's "RSA PUBLIC KEY").
const PKCS1_PEM_LABEL: &str = "RSA PUBLIC KEY";
/// PEM label of a `SubjectPublicKeyInfo` (RFC 7468 §13).
const SPKI_PEM_LABEL: &str = "PUBLIC KEY";

/// An RSA public key `(n, e)` with `e = 65537` (SPEC §2): the composite key of a split key
/// (SPEC §3.6), or a key imported from elsewhere for verification.
///
/// Checked once at construction: `n` is odd and has 2048 to 8192 bits (any bit length in
/// that range, so a composite with `|n| = |n1| + |n2| - 1` and keys made by other tools
/// import), and `e` is 65537. Equality compares the modulus.
///
/// Keys of the insecure test sizes ([`KeySize::insecure_for_tests`](crate::KeySize::insecure_for_tests),
/// composites below 2048 bits) exist only as the public key of a [`DeviceRecord`](crate::DeviceRecord)
/// made with those sizes; they export but do not import.
///
/// # Example
///
/// Import (here a 2048-bit key exported by `openssl pkey -pubout`), export in the other
/// formats, and re-import:
///
/// ```
/// use split_rsa::{DecodeErrorKind, Error, PublicKey};
///
/// let spki_pem = "\
/// -----BEGIN PUBLIC KEY-----
/// MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxsS47Q3+TI46FaJ0DlDo
/// 5VLvrH0JGSuwkGl8IMCSjtiqJryvB34fWjpupAFcMTAhbKeZUDljj0emTjexhOJ6
/// kTsZgABGAk9nQeRrIfMGmgBeKcxwEJAQFDscB/nrpgghYUCpBYf0DneXc5+RFo/g
/// wFUYBIb3vm2Jt0FwjneF79OvJYkRUJMHqP2pZtTPLYzLI+F/RLkcuCD60fNNC1gd
/// 0iOdpCFW0YUarsXtYcDRV1oV4IIItNUm+7CmUl6jxrmpsIrThcVWZ+suwO8Jg7u2
/// gTQg4RaylDukd5ZMA6uhxW5EEN//t/Zd4FGy6hDVVNCnyojfM9fg7ItRHfqRvrL7
/// 2wIDAQAB
/// -----END PUBLIC KEY-----
/// ";
/// let key = PublicKey::from_public_key_pem(spki_pem)?;
/// assert_eq!((key.bits(), key.size(), key.e()), (2048, 256, 65537));
///
/// // The exports are canonical: the SubjectPublicKeyInfo PEM comes back byte for byte.
/// assert_eq!(key.to_public_key_pem().trim_end(), spki_pem.trim_end());
/// assert!(key.to_pkcs1_pem().starts_with("-----BEGIN RSA PUBLIC KEY-----"));
/// assert_eq!(PublicKey::from_pkcs1_pem(&key.to_pkcs1_pem())?, key);
/// assert_eq!(PublicKey::from_pkcs1_der(&key.to_pkcs1_der())?, key);
/// assert_eq!(PublicKey::from_public_key_der(&key.to_public_key_der())?, key);
/// assert_eq!(PublicKey::from_modulus(key.modulus_bytes())?, key);
///
/// // A PKCS#1 PEM is not a SubjectPublicKeyInfo PEM: the label is checked.
/// match PublicKey::from_public_key_pem(&key.to_pkcs1_pem()) {
///     Err(Error::Decode(e)) => assert_eq!(e.kind, DecodeErrorKind::BadType),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    /// `n`, big-endian, exactly `k = ceil(bits/8)` bytes (no leading zero byte).
    n_bytes: Vec<u8>,
    /// The bit length of `n`.
    bits: usize,
    /// The Montgomery context of `n`, for verification.
    modulus: Modulus<N>,
    /// `R^2 mod n` as a Montgomery representative (`R = 2^(64·limbs)`): one Montgomery
    /// multiplication by it takes a plain integer into Montgomery form (verification).
    r2: Residue<N>,
    /// The canonical encodings, computed once at construction so that export cannot fail.
    pkcs1_der: Vec<u8>,
    spki_der: Vec<u8>,
    pkcs1_pem: String,
    spki_pem: String,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n_bytes == other.n_bytes
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self
            .n_bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_struct("PublicKey")
            .field("bits", &self.bits)
            .field("e", &E)
            .field("n", &format_args!("{head}…"))
            .finish()
    }
}

/// Maps a DER/PEM error to a [`DecodeError`] on `field`.
fn der_error(field: &'static str, e: pkcs1::der::Error) -> Error {
    let kind = match e.kind() {
        ErrorKind::Incomplete { .. } => DecodeErrorKind::Truncated,
        ErrorKind::TrailingData { .. } => DecodeErrorKind::TrailingBytes,
        ErrorKind::Noncanonical { .. } => DecodeErrorKind::NonCanonical,
        ErrorKind::TagUnexpected { .. } | ErrorKind::TagUnknown { .. } => DecodeErrorKind::BadType,
        _ => DecodeErrorKind::Invalid,
    };
    Error::Decode(DecodeError::new(field, kind))
}

impl PublicKey {
    /// The public exponent of every key: 65537 (SPEC §2).
    pub const E: u32 = E;
    /// The smallest accepted modulus, in bits.
    pub const MIN_BITS: usize = 2048;
    /// The largest accepted modulus, in bits.
    pub const MAX_BITS: usize = 8192;

    /// The key `(n, 65537)` for a modulus given as big-endian bytes (leading zero bytes are
    /// ignored).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] with [`KeyError::ModulusSize`] if `n` has fewer than 2048 or more
    /// than 8192 bits, or [`KeyError::EvenModulus`] if `n` is even.
    pub fn from_modulus(n: &[u8]) -> Result<Self> {
        Self::build(n, Self::MIN_BITS)
    }

    /// [`PublicKey::from_modulus`] with a smallest size of `min_bits`.
    fn build(n: &[u8], min_bits: usize) -> Result<Self> {
        let start = n.iter().position(|b| *b != 0).unwrap_or(n.len());
        let n = n.get(start..).unwrap_or(&[]);
        let top = n.first().copied().unwrap_or(0);
        let bits = (8 * n.len()).saturating_sub(top.leading_zeros() as usize);
        if !(min_bits..=Self::MAX_BITS).contains(&bits) {
            return Err(KeyError::ModulusSize.into());
        }
        if n.last().copied().unwrap_or(0) & 1 == 0 {
            return Err(KeyError::EvenModulus.into());
        }
        let n_uint =
            Uint::from_be_slice(n, n.len().div_ceil(LIMB_BYTES)).ok_or(KeyError::ModulusSize)?;
        let modulus = Modulus::new(n_uint).ok_or(KeyError::EvenModulus)?;
        // The representative of R mod n (Montgomery one) taken into Montgomery form: R^2 mod n.
        let r2 = modulus.to_monty(modulus.one().as_montgomery());

        // Canonical encodings. They cannot fail for a modulus of at most 8192 bits; a failure
        // would mean the modulus cannot be represented, reported as a size error.
        let enc = |_| Error::InvalidKey(KeyError::ModulusSize);
        let pkcs1 = pkcs1::RsaPublicKey {
            modulus: UintRef::new(n).map_err(enc)?,
            public_exponent: UintRef::new(&E_BYTES).map_err(enc)?,
        };
        let pkcs1_der = pkcs1.to_der().map_err(enc)?;
        let spki = SubjectPublicKeyInfoRef {
            algorithm: pkcs1::ALGORITHM_ID,
            subject_public_key: BitStringRef::from_bytes(&pkcs1_der).map_err(enc)?,
        };
        let spki_der = spki.to_der().map_err(enc)?;
        let pem = |label, der: &[u8]| {
            pkcs1::der::pem::encode_string(label, LineEnding::LF, der)
                .map_err(|_| KeyError::ModulusSize)
        };
        let pkcs1_pem = pem(PKCS1_PEM_LABEL, &pkcs1_der)?;
        let spki_pem = pem(SPKI_PEM_LABEL, &spki_der)?;

        Ok(Self {
            n_bytes: n.to_vec(),
            bits,
            modulus,
            r2,
            pkcs1_der,
            spki_der,
            pkcs1_pem,
            spki_pem,
        })
    }

    /// The key for a composite modulus built by this crate (SPEC §3 step 6). Unlike
    /// [`PublicKey::from_modulus`] it also takes the composites of the insecure test key sizes
    /// (from 1024 bits), which only [`KeySize::insecure_for_tests`] can produce.
    ///
    /// # Errors
    /// As [`PublicKey::from_modulus`].
    ///
    /// [`KeySize::insecure_for_tests`]: crate::KeySize::insecure_for_tests
    pub(crate) fn from_uint(n: &Uint) -> Result<Self> {
        let (bytes, _) = n.to_be_bytes(n.bits_vartime().div_ceil(8));
        Self::build(&bytes, 1024)
    }

    /// The modulus `n` as exactly [`size`](Self::size) big-endian bytes.
    pub fn modulus_bytes(&self) -> &[u8] {
        &self.n_bytes
    }

    /// The bit length of `n` (`modBits`).
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The length of `n` in bytes, `k = ceil(bits/8)`: the length of every signature.
    pub fn size(&self) -> usize {
        self.n_bytes.len()
    }

    /// The public exponent, always 65537 (SPEC §2).
    pub fn e(&self) -> u32 {
        E
    }

    /// The Montgomery context of `n`.
    pub(crate) fn modulus(&self) -> &Modulus<N> {
        &self.modulus
    }

    /// `R^2 mod n` as a Montgomery representative (see [`crate::verify`]).
    pub(crate) fn r2(&self) -> &Residue<N> {
        &self.r2
    }

    /// The PKCS#1 `RSAPublicKey` DER encoding (RFC 8017 §A.1.1).
    pub fn to_pkcs1_der(&self) -> Vec<u8> {
        self.pkcs1_der.clone()
    }

    /// The PKCS#1 `RSAPublicKey` PEM encoding (`-----BEGIN RSA PUBLIC KEY-----`, LF line
    /// endings).
    pub fn to_pkcs1_pem(&self) -> String {
        self.pkcs1_pem.clone()
    }

    /// The X.509 `SubjectPublicKeyInfo` DER encoding (RFC 5280 §4.1.2.7, rsaEncryption with
    /// NULL parameters, RFC 3279 §2.3.1).
    pub fn to_public_key_der(&self) -> Vec<u8> {
        self.spki_der.clone()
    }

    /// The `SubjectPublicKeyInfo` PEM encoding (`-----BEGIN PUBLIC KEY-----`, LF line
    /// endings).
    pub fn to_public_key_pem(&self) -> String {
        self.spki_pem.clone()
    }

    /// Imports a PKCS#1 `RSAPublicKey` from DER (strict: canonical DER, no trailing bytes).
    ///
    /// # Errors
    /// [`Error::Decode`] on field `RSAPublicKey` for malformed DER;
    /// [`Error::InvalidKey`] with [`KeyError::PublicExponent`] if `e` is not 65537, or as
    /// [`PublicKey::from_modulus`].
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self> {
        let key = RsaPublicKeyRef::from_der(der).map_err(|e| der_error("RSAPublicKey", e))?;
        if key.public_exponent.as_bytes() != E_BYTES {
            return Err(KeyError::PublicExponent.into());
        }
        Self::from_modulus(key.modulus.as_bytes())
    }

    /// Imports a PKCS#1 `RSAPublicKey` from PEM (label `RSA PUBLIC KEY`).
    ///
    /// # Errors
    /// [`Error::Decode`] on field `PEM` for malformed PEM, with
    /// [`DecodeErrorKind::BadType`] for a different label; otherwise as
    /// [`PublicKey::from_pkcs1_der`].
    pub fn from_pkcs1_pem(pem: &str) -> Result<Self> {
        Self::from_pkcs1_der(&decode_pem(pem, PKCS1_PEM_LABEL)?)
    }

    /// Imports a `SubjectPublicKeyInfo` from DER. The algorithm must be rsaEncryption
    /// (1.2.840.113549.1.1.1) with NULL parameters (RFC 3279 §2.3.1); the key bit string must
    /// have no unused bits and hold a PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the offending field (`SubjectPublicKeyInfo`,
    /// `SubjectPublicKeyInfo.algorithm`, `SubjectPublicKeyInfo.algorithm.parameters`,
    /// `SubjectPublicKeyInfo.subjectPublicKey`, `RSAPublicKey`), or as
    /// [`PublicKey::from_pkcs1_der`].
    pub fn from_public_key_der(der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| der_error("SubjectPublicKeyInfo", e))?;
        if spki.algorithm.oid != ALGORITHM_OID {
            return Err(DecodeError::new(
                "SubjectPublicKeyInfo.algorithm",
                DecodeErrorKind::UnknownTag,
            )
            .into());
        }
        if !spki.algorithm.parameters.is_some_and(|p| p.is_null()) {
            return Err(DecodeError::new(
                "SubjectPublicKeyInfo.algorithm.parameters",
                DecodeErrorKind::Invalid,
            )
            .into());
        }
        let key = spki.subject_public_key.as_bytes().ok_or(DecodeError::new(
            "SubjectPublicKeyInfo.subjectPublicKey",
            DecodeErrorKind::NonCanonical,
        ))?;
        Self::from_pkcs1_der(key)
    }

    /// Imports a `SubjectPublicKeyInfo` from PEM (label `PUBLIC KEY`).
    ///
    /// # Errors
    /// [`Error::Decode`] on field `PEM` for malformed PEM, with
    /// [`DecodeErrorKind::BadType`] for a different label; otherwise as
    /// [`PublicKey::from_public_key_der`].
    pub fn from_public_key_pem(pem: &str) -> Result<Self> {
        Self::from_public_key_der(&decode_pem(pem, SPKI_PEM_LABEL)?)
    }
}

/// Decodes a PEM document (RFC 7468, strict) and checks its label.
fn decode_pem(pem: &str, label: &'static str) -> Result<Vec<u8>> {
    let (got, der) = pkcs1::der::pem::decode_vec(pem.as_bytes())
        .map_err(|e| der_error("PEM", pkcs1::der::Error::from(e)))?;
    if got != label {
        return Err(DecodeError::new("PEM", DecodeErrorKind::BadType).into());
    }
    Ok(der)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0xa5u8; bits.div_ceil(8)];
        if let Some(b) = n.first_mut() {
            *b = 0xffu8 >> (8 * bits.div_ceil(8) - bits);
        }
        if let Some(b) = n.last_mut() {
            *b |= 1;
        }
        n
    }

    #[test]
    fn sizes_and_parity() {
        assert_eq!(
            PublicKey::from_modulus(&modulus(2047)),
            Err(KeyError::ModulusSize.into())
        );
        assert_eq!(
            PublicKey::from_modulus(&modulus(8193)),
            Err(KeyError::ModulusSize.into())
        );
        assert_eq!(
            PublicKey::from_modulus(&[]),
            Err(KeyError::ModulusSize.into())
        );
        for bits in [2048, 2049, 3071, 6143, 6144, 8192] {
            let k = PublicKey::from_modulus(&modulus(bits)).unwrap();
            assert_eq!(k.bits(), bits);
            assert_eq!(k.size(), bits.div_ceil(8));
            assert_eq!(k.modulus().bits_vartime(), bits);
            // Leading zeros are ignored.
            let mut padded = vec![0, 0];
            padded.extend_from_slice(&modulus(bits));
            assert_eq!(PublicKey::from_modulus(&padded).unwrap(), k);
            assert_eq!(PublicKey::from_uint(k.modulus().modulus()).unwrap(), k);
        }
        let mut even = modulus(3072);
        if let Some(b) = even.last_mut() {
            *b &= 0xfe;
        }
        assert_eq!(
            PublicKey::from_modulus(&even),
            Err(KeyError::EvenModulus.into())
        );
    }

    #[test]
    fn encodings_round_trip() {
        let k = PublicKey::from_modulus(&modulus(6144)).unwrap();
        assert_eq!(PublicKey::from_pkcs1_der(&k.to_pkcs1_der()).unwrap(), k);
        assert_eq!(PublicKey::from_pkcs1_pem(&k.to_pkcs1_pem()).unwrap(), k);
        assert_eq!(
            PublicKey::from_public_key_der(&k.to_public_key_der()).unwrap(),
            k
        );
        assert_eq!(
            PublicKey::from_public_key_pem(&k.to_public_key_pem()).unwrap(),
            k
        );
        assert!(
            k.to_pkcs1_pem()
                .starts_with("-----BEGIN RSA PUBLIC KEY-----\n")
        );
        assert!(
            k.to_public_key_pem()
                .starts_with("-----BEGIN PUBLIC KEY-----\n")
        );
        // Wrong labels.
        assert!(matches!(
            PublicKey::from_pkcs1_pem(&k.to_public_key_pem()),
            Err(Error::Decode(DecodeError {
                field: "PEM",
                kind: DecodeErrorKind::BadType
            }))
        ));
        // Trailing byte.
        let mut der = k.to_pkcs1_der();
        der.push(0);
        assert!(matches!(
            PublicKey::from_pkcs1_der(&der),
            Err(Error::Decode(_))
        ));
        // Truncated.
        let der = k.to_public_key_der();
        let cut = der.get(..der.len() - 1).unwrap();
        assert!(matches!(
            PublicKey::from_public_key_der(cut),
            Err(Error::Decode(_))
        ));
        assert!(format!("{k:?}").contains("6144"));
    }
}

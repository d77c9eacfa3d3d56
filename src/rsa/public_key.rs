//! The composite public key `(n, e)` (SPEC §2, §3.6): what a CA certifies and what any
//! verifier uses. It exports and imports as PKCS#1 `RSAPublicKey` and X.509
//! `SubjectPublicKeyInfo` (rsaEncryption, NULL parameters), in DER and PEM, through the
//! RustCrypto traits ([`EncodeRsaPublicKey`], [`DecodeRsaPublicKey`], [`EncodePublicKey`],
//! [`spki::DecodePublicKey`]), so that it plugs into `x509-cert` and any other crate of the
//! ecosystem.
//!
//! Everything in a public key is public: nothing here needs to be constant-time.

use core::fmt;

use pkcs1::der::asn1::{BitStringRef, UintRef};
use pkcs1::der::{Decode, Document, Encode};
use pkcs1::{ALGORITHM_OID, DecodeRsaPublicKey, EncodeRsaPublicKey, RsaPublicKeyRef};
use spki::{EncodePublicKey, SubjectPublicKeyInfoRef};

use crate::arith::{LIMB_BYTES, Modulus, Residue, Uint};
use crate::error::{Error, KeyError, Result};
use crate::rsa::keygen::N;

/// The public exponent `e = 65537` of every key (SPEC §2).
const E: u32 = crate::rsa::PUBLIC_EXPONENT;
/// `e` as a big-endian byte string, as it appears in DER.
const E_BYTES: [u8; 3] = [0x01, 0x00, 0x01];

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
/// # Encodings
///
/// | format | export | import |
/// | --- | --- | --- |
/// | PKCS#1 `RSAPublicKey`, DER / PEM (`RSA PUBLIC KEY`) | [`EncodeRsaPublicKey`] | [`DecodeRsaPublicKey`] |
/// | `SubjectPublicKeyInfo`, DER / PEM (`PUBLIC KEY`) | [`EncodePublicKey`] | [`spki::DecodePublicKey`] |
/// | raw modulus | [`modulus_bytes`](Self::modulus_bytes) | [`from_modulus`](Self::from_modulus) |
///
/// The DER exports are canonical; imports are strict (canonical DER, no trailing bytes, the
/// PEM label checked). The trait decoders answer the `pkcs1`/`spki` error types; for the exact
/// SPEC §2 check a key failed, convert a parsed [`RsaPublicKeyRef`] with [`TryFrom`].
///
/// # Example
///
/// Import (here a 2048-bit key exported by `openssl pkey -pubout`), export in the other
/// formats, and re-import:
///
/// ```
/// use split_rsa::PublicKey;
/// use split_rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey, LineEnding};
/// use split_rsa::spki::{DecodePublicKey, EncodePublicKey};
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
/// assert_eq!(key.to_public_key_pem(LineEnding::LF)?, spki_pem);
/// let pkcs1_pem = key.to_pkcs1_pem(LineEnding::LF)?;
/// assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
/// assert_eq!(PublicKey::from_pkcs1_pem(&pkcs1_pem)?, key);
/// assert_eq!(PublicKey::from_pkcs1_der(key.to_pkcs1_der()?.as_bytes())?, key);
/// assert_eq!(PublicKey::from_public_key_der(key.to_public_key_der()?.as_bytes())?, key);
/// assert_eq!(PublicKey::from_modulus(key.modulus_bytes())?, key);
///
/// // A PKCS#1 PEM is not a SubjectPublicKeyInfo PEM: the label is checked.
/// assert!(PublicKey::from_public_key_pem(&pkcs1_pem).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
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
    /// The canonical DER encodings (PKCS#1 and SPKI), computed once at construction: a key
    /// that exists can be exported.
    pkcs1_der: Vec<u8>,
    spki_der: Vec<u8>,
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

        Ok(Self {
            n_bytes: n.to_vec(),
            bits,
            modulus,
            r2,
            pkcs1_der,
            spki_der,
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
}

/// PKCS#1 `RSAPublicKey` export (RFC 8017 §A.1.1): DER, and PEM with the label
/// `RSA PUBLIC KEY` through the provided `to_pkcs1_pem`.
impl EncodeRsaPublicKey for PublicKey {
    fn to_pkcs1_der(&self) -> pkcs1::Result<Document> {
        Ok(Document::try_from(self.pkcs1_der.as_slice())?)
    }
}

/// X.509 `SubjectPublicKeyInfo` export (RFC 5280 §4.1.2.7, rsaEncryption with NULL parameters,
/// RFC 3279 §2.3.1): DER, and PEM with the label `PUBLIC KEY` through the provided
/// `to_public_key_pem`.
impl EncodePublicKey for PublicKey {
    fn to_public_key_der(&self) -> spki::Result<Document> {
        Ok(Document::try_from(self.spki_der.as_slice())?)
    }
}

/// The checks of SPEC §2 on a parsed PKCS#1 `RSAPublicKey`, with the exact reason on failure.
///
/// # Errors
/// [`Error::InvalidKey`] with [`KeyError::PublicExponent`] if `e` is not 65537, otherwise as
/// [`PublicKey::from_modulus`].
impl TryFrom<RsaPublicKeyRef<'_>> for PublicKey {
    type Error = Error;

    fn try_from(key: RsaPublicKeyRef<'_>) -> Result<Self> {
        if key.public_exponent.as_bytes() != E_BYTES {
            return Err(KeyError::PublicExponent.into());
        }
        Self::from_modulus(key.modulus.as_bytes())
    }
}

/// PKCS#1 `RSAPublicKey` import (strict: canonical DER, no trailing bytes; PEM with the label
/// `RSA PUBLIC KEY` through the provided `from_pkcs1_pem`).
///
/// Errors: [`pkcs1::Error::Asn1`] for malformed DER or PEM (the [`der::ErrorKind`](pkcs1::der::ErrorKind)
/// says what was wrong), [`pkcs1::Error::KeyMalformed`] for a well-formed key that fails a
/// SPEC §2 check (`e ≠ 65537`, size, parity). For the exact failed check, decode the
/// `RsaPublicKeyRef` with [`der::Decode`](pkcs1::der::Decode) and convert it with
/// [`TryFrom`], which answers [`KeyError`].
impl DecodeRsaPublicKey for PublicKey {
    fn from_pkcs1_der(bytes: &[u8]) -> pkcs1::Result<Self> {
        let key = RsaPublicKeyRef::from_der(bytes)?;
        Self::try_from(key).map_err(|_| pkcs1::Error::KeyMalformed)
    }
}

/// `SubjectPublicKeyInfo` import; with it, [`spki::DecodePublicKey`] (DER, and PEM with the
/// label `PUBLIC KEY`).
///
/// The algorithm must be rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters
/// (RFC 3279 §2.3.1), the key bit string must have no unused bits and hold a PKCS#1
/// `RSAPublicKey` that passes the SPEC §2 checks.
///
/// Errors: [`spki::Error::OidUnknown`] for another algorithm (id-RSASSA-PSS keys included),
/// [`spki::Error::AlgorithmParametersMissing`] for absent parameters,
/// [`spki::Error::Asn1`] for malformed DER, and [`spki::Error::KeyMalformed`] for non-NULL
/// parameters, unused bits, or a key that fails a SPEC §2 check.
impl TryFrom<SubjectPublicKeyInfoRef<'_>> for PublicKey {
    type Error = spki::Error;

    fn try_from(spki: SubjectPublicKeyInfoRef<'_>) -> spki::Result<Self> {
        spki.algorithm.assert_algorithm_oid(ALGORITHM_OID)?;
        if !spki.algorithm.parameters_any()?.is_null() {
            return Err(spki::Error::KeyMalformed);
        }
        let der = spki
            .subject_public_key
            .as_bytes()
            .ok_or(spki::Error::KeyMalformed)?;
        let key = RsaPublicKeyRef::from_der(der)?;
        Self::try_from(key).map_err(|_| spki::Error::KeyMalformed)
    }
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
        use pkcs1::LineEnding;
        use spki::DecodePublicKey;
        let k = PublicKey::from_modulus(&modulus(6144)).unwrap();
        let pkcs1_der = k.to_pkcs1_der().unwrap();
        let spki_der = k.to_public_key_der().unwrap();
        let pkcs1_pem = k.to_pkcs1_pem(LineEnding::LF).unwrap();
        let spki_pem = k.to_public_key_pem(LineEnding::LF).unwrap();
        assert_eq!(PublicKey::from_pkcs1_der(pkcs1_der.as_bytes()).unwrap(), k);
        assert_eq!(PublicKey::from_pkcs1_pem(&pkcs1_pem).unwrap(), k);
        assert_eq!(
            PublicKey::from_public_key_der(spki_der.as_bytes()).unwrap(),
            k
        );
        assert_eq!(PublicKey::from_public_key_pem(&spki_pem).unwrap(), k);
        assert!(pkcs1_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----\n"));
        assert!(spki_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        // Wrong labels.
        assert!(matches!(
            PublicKey::from_pkcs1_pem(&spki_pem),
            Err(pkcs1::Error::Asn1(_))
        ));
        assert!(PublicKey::from_public_key_pem(&pkcs1_pem).is_err());
        // Trailing byte.
        let mut der = pkcs1_der.as_bytes().to_vec();
        der.push(0);
        assert!(matches!(
            PublicKey::from_pkcs1_der(&der),
            Err(pkcs1::Error::Asn1(_))
        ));
        // Truncated.
        let der = spki_der.as_bytes();
        let cut = der.get(..der.len() - 1).unwrap();
        assert!(matches!(
            PublicKey::from_public_key_der(cut),
            Err(spki::Error::Asn1(_))
        ));
        assert!(format!("{k:?}").contains("6144"));
    }

    /// The exact SPEC §2 reasons survive the `TryFrom<RsaPublicKeyRef>` path; the trait
    /// decoder reports them as `KeyMalformed`.
    #[test]
    fn key_checks_through_try_from() {
        let n = modulus(3072);
        let three = [3u8];
        let key = RsaPublicKeyRef {
            modulus: UintRef::new(&n).unwrap(),
            public_exponent: UintRef::new(&three).unwrap(),
        };
        assert_eq!(
            PublicKey::try_from(key),
            Err(KeyError::PublicExponent.into())
        );
        let der = key.to_der().unwrap();
        assert_eq!(
            PublicKey::from_pkcs1_der(&der),
            Err(pkcs1::Error::KeyMalformed)
        );
        let small = modulus(2047);
        let key = RsaPublicKeyRef {
            modulus: UintRef::new(&small).unwrap(),
            public_exponent: UintRef::new(&E_BYTES).unwrap(),
        };
        assert_eq!(PublicKey::try_from(key), Err(KeyError::ModulusSize.into()));
    }
}

//! Verifying keys for the RustCrypto `signature` traits (SPEC §4.6), one type per scheme and
//! digest, shaped like RustCrypto `rsa`'s `pkcs1v15::VerifyingKey<D>` and
//! `pss::VerifyingKey<D>`: a [`PublicKey`] fixed to one scheme, implementing
//! [`Verifier`], [`DigestVerifier`] and [`PrehashVerifier`] over this crate's
//! [`verify`](crate::verify).
//!
//! `D` is `sha2::Sha256`, `Sha384` or `Sha512` ([`SupportedDigest`]). The PSS key checks the
//! SPEC §4.1 profile: MGF1 with `D`, a salt of `hLen` bytes.
//!
//! Verification errors are [`signature::Error::new()`], with no source: which check failed is
//! no one's business (as [`Error::InvalidSignature`](crate::Error::InvalidSignature)).

use core::fmt;
use core::marker::PhantomData;

use signature::hazmat::PrehashVerifier;
use signature::{DigestVerifier, Verifier};
use spki::der::Document;
use spki::der::asn1::AnyRef;
use spki::{
    AlgorithmIdentifierOwned, AlgorithmIdentifierRef, AssociatedAlgorithmIdentifier,
    DynSignatureAlgorithmIdentifier, EncodePublicKey, SignatureAlgorithmIdentifier,
    SubjectPublicKeyInfoRef,
};

use crate::rsa::algorithm::{pkcs1v15_algorithm_identifier, signature_algorithm_identifier};
use crate::rsa::digest::SupportedDigest;
use crate::rsa::padding::Scheme;
use crate::rsa::public_key::PublicKey;
use crate::rsa::signature::Signature;
use crate::rsa::verify::verify;

/// Verifies `signature` on `digest` (already `D`'s output) under `key` and `scheme`, with the
/// opaque error of the `signature` traits.
fn verify_opaque(
    key: &PublicKey,
    scheme: Scheme,
    digest: &[u8],
    signature: &Signature,
) -> signature::Result<()> {
    verify(key, scheme, digest, signature.as_bytes()).map_err(|_| signature::Error::new())
}

/// The parts both verifying keys share: the type, its constructors and accessors, and every
/// trait but the signature `AlgorithmIdentifier` (which differs per scheme).
macro_rules! verifying_key {
    ($scheme:path, $(#[$doc:meta])*) => {
        $(#[$doc])*
        pub struct VerifyingKey<D: SupportedDigest> {
            key: PublicKey,
            _digest: PhantomData<fn() -> D>,
        }

        impl<D: SupportedDigest> VerifyingKey<D> {
            /// The verifying key for `key`.
            pub fn new(key: PublicKey) -> Self {
                Self {
                    key,
                    _digest: PhantomData,
                }
            }

            /// The scheme this key verifies.
            pub const fn scheme(&self) -> Scheme {
                $scheme(D::HASH_ALG)
            }

            /// The public key.
            pub fn public_key(&self) -> &PublicKey {
                &self.key
            }
        }

        impl<D: SupportedDigest> Verifier<Signature> for VerifyingKey<D> {
            fn verify(&self, msg: &[u8], signature: &Signature) -> signature::Result<()> {
                verify_opaque(&self.key, self.scheme(), &D::digest(msg), signature)
            }
        }

        impl<D: SupportedDigest> DigestVerifier<D, Signature> for VerifyingKey<D> {
            fn verify_digest<F: Fn(&mut D) -> signature::Result<()>>(
                &self,
                f: F,
                signature: &Signature,
            ) -> signature::Result<()> {
                let mut digest = D::default();
                f(&mut digest)?;
                verify_opaque(
                    &self.key,
                    self.scheme(),
                    &digest.finalize_fixed(),
                    signature,
                )
            }
        }

        /// `prehash` must be exactly `D`'s output length; anything else is refused.
        impl<D: SupportedDigest> PrehashVerifier<Signature> for VerifyingKey<D> {
            fn verify_prehash(
                &self,
                prehash: &[u8],
                signature: &Signature,
            ) -> signature::Result<()> {
                verify_opaque(&self.key, self.scheme(), prehash, signature)
            }
        }

        impl<D: SupportedDigest> From<PublicKey> for VerifyingKey<D> {
            fn from(key: PublicKey) -> Self {
                Self::new(key)
            }
        }

        impl<D: SupportedDigest> From<VerifyingKey<D>> for PublicKey {
            fn from(key: VerifyingKey<D>) -> Self {
                key.key
            }
        }

        impl<D: SupportedDigest> AsRef<PublicKey> for VerifyingKey<D> {
            fn as_ref(&self) -> &PublicKey {
                &self.key
            }
        }

        /// The key's `SubjectPublicKeyInfo` (rsaEncryption): what `x509-cert` puts in a
        /// certificate or CSR.
        impl<D: SupportedDigest> EncodePublicKey for VerifyingKey<D> {
            fn to_public_key_der(&self) -> spki::Result<Document> {
                self.key.to_public_key_der()
            }
        }

        /// Imports from a `SubjectPublicKeyInfo` (rsaEncryption), with the checks of
        /// `PublicKey`'s import; with it, [`spki::DecodePublicKey`].
        impl<D: SupportedDigest> TryFrom<SubjectPublicKeyInfoRef<'_>> for VerifyingKey<D> {
            type Error = spki::Error;

            fn try_from(spki: SubjectPublicKeyInfoRef<'_>) -> spki::Result<Self> {
                PublicKey::try_from(spki).map(Self::new)
            }
        }

        /// The key's algorithm: rsaEncryption with NULL parameters (RFC 3279 §2.3.1).
        impl<D: SupportedDigest> AssociatedAlgorithmIdentifier for VerifyingKey<D> {
            type Params = AnyRef<'static>;
            const ALGORITHM_IDENTIFIER: AlgorithmIdentifierRef<'static> = pkcs1::ALGORITHM_ID;
        }

        // By hand, so that `D` need not be `Clone`, `Debug` or `PartialEq`.
        impl<D: SupportedDigest> Clone for VerifyingKey<D> {
            fn clone(&self) -> Self {
                Self::new(self.key.clone())
            }
        }

        impl<D: SupportedDigest> PartialEq for VerifyingKey<D> {
            fn eq(&self, other: &Self) -> bool {
                self.key == other.key
            }
        }

        impl<D: SupportedDigest> Eq for VerifyingKey<D> {}

        impl<D: SupportedDigest> fmt::Debug for VerifyingKey<D> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct("VerifyingKey")
                    .field("scheme", &self.scheme())
                    .field("key", &self.key)
                    .finish()
            }
        }
    };
}

/// RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) verification through the `signature` traits.
pub mod pkcs1v15 {
    use super::*;

    verifying_key!(
        Scheme::Pkcs1v15,
        /// A verifying key for RSASSA-PKCS1-v1_5 (RFC 8017 §8.2) signatures with the hash `D`
        /// (SPEC §4.1, §4.6): a [`PublicKey`] fixed to one scheme, for the RustCrypto [`Verifier`],
        /// [`DigestVerifier`] and [`PrehashVerifier`] traits, shaped like RustCrypto `rsa`'s
        /// `pkcs1v15::VerifyingKey<D>`.
        ///
        /// # Example
        ///
        /// ```
        /// use sha2::Sha256;
        /// use split_rsa::signature::Verifier;
        /// use split_rsa::spki::DecodePublicKey;
        /// use split_rsa::{Signature, pkcs1v15};
        ///
        /// let pem = "\
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
        /// // `openssl dgst -sha256 -sign key.pem` of "the document" (as in `split_rsa::verify`).
        /// let signature_hex = concat!(
        ///     "c44488110ca1dbb0ed9165a33f6526ec6f421d085324305120bade4bff690c22",
        ///     "46a8949b7a631812d0d544df7236bb6f20fffdda6f0dc0f6311e80de28107693",
        ///     "682a26be13008c6ba388340ea6cb1f16396eb791571a95958534933a6674a106",
        ///     "a79244d4ecc75b112f418b3f36eb493904e1dc6cc99e0df6131d60a77859dc7f",
        ///     "1a07f265d485960a869ac94d82df5e65da9ba8e2a984559c6dc8e4efc94f7b5e",
        ///     "31399de4b6c222c40a9b91405c41f3590a40078ba4f1b6f96f9ca0faca7a03fe",
        ///     "56bc07f806138c76b305c8557eb60c243867e4a79a56fd5d33813baced4b812f",
        ///     "3d35e84fc924c6495c6bb6d1333ff72db7a3f166b9e6211be7ad9efde54938cd",
        /// );
        /// # let bytes: Vec<u8> = (0..signature_hex.len())
        /// #     .step_by(2)
        /// #     .map(|i| u8::from_str_radix(&signature_hex[i..i + 2], 16).unwrap())
        /// #     .collect();
        /// // `bytes` holds the 256 bytes of `signature_hex`.
        /// let key = pkcs1v15::VerifyingKey::<Sha256>::from_public_key_pem(pem)?;
        /// let signature = Signature::try_from(bytes.as_slice())?;
        /// key.verify(b"the document", &signature)?;
        /// assert!(key.verify(b"another document", &signature).is_err());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    );

    /// `shaXXXWithRSAEncryption` with NULL parameters (RFC 4055 §5).
    impl<D: SupportedDigest> SignatureAlgorithmIdentifier for VerifyingKey<D> {
        type Params = AnyRef<'static>;
        const SIGNATURE_ALGORITHM_IDENTIFIER: AlgorithmIdentifierRef<'static> =
            pkcs1v15_algorithm_identifier(D::HASH_ALG);
    }
}

/// RSASSA-PSS (RFC 8017 §8.1) verification through the `signature` traits, with the SPEC §4.1
/// profile: MGF1 with `D`, `sLen = hLen`, trailer 0xbc.
pub mod pss {
    use super::*;

    verifying_key!(
        Scheme::Pss,
        /// A verifying key for RSASSA-PSS (RFC 8017 §8.1) signatures with the hash `D` and the
        /// SPEC §4.1 profile (MGF1 with `D`, `sLen = hLen`, trailer 0xbc): a [`PublicKey`] fixed to
        /// one scheme, for the RustCrypto [`Verifier`], [`DigestVerifier`] and [`PrehashVerifier`]
        /// traits, shaped like RustCrypto `rsa`'s `pss::VerifyingKey<D>` (`new`, salt length `hLen`).
        ///
        /// # Example
        ///
        /// ```
        /// use sha2::Sha384;
        /// use split_rsa::signature::hazmat::PrehashVerifier;
        /// use split_rsa::{HashAlg, PublicKey, Scheme, Signature, pss};
        ///
        /// # let key = PublicKey::from_modulus(&[0xc5; 256])?;
        /// # let bytes = vec![1u8; 256];
        /// // `key` is a `PublicKey`, `bytes` a signature received as bytes.
        /// let verifying_key = pss::VerifyingKey::<Sha384>::new(key);
        /// assert_eq!(verifying_key.scheme(), Scheme::Pss(HashAlg::Sha384));
        /// let signature = Signature::try_from(bytes.as_slice())?;
        /// let digest = HashAlg::Sha384.digest(b"the document");
        /// assert!(verifying_key.verify_prehash(&digest, &signature).is_err());
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
    );

    /// `id-RSASSA-PSS` with `RSASSA-PSS-params` naming `D`, MGF1 with `D`, `saltLength = hLen`
    /// (RFC 4055 §3.1).
    impl<D: SupportedDigest> DynSignatureAlgorithmIdentifier for VerifyingKey<D> {
        fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
            signature_algorithm_identifier(self.scheme())
        }
    }
}

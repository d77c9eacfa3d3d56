//! The X.509 `AlgorithmIdentifier` of each signature scheme (RFC 4055 §3.1 and §5,
//! RFC 8017 Appendix C), in both directions: what a CSR or certificate signed by a split key
//! carries in its `signatureAlgorithm`, and the [`Scheme`] a verifier reads from one.
//!
//! - RSASSA-PKCS1-v1_5: `sha{256,384,512}WithRSAEncryption` with NULL parameters;
//! - RSASSA-PSS: `id-RSASSA-PSS` with `RSASSA-PSS-params { hashAlgorithm = the hash (NULL
//!   parameters), maskGenAlgorithm = id-mgf1 with the same hash, saltLength = hLen,
//!   trailerField = 1 }` (the profile of SPEC §4.1).
//!
//! Everything here is public data.

use pkcs1::{RsaPssParams, RsaPssParamsRef, TrailerField};
use spki::der::asn1::AnyRef;
use spki::der::{Any, Tag};
use spki::{
    AlgorithmIdentifier, AlgorithmIdentifierOwned, AlgorithmIdentifierRef, ObjectIdentifier,
};

use crate::rsa::hash::HashAlg;
use crate::rsa::padding::Scheme;

/// `id-RSASSA-PSS` (RFC 8017 Appendix C).
pub(crate) const ID_RSASSA_PSS: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
/// `id-mgf1` (RFC 8017 Appendix C).
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
/// `id-sha256`, `id-sha384`, `id-sha512` (RFC 4055 §2.1, NIST CSOR).
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
/// `sha256WithRSAEncryption`, `sha384WithRSAEncryption`, `sha512WithRSAEncryption`
/// (RFC 4055 §5, RFC 8017 Appendix C).
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");

const HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

/// The OID of a hash function.
const fn hash_oid(hash: HashAlg) -> ObjectIdentifier {
    match hash {
        HashAlg::Sha256 => ID_SHA256,
        HashAlg::Sha384 => ID_SHA384,
        HashAlg::Sha512 => ID_SHA512,
    }
}

/// The `shaXXXWithRSAEncryption` identifier of RSASSA-PKCS1-v1_5 with `hash`, NULL parameters
/// (RFC 4055 §5).
pub(crate) const fn pkcs1v15_algorithm_identifier(
    hash: HashAlg,
) -> AlgorithmIdentifierRef<'static> {
    let oid = match hash {
        HashAlg::Sha256 => SHA256_WITH_RSA,
        HashAlg::Sha384 => SHA384_WITH_RSA,
        HashAlg::Sha512 => SHA512_WITH_RSA,
    };
    AlgorithmIdentifierRef {
        oid,
        parameters: Some(AnyRef::NULL),
    }
}

/// `RSASSA-PSS-params` of the SPEC §4.1 profile for `hash` (RFC 4055 §3.1).
fn pss_params(hash: HashAlg) -> RsaPssParamsRef<'static> {
    let hash_id = AlgorithmIdentifierRef {
        oid: hash_oid(hash),
        parameters: Some(AnyRef::NULL),
    };
    RsaPssParamsRef {
        hash: hash_id,
        mask_gen: AlgorithmIdentifier {
            oid: ID_MGF1,
            parameters: Some(hash_id),
        },
        // hLen is 32, 48 or 64: it fits.
        salt_len: hash.output_len() as u8,
        trailer_field: TrailerField::BC,
    }
}

/// The `signatureAlgorithm` of a signature made under `scheme`.
///
/// # Errors
/// Only if the DER encoder fails (it does not for these fixed values).
pub(crate) fn signature_algorithm_identifier(
    scheme: Scheme,
) -> spki::Result<AlgorithmIdentifierOwned> {
    match scheme {
        Scheme::Pkcs1v15(hash) => {
            let id = pkcs1v15_algorithm_identifier(hash);
            Ok(AlgorithmIdentifierOwned {
                oid: id.oid,
                parameters: Some(Any::null()),
            })
        }
        Scheme::Pss(hash) => Ok(AlgorithmIdentifierOwned {
            oid: ID_RSASSA_PSS,
            parameters: Some(Any::encode_from(&pss_params(hash))?),
        }),
    }
}

/// A hash `AlgorithmIdentifier` inside `RSASSA-PSS-params`: one of the three SHA-2 OIDs, with
/// NULL or absent parameters (RFC 4055 §2.1: both must be accepted).
fn hash_from_identifier(id: &AlgorithmIdentifier<Any>) -> spki::Result<HashAlg> {
    let hash = HASHES
        .into_iter()
        .find(|h| hash_oid(*h) == id.oid)
        .ok_or(spki::Error::OidUnknown { oid: id.oid })?;
    match &id.parameters {
        None => Ok(hash),
        Some(p) if p.is_null() => Ok(hash),
        Some(_) => Err(Tag::Null.value_error().to_error().into()),
    }
}

/// The scheme named by a `signatureAlgorithm` (of a certificate, a CSR, a CMS signer info),
/// for the schemes split-rsa makes (SPEC §4.1).
///
/// - `sha{256,384,512}WithRSAEncryption` with NULL or absent parameters (RFC 4055 §5) is
///   [`Scheme::Pkcs1v15`];
/// - `id-RSASSA-PSS` is [`Scheme::Pss`] only with the SPEC §4.1 profile: a SHA-2 hash, MGF1 with
///   the same hash, a salt of `hLen` bytes, trailer field 1.
///
/// # Errors
/// [`spki::Error::OidUnknown`] for any other algorithm, hash or mask generation function;
/// [`spki::Error::AlgorithmParametersMissing`] for PSS without parameters;
/// [`spki::Error::Asn1`] for parameters that do not decode or are outside the profile
/// (another salt length, a different MGF1 hash, non-NULL hash parameters).
impl TryFrom<AlgorithmIdentifierRef<'_>> for Scheme {
    type Error = spki::Error;

    fn try_from(id: AlgorithmIdentifierRef<'_>) -> spki::Result<Self> {
        if let Some(hash) = HASHES
            .into_iter()
            .find(|h| pkcs1v15_algorithm_identifier(*h).oid == id.oid)
        {
            return match id.parameters {
                None => Ok(Scheme::Pkcs1v15(hash)),
                Some(p) if p.is_null() => Ok(Scheme::Pkcs1v15(hash)),
                Some(_) => Err(Tag::Null.value_error().to_error().into()),
            };
        }
        if id.oid != ID_RSASSA_PSS {
            return Err(spki::Error::OidUnknown { oid: id.oid });
        }
        let params = id
            .parameters
            .ok_or(spki::Error::AlgorithmParametersMissing)?
            .decode_as::<RsaPssParams<Any>>()?;
        let hash = hash_from_identifier(&params.hash)?;
        if params.mask_gen.oid != ID_MGF1 {
            return Err(spki::Error::OidUnknown {
                oid: params.mask_gen.oid,
            });
        }
        let mgf_hash = params
            .mask_gen
            .parameters
            .as_ref()
            .ok_or(spki::Error::AlgorithmParametersMissing)
            .and_then(hash_from_identifier)?;
        if mgf_hash != hash
            || usize::from(params.salt_len) != hash.output_len()
            || params.trailer_field != TrailerField::BC
        {
            return Err(Tag::Sequence.value_error().to_error().into());
        }
        Ok(Scheme::Pss(hash))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use spki::der::Encode;
    use spki::der::referenced::OwnedToRef;

    const SCHEMES: [Scheme; 6] = [
        Scheme::Pkcs1v15(HashAlg::Sha256),
        Scheme::Pkcs1v15(HashAlg::Sha384),
        Scheme::Pkcs1v15(HashAlg::Sha512),
        Scheme::Pss(HashAlg::Sha256),
        Scheme::Pss(HashAlg::Sha384),
        Scheme::Pss(HashAlg::Sha512),
    ];

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// The identifiers round-trip, and two are checked byte for byte against the DER that
    /// OpenSSL writes (`openssl req -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
    /// -sha256`, and `-sha384` PKCS#1 v1.5).
    #[test]
    fn identifiers_round_trip_and_match_openssl() {
        for scheme in SCHEMES {
            let id = signature_algorithm_identifier(scheme).unwrap();
            assert_eq!(Scheme::try_from(id.owned_to_ref()).unwrap(), scheme);
        }
        let pss = signature_algorithm_identifier(Scheme::Pss(HashAlg::Sha256)).unwrap();
        assert_eq!(
            hex(&pss.to_der().unwrap()),
            concat!(
                "304106092a864886f70d01010a3034a00f300d06096086480165030402010500",
                "a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"
            )
        );
        let v15 = signature_algorithm_identifier(Scheme::Pkcs1v15(HashAlg::Sha384)).unwrap();
        assert_eq!(
            hex(&v15.to_der().unwrap()),
            "300d06092a864886f70d01010c0500"
        );
    }

    #[test]
    fn outside_the_profile_is_refused() {
        // PSS with a 20-byte salt (the DEFAULT, so the field is omitted).
        let mut p = pss_params(HashAlg::Sha256);
        p.salt_len = 20;
        let id = AlgorithmIdentifierOwned {
            oid: ID_RSASSA_PSS,
            parameters: Some(Any::encode_from(&p).unwrap()),
        };
        assert!(Scheme::try_from(id.owned_to_ref()).is_err());
        // MGF1 with another hash.
        let mut p = pss_params(HashAlg::Sha256);
        p.mask_gen.parameters = Some(AlgorithmIdentifierRef {
            oid: ID_SHA512,
            parameters: None,
        });
        let id = AlgorithmIdentifierOwned {
            oid: ID_RSASSA_PSS,
            parameters: Some(Any::encode_from(&p).unwrap()),
        };
        assert!(Scheme::try_from(id.owned_to_ref()).is_err());
        // PSS without parameters; an unknown OID (sha1WithRSAEncryption).
        let bare = AlgorithmIdentifierRef {
            oid: ID_RSASSA_PSS,
            parameters: None,
        };
        assert_eq!(
            Scheme::try_from(bare),
            Err(spki::Error::AlgorithmParametersMissing)
        );
        let sha1 = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5");
        let id = AlgorithmIdentifierRef {
            oid: sha1,
            parameters: Some(AnyRef::NULL),
        };
        assert_eq!(
            Scheme::try_from(id),
            Err(spki::Error::OidUnknown { oid: sha1 })
        );
        // PKCS#1 v1.5 with absent parameters is accepted (RFC 4055 §5).
        let id = AlgorithmIdentifierRef {
            oid: SHA512_WITH_RSA,
            parameters: None,
        };
        assert_eq!(
            Scheme::try_from(id).unwrap(),
            Scheme::Pkcs1v15(HashAlg::Sha512)
        );
    }
}

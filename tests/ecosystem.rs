//! split-rsa as a downstream crate of the RustCrypto ecosystem sees it (STYLE.md rule 11,
//! SPEC §1 (e): a split signature is an ordinary RSA signature).
//!
//! A 2048+2048 split key (4096-bit composite) is generated with the `hazmat` key generation
//! steps and signs with the two-party arithmetic of SPEC §4 (the device's `m^d1' mod n1`, the
//! server's completion with its checks), independent of the session protocol. Its signatures,
//! in all six scheme × hash combinations, must
//! - verify through the `signature` traits (`Verifier`, `DigestVerifier`, `PrehashVerifier`)
//!   on `pkcs1v15::VerifyingKey<D>` / `pss::VerifyingKey<D>`, with the public key decoded
//!   through `spki::DecodePublicKey` from its PEM export;
//! - verify under RustCrypto `rsa` 0.10 (`rsa::pkcs1v15::VerifyingKey<D>`,
//!   `rsa::pss::VerifyingKey<D>`), with the key converted by `TryFrom<&PublicKey>`;
//! - be refused by both when the signature is tampered with, the message differs, or the
//!   scheme is the other one.
//!
//! And the other way: `rsa` 0.10's signatures under a 6144-bit OpenSSL key (tests/data) verify
//! through our traits.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rsa::pkcs1::der::oid::AssociatedOid;
use rsa::pkcs8::DecodePrivateKey;
use sha2::digest::{Digest, FixedOutputReset};
use sha2::{Sha256, Sha384, Sha512};
use split_rsa::hazmat::arith::Uint;
use split_rsa::hazmat::{keygen, padding, signing};
use split_rsa::pkcs1::{ALGORITHM_OID, LineEnding};
use split_rsa::signature::hazmat::PrehashVerifier;
use split_rsa::signature::{DigestVerifier, Keypair, SignatureEncoding, Signer, Verifier};
use split_rsa::spki::der::referenced::OwnedToRef;
use split_rsa::spki::{
    AssociatedAlgorithmIdentifier, DecodePublicKey, DynSignatureAlgorithmIdentifier,
    EncodePublicKey, SignatureAlgorithmIdentifier,
};
use split_rsa::{
    DeviceShare, HashAlg, KeySize, PublicKey, Scheme, ServerShare, Signature, SupportedDigest,
    pkcs1v15, pss, verify,
};

/// One split key: the device's share, the server's share, the composite public key.
struct SplitKey {
    device: DeviceShare,
    server: ServerShare,
    public: PublicKey,
}

fn split_key() -> &'static SplitKey {
    static KEY: OnceLock<SplitKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xec0_5157);
        let (device, payload) = DeviceShare::generate(&mut rng, KeySize::BITS_2048).unwrap();
        let server = ServerShare::generate(&mut rng, payload, KeySize::BITS_2048).unwrap();
        let public = PublicKey::from_modulus(&server.n_be_bytes()).unwrap();
        SplitKey {
            device,
            server,
            public,
        }
    })
}

/// SPEC §4: EM from the digest (and the PSS salt), the device's `y = m^d1' mod n1`, the
/// server's completion (share check, CRT mod n2, combination, final check mod n).
fn two_party_sign(key: &SplitKey, scheme: Scheme, digest: &[u8], salt: &[u8]) -> Vec<u8> {
    let em = padding::encode(scheme, digest, salt, key.public.bits()).unwrap();
    let nlimbs = keygen::server_parts(&key.server).9.nlimbs();
    let m = Uint::from_be_slice(&em, nlimbs).unwrap();
    let (n1, d1p, d1p_bits) = keygen::device_parts(&key.device);
    let y = signing::device_exponentiate(n1, d1p, d1p_bits, &m);
    let s = signing::server_complete(&signing::completion_key(&key.server), &y, &m).unwrap();
    s.to_be_bytes(key.public.size()).0.to_vec()
}

fn sign_message(scheme: Scheme, msg: &[u8], rng: &mut ChaCha20Rng) -> Signature {
    let key = split_key();
    let mut salt = vec![0u8; scheme.salt_len()];
    rng.fill_bytes(&mut salt);
    let bytes = two_party_sign(key, scheme, &scheme.hash().digest(msg), &salt);
    Signature::try_from(bytes).unwrap()
}

fn tampered(sig: &Signature) -> Signature {
    let mut bytes = sig.to_vec();
    bytes[100] ^= 0x04;
    Signature::try_from(bytes).unwrap()
}

/// Everything a downstream verifier does with one signature under one digest type `D`.
fn check_both_verifiers<D>(spki_pem: &str, msg: &[u8], rng: &mut ChaCha20Rng)
where
    D: SupportedDigest + AssociatedOid + FixedOutputReset,
{
    let other_msg = b"a different document";
    for pss_scheme in [false, true] {
        let scheme = if pss_scheme {
            Scheme::Pss(D::HASH_ALG)
        } else {
            Scheme::Pkcs1v15(D::HASH_ALG)
        };
        let sig = sign_message(scheme, msg, rng);
        let bad = tampered(&sig);
        let ctx = format!("{scheme:?}");

        // Ours, through the traits, with the key decoded by `spki::DecodePublicKey`.
        let (ok, ok_digest, ok_prehash, wrong_msg, wrong_sig, wrong_scheme);
        if pss_scheme {
            let vk = pss::VerifyingKey::<D>::from_public_key_pem(spki_pem).unwrap();
            assert_eq!(vk.scheme(), scheme);
            ok = vk.verify(msg, &sig);
            ok_digest = vk.verify_digest(
                |d: &mut D| {
                    Digest::update(d, msg);
                    Ok(())
                },
                &sig,
            );
            ok_prehash = vk.verify_prehash(&D::digest(msg), &sig);
            wrong_msg = vk.verify(other_msg, &sig);
            wrong_sig = vk.verify(msg, &bad);
            wrong_scheme = pkcs1v15::VerifyingKey::<D>::new(vk.public_key().clone())
                .verify(msg, &sig)
                .is_err();
        } else {
            let vk = pkcs1v15::VerifyingKey::<D>::from_public_key_pem(spki_pem).unwrap();
            assert_eq!(vk.scheme(), scheme);
            ok = vk.verify(msg, &sig);
            ok_digest = vk.verify_digest(
                |d: &mut D| {
                    Digest::update(d, msg);
                    Ok(())
                },
                &sig,
            );
            ok_prehash = vk.verify_prehash(&D::digest(msg), &sig);
            wrong_msg = vk.verify(other_msg, &sig);
            wrong_sig = vk.verify(msg, &bad);
            wrong_scheme = pss::VerifyingKey::<D>::new(vk.public_key().clone())
                .verify(msg, &sig)
                .is_err();
        }
        assert!(ok.is_ok(), "{ctx}");
        assert!(ok_digest.is_ok(), "{ctx}");
        assert!(ok_prehash.is_ok(), "{ctx}");
        assert!(wrong_msg.is_err(), "{ctx}: another message");
        assert!(wrong_sig.is_err(), "{ctx}: tampered signature");
        assert!(wrong_scheme, "{ctx}: the other scheme");
        // And the plain function agrees.
        let key = PublicKey::from_public_key_pem(spki_pem).unwrap();
        assert_eq!(
            verify(&key, scheme, &scheme.hash().digest(msg), sig.as_bytes()),
            Ok(())
        );

        // RustCrypto `rsa` 0.10 with the converted key (its default size limit takes keys up to
        // 8192 bits).
        let rsa_key = rsa::PublicKey::try_from(&key).unwrap();
        let (theirs_ok, theirs_msg, theirs_sig, theirs_prehash);
        if pss_scheme {
            let vk = rsa::pss::VerifyingKey::<D>::new(rsa_key);
            let s = rsa::pss::Signature::try_from(sig.as_bytes()).unwrap();
            let b = rsa::pss::Signature::try_from(bad.as_bytes()).unwrap();
            theirs_ok = vk.verify(msg, &s).is_ok();
            theirs_prehash = vk.verify_prehash(&D::digest(msg), &s).is_ok();
            theirs_msg = vk.verify(other_msg, &s).is_err();
            theirs_sig = vk.verify(msg, &b).is_err();
        } else {
            let vk = rsa::pkcs1v15::VerifyingKey::<D>::new(rsa_key);
            let s = rsa::pkcs1v15::Signature::try_from(sig.as_bytes()).unwrap();
            let b = rsa::pkcs1v15::Signature::try_from(bad.as_bytes()).unwrap();
            theirs_ok = vk.verify(msg, &s).is_ok();
            theirs_prehash = vk.verify_prehash(&D::digest(msg), &s).is_ok();
            theirs_msg = vk.verify(other_msg, &s).is_err();
            theirs_sig = vk.verify(msg, &b).is_err();
        }
        assert!(theirs_ok && theirs_prehash, "{ctx}: rsa 0.10 refused");
        assert!(theirs_msg, "{ctx}: rsa 0.10 accepted another message");
        assert!(theirs_sig, "{ctx}: rsa 0.10 accepted a tampered signature");
    }
}

#[test]
fn split_signatures_verify_through_signature_traits_and_rsa_crate() {
    let key = split_key();
    assert_eq!(key.public.bits(), 4096);
    let spki_pem = key.public.to_public_key_pem(LineEnding::LF).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let msg = b"Tere, maailm! A document signed by a phone and a server.";
    check_both_verifiers::<Sha256>(&spki_pem, msg, &mut rng);
    check_both_verifiers::<Sha384>(&spki_pem, msg, &mut rng);
    check_both_verifiers::<Sha512>(&spki_pem, msg, &mut rng);
}

/// The verifying keys carry the identifiers that x509 builders and parsers expect, and encode
/// as the key's own SubjectPublicKeyInfo.
#[test]
fn verifying_keys_encode_and_name_their_algorithms() {
    let key = split_key().public.clone();
    let v15 = pkcs1v15::VerifyingKey::<Sha384>::new(key.clone());
    let pss = pss::VerifyingKey::<Sha384>::from(key.clone());
    assert_eq!(
        v15.to_public_key_der().unwrap(),
        key.to_public_key_der().unwrap()
    );
    assert_eq!(
        pss.to_public_key_der().unwrap(),
        key.to_public_key_der().unwrap()
    );
    // rsaEncryption for the key; sha384WithRSAEncryption / id-RSASSA-PSS for signatures.
    let rsa_encryption = ALGORITHM_OID;
    assert_eq!(
        pkcs1v15::VerifyingKey::<Sha384>::ALGORITHM_IDENTIFIER.oid,
        rsa_encryption
    );
    assert_eq!(
        pss::VerifyingKey::<Sha384>::ALGORITHM_IDENTIFIER.oid,
        rsa_encryption
    );
    assert_eq!(
        pkcs1v15::VerifyingKey::<Sha384>::SIGNATURE_ALGORITHM_IDENTIFIER
            .oid
            .to_string(),
        "1.2.840.113549.1.1.12"
    );
    let pss_id = pss.signature_algorithm_identifier().unwrap();
    assert_eq!(pss_id.oid.to_string(), "1.2.840.113549.1.1.10");
    assert_eq!(
        Scheme::try_from(pss_id.owned_to_ref()).unwrap(),
        Scheme::Pss(HashAlg::Sha384)
    );
    // Both directions of the key conversions.
    assert_eq!(PublicKey::from(pss.clone()), key);
    assert_eq!(v15.public_key(), &key);
    assert_eq!(pss, pss::VerifyingKey::<Sha384>::new(key));
}

/// Signatures made by `rsa` 0.10 (PKCS#1 v1.5 and PSS, its `Signer` traits) under a 6144-bit
/// OpenSSL key verify through our `Verifier`s; a signature for another message does not.
#[test]
fn rsa_crate_signatures_verify_through_our_traits() {
    let pem = std::fs::read_to_string(format!(
        "{}/tests/data/rsa6144.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let private = rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap();
    let public = PublicKey::try_from(private.as_public_key()).unwrap();
    assert_eq!(public.bits(), 6144);
    let msg = b"signed by rsa 0.10";

    let signer = rsa::pkcs1v15::SigningKey::<Sha512>::new(private.clone());
    let sig = Signature::try_from(signer.sign(msg).to_vec()).unwrap();
    let vk = pkcs1v15::VerifyingKey::<Sha512>::new(public.clone());
    assert!(vk.verify(msg, &sig).is_ok());
    assert!(vk.verify(b"another", &sig).is_err());
    // `rsa`'s verifying key (from its signing key) and ours encode the same SPKI.
    assert_eq!(
        signer.verifying_key().to_public_key_der().unwrap(),
        vk.to_public_key_der().unwrap()
    );

    let signer = rsa::pss::SigningKey::<Sha256>::new(private);
    let sig = Signature::try_from(signer.sign(msg).to_vec()).unwrap();
    let vk = pss::VerifyingKey::<Sha256>::new(public);
    assert!(vk.verify(msg, &sig).is_ok());
    assert!(tampered(&sig).to_vec() != sig.to_vec());
    assert!(vk.verify(msg, &tampered(&sig)).is_err());
}

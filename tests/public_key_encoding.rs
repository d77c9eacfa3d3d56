//! PublicKey export/import through the `pkcs1`/`spki` traits against OpenSSL (the `openssl`
//! CLI, run from the test; the test fails if it is missing) and RustCrypto `rsa` 0.10
//! (SPEC §3.6: PKCS#1 RSAPublicKey and SubjectPublicKeyInfo, DER and PEM), plus signatures
//! exchanged with `openssl dgst` (SPEC §1 (e): any stock verifier accepts our signatures), and
//! strict import errors: the traits' `pkcs1`/`spki` errors, and the exact SPEC §2 reason
//! through `TryFrom<RsaPublicKeyRef>`.
//!
//! Keys: tests/data (see README there) and a fresh `openssl genpkey` 2048-bit key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use std::path::PathBuf;
use std::process::Command;

use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use split_rsa::hazmat::padding;
use split_rsa::pkcs1::Error as Pkcs1Error;
use split_rsa::pkcs1::der::{Decode, ErrorKind};
use split_rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey, LineEnding, RsaPublicKeyRef};
use split_rsa::spki::Error as SpkiError;
use split_rsa::spki::{DecodePublicKey, EncodePublicKey};
use split_rsa::{Error, HashAlg, KeyError, PublicKey, Scheme, verify};

/// The four exports, through the traits.
fn pkcs1_der(pk: &PublicKey) -> Vec<u8> {
    pk.to_pkcs1_der().unwrap().as_bytes().to_vec()
}
fn pkcs1_pem(pk: &PublicKey) -> String {
    pk.to_pkcs1_pem(LineEnding::LF).unwrap()
}
fn spki_der(pk: &PublicKey) -> Vec<u8> {
    pk.to_public_key_der().unwrap().as_bytes().to_vec()
}
fn spki_pem(pk: &PublicKey) -> String {
    pk.to_public_key_pem(LineEnding::LF).unwrap()
}

/// The exact SPEC §2 verdict on a PKCS#1 DER key: DER errors as `None`, key checks as
/// `Some(Err(..))`.
fn key_check(der: &[u8]) -> Option<Result<PublicKey, Error>> {
    RsaPublicKeyRef::from_der(der).ok().map(PublicKey::try_from)
}

/// The DER error kind inside a `pkcs1` error.
fn pkcs1_kind(r: Result<PublicKey, Pkcs1Error>) -> ErrorKind {
    match r {
        Err(Pkcs1Error::Asn1(e)) => e.kind(),
        other => panic!("expected a DER error, got {other:?}"),
    }
}

/// Runs `openssl args...` and returns its stdout; panics (fails the test) if openssl is
/// missing or exits with an error.
fn openssl(args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the openssl CLI (required by this test): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A fresh scratch directory for one test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("split-rsa-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn path(&self, f: &str) -> String {
        self.0.join(f).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn data_path(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

/// Parses `openssl ... -text -noout` output of an RSA public key: (bits, modulus hex, e).
fn parse_text(text: &str) -> (usize, String, u64) {
    let mut lines = text.lines();
    let head = lines.next().unwrap();
    let bits: usize = head
        .split('(')
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut n = String::new();
    let mut e = None;
    for l in lines {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix("Exponent:") {
            e = Some(rest.trim().split(' ').next().unwrap().parse().unwrap());
        } else if l.starts_with("Modulus") {
        } else {
            n.push_str(&l.replace(':', "").to_uppercase());
        }
    }
    let n = n.trim_start_matches("00").to_owned();
    (bits, n, e.unwrap())
}

/// `openssl rsa -in key -pubout -modulus -noout` → the modulus hex.
fn openssl_modulus(key_pem: &str) -> String {
    let out = openssl(&["rsa", "-in", key_pem, "-pubout", "-modulus", "-noout"]);
    out.trim().strip_prefix("Modulus=").unwrap().to_owned()
}

fn fixtures() -> Vec<String> {
    ["rsa3072.pem", "rsa6142.pem", "rsa6144.pem"]
        .iter()
        .map(|f| data_path(f))
        .collect()
}

#[test]
fn export_matches_openssl_and_rsa_crate() {
    let dir = TempDir::new("export");
    for key_pem in fixtures() {
        let n_hex = openssl_modulus(&key_pem);
        let n = BigUint::parse_bytes(n_hex.as_bytes(), 16).unwrap();
        let pk = PublicKey::from_modulus(&n.to_bytes_be()).unwrap();
        assert_eq!(hex(pk.modulus_bytes()), n_hex);
        assert_eq!(pk.bits() as u64, n.bits());

        // Byte-identical to OpenSSL's own encodings of the same key.
        let spki = dir.path("spki.der");
        openssl(&[
            "pkey", "-in", &key_pem, "-pubout", "-outform", "DER", "-out", &spki,
        ]);
        assert_eq!(std::fs::read(&spki).unwrap(), spki_der(&pk));
        let rsapub = dir.path("rsapub.der");
        openssl(&[
            "rsa",
            "-in",
            &key_pem,
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &rsapub,
        ]);
        assert_eq!(std::fs::read(&rsapub).unwrap(), pkcs1_der(&pk));

        // OpenSSL parses all four of our exports to the same (n, e).
        let cases: [(&str, Vec<u8>, &[&str]); 4] = [
            (
                "ours_spki.pem",
                spki_pem(&pk).into_bytes(),
                &["pkey", "-pubin"],
            ),
            (
                "ours_spki.der",
                spki_der(&pk),
                &["pkey", "-pubin", "-inform", "DER"],
            ),
            (
                "ours_pkcs1.pem",
                pkcs1_pem(&pk).into_bytes(),
                &["rsa", "-RSAPublicKey_in"],
            ),
            (
                "ours_pkcs1.der",
                pkcs1_der(&pk),
                &["rsa", "-RSAPublicKey_in", "-inform", "DER"],
            ),
        ];
        for (file, bytes, cmd) in cases {
            let f = dir.path(file);
            std::fs::write(&f, bytes).unwrap();
            let mut args = cmd.to_vec();
            args.extend_from_slice(&["-in", &f, "-text", "-noout"]);
            let (bits, got_n, e) = parse_text(&openssl(&args));
            assert_eq!(
                (bits, got_n.as_str(), e),
                (pk.bits(), n_hex.as_str(), 65537),
                "{file}"
            );
        }

        // The rsa crate parses them too, at every size (0.10 takes up to 8192 bits by
        // default; 0.9's high-level key type stopped at 4096).
        let a = rsa::PublicKey::from_public_key_pem(&spki_pem(&pk)).unwrap();
        let b = rsa::PublicKey::from_pkcs1_pem(&pkcs1_pem(&pk)).unwrap();
        let c = rsa::PublicKey::from_public_key_der(&spki_der(&pk)).unwrap();
        let d = rsa::PublicKey::from_pkcs1_der(&pkcs1_der(&pk)).unwrap();
        for k in [&a, &b, &c, &d] {
            assert_eq!(&*k.n_bytes(), pk.modulus_bytes());
            assert_eq!(&*k.e_bytes(), [1, 0, 1]);
        }
        // And what rsa exports, we import.
        assert_eq!(
            PublicKey::from_public_key_der(a.to_public_key_der().unwrap().as_bytes()).unwrap(),
            pk
        );
        assert_eq!(
            PublicKey::from_pkcs1_der(b.to_pkcs1_der().unwrap().as_bytes()).unwrap(),
            pk
        );
    }
}

#[test]
fn openssl_genpkey_key_imports_and_signatures_interoperate() {
    let dir = TempDir::new("genpkey");
    let key = dir.path("key.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key,
    ]);
    let mut keys = vec![key];
    keys.extend(fixtures());
    for key in keys {
        let n_hex = openssl_modulus(&key);
        let spki = dir.path("pub.pem");
        openssl(&["pkey", "-in", &key, "-pubout", "-out", &spki]);
        let pk = PublicKey::from_public_key_pem(&std::fs::read_to_string(&spki).unwrap()).unwrap();
        assert_eq!(hex(pk.modulus_bytes()), n_hex);
        let pkcs1 = dir.path("pub1.pem");
        openssl(&["rsa", "-in", &key, "-RSAPublicKey_out", "-out", &pkcs1]);
        assert_eq!(
            PublicKey::from_pkcs1_pem(&std::fs::read_to_string(&pkcs1).unwrap()).unwrap(),
            pk
        );

        // openssl dgst signs, we verify; we sign (our encoder + raw RSA with d), openssl
        // verifies. PSS with MGF1 of the same hash and sLen = hLen (SPEC §4.1).
        let rsa_key =
            rsa::PrivateKey::from_pkcs8_pem(&std::fs::read_to_string(&key).unwrap()).unwrap();
        let (n, d) = (
            BigUint::from_bytes_be(&rsa_key.n_bytes()),
            BigUint::from_bytes_be(&rsa_key.d().to_be_bytes()),
        );
        let msg = dir.path("msg");
        std::fs::write(&msg, b"split-rsa interop message").unwrap();
        for (name, h) in [
            ("-sha256", HashAlg::Sha256),
            ("-sha384", HashAlg::Sha384),
            ("-sha512", HashAlg::Sha512),
        ] {
            let digest = h.digest(b"split-rsa interop message");
            for scheme in [Scheme::Pkcs1v15(h), Scheme::Pss(h)] {
                let mut opts: Vec<&str> = vec!["dgst", name];
                if matches!(scheme, Scheme::Pss(_)) {
                    // MGF1 defaults to the signing hash.
                    opts.extend_from_slice(&[
                        "-sigopt",
                        "rsa_padding_mode:pss",
                        "-sigopt",
                        "rsa_pss_saltlen:digest",
                    ]);
                }
                let sig_file = dir.path("sig");
                let mut sign = opts.clone();
                sign.extend_from_slice(&["-sign", &key, "-out", &sig_file, &msg]);
                openssl(&sign);
                let sig = std::fs::read(&sig_file).unwrap();
                assert_eq!(
                    verify(&pk, scheme, &digest, &sig),
                    Ok(()),
                    "{} bits {scheme:?}",
                    pk.bits()
                );

                let salt = vec![0xa7; scheme.salt_len()];
                let em = padding::encode(scheme, &digest, &salt, pk.bits()).unwrap();
                let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
                let mut ours = vec![0u8; pk.size() - s.len()];
                ours.extend_from_slice(&s);
                std::fs::write(&sig_file, &ours).unwrap();
                let mut check = opts.clone();
                check.extend_from_slice(&["-prverify", &key, "-signature", &sig_file, &msg]);
                assert!(
                    openssl(&check).contains("Verified OK"),
                    "{} bits {scheme:?}",
                    pk.bits()
                );
            }
        }
    }
}

// --- Strict import -------------------------------------------------------------------------

fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let b: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|x| *x == 0)
            .collect();
        let mut out = vec![0x80 | b.len() as u8];
        out.extend(b);
        out
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from raw content bytes (no canonicalisation: tests build bad ones).
fn int_raw(content: &[u8]) -> Vec<u8> {
    tlv(0x02, content)
}

/// A DER INTEGER for a non-negative big-endian value.
fn int(v: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
    let mut c = Vec::new();
    if v.first().is_none_or(|b| *b >= 0x80) {
        c.push(0);
    }
    c.extend(v);
    int_raw(&c)
}

fn rsa_public_key(n_int: &[u8], e_int: &[u8]) -> Vec<u8> {
    tlv(0x30, &[n_int, e_int].concat())
}

const RSA_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const PSS_OID: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
];
const NULL: [u8; 2] = [0x05, 0x00];

fn spki(alg: &[u8], key: &[u8], unused_bits: u8) -> Vec<u8> {
    let mut bits = vec![unused_bits];
    bits.extend_from_slice(key);
    tlv(0x30, &[tlv(0x30, alg), tlv(0x03, &bits)].concat())
}

fn fixture_modulus() -> Vec<u8> {
    let n_hex = openssl_modulus(&data_path("rsa3072.pem"));
    BigUint::parse_bytes(n_hex.as_bytes(), 16)
        .unwrap()
        .to_bytes_be()
}

#[test]
fn strict_import_errors() {
    let n = fixture_modulus();
    let e = [1u8, 0, 1];
    let good = rsa_public_key(&int(&n), &int(&e));
    let pk = PublicKey::from_pkcs1_der(&good).unwrap();
    assert_eq!(pkcs1_der(&pk), good, "our hand-built DER is canonical");
    let alg = [&RSA_OID[..], &NULL].concat();
    assert_eq!(
        PublicKey::from_public_key_der(&spki(&alg, &good, 0)).unwrap(),
        pk
    );

    // Key checks: the exact reason through TryFrom<RsaPublicKeyRef>, `KeyMalformed` through
    // the traits.
    let mut even = n.clone();
    *even.last_mut().unwrap() ^= 1;
    let bad_keys = [
        (
            rsa_public_key(&int(&n), &int(&[3])),
            KeyError::PublicExponent,
        ),
        (
            rsa_public_key(&int(&n), &int(&[1, 0, 0, 1])),
            KeyError::PublicExponent,
        ),
        (rsa_public_key(&int(&even), &int(&e)), KeyError::EvenModulus),
        (
            rsa_public_key(&int(&n[..128]), &int(&e)),
            KeyError::ModulusSize,
        ),
        (
            rsa_public_key(&int(&[n.as_slice(); 3].concat()), &int(&e)),
            KeyError::ModulusSize,
        ),
    ];
    for (der, reason) in bad_keys {
        assert_eq!(key_check(&der), Some(Err(Error::InvalidKey(reason))));
        assert_eq!(
            PublicKey::from_pkcs1_der(&der),
            Err(Pkcs1Error::KeyMalformed)
        );
        assert_eq!(
            PublicKey::from_public_key_der(&spki(&alg, &der, 0)),
            Err(SpkiError::KeyMalformed)
        );
    }

    // DER strictness.
    let padded_n = [&[0u8, 0][..], &n].concat(); // non-minimal INTEGER
    assert!(matches!(
        pkcs1_kind(PublicKey::from_pkcs1_der(&rsa_public_key(
            &int_raw(&padded_n),
            &int(&e)
        ))),
        ErrorKind::Noncanonical { .. } | ErrorKind::Value { .. }
    ));
    // Negative modulus (top bit set, no leading zero).
    assert!(key_check(&rsa_public_key(&int_raw(&n), &int(&e))).is_none());
    pkcs1_kind(PublicKey::from_pkcs1_der(&rsa_public_key(
        &int_raw(&n),
        &int(&e),
    )));
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        pkcs1_kind(PublicKey::from_pkcs1_der(&trailing)),
        ErrorKind::TrailingData { .. }
    ));
    pkcs1_kind(PublicKey::from_pkcs1_der(&good[..good.len() - 1]));
    pkcs1_kind(PublicKey::from_pkcs1_der(&[]));
    // A third INTEGER inside the SEQUENCE.
    let three = tlv(0x30, &[int(&n), int(&e), int(&e)].concat());
    pkcs1_kind(PublicKey::from_pkcs1_der(&three));

    // SubjectPublicKeyInfo: algorithm and parameters.
    let pss_alg = [&PSS_OID[..], &NULL].concat();
    assert!(matches!(
        PublicKey::from_public_key_der(&spki(&pss_alg, &good, 0)),
        Err(SpkiError::OidUnknown { .. })
    ));
    assert_eq!(
        PublicKey::from_public_key_der(&spki(&RSA_OID, &good, 0)),
        Err(SpkiError::AlgorithmParametersMissing)
    );
    let int_params = [&RSA_OID[..], &int(&[0])].concat();
    assert_eq!(
        PublicKey::from_public_key_der(&spki(&int_params, &good, 0)),
        Err(SpkiError::KeyMalformed)
    );
    assert!(PublicKey::from_public_key_der(&spki(&alg, &good, 1)).is_err());
    assert!(matches!(
        PublicKey::from_public_key_der(&spki(&alg, &trailing, 0)),
        Err(SpkiError::Asn1(_))
    ));
    // PKCS#1 DER where SPKI is expected and vice versa.
    assert!(matches!(
        PublicKey::from_public_key_der(&good),
        Err(SpkiError::Asn1(_))
    ));
    pkcs1_kind(PublicKey::from_pkcs1_der(&spki_der(&pk)));

    // PEM labels and syntax.
    assert!(matches!(
        PublicKey::from_public_key_pem(&pkcs1_pem(&pk)),
        Err(SpkiError::Asn1(e)) if matches!(e.kind(), ErrorKind::Pem(_))
    ));
    assert!(matches!(
        pkcs1_kind(PublicKey::from_pkcs1_pem(&spki_pem(&pk))),
        ErrorKind::Pem(_)
    ));
    let pem = spki_pem(&pk);
    assert!(PublicKey::from_public_key_pem(&pem.replace('A', "*")).is_err());
    assert!(PublicKey::from_public_key_pem(&pem[..pem.len() / 2]).is_err());
}

/// Seeded random and mutated inputs never panic and never import a key other than the
/// original.
#[test]
fn importers_do_not_panic() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0003);
    let pk = PublicKey::from_modulus(&fixture_modulus()).unwrap();
    let inputs = [pkcs1_der(&pk), spki_der(&pk)];
    let mut imported = 0;
    for i in 0..4000 {
        let base = &inputs[i % 2];
        let mut v = base.clone();
        match rng.next_u32() % 4 {
            0 => {
                let at = rng.next_u32() as usize % v.len();
                v[at] ^= 1 << (rng.next_u32() % 8);
            }
            1 => v.truncate(rng.next_u32() as usize % v.len()),
            2 => {
                let len = rng.next_u32() as usize % 600;
                v = vec![0; len];
                rng.fill_bytes(&mut v);
            }
            _ => {
                let at = rng.next_u32() as usize % v.len();
                v.insert(at, rng.next_u32() as u8);
            }
        }
        let results = [
            PublicKey::from_pkcs1_der(&v).ok(),
            PublicKey::from_public_key_der(&v).ok(),
        ];
        for k in results.into_iter().flatten() {
            // A bit flip inside the modulus gives another valid-looking key; anything
            // that imports must re-encode to exactly the input (canonical DER).
            assert!(pkcs1_der(&k) == v || spki_der(&k) == v);
            imported += 1;
        }
        let s = String::from_utf8_lossy(&v);
        assert!(PublicKey::from_public_key_pem(&s).is_err() || s.contains("BEGIN"));
    }
    // Bit flips in the modulus body (not its top or bottom bit) still import.
    assert!(imported > 0);
}

#[test]
fn verify_on_fixture_key_with_wrong_key_fails() {
    // A signature made under one key does not verify under another of the same size.
    let dir = TempDir::new("wrongkey");
    let key_a = data_path("rsa6144.pem");
    let key_b = dir.path("b.pem");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:3072",
        "-out",
        &key_b,
    ]);
    let msg = dir.path("msg");
    std::fs::write(&msg, b"m").unwrap();
    let sig_file = dir.path("sig");
    openssl(&[
        "dgst",
        "-sha256",
        "-sign",
        &data_path("rsa3072.pem"),
        "-out",
        &sig_file,
        &msg,
    ]);
    let sig = std::fs::read(&sig_file).unwrap();
    let pk_b = PublicKey::from_modulus(
        &BigUint::parse_bytes(openssl_modulus(&key_b).as_bytes(), 16)
            .unwrap()
            .to_bytes_be(),
    )
    .unwrap();
    let digest = HashAlg::Sha256.digest(b"m");
    assert_eq!(
        verify(&pk_b, Scheme::Pkcs1v15(HashAlg::Sha256), &digest, &sig),
        Err(Error::InvalidSignature)
    );
    // And a 3072-bit signature is the wrong length for the 6144-bit key.
    let pk_a = PublicKey::from_modulus(
        &BigUint::parse_bytes(openssl_modulus(&key_a).as_bytes(), 16)
            .unwrap()
            .to_bytes_be(),
    )
    .unwrap();
    assert_eq!(
        verify(&pk_a, Scheme::Pkcs1v15(HashAlg::Sha256), &digest, &sig),
        Err(Error::InvalidSignature)
    );
}

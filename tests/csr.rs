//! A certificate signing request for a split key, signed by its two parties (feature `csr`):
//! `x509-cert`'s `RequestBuilder` driven by `split_rsa::csr::SplitSigner`, whose closure runs
//! the SPEC §4 two-party arithmetic (`hazmat`: the device's `m^d1' mod n1`, the server's
//! completion with its checks) on a 2048+2048 split key (4096-bit composite).
//!
//! What a CA demands (RFC 2986 §3, proof of possession): the request carries the composite key
//! and a signature under it by that key. Checked by
//! - the OpenSSL command line, `openssl req -verify` (the test fails if `openssl` is missing;
//!   CI installs it), which also must read back the same modulus and signature algorithm;
//! - our own verifier: the request's `signatureAlgorithm` parsed into a `Scheme`, `verify` on
//!   the DER of `CertificationRequestInfo`.
//!
//! And the failures a signer must not hide: a party returning a wrong signature, or an error,
//! yields no request; a request altered after signing is refused by OpenSSL and by us.
//!
//! The same through the real signing session (SPEC §3, §4): a key registered with
//! `issue_challenge`/`register` at 2048+2048 bits, and a closure that runs
//! `Server::create_request` → `DeviceRecord::sign` → `Server::complete` →
//! `DeviceRecord::accept` (what the device and the server run on two machines, here in one
//! process). OpenSSL accepts the request; a wrong PIN (the server's `Outcome::WrongPin`,
//! mapped to `Error::WrongPin`) yields no request, and the right PIN afterwards does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::csr::SplitSigner;
use split_rsa::csr::x509_cert::builder::{Builder, Error as BuilderError};
use split_rsa::csr::x509_cert::der::referenced::OwnedToRef;
use split_rsa::csr::x509_cert::der::{Decode, Encode, EncodePem};
use split_rsa::csr::x509_cert::name::Name;
use split_rsa::csr::x509_cert::request::{CertReq, RequestBuilder};
use split_rsa::hazmat::arith::Uint;
use split_rsa::hazmat::{keygen, padding, signing};
use split_rsa::pkcs1::LineEnding;
use split_rsa::signature::{Error as SignatureError, Keypair, Signer};
use split_rsa::spki::DynSignatureAlgorithmIdentifier;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, DeviceShare, Error, HashAlg, InMemoryKeyStore,
    KekId, KeyPurpose, KeySize, LocalKek, Outcome, Pin, PublicKey, Scheme, Server, ServerPolicy,
    ServerShare, ServerTransportKey, Signature, verify,
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
        let mut rng = ChaCha20Rng::seed_from_u64(0xc5_2986);
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

/// SPEC §4 on a digest: EM (with a fresh PSS salt), the device's `y = m^d1' mod n1`, the
/// server's completion. What the device and the server run for a signing request.
fn two_party_sign(
    key: &SplitKey,
    rng: &mut ChaCha20Rng,
    scheme: Scheme,
    digest: &[u8],
) -> split_rsa::Result<Vec<u8>> {
    let mut salt = vec![0u8; scheme.salt_len()];
    rng.fill_bytes(&mut salt);
    let em = padding::encode(scheme, digest, &salt, key.public.bits())?;
    let nlimbs = keygen::server_parts(&key.server).9.nlimbs();
    let m = Uint::from_be_slice(&em, nlimbs).expect("EM fits n");
    let (n1, d1p, d1p_bits) = keygen::device_parts(&key.device);
    let y = signing::device_exponentiate(n1, d1p, d1p_bits, &m);
    let s = signing::server_complete(&signing::completion_key(&key.server), &y, &m)?;
    Ok(s.to_be_bytes(key.public.size()).0.to_vec())
}

/// Builds a CSR for the split key under `scheme`, signed by the two parties.
fn build_csr(scheme: Scheme, seed: u64) -> CertReq {
    let key = split_key();
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut calls = 0;
    let signer = SplitSigner::new(key.public.clone(), scheme, |s: Scheme, digest: &[u8]| {
        calls += 1;
        two_party_sign(key, &mut rng, s, digest)
    });
    assert_eq!(signer.verifying_key(), key.public);
    let subject = Name::from_str("CN=Mari Maasikas,OU=split-rsa test,O=Example,C=EE").unwrap();
    let csr = RequestBuilder::new(subject)
        .unwrap()
        .build::<_, Signature>(&signer)
        .unwrap();
    drop(signer);
    assert_eq!(calls, 1, "one two-party signature per request");
    csr
}

/// Our own check of a CSR: the key it carries is the split key, and its signature verifies
/// under it with the scheme its `signatureAlgorithm` names.
fn our_verify(csr: &CertReq) -> split_rsa::Result<Scheme> {
    our_verify_for(csr, &split_key().public)
}

/// [`our_verify`] for the split key `expected`.
fn our_verify_for(csr: &CertReq, expected: &PublicKey) -> split_rsa::Result<Scheme> {
    let carried = PublicKey::try_from(csr.info.public_key.owned_to_ref()).map_err(|_| {
        Error::Decode(split_rsa::DecodeError::new(
            "csr.public_key",
            split_rsa::DecodeErrorKind::Invalid,
        ))
    })?;
    assert_eq!(&carried, expected);
    let scheme = Scheme::try_from(csr.algorithm.owned_to_ref()).map_err(|_| {
        Error::Decode(split_rsa::DecodeError::new(
            "csr.signature_algorithm",
            split_rsa::DecodeErrorKind::Invalid,
        ))
    })?;
    let tbs = csr.info.to_der().unwrap();
    let sig = csr
        .signature
        .as_bytes()
        .ok_or(Error::Decode(split_rsa::DecodeError::new(
            "csr.signature",
            split_rsa::DecodeErrorKind::NonCanonical,
        )))?;
    verify(&carried, scheme, &scheme.hash().digest(&tbs), sig)?;
    Ok(scheme)
}

/// A scratch directory for one test.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("split-rsa-csr-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn file(&self, name: &str, contents: &[u8]) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `openssl args...`: (success, stdout + stderr). Panics if openssl cannot be run.
fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the openssl CLI (required by this test): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn openssl_and_our_verifier_accept_the_two_party_csr() {
    let dir = TempDir::new("accept");
    let cases = [
        (Scheme::Pkcs1v15(HashAlg::Sha256), "sha256WithRSAEncryption"),
        (Scheme::Pss(HashAlg::Sha256), "rsassaPss"),
        (Scheme::Pss(HashAlg::Sha512), "rsassaPss"),
        (Scheme::Pkcs1v15(HashAlg::Sha384), "sha384WithRSAEncryption"),
    ];
    let modulus_hex: String = split_key()
        .public
        .modulus_bytes()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    for (i, (scheme, openssl_name)) in cases.into_iter().enumerate() {
        let csr = build_csr(scheme, i as u64);
        assert_eq!(our_verify(&csr), Ok(scheme));

        let pem = csr.to_pem(LineEnding::LF).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        let path = dir.file(&format!("csr{i}.pem"), pem.as_bytes());
        let (ok, out) = openssl(&["req", "-verify", "-in", &path, "-noout"]);
        assert!(ok, "{scheme:?}: openssl req -verify refused:\n{out}");
        assert!(out.contains("verify OK"), "{scheme:?}: {out}");

        // OpenSSL reads the same key and algorithm back.
        let (ok, text) = openssl(&["req", "-in", &path, "-noout", "-text"]);
        assert!(ok, "{text}");
        assert!(text.contains("Public-Key: (4096 bit)"), "{text}");
        assert!(text.contains(openssl_name), "{scheme:?}: {text}");
        assert!(text.contains("CN = Mari Maasikas"), "{text}");
        let (ok, m) = openssl(&["req", "-in", &path, "-noout", "-modulus"]);
        assert!(ok && m.trim() == format!("Modulus={modulus_hex}"), "{m}");
        if let Scheme::Pss(h) = scheme {
            let name = format!("{h:?}").to_lowercase(); // sha256 / sha512
            assert!(text.contains(&format!("Hash Algorithm: {name}")), "{text}");
            assert!(
                text.contains(&format!("Mask Algorithm: mgf1 with {name}")),
                "{text}"
            );
            assert!(
                text.contains(&format!("Salt Length: 0x{:02X}", h.output_len())),
                "{text}"
            );
        }
    }
}

/// A request altered after signing (the subject changed) is refused by OpenSSL and by us.
#[test]
fn altered_request_is_refused() {
    let dir = TempDir::new("altered");
    let csr = build_csr(Scheme::Pss(HashAlg::Sha256), 42);
    let der = csr.to_der().unwrap();
    // "Maasikas" -> "Maasikaz" inside the subject.
    let at = der
        .windows(8)
        .position(|w| w == b"Maasikas")
        .expect("subject in DER");
    let mut bad = der.clone();
    bad[at + 7] = b'z';
    let altered = CertReq::from_der(&bad).unwrap();
    assert_eq!(our_verify(&altered), Err(Error::InvalidSignature));
    let path = dir.file("bad.der", &bad);
    let (ok, out) = openssl(&["req", "-verify", "-inform", "DER", "-in", &path, "-noout"]);
    assert!(!ok || !out.contains("verify OK"), "openssl accepted: {out}");
    // The original still verifies in DER too.
    let path = dir.file("good.der", &der);
    let (ok, out) = openssl(&["req", "-verify", "-inform", "DER", "-in", &path, "-noout"]);
    assert!(ok && out.contains("verify OK"), "{out}");
}

/// The `split_rsa::Error` at the end of a signer error's source chain.
fn party_error(err: &SignatureError) -> Option<&Error> {
    let mut e: &dyn core::error::Error = err;
    while let Some(next) = e.source() {
        e = next;
    }
    e.downcast_ref::<Error>()
}

/// A party that returns a bad signature, or fails, gives no request: the signer checks the
/// signature under the composite key before the builder embeds it (SPEC §4.6), and passes the
/// party's error on as the `source`.
#[test]
fn failing_or_lying_parties_give_no_request() {
    let key = split_key();
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let subject = Name::from_str("CN=Mari Maasikas").unwrap();

    // A signature for another digest (e.g. a replayed one).
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let replayed = two_party_sign(key, &mut rng, scheme, &HashAlg::Sha256.digest(b"x")).unwrap();
    let signer = SplitSigner::new(key.public.clone(), scheme, |_: Scheme, _: &[u8]| {
        Ok(replayed.clone())
    });
    let err = RequestBuilder::new(subject.clone())
        .unwrap()
        .build::<_, Signature>(&signer)
        .unwrap_err();
    let BuilderError::Signature(err) = err else {
        panic!("{err:?}")
    };
    assert_eq!(party_error(&err), Some(&Error::InvalidSignature));
    // Garbage of the wrong length.
    let signer = SplitSigner::new(key.public.clone(), scheme, |_: Scheme, _: &[u8]| {
        Ok(vec![1, 2, 3])
    });
    assert!(signer.try_sign(b"anything").is_err());

    // The party's own error (here: the server's answer to a wrong PIN).
    let signer = SplitSigner::new(key.public.clone(), scheme, |_: Scheme, _: &[u8]| {
        Err(Error::WrongPin {
            attempts_left: 2,
            locked_until: None,
        })
    });
    let err = signer.try_sign(b"anything").unwrap_err();
    assert_eq!(
        party_error(&err),
        Some(&Error::WrongPin {
            attempts_left: 2,
            locked_until: None
        })
    );

    // The algorithm identifier follows the scheme.
    let signer = SplitSigner::new(
        key.public.clone(),
        Scheme::Pss(HashAlg::Sha384),
        |_: Scheme, _: &[u8]| Ok(Vec::new()),
    );
    let id = signer.signature_algorithm_identifier().unwrap();
    assert_eq!(
        Scheme::try_from(id.owned_to_ref()).unwrap(),
        Scheme::Pss(HashAlg::Sha384)
    );
}

/// The time of the session tests (seconds since the Unix epoch): the library reads no clock.
const NOW: u64 = 1_800_000_000;

/// A split key registered through the session API, and its two parties.
struct Parties {
    server: Server<InMemoryKeyStore, LocalKek>,
    device: Mutex<DeviceRecord>,
    rng: Mutex<ChaCha20Rng>,
}

/// PIN2 of the session key.
fn right_pin() -> Pin {
    Pin::new("58213", KeyPurpose::Signing).unwrap()
}

/// SPEC §3 once per test binary: challenge, request, sealed answer, PIN seal, at 2048+2048
/// bits (a 4096-bit composite; 2048 is the smallest production half, and the composite is
/// well above `PublicKey::MIN_BITS`).
fn parties() -> &'static Parties {
    static PARTIES: OnceLock<Parties> = OnceLock::new();
    PARTIES.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xc5_2986_5e55);
        let server = Server::new(
            ServerTransportKey::generate(&mut rng),
            InMemoryKeyStore::new(),
            LocalKek::generate(&mut rng, KekId(1)),
            ServerPolicy::default(),
            KeySize::BITS_2048,
        );
        let challenge = server.issue_challenge(&mut rng, NOW);
        let (registration, request) = DeviceRegistration::start(
            &mut rng,
            &challenge,
            KeyPurpose::Signing,
            KeySize::BITS_2048,
            &server.transport_public_key(),
        )
        .unwrap();
        let registered = server.register(&mut rng, &request, NOW).unwrap();
        let answer = registration.open_response(&registered.response).unwrap();
        let device = registration
            .finish(&mut rng, answer, &right_pin(), Argon2Params::RECOMMENDED)
            .unwrap();
        assert_eq!(device.public_key(), &registered.public_key);
        assert_eq!(device.public_key().bits(), 4096);
        Parties {
            server,
            device: Mutex::new(device),
            rng: Mutex::new(rng),
        }
    })
}

/// What the server said, as the closure's result: the signature, or the matching error.
fn signature_or_error(outcome: Outcome) -> split_rsa::Result<Vec<u8>> {
    outcome.into_signature()
}

/// SPEC §4 through the session API on `digest`: the server creates the request, the device
/// signs it under `pin`, the server completes it, the device accepts the sealed answer.
fn session_sign(pin: &Pin, scheme: Scheme, digest: &[u8]) -> split_rsa::Result<Vec<u8>> {
    let p = parties();
    let mut rng = p.rng.lock().unwrap();
    let mut device = p.device.lock().unwrap();
    let request = p.server.create_request(
        &mut *rng,
        device.key_id(),
        KeyPurpose::Signing,
        scheme,
        digest,
        NOW,
    )?;
    let message = device.sign(&mut *rng, &request, pin)?;
    let done = p.server.complete(&mut *rng, &message, NOW)?;
    signature_or_error(device.accept(&done.response)?)
}

/// A CSR for the session key under `scheme`, signed with `pin` through the session.
fn build_session_csr(scheme: Scheme, pin: &Pin) -> Result<CertReq, BuilderError> {
    let public_key = parties().device.lock().unwrap().public_key().clone();
    let mut calls = 0;
    let signer = SplitSigner::new(public_key, scheme, |s: Scheme, digest: &[u8]| {
        calls += 1;
        session_sign(pin, s, digest)
    });
    let subject = Name::from_str("CN=Mari Maasikas,OU=split-rsa session,O=Example,C=EE").unwrap();
    let csr = RequestBuilder::new(subject)
        .unwrap()
        .build::<_, Signature>(&signer);
    drop(signer);
    assert_eq!(calls, 1, "one signing session per request");
    csr
}

#[test]
fn openssl_accepts_a_csr_signed_through_the_session() {
    let dir = TempDir::new("session");
    let p = parties();
    let key_id = *p.device.lock().unwrap().key_id();
    // What a CA compares the CSR's key with: the key the server registered.
    let registered = p.server.public_key(&key_id, NOW).unwrap();
    for (i, scheme) in [
        Scheme::Pss(HashAlg::Sha256),
        Scheme::Pkcs1v15(HashAlg::Sha256),
    ]
    .into_iter()
    .enumerate()
    {
        let csr = build_session_csr(scheme, &right_pin()).unwrap();
        assert_eq!(our_verify_for(&csr, &registered), Ok(scheme));
        let pem = csr.to_pem(LineEnding::LF).unwrap();
        let path = dir.file(&format!("session{i}.pem"), pem.as_bytes());
        let (ok, out) = openssl(&["req", "-verify", "-in", &path, "-noout"]);
        assert!(ok && out.contains("verify OK"), "{scheme:?}: {out}");
        let (ok, text) = openssl(&["req", "-in", &path, "-noout", "-text"]);
        assert!(ok && text.contains("Public-Key: (4096 bit)"), "{text}");
        assert!(text.contains("OU = split-rsa session"), "{text}");
    }
    // Each session ended: nothing is left pending on the device.
    assert!(p.device.lock().unwrap().pending_request().is_none());
}

/// A wrong PIN: the server refuses and counts it, the closure returns `Error::WrongPin`, the
/// builder gives no request (and the error says why); the right PIN then gives one.
#[test]
fn wrong_pin_gives_no_csr_through_the_session() {
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let typo = Pin::new("58231", KeyPurpose::Signing).unwrap();
    let err = build_session_csr(scheme, &typo).unwrap_err();
    let BuilderError::Signature(err) = err else {
        panic!("{err:?}")
    };
    // The only wrong PIN in this test binary: 9 - 1 left, not locked (SPEC §7).
    assert_eq!(
        party_error(&err),
        Some(&Error::WrongPin {
            attempts_left: 8,
            locked_until: None
        })
    );
    assert!(parties().device.lock().unwrap().pending_request().is_none());

    let csr = build_session_csr(scheme, &right_pin()).unwrap();
    let key = parties().device.lock().unwrap().public_key().clone();
    assert_eq!(our_verify_for(&csr, &key), Ok(scheme));
}

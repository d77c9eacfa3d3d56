//! Two-party signatures verified by stock verifiers (SPEC §1 (e)): one 3072+3072
//! split key (6144-bit composite), every scheme × hash combination, random messages; each
//! signature made by the device and the server together is checked by
//! - RustCrypto `rsa` 0.10 (which accepts keys up to 8192 bits by default; 0.9 needed
//!   `RsaPublicKey::new_with_max_size`), and
//! - the OpenSSL command line (`openssl dgst -verify`), run from the test. The test FAILS if
//!   `openssl` is not installed (CI installs it).
//!
//! The key is generated once per test binary (it takes seconds).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use rsa::BoxedUint;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, Pss, PublicKey as RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};
use split_rsa::pkcs1::LineEnding;
use split_rsa::spki::EncodePublicKey;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, HashAlg, InMemoryKeyStore, KekId, KeyPurpose,
    KeySize, LocalKek, Outcome, Pin, Scheme, Server, ServerPolicy, ServerTransportKey, verify,
};

const NOW: u64 = 1_800_000_000;

struct Setup {
    server: Server<InMemoryKeyStore, LocalKek>,
    device: Mutex<DeviceRecord>,
    pin: Pin,
    rng: Mutex<ChaCha20Rng>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_3072);
        let server = Server::new(
            ServerTransportKey::generate(&mut rng),
            InMemoryKeyStore::new(),
            LocalKek::generate(&mut rng, KekId(1)),
            ServerPolicy::default(),
            KeySize::BITS_3072,
        );
        let pin = Pin::new("20481", KeyPurpose::Signing).unwrap();
        let challenge = server.issue_challenge(&mut rng, NOW);
        let (reg, request) = DeviceRegistration::start(
            &mut rng,
            &challenge,
            KeyPurpose::Signing,
            KeySize::BITS_3072,
            &server.transport_public_key(),
        )
        .unwrap();
        let registered = server.register(&mut rng, &request, NOW).unwrap();
        let answer = reg.open_response(&registered.response).unwrap();
        let device = reg
            .finish(
                &mut rng,
                answer,
                &pin,
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        assert_eq!(device.public_key().bits(), 6144);
        Setup {
            server,
            device: Mutex::new(device),
            pin,
            rng: Mutex::new(rng),
        }
    })
}

/// Runs the whole protocol for one random message; returns (message, digest, signature).
fn two_party_sign(scheme: Scheme) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let s = setup();
    let mut rng = s.rng.lock().unwrap();
    let mut device = s.device.lock().unwrap();
    let mut message = vec![0u8; 1 + (rng.next_u32() % 200) as usize];
    rng.fill_bytes(&mut message);
    let digest = scheme.hash().digest(&message);
    let request = s
        .server
        .create_request(
            &mut *rng,
            device.key_id(),
            KeyPurpose::Signing,
            scheme,
            &digest,
            NOW,
        )
        .unwrap();
    let partial = device.sign(&mut *rng, &request, &s.pin).unwrap();
    let done = s.server.complete(&mut *rng, &partial, NOW).unwrap();
    let Outcome::Completed { signature } = device.accept(&done.response).unwrap() else {
        panic!("the right PIN completes")
    };
    (message, digest, signature)
}

fn rsa_key() -> RsaPublicKey {
    let pk = setup().device.lock().unwrap().public_key().clone();
    let n = pk.modulus_bytes();
    let key = RsaPublicKey::new(
        BoxedUint::from_be_slice(n, 8 * n.len() as u32).unwrap(),
        BoxedUint::from(65537u32),
    )
    .unwrap();
    assert_eq!(key.n().bit_width(), 6144);
    key
}

fn rsa_verify(key: &RsaPublicKey, scheme: Scheme, digest: &[u8], sig: &[u8]) -> bool {
    match scheme {
        Scheme::Pkcs1v15(HashAlg::Sha256) => key.verify(Pkcs1v15Sign::new::<Sha256>(), digest, sig),
        Scheme::Pkcs1v15(HashAlg::Sha384) => key.verify(Pkcs1v15Sign::new::<Sha384>(), digest, sig),
        Scheme::Pkcs1v15(HashAlg::Sha512) => key.verify(Pkcs1v15Sign::new::<Sha512>(), digest, sig),
        Scheme::Pss(HashAlg::Sha256) => key.verify(Pss::<Sha256>::new(), digest, sig),
        Scheme::Pss(HashAlg::Sha384) => key.verify(Pss::<Sha384>::new(), digest, sig),
        Scheme::Pss(HashAlg::Sha512) => key.verify(Pss::<Sha512>::new(), digest, sig),
    }
    .is_ok()
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `openssl dgst -<hash> -verify public.pem -signature sig msg` (with PSS options).
fn openssl_verify(dir: &std::path::Path, scheme: Scheme, msg: &[u8], sig: &[u8]) -> bool {
    let pem = setup()
        .device
        .lock()
        .unwrap()
        .public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(dir.join("public.pem"), pem).unwrap();
    std::fs::write(dir.join("message.bin"), msg).unwrap();
    std::fs::write(dir.join("signature.bin"), sig).unwrap();
    let hash = match scheme.hash() {
        HashAlg::Sha256 => "-sha256",
        HashAlg::Sha384 => "-sha384",
        HashAlg::Sha512 => "-sha512",
    };
    let mut cmd = Command::new("openssl");
    cmd.current_dir(dir).args([
        "dgst",
        hash,
        "-verify",
        "public.pem",
        "-signature",
        "signature.bin",
    ]);
    if let Scheme::Pss(_) = scheme {
        // Salt as long as the digest, MGF1 with the same hash (SPEC §4.1).
        cmd.args([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ]);
    }
    cmd.arg("message.bin");
    let out = cmd
        .output()
        .expect("the openssl command line is required (CI installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    out.status.success() && stdout.contains("Verified OK")
}

fn all_schemes() -> Vec<Scheme> {
    [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
        .into_iter()
        .flat_map(|h| [Scheme::Pkcs1v15(h), Scheme::Pss(h)])
        .collect()
}

#[test]
fn every_scheme_verifies_with_rsa_crate_openssl_and_ours() {
    let key = rsa_key();
    let dir = scratch_dir("interop_protocol");
    for scheme in all_schemes() {
        for _ in 0..2 {
            let (msg, digest, sig) = two_party_sign(scheme);
            assert_eq!(sig.len(), 768);
            let pk = setup().device.lock().unwrap().public_key().clone();
            verify(&pk, scheme, &digest, &sig).unwrap();
            assert!(
                rsa_verify(&key, scheme, &digest, &sig),
                "rsa crate rejects {scheme:?}"
            );
            assert!(
                openssl_verify(&dir, scheme, &msg, &sig),
                "openssl rejects {scheme:?}"
            );
            // A tampered signature is rejected by all three.
            let mut bad = sig.clone();
            bad[100] ^= 0x10;
            assert!(verify(&pk, scheme, &digest, &bad).is_err());
            assert!(!rsa_verify(&key, scheme, &digest, &bad));
            assert!(!openssl_verify(&dir, scheme, &msg, &bad));
        }
    }
}

#[test]
fn openssl_parses_the_composite_key() {
    let dir = scratch_dir("interop_protocol_key");
    let pk = setup().device.lock().unwrap().public_key().clone();
    std::fs::write(
        dir.join("public.pem"),
        pk.to_public_key_pem(LineEnding::LF).unwrap(),
    )
    .unwrap();
    let out = Command::new("openssl")
        .current_dir(&dir)
        .args(["pkey", "-pubin", "-in", "public.pem", "-noout", "-text"])
        .output()
        .expect("the openssl command line is required (CI installs it)");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Public-Key: (6144 bit)"), "{text}");
    assert!(text.contains("Exponent: 65537 (0x10001)"), "{text}");
}

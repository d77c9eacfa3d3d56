//! End-to-end protocol tests (SPEC §3, §4, §5, §7) on test-size keys: registration, signing,
//! wrong PINs, lockout, clone detection, retransmission, tampering and fault injection.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, Error, HashAlg, InMemoryKeyStore, KeyPurpose,
    KeySize, Pin, Scheme, SealedPartialSignature, Server, ServerPolicy, ServerShare,
    ServerTransportKey, SigningRequest, verify,
};

const T0: u64 = 1_800_000_000;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn server(rng: &mut ChaCha20Rng) -> Server<InMemoryKeyStore<ServerShare>> {
    Server::new(
        ServerTransportKey::generate(rng),
        InMemoryKeyStore::new(),
        ServerPolicy::default(),
        KeySize::insecure_for_tests(768).unwrap(),
    )
}

fn register(
    rng: &mut ChaCha20Rng,
    server: &Server<InMemoryKeyStore<ServerShare>>,
    purpose: KeyPurpose,
    pin: &Pin,
) -> DeviceRecord {
    let size = KeySize::insecure_for_tests(768).unwrap();
    let (reg, request) =
        DeviceRegistration::start(rng, purpose, size, &server.transport_public_key()).unwrap();
    let request = split_rsa::RegistrationRequest::from_bytes(&request.to_bytes()).unwrap();
    let response = server.register(rng, &request, T0).unwrap();
    let response = split_rsa::RegistrationResponse::from_bytes(&response.to_bytes()).unwrap();
    reg.finish(rng, response, pin, Argon2Params::insecure_fast_for_tests())
        .unwrap()
}

fn pin2(d: &str) -> Pin {
    Pin::new(d, KeyPurpose::Signing).unwrap()
}

#[test]
fn register_sign_verify_every_scheme() {
    let mut rng = rng(1);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let mut device = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    assert_eq!(device.public_key().bits(), 1536);
    assert_eq!(
        &server.public_key(device.key_id()).unwrap(),
        device.public_key()
    );
    for (i, scheme) in [
        Scheme::Pkcs1v15(HashAlg::Sha256),
        Scheme::Pkcs1v15(HashAlg::Sha384),
        Scheme::Pkcs1v15(HashAlg::Sha512),
        Scheme::Pss(HashAlg::Sha256),
        Scheme::Pss(HashAlg::Sha384),
        Scheme::Pss(HashAlg::Sha512),
    ]
    .into_iter()
    .enumerate()
    {
        let digest = scheme.hash().digest(format!("message {i}").as_bytes());
        let request = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
        let request = SigningRequest::from_bytes(&request.to_bytes()).unwrap();
        let partial = device.sign(&mut rng, &request, &pin).unwrap();
        let partial = SealedPartialSignature::from_bytes(&partial.to_bytes()).unwrap();
        let response = server
            .complete(&mut rng, &request, &partial, T0 + i as u64)
            .unwrap();
        let response = split_rsa::SigningResponse::from_bytes(&response.to_bytes()).unwrap();
        let sig = device.accept(&request, &response).unwrap();
        assert_eq!(sig.len(), 192);
        verify(device.public_key(), scheme, &digest, &sig).unwrap();
        // The record survives a round trip through its encoding.
        device = DeviceRecord::from_bytes(&device.to_bytes()).unwrap();
    }
}

#[test]
fn wrong_pin_is_counted_and_locks_then_destroys() {
    let mut rng = rng(2);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let device = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"x");
    let mut now = T0;
    let try_sign = |now: u64, pin: &Pin, rng: &mut ChaCha20Rng| {
        let req = SigningRequest::new(rng, *device.key_id(), scheme, &digest).unwrap();
        let partial = device.sign(rng, &req, pin).unwrap();
        server.complete(rng, &req, &partial, now)
    };
    for round in 0..3u64 {
        for k in 1..=3u32 {
            let r = try_sign(now, &pin2("11235"), &mut rng);
            let failures = (round as u32) * 3 + k;
            match (failures, r) {
                (9, Err(Error::KeyDestroyed)) => {}
                (
                    3 | 6,
                    Err(Error::WrongPin {
                        attempts_left,
                        locked_until: Some(t),
                    }),
                ) => {
                    assert_eq!(attempts_left, 9 - failures);
                    let hours = if failures == 3 { 3 } else { 24 };
                    assert_eq!(t, now + hours * 3600);
                }
                (
                    _,
                    Err(Error::WrongPin {
                        attempts_left,
                        locked_until: None,
                    }),
                ) => {
                    assert_eq!(attempts_left, 9 - failures)
                }
                (f, other) => panic!("failure {f}: unexpected {other:?}"),
            }
        }
        if round < 2 {
            // Locked: even the right PIN is refused without evaluation.
            assert!(matches!(
                try_sign(now + 1, &pin, &mut rng),
                Err(Error::KeyLocked { .. })
            ));
            now += if round == 0 { 3 * 3600 } else { 24 * 3600 };
        }
    }
    assert!(matches!(
        try_sign(now, &pin, &mut rng),
        Err(Error::KeyDestroyed)
    ));
}

#[test]
fn success_resets_the_count_and_keys_are_independent() {
    let mut rng = rng(3);
    let server = server(&mut rng);
    let pin1 = Pin::new("4071", KeyPurpose::Authentication).unwrap();
    let pin_2 = pin2("50731");
    let auth = register(&mut rng, &server, KeyPurpose::Authentication, &pin1);
    let mut sign = register(&mut rng, &server, KeyPurpose::Signing, &pin_2);
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"y");
    // Two wrong PIN2 attempts, then a success resets the count.
    for _ in 0..2 {
        let req = SigningRequest::new(&mut rng, *sign.key_id(), scheme, &digest).unwrap();
        let p = sign.sign(&mut rng, &req, &pin2("99127")).unwrap();
        assert!(matches!(
            server.complete(&mut rng, &req, &p, T0),
            Err(Error::WrongPin { .. })
        ));
    }
    let req = SigningRequest::new(&mut rng, *sign.key_id(), scheme, &digest).unwrap();
    let p = sign.sign(&mut rng, &req, &pin_2).unwrap();
    let resp = server.complete(&mut rng, &req, &p, T0).unwrap();
    sign.accept(&req, &resp).unwrap();
    let req = SigningRequest::new(&mut rng, *sign.key_id(), scheme, &digest).unwrap();
    let p = sign.sign(&mut rng, &req, &pin2("99127")).unwrap();
    match server.complete(&mut rng, &req, &p, T0) {
        Err(Error::WrongPin {
            attempts_left: 8,
            locked_until: None,
        }) => {}
        other => panic!("{other:?}"),
    }
    // The authentication key is untouched.
    let req = SigningRequest::new(&mut rng, *auth.key_id(), scheme, &digest).unwrap();
    let p = auth.sign(&mut rng, &req, &pin1).unwrap();
    server.complete(&mut rng, &req, &p, T0).unwrap();
}

#[test]
fn clone_is_detected_and_the_key_destroyed() {
    let mut rng = rng(4);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let mut original = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    let mut copy = DeviceRecord::from_bytes(&original.to_bytes()).unwrap();
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"z");
    // The thief signs with the copy (knowing the PIN).
    let req = SigningRequest::new(&mut rng, *copy.key_id(), scheme, &digest).unwrap();
    let p = copy.sign(&mut rng, &req, &pin).unwrap();
    let r = server.complete(&mut rng, &req, &p, T0).unwrap();
    copy.accept(&req, &r).unwrap();
    // The owner signs with the original: its OTP is stale.
    let req = SigningRequest::new(&mut rng, *original.key_id(), scheme, &digest).unwrap();
    let p = original.sign(&mut rng, &req, &pin).unwrap();
    assert_eq!(
        server.complete(&mut rng, &req, &p, T0).unwrap_err(),
        Error::CloneDetected
    );
    // Destroyed for everyone.
    let req = SigningRequest::new(&mut rng, *copy.key_id(), scheme, &digest).unwrap();
    let p = copy.sign(&mut rng, &req, &pin).unwrap();
    assert_eq!(
        server.complete(&mut rng, &req, &p, T0).unwrap_err(),
        Error::KeyDestroyed
    );
    assert!(original.accept(&req, &r).is_err());
}

#[test]
fn lost_response_is_resent_without_clone_flag() {
    let mut rng = rng(5);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let mut device = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    let scheme = Scheme::Pss(HashAlg::Sha512);
    let digest = HashAlg::Sha512.digest(b"w");
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
    let p = device.sign(&mut rng, &req, &pin).unwrap();
    let first = server.complete(&mut rng, &req, &p, T0).unwrap();
    // The answer is lost; the device sends the same partial signature again.
    let again = server.complete(&mut rng, &req, &p, T0 + 5).unwrap();
    assert_eq!(first, again);
    device.accept(&req, &again).unwrap();
    // And the key goes on working.
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
    let p = device.sign(&mut rng, &req, &pin).unwrap();
    let r = server.complete(&mut rng, &req, &p, T0 + 10).unwrap();
    device.accept(&req, &r).unwrap();
}

#[test]
fn tampering_and_mismatches_are_rejected() {
    let mut rng = rng(6);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let device = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"v");
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
    let p = device.sign(&mut rng, &req, &pin).unwrap();
    // A different request (other digest, same ids) does not open: the AAD binds the request.
    let mut other = req.clone();
    let other_digest = HashAlg::Sha256.digest(b"u");
    other = SigningRequest::from_bytes(&{
        let mut b = other.to_bytes();
        let n = b.len();
        b[n - 4 - 32..n - 4].copy_from_slice(&other_digest);
        b
    })
    .unwrap();
    assert_eq!(
        server.complete(&mut rng, &other, &p, T0).unwrap_err(),
        Error::Unseal
    );
    // Any flipped byte of the sealed part is refused.
    let bytes = p.to_bytes();
    for i in [bytes.len() - 1, bytes.len() - 20, 6 + 32 + 5] {
        let mut t = bytes.clone();
        t[i] ^= 1;
        let t = SealedPartialSignature::from_bytes(&t).unwrap();
        assert_eq!(
            server.complete(&mut rng, &req, &t, T0).unwrap_err(),
            Error::Unseal
        );
    }
    // Nothing was counted: the right PIN still works with the full budget.
    let r = server.complete(&mut rng, &req, &p, T0).unwrap();
    verify(device.public_key(), scheme, &digest, r.signature()).unwrap();
}

#[test]
fn injected_faults_release_nothing() {
    let mut rng = rng(7);
    let server = server(&mut rng);
    let pin = pin2("50731");
    let device = register(&mut rng, &server, KeyPurpose::Signing, &pin);
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"t");
    for after in [false, true] {
        let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
        let p = device.sign(&mut rng, &req, &pin).unwrap();
        let r = server.complete_with_injected_fault(&mut rng, &req, &p, T0, after);
        assert_eq!(r.unwrap_err(), Error::Fault);
    }
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
    let p = device.sign(&mut rng, &req, &pin).unwrap();
    server.complete(&mut rng, &req, &p, T0).unwrap();
}

/// A partial signature with a chosen y, sealed exactly as a device would (SPEC §4.4, §6).
fn forged_partial(
    rng: &mut ChaCha20Rng,
    server: &Server<InMemoryKeyStore<ServerShare>>,
    request: &SigningRequest,
    y: &[u8],
) -> SealedPartialSignature {
    use sha2::{Digest, Sha256};
    let mut aad = b"SRSA\x01\x04".to_vec();
    aad.extend_from_slice(request.key_id());
    aad.extend_from_slice(request.request_id());
    aad.extend_from_slice(&Sha256::digest(request.to_bytes()));
    let mut plaintext = b"SRSA\x01\x06".to_vec();
    plaintext.extend_from_slice(&[7u8; 32]); // some OTP: y is checked before the OTP
    plaintext.extend_from_slice(y);
    let sealed =
        split_rsa::seal_to_server(rng, &server.transport_public_key(), &aad, &plaintext).unwrap();
    let mut bytes = b"SRSA\x01\x04".to_vec();
    bytes.extend_from_slice(request.key_id());
    bytes.extend_from_slice(request.request_id());
    bytes.extend_from_slice(sealed.enc());
    bytes.extend_from_slice(&(sealed.ciphertext().len() as u32).to_be_bytes());
    bytes.extend_from_slice(sealed.ciphertext());
    SealedPartialSignature::from_bytes(&bytes).unwrap()
}

#[test]
fn out_of_range_or_tampered_y_is_refused_counted_and_leaks_nothing() {
    let mut rng = rng(8);
    let server = server(&mut rng);
    let size = KeySize::insecure_for_tests(768).unwrap();
    let pin = pin2("50731");
    let (reg, request) = DeviceRegistration::start(
        &mut rng,
        KeyPurpose::Signing,
        size,
        &server.transport_public_key(),
    )
    .unwrap();
    let n1 = request.n1().to_vec();
    let response = server.register(&mut rng, &request, T0).unwrap();
    let device = reg
        .finish(
            &mut rng,
            response,
            &pin,
            Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"s");
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();

    // y = n1 and y = all-ones: out of range, refused with a decode error naming y, counted.
    let mut all_ones = vec![0xffu8; n1.len()];
    all_ones[0] = 0xff;
    for y in [n1.clone(), all_ones] {
        let p = forged_partial(&mut rng, &server, &req, &y);
        let e = server.complete(&mut rng, &req, &p, T0).unwrap_err();
        assert_eq!(
            e,
            Error::Decode(split_rsa::DecodeError::new(
                "y",
                split_rsa::DecodeErrorKind::OutOfRange
            ))
        );
    }
    // A y of the wrong length: refused.
    let p = forged_partial(&mut rng, &server, &req, &n1[1..]);
    assert!(matches!(
        server.complete(&mut rng, &req, &p, T0),
        Err(Error::Decode(_))
    ));
    // Tampered y values in range (0, 1, n1 - 1, random): exactly a wrong PIN, no detail.
    let mut n1_minus_1 = n1.clone();
    *n1_minus_1.last_mut().unwrap() -= 1;
    let mut random = vec![0u8; n1.len()];
    rand_core::Rng::fill_bytes(&mut rng, &mut random);
    random[0] &= 0x7f;
    let mut zero = vec![0u8; n1.len()];
    let mut one = zero.clone();
    *one.last_mut().unwrap() = 1;
    zero[0] = 0;
    // The three refused above were charged: the key is locked for 3 hours.
    let p = forged_partial(&mut rng, &server, &req, &zero);
    assert!(matches!(
        server.complete(&mut rng, &req, &p, T0),
        Err(Error::KeyLocked { .. })
    ));
    let later = T0 + 3 * 3600;
    let mut attempts = 9 - 3;
    for y in [zero, one, n1_minus_1] {
        let p = forged_partial(&mut rng, &server, &req, &y);
        attempts -= 1;
        match server.complete(&mut rng, &req, &p, later) {
            Err(Error::WrongPin { attempts_left, .. }) => assert_eq!(attempts_left, attempts),
            other => panic!("{other:?}"),
        }
    }
    // Locked now (6 failures): the next one is refused without evaluation.
    let p = forged_partial(&mut rng, &server, &req, &random);
    assert!(matches!(
        server.complete(&mut rng, &req, &p, later),
        Err(Error::KeyLocked { .. })
    ));
}

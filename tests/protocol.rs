//! End-to-end protocol tests (SPEC §3, §4, §5, §7) on test-size keys, through the public API
//! and the messages' byte encodings: registration, signing with every scheme, wrong PINs and
//! the 3/6/9 lockout, independence of keys, tampering and fault injection, malformed y.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "support/env.rs"]
mod env;

use env::{Env, NOW, PIN1, PIN2, pin};
use split_rsa::{
    DecodeErrorKind, DeviceRegistration, Error, HashAlg, KeyPurpose, Outcome,
    RegistrationChallenge, RegistrationRequest, Scheme, SealedPartialSignature, SealedResponse,
    SigningRequest, verify,
};

const SIGNING: KeyPurpose = KeyPurpose::Signing;
const HOUR: u64 = 3600;

/// Every message crosses the "network" as bytes and is decoded strictly on the other side.
fn over_the_wire<T>(bytes: Vec<u8>, decode: fn(&[u8]) -> split_rsa::Result<T>) -> T {
    decode(&bytes).expect("strict decoding of a canonical encoding")
}

#[test]
fn register_sign_verify_every_scheme() {
    let mut env = Env::with_size(1, 768);
    // Registration, every message as bytes.
    let challenge = over_the_wire(
        env.server.issue_challenge(&mut env.rng, NOW).to_bytes(),
        RegistrationChallenge::from_bytes,
    );
    let (registration, request) = DeviceRegistration::start(
        &mut env.rng,
        &challenge,
        SIGNING,
        env.size,
        &env.server.transport_public_key(),
    )
    .unwrap();
    let request = over_the_wire(request.to_bytes(), RegistrationRequest::from_bytes);
    let registered = env.server.register(&mut env.rng, &request, NOW).unwrap();
    let response = over_the_wire(registered.response.to_bytes(), SealedResponse::from_bytes);
    let answer = registration.open_response(&response).unwrap();
    assert_eq!(answer.key_id(), &registered.key_id);
    let mut device = registration
        .finish(
            &mut env.rng,
            answer,
            &pin(PIN2, SIGNING),
            split_rsa::Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();
    assert_eq!(device.public_key(), &registered.public_key);
    assert_eq!(device.public_key().bits(), 1536);

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
        let digest = scheme.hash().digest(&[i as u8; 40]);
        let request = env
            .server
            .create_request(&mut env.rng, device.key_id(), SIGNING, scheme, &digest, NOW)
            .unwrap();
        let request = over_the_wire(request.to_bytes(), SigningRequest::from_bytes);
        let message = device
            .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
            .unwrap();
        let message = over_the_wire(message.to_bytes(), SealedPartialSignature::from_bytes);
        let done = env.server.complete(&mut env.rng, &message, NOW).unwrap();
        let Outcome::Completed { signature } = &done.outcome else {
            panic!("{:?}", done.outcome)
        };
        let response = over_the_wire(done.response.to_bytes(), SealedResponse::from_bytes);
        let accepted = device.accept(&response).unwrap();
        assert_eq!(accepted, done.outcome);
        assert_eq!(signature.len(), device.public_key().size());
        verify(device.public_key(), scheme, &digest, signature).unwrap();
        // The device record round-trips after every accepted signature.
        assert_eq!(copy_bytes(&device), device.to_bytes().to_vec());
    }
}

fn copy_bytes(device: &split_rsa::DeviceRecord) -> Vec<u8> {
    split_rsa::DeviceRecord::from_bytes(&device.to_bytes())
        .unwrap()
        .to_bytes()
        .to_vec()
}

/// SPEC §7 defaults: locked 3 h at 3 wrong PINs, 24 h at 6, destroyed at 9; locked keys
/// refuse without evaluating; the answers say how many attempts are left.
#[test]
fn wrong_pins_are_counted_lock_and_then_destroy() {
    let mut env = Env::new(2);
    let mut device = env.register(SIGNING, PIN2);
    let mut expected_left = 9;
    for round in 1..=9u32 {
        let out = env.sign(&mut device, "11111", &round.to_be_bytes());
        expected_left -= 1;
        match (round, out) {
            (9, Outcome::Destroyed) => {}
            (
                _,
                Outcome::WrongPin {
                    attempts_left,
                    locked_until,
                },
            ) => {
                assert_eq!(attempts_left, expected_left);
                let lock = match round {
                    3 => Some(env.now + 3 * HOUR),
                    6 => Some(env.now + 24 * HOUR),
                    _ => None,
                };
                assert_eq!(locked_until, lock);
                if let Some(until) = lock {
                    // While locked, nothing can start or be evaluated.
                    let refused = env.server.create_request(
                        &mut env.rng,
                        device.key_id(),
                        SIGNING,
                        Scheme::Pss(HashAlg::Sha256),
                        &HashAlg::Sha256.digest(b"x"),
                        until - 1,
                    );
                    assert_eq!(
                        refused.unwrap_err(),
                        Error::KeyLocked { until: Some(until) }
                    );
                    env.now = until;
                }
            }
            (r, other) => panic!("round {r}: {other:?}"),
        }
    }
    assert_eq!(env.evaluations(), 9);
    assert!(device.is_dead());
    assert!(env.record(device.key_id()).destroyed().is_some());
    assert_eq!(
        env.server.public_key(device.key_id(), env.now).unwrap_err(),
        Error::KeyDestroyed
    );
}

/// Only a completed signature resets the count; PIN1 and PIN2 keys count separately.
#[test]
fn success_resets_the_count_and_keys_are_independent() {
    let mut env = Env::new(3);
    let mut auth = env.register(KeyPurpose::Authentication, PIN1);
    let mut sign = env.register(SIGNING, PIN2);
    for _ in 0..2 {
        assert!(matches!(
            env.sign(&mut sign, "11111", b"w"),
            Outcome::WrongPin { .. }
        ));
    }
    assert!(matches!(
        env.sign(&mut auth, "0000", b"w"),
        Outcome::WrongPin { .. }
    ));
    assert_eq!(env.failures(sign.key_id()), 2);
    assert_eq!(env.failures(auth.key_id()), 1);
    assert!(matches!(
        env.sign(&mut sign, PIN2, b"ok"),
        Outcome::Completed { .. }
    ));
    assert_eq!(env.failures(sign.key_id()), 0);
    assert_eq!(env.failures(auth.key_id()), 1);
    // A PIN1 PIN cannot be used with the PIN2 key (the device refuses before computing).
    let request = env.request(&sign, b"z");
    assert!(matches!(
        sign.sign(
            &mut env.rng,
            &request,
            &pin(PIN1, KeyPurpose::Authentication)
        ),
        Err(Error::InvalidRequest(_))
    ));
}

/// SPEC §4.5 a, §6: a message that does not open (tampered sealed part, tampered clear
/// fields, another request's hash) is refused with a plain error and changes nothing.
#[test]
fn tampered_messages_are_refused_and_change_nothing() {
    let mut env = Env::new(4);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"v");
    let message = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    let record = env.record(device.key_id());
    let bytes = message.to_bytes();
    // Flip bytes in the request id, the request hash, enc and the ciphertext.
    for i in [
        6 + 16 + 3,
        6 + 32 + 7,
        6 + 64 + 5,
        bytes.len() - 1,
        bytes.len() - 20,
    ] {
        let mut t = bytes.clone();
        t[i] ^= 1;
        let t = SealedPartialSignature::from_bytes(&t).unwrap();
        assert_eq!(
            env.server.complete(&mut env.rng, &t, NOW).unwrap_err(),
            Error::Unseal
        );
    }
    assert_eq!(env.record(device.key_id()), record);
    assert_eq!(env.evaluations(), 0);
    let done = env.server.complete(&mut env.rng, &message, NOW).unwrap();
    assert!(matches!(
        device.accept(&done.response).unwrap(),
        Outcome::Completed { .. }
    ));
}

/// SPEC §4.5 h, STYLE rule 6: a fault in the server's own s2 (before or after its check) is
/// caught by the checks and nothing is released; the charge stands and a resend of the same
/// message is evaluated again without a second charge.
#[test]
fn injected_faults_release_nothing() {
    let mut env = Env::new(5);
    let mut device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"t");
    let message = device
        .sign(&mut env.rng, &request, &pin(PIN2, SIGNING))
        .unwrap();
    for after in [false, true] {
        let r = env
            .server
            .complete_with_injected_fault(&mut env.rng, &message, NOW, after);
        assert_eq!(r.unwrap_err(), Error::Fault);
        assert_eq!(env.failures(device.key_id()), 1, "charged once, not twice");
    }
    let done = env.server.complete(&mut env.rng, &message, NOW).unwrap();
    let Outcome::Completed { signature } = device.accept(&done.response).unwrap() else {
        panic!()
    };
    verify(
        device.public_key(),
        request.scheme(),
        request.digest(),
        &signature,
    )
    .unwrap();
    assert_eq!(env.failures(device.key_id()), 0);
}

/// A y of the wrong length is refused by the decoder before anything is charged; a y that is
/// out of range (>= n1) or tampered in range is exactly a wrong PIN: counted, no detail.
#[test]
fn malformed_or_tampered_y_is_a_counted_wrong_pin_without_detail() {
    let mut env = Env::new(6);
    let device = env.register(SIGNING, PIN2);
    let request = env.request(&device, b"s");
    let otp = split_rsa::hazmat::device::otp(&device);
    let k1 = env.size.bytes();
    // Wrong length: the message itself does not decode (its ciphertext length is no key
    // size); nothing reaches the key.
    let short = vec![1u8; k1 - 1];
    let plaintext = split_rsa::__fuzz::encode_partial_signature(&otp, &short);
    assert!(matches!(
        seal(&mut env, &request, &plaintext),
        Err(Error::Decode(e)) if e.kind == DecodeErrorKind::Invalid
    ));
    assert_eq!(env.failures(device.key_id()), 0);
    // Out of range (n1, all ones) and tampered in range (0, n1 - 1): a wrong PIN, counted,
    // with no detail about y.
    let n1 = split_rsa::hazmat::device::n1(&device).to_vec();
    let mut n1_minus_1 = n1.clone();
    *n1_minus_1.last_mut().unwrap() -= 1;
    let ones = vec![0xffu8; k1];
    let zero = vec![0u8; k1];
    for (i, y) in [n1, ones, zero, n1_minus_1].into_iter().enumerate() {
        if i == 3 {
            env.now += 3 * HOUR; // the third failure locked the key
        }
        let request = env.request(&device, &[i as u8]);
        let plaintext = split_rsa::__fuzz::encode_partial_signature(&otp, &y);
        let message = seal(&mut env, &request, &plaintext).unwrap();
        let out = env
            .server
            .complete(&mut env.rng, &message, env.now)
            .unwrap();
        let Outcome::WrongPin {
            attempts_left,
            locked_until,
        } = out.outcome
        else {
            panic!("y #{i}: {:?}", out.outcome)
        };
        assert_eq!(attempts_left, 8 - i as u32);
        assert_eq!(locked_until.is_some(), i == 2);
    }
    assert_eq!(env.evaluations(), 4);
}

/// Seals a partial-signature plaintext for `request` as a device would (SPEC §4.4, §6).
fn seal(
    env: &mut Env,
    request: &SigningRequest,
    plaintext: &[u8],
) -> split_rsa::Result<SealedPartialSignature> {
    let aad = split_rsa::__fuzz::partial_aad(request);
    let sealed = split_rsa::seal_to_server(
        &mut env.rng,
        &env.server.transport_public_key(),
        &aad,
        plaintext,
    )
    .unwrap();
    let mut bytes = b"SRSA\x02\x04".to_vec();
    bytes.extend_from_slice(request.key_id().as_bytes());
    bytes.extend_from_slice(request.request_id().as_bytes());
    bytes.extend_from_slice(&request.hash());
    bytes.extend_from_slice(sealed.enc());
    bytes.extend_from_slice(&(sealed.ciphertext().len() as u32).to_be_bytes());
    bytes.extend_from_slice(sealed.ciphertext());
    SealedPartialSignature::from_bytes(&bytes)
}

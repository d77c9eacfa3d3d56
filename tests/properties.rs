//! SPEC §1 properties (a), (b) and (f), shown directly on the shares (test-size keys):
//! neither share alone yields a valid signature, and no message or record holds both shares or
//! a share in the clear.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::KeyStore as _;
use split_rsa::hazmat::arith::{Modulus, Uint};
use split_rsa::hazmat::keygen::{device_parts, payload_parts, server_parts};
use split_rsa::{
    Argon2Params, DeviceRegistration, DeviceShare, HashAlg, InMemoryKeyStore, KekId, KeyPurpose,
    KeySize, LocalKek, Outcome, Pin, PublicKey, Scheme, Server, ServerPolicy, ServerShare,
    ServerTransportKey, verify,
};

fn e() -> Uint {
    Uint::from_u64(65537, 1)
}

/// x^e == m (mod the modulus), for integers x, m.
fn is_eth_root<M>(modulus: &Modulus<M>, x: &Uint, m: &Uint) -> bool {
    let xe = modulus.pow_vartime(&modulus.to_monty(x), &e());
    bool::from(xe.ct_eq(&modulus.to_monty(m)))
}

fn random_message(rng: &mut ChaCha20Rng, bytes: usize) -> Uint {
    let mut b = vec![0u8; bytes];
    rng.fill_bytes(&mut b);
    b[0] &= 0x3f;
    Uint::from_be_bytes(&b)
}

#[test]
fn neither_share_alone_signs_but_both_together_do() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let size = KeySize::insecure_for_tests(768).unwrap();
    let (device, payload) = DeviceShare::generate(&mut rng, size).unwrap();
    let server = ServerShare::generate(&mut rng, payload, size).unwrap();
    let (n1, d1p, d1p_bits) = device_parts(&device);
    let (n1_s, d1pp, ..) = server_parts(&server);
    for _ in 0..8 {
        let m = random_message(&mut rng, 2 * size.bytes());
        let mm = n1.to_monty(&m);
        // (b) The device alone: y = m^d1' is not an RSA signature mod n1.
        let y = n1.from_monty(&n1.pow(&mm, d1p, d1p_bits));
        assert!(!is_eth_root(n1, &y, &m), "device share alone signed");
        // (a) The server alone: m^d1'' (y = 1, no device contribution) is not one either.
        let t = n1_s.from_monty(&n1_s.pow(&n1_s.to_monty(&m), d1pp, d1pp.bits_precision()));
        assert!(!is_eth_root(n1_s, &t, &m), "server share alone signed");
        // Both together: y * m^d1'' is.
        let s1 = n1.from_monty(&n1.mul(&n1.to_monty(&y), &n1.to_monty(&t)));
        assert!(is_eth_root(n1, &s1, &m));
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn no_message_or_record_carries_a_share_in_the_clear() {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    let size = KeySize::insecure_for_tests(768).unwrap();
    // Shares from a key generated the same way as inside DeviceRegistration::start, to know
    // their values; then the real flow from the same seed.
    let mut probe = ChaCha20Rng::seed_from_u64(13);
    let (device, payload) = DeviceShare::generate(&mut probe, size).unwrap();
    let (d1p_bytes, _) = device_parts(&device).1.to_be_bytes(size.bytes() + 16);
    let (d1pp_bytes, _) = payload_parts(&payload).1.to_be_bytes(size.bytes());
    // (f) The payload for the server never holds d1'.
    assert!(!contains(&payload.to_bytes(), &d1p_bytes[..32]));

    let server = Server::new(
        ServerTransportKey::generate(&mut rng),
        InMemoryKeyStore::new(),
        LocalKek::generate(&mut rng, KekId(1)),
        ServerPolicy::default(),
        size,
    );
    let pin = Pin::new("58213", KeyPurpose::Signing).unwrap();
    let challenge = server.issue_challenge(&mut rng, 0);
    let mut flow = ChaCha20Rng::seed_from_u64(13);
    let (reg, request) = DeviceRegistration::start(
        &mut flow,
        &challenge,
        KeyPurpose::Signing,
        size,
        &server.transport_public_key(),
    )
    .unwrap();
    // Same seed, same key: the registration request carries d1'' only sealed.
    assert_eq!(
        request.n1(),
        device.n1_be_bytes().as_slice(),
        "same seed, same key"
    );
    let req_bytes = request.to_bytes();
    assert!(contains(&req_bytes, request.n1()));
    assert!(!contains(&req_bytes, &d1pp_bytes[..32]));
    let registered = server.register(&mut rng, &request, 0).unwrap();
    // The server's record holds d1'' only sealed under the KEK.
    let stored = server.store().load(&registered.key_id).unwrap().unwrap();
    assert!(!contains(&stored.blob, &d1pp_bytes[..32]));
    let answer = reg.open_response(&registered.response).unwrap();
    let mut record = reg
        .finish(
            &mut flow,
            answer,
            &pin,
            Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();
    // The device record holds neither share in the clear.
    let rec = record.to_bytes();
    assert!(!contains(&rec, &d1p_bytes[..32]));
    assert!(!contains(&rec, &d1pp_bytes[..32]));
    // And the key works: the shares did combine into a valid signature under (n, e).
    let digest = HashAlg::Sha256.digest(b"m");
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let req = server
        .create_request(
            &mut rng,
            record.key_id(),
            KeyPurpose::Signing,
            scheme,
            &digest,
            0,
        )
        .unwrap();
    let p = record.sign(&mut rng, &req, &pin).unwrap();
    // The pending device record holds neither share either.
    let pending = record.to_bytes();
    assert!(!contains(&pending, &d1p_bytes[..32]));
    let r = server.complete(&mut rng, &p, 0).unwrap();
    let Outcome::Completed { signature } = record.accept(&r.response).unwrap() else {
        panic!("the right PIN completes")
    };
    let pk: &PublicKey = record.public_key();
    verify(pk, scheme, &digest, &signature).unwrap();
}

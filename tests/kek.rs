//! Shares at rest (SPEC §7): the server's share inside every stored record is sealed under a
//! key-encryption key the store never sees; KEKs rotate by re-wrapping every record; a record
//! whose sealed share does not authenticate (altered in the store, or moved from another key)
//! is refused with a typed error and evaluates nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, Error, HashAlg, InMemoryKeyStore, KekError,
    KekId, KeyPurpose, KeySize, KeyStore, LocalKek, Outcome, Pin, Scheme, Server, ServerPolicy,
    ServerTransportKey,
};

const NOW: u64 = 1_800_000_000;

fn size() -> KeySize {
    KeySize::insecure_for_tests(512).unwrap()
}

fn pin() -> Pin {
    Pin::new("58213", KeyPurpose::Signing).unwrap()
}

/// A server over `store` with `kek` and the transport key from `transport` (its bytes).
fn server(
    store: &Arc<InMemoryKeyStore>,
    transport: &[u8],
    kek: LocalKek,
) -> Server<Arc<InMemoryKeyStore>, LocalKek> {
    Server::new(
        ServerTransportKey::from_bytes(transport).unwrap(),
        store.clone(),
        kek,
        ServerPolicy::default(),
        size(),
    )
}

fn register(
    rng: &mut ChaCha20Rng,
    server: &Server<Arc<InMemoryKeyStore>, LocalKek>,
) -> DeviceRecord {
    let challenge = server.issue_challenge(rng, NOW);
    let (registration, request) = DeviceRegistration::start(
        rng,
        &challenge,
        KeyPurpose::Signing,
        size(),
        &server.transport_public_key(),
    )
    .unwrap();
    let registered = server.register(rng, &request, NOW).unwrap();
    let answer = registration.open_response(&registered.response).unwrap();
    registration
        .finish(rng, answer, &pin(), Argon2Params::insecure_fast_for_tests())
        .unwrap()
}

fn sign(
    rng: &mut ChaCha20Rng,
    server: &Server<Arc<InMemoryKeyStore>, LocalKek>,
    device: &mut DeviceRecord,
) -> split_rsa::Result<Outcome> {
    let request = server.create_request(
        rng,
        device.key_id(),
        KeyPurpose::Signing,
        Scheme::Pss(HashAlg::Sha256),
        &HashAlg::Sha256.digest(b"m"),
        NOW,
    )?;
    let message = device.sign(rng, &request, &pin())?;
    let done = server.complete(rng, &message, NOW)?;
    device.accept(&done.response)
}

/// Rotation: records sealed under KEK 1 keep working while KEK 1 is still held; `rewrap`
/// re-seals each under KEK 2 (changing nothing else); once KEK 1 is retired, a record that was
/// re-wrapped works and one that was not is refused with `KekError::UnknownKek(1)`.
#[test]
fn kek_rotation_rewraps_records_and_retiring_the_old_kek_strands_the_rest() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6b65_6b01);
    let store = Arc::new(InMemoryKeyStore::new());
    let transport = ServerTransportKey::generate(&mut rng).to_bytes();
    let (k1, k2) = ([1u8; 32], [2u8; 32]);
    let first = server(&store, transport.as_slice(), LocalKek::new(KekId(1), &k1));
    let mut a = register(&mut rng, &first);
    let mut b = register(&mut rng, &first);
    drop(first);

    // KEK 2 is current, KEK 1 still held.
    let mut kek = LocalKek::new(KekId(1), &k1);
    kek.rotate(KekId(2), &k2).unwrap();
    let second = server(&store, transport.as_slice(), kek);
    assert!(matches!(
        sign(&mut rng, &second, &mut a).unwrap(),
        Outcome::Completed { .. }
    ));
    let (before, _) = second.load(a.key_id()).unwrap();
    assert_eq!(before.active().unwrap().share().kek(), KekId(1));
    assert!(second.rewrap(&mut rng, a.key_id()).unwrap());
    assert!(!second.rewrap(&mut rng, a.key_id()).unwrap(), "idempotent");
    let (after, _) = second.load(a.key_id()).unwrap();
    assert_eq!(after.active().unwrap().share().kek(), KekId(2));
    assert_eq!(
        after.active().unwrap().failures(),
        before.active().unwrap().failures()
    );
    assert_ne!(
        after.active().unwrap().share(),
        before.active().unwrap().share()
    );
    drop(second);

    // KEK 1 retired.
    let mut kek = LocalKek::new(KekId(1), &k1);
    kek.rotate(KekId(2), &k2).unwrap();
    kek.retire(KekId(1)).unwrap();
    let third = server(&store, transport.as_slice(), kek);
    assert!(matches!(
        sign(&mut rng, &third, &mut a).unwrap(),
        Outcome::Completed { .. }
    ));
    assert_eq!(
        sign(&mut rng, &third, &mut b).unwrap_err(),
        Error::Kek(KekError::UnknownKek(1))
    );
    assert_eq!(
        third.rewrap(&mut rng, b.key_id()).unwrap_err(),
        Error::Kek(KekError::UnknownKek(1))
    );
}

/// A record whose sealed share was altered in the store, or moved from another key's record,
/// does not authenticate: `KekError::NotAuthentic`, and the share is never used. (The charge
/// before the evaluation stands, as for any failed evaluation: SPEC §4.5 g.)
#[test]
fn a_share_that_does_not_authenticate_is_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x6b65_6b02);
    let store = Arc::new(InMemoryKeyStore::new());
    let transport = ServerTransportKey::generate(&mut rng).to_bytes();
    let key = [7u8; 32];
    let srv = server(&store, transport.as_slice(), LocalKek::new(KekId(1), &key));
    let mut a = register(&mut rng, &srv);
    let mut b = register(&mut rng, &srv);

    // Flip one byte of a's sealed share, in the store.
    let stored = store.load(a.key_id()).unwrap().unwrap();
    let mut blob = stored.blob.to_vec();
    let at = blob.len() - 20;
    blob[at] ^= 1;
    store
        .compare_and_swap(a.key_id(), stored.version, &blob)
        .unwrap();
    assert_eq!(
        sign(&mut rng, &srv, &mut a).unwrap_err(),
        Error::Kek(KekError::NotAuthentic)
    );

    // Move b's sealed share (valid under the same KEK) into a's record: it is bound to b's
    // key id and n1, so it does not authenticate for a.
    let sa = store.load(a.key_id()).unwrap().unwrap();
    let sb = store.load(b.key_id()).unwrap().unwrap();
    let (ia, ib) = (
        sa.blob.len() - share_section_len(&sa.blob),
        sb.blob.len() - share_section_len(&sb.blob),
    );
    let mut moved = sa.blob[..ia].to_vec();
    moved.extend_from_slice(&sb.blob[ib..]);
    store
        .compare_and_swap(a.key_id(), sa.version, &moved)
        .unwrap();
    // a's message from above is still pending at the device and unresolved at the server:
    // its resend is evaluated again, and refused again.
    assert_eq!(
        srv.complete(&mut rng, &a.resend().unwrap(), NOW)
            .unwrap_err(),
        Error::Kek(KekError::NotAuthentic)
    );
    // b's own record is untouched.
    assert!(matches!(
        sign(&mut rng, &srv, &mut b).unwrap(),
        Outcome::Completed { .. }
    ));
}

/// The length of a record's trailing share section: `u32 kek || 24-byte nonce || u32 length
/// || ciphertext` (docs/encodings.md, server key record).
fn share_section_len(blob: &[u8]) -> usize {
    // Walk back: the ciphertext length is a u32 just before the ciphertext; find the offset
    // o such that blob[o..o+4] as u32 == blob.len() - o - 4 and blob[o-28..o-24] is KEK 1.
    for o in (32..blob.len() - 4).rev() {
        let len = u32::from_be_bytes(blob[o..o + 4].try_into().unwrap()) as usize;
        if len == blob.len() - o - 4 && blob[o - 28..o - 24] == 1u32.to_be_bytes() {
            return blob.len() - (o - 28);
        }
    }
    panic!("no share section")
}

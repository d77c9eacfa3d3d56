//! SPEC §9 canonical encodings: known-answer tests pinning every message and record byte for
//! byte, seeded round-trip property tests, and one rejection test per kind of malformed input
//! (short, trailing, wrong header, oversize length, non-canonical integer, out of range value,
//! unknown tag). Layouts are in docs/encodings.md; the known answers in tests/data/encodings/
//! (see the README there for how they were made).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use std::path::PathBuf;
use std::sync::OnceLock;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::__fuzz::{decode_partial_signature, encode_partial_signature, partial_aad};
use split_rsa::{
    ActiveKey, Answer, Argon2Params, AttemptState, DecodeErrorKind, DestroyReason, DeviceRecord,
    DeviceRegistration, DeviceShare, Error, HashAlg, InMemoryKeyStore, KeyPurpose, KeyRecord,
    KeySize, KeyState, KeyStore, LastExchange, Otp, OtpHash, OtpState, Pin, PublicKey,
    RegistrationPayload, RegistrationRequest, RegistrationResponse, Scheme, SealedPartialSignature,
    SealedShare, Server, ServerPolicy, ServerShare, ServerTransportKey, SigningRequest,
    SigningResponse, seal_to_server,
};

type TestServer = Server<InMemoryKeyStore<ServerShare>>;

/// The fixed time of the fixture (seconds since the Unix epoch).
const T0: u64 = 1_800_000_000;
/// The seed of the fixture's RNG.
const SEED: u64 = 0x5352_5341_0009;

fn size() -> KeySize {
    KeySize::insecure_for_tests(512).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every message and record of one run of the protocol on a 512+512-bit test key, all drawn
/// from one `ChaCha20Rng::seed_from_u64(SEED)`, in this order (the order is part of the
/// known answers): transport key, device key and registration request, server key and
/// registration response, PIN seal, a PKCS#1 v1.5 SHA-256 signing request, partial signature,
/// completion; then three wrong PINs (the key locks); then the key is closed.
struct Fixture {
    transport_sk: Vec<u8>,
    pin: Pin,
    registration_request: Vec<u8>,
    registration_response: Vec<u8>,
    signing_request: Vec<u8>,
    sealed_partial_signature: Vec<u8>,
    signing_response: Vec<u8>,
    device_record: Vec<u8>,
    /// Active, after one success: a last exchange, no failures.
    server_record_active: Vec<u8>,
    /// Active, after three wrong PINs: failures 3, locked.
    server_record_locked: Vec<u8>,
    /// Destroyed (closed by the owner).
    server_record_destroyed: Vec<u8>,
    /// From its own seed: the registration secret (sealed inside the request).
    registration_secret: Vec<u8>,
    /// From its own seed: a sealed share and a partial-signature plaintext.
    sealed_share: Vec<u8>,
    partial_signature: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

fn load(server: &TestServer, key_id: &[u8; 16]) -> KeyRecord<ServerShare> {
    server.state().store().load(key_id).unwrap().unwrap()
}

fn build_fixture() -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let transport = ServerTransportKey::generate(&mut rng);
    let transport_sk = transport.to_bytes().to_vec();
    let server = Server::new(
        transport,
        InMemoryKeyStore::new(),
        ServerPolicy::default(),
        size(),
    );
    let pin = Pin::new("50731", KeyPurpose::Signing).unwrap();
    let (reg, request) = DeviceRegistration::start(
        &mut rng,
        KeyPurpose::Signing,
        size(),
        &server.transport_public_key(),
    )
    .unwrap();
    let response = server.register(&mut rng, &request, T0).unwrap();
    let registration_response = response.to_bytes();
    let mut device = reg
        .finish(
            &mut rng,
            response,
            &pin,
            Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();
    let key_id = *device.key_id();
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"split-rsa encodings fixture");
    let sreq = SigningRequest::new(&mut rng, key_id, scheme, &digest).unwrap();
    let partial = device.sign(&mut rng, &sreq, &pin).unwrap();
    let sresp = server.complete(&mut rng, &sreq, &partial, T0 + 60).unwrap();
    device.accept(&sreq, &sresp).unwrap();
    let server_record_active = load(&server, &key_id).to_bytes().to_vec();
    let wrong = Pin::new("11235", KeyPurpose::Signing).unwrap();
    for i in 0..3 {
        let req = SigningRequest::new(&mut rng, key_id, scheme, &digest).unwrap();
        let p = device.sign(&mut rng, &req, &wrong).unwrap();
        let r = server.complete(&mut rng, &req, &p, T0 + 120 + i);
        assert!(matches!(r, Err(Error::WrongPin { .. })), "{r:?}");
    }
    let server_record_locked = load(&server, &key_id).to_bytes().to_vec();
    server.close(&key_id, T0 + 3600).unwrap();
    let server_record_destroyed = load(&server, &key_id).to_bytes().to_vec();

    let mut rng2 = ChaCha20Rng::seed_from_u64(SEED + 1);
    let (_share, payload) = DeviceShare::generate(size(), &mut rng2).unwrap();
    let registration_secret = payload.to_bytes().to_vec();
    let mut d1p = vec![0u8; (512 + 128) / 8];
    rng2.fill_bytes(&mut d1p);
    let sealed_share = SealedShare::seal(
        &mut rng2,
        &pin,
        &key_id,
        KeyPurpose::Signing,
        &d1p,
        Argon2Params::insecure_fast_for_tests(),
    )
    .unwrap()
    .to_bytes();
    let mut otp = [0u8; 32];
    rng2.fill_bytes(&mut otp);
    let mut y = vec![0u8; 64];
    rng2.fill_bytes(&mut y);
    y[0] &= 0x7f; // below n1 (whose top bit is set)
    let partial_signature = encode_partial_signature(&otp, &y).to_vec();

    Fixture {
        transport_sk,
        pin,
        registration_request: request.to_bytes(),
        registration_response,
        signing_request: sreq.to_bytes(),
        sealed_partial_signature: partial.to_bytes(),
        signing_response: sresp.to_bytes(),
        device_record: device.to_bytes().to_vec(),
        server_record_active,
        server_record_locked,
        server_record_destroyed,
        registration_secret,
        sealed_share,
        partial_signature,
    }
}

/// One decoder with its re-encoder: `Ok(re-encoding)` or the decode error.
type Codec = fn(&[u8]) -> Result<Vec<u8>, Error>;

fn codecs() -> Vec<(&'static str, Codec, &'static [u8])> {
    let f = fixture();
    vec![
        (
            "registration_request",
            |b| RegistrationRequest::from_bytes(b).map(|m| m.to_bytes()),
            &f.registration_request,
        ),
        (
            "registration_response",
            |b| RegistrationResponse::from_bytes(b).map(|m| m.to_bytes()),
            &f.registration_response,
        ),
        (
            "signing_request",
            |b| SigningRequest::from_bytes(b).map(|m| m.to_bytes()),
            &f.signing_request,
        ),
        (
            "sealed_partial_signature",
            |b| SealedPartialSignature::from_bytes(b).map(|m| m.to_bytes()),
            &f.sealed_partial_signature,
        ),
        (
            "signing_response",
            |b| SigningResponse::from_bytes(b).map(|m| m.to_bytes()),
            &f.signing_response,
        ),
        (
            "partial_signature",
            |b| decode_partial_signature(b).map(|(o, y)| encode_partial_signature(&o, &y).to_vec()),
            &f.partial_signature,
        ),
        (
            "registration_secret",
            |b| RegistrationPayload::from_bytes(b).map(|m| m.to_bytes().to_vec()),
            &f.registration_secret,
        ),
        (
            "sealed_share",
            |b| SealedShare::from_bytes(b).map(|m| m.to_bytes()),
            &f.sealed_share,
        ),
        (
            "device_record",
            |b| DeviceRecord::from_bytes(b).map(|m| m.to_bytes().to_vec()),
            &f.device_record,
        ),
        (
            "server_record_active",
            |b| KeyRecord::<ServerShare>::from_bytes(b).map(|m| m.to_bytes().to_vec()),
            &f.server_record_active,
        ),
        (
            "server_record_locked",
            |b| KeyRecord::<ServerShare>::from_bytes(b).map(|m| m.to_bytes().to_vec()),
            &f.server_record_locked,
        ),
        (
            "server_record_destroyed",
            |b| KeyRecord::<ServerShare>::from_bytes(b).map(|m| m.to_bytes().to_vec()),
            &f.server_record_destroyed,
        ),
    ]
}

fn kat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/encodings")
}

fn decode_kind(codec: Codec, bytes: &[u8]) -> (&'static str, DecodeErrorKind) {
    match codec(bytes) {
        Err(Error::Decode(e)) => (e.field, e.kind),
        Err(e) => panic!("expected a decode error, got {e:?}"),
        Ok(_) => panic!("expected a decode error, got a value"),
    }
}

// ---------------------------------------------------------------------------------------------
// Known answers.

/// Every encoding equals its pinned hex byte for byte, and decoding the pinned bytes and
/// encoding again gives them back. `SPLIT_RSA_WRITE_KATS=1` rewrites the files instead (only
/// after a deliberate format change; see tests/data/encodings/README.md).
#[test]
fn known_answers_pin_every_encoding() {
    let write = std::env::var_os("SPLIT_RSA_WRITE_KATS").is_some();
    for (name, codec, bytes) in codecs() {
        let path = kat_dir().join(format!("{name}.hex"));
        if write {
            std::fs::create_dir_all(kat_dir()).unwrap();
            std::fs::write(&path, hex(bytes) + "\n").unwrap();
        }
        let pinned = unhex(&std::fs::read_to_string(&path).unwrap());
        assert_eq!(hex(bytes), hex(&pinned), "{name}: encoding changed");
        assert_eq!(codec(&pinned).unwrap(), pinned, "{name}: round trip");
    }
}

/// The header of every encoding: "SRSA", version 1, the type byte of SPEC §9.
#[test]
fn headers_carry_the_type() {
    let want = [
        ("registration_request", 0x01),
        ("registration_response", 0x02),
        ("signing_request", 0x03),
        ("sealed_partial_signature", 0x04),
        ("signing_response", 0x05),
        ("partial_signature", 0x06),
        ("registration_secret", 0x07),
        ("sealed_share", 0x10),
        ("device_record", 0x11),
        ("server_record_active", 0x12),
        ("server_record_locked", 0x12),
        ("server_record_destroyed", 0x12),
    ];
    for ((name, _, bytes), (wname, ty)) in codecs().into_iter().zip(want) {
        assert_eq!(name, wname);
        assert_eq!(&bytes[..6], &[b'S', b'R', b'S', b'A', 1, ty], "{name}");
    }
}

/// The fields of the fixture's records are where docs/encodings.md says they are.
#[test]
fn documented_offsets_hold() {
    let f = fixture();
    // Server record (active): key id, version, created, expires, state.
    let r = &f.server_record_active;
    let rec = KeyRecord::<ServerShare>::from_bytes(r).unwrap();
    assert_eq!(&r[6..22], rec.key_id());
    assert_eq!(u64::from_be_bytes(r[22..30].try_into().unwrap()), 2); // register 0, charge 1, success 2
    assert_eq!(u64::from_be_bytes(r[30..38].try_into().unwrap()), T0);
    assert_eq!(
        u64::from_be_bytes(r[38..46].try_into().unwrap()),
        T0 + split_rsa::DEFAULT_KEY_LIFETIME_SECS
    );
    assert_eq!(r[46], 1); // active
    assert_eq!(&r[47..51], &[0, 0, 0, 0]); // no failures
    assert_eq!(r[51], 0); // not locked
    assert_eq!(r[84], 1); // a last exchange
    let a = rec.active().unwrap();
    assert_eq!(&r[52..84], a.otp().current().as_bytes());
    let last = a.otp().last().unwrap();
    assert_eq!(&r[85..117], last.previous().as_bytes());
    assert_eq!(&r[117..133], last.request_id());
    assert_eq!(&r[133..137], &128u32.to_be_bytes());
    assert_eq!(&r[137..265], last.answer().signature());
    assert_eq!(&r[265..297], last.answer().next_otp().as_bytes());
    // The share: n1, n2, n, d1'', p2, q2, qinv, n1^-1 (484 bytes for 512 + 512 bits).
    assert_eq!(r.len(), 297 + 484);
    let share = a.share();
    assert_eq!(&r[297..299], &64u16.to_be_bytes());
    assert_eq!(&r[299..363], share.n1_be_bytes().as_slice());
    assert_eq!(&r[363..365], &64u16.to_be_bytes());
    assert_eq!(&r[365..429], share.n2_be_bytes().as_slice());
    assert_eq!(&r[429..557], share.n_be_bytes().as_slice());
    // The signature it stored is the one the device got.
    let resp = SigningResponse::from_bytes(&f.signing_response).unwrap();
    assert_eq!(resp.signature(), last.answer().signature());

    // Locked: failures 3, locked until the third failure + 3 hours.
    let l = &f.server_record_locked;
    assert_eq!(&l[47..51], &3u32.to_be_bytes());
    assert_eq!(l[51], 1);
    assert_eq!(
        u64::from_be_bytes(l[52..60].try_into().unwrap()),
        T0 + 122 + 3 * 3600
    );
    // Destroyed: reason Closed (3), at T0 + 3600, nothing else.
    let d = &f.server_record_destroyed;
    assert_eq!(d.len(), 47 + 1 + 8);
    assert_eq!(d[46], 2);
    assert_eq!(d[47], 3);
    assert_eq!(u64::from_be_bytes(d[48..56].try_into().unwrap()), T0 + 3600);
    let rec = KeyRecord::<ServerShare>::from_bytes(d).unwrap();
    assert_eq!(rec.destroyed(), Some((DestroyReason::Closed, T0 + 3600)));
    assert!(rec.active().is_none());
}

/// The public key the record carries round-trips through PKCS#1 and SPKI, DER and PEM, and is
/// the device's composite key.
#[test]
fn public_key_round_trips_through_pkcs1_and_spki() {
    let f = fixture();
    let device = DeviceRecord::from_bytes(&f.device_record).unwrap();
    let pk = device.public_key();
    let rec = KeyRecord::<ServerShare>::from_bytes(&f.server_record_active).unwrap();
    assert_eq!(
        pk.modulus_bytes(),
        rec.active().unwrap().share().n_be_bytes()
    );
    // Test-size composites (1024 bits) are below the import minimum (2048): the DER export
    // is checked against the modulus directly.
    let der = pk.to_pkcs1_der();
    assert!(der.windows(pk.size()).any(|w| w == pk.modulus_bytes()));
    assert!(pk.to_public_key_der().ends_with(&der));
    assert!(
        pk.to_public_key_pem()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    // A production-size key round-trips exactly.
    let mut rng = ChaCha20Rng::seed_from_u64(SEED + 2);
    let mut n = vec![0u8; 256];
    rng.fill_bytes(&mut n);
    n[0] |= 0x80;
    n[255] |= 1;
    let pk = PublicKey::from_modulus(&n).unwrap();
    assert_eq!(PublicKey::from_pkcs1_der(&pk.to_pkcs1_der()).unwrap(), pk);
    assert_eq!(
        PublicKey::from_public_key_der(&pk.to_public_key_der()).unwrap(),
        pk
    );
    assert_eq!(PublicKey::from_pkcs1_pem(&pk.to_pkcs1_pem()).unwrap(), pk);
    assert_eq!(
        PublicKey::from_public_key_pem(&pk.to_public_key_pem()).unwrap(),
        pk
    );
}

/// A decoded server record is a working key: a server rebuilt from the transport key and the
/// decoded record completes a signature with the device, and the stored answer of the last
/// exchange is served again for a retransmission.
#[test]
fn decoded_server_record_signs() {
    let f = fixture();
    let transport = ServerTransportKey::from_bytes(&f.transport_sk).unwrap();
    let store = InMemoryKeyStore::new();
    let rec = KeyRecord::<ServerShare>::from_bytes(&f.server_record_active).unwrap();
    store.insert(&rec).unwrap();
    let server = Server::new(transport, store, ServerPolicy::default(), size());
    let mut device = DeviceRecord::from_bytes(&f.device_record).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"after a round trip");
    let req = SigningRequest::new(&mut rng, *device.key_id(), scheme, &digest).unwrap();
    let partial = device.sign(&mut rng, &req, &f.pin).unwrap();
    let resp = server.complete(&mut rng, &req, &partial, T0 + 100).unwrap();
    let sig = device.accept(&req, &resp).unwrap();
    split_rsa::verify(device.public_key(), scheme, &digest, &sig).unwrap();
    // Re-encoding what the store holds now gives a record that decodes to the same bytes.
    let now = server
        .state()
        .store()
        .load(device.key_id())
        .unwrap()
        .unwrap();
    let bytes = now.to_bytes();
    assert_eq!(
        KeyRecord::<ServerShare>::from_bytes(&bytes)
            .unwrap()
            .to_bytes(),
        bytes
    );
}

// ---------------------------------------------------------------------------------------------
// Property tests: random values round-trip (seeded).

fn share() -> ServerShare {
    let rec = KeyRecord::<ServerShare>::from_bytes(&fixture().server_record_active).unwrap();
    rec.active().unwrap().share().clone()
}

fn random_signature(rng: &mut ChaCha20Rng, n: &[u8]) -> Vec<u8> {
    let mut s = vec![0u8; n.len()];
    rng.fill_bytes(&mut s);
    // Strictly below n: a smaller top byte (n's top bit is set).
    s[0] = (u16::from(s[0]) * u16::from(n[0]) / 256) as u8;
    assert!(s.as_slice() < n);
    s
}

fn random_record(rng: &mut ChaCha20Rng, share: &ServerShare) -> KeyRecord<ServerShare> {
    let mut key_id = [0u8; 16];
    rng.fill_bytes(&mut key_id);
    let state = if rng.next_u32().is_multiple_of(4) {
        let reason = [
            DestroyReason::WrongPins,
            DestroyReason::Clone,
            DestroyReason::Closed,
            DestroyReason::Expired,
        ][rng.next_u32() as usize % 4];
        KeyState::Destroyed {
            reason,
            at: rng.next_u64(),
        }
    } else {
        let locked = rng.next_u32().is_multiple_of(2).then(|| rng.next_u64());
        let attempts = AttemptState::from_parts(rng.next_u32(), locked);
        let mut h = [0u8; 32];
        rng.fill_bytes(&mut h);
        let last = rng.next_u32().is_multiple_of(2).then(|| {
            let mut prev = [0u8; 32];
            rng.fill_bytes(&mut prev);
            let mut rid = [0u8; 16];
            rng.fill_bytes(&mut rid);
            let mut otp = [0u8; 32];
            rng.fill_bytes(&mut otp);
            let sig = random_signature(rng, &share.n_be_bytes());
            LastExchange::from_parts(
                OtpHash::from_bytes(prev),
                rid,
                Answer::new(sig, Otp::from_bytes(otp)),
            )
        });
        KeyState::Active(ActiveKey::from_parts(
            share.clone(),
            attempts,
            OtpState::from_parts(OtpHash::from_bytes(h), last),
        ))
    };
    KeyRecord::from_parts(
        key_id,
        rng.next_u64(),
        rng.next_u64(),
        rng.next_u64(),
        state,
    )
}

#[test]
fn random_server_records_round_trip() {
    let share = share();
    let mut rng = ChaCha20Rng::seed_from_u64(1001);
    for _ in 0..64 {
        let rec = random_record(&mut rng, &share);
        let bytes = rec.to_bytes();
        let back = KeyRecord::<ServerShare>::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(back.key_id(), rec.key_id());
        assert_eq!(back.version(), rec.version());
        assert_eq!(back.created_at(), rec.created_at());
        assert_eq!(back.expires_at(), rec.expires_at());
        assert_eq!(back.destroyed(), rec.destroyed());
        if let (Some(a), Some(b)) = (rec.active(), back.active()) {
            assert_eq!(a.attempts(), b.attempts());
            assert_eq!(a.otp().current(), b.otp().current());
            assert_eq!(a.otp().last().is_some(), b.otp().last().is_some());
            if let (Some(x), Some(y)) = (a.otp().last(), b.otp().last()) {
                assert_eq!(x.answer(), y.answer());
                assert_eq!(x.request_id(), y.request_id());
                assert_eq!(x.previous(), y.previous());
            }
        }
    }
}

#[test]
fn random_messages_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(1002);
    let schemes = [
        Scheme::Pkcs1v15(HashAlg::Sha256),
        Scheme::Pkcs1v15(HashAlg::Sha384),
        Scheme::Pkcs1v15(HashAlg::Sha512),
        Scheme::Pss(HashAlg::Sha256),
        Scheme::Pss(HashAlg::Sha384),
        Scheme::Pss(HashAlg::Sha512),
    ];
    for i in 0..200 {
        let mut key_id = [0u8; 16];
        rng.fill_bytes(&mut key_id);
        let scheme = schemes[i % schemes.len()];
        let mut digest = vec![0u8; scheme.hash().output_len()];
        rng.fill_bytes(&mut digest);
        let req = SigningRequest::new(&mut rng, key_id, scheme, &digest).unwrap();
        let bytes = req.to_bytes();
        let back = SigningRequest::from_bytes(&bytes).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.to_bytes(), bytes);

        // Partial-signature plaintexts with y of every supported size.
        let mut otp = [0u8; 32];
        rng.fill_bytes(&mut otp);
        let mut y = vec![0u8; [64, 96, 128, 256, 384, 512][i % 6]];
        rng.fill_bytes(&mut y);
        let pt = encode_partial_signature(&otp, &y);
        assert_eq!(decode_partial_signature(&pt).unwrap(), (otp, y));
    }
    // Sealed shares of random lengths and parameters.
    let pin = Pin::new("50731", KeyPurpose::Signing).unwrap();
    for _ in 0..16 {
        let len = split_rsa::MIN_SHARE_LEN
            + rng.next_u32() as usize % (split_rsa::MAX_SHARE_LEN - split_rsa::MIN_SHARE_LEN + 1);
        let mut d = vec![0u8; len];
        rng.fill_bytes(&mut d);
        let params = Argon2Params::new(8 + rng.next_u32() % 64, 1, 1).unwrap();
        let s =
            SealedShare::seal(&mut rng, &pin, &[7; 16], KeyPurpose::Signing, &d, params).unwrap();
        let bytes = s.to_bytes();
        let back = SealedShare::from_bytes(&bytes).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_bytes(), bytes);
    }
}

/// Whole protocol runs from several seeds: every message and record round-trips.
#[test]
fn protocol_runs_round_trip_for_several_seeds() {
    for seed in 2000..2004u64 {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let server: TestServer = Server::new(
            ServerTransportKey::generate(&mut rng),
            InMemoryKeyStore::new(),
            ServerPolicy::default(),
            size(),
        );
        let pin = Pin::new("2580", KeyPurpose::Authentication).unwrap();
        let (reg, req) = DeviceRegistration::start(
            &mut rng,
            KeyPurpose::Authentication,
            size(),
            &server.transport_public_key(),
        )
        .unwrap();
        let rt = |b: Vec<u8>, c: Codec| assert_eq!(c(&b).unwrap(), b);
        rt(req.to_bytes(), |b| {
            RegistrationRequest::from_bytes(b).map(|m| m.to_bytes())
        });
        let resp = server.register(&mut rng, &req, T0).unwrap();
        rt(resp.to_bytes(), |b| {
            RegistrationResponse::from_bytes(b).map(|m| m.to_bytes())
        });
        let mut dev = reg
            .finish(
                &mut rng,
                resp,
                &pin,
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        let scheme = Scheme::Pss(HashAlg::Sha256);
        let digest = HashAlg::Sha256.digest(&seed.to_be_bytes());
        let sreq = SigningRequest::new(&mut rng, *dev.key_id(), scheme, &digest).unwrap();
        let p = dev.sign(&mut rng, &sreq, &pin).unwrap();
        rt(p.to_bytes(), |b| {
            SealedPartialSignature::from_bytes(b).map(|m| m.to_bytes())
        });
        let sresp = server.complete(&mut rng, &sreq, &p, T0 + 1).unwrap();
        rt(sresp.to_bytes(), |b| {
            SigningResponse::from_bytes(b).map(|m| m.to_bytes())
        });
        dev.accept(&sreq, &sresp).unwrap();
        rt(dev.to_bytes().to_vec(), |b| {
            DeviceRecord::from_bytes(b).map(|m| m.to_bytes().to_vec())
        });
        rt(load(&server, dev.key_id()).to_bytes().to_vec(), |b| {
            KeyRecord::<ServerShare>::from_bytes(b).map(|m| m.to_bytes().to_vec())
        });
        let (_s, payload) = DeviceShare::generate(size(), &mut rng).unwrap();
        rt(payload.to_bytes().to_vec(), |b| {
            RegistrationPayload::from_bytes(b).map(|m| m.to_bytes().to_vec())
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Rejections: one test per kind of malformed input, over every decoder.

#[test]
fn rejects_short_input() {
    for (name, codec, bytes) in codecs() {
        for cut in 0..bytes.len() {
            let (_, kind) = decode_kind(codec, &bytes[..cut]);
            assert_eq!(kind, DecodeErrorKind::Truncated, "{name} cut at {cut}");
        }
    }
}

#[test]
fn rejects_trailing_bytes() {
    for (name, codec, bytes) in codecs() {
        for extra in [&[0u8][..], &[0xff], &[0; 32]] {
            let mut long = bytes.to_vec();
            long.extend_from_slice(extra);
            assert_eq!(
                decode_kind(codec, &long),
                ("end", DecodeErrorKind::TrailingBytes),
                "{name}"
            );
        }
    }
}

#[test]
fn rejects_wrong_magic_version_and_type() {
    for (name, codec, bytes) in codecs() {
        for (i, field, kind) in [
            (0, "magic", DecodeErrorKind::BadMagic),
            (3, "magic", DecodeErrorKind::BadMagic),
            (4, "version", DecodeErrorKind::BadVersion),
            (5, "type", DecodeErrorKind::BadType),
        ] {
            for flip in [1u8, 0x80] {
                let mut b = bytes.to_vec();
                b[i] ^= flip;
                assert_eq!(decode_kind(codec, &b), (field, kind), "{name} byte {i}");
            }
        }
        // Every other message's bytes are refused by type.
        for (other, _, ob) in codecs() {
            if ob[5] != bytes[5] {
                assert_eq!(
                    decode_kind(codec, ob),
                    ("type", DecodeErrorKind::BadType),
                    "{name} given {other}"
                );
            }
        }
    }
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

#[test]
fn rejects_oversize_lengths() {
    let f = fixture();
    // Signing request: digest length 65 (> 64), then the salt's.
    let mut b = f.signing_request.clone();
    set_u32(&mut b, 6 + 16 + 16 + 2, 65);
    let c = codecs();
    let codec = |name: &str| c.iter().find(|x| x.0 == name).unwrap().1;
    assert_eq!(
        decode_kind(codec("signing_request"), &b),
        ("digest", DecodeErrorKind::TooLong)
    );
    let mut b = f.signing_request.clone();
    set_u32(&mut b, 6 + 16 + 16 + 2 + 4 + 32, u32::MAX);
    assert_eq!(
        decode_kind(codec("signing_request"), &b),
        ("pss_salt", DecodeErrorKind::TooLong)
    );
    // Sealed partial signature: ciphertext length over the maximum.
    let mut b = f.sealed_partial_signature.clone();
    set_u32(&mut b, 6 + 16 + 16 + 32, 1_000_000);
    assert_eq!(
        decode_kind(codec("sealed_partial_signature"), &b),
        ("sealed.ciphertext", DecodeErrorKind::TooLong)
    );
    // Registration request: likewise.
    let mut b = f.registration_request.clone();
    set_u32(&mut b, 6 + 1 + 2 + 64 + 32, 0x8000_0000);
    assert_eq!(
        decode_kind(codec("registration_request"), &b),
        ("sealed.ciphertext", DecodeErrorKind::TooLong)
    );
    // Signing response: signature length 1025 (> 1024).
    let mut b = f.signing_response.clone();
    set_u32(&mut b, 6 + 16 + 16, 1025);
    assert_eq!(
        decode_kind(codec("signing_response"), &b),
        ("signature", DecodeErrorKind::TooLong)
    );
    // Server record: the stored answer's signature.
    let mut b = f.server_record_active.clone();
    set_u32(&mut b, 133, 1025);
    assert_eq!(
        decode_kind(codec("server_record_active"), &b),
        ("otp.last.signature", DecodeErrorKind::TooLong)
    );
    // Half moduli with an unsupported length (the 2-byte length field).
    for (name, at, field) in [
        ("registration_request", 7, "n1"),
        ("registration_response", 22, "n2"),
        ("device_record", 23, "n1"),
        ("server_record_active", 297, "share.n1"),
        ("server_record_active", 363, "share.n2"),
    ] {
        for len in [0u16, 63, 65, 513, 0xffff] {
            let mut b = c.iter().find(|x| x.0 == name).unwrap().2.to_vec();
            b[at..at + 2].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                decode_kind(codec(name), &b),
                (field, DecodeErrorKind::OutOfRange),
                "{name} len {len}"
            );
        }
    }
    // A supported length that does not match the rest (the sealed part's length is fixed by n1).
    let mut b = f.registration_request.clone();
    b[7..9].copy_from_slice(&96u16.to_be_bytes());
    assert!(RegistrationRequest::from_bytes(&b).is_err());
}

#[test]
fn rejects_non_canonical_integers() {
    let c = codecs();
    let codec = |name: &str| c.iter().find(|x| x.0 == name).unwrap();
    // Half moduli must have their top bit set: a 512-bit field holding a 511-bit value.
    for (name, at, field) in [
        ("registration_request", 9, "n1"),
        ("registration_response", 24, "n2"),
        ("device_record", 25, "n1"),
        ("device_record", 25 + 64 + 2, "n2"),
        ("registration_secret", 8, "n1"),
        ("server_record_active", 299, "share.n1"),
        ("server_record_active", 365, "share.n2"),
        // The primes have exactly |n2|/2 bits.
        ("server_record_active", 621, "share.p2"),
        ("server_record_active", 653, "share.q2"),
    ] {
        let (_, dec, bytes) = codec(name);
        let mut b = bytes.to_vec();
        b[at] &= 0x7f;
        assert_eq!(
            decode_kind(*dec, &b),
            (field, DecodeErrorKind::NonCanonical),
            "{name}"
        );
    }
    // Presence flags and booleans are exactly 0 or 1.
    let (_, dec, bytes) = codec("server_record_active");
    for (at, field) in [(51, "attempts.locked_until"), (84, "otp.last")] {
        for v in [2u8, 0x80, 0xff] {
            let mut b = bytes.to_vec();
            b[at] = v;
            assert_eq!(
                decode_kind(*dec, &b),
                (field, DecodeErrorKind::NonCanonical)
            );
        }
    }
}

/// Builds the encoding of a sealed partial signature for `request` with `plaintext` sealed
/// to the server (the layout of docs/encodings.md).
fn sealed_partial_bytes(
    rng: &mut ChaCha20Rng,
    server: &TestServer,
    request: &SigningRequest,
    plaintext: &[u8],
) -> Vec<u8> {
    let sealed = seal_to_server(
        rng,
        &server.transport_public_key(),
        &partial_aad(request),
        plaintext,
    )
    .unwrap();
    let mut b = b"SRSA\x01\x04".to_vec();
    b.extend_from_slice(request.key_id());
    b.extend_from_slice(request.request_id());
    b.extend_from_slice(sealed.enc());
    b.extend_from_slice(&(sealed.ciphertext().len() as u32).to_be_bytes());
    b.extend_from_slice(sealed.ciphertext());
    b
}

/// y >= n1 is refused by the server (field `y`, `OutOfRange`) after the attempt is charged:
/// it proves nothing about the PIN. y of an unsupported length is refused before.
#[test]
fn rejects_y_not_below_n1() {
    let f = fixture();
    let transport = ServerTransportKey::from_bytes(&f.transport_sk).unwrap();
    let store = InMemoryKeyStore::new();
    let rec = KeyRecord::<ServerShare>::from_bytes(&f.server_record_active).unwrap();
    let n1 = rec.active().unwrap().share().n1_be_bytes();
    store.insert(&rec).unwrap();
    let server = Server::new(transport, store, ServerPolicy::default(), size());
    let mut rng = ChaCha20Rng::seed_from_u64(55);
    let key_id = *rec.key_id();
    let digest = HashAlg::Sha256.digest(b"y range");
    let failures = |s: &TestServer| load(s, &key_id).active().unwrap().attempts().failures();
    let mut n1_plus = n1.clone();
    *n1_plus.last_mut().unwrap() += 2; // n1 + 2 (n1 is odd: no carry)
    for (i, y) in [n1.clone(), n1_plus, vec![0xff; 64]]
        .into_iter()
        .enumerate()
    {
        let req = SigningRequest::new(&mut rng, key_id, Scheme::Pkcs1v15(HashAlg::Sha256), &digest)
            .unwrap();
        let pt = encode_partial_signature(&[0; 32], &y);
        let b = sealed_partial_bytes(&mut rng, &server, &req, &pt);
        let partial = SealedPartialSignature::from_bytes(&b).unwrap();
        let r = server.complete(&mut rng, &req, &partial, T0 + 10);
        assert!(
            matches!(&r, Err(Error::Decode(e)) if e.field == "y" && e.kind == DecodeErrorKind::OutOfRange),
            "{r:?}"
        );
        assert_eq!(failures(&server), i as u32 + 1);
    }
    // y of 65 bytes: the message is refused by its decoder (its sealed part has the wrong
    // length), and the plaintext by the partial-signature decoder: nothing reaches the server.
    let req =
        SigningRequest::new(&mut rng, key_id, Scheme::Pkcs1v15(HashAlg::Sha256), &digest).unwrap();
    let pt = encode_partial_signature(&[0; 32], &[1; 65]);
    let b = sealed_partial_bytes(&mut rng, &server, &req, &pt);
    assert_eq!(
        decode_kind(codecs()[3].1, &b),
        ("sealed.ciphertext", DecodeErrorKind::Invalid)
    );
    assert_eq!(
        decode_kind(codecs()[5].1, &pt),
        ("y", DecodeErrorKind::OutOfRange)
    );
    // A supported length that is not n1's (96 bytes for a 64-byte n1): charged, then refused.
    // (The three charges above locked the key for 3 hours.)
    let pt = encode_partial_signature(&[0; 32], &[1; 96]);
    let b = sealed_partial_bytes(&mut rng, &server, &req, &pt);
    let partial = SealedPartialSignature::from_bytes(&b).unwrap();
    let r = server.complete(&mut rng, &req, &partial, T0 + 10 + 4 * 3600);
    assert!(
        matches!(&r, Err(Error::Decode(e)) if e.field == "y" && e.kind == DecodeErrorKind::Invalid),
        "{r:?}"
    );
    assert_eq!(failures(&server), 4);
}

/// s >= n: the device refuses the response (RFC 8017 RSAVP1 step 1) and keeps its OTP; a
/// stored answer with s >= n makes the server record invalid.
#[test]
fn rejects_s_not_below_n() {
    let f = fixture();
    let rec = KeyRecord::<ServerShare>::from_bytes(&f.server_record_active).unwrap();
    let n = rec.active().unwrap().share().n_be_bytes();
    let mut device = DeviceRecord::from_bytes(&f.device_record).unwrap();
    let before = device.to_bytes();
    let req = SigningRequest::from_bytes(&f.signing_request).unwrap();
    let mut n_plus = n.clone();
    *n_plus.last_mut().unwrap() += 2;
    for s in [n.clone(), n_plus, vec![0xff; n.len()]] {
        let mut b = f.signing_response.clone();
        b[6 + 16 + 16 + 4..6 + 16 + 16 + 4 + n.len()].copy_from_slice(&s);
        let resp = SigningResponse::from_bytes(&b).unwrap();
        assert_eq!(
            device.accept(&req, &resp).unwrap_err(),
            Error::InvalidSignature
        );
        assert_eq!(device.to_bytes(), before, "the device stored nothing");

        let mut r = f.server_record_active.clone();
        r[137..137 + n.len()].copy_from_slice(&s);
        assert_eq!(
            decode_kind(codecs()[9].1, &r),
            ("otp.last.signature", DecodeErrorKind::OutOfRange)
        );
    }
    // A signature length that is no composite's is refused by the decoder.
    let mut b = f.signing_response.clone();
    set_u32(&mut b, 6 + 16 + 16, 127);
    b.remove(6 + 16 + 16 + 4);
    assert_eq!(
        decode_kind(codecs()[4].1, &b),
        ("signature", DecodeErrorKind::Invalid)
    );
}

/// A server record whose share is inconsistent is refused, naming the field: n != n1·n2,
/// p2·q2 != n2, q2·qinv != 1 mod p2, n1·n1^-1 != 1 mod n2, d1'' >= n1, and out-of-range
/// canonical values.
#[test]
fn rejects_inconsistent_server_share() {
    let f = fixture();
    let codec = codecs()[9].1;
    let r = &f.server_record_active;
    // Offsets in the 512 + 512-bit share (docs/encodings.md).
    let (n, d1, p2, q2, qinv, n1_inv) = (429, 557, 621, 653, 685, 717);
    let flip = |at: usize, bit: u8| {
        let mut b = r.clone();
        b[at] ^= bit;
        b
    };
    // n != n1·n2 (any bit of n).
    for at in [n, n + 1, n + 64, n + 127] {
        assert_eq!(
            decode_kind(codec, &flip(at, 0x02)),
            ("share.n", DecodeErrorKind::Invalid)
        );
    }
    // p2·q2 != n2: a change in p2 (kept odd, top bit kept).
    assert_eq!(
        decode_kind(codec, &flip(p2 + 10, 0x10)),
        ("share.q2", DecodeErrorKind::Invalid)
    );
    // p2 even.
    assert_eq!(
        decode_kind(codec, &flip(q2 - 1, 0x01)),
        ("share.p2", DecodeErrorKind::Invalid)
    );
    // qinv wrong, and qinv + p2 (same residue, not canonical: >= p2 does not fit in 32 bytes
    // here, so a wrong value stands in).
    assert_eq!(
        decode_kind(codec, &flip(qinv + 31, 0x04)),
        ("share.qinv", DecodeErrorKind::Invalid)
    );
    let mut b = r.clone();
    b[qinv..qinv + 32].copy_from_slice(&r[p2..p2 + 32]); // qinv = p2
    assert_eq!(
        decode_kind(codec, &b),
        ("share.qinv", DecodeErrorKind::Invalid)
    );
    // n1^-1 wrong, and n1^-1 = n2 (out of range).
    assert_eq!(
        decode_kind(codec, &flip(n1_inv + 5, 0x01)),
        ("share.n1_inv", DecodeErrorKind::Invalid)
    );
    let mut b = r.clone();
    b[n1_inv..n1_inv + 64].copy_from_slice(&r[365..429]);
    assert_eq!(
        decode_kind(codec, &b),
        ("share.n1_inv", DecodeErrorKind::Invalid)
    );
    // d1'' >= n1.
    let mut b = r.clone();
    b[d1..d1 + 64].copy_from_slice(&r[299..363]);
    assert_eq!(
        decode_kind(codec, &b),
        ("share.d1''", DecodeErrorKind::OutOfRange)
    );
    // n1 even; n1 and n2 sharing a factor (n2 := n1, n fixed up to n1^2).
    assert_eq!(
        decode_kind(codec, &flip(362, 0x01)),
        ("share.n1", DecodeErrorKind::Invalid)
    );
    // A test-size n1 with a production-size n2 is refused as a size.
    let mut b = r[..297].to_vec();
    b.extend_from_slice(&64u16.to_be_bytes());
    b.extend_from_slice(&r[299..363]);
    b.extend_from_slice(&256u16.to_be_bytes());
    b.extend_from_slice(&vec![0xff; 256 + 320 + 64 + 3 * 128 + 256]);
    assert_eq!(
        decode_kind(codec, &b),
        ("share.n2", DecodeErrorKind::OutOfRange)
    );
}

#[test]
fn rejects_unknown_tags() {
    let f = fixture();
    let c = codecs();
    let dec = |name: &str| c.iter().find(|x| x.0 == name).unwrap().1;
    for (name, bytes, at, field) in [
        (
            "registration_request",
            &f.registration_request,
            6,
            "purpose",
        ),
        ("device_record", &f.device_record, 22, "purpose"),
        ("signing_request", &f.signing_request, 39, "hash"),
        ("server_record_active", &f.server_record_active, 46, "state"),
        (
            "server_record_destroyed",
            &f.server_record_destroyed,
            46,
            "state",
        ),
        (
            "server_record_destroyed",
            &f.server_record_destroyed,
            47,
            "destroyed.reason",
        ),
    ] {
        for v in [0u8, 5, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] = v;
            assert_eq!(
                decode_kind(dec(name), &b),
                (field, DecodeErrorKind::UnknownTag),
                "{name} byte {at} = {v}"
            );
        }
    }
    // Scheme tag (the hash tag after it is valid).
    for v in [0u8, 3, 0xff] {
        let mut b = f.signing_request.clone();
        b[38] = v;
        b[39] = 1;
        assert_eq!(
            decode_kind(dec("signing_request"), &b),
            ("scheme", DecodeErrorKind::UnknownTag)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Regressions.

/// Regression: the sealed registration secret for a 4096-bit n1 (6 + 2 + 512 + 512 bytes of
/// plaintext, 1048 of ciphertext) used to exceed the decoder's 1024-byte ciphertext maximum,
/// so a 4096-bit registration could not be decoded. Built by hand (no 4096-bit key generation).
#[test]
fn regression_4096_bit_registration_request_decodes() {
    let mut n1 = vec![0x5a; 512];
    n1[0] = 0xc1;
    n1[511] = 0x01;
    let mut b = b"SRSA\x01\x01\x02".to_vec();
    b.extend_from_slice(&512u16.to_be_bytes());
    b.extend_from_slice(&n1);
    b.extend_from_slice(&[9; 32]);
    let ct_len = 6 + 2 + 2 * 512 + 16;
    b.extend_from_slice(&(ct_len as u32).to_be_bytes());
    b.extend_from_slice(&vec![7; ct_len]);
    let req = RegistrationRequest::from_bytes(&b).unwrap();
    assert_eq!(req.n1(), n1.as_slice());
    assert_eq!(req.to_bytes(), b);
    // One byte more or less in the sealed part is refused.
    for delta in [-1i64, 1] {
        let len = (ct_len as i64 + delta) as usize;
        let mut c = b[..7 + 2 + 512 + 32].to_vec();
        c.extend_from_slice(&(len as u32).to_be_bytes());
        c.extend_from_slice(&vec![7; len]);
        let e = RegistrationRequest::from_bytes(&c).unwrap_err();
        assert!(
            matches!(e, Error::Decode(d) if d.field == "sealed.ciphertext"),
            "{e:?}"
        );
    }
}

//! SPEC §9 canonical encodings, format version 2: known-answer tests pinning every message and
//! record byte for byte, seeded round-trip property tests (decode(encode(x)) == x, and the
//! encoding of a decoded value is the input), and per decoder one rejection test per kind of
//! malformed input (wrong magic/version/type, truncated, trailing bytes, over-long length,
//! unknown tag, non-canonical flag or integer, out-of-range value): each must be a typed
//! `Error::Decode` naming the field, never a panic. Layouts are in docs/encodings.md; the known
//! answers in tests/data/encodings/ (see the README there for how they were made).
//!
//! Not covered here: the sealed device share (0x10), which is being moved to Argon2i with a KDF
//! identifier (SPEC §5) and has its own known answer and tests (tests/seal.rs). The device
//! record embeds its body, so `device_record*.hex` change with it (regenerate, see the README).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2_010::{Digest, Sha256};
use split_rsa::__fuzz::{
    ActiveParts, decode_partial_signature, decode_registration_result, decode_signing_answer,
    destroy_record, encode_partial_signature, encode_registration_result, encode_signing_answer,
    open_partial_signature, open_registration_request, open_registration_response,
    open_signing_response, set_active_parts,
};
use split_rsa::{
    Argon2Params, DecodeError, DecodeErrorKind, DestroyReason, DeviceRecord, DeviceRegistration,
    DeviceShare, Error, HashAlg, InMemoryKeyStore, KekId, KeyId, KeyPurpose, KeyRecord, KeySize,
    KeyStore, LocalKek, N1Hash, NewRecord, OtpHash, Outcome, Pin, RegistrationChallenge,
    RegistrationPayload, RegistrationRequest, RequestId, ResponseKind, Scheme,
    SealedPartialSignature, SealedResponse, Server, ServerPolicy, ServerShare, ServerTransportKey,
    SigningRequest, StoreError, StoredRecord, WrappedShare,
};

/// The fixed time of the fixture (seconds since the Unix epoch).
const T0: u64 = 1_800_000_000;
/// The seed of the fixture's protocol run.
const SEED: u64 = 0x5352_5341_0200;
/// The seed of the server share.
const SHARE_SEED: u64 = 0x5352_5341_0201;
const HOUR: u64 = 3600;

/// 1024-bit halves (a 2048-bit composite): the smallest test size the server registers
/// (`Server::register` builds the public key with `PublicKey::from_modulus`, which refuses a
/// composite under 2048 bits).
fn size() -> KeySize {
    KeySize::insecure_for_tests(1024).unwrap()
}

/// Bytes of a half modulus (n1, n2) of the fixture, and of one of its primes.
const K: usize = 128;
const P: usize = K / 2;

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

fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

// ---------------------------------------------------------------------------------------------
// A key store that fails a chosen compare-and-swap (a server-side store fault).

/// An in-memory store whose `n`-th compare-and-swap from now fails with a backend error and
/// writes nothing (`arm(n)`; 0 or less: never).
#[derive(Default)]
struct FaultyStore {
    inner: InMemoryKeyStore,
    countdown: AtomicI64,
}

impl FaultyStore {
    fn arm(&self, n: i64) {
        self.countdown.store(n, Ordering::SeqCst);
    }
}

impl KeyStore for FaultyStore {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        self.inner.load(key_id)
    }
    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        self.inner.find_n1(n1_hash)
    }
    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        self.inner.insert(record)
    }
    fn compare_and_swap(&self, key_id: &KeyId, v: u64, blob: &[u8]) -> Result<(), StoreError> {
        if self.countdown.load(Ordering::SeqCst) > 0
            && self.countdown.fetch_sub(1, Ordering::SeqCst) == 1
        {
            return Err(StoreError::backend("injected store fault"));
        }
        self.inner.compare_and_swap(key_id, v, blob)
    }
}

type TestServer = Server<FaultyStore, LocalKek>;

fn record_bytes(server: &TestServer, key_id: &KeyId) -> Vec<u8> {
    server.store().load(key_id).unwrap().unwrap().blob.to_vec()
}

// ---------------------------------------------------------------------------------------------
// The fixture: one protocol run, every encoding it produces.

/// Every known answer, by file name (without `.hex`), in the order the fixture makes them.
struct Fixture {
    files: Vec<(&'static str, Vec<u8>)>,
    /// The server's transport key (to open sealed messages in the rejection tests).
    transport: Vec<u8>,
}

impl Fixture {
    fn get(&self, name: &str) -> &[u8] {
        &self.files.iter().find(|(n, _)| *n == name).unwrap().1
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

fn pin() -> Pin {
    Pin::new("50731", KeyPurpose::Signing).unwrap()
}

fn wrong_pin() -> Pin {
    Pin::new("11235", KeyPurpose::Signing).unwrap()
}

/// The fixture (its steps are listed in tests/data/encodings/README.md, which must be kept in
/// step with this function).
fn build_fixture() -> Fixture {
    let mut files: Vec<(&'static str, Vec<u8>)> = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let transport = ServerTransportKey::generate(&mut rng);
    let transport_bytes = transport.to_bytes().to_vec();
    let opener = ServerTransportKey::from_bytes(&transport_bytes).unwrap();
    let kek = LocalKek::generate(&mut rng, KekId(1));
    let server: TestServer = Server::new(
        transport,
        FaultyStore::default(),
        kek,
        ServerPolicy::default(),
        size(),
    );
    let tpk = server.transport_public_key();

    // Registration (SPEC §3).
    let challenge = server.issue_challenge(&mut rng, T0);
    files.push(("registration_challenge", challenge.to_bytes()));
    let (reg, request) =
        DeviceRegistration::start(&mut rng, &challenge, KeyPurpose::Signing, size(), &tpk).unwrap();
    files.push(("registration_request", request.to_bytes()));
    files.push((
        "registration_secret",
        open_registration_request(&opener, &request).unwrap(),
    ));
    let registered = server.register(&mut rng, &request, T0 + 1).unwrap();
    files.push((
        "sealed_response_registration",
        registered.response.to_bytes(),
    ));
    files.push((
        "registration_result",
        open_registration_response(&opener, &request, &registered.response).unwrap(),
    ));
    let answer = reg.open_response(&registered.response).unwrap();
    let mut device = reg
        .finish(
            &mut rng,
            answer,
            &pin(),
            Argon2Params::insecure_fast_for_tests(),
        )
        .unwrap();
    let key_id = *device.key_id();
    let device_otp0 = device.to_bytes().to_vec();
    files.push(("device_record", device_otp0.clone()));

    // A completed signature (SPEC §4).
    let pkcs1 = Scheme::Pkcs1v15(HashAlg::Sha256);
    let pss = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"split-rsa encodings fixture");
    let sign = |rng: &mut ChaCha20Rng, scheme, now| {
        server
            .create_request(rng, &key_id, KeyPurpose::Signing, scheme, &digest, now)
            .unwrap()
    };
    let request1 = sign(&mut rng, pkcs1, T0 + 10);
    files.push(("signing_request", request1.to_bytes()));
    let msg1 = device.sign(&mut rng, &request1, &pin()).unwrap();
    files.push(("sealed_partial_signature", msg1.to_bytes()));
    files.push((
        "partial_signature",
        open_partial_signature(&opener, &msg1).unwrap(),
    ));
    files.push(("device_record_pending", device.to_bytes().to_vec()));
    let c1 = server.complete(&mut rng, &msg1, T0 + 20).unwrap();
    assert!(matches!(c1.outcome, Outcome::Completed { .. }), "{c1:?}");
    files.push(("sealed_response_signing", c1.response.to_bytes()));
    files.push((
        "signing_answer_completed",
        open_signing_response(&opener, &msg1, &c1.response).unwrap(),
    ));
    assert!(matches!(
        device.accept(&c1.response).unwrap(),
        Outcome::Completed { .. }
    ));
    let device_otp1 = device.to_bytes().to_vec();

    // Wrong PINs on one PSS request: 1 answered; 2 charged and its outcome lost to a store
    // fault (the record then holds a pending request, an unresolved charge and stored answers),
    // then resent and answered; 3 answered and locks the key; 4 refused as locked.
    let request2 = sign(&mut rng, pss, T0 + 30);
    files.push(("signing_request_pss", request2.to_bytes()));
    let m = device.sign(&mut rng, &request2, &wrong_pin()).unwrap();
    let c = server.complete(&mut rng, &m, T0 + 40).unwrap();
    assert!(matches!(c.outcome, Outcome::WrongPin { .. }), "{c:?}");
    device.accept(&c.response).unwrap();
    let m = device.sign(&mut rng, &request2, &wrong_pin()).unwrap();
    server.store().arm(2);
    let r = server.complete(&mut rng, &m, T0 + 50);
    assert!(
        matches!(r, Err(Error::Store(StoreError::Backend(_)))),
        "{r:?}"
    );
    files.push(("server_record_active", record_bytes(&server, &key_id)));
    let c = server
        .complete(&mut rng, &device.resend().unwrap(), T0 + 51)
        .unwrap();
    assert!(matches!(c.outcome, Outcome::WrongPin { .. }), "{c:?}");
    device.accept(&c.response).unwrap();
    let m = device.sign(&mut rng, &request2, &wrong_pin()).unwrap();
    let c = server.complete(&mut rng, &m, T0 + 60).unwrap();
    assert!(
        matches!(
            c.outcome,
            Outcome::WrongPin {
                attempts_left: 6,
                locked_until: Some(_)
            }
        ),
        "{c:?}"
    );
    files.push((
        "signing_answer_wrong_pin",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    device.accept(&c.response).unwrap();
    files.push(("server_record_locked", record_bytes(&server, &key_id)));
    let m = device.sign(&mut rng, &request2, &wrong_pin()).unwrap();
    let c = server.complete(&mut rng, &m, T0 + 70).unwrap();
    assert!(
        matches!(c.outcome, Outcome::Locked { until: Some(_) }),
        "{c:?}"
    );
    files.push((
        "signing_answer_locked",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    // A Locked answer is not final: the device keeps the exchange pending (SPEC §4.6).
    device.accept(&c.response).unwrap();
    assert!(device.pending_request().is_some());

    // After the lock: a new request replaces request 2; the device resends its pending
    // message for request 2, which is refused.
    let t1 = T0 + 4 * HOUR;
    let request3 = sign(&mut rng, pkcs1, t1);
    let m = device.resend().unwrap();
    let c = server.complete(&mut rng, &m, t1 + 1).unwrap();
    assert_eq!(c.outcome, Outcome::NotPending);
    files.push((
        "signing_answer_not_pending",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    device.accept(&c.response).unwrap();
    let m = device.sign(&mut rng, &request3, &pin()).unwrap();
    let c = server.complete(&mut rng, &m, t1 + 2).unwrap();
    assert!(matches!(c.outcome, Outcome::Completed { .. }), "{c:?}");
    device.accept(&c.response).unwrap();

    // Old copies of the device record: the one from registration (OTP_0, now neither current
    // nor previous) is stale; after the key expires everything is refused as expired; the one
    // after the first signature (OTP_1, the previous OTP) is a clone, and the key is destroyed.
    let request4 = sign(&mut rng, pkcs1, t1 + 10);
    let mut old = DeviceRecord::from_bytes(&device_otp0).unwrap();
    let m = old.sign(&mut rng, &request4, &pin()).unwrap();
    let c = server.complete(&mut rng, &m, t1 + 11).unwrap();
    assert_eq!(c.outcome, Outcome::StaleRecord);
    files.push((
        "signing_answer_stale_record",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    let far = T0 + 4 * 366 * 24 * HOUR;
    let c = server.complete(&mut rng, &m, far).unwrap();
    assert_eq!(c.outcome, Outcome::Expired);
    files.push((
        "signing_answer_expired",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    let mut clone = DeviceRecord::from_bytes(&device_otp1).unwrap();
    let m = clone.sign(&mut rng, &request4, &pin()).unwrap();
    let c = server.complete(&mut rng, &m, t1 + 12).unwrap();
    assert_eq!(c.outcome, Outcome::CloneDetected);
    files.push((
        "signing_answer_clone_detected",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    let m = device.sign(&mut rng, &request4, &pin()).unwrap();
    let c = server.complete(&mut rng, &m, t1 + 13).unwrap();
    assert_eq!(c.outcome, Outcome::Destroyed);
    files.push((
        "signing_answer_destroyed",
        open_signing_response(&opener, &m, &c.response).unwrap(),
    ));
    files.push(("server_record_destroyed", record_bytes(&server, &key_id)));

    // The server share's export encoding, from its own seed.
    let mut rng = ChaCha20Rng::seed_from_u64(SHARE_SEED);
    let (_, payload) = DeviceShare::generate(&mut rng, size()).unwrap();
    let share = ServerShare::generate(&mut rng, payload, size()).unwrap();
    files.push(("server_share", share.to_bytes().to_vec()));

    Fixture {
        files,
        transport: transport_bytes,
    }
}

// ---------------------------------------------------------------------------------------------
// Decoders, each with its re-encoder.

/// One decoder with its re-encoder: `Ok(re-encoding)` or the decode error.
type Codec = fn(&[u8]) -> Result<Vec<u8>, Error>;

fn codec_of(file: &str) -> Codec {
    let name = file
        .strip_prefix("signing_answer_")
        .map(|_| "signing_answer")
        .or_else(|| file.strip_prefix("server_record_").map(|_| "server_record"))
        .or_else(|| {
            file.strip_prefix("sealed_response_")
                .map(|_| "sealed_response")
        })
        .or_else(|| file.strip_prefix("device_record").map(|_| "device_record"))
        .or_else(|| {
            file.strip_prefix("signing_request")
                .map(|_| "signing_request")
        })
        .unwrap_or(file);
    match name {
        "registration_challenge" => |b| RegistrationChallenge::from_bytes(b).map(|m| m.to_bytes()),
        "registration_request" => |b| RegistrationRequest::from_bytes(b).map(|m| m.to_bytes()),
        "registration_secret" => {
            |b| RegistrationPayload::from_bytes(b).map(|m| m.to_bytes().to_vec())
        }
        "registration_result" => |b| {
            decode_registration_result(b)
                .map(|(k, n2, otp)| encode_registration_result(&k, &n2, &otp))
        },
        "sealed_response" => |b| SealedResponse::from_bytes(b).map(|m| m.to_bytes()),
        "signing_request" => |b| SigningRequest::from_bytes(b).map(|m| m.to_bytes()),
        "sealed_partial_signature" => {
            |b| SealedPartialSignature::from_bytes(b).map(|m| m.to_bytes())
        }
        "partial_signature" => |b| {
            decode_partial_signature(b).map(|(otp, y)| encode_partial_signature(&otp, &y).to_vec())
        },
        "signing_answer" => {
            |b| decode_signing_answer(b).map(|(o, otp)| encode_signing_answer(&o, otp.as_ref()))
        }
        "server_share" => |b| ServerShare::from_bytes(b).map(|m| m.to_bytes().to_vec()),
        "server_record" => |b| KeyRecord::from_bytes(b).map(|m| m.to_bytes().to_vec()),
        "device_record" => |b| DeviceRecord::from_bytes(b).map(|m| m.to_bytes().to_vec()),
        other => panic!("no decoder for {other}"),
    }
}

/// The type byte each known answer must carry.
fn type_of(file: &str) -> u8 {
    let f = |p: &str| file.starts_with(p);
    match () {
        _ if f("registration_request") => 0x01,
        _ if f("registration_result") => 0x02,
        _ if f("signing_request") => 0x03,
        _ if f("sealed_partial_signature") => 0x04,
        _ if f("signing_answer") => 0x05,
        _ if f("partial_signature") => 0x06,
        _ if f("registration_secret") => 0x07,
        _ if f("registration_challenge") => 0x08,
        _ if f("sealed_response") => 0x09,
        _ if f("device_record") => 0x11,
        _ if f("server_record") => 0x12,
        _ if f("server_share") => 0x13,
        _ => panic!("unknown file {file}"),
    }
}

fn decode_err(codec: Codec, bytes: &[u8]) -> DecodeError {
    match codec(bytes) {
        Err(Error::Decode(e)) => e,
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[track_caller]
fn rejects(codec: Codec, bytes: &[u8], field: &str, kind: DecodeErrorKind) {
    let e = decode_err(codec, bytes);
    assert_eq!((e.field, e.kind), (field, kind), "{e:?}");
}

fn kat_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/encodings")
}

fn kat(name: &str) -> Vec<u8> {
    fixture().get(name).to_vec()
}

// ---------------------------------------------------------------------------------------------
// Known answers.

/// Every encoding equals its file byte for byte (so any change to a byte of an encoding, or to
/// the order in which the protocol draws randomness, fails here), decodes, and re-encodes to
/// itself. `SPLIT_RSA_WRITE_KATS=1` rewrites the files instead (review the diff).
#[test]
fn known_answers_pin_every_encoding() {
    let f = fixture();
    let write = std::env::var_os("SPLIT_RSA_WRITE_KATS").is_some();
    for (name, bytes) in &f.files {
        let path = kat_dir().join(format!("{name}.hex"));
        if write {
            std::fs::write(&path, format!("{}\n", hex(bytes))).unwrap();
        }
        let want = unhex(&std::fs::read_to_string(&path).unwrap());
        assert!(
            want == *bytes,
            "{name}: the encoding differs from {}",
            path.display()
        );
        let codec = codec_of(name);
        assert_eq!(codec(&want).unwrap(), want, "{name}: not canonical");
        assert_eq!(
            &want[..6],
            &[b'S', b'R', b'S', b'A', 2, type_of(name)],
            "{name}"
        );
    }
}

/// The decoded known answers hold what the fixture put in them (so the files pin values, not
/// only bytes).
#[test]
fn known_answers_decode_to_the_fixture_values() {
    let (otp_outcome, otp) = decode_signing_answer(&kat("signing_answer_completed")).unwrap();
    let Outcome::Completed { signature } = otp_outcome else {
        panic!("not completed")
    };
    assert_eq!(signature.len(), 2 * K);
    assert!(otp.is_some());
    for (file, want) in [
        ("signing_answer_not_pending", Outcome::NotPending),
        ("signing_answer_destroyed", Outcome::Destroyed),
        ("signing_answer_expired", Outcome::Expired),
        ("signing_answer_clone_detected", Outcome::CloneDetected),
        ("signing_answer_stale_record", Outcome::StaleRecord),
    ] {
        assert_eq!(
            decode_signing_answer(&kat(file)).unwrap(),
            (want, None),
            "{file}"
        );
    }
    let (o, _) = decode_signing_answer(&kat("signing_answer_wrong_pin")).unwrap();
    assert_eq!(
        o,
        Outcome::WrongPin {
            attempts_left: 6,
            locked_until: Some(T0 + 60 + 3 * HOUR)
        }
    );
    let (o, _) = decode_signing_answer(&kat("signing_answer_locked")).unwrap();
    assert_eq!(
        o,
        Outcome::Locked {
            until: Some(T0 + 60 + 3 * HOUR)
        }
    );

    let active = KeyRecord::from_bytes(&kat("server_record_active")).unwrap();
    let a = active.active().unwrap();
    assert_eq!(a.failures(), 2);
    let pending = a.pending().unwrap();
    assert_eq!(pending.request().to_bytes(), kat("signing_request_pss"));
    assert_eq!(pending.tried().len(), 2);
    assert_eq!(a.unresolved().len(), 1);
    assert_eq!(a.unresolved()[0].message_hash(), &pending.tried()[1]);
    assert_eq!(a.unresolved()[0].request(), pending.request());
    assert!(a.last().is_some() && a.completed().is_some() && a.otp_previous().is_some());
    let locked = KeyRecord::from_bytes(&kat("server_record_locked")).unwrap();
    let l = locked.active().unwrap();
    assert_eq!(
        (l.failures(), l.locked_until()),
        (3, Some(T0 + 60 + 3 * HOUR))
    );
    assert!(l.unresolved().is_empty());
    let destroyed = KeyRecord::from_bytes(&kat("server_record_destroyed")).unwrap();
    assert_eq!(
        destroyed.destroyed(),
        Some((DestroyReason::Clone, T0 + 4 * HOUR + 12))
    );
    assert_eq!(destroyed.key_id(), active.key_id());

    let dev = DeviceRecord::from_bytes(&kat("device_record")).unwrap();
    assert!(dev.pending_request().is_none());
    assert_eq!(dev.key_id(), active.key_id());
    let dev = DeviceRecord::from_bytes(&kat("device_record_pending")).unwrap();
    assert_eq!(
        dev.pending_request().unwrap().to_bytes(),
        kat("signing_request")
    );
    let msg = SealedPartialSignature::from_bytes(&kat("sealed_partial_signature")).unwrap();
    assert_eq!(dev.resend().unwrap(), msg);
    assert_eq!(msg.request_hash(), &sha256(&kat("signing_request")));

    let result = decode_registration_result(&kat("registration_result")).unwrap();
    let resp = SealedResponse::from_bytes(&kat("sealed_response_registration")).unwrap();
    let challenge = RegistrationChallenge::from_bytes(&kat("registration_challenge")).unwrap();
    assert_eq!(resp.kind(), ResponseKind::Registration);
    assert_eq!(&result.0, resp.key_id());
    assert_eq!(resp.request_id().as_bytes(), challenge.challenge());
    assert_eq!(challenge.expires_at(), T0 + 15 * 60);
    let req = RegistrationRequest::from_bytes(&kat("registration_request")).unwrap();
    assert_eq!(req.challenge(), &challenge);
    let secret = RegistrationPayload::from_bytes(&kat("registration_secret")).unwrap();
    assert_eq!(secret.n1_be_bytes(), req.n1());
    let share = ServerShare::from_bytes(&kat("server_share")).unwrap();
    assert_eq!(share.n_be_bytes().len(), 2 * K);
}

/// The sealed parts of the known answers open under the fixture's transport key, so the
/// plaintext files are what the sealed ones carry.
#[test]
fn known_answer_plaintexts_are_inside_the_sealed_ones() {
    let f = fixture();
    let t = ServerTransportKey::from_bytes(&f.transport).unwrap();
    let req = RegistrationRequest::from_bytes(&kat("registration_request")).unwrap();
    assert_eq!(
        open_registration_request(&t, &req).unwrap(),
        kat("registration_secret")
    );
    let resp = SealedResponse::from_bytes(&kat("sealed_response_registration")).unwrap();
    assert_eq!(
        open_registration_response(&t, &req, &resp).unwrap(),
        kat("registration_result")
    );
    let msg = SealedPartialSignature::from_bytes(&kat("sealed_partial_signature")).unwrap();
    assert_eq!(
        open_partial_signature(&t, &msg).unwrap(),
        kat("partial_signature")
    );
    let resp = SealedResponse::from_bytes(&kat("sealed_response_signing")).unwrap();
    assert_eq!(
        open_signing_response(&t, &msg, &resp).unwrap(),
        kat("signing_answer_completed")
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips (seeded property tests).

const CASES: u64 = 64;

fn random_id(rng: &mut ChaCha20Rng) -> [u8; 16] {
    let mut b = [0u8; 16];
    rng.fill_bytes(&mut b);
    b
}

fn random32(rng: &mut ChaCha20Rng) -> [u8; 32] {
    let mut b = [0u8; 32];
    rng.fill_bytes(&mut b);
    b
}

fn random_bytes(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    rng.fill_bytes(&mut b);
    b
}

/// A random odd value with its top bit set, of a supported half-modulus length.
fn random_half(rng: &mut ChaCha20Rng) -> Vec<u8> {
    let len = [64, 96, 128, 256, 384, 512][rng.next_u32() as usize % 6];
    let mut b = random_bytes(rng, len);
    b[0] |= 0x80;
    b[len - 1] |= 1;
    b
}

fn random_opt_u64(rng: &mut ChaCha20Rng) -> Option<u64> {
    (rng.next_u32() & 1 == 1).then(|| rng.next_u64())
}

fn random_purpose(rng: &mut ChaCha20Rng) -> KeyPurpose {
    if rng.next_u32() & 1 == 0 {
        KeyPurpose::Authentication
    } else {
        KeyPurpose::Signing
    }
}

fn random_scheme(rng: &mut ChaCha20Rng) -> Scheme {
    let h = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512][rng.next_u32() as usize % 3];
    if rng.next_u32() & 1 == 0 {
        Scheme::Pkcs1v15(h)
    } else {
        Scheme::Pss(h)
    }
}

fn random_request(rng: &mut ChaCha20Rng, key_id: KeyId) -> SigningRequest {
    let scheme = random_scheme(rng);
    let digest = random_bytes(rng, scheme.hash().output_len());
    let salt = match scheme {
        Scheme::Pss(h) => random_bytes(rng, h.output_len()),
        Scheme::Pkcs1v15(_) => Vec::new(),
    };
    SigningRequest::from_parts(
        key_id,
        RequestId::from_bytes(random_id(rng)),
        random_purpose(rng),
        scheme,
        &digest,
        &salt,
        rng.next_u64(),
    )
    .unwrap()
}

/// The lengths of a composite modulus (and so of a signature): two halves of one class.
const COMPOSITE_LENS: [usize; 11] = [128, 160, 192, 224, 256, 512, 640, 768, 896, 1024, 192];

fn random_outcome(rng: &mut ChaCha20Rng) -> Outcome {
    match rng.next_u32() % 8 {
        0 => Outcome::Completed {
            signature: {
                let len = COMPOSITE_LENS[rng.next_u32() as usize % 11];
                random_bytes(rng, len)
            },
        },
        1 => Outcome::WrongPin {
            attempts_left: rng.next_u32(),
            locked_until: random_opt_u64(rng),
        },
        2 => Outcome::NotPending,
        3 => Outcome::Locked {
            until: random_opt_u64(rng),
        },
        4 => Outcome::Destroyed,
        5 => Outcome::Expired,
        6 => Outcome::CloneDetected,
        _ => Outcome::StaleRecord,
    }
}

fn random_response(rng: &mut ChaCha20Rng, kind: ResponseKind, key_id: KeyId) -> SealedResponse {
    // Sealed answers are 34..=1095 bytes (nonce, header, tag; the largest Completed outcome).
    let len = 34 + rng.next_u32() as usize % (1095 - 34 + 1);
    SealedResponse::from_parts(
        kind,
        key_id,
        RequestId::from_bytes(random_id(rng)),
        random_bytes(rng, len),
    )
}

#[track_caller]
fn round_trips(codec: Codec, bytes: &[u8]) {
    match codec(bytes) {
        Ok(again) => assert_eq!(again, bytes, "re-encoding differs"),
        Err(e) => panic!("a valid encoding was refused: {e:?}"),
    }
}

#[test]
fn messages_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5254_0001);
    for _ in 0..CASES {
        // SigningRequest: value equality and canonical bytes.
        let key_id = KeyId::from_bytes(random_id(&mut rng));
        let req = random_request(&mut rng, key_id);
        let bytes = req.to_bytes();
        assert_eq!(SigningRequest::from_bytes(&bytes).unwrap(), req);
        round_trips(codec_of("signing_request"), &bytes);

        // SealedResponse.
        let kind = if rng.next_u32() & 1 == 0 {
            ResponseKind::Registration
        } else {
            ResponseKind::Signing
        };
        let key_id = KeyId::from_bytes(random_id(&mut rng));
        let resp = random_response(&mut rng, kind, key_id);
        let bytes = resp.to_bytes();
        assert_eq!(SealedResponse::from_bytes(&bytes).unwrap(), resp);
        round_trips(codec_of("sealed_response"), &bytes);

        // SigningAnswer (plaintext of a sealed signing answer).
        let outcome = random_outcome(&mut rng);
        let otp = matches!(outcome, Outcome::Completed { .. }).then(|| random32(&mut rng));
        let bytes = encode_signing_answer(&outcome, otp.as_ref());
        assert_eq!(decode_signing_answer(&bytes).unwrap(), (outcome, otp));
        round_trips(codec_of("signing_answer"), &bytes);

        // RegistrationResult (plaintext of a sealed registration answer).
        let key_id = KeyId::from_bytes(random_id(&mut rng));
        let n2 = random_half(&mut rng);
        let otp = random32(&mut rng);
        let bytes = encode_registration_result(&key_id, &n2, &otp);
        assert_eq!(
            decode_registration_result(&bytes).unwrap(),
            (key_id, n2, otp)
        );
        round_trips(codec_of("registration_result"), &bytes);

        // PartialSignature (plaintext of a sealed partial signature).
        let otp = random32(&mut rng);
        let y_len = [64, 96, 128, 256, 384, 512][rng.next_u32() as usize % 6];
        let y = random_bytes(&mut rng, y_len);
        let bytes = encode_partial_signature(&otp, &y).to_vec();
        assert_eq!(decode_partial_signature(&bytes).unwrap(), (otp, y));
        round_trips(codec_of("partial_signature"), &bytes);

        // RegistrationChallenge: every challenge, expiry and tag is a valid value.
        let mut bytes = b"SRSA\x02\x08".to_vec();
        bytes.extend_from_slice(&random_bytes(&mut rng, 16 + 8 + 32));
        round_trips(codec_of("registration_challenge"), &bytes);
    }
}

/// Random sealed messages built at the byte level from the known answers' public fields:
/// any enc, any ciphertext of the length the plaintext fixes.
#[test]
fn sealed_messages_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5254_0002);
    let challenge = kat("registration_challenge");
    for _ in 0..CASES {
        let n1 = random_half(&mut rng);
        let mut b = challenge.clone();
        b[5] = 0x01;
        b.push(if rng.next_u32() & 1 == 0 { 1 } else { 2 });
        b.extend_from_slice(&(n1.len() as u16).to_be_bytes());
        b.extend_from_slice(&n1);
        b.extend_from_slice(&random_bytes(&mut rng, 32));
        let ct = 6 + 2 + 2 * n1.len() + 16;
        b.extend_from_slice(&(ct as u32).to_be_bytes());
        b.extend_from_slice(&random_bytes(&mut rng, ct));
        let m = RegistrationRequest::from_bytes(&b).unwrap();
        assert_eq!(RegistrationRequest::from_bytes(&m.to_bytes()).unwrap(), m);
        round_trips(codec_of("registration_request"), &b);

        let mut b = b"SRSA\x02\x04".to_vec();
        b.extend_from_slice(&random_bytes(&mut rng, 16 + 16 + 32 + 32));
        let y = [64, 96, 128, 256, 384, 512][rng.next_u32() as usize % 6];
        let ct = 6 + 32 + 2 + y + 16;
        b.extend_from_slice(&(ct as u32).to_be_bytes());
        b.extend_from_slice(&random_bytes(&mut rng, ct));
        let m = SealedPartialSignature::from_bytes(&b).unwrap();
        assert_eq!(
            SealedPartialSignature::from_bytes(&m.to_bytes()).unwrap(),
            m
        );
        round_trips(codec_of("sealed_partial_signature"), &b);
    }
}

fn random_stored(rng: &mut ChaCha20Rng, key_id: KeyId) -> split_rsa::__fuzz::StoredParts {
    let summary = (!rng.next_u32().is_multiple_of(3)).then(|| random_outcome(rng));
    let kind = if summary.is_some() {
        ResponseKind::Signing
    } else {
        ResponseKind::Registration
    };
    (random32(rng), summary, random_response(rng, kind, key_id))
}

/// Server records in random states: every field of the active state drawn at random
/// (failures, lock, OTP hashes, a pending request with up to 64 charged hashes, a charged hash,
/// stored answers of every outcome), or destroyed for a random reason.
#[test]
fn server_records_round_trip() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5254_0003);
    for i in 0..CASES {
        let key_id = KeyId::from_bytes(random_id(&mut rng));
        let n_len = COMPOSITE_LENS[rng.next_u32() as usize % 11];
        let mut n = random_bytes(&mut rng, n_len);
        // A composite modulus: odd, with a non-zero top byte (checked on decode).
        n[0] |= 0x80;
        n[n_len - 1] |= 1;
        let share_len = 16 + rng.next_u32() as usize % 1200;
        let wrapped = WrappedShare::from_parts(
            KekId(rng.next_u32()),
            random_bytes(&mut rng, 24).try_into().unwrap(),
            random_bytes(&mut rng, share_len),
        );
        let mut record = KeyRecord::new_active(
            key_id,
            random_purpose(&mut rng),
            random32(&mut rng),
            rng.next_u64(),
            rng.next_u64(),
            n,
            OtpHash::from_bytes(random32(&mut rng)),
            wrapped,
            None,
        );
        let tried = rng.next_u32() as usize % 65;
        let parts = ActiveParts {
            failures: rng.next_u32(),
            locked_until: random_opt_u64(&mut rng),
            otp_previous: (rng.next_u32() & 1 == 1).then(|| random32(&mut rng)),
            pending: (rng.next_u32() & 1 == 1).then(|| {
                let r = random_request(&mut rng, key_id);
                (r, (0..tried).map(|_| random32(&mut rng)).collect())
            }),
            unresolved: (0..rng.next_u32() % 3)
                .map(|_| (random32(&mut rng), random_request(&mut rng, key_id)))
                .collect(),
            last: (rng.next_u32() & 1 == 1).then(|| random_stored(&mut rng, key_id)),
            completed: (rng.next_u32() & 1 == 1).then(|| random_stored(&mut rng, key_id)),
        };
        assert!(set_active_parts(&mut record, parts));
        if i % 4 == 3 {
            let reason = [
                DestroyReason::WrongPins,
                DestroyReason::Clone,
                DestroyReason::Closed,
                DestroyReason::Expired,
            ][rng.next_u32() as usize % 4];
            destroy_record(&mut record, reason, rng.next_u64());
        }
        let bytes = record.to_bytes().to_vec();
        assert_eq!(KeyRecord::from_bytes(&bytes).unwrap(), record);
        round_trips(codec_of("server_record"), &bytes);
    }
}

/// Real protocol runs on several seeds: every message, answer, plaintext and record they make
/// round-trips, including device records with a pending exchange carrying a new PIN seal, and
/// dead device records; server shares from several seeds import and export to themselves.
#[test]
fn protocol_runs_round_trip_for_several_seeds() {
    for seed in 0..4u64 {
        let mut rng = ChaCha20Rng::seed_from_u64(0x5254_0100 + seed);
        let transport = ServerTransportKey::generate(&mut rng);
        let opener = ServerTransportKey::from_bytes(&transport.to_bytes()[..]).unwrap();
        let kek = LocalKek::generate(&mut rng, KekId(7));
        let server: TestServer = Server::new(
            transport,
            FaultyStore::default(),
            kek,
            ServerPolicy::default(),
            size(),
        );
        let purpose = random_purpose(&mut rng);
        let p = Pin::new("50731", purpose).unwrap();
        let p2 = Pin::new("64208", purpose).unwrap();
        let challenge = server.issue_challenge(&mut rng, T0);
        round_trips(codec_of("registration_challenge"), &challenge.to_bytes());
        let (reg, request) = DeviceRegistration::start(
            &mut rng,
            &challenge,
            purpose,
            size(),
            &server.transport_public_key(),
        )
        .unwrap();
        round_trips(codec_of("registration_request"), &request.to_bytes());
        round_trips(
            codec_of("registration_secret"),
            &open_registration_request(&opener, &request).unwrap(),
        );
        let registered = server.register(&mut rng, &request, T0).unwrap();
        round_trips(codec_of("sealed_response"), &registered.response.to_bytes());
        round_trips(
            codec_of("registration_result"),
            &open_registration_response(&opener, &request, &registered.response).unwrap(),
        );
        let answer = reg.open_response(&registered.response).unwrap();
        let mut device = reg
            .finish(
                &mut rng,
                answer,
                &p,
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        let key_id = *device.key_id();
        round_trips(codec_of("device_record"), &device.to_bytes());
        for step in 0..3 {
            let scheme = random_scheme(&mut rng);
            let digest = random_bytes(&mut rng, scheme.hash().output_len());
            let req = server
                .create_request(&mut rng, &key_id, purpose, scheme, &digest, T0 + 100 * step)
                .unwrap();
            round_trips(codec_of("signing_request"), &req.to_bytes());
            let msg = if step == 1 {
                device
                    .sign_and_change_pin(
                        &mut rng,
                        &req,
                        &p,
                        &p2,
                        Argon2Params::insecure_fast_for_tests(),
                    )
                    .unwrap()
            } else {
                let pin = if step == 0 { &p } else { &p2 };
                device.sign(&mut rng, &req, pin).unwrap()
            };
            round_trips(codec_of("sealed_partial_signature"), &msg.to_bytes());
            round_trips(
                codec_of("partial_signature"),
                &open_partial_signature(&opener, &msg).unwrap(),
            );
            round_trips(codec_of("device_record"), &device.to_bytes());
            round_trips(codec_of("server_record"), &record_bytes(&server, &key_id));
            let c = server
                .complete(&mut rng, &msg, T0 + 100 * step + 1)
                .unwrap();
            assert!(matches!(c.outcome, Outcome::Completed { .. }), "{c:?}");
            round_trips(codec_of("sealed_response"), &c.response.to_bytes());
            round_trips(
                codec_of("signing_answer"),
                &open_signing_response(&opener, &msg, &c.response).unwrap(),
            );
            device.accept(&c.response).unwrap();
            round_trips(codec_of("server_record"), &record_bytes(&server, &key_id));
        }
        // A dead device record (the server said the key is destroyed).
        server.close(&key_id, T0 + 1000).unwrap();
        round_trips(codec_of("server_record"), &record_bytes(&server, &key_id));
        let req_bytes = {
            let mut r = random_request(&mut rng, key_id);
            r = SigningRequest::from_parts(
                key_id,
                *r.request_id(),
                purpose,
                r.scheme(),
                r.digest(),
                r.pss_salt(),
                r.expires_at(),
            )
            .unwrap();
            r
        };
        let msg = device.sign(&mut rng, &req_bytes, &p2).unwrap();
        let c = server.complete(&mut rng, &msg, T0 + 1001).unwrap();
        assert_eq!(c.outcome, Outcome::Destroyed);
        device.accept(&c.response).unwrap();
        assert!(device.is_dead());
        round_trips(codec_of("device_record"), &device.to_bytes());

        let (_, payload) = DeviceShare::generate(&mut rng, size()).unwrap();
        let share = ServerShare::generate(&mut rng, payload, size()).unwrap();
        round_trips(codec_of("server_share"), &share.to_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// Rejections. Wrong magic/version/type, truncation and trailing bytes are tested on every
// known answer. The other classes, per decoder (— where the encoding has no such field):
//
// | type | over-long length | unknown tag | non-canonical | out of range / inconsistent |
// |---|---|---|---|---|
// | 01 | n1, sealed.ciphertext | purpose | n1 top bit | n1 even, ciphertext length |
// | 02 | n2 | — | n2 top bit | n2 even |
// | 03 | digest, pss_salt | purpose, scheme, hash | — | digest, salt length |
// | 04 | sealed.ciphertext | — | — | ciphertext length |
// | 05 | signature | outcome | locked_until, until flags | signature length |
// | 06 | y | — | — | y length |
// | 07 | size | — | n1 top bit | d1'' >= n1 |
// | 08 | — (fixed fields only) | — | — | — (any challenge, expiry, tag decodes) |
// | 09 | sealed | kind | — | sealed too short |
// | 11 | n1, n2, pending.request, pending.message | purpose, status | pending, new_seal flags; n1, n2 top bits | n1 = n2, small-order key, inconsistent pending |
// | 12 | n, pending.request, tried, last, share | purpose, state, reason, stored outcome | six presence flags | n length, foreign pending request |
// | 13 | share.n1, share.n2 | — | share.n1, share.p2 top bits | n, d1'', q2, qinv, n1_inv, dp |

/// Every known answer.
fn all_kats() -> Vec<(&'static str, Vec<u8>)> {
    fixture().files.clone()
}

#[test]
fn rejects_wrong_magic_version_and_type() {
    for (name, good) in all_kats() {
        let codec = codec_of(name);
        let mut b = good.clone();
        b[0] ^= 0x01;
        rejects(codec, &b, "magic", DecodeErrorKind::BadMagic);
        for v in [0u8, 1, 3, 0xff] {
            let mut b = good.clone();
            b[4] = v;
            rejects(codec, &b, "version", DecodeErrorKind::BadVersion);
        }
        for t in 0u8..=0x20 {
            if t == good[5] {
                continue;
            }
            let mut b = good.clone();
            b[5] = t;
            rejects(codec, &b, "type", DecodeErrorKind::BadType);
        }
    }
}

/// Every strict prefix of every known answer is refused as truncated.
#[test]
fn rejects_every_truncation() {
    for (name, good) in all_kats() {
        let codec = codec_of(name);
        for len in 0..good.len() {
            let e = decode_err(codec, &good[..len]);
            assert_eq!(e.kind, DecodeErrorKind::Truncated, "{name}[..{len}]: {e:?}");
        }
    }
}

#[test]
fn rejects_trailing_bytes() {
    for (name, good) in all_kats() {
        let codec = codec_of(name);
        for extra in [&[0u8][..], &[1, 2, 3], &good[..]] {
            let mut b = good.clone();
            b.extend_from_slice(extra);
            rejects(codec, &b, "end", DecodeErrorKind::TrailingBytes);
        }
    }
}

fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

fn get_u16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn get_u32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

// Offsets in the known answers (docs/encodings.md; 1024-bit halves, so n1, n2 are K bytes).
const CHALLENGE_END: usize = 6 + 16 + 8 + 32;

/// Offsets into a KeyRecord encoding, found by walking it (docs/encodings.md).
struct RecordOffsets {
    purpose: usize,
    state: usize,
    n_len: usize,
    locked_flag: usize,
    otp_prev_flag: usize,
    pending_flag: usize,
    /// The u32 length of the stored request (if pending).
    pending_len: usize,
    tried_count: usize,
    /// The count of unresolved charges.
    unresolved_count: usize,
    last_flag: usize,
    last_summary: usize,
    last_len: usize,
    completed_flag: usize,
    share_len: usize,
}

fn record_offsets(b: &[u8]) -> RecordOffsets {
    let purpose = 6 + 16;
    let state = purpose + 1 + 32 + 8 + 8;
    let n_len = state + 1;
    let mut at = n_len + 2 + get_u16(b, n_len) + 4;
    let locked_flag = at;
    at += 1 + if b[at] == 1 { 8 } else { 0 };
    at += 32;
    let otp_prev_flag = at;
    at += 1 + if b[at] == 1 { 32 } else { 0 };
    let pending_flag = at;
    let (mut pending_len, mut tried_count) = (0, 0);
    if b[at] == 1 {
        pending_len = at + 1;
        tried_count = pending_len + 4 + get_u32(b, pending_len);
        at = tried_count + 1 + 32 * usize::from(b[tried_count]);
    } else {
        at += 1;
    }
    let unresolved_count = at;
    at += 1;
    for _ in 0..b[unresolved_count] {
        at += 32;
        at += 4 + get_u32(b, at);
    }
    let answer = |at: usize| -> (usize, usize, usize) {
        // (summary offset, length offset, end)
        assert_eq!(b[at], 1, "a stored answer is expected here");
        let summary = at + 1 + 32;
        let len = summary
            + match b[summary] {
                0 | 3 | 5..=8 => 1,
                1 => 1 + 4 + get_u32(b, summary + 1),
                2 => 1 + 4 + 1 + if b[summary + 5] == 1 { 8 } else { 0 },
                4 => 1 + 1 + if b[summary + 1] == 1 { 8 } else { 0 },
                t => panic!("tag {t}"),
            };
        (summary, len, len + 4 + get_u32(b, len))
    };
    let last_flag = at;
    let (last_summary, last_len, end) = answer(at);
    let completed_flag = end;
    let (_, _, end) = answer(end);
    let share_len = end + 4 + 24;
    assert_eq!(share_len + 4 + get_u32(b, share_len), b.len());
    RecordOffsets {
        purpose,
        state,
        n_len,
        locked_flag,
        otp_prev_flag,
        pending_flag,
        pending_len,
        tried_count,
        unresolved_count,
        last_flag,
        last_summary,
        last_len,
        completed_flag,
        share_len,
    }
}

/// Offsets into a DeviceRecord encoding.
struct DeviceOffsets {
    purpose: usize,
    n1_len: usize,
    n2_len: usize,
    server_key: usize,
    status: usize,
    pending_flag: usize,
    request_len: usize,
    message_len: usize,
    new_seal_flag: usize,
}

fn device_offsets(b: &[u8]) -> DeviceOffsets {
    let purpose = 6 + 16;
    let n1_len = purpose + 1;
    let n2_len = n1_len + 2 + get_u16(b, n1_len);
    let seal = n2_len + 2 + get_u16(b, n2_len);
    // The sealed share body: found from the end of the record when no exchange is pending
    // (its layout is being changed for Argon2i; these tests do not depend on it).
    // Pending: the status and pending bytes (01 01) after the otp and the server key, then
    // the request's length and its header.
    let mut found = None;
    for sk in seal..b.len() - 40 {
        let pf = sk + 32 + 1;
        if b[pf] == 1 && b[sk + 32] == 1 {
            let rl = pf + 1;
            let l = get_u32(b, rl);
            if (60..=512).contains(&l) && b.get(rl + 4..rl + 10) == Some(&b"SRSA\x02\x03"[..]) {
                found = Some((sk, pf));
                break;
            }
        }
    }
    // Not pending: the record ends with the server key, the status and 00.
    let (server_key, pending_flag) = found.unwrap_or((b.len() - 2 - 32, b.len() - 1));
    let status = server_key + 32;
    let (request_len, message_len, new_seal_flag) = if b[pending_flag] == 1 {
        let request_len = pending_flag + 1;
        let message_len = request_len + 4 + get_u32(b, request_len);
        (
            request_len,
            message_len,
            message_len + 4 + get_u32(b, message_len) + 32,
        )
    } else {
        (0, 0, 0)
    };
    DeviceOffsets {
        purpose,
        n1_len,
        n2_len,
        server_key,
        status,
        pending_flag,
        request_len,
        message_len,
        new_seal_flag,
    }
}

fn with(mut b: Vec<u8>, f: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    f(&mut b);
    b
}

/// Over-long lengths: a variable field's length one past its maximum is `TooLong`; a
/// half-modulus length that is no supported size is `OutOfRange`.
#[test]
fn rejects_over_long_lengths() {
    use DecodeErrorKind::{OutOfRange, TooLong};
    let c = codec_of;

    // 01: n1 length, sealed ciphertext length (max 1048).
    let b = kat("registration_request");
    let n1 = CHALLENGE_END + 1;
    rejects(
        c("registration_request"),
        &with(b.clone(), |b| set_u16(b, n1, 65)),
        "n1",
        OutOfRange,
    );
    rejects(
        c("registration_request"),
        &with(b.clone(), |b| set_u16(b, n1, 1024)),
        "n1",
        OutOfRange,
    );
    let ct = n1 + 2 + K + 32;
    rejects(
        c("registration_request"),
        &with(b, |b| set_u32(b, ct, 1049)),
        "sealed.ciphertext",
        TooLong,
    );

    // 02: n2 length.
    let b = kat("registration_result");
    rejects(
        c("registration_result"),
        &with(b.clone(), |b| set_u16(b, 22, 63)),
        "n2",
        OutOfRange,
    );
    rejects(
        c("registration_result"),
        &with(b, |b| set_u16(b, 22, 0xffff)),
        "n2",
        OutOfRange,
    );

    // 03: digest and salt lengths (max 64).
    let b = kat("signing_request");
    rejects(
        c("signing_request"),
        &with(b.clone(), |b| set_u32(b, 41, 65)),
        "digest",
        TooLong,
    );
    let b = kat("signing_request_pss");
    rejects(
        c("signing_request"),
        &with(b, |b| set_u32(b, 41 + 4 + 32, 65)),
        "pss_salt",
        TooLong,
    );

    // 04: sealed ciphertext length.
    let b = kat("sealed_partial_signature");
    rejects(
        c("sealed_partial_signature"),
        &with(b, |b| set_u32(b, 6 + 64 + 32, 1049)),
        "sealed.ciphertext",
        TooLong,
    );

    // 05: signature length (max 1024).
    let b = kat("signing_answer_completed");
    rejects(
        c("signing_answer"),
        &with(b, |b| set_u32(b, 7, 1025)),
        "signature",
        TooLong,
    );

    // 06: y length.
    let b = kat("partial_signature");
    rejects(
        c("partial_signature"),
        &with(b, |b| set_u16(b, 38, 1024)),
        "y",
        OutOfRange,
    );

    // 07: size in bits.
    let b = kat("registration_secret");
    rejects(
        c("registration_secret"),
        &with(b, |b| set_u16(b, 6, 8192)),
        "size",
        OutOfRange,
    );

    // 09: sealed answer length (max 1095).
    let b = kat("sealed_response_signing");
    rejects(
        c("sealed_response"),
        &with(b, |b| set_u32(b, 39, 1096)),
        "sealed",
        TooLong,
    );

    // 11: n1 length; the pending request (max 512) and message (max 2048).
    let b = kat("device_record");
    let o = device_offsets(&b);
    rejects(
        c("device_record"),
        &with(b.clone(), |b| set_u16(b, o.n1_len, 1000)),
        "n1",
        OutOfRange,
    );
    rejects(
        c("device_record"),
        &with(b, |b| set_u16(b, o.n2_len, 1000)),
        "n2",
        OutOfRange,
    );
    let b = kat("device_record_pending");
    let o = device_offsets(&b);
    rejects(
        c("device_record"),
        &with(b.clone(), |b| set_u32(b, o.request_len, 513)),
        "pending.request",
        TooLong,
    );
    rejects(
        c("device_record"),
        &with(b, |b| set_u32(b, o.message_len, 2049)),
        "pending.message",
        TooLong,
    );

    // 12: n length, pending request (512), tried count (64), stored answers (2048), wrapped
    // share (4378).
    let b = kat("server_record_active");
    let o = record_offsets(&b);
    rejects(
        c("server_record"),
        &with(b.clone(), |b| set_u16(b, o.n_len, 1025)),
        "n",
        OutOfRange,
    );
    rejects(
        c("server_record"),
        &with(b.clone(), |b| set_u32(b, o.pending_len, 513)),
        "pending.request",
        TooLong,
    );
    rejects(
        c("server_record"),
        &with(b.clone(), |b| b[o.tried_count] = 65),
        "pending.tried",
        TooLong,
    );
    rejects(
        c("server_record"),
        &with(b.clone(), |b| b[o.unresolved_count] = 17),
        "unresolved",
        TooLong,
    );
    rejects(
        c("server_record"),
        &with(b.clone(), |b| set_u32(b, o.last_len, 2049)),
        "last",
        TooLong,
    );
    rejects(
        c("server_record"),
        &with(b, |b| set_u32(b, o.share_len, 4379)),
        "share.ciphertext",
        TooLong,
    );

    // 13: n1 and n2 lengths.
    let b = kat("server_share");
    rejects(
        c("server_share"),
        &with(b.clone(), |b| set_u16(b, 6, 65)),
        "share.n1",
        OutOfRange,
    );
    rejects(
        c("server_share"),
        &with(b, |b| set_u16(b, 6 + 2 + K, 0)),
        "share.n2",
        OutOfRange,
    );
}

/// Unknown tags: purpose, scheme, hash, response kind, outcome, key state, destroy reason,
/// device status.
#[test]
fn rejects_unknown_tags() {
    use DecodeErrorKind::UnknownTag;
    let c = codec_of;
    for bad in [0u8, 3, 0xff] {
        let b = kat("registration_request");
        rejects(
            c("registration_request"),
            &with(b, |b| b[CHALLENGE_END] = bad),
            "purpose",
            UnknownTag,
        );
        let b = kat("signing_request");
        rejects(
            c("signing_request"),
            &with(b.clone(), |b| b[38] = bad),
            "purpose",
            UnknownTag,
        );
        let bad_hash = if bad == 3 { 4 } else { bad };
        rejects(
            c("signing_request"),
            &with(b.clone(), |b| b[40] = bad_hash),
            "hash",
            UnknownTag,
        );
        rejects(
            c("signing_request"),
            &with(b, |b| b[39] = bad),
            "scheme",
            UnknownTag,
        );
        let b = kat("sealed_response_signing");
        rejects(
            c("sealed_response"),
            &with(b, |b| b[6] = bad),
            "kind",
            UnknownTag,
        );
        let b = kat("device_record");
        let o = device_offsets(&b);
        rejects(
            c("device_record"),
            &with(b.clone(), |b| b[o.purpose] = bad),
            "purpose",
            UnknownTag,
        );
        rejects(
            c("device_record"),
            &with(b, |b| b[o.status] = bad),
            "status",
            UnknownTag,
        );
        let b = kat("server_record_active");
        let o = record_offsets(&b);
        rejects(
            c("server_record"),
            &with(b.clone(), |b| b[o.purpose] = bad),
            "purpose",
            UnknownTag,
        );
        rejects(
            c("server_record"),
            &with(b, |b| b[o.state] = bad),
            "state",
            UnknownTag,
        );
        let b = kat("server_record_destroyed");
        rejects(
            c("server_record"),
            &with(b, |b| {
                b[6 + 16 + 1 + 32 + 16 + 1] = if bad == 3 { 5 } else { bad }
            }),
            "destroyed.reason",
            UnknownTag,
        );
    }
    for bad in [0u8, 9, 0xff] {
        let b = kat("signing_answer_not_pending");
        rejects(
            c("signing_answer"),
            &with(b, |b| b[6] = bad),
            "outcome",
            UnknownTag,
        );
        // A stored answer's outcome inside the server record (0 is "registered" there).
        if bad != 0 {
            let b = kat("server_record_active");
            let o = record_offsets(&b);
            rejects(
                c("server_record"),
                &with(b, |b| b[o.last_summary] = bad),
                "outcome",
                UnknownTag,
            );
        }
    }
}

/// Non-canonical encodings: every presence flag or boolean other than 00/01, and half moduli
/// (and primes) without their top bit.
#[test]
fn rejects_non_canonical_flags_and_integers() {
    use DecodeErrorKind::NonCanonical;
    let c = codec_of;
    for bad in [2u8, 0x80, 0xff] {
        let b = kat("server_record_active");
        let o = record_offsets(&b);
        for (at, field) in [
            (o.locked_flag, "locked_until"),
            (o.otp_prev_flag, "otp_previous"),
            (o.pending_flag, "pending"),
            (o.last_flag, "last"),
            (o.completed_flag, "completed"),
        ] {
            rejects(
                c("server_record"),
                &with(b.clone(), |b| b[at] = bad),
                field,
                NonCanonical,
            );
        }
        let b = kat("signing_answer_wrong_pin");
        rejects(
            c("signing_answer"),
            &with(b, |b| b[11] = bad),
            "locked_until",
            NonCanonical,
        );
        let b = kat("signing_answer_locked");
        rejects(
            c("signing_answer"),
            &with(b, |b| b[7] = bad),
            "until",
            NonCanonical,
        );
        let b = kat("device_record");
        let o = device_offsets(&b);
        rejects(
            c("device_record"),
            &with(b, |b| b[o.pending_flag] = bad),
            "pending",
            NonCanonical,
        );
        let b = kat("device_record_pending");
        let o = device_offsets(&b);
        rejects(
            c("device_record"),
            &with(b, |b| b[o.new_seal_flag] = bad),
            "pending.new_seal",
            NonCanonical,
        );
    }
    // Half moduli without their top bit (their size would not be exact, SPEC §2).
    let top = |b: &mut Vec<u8>, at: usize| b[at] &= 0x7f;
    let b = kat("registration_request");
    rejects(
        c("registration_request"),
        &with(b, |b| top(b, CHALLENGE_END + 3)),
        "n1",
        NonCanonical,
    );
    let b = kat("registration_result");
    rejects(
        c("registration_result"),
        &with(b, |b| top(b, 24)),
        "n2",
        NonCanonical,
    );
    let b = kat("registration_secret");
    rejects(
        c("registration_secret"),
        &with(b, |b| top(b, 8)),
        "n1",
        NonCanonical,
    );
    let b = kat("device_record");
    let o = device_offsets(&b);
    rejects(
        c("device_record"),
        &with(b.clone(), |b| top(b, o.n1_len + 2)),
        "n1",
        NonCanonical,
    );
    rejects(
        c("device_record"),
        &with(b, |b| top(b, o.n2_len + 2)),
        "n2",
        NonCanonical,
    );
    let b = kat("server_share");
    rejects(
        c("server_share"),
        &with(b.clone(), |b| top(b, 8)),
        "share.n1",
        NonCanonical,
    );
    let p2 = 6 + 2 + K + 2 + K + 2 * K + K;
    rejects(
        c("server_share"),
        &with(b, |b| top(b, p2)),
        "share.p2",
        NonCanonical,
    );
}

/// Out-of-range or inconsistent values, each named by its field.
#[test]
fn rejects_out_of_range_values() {
    use DecodeErrorKind::{Invalid, OutOfRange};
    let c = codec_of;

    // 01: an even n1; a ciphertext whose length does not fit n1.
    let b = kat("registration_request");
    rejects(
        c("registration_request"),
        &with(b.clone(), |b| b[CHALLENGE_END + 3 + K - 1] &= 0xfe),
        "n1",
        Invalid,
    );
    let ct = CHALLENGE_END + 3 + K + 32;
    let shorter = with(b, |b| {
        set_u32(b, ct, (6 + 2 + 2 * K + 16 - 1) as u32);
        b.pop();
    });
    rejects(
        c("registration_request"),
        &shorter,
        "sealed.ciphertext",
        Invalid,
    );

    // 02: an even n2.
    let b = kat("registration_result");
    rejects(
        c("registration_result"),
        &with(b, |b| b[24 + K - 1] &= 0xfe),
        "n2",
        Invalid,
    );

    // 03: a digest not as long as the hash; a salt for PKCS#1 v1.5.
    let b = kat("signing_request");
    rejects(
        c("signing_request"),
        &with(b.clone(), |b| b[40] = 2),
        "digest",
        Invalid,
    );
    rejects(
        c("signing_request"),
        &with(b, |b| b[39] = 2),
        "pss_salt",
        Invalid,
    );

    // 04: a ciphertext that is no partial signature's length.
    let b = kat("sealed_partial_signature");
    let at = 6 + 64 + 32;
    let shorter = with(b, |b| {
        let l = get_u32(b, at) as u32;
        set_u32(b, at, l - 1);
        b.pop();
    });
    rejects(
        c("sealed_partial_signature"),
        &shorter,
        "sealed.ciphertext",
        Invalid,
    );

    // 05: a signature of no composite modulus' length.
    let b = kat("signing_answer_completed");
    let shorter = with(b, |b| {
        set_u32(b, 7, 2 * K as u32 - 1);
        b.remove(11);
    });
    rejects(c("signing_answer"), &shorter, "signature", Invalid);

    // 06: y of an unsupported length.
    let b = kat("partial_signature");
    let shorter = with(b, |b| {
        set_u16(b, 38, 63);
        b.pop();
    });
    rejects(c("partial_signature"), &shorter, "y", OutOfRange);

    // 07: d1'' >= n1.
    let b = kat("registration_secret");
    rejects(
        c("registration_secret"),
        &with(b, |b| b[8 + K..8 + 2 * K].fill(0xff)),
        "d1''",
        OutOfRange,
    );

    // 09: a sealed answer shorter than nonce, header and tag.
    let b = kat("sealed_response_signing");
    let shorter = with(b, |b| {
        set_u32(b, 39, 33);
        b.truncate(43 + 33);
    });
    rejects(
        c("sealed_response"),
        &shorter,
        "sealed",
        DecodeErrorKind::Truncated,
    );

    // 11: n2 sharing no... n1 = n2 (not coprime), a small-order transport key, a pending
    // exchange whose message is for another request.
    let b = kat("device_record");
    let o = device_offsets(&b);
    let same = with(b.clone(), |b| {
        let n1 = b[o.n1_len + 2..o.n1_len + 2 + K].to_vec();
        b[o.n2_len + 2..o.n2_len + 2 + K].copy_from_slice(&n1);
    });
    rejects(c("device_record"), &same, "n2", Invalid);
    rejects(
        c("device_record"),
        &with(b, |b| b[o.server_key..o.server_key + 32].fill(0)),
        "server_key",
        Invalid,
    );
    let b = kat("device_record_pending");
    let o = device_offsets(&b);
    // The request's expiry (its last 8 bytes) changes: its hash no longer matches.
    let at = o.request_len + 4 + get_u32(&b, o.request_len) - 1;
    rejects(
        c("device_record"),
        &with(b, |b| b[at] ^= 1),
        "pending",
        Invalid,
    );

    // 12: n of no composite length, a pending request for another key.
    let b = kat("server_record_active");
    let o = record_offsets(&b);
    rejects(
        c("server_record"),
        &with(b.clone(), |b| set_u16(b, o.n_len, 127)),
        "n",
        OutOfRange,
    );
    // An even n, and an n with a leading zero byte (no composite has either).
    let n_at = o.n_len + 2;
    let n_end = n_at + get_u16(&b, o.n_len);
    rejects(
        c("server_record"),
        &with(b.clone(), |b| b[n_end - 1] &= 0xfe),
        "n",
        Invalid,
    );
    rejects(
        c("server_record"),
        &with(b.clone(), |b| b[n_at] = 0),
        "n",
        DecodeErrorKind::NonCanonical,
    );
    let other_key = with(b, |b| b[o.pending_len + 4 + 6] ^= 1);
    rejects(c("server_record"), &other_key, "pending.request", Invalid);

    // 13: n != n1·n2, d1'' >= n1, p2·q2 != n2, a wrong qinv, n1^-1, dp.
    let b = kat("server_share");
    let (n, d, q2, qinv, inv, dp) = (
        6 + 2 + K + 2 + K,
        6 + 2 + K + 2 + K + 2 * K,
        6 + 2 + K + 2 + K + 2 * K + K + P,
        6 + 2 + K + 2 + K + 2 * K + K + 2 * P,
        6 + 2 + K + 2 + K + 2 * K + K + 3 * P,
        6 + 2 + K + 2 + K + 2 * K + K + 3 * P + K,
    );
    rejects(
        c("server_share"),
        &with(b.clone(), |b| b[n + 100] ^= 1),
        "share.n",
        Invalid,
    );
    rejects(
        c("server_share"),
        &with(b.clone(), |b| b[d..d + K].fill(0xff)),
        "share.d1''",
        OutOfRange,
    );
    rejects(
        c("server_share"),
        &with(b.clone(), |b| b[q2 + P - 1] ^= 2),
        "share.q2",
        Invalid,
    );
    rejects(
        c("server_share"),
        &with(b.clone(), |b| b[qinv + P - 1] ^= 1),
        "share.qinv",
        Invalid,
    );
    rejects(
        c("server_share"),
        &with(b.clone(), |b| b[inv + K - 1] ^= 1),
        "share.n1_inv",
        Invalid,
    );
    rejects(
        c("server_share"),
        &with(b, |b| b[dp + P - 1] ^= 1),
        "share.dp",
        Invalid,
    );
}

/// Arbitrary corruption of every known answer: one flipped byte at every offset and random
/// noise; each decoder returns a value or a decode error, never panics (the fuzz targets do
/// this at scale).
#[test]
fn corrupted_known_answers_never_panic() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x5254_0004);
    for (name, good) in all_kats() {
        let codec = codec_of(name);
        let step = if name.starts_with("server_share") {
            7
        } else {
            1
        };
        for at in (0..good.len()).step_by(step) {
            let mut b = good.clone();
            b[at] ^= 1 << (rng.next_u32() % 8);
            if let Ok(again) = codec(&b) {
                assert_eq!(
                    again, b,
                    "{name}: byte {at} flipped decodes non-canonically"
                );
            }
        }
    }
}

/// The store in these tests does fail the chosen compare-and-swap (the fixture depends on it).
#[test]
fn faulty_store_fails_the_chosen_write() {
    let s = FaultyStore::default();
    let id = KeyId::from_bytes([1; 16]);
    s.insert(&NewRecord {
        key_id: &id,
        n1_hash: &[2; 32],
        challenge: &[3; 16],
        blob: b"x",
    })
    .unwrap();
    s.arm(2);
    s.compare_and_swap(&id, 0, b"y").unwrap();
    assert!(matches!(
        s.compare_and_swap(&id, 1, b"z"),
        Err(StoreError::Backend(_))
    ));
    s.compare_and_swap(&id, 1, b"z").unwrap();
    assert_eq!(s.load(&id).unwrap().unwrap().blob.as_slice(), b"z");
}

/// The worked examples in docs/encodings.md are the known-answer files: every table headed
/// "`NAME.hex` (N bytes):" lists contiguous fields from offset 0 to N, and each example's bytes
/// (the first 8 and last 4 of a shortened one) are the file's at that offset.
#[test]
fn documented_examples_match_the_known_answers() {
    let doc = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/encodings.md"),
    )
    .unwrap();
    let mut tables = 0;
    let mut lines = doc.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(rest) = line.strip_prefix('`') else {
            continue;
        };
        let Some((name, rest)) = rest.split_once(".hex` (") else {
            continue;
        };
        let Some(total) = rest.strip_suffix(" bytes):") else {
            continue;
        };
        let total: usize = total.parse().unwrap();
        let file = unhex(&std::fs::read_to_string(kat_dir().join(format!("{name}.hex"))).unwrap());
        assert_eq!(file.len(), total, "{name}: documented length");
        let mut at = 0;
        for row in lines
            .by_ref()
            .skip_while(|l| !l.starts_with("| offset"))
            .skip(2)
        {
            if !row.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let (offset, width, ex) = (
                cells[1].parse::<usize>().unwrap(),
                cells[2].parse::<usize>().unwrap(),
                cells[4],
            );
            assert_eq!(offset, at, "{name}: row {row}");
            let got = &file[offset..offset + width];
            // The hex between the first backticks (the v1-era sealed-share table puts its
            // "(N bytes)" inside them).
            let shown = ex.split('`').nth(1).unwrap_or("");
            let shown = shown.split(' ').next().unwrap_or("");
            if let Some((head, tail)) = shown.split_once('…') {
                assert!(
                    hex(got).starts_with(head) && hex(got).ends_with(tail),
                    "{name}: {row}"
                );
            } else {
                assert_eq!(shown, hex(got), "{name}: {row}");
            }
            at += width;
        }
        assert_eq!(at, total, "{name}: the fields do not cover the encoding");
        tables += 1;
    }
    assert!(tables >= 20, "only {tables} example tables found");
}

//! Security review item 3: no secret is left in freed heap memory (SPEC §1 (g) "every secret is
//! wiped when dropped", STYLE.md rule 3).
//!
//! A spying global allocator (`tests/support/alloc_spy.rs`) scans every block that is freed or
//! reallocated away while a case runs, for any 16-byte window of the case's secrets, in each
//! form the code holds them (big-endian bytes as in the encodings, little-endian 64-bit limbs
//! as in `Uint`). Key generation is deterministic for a seeded RNG, so each case first runs the
//! operation once unwatched to learn the secrets (through `hazmat` read access, or by
//! recomputing them with num-bigint), then runs it again, identically, under the spy.
//!
//! The review found copies of p2, d1'' and the OTP in freed memory: the encoding `Writer` grew
//! its wiping vector by reallocation, and `Vec` growth frees the old block unwiped.
//! `writer_wipes_the_buffers_it_outgrows` and
//! `server_share_encoding_leaves_no_secret_in_freed_memory` fail on that `Writer`.
//!
//! The cases use test-size keys (1024-bit halves): every freed block is scanned, and key
//! generation frees many.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(clippy::integer_division)] // arithmetic on public test sizes

#[path = "support/alloc_spy.rs"]
mod alloc_spy;

use alloc_spy::{Finding, watch};
use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use chacha20::ChaCha20;
use chacha20::cipher::{KeyIvInit, StreamCipher};
use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::Uint;
use split_rsa::hazmat::{keygen, prime};
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, DeviceShare, HashAlg, InMemoryKeyStore, KekId,
    KeyPurpose, KeySize, LocalKek, Outcome, Pin, RegistrationPayload, Scheme, SealedShare, Server,
    ServerPolicy, ServerShare, ServerTransportKey,
};
use zeroize::Zeroizing;

/// A secret and its label, in every form a case registers.
type Secrets = Vec<(&'static str, Zeroizing<Vec<u8>>)>;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

fn size() -> KeySize {
    KeySize::insecure_for_tests(1024).unwrap()
}

/// The forms of a secret integer: little-endian limbs (as a `Uint` holds it) and big-endian
/// bytes of its limb width (as the encodings write it).
fn add_uint(out: &mut Secrets, label: &'static str, x: &Uint) {
    let mut le = Zeroizing::new(Vec::with_capacity(x.nlimbs() * 8));
    for l in x.as_limbs() {
        le.extend_from_slice(&l.to_le_bytes());
    }
    out.push((label, le));
    out.push((label, x.to_be_bytes(x.nlimbs() * 8).0));
}

/// The low half of `x` (`nlimbs / 2` limbs), in both forms. For φ(n1) and d1 only the low
/// half is secret: φ = n1 - (p + q) + 1 agrees with the public n1 in its top half, and the top
/// half of d1 = (1 + kφ)/e follows from n1 for a small e; registering those halves would flag
/// every copy of n1.
fn add_low_half(out: &mut Secrets, label: &'static str, x: &BigUint, nlimbs: usize) {
    let mut digits = x.to_u64_digits();
    digits.resize(nlimbs / 2, 0);
    add_uint(out, label, &Uint::from_limbs(digits));
}

fn big(x: &Uint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes(x.nlimbs() * 8).0)
}

fn check(case: &str, findings: &[Finding]) {
    assert!(
        findings.is_empty(),
        "{case}: {} secret copies in freed memory:\n{findings:#?}",
        findings.len()
    );
}

fn run(secrets: &Secrets, f: impl FnOnce()) -> Vec<Finding> {
    let refs: Vec<(&'static str, &[u8])> =
        secrets.iter().map(|(l, b)| (*l, b.as_slice())).collect();
    watch(&refs, f)
}

/// The harness finds what it must: a secret copied into a plain vector that is freed unwiped,
/// and one left behind by a vector that grows by reallocation; and nothing in a wiping buffer
/// or in an unrelated one.
#[test]
fn spy_finds_unwiped_copies_and_only_those() {
    let mut secret = Zeroizing::new(vec![0u8; 48]);
    rng(1).fill_bytes(&mut secret);
    let secrets: Secrets = vec![("secret", secret.clone())];

    let found = run(&secrets, || {
        let copy = secret[8..40].to_vec(); // 32 bytes: two windows' worth
        drop(std::hint::black_box(copy));
    });
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].event, alloc_spy::Event::Dealloc);
    assert_eq!(
        (found[0].offset_in_block, found[0].offset_in_secret),
        (0, 8)
    );

    let found = run(&secrets, || {
        let mut v = Zeroizing::new(Vec::with_capacity(48));
        v.extend_from_slice(&secret);
        v.extend_from_slice(&[0u8; 100]); // reallocates: the old block is freed unwiped
        drop(std::hint::black_box(v));
    });
    assert!(
        found.iter().any(|f| f.event == alloc_spy::Event::Realloc),
        "{found:#?}"
    );

    let found = run(&secrets, || {
        let mut v = Zeroizing::new(Vec::with_capacity(200));
        v.extend_from_slice(&secret);
        v.extend_from_slice(&[0u8; 100]); // fits: no reallocation, wiped on drop
        drop(std::hint::black_box(v));
        drop(std::hint::black_box(vec![0x5au8; 1000]));
    });
    check("wiping buffer", &found);
}

/// SPEC §3 steps 1-4 on the device: `DeviceShare::generate` (p1, q1, the low halves of φ1 and
/// d1, d1', d1''), the
/// payload's encoding `RegistrationPayload::to_bytes` and dropping everything.
#[test]
fn device_keygen_leaves_no_secret_in_freed_memory() {
    const SEED: u64 = 0xf4ee_0001;
    // The secrets, learned from an identical unwatched run.
    let mut secrets = Secrets::new();
    {
        // DeviceShare::generate draws the prime pair first, from the same RNG.
        let (p, q) = prime::generate_prime_pair::<keygen::P1, keygen::Q1, _>(
            &mut rng(SEED),
            size().prime_bits(),
        )
        .unwrap();
        let (pb, qb) = (big(p.modulus()), big(q.modulus()));
        let phi = (&pb - 1u32) * (&qb - 1u32);
        let d = BigUint::from(65537u32).modinv(&phi).unwrap();
        add_uint(&mut secrets, "p1", p.modulus());
        add_uint(&mut secrets, "q1", q.modulus());
        add_low_half(&mut secrets, "phi1 (low half)", &phi, size().bits() / 64);
        add_low_half(&mut secrets, "d1 (low half)", &d, size().bits() / 64);
        let (device, payload) = DeviceShare::generate(&mut rng(SEED), size()).unwrap();
        let (n1, d1p, _) = keygen::device_parts(&device);
        assert_eq!(big(n1.modulus()), &pb * &qb, "same seed, same primes");
        add_uint(&mut secrets, "d1'", d1p);
        add_uint(&mut secrets, "d1''", keygen::payload_parts(&payload).1);
    }

    let found = run(&secrets, || {
        let (device, payload) = DeviceShare::generate(&mut rng(SEED), size()).unwrap();
        let bytes = payload.to_bytes();
        drop(bytes);
        drop(payload);
        drop(device);
    });
    check("device key generation", &found);
}

/// SPEC §3 step 5 on the server: `ServerShare::generate` (p2, q2, dp, dq, q2^-1 mod p2, and
/// d1'' received) and dropping the share.
#[test]
fn server_keygen_leaves_no_secret_in_freed_memory() {
    const SEED: u64 = 0xf4ee_0002;
    let (_device, payload) = DeviceShare::generate(&mut rng(SEED), size()).unwrap();
    let payload_bytes = payload.to_bytes();
    let mut secrets = Secrets::new();
    {
        let share = ServerShare::generate(&mut rng(SEED + 1), payload, size()).unwrap();
        add_server_secrets(&mut secrets, &share);
    }

    let found = run(&secrets, || {
        let payload = RegistrationPayload::from_bytes(&payload_bytes).unwrap();
        let share = ServerShare::generate(&mut rng(SEED + 1), payload, size()).unwrap();
        drop(share);
    });
    check("server key generation", &found);
}

fn add_server_secrets(secrets: &mut Secrets, share: &ServerShare) {
    let (_, d1pp, p2, q2, dp, dq, qinv, _, _, _) = keygen::server_parts(share);
    add_uint(secrets, "d1''", d1pp);
    add_uint(secrets, "p2", p2.modulus());
    add_uint(secrets, "q2", q2.modulus());
    add_uint(secrets, "dp", dp);
    add_uint(secrets, "dq", dq);
    add_uint(secrets, "qinv", &p2.from_monty(qinv));
}

/// The server share's encoding (`ServerShare::to_bytes`, the plaintext sealed under the KEK in
/// the server's key record: d1'', p2, q2, q2^-1 mod p2, dp, dq written one after another into
/// one `Writer`), and dropping it. Fails on
/// a `Writer` that grows by reallocation: d1'' and p2 are in the blocks it outgrows.
#[test]
fn server_share_encoding_leaves_no_secret_in_freed_memory() {
    const SEED: u64 = 0xf4ee_0003;
    let (_device, payload) = DeviceShare::generate(&mut rng(SEED), size()).unwrap();
    let share = ServerShare::generate(&mut rng(SEED + 1), payload, size()).unwrap();
    let mut secrets = Secrets::new();
    add_server_secrets(&mut secrets, &share);
    let found = run(&secrets, || {
        let bytes = share.to_bytes();
        assert!(bytes.len() > 600);
        drop(bytes);
    });
    check("server share encoding", &found);
}

/// The encoding `Writer` itself, through the device's partial-signature plaintext (SPEC §4
/// step 4: the OTP, then y, appended to one `Writer`): the OTP written first must not be left
/// in a block the writer outgrows. Fails on the old `Writer` (it grew its vector by
/// reallocation, freeing the block that held the OTP unwiped).
#[test]
fn writer_wipes_the_buffers_it_outgrows() {
    let mut r = rng(0xf4ee_0004);
    let mut otp = [0u8; 32];
    r.fill_bytes(&mut otp);
    for y_len in [64usize, 128, 256, 384, 512] {
        let mut y = Zeroizing::new(vec![0u8; y_len]);
        r.fill_bytes(&mut y);
        y[0] &= 0x7f;
        let secrets: Secrets = vec![("otp", Zeroizing::new(otp.to_vec())), ("y", y.clone())];
        let found = run(&secrets, || {
            let bytes = split_rsa::__fuzz::encode_partial_signature(&otp, &y);
            assert!(bytes.len() > 6 + 32 + y_len);
            drop(bytes);
        });
        check(
            &format!("partial signature encoding, |y| = {y_len}"),
            &found,
        );
    }
}

/// SPEC §5: sealing and unsealing d1' under a PIN. Watches d1', the Argon2i key and the
/// ChaCha20 keystream (both recomputed here with the same crates), through seal, the
/// encoding, decoding, unseal with the right PIN and with a wrong one, and the drops.
#[test]
fn pin_seal_and_unseal_leave_no_secret_in_freed_memory() {
    let purpose = KeyPurpose::Signing;
    let key_id = *b"freed-memory key";
    let params = Argon2Params::new(64, 3, 2).unwrap();
    let mut share = Zeroizing::new(vec![0u8; (1024 + 128) / 8]);
    rng(0xf4ee_0005).fill_bytes(&mut share);
    let salt_seed = 0xf4ee_0006;
    let mut salt = [0u8; 16];
    rng(salt_seed).fill_bytes(&mut salt);

    // The key and keystream, recomputed (RFC 9106 Argon2i, RFC 8439 ChaCha20).
    let mut key = Zeroizing::new([0u8; 32]);
    let mut ad = key_id.to_vec();
    ad.push(purpose.tag());
    let p = ParamsBuilder::new()
        .m_cost(64)
        .t_cost(3)
        .p_cost(2)
        .data(AssociatedData::new(&ad).unwrap())
        .output_len(32)
        .build()
        .unwrap();
    Argon2::new(Algorithm::Argon2i, Version::V0x13, p)
        .hash_password_into(b"739164", &salt, key.as_mut())
        .unwrap();
    let mut keystream = Zeroizing::new(vec![0u8; share.len()]);
    ChaCha20::new((&*key).into(), &[0u8; 12].into()).apply_keystream(&mut keystream);
    let secrets: Secrets = vec![
        ("d1'", share.clone()),
        ("kdf key", Zeroizing::new(key.to_vec())),
        ("keystream", keystream),
    ];

    let found = run(&secrets, || {
        let pin = Pin::new("739164", purpose).unwrap();
        let sealed =
            SealedShare::seal(&mut rng(salt_seed), &pin, &key_id, purpose, &share, params).unwrap();
        assert_eq!(sealed.salt(), &salt);
        let bytes = sealed.to_bytes();
        let decoded = SealedShare::from_bytes(&bytes).unwrap();
        let opened = decoded.unseal(&pin, &key_id, purpose).unwrap();
        assert_eq!(opened.as_bytes(), share.as_slice());
        drop(opened);
        let wrong = Pin::new("739165", purpose).unwrap();
        drop(decoded.unseal(&wrong, &key_id, purpose).unwrap());
        drop((sealed, decoded, bytes, pin, wrong));
    });
    check("PIN seal and unseal", &found);
}

/// The whole protocol (SPEC §3, §4): registration, one signature, and the encodings of both
/// records, on a real server and device. The secrets: d1' and d1'' (the device key is
/// reproduced from the same seed), the server's d1'', p2, q2, dp, dq, qinv (likewise), and the
/// one-time passwords OTP_0 and OTP_1 (learned by running the same seeded flow once unwatched).
#[test]
fn registration_signing_and_records_leave_no_secret_in_freed_memory() {
    const DEVICE: u64 = 0xf4ee_0010;
    const SERVER: u64 = 0xf4ee_0011;
    let (device_share, payload) = DeviceShare::generate(&mut rng(DEVICE), size()).unwrap();
    let mut secrets = Secrets::new();
    let (_, d1p, _) = keygen::device_parts(&device_share);
    add_uint(&mut secrets, "d1'", d1p);
    let share = ServerShare::generate(&mut rng(SERVER), payload, size()).unwrap();
    add_server_secrets(&mut secrets, &share);
    drop((device_share, share));

    // The flow, deterministic for its seeds; returns OTP_0 and OTP_1.
    let flow = || -> ([u8; 32], [u8; 32]) {
        let now = 1_800_000_000;
        let mut misc = rng(0xf4ee_0012);
        let server = Server::new(
            ServerTransportKey::generate(&mut misc),
            InMemoryKeyStore::new(),
            LocalKek::generate(&mut misc, KekId(1)),
            ServerPolicy::default(),
            size(),
        );
        let challenge = server.issue_challenge(&mut misc, now);
        let (registration, request) = DeviceRegistration::start(
            &mut rng(DEVICE),
            &challenge,
            KeyPurpose::Signing,
            size(),
            &server.transport_public_key(),
        )
        .unwrap();
        let registered = server.register(&mut rng(SERVER), &request, now).unwrap();
        let answer = registration.open_response(&registered.response).unwrap();
        let pin = Pin::new("58213", KeyPurpose::Signing).unwrap();
        let device = registration
            .finish(
                &mut misc,
                answer,
                &pin,
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        let otp0 = split_rsa::hazmat::device::otp(&device);
        let mut device = DeviceRecord::from_bytes(&device.to_bytes()).unwrap();
        let request = server
            .create_request(
                &mut misc,
                device.key_id(),
                KeyPurpose::Signing,
                Scheme::Pss(HashAlg::Sha256),
                &HashAlg::Sha256.digest(b"m"),
                now,
            )
            .unwrap();
        let message = device.sign(&mut misc, &request, &pin).unwrap();
        drop(device.to_bytes());
        let done = server.complete(&mut misc, &message, now).unwrap();
        assert!(matches!(
            device.accept(&done.response).unwrap(),
            Outcome::Completed { .. }
        ));
        drop(device.to_bytes());
        drop(server.load(device.key_id()).unwrap());
        (otp0, split_rsa::hazmat::device::otp(&device))
    };
    let (otp0, otp1) = flow();
    secrets.push(("OTP_0", Zeroizing::new(otp0.to_vec())));
    secrets.push(("OTP_1", Zeroizing::new(otp1.to_vec())));
    let found = run(&secrets, || {
        let again = flow();
        assert_eq!(again, (otp0, otp1), "the watched run is the same run");
    });
    check("registration, signing and record encodings", &found);
}

//! Arbitrary bytes as a sealed partial signature to a FIXED server key (SPEC §4 step 5, §7).
//!
//! One server with one registered 512+512-bit test key is built deterministically once. Each
//! input is turned into a partial signature for a fixed signing request in one of three ways
//! (first byte): 0 the rest is the sealed message's encoding (after the header, key id and
//! request id); 1 the rest is the plaintext, sealed properly to the server with the right
//! associated data; 2 the rest gives the OTP (or the current one) and y, encoded as the device
//! would and sealed properly.
//!
//! Oracles: `Server::complete` never panics and never releases a signature (nobody here knows
//! d1'); the key's record afterwards is byte for byte the record before, or the record before
//! with exactly one failed attempt charged (SPEC §7 charge before compute), compared through
//! the record's canonical encoding. The record is restored after every input.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::__fuzz::{encode_partial_signature, partial_aad};
use split_rsa::{
    ActiveKey, Argon2Params, DeviceRegistration, HashAlg, InMemoryKeyStore, KeyPurpose, KeyRecord,
    KeySize, KeyState, KeyStore, Pin, Scheme, SealedPartialSignature, Server, ServerPolicy,
    ServerShare, ServerTransportKey, SigningRequest, seal_to_server,
};

const T0: u64 = 1_800_000_000;
const NOW: u64 = T0 + 1000;

struct Fixed {
    server: Server<InMemoryKeyStore<ServerShare>>,
    request: SigningRequest,
    record: KeyRecord<ServerShare>,
    otp: [u8; 32],
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::seed_from_u64(0xf022);
        let size = KeySize::insecure_for_tests(512).unwrap();
        let server = Server::new(
            ServerTransportKey::generate(&mut rng),
            InMemoryKeyStore::new(),
            ServerPolicy::default(),
            size,
        );
        let (reg, req) = DeviceRegistration::start(
            &mut rng,
            KeyPurpose::Signing,
            size,
            &server.transport_public_key(),
        )
        .unwrap();
        let resp = server.register(&mut rng, &req, T0).unwrap();
        let pin = Pin::new("50731", KeyPurpose::Signing).unwrap();
        let device = reg
            .finish(
                &mut rng,
                resp,
                &pin,
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        // The device's current OTP sits before the 32-byte transport key at the end of its
        // record (docs/encodings.md).
        let dr = device.to_bytes();
        let otp: [u8; 32] = dr[dr.len() - 64..dr.len() - 32].try_into().unwrap();
        let digest = HashAlg::Sha256.digest(b"fuzz");
        let request = SigningRequest::new(
            &mut rng,
            *device.key_id(),
            Scheme::Pkcs1v15(HashAlg::Sha256),
            &digest,
        )
        .unwrap();
        let record = server
            .state()
            .store()
            .load(device.key_id())
            .unwrap()
            .unwrap();
        Fixed {
            server,
            request,
            record,
            otp,
        }
    })
}

fn sealed(f: &Fixed, plaintext: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let s = seal_to_server(
        &mut rng,
        &f.server.transport_public_key(),
        &partial_aad(&f.request),
        plaintext,
    )
    .unwrap();
    let mut b = s.enc().to_vec();
    b.extend_from_slice(&(s.ciphertext().len() as u32).to_be_bytes());
    b.extend_from_slice(s.ciphertext());
    b
}

fuzz_target!(|data: &[u8]| {
    let f = fixed();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = match mode % 3 {
        0 => rest.to_vec(),
        1 => sealed(f, rest, u64::from(mode)),
        _ => {
            let mut otp = f.otp;
            if mode & 0x80 != 0 && rest.len() >= 32 {
                otp.copy_from_slice(&rest[..32]);
            }
            let y = rest.get(32..).unwrap_or(&[]);
            let mut y = y.to_vec();
            y.resize(64, 0);
            sealed(f, &encode_partial_signature(&otp, &y), u64::from(mode))
        }
    };
    let mut msg = b"SRSA\x01\x04".to_vec();
    msg.extend_from_slice(f.request.key_id());
    msg.extend_from_slice(f.request.request_id());
    msg.extend_from_slice(&body);
    let Ok(partial) = SealedPartialSignature::from_bytes(&msg) else {
        return;
    };

    let store = f.server.state().store();
    let key_id = f.request.key_id();
    let before = store.load(key_id).unwrap().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let result = f.server.complete(&mut rng, &f.request, &partial, NOW);
    assert!(result.is_err(), "a signature was released: {result:?}");
    let after = store.load(key_id).unwrap().unwrap();

    // Either nothing changed (refused before the charge) ...
    let unchanged = KeyRecord::from_parts(
        *key_id,
        after.version(),
        before.created_at(),
        before.expires_at(),
        clone_state(before.state(), None),
    );
    // ... or exactly one failed attempt was charged.
    let policy = f.server.state().policy().lockout().clone();
    let charged = KeyRecord::from_parts(
        *key_id,
        after.version(),
        before.created_at(),
        before.expires_at(),
        clone_state(before.state(), Some(&policy)),
    );
    let got = after.to_bytes();
    if after.version() == before.version() {
        assert_eq!(got, unchanged.to_bytes(), "state changed without a write");
    } else {
        assert_eq!(after.version(), before.version() + 1, "more than one write");
        assert_eq!(
            got,
            charged.to_bytes(),
            "state changed beyond one counted attempt"
        );
    }

    // Restore the original record for the next input.
    store.store(&f.record, after.version()).unwrap();
});

fn clone_state(
    state: &KeyState<ServerShare>,
    charge: Option<&split_rsa::LockoutPolicy>,
) -> KeyState<ServerShare> {
    match state {
        KeyState::Active(a) => {
            let mut attempts = *a.attempts();
            if let Some(p) = charge {
                attempts.charge(p, NOW);
            }
            KeyState::Active(ActiveKey::from_parts(
                a.share().clone(),
                attempts,
                a.otp().clone(),
            ))
        }
        KeyState::Destroyed { reason, at } => KeyState::Destroyed {
            reason: *reason,
            at: *at,
        },
    }
}

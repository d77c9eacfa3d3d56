//! Arbitrary bytes as a sealed partial signature to a FIXED server key (SPEC §4 step 5, §7).
//!
//! One server with one registered key (1024 + 1024-bit test halves) and one pending request is
//! built once; the store is reset to that record for every input. The input becomes a
//! partial signature for the pending request in one of three ways (first byte, mod 3):
//! 0 the rest is the sealed part (`enc || ciphertext`, the length written by the target);
//! 1 the rest is the plaintext, sealed properly to the server with the right associated data;
//! 2 the rest gives the OTP (bit 7 of the mode byte: the first 32 bytes; otherwise the
//! current OTP_0) and y (the next 128 bytes, zero-padded), encoded as the device would and
//! sealed properly.
//!
//! Oracles: `Server::complete` never panics and never releases a signature (nobody here knows
//! d1', so no y is valid except by breaking RSA); its only errors are `Unseal` and `Decode`
//! (nothing is stored then); and the key's record afterwards is byte for byte the record before,
//! or the record with exactly one failed attempt charged: failures 1, the OTP hashes unchanged,
//! the message's hash noted as charged for the pending request and its answer stored
//! (SPEC §7 charge before compute).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use common::{T0, World};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::__fuzz::{encode_partial_signature, partial_aad};
use split_rsa::{
    Error, HashAlg, KeyPurpose, Outcome, Scheme, SealedPartialSignature, SigningRequest,
    seal_to_server,
};

const NOW: u64 = T0 + 100;

struct Fixed {
    world: World,
    request: SigningRequest,
    /// The record with the request pending.
    record: Vec<u8>,
}

fn fixed() -> &'static Fixed {
    static F: OnceLock<Fixed> = OnceLock::new();
    F.get_or_init(|| {
        let world = World::build(0xf022);
        let mut rng = ChaCha20Rng::seed_from_u64(0xf023);
        let digest = HashAlg::Sha256.digest(b"fuzz");
        let request = world
            .server
            .create_request(
                &mut rng,
                &world.key_id,
                KeyPurpose::Signing,
                Scheme::Pkcs1v15(HashAlg::Sha256),
                &digest,
                T0 + 50,
            )
            .unwrap();
        let record = world.record_now().to_bytes().to_vec();
        Fixed {
            world,
            request,
            record,
        }
    })
}

fn sealed(f: &Fixed, plaintext: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let s = seal_to_server(
        &mut rng,
        &f.world.server.transport_public_key(),
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
        0 => {
            let mut b = rest.get(..32).unwrap_or(rest).to_vec();
            let ct = rest.get(32..).unwrap_or(&[]);
            b.extend_from_slice(&(ct.len() as u32).to_be_bytes());
            b.extend_from_slice(ct);
            b
        }
        1 => sealed(f, rest, u64::from(mode)),
        _ => {
            let mut otp = f.world.otp0;
            let mut y = rest;
            if mode & 0x80 != 0 && rest.len() >= 32 {
                otp.copy_from_slice(&rest[..32]);
                y = &rest[32..];
            }
            let mut y = y.to_vec();
            y.resize(128, 0);
            sealed(f, &encode_partial_signature(&otp, &y), u64::from(mode))
        }
    };
    let mut msg = b"SRSA\x02\x04".to_vec();
    msg.extend_from_slice(f.request.key_id().as_bytes());
    msg.extend_from_slice(f.request.request_id().as_bytes());
    msg.extend_from_slice(&f.request.hash());
    msg.extend_from_slice(&body);
    let Ok(partial) = SealedPartialSignature::from_bytes(&msg) else {
        return;
    };

    f.world.reset_to(&f.record);
    let before = f.world.record_now();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let result = f.world.server.complete(&mut rng, &partial, NOW);
    let after = f.world.record_now();
    match result {
        Err(Error::Unseal | Error::Decode(_)) => {
            assert_eq!(after, before, "a refused message changed the record");
        }
        Err(e) => panic!("unexpected error: {e:?}"),
        Ok(c) => {
            assert!(
                !matches!(c.outcome, Outcome::Completed { .. }),
                "a signature was released: {c:?}"
            );
            if after == before {
                return;
            }
            // Exactly one failed attempt charged, and nothing else but its bookkeeping.
            assert!(matches!(c.outcome, Outcome::WrongPin { .. }), "{c:?}");
            let (b, a) = (before.active().unwrap(), after.active().unwrap());
            assert_eq!(a.failures(), b.failures() + 1, "not exactly one charge");
            assert_eq!(a.otp_current(), b.otp_current(), "OTP rotated");
            assert_eq!(a.otp_previous(), b.otp_previous(), "OTP rotated");
            assert_eq!(a.n(), b.n());
            assert_eq!(a.share(), b.share());
            assert_eq!(a.completed(), b.completed());
            assert!(a.unresolved().is_empty(), "the charge was settled");
            let p = a.pending().expect("the pending request stays");
            assert_eq!(p.request(), &f.request);
            assert_eq!(p.tried(), &[partial.hash()], "the charged message is noted");
            let last = a.last().expect("the answer is stored");
            assert_eq!(last.message_hash(), &partial.hash());
            assert_eq!(last.response(), &c.response);
        }
    }
});

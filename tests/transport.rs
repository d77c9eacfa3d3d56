//! SPEC §6: HPKE sealing of messages to the server.
//!
//! The RFC 9180 A.2.1 known answer (with associated data) is a unit test in
//! src/server/transport.rs, because it needs the RFC's `info` string. Here: interoperability with an
//! independent HPKE implementation (pyca/cryptography + OpenSSL 4.0, generator
//! tests/data/gen_transport_kat.py), round trips, and every kind of tampering.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(clippy::integer_division)] // arithmetic on public test sizes

use std::collections::HashMap;

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::{
    DecodeError, DecodeErrorKind, ENC_LEN, Error, MAX_PLAINTEXT_LEN, SealedMessage,
    ServerTransportKey, TAG_LEN, TRANSPORT_INFO, TransportPublicKey, seal_to_server,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn kat_blocks(text: &str) -> Vec<HashMap<String, String>> {
    let mut out = vec![];
    let mut cur = HashMap::new();
    for line in text.lines().chain(std::iter::once("")) {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let (k, v) = line.split_once(" =").unwrap();
        cur.insert(k.trim().to_string(), v.trim().to_string());
    }
    out
}

/// Some fixed associated data standing in for key_id || request_id || SHA-256(request).
fn aad(n: u8) -> Vec<u8> {
    (0..64).map(|i| i ^ n).collect()
}

#[test]
fn info_string() {
    assert_eq!(TRANSPORT_INFO, b"split-rsa v1 transport");
}

#[test]
fn opens_messages_sealed_by_independent_implementation() {
    let blocks = kat_blocks(include_str!("data/transport_kat.txt"));
    assert_eq!(blocks.len(), 3);
    for v in blocks {
        let name = &v["name"];
        let server = ServerTransportKey::from_bytes(&hex(&v["server_sk"])).unwrap();
        assert_eq!(
            to_hex(&server.public_key().to_bytes()),
            v["server_pk"],
            "{name}"
        );
        let msg = SealedMessage::from_bytes(&hex(&v["sealed"])).unwrap();
        assert_eq!(msg.to_bytes(), hex(&v["sealed"]));
        let pt = server.open(&msg, b"").unwrap();
        assert_eq!(to_hex(pt.as_bytes()), v["plaintext"], "{name}");
        // The vector was sealed with empty associated data: any other aad fails.
        assert_eq!(
            server.open(&msg, b"x").unwrap_err(),
            Error::Unseal,
            "{name}"
        );
    }
}

#[test]
fn round_trip_and_key_export() {
    let mut rng = ChaCha20Rng::seed_from_u64(0x7a5);
    let server = ServerTransportKey::generate(&mut rng);
    let pk = server.public_key();
    assert_eq!(TransportPublicKey::from_bytes(&pk.to_bytes()).unwrap(), pk);
    let reimported = ServerTransportKey::from_bytes(&server.to_bytes()[..]).unwrap();
    assert_eq!(reimported.public_key(), pk);

    for len in [0usize, 1, 16, 272, 384, 512, 4096, MAX_PLAINTEXT_LEN] {
        let mut pt = vec![0u8; len];
        rng.fill_bytes(&mut pt);
        let msg = seal_to_server(&mut rng, &pk, &aad(1), &pt).unwrap();
        assert_eq!(msg.enc().len(), ENC_LEN);
        assert_eq!(msg.ciphertext().len(), len + TAG_LEN);
        let wire = msg.to_bytes();
        assert_eq!(wire.len(), ENC_LEN + len + TAG_LEN);
        let back = SealedMessage::from_bytes(&wire).unwrap();
        assert_eq!(back, msg);
        assert_eq!(
            server.open(&back, &aad(1)).unwrap().as_bytes(),
            pt.as_slice()
        );
        assert_eq!(
            reimported.open(&back, &aad(1)).unwrap().as_bytes(),
            pt.as_slice()
        );
    }
    let too_long = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert!(matches!(
        seal_to_server(&mut rng, &pk, b"", &too_long),
        Err(Error::InvalidRequest(_))
    ));
}

#[test]
fn fresh_encapsulation_per_message() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let server = ServerTransportKey::generate(&mut rng);
    let pt = b"the same y twice";
    let a = seal_to_server(&mut rng, &server.public_key(), &aad(0), pt).unwrap();
    let b = seal_to_server(&mut rng, &server.public_key(), &aad(0), pt).unwrap();
    assert_ne!(a.enc(), b.enc());
    assert_ne!(a.ciphertext(), b.ciphertext());
}

#[test]
fn every_tampering_gives_unseal() {
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let server = ServerTransportKey::generate(&mut rng);
    let pt: Vec<u8> = (0..384).map(|i| i as u8).collect();
    let msg = seal_to_server(&mut rng, &server.public_key(), &aad(3), &pt).unwrap();
    let wire = msg.to_bytes();
    assert!(server.open(&msg, &aad(3)).is_ok());

    // Every single-bit flip anywhere (enc or ciphertext or tag).
    for byte in 0..wire.len() {
        for bit in [0u8, 3, 7] {
            let mut w = wire.clone();
            w[byte] ^= 1 << bit;
            let m = SealedMessage::from_bytes(&w).unwrap();
            // enc bit 7 of the last byte is ignored by X25519 (RFC 7748 §5), but the enc bytes
            // are also hashed into the key schedule, so even that flip must fail.
            assert_eq!(
                server.open(&m, &aad(3)).unwrap_err(),
                Error::Unseal,
                "byte {byte} bit {bit}"
            );
        }
    }
    // Truncated ciphertext (still >= tag length) and an appended byte.
    for w in [&wire[..wire.len() - 1], &wire[..ENC_LEN + TAG_LEN]] {
        let m = SealedMessage::from_bytes(w).unwrap();
        assert_eq!(server.open(&m, &aad(3)).unwrap_err(), Error::Unseal);
    }
    let mut longer = wire.clone();
    longer.push(0);
    let m = SealedMessage::from_bytes(&longer).unwrap();
    assert_eq!(server.open(&m, &aad(3)).unwrap_err(), Error::Unseal);

    // Wrong associated data: another value, empty, one bit off, a prefix, an extension.
    let mut off_by_bit = aad(3);
    off_by_bit[63] ^= 0x80;
    let mut extended = aad(3);
    extended.push(0);
    for bad in [aad(4), vec![], off_by_bit, aad(3)[..63].to_vec(), extended] {
        assert_eq!(server.open(&msg, &bad).unwrap_err(), Error::Unseal);
    }

    // Swapping enc between two messages to the same key.
    let other = seal_to_server(&mut rng, &server.public_key(), &aad(3), &pt).unwrap();
    let mut spliced = other.enc().to_vec();
    spliced.extend_from_slice(msg.ciphertext());
    let m = SealedMessage::from_bytes(&spliced).unwrap();
    assert_eq!(server.open(&m, &aad(3)).unwrap_err(), Error::Unseal);

    // A small-order enc (all zeros) is refused by the DH all-zero check.
    let mut zero_enc = vec![0u8; ENC_LEN];
    zero_enc.extend_from_slice(msg.ciphertext());
    let m = SealedMessage::from_bytes(&zero_enc).unwrap();
    assert_eq!(server.open(&m, &aad(3)).unwrap_err(), Error::Unseal);
}

/// The sender has no way to open what it sealed: there is no API taking a public key, and any
/// other key pair, including a freshly generated one (what a device could make), fails.
#[test]
fn wrong_key_and_sender_cannot_open() {
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let server = ServerTransportKey::generate(&mut rng);
    let msg = seal_to_server(&mut rng, &server.public_key(), &aad(5), b"d1'' bytes").unwrap();
    for _ in 0..20 {
        let other = ServerTransportKey::generate(&mut rng);
        assert_ne!(other.public_key(), server.public_key());
        assert_eq!(other.open(&msg, &aad(5)).unwrap_err(), Error::Unseal);
    }
    // A key that differs from the server's in one private bit (after clamping) fails too.
    let mut sk = *server.to_bytes();
    sk[10] ^= 4;
    let near = ServerTransportKey::from_bytes(&sk).unwrap();
    assert_eq!(near.open(&msg, &aad(5)).unwrap_err(), Error::Unseal);
}

fn decode_err(r: Result<impl std::fmt::Debug, Error>) -> (&'static str, DecodeErrorKind) {
    match r {
        Err(Error::Decode(DecodeError { field, kind })) => (field, kind),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[test]
fn strict_decoding() {
    use DecodeErrorKind::*;
    for n in [0usize, 31, ENC_LEN, ENC_LEN + TAG_LEN - 1] {
        let (field, kind) = decode_err(SealedMessage::from_bytes(&vec![9u8; n]));
        assert_eq!(kind, Truncated, "{n}");
        assert_eq!(
            field,
            if n < ENC_LEN {
                "sealed_message.enc"
            } else {
                "sealed_message.ciphertext"
            }
        );
    }
    assert!(SealedMessage::from_bytes(&[9u8; ENC_LEN + TAG_LEN]).is_ok());
    assert!(SealedMessage::from_bytes(&vec![9u8; ENC_LEN + TAG_LEN + MAX_PLAINTEXT_LEN]).is_ok());
    assert_eq!(
        decode_err(SealedMessage::from_bytes(&vec![
            9u8;
            ENC_LEN
                + TAG_LEN
                + MAX_PLAINTEXT_LEN
                + 1
        ])),
        ("sealed_message.ciphertext", TooLong)
    );

    for n in [0usize, 31] {
        assert_eq!(
            decode_err(TransportPublicKey::from_bytes(&vec![9u8; n])),
            ("transport_public_key", Truncated)
        );
        assert_eq!(
            decode_err(ServerTransportKey::from_bytes(&vec![9u8; n])),
            ("transport_private_key", Truncated)
        );
    }
    assert_eq!(
        decode_err(TransportPublicKey::from_bytes(&[9u8; 33])),
        ("transport_public_key", TrailingBytes)
    );
    assert_eq!(
        decode_err(ServerTransportKey::from_bytes(&[9u8; 33])),
        ("transport_private_key", TrailingBytes)
    );
}

/// Small-order public keys (RFC 7748 / Curve25519 points of order 1, 2, 4, 8, and their
/// non-canonical encodings) are refused: sealing to them would give an all-zero DH.
#[test]
fn small_order_public_keys_are_refused() {
    // The u-coordinates of the small-order points (as listed e.g. in libsodium's
    // crypto_scalarmult_curve25519 blocklist and Wycheproof x25519 tests), little-endian.
    let small_order = [
        "0000000000000000000000000000000000000000000000000000000000000000", // 0
        "0100000000000000000000000000000000000000000000000000000000000000", // 1
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p - 1
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p + 1
        "0000000000000000000000000000000000000000000000000000000000000080", // 0, top bit set
        "0100000000000000000000000000000000000000000000000000000000000080", // 1, top bit set
    ];
    for h in small_order {
        assert_eq!(
            decode_err(TransportPublicKey::from_bytes(&hex(h))),
            ("transport_public_key", DecodeErrorKind::Invalid),
            "{h}"
        );
    }
    // The base point u = 9 is fine.
    let mut nine = [0u8; 32];
    nine[0] = 9;
    assert!(TransportPublicKey::from_bytes(&nine).is_ok());
}

#[test]
fn secrets_wipe_and_do_not_debug_print() {
    fn is_wiping<T: Zeroize + ZeroizeOnDrop>() {}
    is_wiping::<ServerTransportKey>();

    let mut rng = ChaCha20Rng::seed_from_u64(6);
    let mut server = ServerTransportKey::generate(&mut rng);
    let sk_hex = to_hex(&server.to_bytes()[..]);
    let pk_hex = to_hex(&server.public_key().to_bytes());
    let shown = format!("{server:?} {server:#?}");
    assert!(!shown.contains(&sk_hex), "{shown}");
    assert!(!shown.contains(&sk_hex[..8]), "{shown}");
    assert!(shown.contains(&pk_hex), "{shown}");

    let msg = seal_to_server(&mut rng, &server.public_key(), b"", b"secret y").unwrap();
    let opened = server.open(&msg, b"").unwrap();
    assert_eq!(format!("{opened:?}"), "SecretBytes { len: 8, .. }");
    assert_eq!(
        format!("{msg:?}"),
        "SealedMessage { ciphertext_len: 24, .. }"
    );

    server.zeroize();
    assert_eq!(*server.to_bytes(), [0u8; 32]);
    assert_eq!(server.open(&msg, b"").unwrap_err(), Error::Unseal);
}

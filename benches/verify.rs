//! Verification-side costs (SPEC §4.6) for the default 6144-bit composite modulus: `verify`
//! (s^e mod n plus the padding check), the encoders alone, and building a `PublicKey`
//! (Montgomery setup plus the DER encodings).
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{Criterion, criterion_group, criterion_main};
use num_bigint::BigUint;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use split_rsa::hazmat::padding;
use split_rsa::{HashAlg, PublicKey, Scheme, verify};

fn bench(c: &mut Criterion) {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rsa6144.pem"
    ))
    .unwrap();
    let key = rsa::PrivateKey::from_pkcs8_pem(&pem).unwrap();
    let n_bytes = key.n_bytes().to_vec();
    let pk = PublicKey::from_modulus(&n_bytes).unwrap();
    let (n, d) = (
        BigUint::from_bytes_be(&n_bytes),
        BigUint::from_bytes_be(&key.d().to_be_bytes()),
    );
    let digest = HashAlg::Sha256.digest(b"bench");
    let salt = [7u8; 32];
    for scheme in [
        Scheme::Pkcs1v15(HashAlg::Sha256),
        Scheme::Pss(HashAlg::Sha256),
    ] {
        let em = padding::encode(scheme, &digest, &salt[..scheme.salt_len()], pk.bits()).unwrap();
        let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
        let mut sig = vec![0u8; pk.size() - s.len()];
        sig.extend_from_slice(&s);
        assert!(verify(&pk, scheme, &digest, &sig).is_ok());
        c.bench_function(&format!("verify 6144 {scheme:?}"), |b| {
            b.iter(|| verify(&pk, scheme, &digest, &sig))
        });
        c.bench_function(&format!("encode 6144 {scheme:?}"), |b| {
            b.iter(|| padding::encode(scheme, &digest, &salt[..scheme.salt_len()], pk.bits()))
        });
    }
    c.bench_function("PublicKey::from_modulus 6144", |b| {
        b.iter(|| PublicKey::from_modulus(&n_bytes))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

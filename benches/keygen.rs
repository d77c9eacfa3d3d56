//! Key generation (SPEC §3): device half 3072, server half 3072, against OpenSSL RSA-3072 key
//! generation in the same run. Keygen time is very variable (the number of candidates is
//! geometric), so compare medians over many samples:
//! `cargo bench --bench keygen` (30 samples by default; criterion's median is in
//! target/criterion/keygen/*/new/estimates.json).

#![allow(clippy::unwrap_used)] // bench code: a failure aborts the run

use criterion::{Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use split_rsa::{DeviceShare, KeySize, RegistrationPayload, ServerShare};
use std::hint::black_box;
use std::time::Duration;

fn keygen(c: &mut Criterion) {
    let mut g = c.benchmark_group("keygen");
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed);

    g.bench_function("device_3072", |b| {
        b.iter(|| DeviceShare::generate(&mut rng, KeySize::BITS_3072).unwrap())
    });

    // One payload, re-parsed per iteration (the server consumes it).
    let (_device, payload) = DeviceShare::generate(&mut rng, KeySize::BITS_3072).unwrap();
    let bytes = payload.to_bytes();
    g.bench_function("server_3072", |b| {
        b.iter(|| {
            let p = RegistrationPayload::from_bytes(black_box(&bytes)).unwrap();
            ServerShare::generate(&mut rng, p, KeySize::BITS_3072).unwrap()
        })
    });

    g.bench_function("openssl_rsa_3072", |b| {
        b.iter(|| openssl::rsa::Rsa::generate(3072).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // 30 samples by default (override with --sample-size); one key per iteration.
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(20));
    targets = keygen
}
criterion_main!(benches);

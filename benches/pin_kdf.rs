//! PIN KDF (SPEC §5): the time of one unseal (Argon2i key derivation plus the ChaCha20 XOR
//! over a 3072-bit device share) at a few candidate parameter sets, to choose
//! `Argon2Params::RECOMMENDED` and to check the caps (`docs/benchmarks.md`, "PIN KDF"):
//!
//! `cargo bench --bench pin_kdf` (10 samples per set; criterion's median is in
//! target/criterion/pin_kdf_unseal/*/new/estimates.json).
//!
//! Sealing costs the same derivation; the ChaCha20 part is microseconds.

#![allow(clippy::unwrap_used)] // bench code: a failure aborts the run

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use split_rsa::{Argon2Params, KeyPurpose, Pin, SealedShare};
use std::hint::black_box;
use std::time::Duration;

/// (m in MiB, t, p): below, at and above the recommended set, and the largest work the
/// decoder accepts (`Argon2Params::MAX_WORK_KIB`).
const CANDIDATES: [(u32, u32, u32); 6] = [
    (19, 3, 1),
    (32, 3, 1),
    (64, 3, 1),
    (64, 4, 1),
    (128, 3, 1),
    (256, 3, 1),
];

fn pin_kdf(c: &mut Criterion) {
    let mut g = c.benchmark_group("pin_kdf_unseal");
    let mut rng = ChaCha20Rng::seed_from_u64(0x5eed_0005);
    let purpose = KeyPurpose::Signing;
    let pin = Pin::new("739164", purpose).unwrap();
    let key_id = [7u8; 16];
    // A 3072-bit n1: d1' is (3072 + 128) / 8 = 400 bytes.
    let share = [0x5au8; 400];
    let rec = Argon2Params::RECOMMENDED;
    eprintln!(
        "pin_kdf: RECOMMENDED = m {} KiB, t {}, p {}",
        rec.m_cost_kib(),
        rec.t_cost(),
        rec.p_cost()
    );
    for (m_mib, t, p) in CANDIDATES {
        let params = Argon2Params::new(m_mib * 1024, t, p).unwrap();
        let sealed = SealedShare::seal(&mut rng, &pin, &key_id, purpose, &share, params).unwrap();
        let id = format!("argon2i_m{m_mib}MiB_t{t}_p{p}");
        g.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| {
                black_box(&sealed)
                    .unseal(black_box(&pin), &key_id, purpose)
                    .unwrap()
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = pin_kdf
}
criterion_main!(benches);

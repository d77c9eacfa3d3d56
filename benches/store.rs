//! The key store's cost per signature (the durable-store issue; results in
//! docs/benchmarks.md): the full `Server::complete` (HPKE opening, load, the charge written by
//! compare-and-swap, the share opened under the KEK, the two-party arithmetic with its fault
//! checks, OTP rotation, the outcome and the sealed answer written by a second
//! compare-and-swap) on each store, beside the arithmetic alone
//! (`hazmat::signing::server_complete`), for 3072+3072 keys (6144-bit composite), in one run:
//!
//! - `arithmetic_server_complete`: s1 = y·m^d1'' mod n1 and its check, s2 by CRT and its
//!   check, Garner, the final check mod n;
//! - `full_Server_complete/in_memory`: `InMemoryKeyStore` (no I/O: the protocol's own
//!   overhead);
//! - `full_Server_complete/sqlite`: `SqliteKeyStore` on a temporary file (WAL,
//!   `synchronous = FULL`: each commit waits for an fsync of the log);
//! - `full_Server_complete/postgres`: `PostgresKeyStore` on a throwaway local server
//!   (tests/support/postgres.rs; `synchronous_commit = on`, fsync on), over TCP on 127.0.0.1.
//!   Needs the `postgres` feature; if the server cannot start, the row is skipped with the
//!   reason.
//!
//! Each full-call iteration gets a fresh partial signature under the current OTP, made (and
//! its answer accepted) outside the timed region, as `benches/protocol.rs`
//! `full_Server_complete` does. Besides criterion's medians, the bench prints (stderr) a
//! paired measurement per store: full call and arithmetic back to back, 41 pairs, the median
//! of the per-pair differences and ratios (load drift on a shared machine hits both alike).
//!
//! Run: `cargo bench --all-features --bench store` (the PostgreSQL row needs the `postgres`
//! feature; `--all-features` also reuses the test build).

// Bench code: a panic is a failed setup; `missing_docs` for the items `criterion_group!` makes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg_support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::Uint;
use split_rsa::hazmat::{keygen, padding, signing};
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, DeviceShare, HashAlg, InMemoryKeyStore, KekId,
    KeyPurpose, KeySize, KeyStore, LocalKek, Outcome, Pin, PublicKey, Scheme, Server, ServerPolicy,
    ServerShare, ServerTransportKey, verify,
};

const NOW: u64 = 1_800_000_000;

type Store = Box<dyn KeyStore>;

/// A server on `store` with one registered 3072+3072 key, its device record and PIN.
struct Setup {
    server: Server<BoxedStore, LocalKek>,
    device: DeviceRecord,
    pin: Pin,
    now: u64,
}

/// `Box<dyn KeyStore>` as a `KeyStore` (the trait is implemented for `&K` and `Arc<K>`).
struct BoxedStore(Store);

impl KeyStore for BoxedStore {
    fn load(
        &self,
        key_id: &split_rsa::KeyId,
    ) -> Result<Option<split_rsa::StoredRecord>, split_rsa::StoreError> {
        self.0.load(key_id)
    }
    fn find_n1(
        &self,
        n1_hash: &split_rsa::N1Hash,
    ) -> Result<Option<split_rsa::KeyId>, split_rsa::StoreError> {
        self.0.find_n1(n1_hash)
    }
    fn insert(&self, record: &split_rsa::NewRecord<'_>) -> Result<(), split_rsa::StoreError> {
        self.0.insert(record)
    }
    fn compare_and_swap(
        &self,
        key_id: &split_rsa::KeyId,
        expected_version: u64,
        blob: &[u8],
    ) -> Result<(), split_rsa::StoreError> {
        self.0.compare_and_swap(key_id, expected_version, blob)
    }
}

fn setup(rng: &mut ChaCha20Rng, store: Store) -> Setup {
    let size = KeySize::BITS_3072;
    let server = Server::new(
        ServerTransportKey::generate(rng),
        BoxedStore(store),
        LocalKek::generate(rng, KekId(1)),
        ServerPolicy::default(),
        size,
    );
    let pin = Pin::new("50731", KeyPurpose::Signing).expect("pin");
    let challenge = server.issue_challenge(rng, NOW);
    let (reg, request) = DeviceRegistration::start(
        rng,
        &challenge,
        KeyPurpose::Signing,
        size,
        &server.transport_public_key(),
    )
    .expect("start");
    let registered = server.register(rng, &request, NOW).expect("register");
    let answer = reg.open_response(&registered.response).expect("open");
    let device = reg
        .finish(rng, answer, &pin, Argon2Params::insecure_fast_for_tests())
        .expect("finish");
    let mut s = Setup {
        server,
        device,
        pin,
        now: NOW,
    };
    // One signature end to end, checked, before anything is timed.
    let (partial, digest) = s.next_partial(rng);
    let done = s.server.complete(rng, &partial, s.now).expect("complete");
    let Outcome::Completed { signature } = s.device.accept(&done.response).expect("accept") else {
        panic!("the right PIN must complete: {:?}", done.outcome)
    };
    verify(
        s.device.public_key(),
        Scheme::Pss(HashAlg::Sha256),
        &digest,
        &signature,
    )
    .expect("verifies");
    s
}

impl Setup {
    /// A fresh request and the device's partial signature for it (outside any timing).
    fn next_partial(
        &mut self,
        rng: &mut ChaCha20Rng,
    ) -> (split_rsa::SealedPartialSignature, Vec<u8>) {
        self.now += 1;
        let digest = HashAlg::Sha256.digest(&self.now.to_be_bytes()).to_vec();
        let req = self
            .server
            .create_request(
                rng,
                self.device.key_id(),
                KeyPurpose::Signing,
                Scheme::Pss(HashAlg::Sha256),
                &digest,
                self.now,
            )
            .expect("request");
        let partial = self.device.sign(rng, &req, &self.pin).expect("sign");
        (partial, digest)
    }

    /// One timed full `Server::complete`; the answer is accepted outside the timing.
    fn timed_complete(&mut self, rng: &mut ChaCha20Rng) -> Duration {
        let (partial, _) = self.next_partial(rng);
        let t = Instant::now();
        let answer = self
            .server
            .complete(rng, &partial, self.now)
            .expect("complete");
        let elapsed = t.elapsed();
        assert!(matches!(answer.outcome, Outcome::Completed { .. }));
        self.device.accept(&answer.response).expect("accept");
        elapsed
    }
}

/// A temporary directory for the SQLite file, removed on drop.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(feature = "postgres")]
fn postgres_store() -> Result<(Store, pg_support::TestDatabase), String> {
    let db = std::panic::catch_unwind(pg_support::test_database)
        .map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "PostgreSQL failed to start".into())
        })?
        .ok_or("PostgreSQL binaries not found")?;
    let store = split_rsa::PostgresKeyStore::connect(db.url()).map_err(|e| e.to_string())?;
    Ok((Box::new(store), db))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() >> 1]
}

fn bench_store(c: &mut Criterion) {
    eprintln!("backend: {}", split_rsa::hazmat::backend::active_backend());
    let mut rng = ChaCha20Rng::seed_from_u64(0x0073_746f_7265);
    let size = KeySize::BITS_3072;

    // ---- The arithmetic alone, on its own 3072+3072 key (as in benches/protocol.rs).
    let t = Instant::now();
    let (dev, payload) = DeviceShare::generate(&mut rng, size).expect("device key");
    let srv = ServerShare::generate(&mut rng, payload, size).expect("server key");
    let pk = PublicKey::from_modulus(&srv.n_be_bytes()).expect("public key");
    let (n1, d1p, d1p_bits) = keygen::device_parts(&dev);
    let key = signing::completion_key(&srv);
    let digest = HashAlg::Sha256.digest(b"split-rsa store benchmark");
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let pss = Scheme::Pss(HashAlg::Sha256);
    let em = padding::encode(pss, &digest, &salt, pk.bits()).expect("encode");
    let m = Uint::from_be_bytes(&em);
    let y = signing::device_exponentiate(n1, d1p, d1p_bits, &m);
    let sig = signing::server_complete(&key, &y, &m)
        .expect("complete")
        .to_be_bytes(pk.size())
        .0
        .to_vec();
    verify(&pk, pss, &digest, &sig).expect("verifies");
    let arithmetic = || {
        let t = Instant::now();
        black_box(signing::server_complete(&key, black_box(&y), black_box(&m)).expect("ok"));
        t.elapsed()
    };

    // ---- One registered key per store (3072+3072 key generation, outside the timing).
    let dir =
        TempDir(std::env::temp_dir().join(format!("split-rsa-bench-store-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let mut setups: Vec<(&str, Setup)> = vec![
        (
            "in_memory",
            setup(&mut rng, Box::new(InMemoryKeyStore::new())),
        ),
        (
            "sqlite",
            setup(
                &mut rng,
                Box::new(
                    split_rsa::SqliteKeyStore::open(dir.0.join("keys.sqlite")).expect("sqlite"),
                ),
            ),
        ),
    ];
    #[cfg(feature = "postgres")]
    let _db = match postgres_store() {
        Ok((store, db)) => {
            setups.push(("postgres", setup(&mut rng, store)));
            Some(db)
        }
        Err(why) => {
            eprintln!("SKIPPING the postgres row: {why}");
            None
        }
    };
    #[cfg(not(feature = "postgres"))]
    eprintln!(
        "SKIPPING the postgres row: built without the `postgres` feature \
         (cargo bench --all-features --bench store)"
    );
    eprintln!(
        "arithmetic key and {} registered keys ready in {:.1?}",
        setups.len(),
        t.elapsed()
    );

    // ---- Paired: full call then arithmetic, back to back.
    for (name, s) in &mut setups {
        let (mut diffs, mut ratios) = (Vec::new(), Vec::new());
        for _ in 0..41 {
            let full = s.timed_complete(&mut rng).as_secs_f64();
            let arith = arithmetic().as_secs_f64();
            diffs.push(full - arith);
            ratios.push(full / arith);
        }
        eprintln!(
            "paired full_Server_complete/{name} - arithmetic: median difference {:.3} ms, \
             median ratio {:.3} over 41 pairs",
            median(&mut diffs) * 1e3,
            median(&mut ratios)
        );
    }

    // ---- criterion.
    let mut g = c.benchmark_group("store_cost_3072+3072");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(6));
    g.bench_function("arithmetic_server_complete", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| arithmetic()).sum())
    });
    for (name, s) in &mut setups {
        g.bench_function(format!("full_Server_complete/{name}"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| s.timed_complete(&mut rng)).sum())
        });
    }
    g.finish();

    // ---- What the store's part is made of: one load, one load + compare-and-swap (one
    // durable write, as the charge and the outcome each are: `Server::complete` does one load
    // and two such writes), and the disk's own flush (4 KiB written and fsync'd).
    let mut g = c.benchmark_group("store_parts");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, s) in &setups {
        let store = s.server.store();
        let id = *s.device.key_id();
        g.bench_function(format!("load/{name}"), |b| {
            b.iter(|| black_box(store.load(&id).expect("load")))
        });
        g.bench_function(format!("load_then_compare_and_swap/{name}"), |b| {
            b.iter(|| {
                let r = store.load(&id).expect("load").expect("record");
                store
                    .compare_and_swap(&id, r.version, &r.blob)
                    .expect("cas")
            })
        });
    }
    let fsync_path = dir.0.join("fsync-probe");
    let page = [0x5au8; 4096];
    g.bench_function("write_4KiB_and_fsync", |b| {
        b.iter(|| {
            use std::io::Write as _;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(false)
                .open(&fsync_path)
                .expect("open");
            f.write_all(&page).expect("write");
            f.sync_data().expect("fsync")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_store);
criterion_main!(benches);

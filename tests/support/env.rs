//! Shared set-up for the protocol tests: a server on an in-memory store that can be told to
//! fail a compare-and-swap (a crash or a lost acknowledgement), a key-encryption key that counts
//! how often the share is opened (one opening per evaluated partial signature), and helpers
//! that run the device and the server through the public API.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, HashAlg, InMemoryKeyStore, KekId, KeyId,
    KeyPurpose, KeyRecord, KeySize, KeyStore, LocalKek, N1Hash, NewRecord, Outcome, Pin, Scheme,
    Server, ServerPolicy, ServerTransportKey, SigningRequest, StoreError, StoredRecord,
};

/// "Now" for every test (seconds since the Unix epoch).
pub const NOW: u64 = 1_800_000_000;
/// The right PIN2 and PIN1 of the test keys.
pub const PIN2: &str = "58213";
pub const PIN1: &str = "4719";

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// The test key size (insecure, fast): 512 + 512 bits.
pub fn size() -> KeySize {
    KeySize::insecure_for_tests(512).expect("test size")
}

pub fn pin(digits: &str, purpose: KeyPurpose) -> Pin {
    Pin::new_allow_trivial(digits, purpose).expect("PIN")
}

/// What a [`FaultyStore`] does to the armed compare-and-swap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The write is not applied and an error is returned (the server crashed before it).
    Fail,
    /// The write is applied but an error is returned (the server crashed right after it, or
    /// the acknowledgement was lost).
    LostAck,
}

/// An in-memory store whose n-th next compare-and-swap can be made to fail.
#[derive(Debug, Default)]
pub struct FaultyStore {
    inner: InMemoryKeyStore,
    armed: Mutex<Option<(usize, Fault)>>,
    pub cas_calls: AtomicUsize,
}

impl FaultyStore {
    /// The `skip`-th next compare-and-swap (0 = the very next) suffers `fault`.
    pub fn arm(&self, skip: usize, fault: Fault) {
        *self.armed.lock().unwrap() = Some((skip, fault));
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }
}

fn injected() -> StoreError {
    StoreError::backend("injected fault")
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
        self.cas_calls.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let mut armed = self.armed.lock().unwrap();
            match *armed {
                Some((0, f)) => {
                    *armed = None;
                    Some(f)
                }
                Some((n, f)) => {
                    *armed = Some((n - 1, f));
                    None
                }
                None => None,
            }
        };
        match fault {
            Some(Fault::Fail) => Err(injected()),
            Some(Fault::LostAck) => {
                self.inner.compare_and_swap(key_id, v, blob)?;
                Err(injected())
            }
            None => self.inner.compare_and_swap(key_id, v, blob),
        }
    }
}

#[path = "hooked_kek.rs"]
mod hooked_kek;
pub use hooked_kek::CountingKek;

pub type TestServer = Server<Arc<FaultyStore>, CountingKek>;

/// A test server, its store and its evaluation counter.
pub struct Env {
    pub server: TestServer,
    pub store: Arc<FaultyStore>,
    pub evaluations: Arc<AtomicUsize>,
    pub rng: ChaCha20Rng,
    /// The clock the helpers pass to the server (starts at [`NOW`]).
    pub now: u64,
    /// The half size of the keys (n1 and n2).
    pub size: KeySize,
}

impl Env {
    pub fn new(seed: u64) -> Self {
        Self::with_policy(seed, ServerPolicy::default())
    }

    pub fn with_policy(seed: u64, policy: ServerPolicy) -> Self {
        Self::build(seed, policy, size())
    }

    /// A server whose keys have halves of `bits` (512, 768 or 1024: test sizes).
    pub fn with_size(seed: u64, bits: usize) -> Self {
        Self::build(
            seed,
            ServerPolicy::default(),
            KeySize::insecure_for_tests(bits).expect("test size"),
        )
    }

    fn build(seed: u64, policy: ServerPolicy, size: KeySize) -> Self {
        let mut rng = rng(seed);
        let store = Arc::new(FaultyStore::default());
        let (kek, evaluations) = CountingKek::counting(LocalKek::generate(&mut rng, KekId(1)));
        let server = Server::new(
            ServerTransportKey::generate(&mut rng),
            store.clone(),
            kek,
            policy,
            size,
        );
        Self {
            server,
            store,
            evaluations,
            rng,
            now: NOW,
            size,
        }
    }

    /// Registers a key of `purpose` with PIN `digits` (SPEC §3).
    pub fn register(&mut self, purpose: KeyPurpose, digits: &str) -> DeviceRecord {
        let challenge = self.server.issue_challenge(&mut self.rng, self.now);
        let (registration, request) = DeviceRegistration::start(
            &mut self.rng,
            &challenge,
            purpose,
            self.size,
            &self.server.transport_public_key(),
        )
        .expect("start");
        let registered = self
            .server
            .register(&mut self.rng, &request, self.now)
            .expect("register");
        let answer = registration
            .open_response(&registered.response)
            .expect("open");
        registration
            .finish(
                &mut self.rng,
                answer,
                &pin(digits, purpose),
                Argon2Params::insecure_fast_for_tests(),
            )
            .expect("finish")
    }

    /// The server creates a PSS-SHA256 request for `device`'s key over `msg`.
    pub fn request(&mut self, device: &DeviceRecord, msg: &[u8]) -> SigningRequest {
        self.server
            .create_request(
                &mut self.rng,
                device.key_id(),
                device.purpose(),
                Scheme::Pss(HashAlg::Sha256),
                &HashAlg::Sha256.digest(msg),
                self.now,
            )
            .expect("create_request")
    }

    /// One whole signature: request, sign with `digits`, complete, accept. Returns the outcome
    /// the device accepted.
    pub fn sign(&mut self, device: &mut DeviceRecord, digits: &str, msg: &[u8]) -> Outcome {
        let request = self.request(device, msg);
        let message = device
            .sign(&mut self.rng, &request, &pin(digits, device.purpose()))
            .expect("sign");
        let done = self
            .server
            .complete(&mut self.rng, &message, self.now)
            .expect("complete");
        device.accept(&done.response).expect("accept")
    }

    /// The server's record of `key_id`.
    pub fn record(&self, key_id: &KeyId) -> KeyRecord {
        self.server.load(key_id).expect("load").0
    }

    /// Consecutive failures stored for `key_id` (0 for a destroyed key).
    pub fn failures(&self, key_id: &KeyId) -> u32 {
        self.record(key_id).active().map_or(0, |a| a.failures())
    }

    pub fn evaluations(&self) -> usize {
        self.evaluations.load(Ordering::SeqCst)
    }
}

/// A copy of a device record as a thief or a crash-restore would have it.
pub fn copy(device: &DeviceRecord) -> DeviceRecord {
    DeviceRecord::from_bytes(&device.to_bytes()).expect("record round trip")
}

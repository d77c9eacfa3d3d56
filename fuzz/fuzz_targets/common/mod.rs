//! Shared by the stateful targets (`server_partial`, `session`): one real server with one key
//! registered once per process (test-size halves), a key store that is reset to the registered
//! state for every input, and that can be made to fail a chosen compare-and-swap.
#![allow(dead_code)]

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::__fuzz::{decode_registration_result, open_registration_response};
use split_rsa::{
    Argon2Params, DeviceRegistration, InMemoryKeyStore, KekId, KeyId, KeyPurpose, KeyRecord,
    KeySize, KeyStore, LocalKek, N1Hash, NewRecord, Pin, Server, ServerPolicy, ServerTransportKey,
    StoreError, StoredRecord,
};

/// Registration time.
pub const T0: u64 = 1_800_000_000;

/// 1024-bit halves: the smallest test size `Server::register` accepts (it builds the public
/// key with `PublicKey::from_modulus`, which refuses composites under 2048 bits).
pub fn size() -> KeySize {
    KeySize::insecure_for_tests(1024).unwrap()
}

pub fn right_pin() -> Pin {
    Pin::new("50731", KeyPurpose::Signing).unwrap()
}

pub fn wrong_pin() -> Pin {
    Pin::new("11235", KeyPurpose::Signing).unwrap()
}

/// An in-memory store that is replaced wholesale by `reset`, and whose `n`-th
/// compare-and-swap after `arm(n)` fails with a backend error and writes nothing.
#[derive(Default)]
pub struct ResettableStore {
    inner: Mutex<InMemoryKeyStore>,
    countdown: AtomicI64,
}

impl ResettableStore {
    fn with<T>(&self, f: impl FnOnce(&InMemoryKeyStore) -> T) -> T {
        f(&self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A fresh store holding exactly `blob` for the key (version 0), no fault armed.
    pub fn reset(&self, key_id: &KeyId, n1_hash: &N1Hash, challenge: &[u8; 16], blob: &[u8]) {
        let fresh = InMemoryKeyStore::new();
        fresh
            .insert(&NewRecord {
                key_id,
                n1_hash,
                challenge,
                blob,
            })
            .unwrap();
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        self.countdown.store(0, Ordering::SeqCst);
    }

    /// Fails the `n`-th compare-and-swap from now (`n <= 0`: none).
    pub fn arm(&self, n: i64) {
        self.countdown.store(n, Ordering::SeqCst);
    }

    /// Whether a fault is still armed.
    pub fn armed(&self) -> bool {
        self.countdown.load(Ordering::SeqCst) > 0
    }
}

impl KeyStore for ResettableStore {
    fn load(&self, key_id: &KeyId) -> Result<Option<StoredRecord>, StoreError> {
        self.with(|s| s.load(key_id))
    }
    fn find_n1(&self, n1_hash: &N1Hash) -> Result<Option<KeyId>, StoreError> {
        self.with(|s| s.find_n1(n1_hash))
    }
    fn insert(&self, record: &NewRecord<'_>) -> Result<(), StoreError> {
        self.with(|s| s.insert(record))
    }
    fn compare_and_swap(&self, key_id: &KeyId, v: u64, blob: &[u8]) -> Result<(), StoreError> {
        if self.countdown.load(Ordering::SeqCst) > 0
            && self.countdown.fetch_sub(1, Ordering::SeqCst) == 1
        {
            return Err(StoreError::backend("injected store fault"));
        }
        self.with(|s| s.compare_and_swap(key_id, v, blob))
    }
}

pub type FuzzServer = Server<ResettableStore, LocalKek>;

/// One server, one key registered with purpose Signing and PIN "50731", and everything needed
/// to put both sides back in their registered state.
pub struct World {
    pub server: FuzzServer,
    /// The server's transport private key (to open sealed parts).
    pub transport: Vec<u8>,
    pub key_id: KeyId,
    pub n1_hash: N1Hash,
    pub challenge: [u8; 16],
    /// The server's record right after registration.
    pub record: Vec<u8>,
    /// The device record right after registration.
    pub device: Vec<u8>,
    /// OTP_0 (from the opened registration answer).
    pub otp0: [u8; 32],
}

impl World {
    pub fn build(seed: u64) -> World {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let transport = ServerTransportKey::generate(&mut rng);
        let transport_bytes = transport.to_bytes().to_vec();
        let opener = ServerTransportKey::from_bytes(&transport_bytes).unwrap();
        let server = Server::new(
            transport,
            ResettableStore::default(),
            LocalKek::generate(&mut rng, KekId(1)),
            ServerPolicy::default(),
            size(),
        );
        let challenge = server.issue_challenge(&mut rng, T0);
        let (reg, request) = DeviceRegistration::start(
            &mut rng,
            &challenge,
            KeyPurpose::Signing,
            size(),
            &server.transport_public_key(),
        )
        .unwrap();
        let registered = server.register(&mut rng, &request, T0).unwrap();
        let plain = open_registration_response(&opener, &request, &registered.response).unwrap();
        let (_, _, otp0) = decode_registration_result(&plain).unwrap();
        let answer = reg.open_response(&registered.response).unwrap();
        let device = reg
            .finish(
                &mut rng,
                answer,
                &right_pin(),
                Argon2Params::insecure_fast_for_tests(),
            )
            .unwrap();
        let key_id = registered.key_id;
        let record = server.store().load(&key_id).unwrap().unwrap().blob.to_vec();
        let n1_hash = *KeyRecord::from_bytes(&record).unwrap().n1_hash();
        World {
            server,
            transport: transport_bytes,
            key_id,
            n1_hash,
            challenge: *challenge.challenge(),
            record,
            device: device.to_bytes().to_vec(),
            otp0,
        }
    }

    /// Puts the server's store back to the registered record (or `blob`).
    pub fn reset_to(&self, blob: &[u8]) {
        self.server
            .store()
            .reset(&self.key_id, &self.n1_hash, &self.challenge, blob);
    }

    /// The server's record now.
    pub fn record_now(&self) -> KeyRecord {
        let stored = self.server.store().load(&self.key_id).unwrap().unwrap();
        KeyRecord::from_bytes(&stored.blob).unwrap()
    }
}

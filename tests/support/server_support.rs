//! Shared helpers for the server-state tests: a fake share, a fake share check, an RNG and a
//! fault-injecting key store.
#![allow(dead_code)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use split_rsa::{Error, KeyId, KeyRecord, KeyStore, Otp, RequestId, StoreError};
use zeroize::Zeroize;

/// A stand-in for the server's cryptographic share: it "knows" the right PIN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeShare {
    pub pin: u32,
}

impl Zeroize for FakeShare {
    fn zeroize(&mut self) {
        self.pin.zeroize();
    }
}

pub const RIGHT_PIN: u32 = 1234;
pub const WRONG_PIN: u32 = 9999;

/// The fake signature for a request: derived from its id, so a resent answer is recognisable.
pub fn fake_signature(request_id: &RequestId) -> Vec<u8> {
    let mut s = b"sig:".to_vec();
    s.extend_from_slice(request_id);
    s
}

/// A share check that says valid iff `pin` is the share's PIN, and counts its calls.
pub fn evaluator<'a>(
    calls: &'a AtomicUsize,
    pin: u32,
    request_id: RequestId,
) -> impl FnOnce(&FakeShare) -> split_rsa::Result<Vec<u8>> + 'a {
    move |share: &FakeShare| {
        calls.fetch_add(1, Ordering::SeqCst);
        if share.pin == pin {
            Ok(fake_signature(&request_id))
        } else {
            Err(Error::SigningFailed)
        }
    }
}

/// A share check that must never run.
pub fn must_not_evaluate(_: &FakeShare) -> split_rsa::Result<Vec<u8>> {
    panic!("evaluate called although the request had to be refused")
}

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn copy_otp(otp: &Otp) -> Otp {
    Otp::from_bytes(*otp.as_bytes())
}

pub fn key_id(n: u8) -> KeyId {
    [n; 16]
}

pub fn request_id(n: u64) -> RequestId {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&n.to_be_bytes());
    r
}

/// What a [`FaultyStore`] does at the armed write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The write is not applied and an error is returned.
    Fail,
    /// The write is applied but an error is returned (lost acknowledgement, timeout).
    LostAck,
    /// The process "crashes" before the write: not applied, panic.
    CrashBefore,
    /// The process "crashes" right after the write became durable: applied, panic.
    CrashAfter,
}

/// A key store wrapper that injects one fault at a chosen `store` write.
pub struct FaultyStore<K> {
    inner: K,
    writes: AtomicUsize,
    armed: Mutex<Option<(usize, Fault)>>,
}

impl<K> FaultyStore<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            writes: AtomicUsize::new(0),
            armed: Mutex::new(None),
        }
    }

    /// Injects `fault` at the `store` call that comes after `after` more successful ones.
    pub fn arm(&self, after: usize, fault: Fault) {
        let at = self.writes.load(Ordering::SeqCst) + after;
        *self.armed.lock().unwrap() = Some((at, fault));
    }

    pub fn disarm(&self) {
        *self.armed.lock().unwrap() = None;
    }

    pub fn is_armed(&self) -> bool {
        self.armed.lock().unwrap().is_some()
    }

    pub fn inner(&self) -> &K {
        &self.inner
    }
}

impl<K: KeyStore> KeyStore for FaultyStore<K> {
    type Share = K::Share;

    fn load(&self, key_id: &KeyId) -> split_rsa::Result<Option<KeyRecord<K::Share>>> {
        self.inner.load(key_id)
    }

    fn insert(&self, record: &KeyRecord<K::Share>) -> split_rsa::Result<()> {
        self.inner.insert(record)
    }

    fn store(&self, record: &KeyRecord<K::Share>, expected_version: u64) -> split_rsa::Result<()> {
        let n = self.writes.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let mut armed = self.armed.lock().unwrap();
            match *armed {
                Some((at, f)) if at == n => {
                    *armed = None;
                    Some(f)
                }
                _ => None,
            }
        };
        let backend = Err(Error::Store(StoreError::Backend("injected fault")));
        match fault {
            None => self.inner.store(record, expected_version),
            Some(Fault::Fail) => backend,
            Some(Fault::LostAck) => {
                self.inner.store(record, expected_version)?;
                backend
            }
            Some(Fault::CrashBefore) => panic!("injected crash before write"),
            Some(Fault::CrashAfter) => {
                self.inner.store(record, expected_version)?;
                panic!("injected crash after write")
            }
        }
    }
}

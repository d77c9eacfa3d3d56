//! A [`LocalKek`] with a hook run at every share opening. The server opens the share exactly
//! once per evaluated partial signature (SPEC §4.5 h, after the charge is persisted), so the
//! hook sees every PIN-guess evaluation: [`Counter`] counts them, other hooks hold an
//! evaluation at a gate to force an interleaving.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use split_rsa::{Error, KEK_NONCE_LEN, KekId, KeyEncryptionKey, LocalKek};

/// What runs when a share is opened.
pub trait OnOpen: Send + Sync {
    fn on_open(&self);
}

/// Counts share openings.
#[derive(Debug, Clone, Default)]
pub struct Counter(pub Arc<AtomicUsize>);

impl OnOpen for Counter {
    fn on_open(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A [`LocalKek`] that runs `hook` before every opening.
#[derive(Debug)]
pub struct HookedKek<H> {
    inner: LocalKek,
    pub hook: H,
}

impl<H> HookedKek<H> {
    pub fn new(inner: LocalKek, hook: H) -> Self {
        Self { inner, hook }
    }
}

/// A KEK that counts share openings.
pub type CountingKek = HookedKek<Counter>;

impl CountingKek {
    /// `inner`, counting its openings in the returned counter.
    pub fn counting(inner: LocalKek) -> (Self, Arc<AtomicUsize>) {
        let counter = Counter::default();
        let opens = counter.0.clone();
        (Self::new(inner, counter), opens)
    }
}

impl<H: OnOpen> KeyEncryptionKey for HookedKek<H> {
    fn current(&self) -> KekId {
        self.inner.current()
    }
    fn seal(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        self.inner.seal(kek, nonce, aad, plaintext)
    }
    fn open(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        self.hook.on_open();
        self.inner.open(kek, nonce, aad, ciphertext)
    }
}

//! Key-encryption keys (SPEC §7, "at rest"): the server's share inside every stored record is
//! encrypted under a key-encryption key (KEK) that the key store never sees.
//!
//! The share is sealed with an AEAD whose associated data binds the record's key id and
//! SHA-256(n1), so a share cannot be moved into another record, and a record that does not
//! authenticate is refused with a typed error. Each sealed share names the KEK it was sealed
//! under ([`KekId`]), so KEKs can be rotated: old ones stay available for opening while every
//! record is re-wrapped under the current one.
//!
//! [`KeyEncryptionKey`] is the small interface an HSM or a cloud KMS can implement;
//! [`LocalKek`] is a software implementation (XChaCha20-Poly1305 with keys held in memory).

use crate::error::RequestError;
use core::fmt;
use std::collections::BTreeMap;

use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305};
use rand_core::CryptoRng;

use crate::error::{BackendError, Error, KekError};

/// Identifies one key-encryption key among those a server may hold (stored beside every
/// sealed share).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KekId(pub u32);

impl fmt::Debug for KekId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KekId({})", self.0)
    }
}

/// Length of the nonce the library draws for every sealing (XChaCha20-Poly1305's 24 bytes).
pub const KEK_NONCE_LEN: usize = 24;

/// Length of the AEAD tag appended to every sealed share.
pub const KEK_TAG_LEN: usize = 16;

/// A provider of key-encryption keys: seals under the current KEK, opens under any KEK it
/// still holds. Implement it over an HSM or a KMS to keep the KEKs out of the server's memory.
///
/// The library draws the nonce (random, [`KEK_NONCE_LEN`] bytes) and stores it beside the
/// ciphertext; an implementation must use the given nonce and associated data as they are.
pub trait KeyEncryptionKey: Send + Sync {
    /// The KEK new shares are sealed under.
    fn current(&self) -> KekId;

    /// Encrypts and authenticates `plaintext` under KEK `kek` (ciphertext || tag).
    ///
    /// # Errors
    /// [`Error::Kek`] if `kek` is unknown or the provider fails.
    fn seal(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error>;

    /// Decrypts and checks `ciphertext` (ciphertext || tag) under KEK `kek`, into a wiping
    /// buffer.
    ///
    /// # Errors
    /// [`Error::Kek`] if `kek` is unknown, the provider fails, or the ciphertext does not
    /// authenticate.
    fn open(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error>;
}

/// Length of a [`LocalKek`] key: XChaCha20-Poly1305 takes 32-byte keys.
pub const LOCAL_KEK_LEN: usize = 32;

/// A software [`KeyEncryptionKey`]: XChaCha20-Poly1305 under keys held in this process's
/// memory (each on the heap, wiped on drop).
///
/// It holds one current KEK, under which [`seal`](KeyEncryptionKey::seal) is allowed, and any
/// number of older ones kept only for [`open`](KeyEncryptionKey::open) while records are
/// re-wrapped after a rotation ([`rotate`](Self::rotate), then [`retire`](Self::retire) the
/// old id once no record names it). Sealing under an id that is not current is refused, so a
/// retired-to-be KEK never protects new data.
///
/// The KEK bytes must come from a secret the store never sees (a file readable only by the
/// server, a secrets manager); anyone holding them and the store can open every share. For
/// keys that must never be in the server's memory, implement [`KeyEncryptionKey`] over an HSM
/// or a KMS instead.
///
/// XChaCha20's 192-bit nonces make the library's random nonces safe for any realistic number
/// of sealings under one KEK.
///
/// Not `Clone` (one owner of the key material); `Debug` prints only the KEK ids.
pub struct LocalKek {
    current: KekId,
    keys: BTreeMap<KekId, Box<zeroize::Zeroizing<[u8; LOCAL_KEK_LEN]>>>,
}

impl LocalKek {
    /// A provider whose current (and only) KEK is `key`, named `id`. The bytes are copied into
    /// a wiping buffer; the caller wipes its own copy.
    pub fn new(id: KekId, key: &[u8; LOCAL_KEK_LEN]) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(id, boxed_key(key));
        Self { current: id, keys }
    }

    /// A provider with a fresh random current KEK named `id` (for tests and demos: a real
    /// server must load the same KEK again after a restart, so it gets its bytes from
    /// somewhere durable and uses [`LocalKek::new`]).
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, id: KekId) -> Self {
        let mut key = Box::new(zeroize::Zeroizing::new([0u8; LOCAL_KEK_LEN]));
        rng.fill_bytes(&mut key[..]);
        let mut keys = BTreeMap::new();
        keys.insert(id, key);
        Self { current: id, keys }
    }

    /// Adds an older KEK, kept for opening only.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if a KEK with this id is already held (two keys under one id
    /// would make every record sealed under it ambiguous).
    pub fn add_previous(&mut self, id: KekId, key: &[u8; LOCAL_KEK_LEN]) -> Result<(), Error> {
        if self.keys.contains_key(&id) {
            return Err(Error::InvalidRequest(RequestError::KekIdHeld));
        }
        self.keys.insert(id, boxed_key(key));
        Ok(())
    }

    /// Makes `key`, named `id`, the current KEK; the previous current one stays available for
    /// opening until [`retire`](Self::retire)d.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if a KEK with this id is already held.
    pub fn rotate(&mut self, id: KekId, key: &[u8; LOCAL_KEK_LEN]) -> Result<(), Error> {
        self.add_previous(id, key)?;
        self.current = id;
        Ok(())
    }

    /// Forgets (and wipes) an older KEK, once no stored record is sealed under it any more.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if `id` is the current KEK; [`Error::Kek`] with
    /// [`KekError::UnknownKek`] if it is not held.
    pub fn retire(&mut self, id: KekId) -> Result<(), Error> {
        if id == self.current {
            return Err(Error::InvalidRequest(RequestError::RetireCurrentKek));
        }
        // Dropping the buffer wipes it.
        self.keys
            .remove(&id)
            .map(drop)
            .ok_or(Error::Kek(KekError::UnknownKek(id.0)))
    }

    /// The ids of every KEK held (the current one included), in increasing order.
    pub fn ids(&self) -> impl Iterator<Item = KekId> + '_ {
        self.keys.keys().copied()
    }

    fn cipher(&self, kek: KekId) -> Result<XChaCha20Poly1305, Error> {
        let key = self
            .keys
            .get(&kek)
            .ok_or(Error::Kek(KekError::UnknownKek(kek.0)))?;
        // The cipher keeps its own copy of the key and wipes it on drop (the `zeroize` feature).
        let key: &[u8; LOCAL_KEK_LEN] = key;
        Ok(XChaCha20Poly1305::new(key.into()))
    }
}

fn boxed_key(key: &[u8; LOCAL_KEK_LEN]) -> Box<zeroize::Zeroizing<[u8; LOCAL_KEK_LEN]>> {
    // Allocate first and copy into the heap buffer, so that no unwiped copy is left on the
    // stack by a move.
    let mut boxed = Box::new(zeroize::Zeroizing::new([0u8; LOCAL_KEK_LEN]));
    boxed.copy_from_slice(key);
    boxed
}

impl fmt::Debug for LocalKek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKek")
            .field("current", &self.current)
            .field("held", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl KeyEncryptionKey for LocalKek {
    fn current(&self) -> KekId {
        self.current
    }

    fn seal(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, Error> {
        if kek != self.current && self.keys.contains_key(&kek) {
            // Only the current KEK seals: older ones are kept to open records until they are
            // re-wrapped, never to protect new data.
            return Err(Error::InvalidRequest(RequestError::KekNotCurrent));
        }
        let cipher = self.cipher(kek)?;
        // The buffer holds the plaintext until it is encrypted in place: wipe it if sealing
        // fails half-way. The capacity covers the tag, so the vector never reallocates (a
        // reallocation would leave an unwiped copy behind).
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(plaintext.len() + KEK_TAG_LEN));
        buf.extend_from_slice(plaintext);
        cipher
            .encrypt_in_place(nonce.into(), aad, &mut *buf)
            .map_err(|_| Error::Kek(KekError::Provider(BackendError::new("plaintext too long"))))?;
        Ok(core::mem::take(&mut *buf))
    }

    fn open(
        &self,
        kek: KekId,
        nonce: &[u8; KEK_NONCE_LEN],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let cipher = self.cipher(kek)?;
        let mut buf = zeroize::Zeroizing::new(ciphertext.to_vec());
        // The tag is checked before anything is decrypted; the buffer only shrinks, so the
        // plaintext never leaves it.
        cipher
            .decrypt_in_place(nonce.into(), aad, &mut *buf)
            .map_err(|_| Error::Kek(KekError::NotAuthentic))?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: [u8; LOCAL_KEK_LEN] = [0x11; LOCAL_KEK_LEN];
    const K2: [u8; LOCAL_KEK_LEN] = [0x22; LOCAL_KEK_LEN];
    const NONCE: [u8; KEK_NONCE_LEN] = [7; KEK_NONCE_LEN];
    const AAD: &[u8] = b"key id || SHA-256(n1)";
    const SHARE: &[u8] = b"d1'' p2 q2 d2 dp dq qinv";

    #[test]
    fn round_trip() {
        let kek = LocalKek::new(KekId(1), &K1);
        assert_eq!(kek.current(), KekId(1));
        let sealed = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        assert_eq!(sealed.len(), SHARE.len() + KEK_TAG_LEN);
        assert_ne!(&sealed[..SHARE.len()], SHARE);
        let opened = kek.open(KekId(1), &NONCE, AAD, &sealed).unwrap();
        assert_eq!(&opened[..], SHARE);
        // Empty plaintext: tag only.
        let sealed = kek.seal(KekId(1), &NONCE, AAD, b"").unwrap();
        assert_eq!(sealed.len(), KEK_TAG_LEN);
        assert!(kek.open(KekId(1), &NONCE, AAD, &sealed).unwrap().is_empty());
    }

    /// XChaCha20-Poly1305 known answer (draft-irtf-cfrg-xchacha-03, Appendix A.3.1), so the
    /// provider is the standard AEAD and not merely self-consistent.
    #[test]
    fn xchacha20poly1305_known_answer() {
        fn hex(s: &str) -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        }
        let key: [u8; 32] = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
            .try_into()
            .unwrap();
        let nonce: [u8; 24] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let pt = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let expected = hex(concat!(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb",
            "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452",
            "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9",
            "21f9664c97637da9768812f615c68b13b52e",
            "c0875924c1c7987947deafd8780acf49",
        ));
        let kek = LocalKek::new(KekId(9), &key);
        let sealed = kek.seal(KekId(9), &nonce, &aad, pt).unwrap();
        assert_eq!(sealed, expected);
        assert_eq!(&kek.open(KekId(9), &nonce, &aad, &sealed).unwrap()[..], pt);
    }

    #[test]
    fn wrong_aad_is_not_authentic() {
        let kek = LocalKek::new(KekId(1), &K1);
        let sealed = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        // A share moved into another record (other key id or n1 hash) must not open.
        assert_eq!(
            kek.open(KekId(1), &NONCE, b"key id || SHA-256(n1')", &sealed),
            Err(Error::Kek(KekError::NotAuthentic))
        );
        assert_eq!(
            kek.open(KekId(1), &NONCE, b"", &sealed),
            Err(Error::Kek(KekError::NotAuthentic))
        );
    }

    #[test]
    fn wrong_nonce_is_not_authentic() {
        let kek = LocalKek::new(KekId(1), &K1);
        let sealed = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        let mut nonce = NONCE;
        nonce[23] ^= 1;
        assert_eq!(
            kek.open(KekId(1), &nonce, AAD, &sealed),
            Err(Error::Kek(KekError::NotAuthentic))
        );
    }

    #[test]
    fn tampered_ciphertext_is_not_authentic() {
        let kek = LocalKek::new(KekId(1), &K1);
        let sealed = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        // Every bit of the ciphertext and of the tag is covered.
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut t = sealed.clone();
                t[i] ^= 1 << bit;
                assert_eq!(
                    kek.open(KekId(1), &NONCE, AAD, &t),
                    Err(Error::Kek(KekError::NotAuthentic)),
                    "byte {i} bit {bit}"
                );
            }
        }
        // Truncated (tag cut off, or shorter than a tag) and extended.
        for len in [0, 1, KEK_TAG_LEN - 1, KEK_TAG_LEN, sealed.len() - 1] {
            assert_eq!(
                kek.open(KekId(1), &NONCE, AAD, &sealed[..len]),
                Err(Error::Kek(KekError::NotAuthentic)),
                "truncated to {len}"
            );
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert_eq!(
            kek.open(KekId(1), &NONCE, AAD, &longer),
            Err(Error::Kek(KekError::NotAuthentic))
        );
    }

    #[test]
    fn unknown_kek_id() {
        let kek = LocalKek::new(KekId(1), &K1);
        let sealed = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        assert_eq!(
            kek.open(KekId(2), &NONCE, AAD, &sealed),
            Err(Error::Kek(KekError::UnknownKek(2)))
        );
        assert_eq!(
            kek.seal(KekId(2), &NONCE, AAD, SHARE),
            Err(Error::Kek(KekError::UnknownKek(2)))
        );
    }

    #[test]
    fn wrong_kek_is_not_authentic() {
        // Same id, different key bytes (a misconfigured server): refused, never garbage.
        let a = LocalKek::new(KekId(1), &K1);
        let b = LocalKek::new(KekId(1), &K2);
        let sealed = a.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        assert_eq!(
            b.open(KekId(1), &NONCE, AAD, &sealed),
            Err(Error::Kek(KekError::NotAuthentic))
        );
    }

    #[test]
    fn rotation() {
        let mut kek = LocalKek::new(KekId(1), &K1);
        let old = kek.seal(KekId(1), &NONCE, AAD, SHARE).unwrap();
        kek.rotate(KekId(2), &K2).unwrap();
        assert_eq!(kek.current(), KekId(2));
        assert_eq!(kek.ids().collect::<Vec<_>>(), [KekId(1), KekId(2)]);
        // Old records still open under their KEK; new ones are sealed under the new KEK only.
        assert_eq!(&kek.open(KekId(1), &NONCE, AAD, &old).unwrap()[..], SHARE);
        assert_eq!(
            kek.seal(KekId(1), &NONCE, AAD, SHARE),
            Err(Error::InvalidRequest(RequestError::KekNotCurrent))
        );
        let new = kek.seal(KekId(2), &NONCE, AAD, SHARE).unwrap();
        assert_ne!(new, old);
        assert_eq!(
            kek.open(KekId(2), &NONCE, AAD, &old),
            Err(Error::Kek(KekError::NotAuthentic))
        );
        // An id is never reused for other key bytes.
        assert!(kek.rotate(KekId(1), &K2).is_err());
        assert!(kek.add_previous(KekId(2), &K1).is_err());
        // Retire the old one once re-wrapped; the current one cannot be retired.
        assert!(kek.retire(KekId(2)).is_err());
        kek.retire(KekId(1)).unwrap();
        assert_eq!(
            kek.open(KekId(1), &NONCE, AAD, &old),
            Err(Error::Kek(KekError::UnknownKek(1)))
        );
        assert_eq!(
            kek.retire(KekId(1)),
            Err(Error::Kek(KekError::UnknownKek(1)))
        );
    }

    #[test]
    fn debug_shows_only_ids() {
        let mut kek = LocalKek::new(KekId(1), &K1);
        kek.rotate(KekId(2), &K2).unwrap();
        let s = format!("{kek:?}");
        assert!(s.contains("KekId(1)") && s.contains("KekId(2)"), "{s}");
        assert!(
            !s.contains("17") && !s.contains("11") && !s.contains("34"),
            "{s}"
        );
    }
}

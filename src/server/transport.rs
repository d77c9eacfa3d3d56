//! Sealing messages to the server (SPEC §6).
//!
//! Messages that carry d1'' (registration) or y (signing) are encrypted to the server's
//! long-term transport key with HPKE (RFC 9180) in base mode with the suite
//! DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 (KEM 0x0020, KDF 0x0001,
//! AEAD 0x0003), one fresh encapsulation per message (RFC 9180 §6.1 single-shot), the fixed
//! `info` [`TRANSPORT_INFO`] and the caller's associated data (SPEC §6: the message's public
//! fields, e.g. key_id, request_id and SHA-256 of the SigningRequest encoding).
//!
//! The sender keeps nothing: the ephemeral key lives only inside [`seal_to_server`], so a
//! device cannot decrypt its own past messages, and a stolen device plus recorded traffic
//! gives no PIN oracle (SPEC §6, §1 (d)).
//!
//! Opening fails with the single [`Error::Unseal`] for every reason (tampered ciphertext or
//! encapsulated key, wrong associated data, wrong key).
//!
//! # Encodings
//!
//! - [`TransportPublicKey`]: the 32-byte X25519 public key (RFC 9180 §7.1.1
//!   SerializePublicKey). Small-order points are refused on import.
//! - [`ServerTransportKey`] export: the 32-byte clamped X25519 private key (RFC 9180 §7.1.2
//!   SerializePrivateKey), into a wiping buffer.
//! - [`SealedMessage`]: `enc` (32 bytes) || ciphertext (plaintext length + 16-byte tag). The
//!   length is implied by the enclosing message; a protocol encoding that embeds it gives it
//!   a length prefix (SPEC §9).

use crate::error::RequestError;
use crate::error::decode_err;
use core::fmt;

use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{DecodeErrorKind, Error};
use crate::secret::SecretBytes;

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;
type HpkePrivateKey = <Kem as hpke::Kem>::PrivateKey;
type HpkePublicKey = <Kem as hpke::Kem>::PublicKey;
type EncappedKey = <Kem as hpke::Kem>::EncappedKey;

/// The HPKE `info` string: fixed, with a version label (SPEC §6).
pub const TRANSPORT_INFO: &[u8] = b"split-rsa v1 transport";

/// Length of an encoded transport public key (X25519, RFC 9180 Npk).
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an exported transport private key (X25519, RFC 9180 Nsk).
pub const PRIVATE_KEY_LEN: usize = 32;
/// Length of the encapsulated key `enc` (RFC 9180 Nenc).
pub const ENC_LEN: usize = 32;
/// Length of the AEAD tag appended to every ciphertext (RFC 9180 Nt).
pub const TAG_LEN: usize = 16;
/// Longest plaintext accepted (64 KiB; protocol messages are far smaller).
pub const MAX_PLAINTEXT_LEN: usize = 64 * 1024;

/// The server's long-term transport public key (SPEC §6). Public.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransportPublicKey {
    bytes: [u8; PUBLIC_KEY_LEN],
}

impl TransportPublicKey {
    /// Imports a 32-byte X25519 public key, refusing small-order points (for which the
    /// Diffie-Hellman result is all zeros, RFC 9180 §7.1.4).
    ///
    /// Errors: [`Error::Decode`] on field `transport_public_key` with `Truncated` or
    /// `TrailingBytes` for a wrong length, `Invalid` for a small-order point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        const FIELD: &str = "transport_public_key";
        let arr: [u8; PUBLIC_KEY_LEN] = fixed(bytes, FIELD)?;
        // Small-order check through HPKE's own all-zero-DH check: decapsulate `arr` as if it
        // were an `enc` under a fixed, public, clamped scalar. Clamped scalars are multiples
        // of the cofactor 8, so the DH output is zero exactly for points of small order.
        // Public data only; variable time is fine.
        let probe = HpkePrivateKey::from_bytes(&[1u8; PRIVATE_KEY_LEN])
            .map_err(|_| decode_err(FIELD, DecodeErrorKind::Invalid))?;
        let as_enc = EncappedKey::from_bytes(&arr)
            .map_err(|_| decode_err(FIELD, DecodeErrorKind::Invalid))?;
        hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &probe, &as_enc, b"")
            .map_err(|_| decode_err(FIELD, DecodeErrorKind::Invalid))?;
        Ok(Self { bytes: arr })
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.bytes
    }

    fn to_hpke(self) -> Result<HpkePublicKey, Error> {
        HpkePublicKey::from_bytes(&self.bytes)
            .map_err(|_| Error::InvalidRequest(RequestError::TransportKey))
    }
}

impl fmt::Debug for TransportPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportPublicKey(")?;
        for b in &self.bytes {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// The server's long-term transport key pair (SPEC §6). Secret.
///
/// Private fields, the private key wiped on drop, no `Clone`, `Debug` prints only the public
/// key.
pub struct ServerTransportKey {
    /// RFC 9180 SerializePrivateKey output (clamped X25519 scalar).
    sk: [u8; PRIVATE_KEY_LEN],
    pk: TransportPublicKey,
}

impl ServerTransportKey {
    /// Generates a fresh key pair: 32 bytes from `rng` fed to RFC 9180 §7.1.3
    /// DeriveKeyPair.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let (sk, pk) = Kem::gen_keypair_with_rng(rng);
        Self::from_hpke(&sk, &pk)
    }

    /// Imports a 32-byte X25519 private key (clamped on import, RFC 9180 §7.1.2).
    ///
    /// Errors: [`Error::Decode`] on field `transport_private_key` (`Truncated` or
    /// `TrailingBytes`) for a wrong length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        const FIELD: &str = "transport_private_key";
        if bytes.len() != PRIVATE_KEY_LEN {
            // Same errors as for a fixed field, without copying the secret.
            return Err(length_err(bytes.len(), PRIVATE_KEY_LEN, FIELD));
        }
        let sk = HpkePrivateKey::from_bytes(bytes)
            .map_err(|_| decode_err(FIELD, DecodeErrorKind::Invalid))?;
        let pk = Kem::sk_to_pk(&sk);
        Ok(Self::from_hpke(&sk, &pk))
    }

    /// Exports the private key (32 bytes, clamped) into a wiping buffer. Store it
    /// encrypted.
    pub fn to_bytes(&self) -> Zeroizing<[u8; PRIVATE_KEY_LEN]> {
        Zeroizing::new(self.sk)
    }

    /// The public key, to be given to devices (SPEC §6).
    pub fn public_key(&self) -> TransportPublicKey {
        self.pk
    }

    /// Opens a message sealed to this key with [`seal_to_server`], checking `aad` (SPEC §6).
    ///
    /// Errors: [`Error::Unseal`] for any failure (wrong key, tampered `enc` or ciphertext,
    /// different associated data), with no further detail.
    pub fn open(&self, message: &SealedMessage, aad: &[u8]) -> Result<SecretBytes, Error> {
        self.open_with_info(message, TRANSPORT_INFO, aad)
    }

    fn open_with_info(
        &self,
        message: &SealedMessage,
        info: &[u8],
        aad: &[u8],
    ) -> Result<SecretBytes, Error> {
        // Wiped on drop (x25519-dalek StaticSecret is zeroize-on-drop).
        let sk = HpkePrivateKey::from_bytes(&self.sk).map_err(|_| Error::Unseal)?;
        let enc = EncappedKey::from_bytes(&message.enc).map_err(|_| Error::Unseal)?;
        let pt = hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &sk,
            &enc,
            info,
            &message.ciphertext,
            aad,
        )
        .map_err(|_| Error::Unseal)?;
        Ok(SecretBytes::from_vec(pt))
    }

    fn from_hpke(sk: &HpkePrivateKey, pk: &HpkePublicKey) -> Self {
        let mut out = Self {
            sk: [0u8; PRIVATE_KEY_LEN],
            pk: TransportPublicKey { bytes: [0u8; 32] },
        };
        sk.write_exact(&mut out.sk);
        pk.write_exact(&mut out.pk.bytes);
        out
    }
}

impl Zeroize for ServerTransportKey {
    fn zeroize(&mut self) {
        self.sk.zeroize();
    }
}

impl Drop for ServerTransportKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ServerTransportKey {}

impl fmt::Debug for ServerTransportKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTransportKey")
            .field("public", &self.pk)
            .finish_non_exhaustive()
    }
}

/// An HPKE-sealed message (SPEC §6): the encapsulated key and the AEAD ciphertext. Public.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedMessage {
    enc: [u8; ENC_LEN],
    /// Plaintext length + [`TAG_LEN`].
    ciphertext: Vec<u8>,
}

impl SealedMessage {
    /// The encapsulated key `enc` (an ephemeral X25519 public key).
    pub fn enc(&self) -> &[u8; ENC_LEN] {
        &self.enc
    }

    /// The AEAD ciphertext, tag included.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }

    /// `enc || ciphertext`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENC_LEN + self.ciphertext.len());
        out.extend_from_slice(&self.enc);
        out.extend_from_slice(&self.ciphertext);
        out
    }

    /// Decodes `enc || ciphertext` (the whole input; the caller delimits it).
    ///
    /// Errors: [`Error::Decode`] with `sealed_message.enc` / `sealed_message.ciphertext`
    /// `Truncated` if shorter than 32 + 16 bytes, `sealed_message.ciphertext` `TooLong` if
    /// the plaintext would exceed [`MAX_PLAINTEXT_LEN`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let Some((enc, ciphertext)) = bytes.split_first_chunk::<ENC_LEN>() else {
            return Err(decode_err("sealed_message.enc", DecodeErrorKind::Truncated));
        };
        if ciphertext.len() < TAG_LEN {
            return Err(decode_err(
                "sealed_message.ciphertext",
                DecodeErrorKind::Truncated,
            ));
        }
        if ciphertext.len() > MAX_PLAINTEXT_LEN + TAG_LEN {
            return Err(decode_err(
                "sealed_message.ciphertext",
                DecodeErrorKind::TooLong,
            ));
        }
        Ok(Self {
            enc: *enc,
            ciphertext: ciphertext.to_vec(),
        })
    }
}

impl fmt::Debug for SealedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedMessage")
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Seals `plaintext` to the server's transport key `server` with associated data `aad`
/// (SPEC §6; RFC 9180 §6.1 SealBase with info = [`TRANSPORT_INFO`]). A fresh ephemeral key
/// is drawn from `rng` for every call and dropped (wiped) before returning.
///
/// Errors: [`Error::InvalidRequest`] if `plaintext` is longer than [`MAX_PLAINTEXT_LEN`]
/// (HPKE itself cannot fail for a validated [`TransportPublicKey`]; should it, the same
/// variant is returned).
pub fn seal_to_server(
    rng: &mut impl CryptoRng,
    server: &TransportPublicKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<SealedMessage, Error> {
    seal_with_info(rng, server, TRANSPORT_INFO, aad, plaintext)
}

fn seal_with_info(
    rng: &mut impl CryptoRng,
    server: &TransportPublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<SealedMessage, Error> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidRequest(RequestError::PlaintextTooLong));
    }
    let pk = server.to_hpke()?;
    let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &pk,
        info,
        plaintext,
        aad,
        rng,
    )
    .map_err(|_| Error::InvalidRequest(RequestError::Hpke))?;
    let mut out = SealedMessage {
        enc: [0u8; ENC_LEN],
        ciphertext,
    };
    enc.write_exact(&mut out.enc);
    Ok(out)
}

/// The HPKE exporter context (RFC 9180 §5.3) of the response key (SPEC §6).
pub const RESPONSE_KEY_LABEL: &[u8] = b"split-rsa v2 response key";

/// Length of the response key and of its nonce.
pub const RESPONSE_KEY_LEN: usize = 32;
/// Length of the nonce of a sealed response (ChaCha20-Poly1305, RFC 8439).
pub const RESPONSE_NONCE_LEN: usize = 12;

/// The key an answer to one sealed message is sealed under (SPEC §6): the HPKE secret export
/// of that message's context with the label [`RESPONSE_KEY_LABEL`], 32 bytes. Only the
/// server (which opened the message) and the device (which sealed it) can compute it, so only
/// the real server can answer and only the sending device can read the answer.
///
/// Secret: wiped on drop, hidden from `Debug`. The device keeps it in its record while the
/// exchange is pending; it exports only into a wiping buffer.
pub struct ResponseKey([u8; RESPONSE_KEY_LEN]);

impl ResponseKey {
    /// Rebuilds a stored key (from a device record).
    pub(crate) const fn from_bytes(bytes: [u8; RESPONSE_KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for the device record's encoding.
    pub(crate) const fn as_bytes(&self) -> &[u8; RESPONSE_KEY_LEN] {
        &self.0
    }

    /// Seals `plaintext` under this key with a fresh random nonce (ChaCha20-Poly1305,
    /// RFC 8439 §2.8): `nonce || ciphertext || tag`.
    ///
    /// The key is unique to one message, but the server may seal more than one answer to it
    /// (a computation retried after a lost compare-and-swap); the random nonce keeps every
    /// sealing distinct.
    pub(crate) fn seal<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        aad: &[u8],
        plaintext: &[u8],
    ) -> Vec<u8> {
        use chacha20poly1305::aead::AeadInOut;
        use chacha20poly1305::{ChaCha20Poly1305 as Aead2, KeyInit, Nonce};
        let mut nonce = [0u8; RESPONSE_NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let cipher = Aead2::new(&self.0.into());
        let mut out = Vec::with_capacity(RESPONSE_NONCE_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let (_, body) = out.split_at_mut(RESPONSE_NONCE_LEN);
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), aad, body.into())
            // The only failure is a plaintext over ChaCha20's 256 GiB limit.
            .unwrap_or_default();
        out.extend_from_slice(&tag);
        out
    }

    /// Opens `nonce || ciphertext || tag` sealed by [`seal`](Self::seal), into a wiping
    /// buffer.
    ///
    /// # Errors
    /// [`Error::Unseal`] if it does not authenticate under this key and `aad`.
    pub(crate) fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, Error> {
        use chacha20poly1305::aead::AeadInOut;
        use chacha20poly1305::{ChaCha20Poly1305 as Aead2, KeyInit, Nonce, Tag};
        let (nonce, rest) = sealed
            .split_first_chunk::<RESPONSE_NONCE_LEN>()
            .ok_or(Error::Unseal)?;
        let body_len = rest.len().checked_sub(TAG_LEN).ok_or(Error::Unseal)?;
        let (body, tag) = rest.split_at(body_len);
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Unseal)?;
        let cipher = Aead2::new(&self.0.into());
        let mut buf = SecretBytes::from_vec(body.to_vec());
        cipher
            .decrypt_inout_detached(
                &Nonce::from(*nonce),
                aad,
                buf.as_mut_slice().into(),
                &Tag::from(tag),
            )
            .map_err(|_| Error::Unseal)?;
        Ok(buf)
    }
}

impl Zeroize for ResponseKey {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl Drop for ResponseKey {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for ResponseKey {}

impl fmt::Debug for ResponseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseKey(..)")
    }
}

/// Seals `plaintext` to the server (as [`seal_to_server`]) and returns, besides the sealed
/// message, the response key of its HPKE context (SPEC §6): the device keeps it to open the
/// server's answer.
///
/// # Errors
/// As [`seal_to_server`].
pub(crate) fn seal_to_server_for_response(
    rng: &mut impl CryptoRng,
    server: &TransportPublicKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<(SealedMessage, ResponseKey), Error> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(Error::InvalidRequest(RequestError::PlaintextTooLong));
    }
    let pk = server.to_hpke()?;
    let (enc, mut ctx) =
        hpke::setup_sender_with_rng::<Aead, Kdf, Kem>(&OpModeS::Base, &pk, TRANSPORT_INFO, rng)
            .map_err(|_| Error::InvalidRequest(RequestError::Hpke))?;
    let ciphertext = ctx
        .seal(plaintext, aad)
        .map_err(|_| Error::InvalidRequest(RequestError::Hpke))?;
    let mut key = ResponseKey([0u8; RESPONSE_KEY_LEN]);
    ctx.export(RESPONSE_KEY_LABEL, &mut key.0)
        .map_err(|_| Error::InvalidRequest(RequestError::Hpke))?;
    let mut out = SealedMessage {
        enc: [0u8; ENC_LEN],
        ciphertext,
    };
    enc.write_exact(&mut out.enc);
    Ok((out, key))
}

impl ServerTransportKey {
    /// Opens a message sealed by [`seal_to_server_for_response`] and derives its response key
    /// (SPEC §4.5 a, §6).
    ///
    /// # Errors
    /// [`Error::Unseal`] for every failure.
    pub(crate) fn open_for_response(
        &self,
        message: &SealedMessage,
        aad: &[u8],
    ) -> Result<(SecretBytes, ResponseKey), Error> {
        let sk = HpkePrivateKey::from_bytes(&self.sk).map_err(|_| Error::Unseal)?;
        let enc = EncappedKey::from_bytes(&message.enc).map_err(|_| Error::Unseal)?;
        let mut ctx =
            hpke::setup_receiver::<Aead, Kdf, Kem>(&OpModeR::Base, &sk, &enc, TRANSPORT_INFO)
                .map_err(|_| Error::Unseal)?;
        let pt = ctx
            .open(&message.ciphertext, aad)
            .map_err(|_| Error::Unseal)?;
        let pt = SecretBytes::from_vec(pt);
        let mut key = ResponseKey([0u8; RESPONSE_KEY_LEN]);
        ctx.export(RESPONSE_KEY_LABEL, &mut key.0)
            .map_err(|_| Error::Unseal)?;
        Ok((pt, key))
    }

    /// The key the server authenticates its registration challenges with (SPEC §3.0):
    /// HKDF-SHA256 (RFC 5869) of the transport private key with a fixed label, so the
    /// transport key is the server's one long-term secret and the two uses stay separate.
    pub(crate) fn challenge_key(&self) -> Zeroizing<[u8; 32]> {
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"split-rsa v2"), &self.sk);
        let mut out = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit.
        let _ = hk.expand(b"registration challenge key", out.as_mut_slice());
        out
    }
}

fn fixed<const N: usize>(bytes: &[u8], field: &'static str) -> Result<[u8; N], Error> {
    <[u8; N]>::try_from(bytes).map_err(|_| length_err(bytes.len(), N, field))
}

fn length_err(got: usize, want: usize, field: &'static str) -> Error {
    let kind = if got < want {
        DecodeErrorKind::Truncated
    } else {
        DecodeErrorKind::TrailingBytes
    };
    decode_err(field, kind)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    //! RFC 9180 Appendix A.2.1 (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305,
    //! base mode): the known answer for the first message, through this module's own
    //! seal/open with the RFC's `info` and a fixed RNG that yields the RFC's ikmE.
    use super::*;
    use core::convert::Infallible;

    /// Replays fixed bytes, then zeros (test only).
    struct FixedRng(Vec<u8>);

    impl rand_core::TryRng for FixedRng {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            let mut b = [0u8; 4];
            self.try_fill_bytes(&mut b)?;
            Ok(u32::from_le_bytes(b))
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            let mut b = [0u8; 8];
            self.try_fill_bytes(&mut b)?;
            Ok(u64::from_le_bytes(b))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            for d in dst.iter_mut() {
                *d = if self.0.is_empty() {
                    0
                } else {
                    self.0.remove(0)
                };
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for FixedRng {}

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc9180_a2_1_base_x25519_chacha20poly1305() {
        let ikm_e = hex("909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b");
        let sk_rm = hex("8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb");
        let pk_rm = hex("4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a");
        let enc = hex("1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a");
        let info = hex("4f6465206f6e2061204772656369616e2055726e");
        let pt = hex("4265617574792069732074727574682c20747275746820626561757479");
        let aad0 = hex("436f756e742d30");
        let ct0 = hex(
            "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
        );

        let server = ServerTransportKey::from_bytes(&sk_rm).unwrap();
        assert_eq!(server.public_key().to_bytes().as_slice(), pk_rm.as_slice());
        // Export is the clamped form (RFC 9180 §7.1.2); the vector's skRm is unclamped.
        let mut clamped = sk_rm.clone();
        clamped[0] &= 0xf8;
        clamped[31] = (clamped[31] & 0x7f) | 0x40;
        assert_eq!(&server.to_bytes()[..], clamped.as_slice());
        assert_eq!(
            ServerTransportKey::from_bytes(&clamped)
                .unwrap()
                .public_key()
                .to_bytes()[..],
            pk_rm[..]
        );

        let mut rng = FixedRng(ikm_e);
        let sealed = seal_with_info(&mut rng, &server.public_key(), &info, &aad0, &pt).unwrap();
        assert_eq!(sealed.enc().as_slice(), enc.as_slice());
        assert_eq!(sealed.ciphertext(), ct0.as_slice());

        let opened = server.open_with_info(&sealed, &info, &aad0).unwrap();
        assert_eq!(opened.as_bytes(), pt.as_slice());
        // The RFC's info is not ours: the public `open` refuses it.
        assert_eq!(server.open(&sealed, &aad0).unwrap_err(), Error::Unseal);
    }
}

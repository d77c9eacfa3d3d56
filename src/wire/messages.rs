//! The protocol's messages (SPEC §3, §4) and their canonical encodings (SPEC §9).
//!
//! Each message is a type with `to_bytes`/`from_bytes`; the byte layouts are in
//! `docs/encodings.md`. Messages that carry a secret (d1'' at registration, y when signing)
//! carry it only inside an HPKE [`SealedMessage`] to the server (SPEC §6); their associated
//! data binds the message's public fields, so a sealed part cannot be moved to another message.

use core::fmt;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

use crate::device::pin::KeyPurpose;
use crate::error::{DecodeError, DecodeErrorKind, Error, Result};
use crate::rsa::hash::HashAlg;
use crate::rsa::keygen::KeySize;
use crate::rsa::padding::Scheme;
use crate::server::otp::{OTP_LEN, Otp, REQUEST_ID_LEN};
use crate::server::record::KeyId;
use crate::server::transport::{ENC_LEN, SealedMessage, TAG_LEN};
use crate::wire::encoding::{HEADER_LEN, MessageType, Reader, Writer};

/// The largest signature, in bytes (8192 bits).
pub(crate) const MAX_SIGNATURE_BYTES: usize = 1024;
/// The largest HPKE ciphertext inside a message: the registration secret for a 4096-bit n1
/// (header 6 + size 2 + n1 512 + d1'' 512, plus the 16-byte tag).
const MAX_SEALED_CIPHERTEXT: usize = HEADER_LEN + 2 + 2 * 512 + TAG_LEN;
/// The largest digest or PSS salt (SHA-512).
const MAX_DIGEST: usize = 64;

fn err(field: &'static str, kind: DecodeErrorKind) -> Error {
    Error::Decode(DecodeError::new(field, kind))
}

/// Whether `bytes` is the length of a composite modulus `n = n1·n2` (and so of a signature):
/// the sum of two supported half lengths of the same class (test or production, SPEC §2).
pub(crate) fn is_composite_len(bytes: usize) -> bool {
    const HALVES: [usize; 6] = [64, 96, 128, 256, 384, 512];
    HALVES.iter().any(|&a| {
        bytes
            .checked_sub(a)
            .and_then(KeySize::from_bytes_any)
            .zip(KeySize::from_bytes_any(a))
            .is_some_and(|(x, y)| x.is_insecure_test_size() == y.is_insecure_test_size())
    })
}

/// Reads a half-modulus (n1 or n2): a 2-byte length that is a supported size in bytes
/// (`KeySize::from_bytes_any`, else `OutOfRange`), then that many bytes with the top bit set (the size is
/// exact, SPEC §2; else `NonCanonical`) and the low bit set (else `Invalid`).
pub(crate) fn read_half_modulus<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8]> {
    let len = usize::from(r.u16(field)?);
    if KeySize::from_bytes_any(len).is_none() {
        return Err(err(field, DecodeErrorKind::OutOfRange));
    }
    let n = r.take(len, field)?;
    if n.first().is_none_or(|b| b & 0x80 == 0) {
        return Err(err(field, DecodeErrorKind::NonCanonical));
    }
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(err(field, DecodeErrorKind::Invalid));
    }
    Ok(n)
}

fn write_half_modulus(w: &mut Writer, n: &[u8]) {
    // Lengths are bounded by 512 at construction.
    w.u16(n.len() as u16).fixed(n);
}

fn write_sealed(w: &mut Writer, s: &SealedMessage) {
    w.fixed(s.enc()).var(s.ciphertext());
}

/// Reads a sealed part: `enc` (32 bytes), then the ciphertext with a 4-byte length of at most
/// [`MAX_SEALED_CIPHERTEXT`] that `len_ok` accepts (the plaintext's length is fixed by the
/// message, so the ciphertext's is too; else `Invalid`).
fn read_sealed(r: &mut Reader<'_>, len_ok: impl Fn(usize) -> bool) -> Result<SealedMessage> {
    let enc = r.take(ENC_LEN, "sealed.enc")?;
    let ct = r.var("sealed.ciphertext", MAX_SEALED_CIPHERTEXT)?;
    if !len_ok(ct.len()) {
        return Err(err("sealed.ciphertext", DecodeErrorKind::Invalid));
    }
    let mut bytes = Vec::with_capacity(ENC_LEN + ct.len());
    bytes.extend_from_slice(enc);
    bytes.extend_from_slice(ct);
    SealedMessage::from_bytes(&bytes)
}

/// Length of the sealed registration secret for an n1 of `k1` bytes: header, 2-byte size,
/// n1 and d1'' (`k1` bytes each), tag.
const fn registration_ciphertext_len(k1: usize) -> usize {
    HEADER_LEN + 2 + 2 * k1 + TAG_LEN
}

/// Length of the plaintext of a partial signature before y: header, OTP, y's length.
const PARTIAL_PREFIX_LEN: usize = HEADER_LEN + OTP_LEN + 2;

fn scheme_tags(s: Scheme) -> (u8, u8) {
    let h = match s.hash() {
        HashAlg::Sha256 => 1,
        HashAlg::Sha384 => 2,
        HashAlg::Sha512 => 3,
    };
    match s {
        Scheme::Pkcs1v15(_) => (1, h),
        Scheme::Pss(_) => (2, h),
    }
}

fn scheme_from_tags(scheme: u8, hash: u8) -> Result<Scheme> {
    let h = match hash {
        1 => HashAlg::Sha256,
        2 => HashAlg::Sha384,
        3 => HashAlg::Sha512,
        _ => return Err(err("hash", DecodeErrorKind::UnknownTag)),
    };
    match scheme {
        1 => Ok(Scheme::Pkcs1v15(h)),
        2 => Ok(Scheme::Pss(h)),
        _ => Err(err("scheme", DecodeErrorKind::UnknownTag)),
    }
}

/// Device → server at registration (SPEC §3 step 4): the key's purpose, the device modulus
/// n1, and d1'' sealed to the server.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    pub(crate) purpose: KeyPurpose,
    pub(crate) n1: Vec<u8>,
    pub(crate) sealed: SealedMessage,
}

impl RegistrationRequest {
    /// The key's purpose.
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The device modulus n1, big-endian, exactly |n1|/8 bytes.
    pub fn n1(&self) -> &[u8] {
        &self.n1
    }

    /// The associated data (SPEC §3 step 4, §6) that binds the sealed d1'' to this request's
    /// public fields: the
    /// encoding of everything before the sealed part.
    pub(crate) fn aad(purpose: KeyPurpose, n1: &[u8]) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationRequest);
        w.u8(purpose.tag());
        write_half_modulus(&mut w, n1);
        w.finish_public()
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationRequest);
        w.u8(self.purpose.tag());
        write_half_modulus(&mut w, &self.n1);
        write_sealed(&mut w, &self.sealed);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::RegistrationRequest)?;
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(err("purpose", DecodeErrorKind::UnknownTag))?;
        let n1 = read_half_modulus(&mut r, "n1")?.to_vec();
        let k1 = n1.len();
        let sealed = read_sealed(&mut r, |len| len == registration_ciphertext_len(k1))?;
        r.finish()?;
        Ok(Self {
            purpose,
            n1,
            sealed,
        })
    }
}

impl fmt::Debug for RegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationRequest")
            .field("purpose", &self.purpose)
            .field("n1_bits", &(self.n1.len() * 8))
            .finish_non_exhaustive()
    }
}

/// Server → device at registration (SPEC §3 step 6): the key id, the server modulus n2 and the
/// first one-time password.
#[derive(PartialEq, Eq)]
pub struct RegistrationResponse {
    pub(crate) key_id: KeyId,
    pub(crate) n2: Vec<u8>,
    pub(crate) otp: Otp,
}

impl RegistrationResponse {
    /// The key id the server assigned.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The server modulus n2, big-endian, exactly |n2|/8 bytes.
    pub fn n2(&self) -> &[u8] {
        &self.n2
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::RegistrationResponse);
        w.fixed(&self.key_id);
        write_half_modulus(&mut w, &self.n2);
        w.fixed(self.otp.as_bytes());
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::RegistrationResponse)?;
        let key_id = r.array("key_id")?;
        let n2 = read_half_modulus(&mut r, "n2")?.to_vec();
        let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
        r.finish()?;
        Ok(Self { key_id, n2, otp })
    }
}

impl fmt::Debug for RegistrationResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationResponse")
            .field("key_id", &Hex(&self.key_id))
            .field("n2_bits", &(self.n2.len() * 8))
            .finish_non_exhaustive()
    }
}

/// What the server asks the device to sign (SPEC §4 step 1): the key, a fresh request id, the
/// scheme and hash, the digest, and for PSS the salt the server chose.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningRequest {
    pub(crate) key_id: KeyId,
    pub(crate) request_id: [u8; REQUEST_ID_LEN],
    pub(crate) scheme: Scheme,
    pub(crate) digest: Vec<u8>,
    pub(crate) pss_salt: Vec<u8>,
}

impl SigningRequest {
    /// A new request with a random request id and, for PSS, a random salt as long as the hash
    /// (SPEC §4 step 1; the salt is EMSA-PSS's `salt`, RFC 8017 §9.1.1 step 4, chosen here so
    /// that both parties encode the same `EM`, SPEC §4 step 2).
    ///
    /// The server makes the request (it knows the key id from its relying party's session)
    /// and sends [`to_bytes`](Self::to_bytes) to the device; the device decodes it with
    /// [`from_bytes`](Self::from_bytes) and shows the
    /// [`verification_code`](crate::DeviceRecord::verification_code) of its digest.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if the digest's length is not the hash's.
    ///
    /// # Example
    ///
    /// ```
    /// use rand_chacha::ChaCha20Rng;
    /// use rand_core::SeedableRng;
    /// use split_rsa::{Error, HashAlg, KeyId, Scheme, SigningRequest};
    ///
    /// let mut rng = ChaCha20Rng::seed_from_u64(1); // an OS RNG in production
    /// let key_id: KeyId = [7; 16]; // from `DeviceRecord::key_id` / the registration
    /// let digest = HashAlg::Sha384.digest(b"the document");
    ///
    /// let request = SigningRequest::new(&mut rng, key_id, Scheme::Pss(HashAlg::Sha384), &digest)?;
    /// assert_eq!(request.pss_salt().len(), 48); // sLen = hLen
    /// let on_the_wire = request.to_bytes();
    /// assert_eq!(SigningRequest::from_bytes(&on_the_wire)?, request);
    ///
    /// // PKCS#1 v1.5 has no salt; a digest of another hash's length is refused.
    /// let v15 = SigningRequest::new(&mut rng, key_id, Scheme::Pkcs1v15(HashAlg::Sha384), &digest)?;
    /// assert!(v15.pss_salt().is_empty());
    /// assert!(matches!(
    ///     SigningRequest::new(&mut rng, key_id, Scheme::Pss(HashAlg::Sha256), &digest),
    ///     Err(Error::InvalidRequest(_))
    /// ));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new<R: CryptoRng + ?Sized>(
        rng: &mut R,
        key_id: KeyId,
        scheme: Scheme,
        digest: &[u8],
    ) -> Result<Self> {
        scheme.hash().check_digest(digest)?;
        let mut request_id = [0u8; REQUEST_ID_LEN];
        rng.fill_bytes(&mut request_id);
        let mut pss_salt = vec![0u8; scheme.salt_len()];
        rng.fill_bytes(&mut pss_salt);
        Ok(Self {
            key_id,
            request_id,
            scheme,
            digest: digest.to_vec(),
            pss_salt,
        })
    }

    /// The key that is to sign.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id.
    pub fn request_id(&self) -> &[u8; REQUEST_ID_LEN] {
        &self.request_id
    }

    /// The signature scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The digest to sign.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The PSS salt (empty for PKCS#1 v1.5).
    pub fn pss_salt(&self) -> &[u8] {
        &self.pss_salt
    }

    /// SPEC §4 step 2: EM = EMSA-ENCODE(digest) for a modulus of `mod_bits` bits, k bytes.
    pub(crate) fn encoded_message(&self, mod_bits: usize) -> Result<Vec<u8>> {
        crate::rsa::padding::encode(self.scheme, &self.digest, &self.pss_salt, mod_bits)
    }

    /// The associated data binding a sealed partial signature to this request (SPEC §6):
    /// header, key_id, request_id and SHA-256 of this request's encoding.
    pub(crate) fn partial_aad(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedPartialSignature);
        w.fixed(&self.key_id).fixed(&self.request_id);
        w.fixed(&Sha256::digest(self.to_bytes()));
        w.finish_public()
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (s, h) = scheme_tags(self.scheme);
        let mut w = Writer::new(MessageType::SigningRequest);
        w.fixed(&self.key_id).fixed(&self.request_id).u8(s).u8(h);
        w.var(&self.digest).var(&self.pss_salt);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9): the digest must be as long as the hash, the salt as long as
    /// the hash for PSS and empty for PKCS#1 v1.5.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SigningRequest)?;
        let key_id = r.array("key_id")?;
        let request_id = r.array("request_id")?;
        let s = r.u8("scheme")?;
        let h = r.u8("hash")?;
        let scheme = scheme_from_tags(s, h)?;
        let digest = r.var("digest", MAX_DIGEST)?;
        if digest.len() != scheme.hash().output_len() {
            return Err(err("digest", DecodeErrorKind::Invalid));
        }
        let salt = r.var("pss_salt", MAX_DIGEST)?;
        if salt.len() != scheme.salt_len() {
            return Err(err("pss_salt", DecodeErrorKind::Invalid));
        }
        r.finish()?;
        Ok(Self {
            key_id,
            request_id,
            scheme,
            digest: digest.to_vec(),
            pss_salt: salt.to_vec(),
        })
    }
}

impl fmt::Debug for SigningRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningRequest")
            .field("key_id", &Hex(&self.key_id))
            .field("request_id", &Hex(&self.request_id))
            .field("scheme", &self.scheme)
            .field("digest", &Hex(&self.digest))
            .finish_non_exhaustive()
    }
}

/// Device → server when signing (SPEC §4 step 4): the key and request ids in the clear, and
/// `{ otp, y }` sealed to the server with the request bound in as associated data.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedPartialSignature {
    pub(crate) key_id: KeyId,
    pub(crate) request_id: [u8; REQUEST_ID_LEN],
    pub(crate) sealed: SealedMessage,
}

impl SealedPartialSignature {
    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id.
    pub fn request_id(&self) -> &[u8; REQUEST_ID_LEN] {
        &self.request_id
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SealedPartialSignature);
        w.fixed(&self.key_id).fixed(&self.request_id);
        write_sealed(&mut w, &self.sealed);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9).
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SealedPartialSignature)?;
        let key_id = r.array("key_id")?;
        let request_id = r.array("request_id")?;
        let sealed = read_sealed(&mut r, |len| {
            len.checked_sub(PARTIAL_PREFIX_LEN + TAG_LEN)
                .and_then(KeySize::from_bytes_any)
                .is_some()
        })?;
        r.finish()?;
        Ok(Self {
            key_id,
            request_id,
            sealed,
        })
    }
}

impl fmt::Debug for SealedPartialSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedPartialSignature")
            .field("key_id", &Hex(&self.key_id))
            .field("request_id", &Hex(&self.request_id))
            .finish_non_exhaustive()
    }
}

/// The plaintext inside a [`SealedPartialSignature`]: the current one-time password, then
/// `y = m^d1' mod n1` as exactly |n1|/8 bytes with a 2-byte length. As secret as the PIN
/// (SPEC §4): never logged.
pub(crate) fn encode_partial(otp: &Otp, y: &[u8]) -> zeroize::Zeroizing<Vec<u8>> {
    let mut w = Writer::new(MessageType::PartialSignature);
    // |y| = |n1|/8 <= 512.
    w.fixed(otp.as_bytes()).u16(y.len() as u16).fixed(y);
    w.finish()
}

/// Decodes the plaintext of a partial signature (SPEC §4 step 4, §9): header, OTP, y's 2-byte length (a supported
/// half-modulus size, else `y` `OutOfRange`) and y. The checks that need the key,
/// `|y| = |n1|/8` and `y < n1`, are the server's, after it has charged the attempt
/// (`Server::complete`).
pub(crate) fn decode_partial(bytes: &[u8]) -> Result<(Otp, &[u8])> {
    let mut r = Reader::new(bytes, MessageType::PartialSignature)?;
    let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
    let y_len = usize::from(r.u16("y")?);
    if KeySize::from_bytes_any(y_len).is_none() {
        return Err(err("y", DecodeErrorKind::OutOfRange));
    }
    let y = r.take(y_len, "y")?;
    r.finish()?;
    Ok((otp, y))
}

/// Server → device after a successful signature (SPEC §4 step 5): the signature (k bytes,
/// big-endian) and the next one-time password.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningResponse {
    pub(crate) key_id: KeyId,
    pub(crate) request_id: [u8; REQUEST_ID_LEN],
    pub(crate) signature: Vec<u8>,
    pub(crate) next_otp: [u8; OTP_LEN],
}

impl SigningResponse {
    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The request id this answers.
    pub fn request_id(&self) -> &[u8; REQUEST_ID_LEN] {
        &self.request_id
    }

    /// The RSA signature under the composite key, k bytes big-endian.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The canonical encoding (SPEC §9).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::new(MessageType::SigningResponse);
        w.fixed(&self.key_id)
            .fixed(&self.request_id)
            .var(&self.signature)
            .fixed(&self.next_otp);
        w.finish_public()
    }

    /// Strict decoding (SPEC §9): the signature's length must be that of a composite modulus
    /// of supported sizes (`Invalid` otherwise). The range check `s < n` needs the key: the
    /// device does it in [`DeviceRecord::accept`](crate::DeviceRecord::accept), whose
    /// verification refuses `s >= n` (RFC 8017 §5.2.2 step 1) before it stores anything.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::SigningResponse)?;
        let key_id = r.array("key_id")?;
        let request_id = r.array("request_id")?;
        let signature = r.var("signature", MAX_SIGNATURE_BYTES)?;
        if !is_composite_len(signature.len()) {
            return Err(err("signature", DecodeErrorKind::Invalid));
        }
        let signature = signature.to_vec();
        let next_otp = r.array("next_otp")?;
        r.finish()?;
        Ok(Self {
            key_id,
            request_id,
            signature,
            next_otp,
        })
    }
}

impl fmt::Debug for SigningResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningResponse")
            .field("key_id", &Hex(&self.key_id))
            .field("request_id", &Hex(&self.request_id))
            .field("signature", &Hex(&self.signature))
            .finish_non_exhaustive()
    }
}

/// Hex for Debug output of public bytes.
pub(crate) struct Hex<'a>(pub &'a [u8]);

impl fmt::Debug for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

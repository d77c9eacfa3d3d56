//! The device's role (SPEC §3 steps 1–4 and 6, §4 steps 2–4 and 6, §5).
//!
//! Registration: [`DeviceRegistration::start`] generates the device key, splits it and seals
//! d1'' to the server; [`DeviceRegistration::finish`] takes the server's answer, checks the
//! composite modulus, seals d1' under the PIN and returns the [`DeviceRecord`] to store.
//!
//! Signing: [`DeviceRecord::sign`] unseals d1' with whatever PIN the user typed (it cannot tell
//! a wrong PIN), computes `y = m^d1' mod n1` in constant time and seals `{otp, y}` to the
//! server; [`DeviceRecord::accept`] checks the server's signature and stores the next OTP.
//!
//! The device never sees d1'' after registration, and no type here can hold a server share
//! (SPEC §1 (b), (f)).

use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::arith::{Modulus, Uint};
use crate::device::pin::{KeyPurpose, Pin};
use crate::device::seal::{Argon2Params, SealedShare};
use crate::device::verification_code::{VerificationCode, verification_code};
use crate::error::{DecodeErrorKind, Error, KeyError, Result};
use crate::rsa::keygen::{DeviceShare, KeySize, N1, composite_modulus_vartime};
use crate::rsa::public_key::PublicKey;
use crate::rsa::signing::device_exponentiate;
use crate::rsa::verify::verify;
use crate::server::otp::{OTP_LEN, Otp};
use crate::server::record::KeyId;
use crate::server::transport::{PUBLIC_KEY_LEN, TransportPublicKey, seal_to_server};
use crate::wire::encoding::{MessageType, Reader, Writer};
use crate::wire::messages::{
    Hex, RegistrationRequest, RegistrationResponse, SealedPartialSignature, SigningRequest,
    SigningResponse, encode_partial, read_half_modulus,
};

/// A registration in progress on the device: holds the fresh share d1' until the server has
/// answered (the PIN seal needs the key id the server assigns). Secret; not `Clone`.
pub struct DeviceRegistration {
    share: DeviceShare,
    purpose: KeyPurpose,
    server_key: TransportPublicKey,
}

impl fmt::Debug for DeviceRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceRegistration")
            .field("purpose", &self.purpose)
            .field("size", &self.share.key_size())
            .finish_non_exhaustive()
    }
}

impl DeviceRegistration {
    /// SPEC §3 steps 1–4: generates p1, q1, n1, d1 and the split d1', d1''; wipes p1, q1,
    /// phi1, d1; seals `{n1, d1''}` to the server's transport key (SPEC §6) and wipes d1''.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if key generation fails its own checks (a fault), transport
    /// errors from sealing.
    pub fn start<R: CryptoRng>(
        rng: &mut R,
        purpose: KeyPurpose,
        size: KeySize,
        server_key: &TransportPublicKey,
    ) -> Result<(Self, RegistrationRequest)> {
        let (share, payload) = DeviceShare::generate(size, rng)?;
        let n1 = share.n1_be_bytes();
        let aad = RegistrationRequest::aad(purpose, &n1);
        let plaintext = payload.to_bytes();
        drop(payload);
        let sealed = seal_to_server(rng, server_key, &aad, &plaintext)?;
        drop(plaintext);
        let request = RegistrationRequest {
            purpose,
            n1,
            sealed,
        };
        Ok((
            Self {
                share,
                purpose,
                server_key: *server_key,
            },
            request,
        ))
    }

    /// SPEC §3 step 6 and §5: checks the server's answer (n2 of a supported size, odd,
    /// coprime to n1, `|n1·n2| = |n1| + |n2|`), seals d1' under `pin` with Argon2id and
    /// ChaCha20 (no redundancy), and returns the record to store. d1' in the clear is wiped.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if n2 or n fails a check; [`Error::InvalidRequest`] if the PIN's
    /// purpose is not the key's.
    pub fn finish<R: CryptoRng>(
        self,
        rng: &mut R,
        response: RegistrationResponse,
        pin: &Pin,
        params: Argon2Params,
    ) -> Result<DeviceRecord> {
        let n1_bytes = self.share.n1_be_bytes();
        let n1 = Uint::from_be_bytes(&n1_bytes);
        let n2 = Uint::from_be_bytes(&response.n2);
        let n2_size = KeySize::from_bytes_any(response.n2.len()).ok_or(KeyError::ModulusSize)?;
        if n2_size.is_insecure_test_size() != self.share.key_size().is_insecure_test_size() {
            return Err(KeyError::ModulusSize.into());
        }
        let n = composite_modulus_vartime(&n1, &n2, false)?;
        let public_key = PublicKey::from_uint(&n)?;
        let d1p = self.share.d1_prime_be_bytes();
        let sealed = SealedShare::seal(rng, pin, &response.key_id, self.purpose, &d1p, params)?;
        drop(d1p);
        let n1_modulus = self.share.n1().clone();
        Ok(DeviceRecord {
            key_id: response.key_id,
            purpose: self.purpose,
            size: self.share.key_size(),
            n1: n1_bytes,
            n1_modulus,
            n2: response.n2,
            public_key,
            sealed,
            otp: response.otp,
            server_key: self.server_key,
        })
    }
}

/// What the device stores for one split key (SPEC §9): the key id and purpose, n1 and n2 (and
/// so the composite public key), d1' sealed under the PIN, the current one-time password and
/// the server's transport public key. Nothing in it depends on the PIN except the sealed
/// share's ciphertext, which is uniformly random under every PIN (SPEC §5).
///
/// # Persistence
///
/// Store [`to_bytes`](Self::to_bytes) (a wiping buffer) and restore it with
/// [`from_bytes`](Self::from_bytes). **Persist again after every accepted signature**: it
/// rotates the one-time password, and a record restored from an older copy carries a stale
/// one, which the server takes for a clone and answers by destroying the key (SPEC §7).
///
/// ```
/// use rand_chacha::ChaCha20Rng;
/// use rand_core::SeedableRng;
/// use split_rsa::{
///     Argon2Params, DeviceRecord, DeviceRegistration, Error, HashAlg, InMemoryKeyStore,
///     KeyPurpose, KeySize, Pin, Scheme, Server, ServerPolicy, ServerTransportKey,
///     SigningRequest,
/// };
///
/// let mut rng = ChaCha20Rng::seed_from_u64(5); // an OS RNG in production
/// let size = KeySize::insecure_for_tests(768).unwrap(); // KeySize::BITS_3072 in production
/// let server = Server::new(
///     ServerTransportKey::generate(&mut rng),
///     InMemoryKeyStore::new(),
///     ServerPolicy::default(),
///     size,
/// );
/// let (now, purpose) = (1_800_000_000, KeyPurpose::Authentication);
/// let pin1 = Pin::new("4719", purpose)?;
/// let (registration, request) =
///     DeviceRegistration::start(&mut rng, purpose, size, &server.transport_public_key())?;
/// let response = server.register(&mut rng, &request, now)?;
/// let record =
///     registration.finish(&mut rng, response, &pin1, Argon2Params::insecure_fast_for_tests())?;
///
/// // Save, and later restore (e.g. after the app restarts).
/// let saved = record.to_bytes();
/// let mut restored = DeviceRecord::from_bytes(&saved)?;
/// assert_eq!(restored.public_key(), record.public_key());
/// assert_eq!(restored.to_bytes(), saved); // canonical
///
/// // Sign with the restored record, then persist the new one-time password at once.
/// let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
/// let digest = HashAlg::Sha256.digest(b"log in to example.org");
/// let request = SigningRequest::new(&mut rng, *restored.key_id(), scheme, &digest)?;
/// let partial = restored.sign(&mut rng, &request, &pin1)?;
/// let answer = server.complete(&mut rng, &request, &partial, now)?;
/// restored.accept(&request, &answer)?;
/// let saved_again = restored.to_bytes();
/// assert_ne!(saved_again, saved);
///
/// // The old copy now holds a stale one-time password: the server sees a clone.
/// let stale = DeviceRecord::from_bytes(&saved)?;
/// let request = SigningRequest::new(&mut rng, *stale.key_id(), scheme, &digest)?;
/// let partial = stale.sign(&mut rng, &request, &pin1)?;
/// assert!(matches!(
///     server.complete(&mut rng, &request, &partial, now),
///     Err(Error::CloneDetected)
/// ));
/// # Ok::<(), Error>(())
/// ```
pub struct DeviceRecord {
    key_id: KeyId,
    purpose: KeyPurpose,
    size: KeySize,
    n1: Vec<u8>,
    n1_modulus: Modulus<N1>,
    n2: Vec<u8>,
    public_key: PublicKey,
    sealed: SealedShare,
    otp: Otp,
    server_key: TransportPublicKey,
}

impl fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("key_id", &Hex(&self.key_id))
            .field("purpose", &self.purpose)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

impl DeviceRecord {
    /// The key id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The key's purpose (PIN1: authentication, PIN2: signing).
    pub fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The composite public key (n, e) a CA certifies.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The verification code to show the user before asking for the PIN (SPEC §8).
    pub fn verification_code(&self, request: &SigningRequest) -> VerificationCode {
        verification_code(request.digest())
    }

    /// SPEC §4 steps 2–4: encodes the request's digest for the composite modulus, unseals d1'
    /// under `pin` (any PIN yields some share: the device cannot tell a wrong PIN, SPEC §5),
    /// computes `y = m^d1' mod n1` in constant time, and seals `{otp, y}` to the server bound
    /// to this request (SPEC §6).
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if the request is for another key or the PIN is for another
    /// purpose; encoding errors; transport errors. Never an error that depends on the PIN's
    /// digits.
    pub fn sign<R: CryptoRng>(
        &self,
        rng: &mut R,
        request: &SigningRequest,
        pin: &Pin,
    ) -> Result<SealedPartialSignature> {
        if request.key_id != self.key_id {
            return Err(Error::InvalidRequest("the request is for another key"));
        }
        let em = Zeroizing::new(request.encoded_message(self.public_key.bits())?);
        let m = Uint::from_be_bytes(&em);
        let d1p = self.sealed.unseal(pin, &self.key_id, self.purpose)?;
        let share = DeviceShare::from_parts(
            self.size,
            self.n1_modulus.clone(),
            &Uint::from_be_bytes(d1p.as_bytes()),
        );
        drop(d1p);
        let y = device_exponentiate(share.n1(), share.d1_prime(), share.d1_prime_bits(), &m);
        drop(share);
        let (y_bytes, _) = y.to_be_bytes(self.n1.len());
        drop(y);
        let plaintext = encode_partial(&self.otp, &y_bytes);
        drop(y_bytes);
        let sealed = seal_to_server(rng, &self.server_key, &request.partial_aad(), &plaintext)?;
        Ok(SealedPartialSignature {
            key_id: self.key_id,
            request_id: request.request_id,
            sealed,
        })
    }

    /// SPEC §4 step 6: checks that `response` answers `request` and that its signature
    /// verifies under the composite public key, then stores the next one-time password.
    /// Returns the signature.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if the ids do not match; [`Error::InvalidSignature`] if the
    /// signature does not verify (the record is unchanged).
    pub fn accept(
        &mut self,
        request: &SigningRequest,
        response: &SigningResponse,
    ) -> Result<Vec<u8>> {
        if response.key_id != self.key_id || response.request_id != request.request_id {
            return Err(Error::InvalidRequest(
                "the response answers another request",
            ));
        }
        verify(
            &self.public_key,
            request.scheme(),
            request.digest(),
            &response.signature,
        )?;
        self.otp = Otp::from_bytes(response.next_otp);
        Ok(response.signature.clone())
    }

    /// SPEC §5: re-seals d1' under a new PIN. **Only call this right after a signature made
    /// with `current` was accepted**: the device cannot tell a wrong PIN, so re-sealing after a
    /// wrong `current` would seal a wrong share and make the key unusable.
    ///
    /// # Errors
    /// [`Error::InvalidRequest`] if a PIN is for another purpose.
    pub fn change_pin<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        current: &Pin,
        new: &Pin,
        params: Argon2Params,
    ) -> Result<()> {
        let d1p = self.sealed.unseal(current, &self.key_id, self.purpose)?;
        self.sealed =
            SealedShare::seal(rng, new, &self.key_id, self.purpose, d1p.as_bytes(), params)?;
        Ok(())
    }

    /// The canonical encoding of the record (SPEC §9), in a wiping buffer.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(MessageType::DeviceRecord);
        w.fixed(&self.key_id).u8(self.purpose.tag());
        w.u16(self.n1.len() as u16).fixed(&self.n1);
        w.u16(self.n2.len() as u16).fixed(&self.n2);
        self.sealed.write_body(&mut w);
        w.fixed(self.otp.as_bytes())
            .fixed(&self.server_key.to_bytes());
        w.finish()
    }

    /// Strict decoding (SPEC §9): n1 and n2 of supported sizes, odd, exact, and the composite
    /// n = n1·n2 of exactly |n1| + |n2| bits; the sealed share as long as |n1| + 128 bits.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |field, kind| Error::Decode(crate::error::DecodeError::new(field, kind));
        let mut r = Reader::new(bytes, MessageType::DeviceRecord)?;
        let key_id = r.array("key_id")?;
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(bad("purpose", DecodeErrorKind::UnknownTag))?;
        let n1 = read_half_modulus(&mut r, "n1")?.to_vec();
        let n2 = read_half_modulus(&mut r, "n2")?.to_vec();
        let sealed = SealedShare::read_body(&mut r)?;
        let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
        let server_key = TransportPublicKey::from_bytes(&r.array::<PUBLIC_KEY_LEN>("server_key")?)
            .map_err(|_| bad("server_key", DecodeErrorKind::Invalid))?;
        r.finish()?;

        let size =
            KeySize::from_bytes_any(n1.len()).ok_or(bad("n1", DecodeErrorKind::OutOfRange))?;
        let n2_size =
            KeySize::from_bytes_any(n2.len()).ok_or(bad("n2", DecodeErrorKind::OutOfRange))?;
        if size.is_insecure_test_size() != n2_size.is_insecure_test_size() {
            return Err(bad("n2", DecodeErrorKind::OutOfRange));
        }
        if sealed.ciphertext().len() != size.bytes() + 16 {
            return Err(bad("sealed_share.ciphertext", DecodeErrorKind::Invalid));
        }
        let n1_uint = Uint::from_be_bytes(&n1);
        let n = composite_modulus_vartime(&n1_uint, &Uint::from_be_bytes(&n2), false)
            .map_err(|_| bad("n2", DecodeErrorKind::Invalid))?;
        let public_key =
            PublicKey::from_uint(&n).map_err(|_| bad("n2", DecodeErrorKind::Invalid))?;
        let n1_modulus = Modulus::<N1>::new(n1_uint).ok_or(bad("n1", DecodeErrorKind::Invalid))?;
        Ok(Self {
            key_id,
            purpose,
            size,
            n1,
            n1_modulus,
            n2,
            public_key,
            sealed,
            otp,
            server_key,
        })
    }
}

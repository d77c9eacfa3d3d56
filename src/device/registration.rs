//! The device's side of registration (SPEC §3 steps 1-4 and 6).
//!
//! [`DeviceRegistration::start`] answers the server's [`RegistrationChallenge`]: it generates
//! the device key, splits it, seals `{n1, d1''}` to the server and keeps the response key of
//! that message (SPEC §6). [`DeviceRegistration::open_response`] opens the server's sealed
//! answer (a forged or corrupted one does not open, and the registration stays usable: resend
//! [`request`](DeviceRegistration::request), which the server answers from storage);
//! [`DeviceRegistration::finish`] checks the composite modulus, seals d1' under the PIN and
//! returns the [`DeviceRecord`] to persist.

use core::fmt;

use rand_core::CryptoRng;

use crate::arith::Uint;
use crate::device::pin::{KeyPurpose, Pin};
use crate::device::record::DeviceRecord;
use crate::device::seal::{Argon2Params, SealedShare};
use crate::error::{Error, KeyError, Result};
use crate::rsa::keygen::{DeviceShare, KeySize, check_size_policy, composite_modulus_vartime};
use crate::rsa::public_key::PublicKey;
use crate::server::transport::{ResponseKey, TransportPublicKey, seal_to_server_for_response};
use crate::wire::ids::{KeyId, RequestId};
use crate::wire::messages::{
    RegistrationChallenge, RegistrationRequest, RegistrationResult, ResponseKind, SealedResponse,
};

/// A registration in progress on the device: holds the fresh share d1' and the response key
/// until the server has answered (the PIN seal needs the key id the server assigns). Secret;
/// not `Clone`.
pub struct DeviceRegistration {
    share: DeviceShare,
    purpose: KeyPurpose,
    server_key: TransportPublicKey,
    request: RegistrationRequest,
    response_key: ResponseKey,
}

impl fmt::Debug for DeviceRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceRegistration")
            .field("purpose", &self.purpose)
            .field("size", &self.share.key_size())
            .finish_non_exhaustive()
    }
}

/// The server's registration answer, opened by [`DeviceRegistration::open_response`]: the key
/// id, the server modulus n2 and OTP_0. Secret (the OTP); not `Clone`.
pub struct RegistrationAnswer(RegistrationResult);

impl RegistrationAnswer {
    /// The key id the server assigned.
    pub fn key_id(&self) -> &KeyId {
        &self.0.key_id
    }

    /// The server modulus n2, big-endian.
    pub fn n2(&self) -> &[u8] {
        &self.0.n2
    }
}

impl fmt::Debug for RegistrationAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationAnswer")
            .field("key_id", &self.0.key_id)
            .field("n2_bits", &(self.0.n2.len() * 8))
            .finish_non_exhaustive()
    }
}

impl DeviceRegistration {
    /// SPEC §3 steps 1-4: generates p1, q1, n1, d1 and the split d1', d1''; wipes p1, q1,
    /// phi1, d1; seals `{n1, d1''}` to the server's transport key with the challenge, the
    /// purpose and n1 as associated data (SPEC §6), keeps the message's response key, and
    /// wipes d1''.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if key generation fails its own checks (a fault); transport
    /// errors from sealing.
    pub fn start<R: CryptoRng>(
        rng: &mut R,
        challenge: &RegistrationChallenge,
        purpose: KeyPurpose,
        size: KeySize,
        server_key: &TransportPublicKey,
    ) -> Result<(Self, RegistrationRequest)> {
        let (share, payload) = DeviceShare::generate(rng, size)?;
        let n1 = share.n1_be_bytes();
        let aad = RegistrationRequest::aad(challenge, purpose, &n1);
        let plaintext = payload.to_bytes();
        drop(payload);
        let (sealed, response_key) =
            seal_to_server_for_response(rng, server_key, &aad, &plaintext)?;
        drop(plaintext);
        let request = RegistrationRequest {
            challenge: challenge.clone(),
            purpose,
            n1,
            sealed,
        };
        Ok((
            Self {
                share,
                purpose,
                server_key: *server_key,
                request: request.clone(),
                response_key,
            },
            request,
        ))
    }

    /// The registration request, to send again when no answer came (the server answers a
    /// byte-identical resend from storage, SPEC §3.5).
    pub fn request(&self) -> &RegistrationRequest {
        &self.request
    }

    /// SPEC §3 step 6: opens the server's answer with the response key. An answer that does
    /// not open (forged, corrupted, for another registration) changes nothing.
    ///
    /// # Errors
    /// [`Error::Unseal`]; [`Error::Decode`] for a malformed plaintext.
    pub fn open_response(&self, response: &SealedResponse) -> Result<RegistrationAnswer> {
        let request_id = RequestId::from_bytes(self.request.challenge.challenge);
        if response.kind != ResponseKind::Registration || response.request_id != request_id {
            return Err(Error::Unseal);
        }
        let aad = SealedResponse::aad(response.kind, &response.key_id, &response.request_id);
        let plaintext = self.response_key.open(&aad, &response.sealed)?;
        let result = RegistrationResult::from_bytes(plaintext.as_bytes())?;
        if result.key_id != response.key_id {
            return Err(Error::Unseal);
        }
        Ok(RegistrationAnswer(result))
    }

    /// SPEC §3 step 6 and §5: checks the answer's n2 (a supported size of the same class as
    /// n1, odd, coprime to n1, `|n1·n2| = |n1| + |n2|`), seals d1' under `pin` and returns the
    /// record to persist. d1' in the clear is wiped.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if n2 or n fails a check; [`Error::InvalidRequest`] if the PIN's
    /// purpose is not the key's.
    pub fn finish<R: CryptoRng>(
        self,
        rng: &mut R,
        answer: RegistrationAnswer,
        pin: &Pin,
        params: Argon2Params,
    ) -> Result<DeviceRecord> {
        let RegistrationAnswer(result) = answer;
        let n1_bytes = self.share.n1_be_bytes();
        let n1 = Uint::from_be_bytes(&n1_bytes);
        let n2 = Uint::from_be_bytes(&result.n2);
        let n2_size = KeySize::from_bytes_any(result.n2.len()).ok_or(KeyError::ModulusSize)?;
        check_size_policy(self.share.key_size(), n2_size)?;
        let n = composite_modulus_vartime(&n1, &n2, false)?;
        let public_key = PublicKey::from_uint(&n)?;
        let d1p = self.share.d1_prime_be_bytes();
        let sealed = SealedShare::seal(
            rng,
            pin,
            result.key_id.as_bytes(),
            self.purpose,
            &d1p,
            params,
        )?;
        drop(d1p);
        Ok(DeviceRecord::new(
            result.key_id,
            self.purpose,
            self.share.key_size(),
            n1_bytes,
            self.share.n1().clone(),
            result.n2.clone(),
            public_key,
            sealed,
            result.otp,
            self.server_key,
        ))
    }
}

//! The device's record and its signing session (SPEC §4 steps 2-4 and 6, §5, §10).
//!
//! [`DeviceRecord`] is the device's whole state for one split key: n1 and n2, the key id and
//! purpose, d1' sealed under the PIN, the current one-time password, the server's transport
//! key, and the pending exchange if one is unresolved. The device session rules:
//!
//! - [`sign`](DeviceRecord::sign) refuses while an exchange is pending; otherwise it unseals
//!   d1' with whatever PIN was typed (it cannot tell a wrong one), computes `y = m^d1' mod n1`
//!   in constant time, seals `{otp, y}` to the server and enters the pending state, which keeps
//!   the request, the sealed message and its response key (SPEC §4.4);
//! - the application **persists the record before it sends** the message (SPEC §10);
//! - [`resend`](DeviceRecord::resend) gives the same sealed bytes again (after a crash, a
//!   timeout, a lost answer): the server answers a byte-identical resend from storage and
//!   charges nothing;
//! - [`accept`](DeviceRecord::accept) opens the answer with the response key: an answer that
//!   does not open is ignored and the exchange stays pending; a completed signature is verified
//!   under (n, e) before the next OTP is stored; a Locked answer keeps the exchange pending (resend
//!   after the lock); any other answer ends the exchange with the OTP unchanged; a fatal one
//!   makes the record unable to sign (SPEC §4.6).
//!
//! The device never sees d1'' after registration, and no type here can hold a server share
//! (SPEC §1 (b), (f)).

use crate::error::RequestError;
use crate::error::decode_err;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::arith::{Modulus, Uint};
use crate::device::pin::{KeyPurpose, Pin};
use crate::device::seal::{Argon2Params, SealedShare};
use crate::device::session::{AnswerEffect, answer_effect, may_sign};
use crate::device::verification_code::{VerificationCode, verification_code};
use crate::error::{DecodeErrorKind, Error, Result};
use crate::rsa::keygen::{DeviceShare, KeySize, N1, composite_modulus_vartime};
use crate::rsa::public_key::PublicKey;
use crate::rsa::signing::device_exponentiate;
use crate::rsa::verify::verify;
use crate::server::otp::{OTP_LEN, Otp};
use crate::server::transport::{
    PUBLIC_KEY_LEN, RESPONSE_KEY_LEN, ResponseKey, TransportPublicKey, seal_to_server_for_response,
};
use crate::wire::encoding::{MessageType, Reader, Writer};
use crate::wire::ids::KeyId;
use crate::wire::messages::{
    Outcome, ResponseKind, SealedPartialSignature, SealedResponse, SigningAnswer, SigningRequest,
    encode_partial, read_half_modulus,
};

/// An exchange the device started and has not resolved (SPEC §4.4, §10).
struct PendingExchange {
    request: SigningRequest,
    message: SealedPartialSignature,
    response_key: ResponseKey,
    /// d1' re-sealed under a new PIN, installed only by a Completed answer (SPEC §5).
    new_seal: Option<SealedShare>,
}

/// What the device stores for one split key (SPEC §10). See the module documentation.
///
/// Secret parts (the sealed share, the OTP, a pending response key) are never shown by
/// `Debug`; [`to_bytes`](Self::to_bytes) exports into a wiping buffer.
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
    dead: bool,
    pending: Option<PendingExchange>,
}

impl fmt::Debug for DeviceRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceRecord")
            .field("key_id", &self.key_id)
            .field("purpose", &self.purpose)
            .field("public_key", &self.public_key)
            .field("dead", &self.dead)
            .field(
                "pending",
                &self.pending.as_ref().map(|p| *p.request.request_id()),
            )
            .finish_non_exhaustive()
    }
}

impl DeviceRecord {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
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
    ) -> Self {
        Self {
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
            dead: false,
            pending: None,
        }
    }

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

    /// The current one-time password (for `hazmat::device`).
    #[cfg(feature = "hazmat")]
    pub(crate) fn otp(&self) -> &Otp {
        &self.otp
    }

    /// n1, big-endian (for `hazmat::device`).
    #[cfg(feature = "hazmat")]
    pub(crate) fn n1(&self) -> &[u8] {
        &self.n1
    }

    /// The request of the pending exchange, if one is unresolved.
    pub fn pending_request(&self) -> Option<&SigningRequest> {
        self.pending.as_ref().map(|p| &p.request)
    }

    /// Whether the server has answered that the key is dead (destroyed, expired, a clone, or
    /// this record is stale): the record can no longer sign.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// The verification code to show the user before asking for the PIN (SPEC §8).
    pub fn verification_code(&self, request: &SigningRequest) -> VerificationCode {
        verification_code(request.digest())
    }

    /// SPEC §4 steps 2-4: checks the request (this key, this purpose, no exchange pending),
    /// encodes its digest for the composite modulus, unseals d1' under `pin` (any PIN yields
    /// some share: the device cannot tell a wrong one, SPEC §5), computes `y = m^d1' mod n1`
    /// in constant time, seals `{otp, y}` to the server bound to the request (SPEC §6), and
    /// enters the pending state. **Persist the record before sending the message** (SPEC §10).
    ///
    /// # Errors
    /// [`Error::ExchangePending`]; [`Error::KeyDead`]; [`Error::InvalidRequest`] if the
    /// request is for another key or purpose or the PIN is for another purpose; encoding and
    /// transport errors. Never an error that depends on the PIN's digits. On every error the
    /// record is unchanged.
    pub fn sign<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        request: &SigningRequest,
        pin: &Pin,
    ) -> Result<SealedPartialSignature> {
        self.sign_inner(rng, request, pin, None)
    }

    /// [`sign`](Self::sign), and change the PIN if the server confirms the current one
    /// (SPEC §5): d1' is re-sealed under `new_pin` now and kept in the pending exchange; a
    /// Completed answer installs it, any other answer discards it.
    ///
    /// # Errors
    /// As [`sign`](Self::sign); [`Error::InvalidRequest`] if `new_pin` is for another purpose.
    pub fn sign_and_change_pin<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        request: &SigningRequest,
        pin: &Pin,
        new_pin: &Pin,
        params: Argon2Params,
    ) -> Result<SealedPartialSignature> {
        self.check_can_sign(request)?;
        let d1p = self
            .sealed
            .unseal(pin, self.key_id.as_bytes(), self.purpose)?;
        let new_seal = SealedShare::seal(
            rng,
            new_pin,
            self.key_id.as_bytes(),
            self.purpose,
            d1p.as_bytes(),
            params,
        )?;
        drop(d1p);
        self.sign_inner(rng, request, pin, Some(new_seal))
    }

    fn check_can_sign(&self, request: &SigningRequest) -> Result<()> {
        may_sign(self.dead, self.pending.is_some())?;
        if request.key_id != self.key_id {
            return Err(Error::InvalidRequest(RequestError::OtherKey));
        }
        if request.purpose != self.purpose {
            return Err(Error::InvalidRequest(RequestError::OtherPurpose));
        }
        Ok(())
    }

    fn sign_inner<R: CryptoRng>(
        &mut self,
        rng: &mut R,
        request: &SigningRequest,
        pin: &Pin,
        new_seal: Option<SealedShare>,
    ) -> Result<SealedPartialSignature> {
        self.check_can_sign(request)?;
        let em = Zeroizing::new(request.encoded_message(self.public_key.bits())?);
        let m = Uint::from_be_bytes(&em);
        let d1p = self
            .sealed
            .unseal(pin, self.key_id.as_bytes(), self.purpose)?;
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
        let request_hash = request.hash();
        let aad = SealedPartialSignature::aad(&self.key_id, &request.request_id, &request_hash);
        let (sealed, response_key) =
            seal_to_server_for_response(rng, &self.server_key, &aad, &plaintext)?;
        drop(plaintext);
        let message = SealedPartialSignature {
            key_id: self.key_id,
            request_id: request.request_id,
            request_hash,
            sealed,
        };
        self.pending = Some(PendingExchange {
            request: request.clone(),
            message: message.clone(),
            response_key,
            new_seal,
        });
        Ok(message)
    }

    /// The pending exchange's sealed message, byte for byte as first sent (SPEC §4.6, §10):
    /// send it again after a crash, a timeout or a lost answer.
    ///
    /// # Errors
    /// [`Error::NoPendingExchange`].
    pub fn resend(&self) -> Result<SealedPartialSignature> {
        self.pending
            .as_ref()
            .map(|p| p.message.clone())
            .ok_or(Error::NoPendingExchange)
    }

    /// SPEC §4 step 6: opens the server's answer with the pending exchange's response key and
    /// applies it. Returns what the server said; **persist the record again** afterwards.
    ///
    /// - An answer that does not open (forged, corrupted, for another exchange) or does not
    ///   decode is an error and changes nothing: the exchange stays pending (resend it).
    /// - Completed: the signature is verified under the composite key for the pending request
    ///   (an invalid one is an error and changes nothing), then the next OTP is stored, a new
    ///   PIN seal (from [`sign_and_change_pin`](Self::sign_and_change_pin)) is installed, and
    ///   the exchange ends.
    /// - WrongPin, NotPending: the exchange ends; the OTP is unchanged.
    /// - Locked: the exchange **stays pending**: resend it after the lock (the same message may
    ///   still be admitted then; the answer to the resend is final).
    /// - Destroyed, Expired, CloneDetected, StaleRecord: the exchange ends and the record can
    ///   no longer sign.
    ///
    /// # Errors
    /// [`Error::NoPendingExchange`]; [`Error::Unseal`]; [`Error::Decode`];
    /// [`Error::InvalidSignature`]. The record is unchanged on every error.
    pub fn accept(&mut self, response: &SealedResponse) -> Result<Outcome> {
        let pending = self.pending.as_ref().ok_or(Error::NoPendingExchange)?;
        if response.kind != ResponseKind::Signing
            || response.key_id != self.key_id
            || response.request_id != pending.request.request_id
        {
            return Err(Error::Unseal);
        }
        let aad = SealedResponse::aad(response.kind, &response.key_id, &response.request_id);
        let plaintext = pending.response_key.open(&aad, &response.sealed)?;
        let answer = SigningAnswer::from_bytes(plaintext.as_bytes())?;
        drop(plaintext);
        if let Outcome::Completed { signature } = &answer.outcome {
            verify(
                &self.public_key,
                pending.request.scheme,
                &pending.request.digest,
                signature,
            )?;
        }
        // Applied only now that nothing can fail.
        let effect = answer_effect(&answer.outcome);
        if effect == AnswerEffect::Wait {
            return Ok(answer.outcome);
        }
        let Some(pending) = self.pending.take() else {
            return Err(Error::NoPendingExchange);
        };
        match effect {
            AnswerEffect::Complete => {
                if let Some(next) = answer.next_otp {
                    self.otp = next;
                }
                if let Some(seal) = pending.new_seal {
                    self.sealed = seal;
                }
            }
            AnswerEffect::Dead => self.dead = true,
            AnswerEffect::End | AnswerEffect::Wait => {}
        }
        Ok(answer.outcome)
    }

    /// The canonical encoding of the record (SPEC §9, §10), in a wiping buffer.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut w = Writer::new(MessageType::DeviceRecord);
        w.fixed(self.key_id.as_bytes()).u8(self.purpose.tag());
        // Half moduli are at most 512 bytes.
        w.u16(self.n1.len() as u16).fixed(&self.n1);
        w.u16(self.n2.len() as u16).fixed(&self.n2);
        self.sealed.write_body(&mut w);
        w.fixed(self.otp.as_bytes())
            .fixed(&self.server_key.to_bytes())
            .u8(if self.dead { 2 } else { 1 });
        match &self.pending {
            None => {
                w.u8(0);
            }
            Some(p) => {
                w.u8(1)
                    .var(&p.request.to_bytes())
                    .var(&p.message.to_bytes())
                    .fixed(p.response_key.as_bytes());
                match &p.new_seal {
                    Some(s) => {
                        w.u8(1);
                        s.write_body(&mut w);
                    }
                    None => {
                        w.u8(0);
                    }
                }
            }
        }
        w.finish()
    }

    /// Strict decoding (SPEC §9): n1 and n2 of supported sizes of the same class, odd, exact,
    /// and the composite n = n1·n2 of exactly |n1| + |n2| bits; the sealed share as long as
    /// |n1| + 128 bits; a pending exchange whose request and message name this key and each
    /// other.
    ///
    /// # Errors
    /// [`Error::Decode`] naming the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, MessageType::DeviceRecord)?;
        let key_id = KeyId::from_bytes(r.array("key_id")?);
        let purpose = KeyPurpose::from_tag(r.u8("purpose")?)
            .ok_or(decode_err("purpose", DecodeErrorKind::UnknownTag))?;
        let n1 = read_half_modulus(&mut r, "n1")?.to_vec();
        let n2 = read_half_modulus(&mut r, "n2")?.to_vec();
        let sealed = SealedShare::read_body(&mut r)?;
        let otp = Otp::from_bytes(r.array::<OTP_LEN>("otp")?);
        let server_key = TransportPublicKey::from_bytes(&r.array::<PUBLIC_KEY_LEN>("server_key")?)
            .map_err(|_| decode_err("server_key", DecodeErrorKind::Invalid))?;
        let dead = match r.u8("status")? {
            1 => false,
            2 => true,
            _ => return Err(decode_err("status", DecodeErrorKind::UnknownTag)),
        };
        let pending = if r.bool("pending")? {
            let request = SigningRequest::from_bytes(r.var("pending.request", 512)?)?;
            let message = SealedPartialSignature::from_bytes(r.var("pending.message", 2048)?)?;
            let response_key =
                ResponseKey::from_bytes(r.array::<RESPONSE_KEY_LEN>("pending.response_key")?);
            let new_seal = if r.bool("pending.new_seal")? {
                Some(SealedShare::read_body(&mut r)?)
            } else {
                None
            };
            if request.key_id != key_id
                || message.key_id != key_id
                || message.request_id != request.request_id
                || message.request_hash != request.hash()
            {
                return Err(decode_err("pending", DecodeErrorKind::Invalid));
            }
            Some(PendingExchange {
                request,
                message,
                response_key,
                new_seal,
            })
        } else {
            None
        };
        r.finish()?;

        let size = KeySize::from_bytes_any(n1.len())
            .ok_or(decode_err("n1", DecodeErrorKind::OutOfRange))?;
        let n2_size = KeySize::from_bytes_any(n2.len())
            .ok_or(decode_err("n2", DecodeErrorKind::OutOfRange))?;
        if size.is_insecure_test_size() != n2_size.is_insecure_test_size() {
            return Err(decode_err("n2", DecodeErrorKind::OutOfRange));
        }
        let share_len = size.bytes() + 16;
        if sealed.ciphertext().len() != share_len
            || pending
                .as_ref()
                .and_then(|p| p.new_seal.as_ref())
                .is_some_and(|s| s.ciphertext().len() != share_len)
        {
            return Err(decode_err(
                "sealed_share.ciphertext",
                DecodeErrorKind::Invalid,
            ));
        }
        let n1_uint = Uint::from_be_bytes(&n1);
        let n = composite_modulus_vartime(&n1_uint, &Uint::from_be_bytes(&n2), false)
            .map_err(|_| decode_err("n2", DecodeErrorKind::Invalid))?;
        let public_key =
            PublicKey::from_uint(&n).map_err(|_| decode_err("n2", DecodeErrorKind::Invalid))?;
        let n1_modulus =
            Modulus::<N1>::new(n1_uint).ok_or(decode_err("n1", DecodeErrorKind::Invalid))?;
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
            dead,
            pending,
        })
    }
}

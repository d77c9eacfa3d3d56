//! Entry points for the fuzz targets in `fuzz/` and for `tests/encodings.rs` (STYLE.md rule 7).
//! Not part of the API: hidden from the docs, present only with the `hazmat` feature, and free
//! to change at any time.
//!
//! They reach what the public API deliberately hides: the plaintexts inside sealed messages
//! and answers (opened here with the server's transport key, as the server would), the
//! crate-private plaintext encodings (`SigningAnswer` 0x05, `RegistrationResult` 0x02,
//! `PartialSignature` 0x06), and a way to put a [`KeyRecord`] into any session state, so that
//! known-answer and round-trip tests can pin every encoding.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::server::otp::{OTP_LEN, Otp, OtpHash};
use crate::server::record::{
    AnswerSummary, DestroyReason, KeyRecord, PendingRequest, StoredAnswer,
};
use crate::server::transport::ServerTransportKey;
use crate::wire::ids::KeyId;
use crate::wire::messages::{
    Outcome, RegistrationRequest, RegistrationResult, ResponseKind, SealedPartialSignature,
    SealedResponse, SigningAnswer, SigningRequest, decode_partial, encode_partial,
};

/// Decodes the plaintext of a sealed partial signature (SPEC §4 step 4) and returns the OTP
/// bytes and y.
///
/// # Errors
/// As the server's decoder.
pub fn decode_partial_signature(bytes: &[u8]) -> Result<([u8; OTP_LEN], Vec<u8>)> {
    let (otp, y) = decode_partial(bytes)?;
    Ok((*otp.as_bytes(), y.to_vec()))
}

/// Encodes the plaintext of a partial signature from an OTP and y (as the device does).
pub fn encode_partial_signature(otp: &[u8; OTP_LEN], y: &[u8]) -> Zeroizing<Vec<u8>> {
    encode_partial(&Otp::from_bytes(*otp), y)
}

/// The associated data that binds a sealed partial signature to `request` (SPEC §6).
pub fn partial_aad(request: &SigningRequest) -> Vec<u8> {
    SealedPartialSignature::aad(&request.key_id, &request.request_id, &request.hash())
}

/// Decodes the plaintext of a sealed signing answer (SPEC §4.5) and encodes it again.
///
/// # Errors
/// As the device's decoder.
pub fn roundtrip_signing_answer(bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(SigningAnswer::from_bytes(bytes)?.to_bytes().to_vec())
}

/// Decodes the plaintext of a sealed registration answer (SPEC §3.6) and encodes it again.
///
/// # Errors
/// As the device's decoder.
pub fn roundtrip_registration_result(bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(RegistrationResult::from_bytes(bytes)?.to_bytes().to_vec())
}

/// Encodes the plaintext of a signing answer (type 0x05): `outcome`, then for a Completed
/// outcome the next OTP (`next_otp`; zeros if `None`, as the encoder writes).
pub fn encode_signing_answer(outcome: &Outcome, next_otp: Option<&[u8; OTP_LEN]>) -> Vec<u8> {
    SigningAnswer {
        outcome: outcome.clone(),
        next_otp: next_otp.map(|o| Otp::from_bytes(*o)),
    }
    .to_bytes()
    .to_vec()
}

/// Decodes the plaintext of a signing answer (type 0x05): the outcome and, for a Completed
/// one, the next OTP.
///
/// # Errors
/// As the device's decoder.
pub fn decode_signing_answer(bytes: &[u8]) -> Result<(Outcome, Option<[u8; OTP_LEN]>)> {
    let a = SigningAnswer::from_bytes(bytes)?;
    let otp = a.next_otp.as_ref().map(|o| *o.as_bytes());
    Ok((a.outcome, otp))
}

/// Encodes the plaintext of a registration answer (type 0x02): key id, n2, OTP_0. `n2` must
/// be at most 512 bytes (its length is written as a `u16`).
pub fn encode_registration_result(key_id: &KeyId, n2: &[u8], otp: &[u8; OTP_LEN]) -> Vec<u8> {
    RegistrationResult {
        key_id: *key_id,
        n2: n2.to_vec(),
        otp: Otp::from_bytes(*otp),
    }
    .to_bytes()
    .to_vec()
}

/// Decodes the plaintext of a registration answer (type 0x02).
///
/// # Errors
/// As the device's decoder.
pub fn decode_registration_result(bytes: &[u8]) -> Result<(KeyId, Vec<u8>, [u8; OTP_LEN])> {
    let r = RegistrationResult::from_bytes(bytes)?;
    Ok((r.key_id, r.n2.clone(), *r.otp.as_bytes()))
}

/// Opens a registration request as the server does (SPEC §3.5, §6) and returns the sealed
/// plaintext: the RegistrationSecret encoding (type 0x07, n1 and d1'').
///
/// # Errors
/// [`Error::Unseal`].
pub fn open_registration_request(
    transport: &ServerTransportKey,
    request: &RegistrationRequest,
) -> Result<Vec<u8>> {
    let aad = RegistrationRequest::aad(&request.challenge, request.purpose, &request.n1);
    let (pt, _) = transport.open_for_response(&request.sealed, &aad)?;
    Ok(pt.as_bytes().to_vec())
}

/// Opens a sealed partial signature as the server does (SPEC §4.5 a) and returns the sealed
/// plaintext: the PartialSignature encoding (type 0x06, OTP and y).
///
/// # Errors
/// [`Error::Unseal`].
pub fn open_partial_signature(
    transport: &ServerTransportKey,
    message: &SealedPartialSignature,
) -> Result<Vec<u8>> {
    let aad =
        SealedPartialSignature::aad(&message.key_id, &message.request_id, &message.request_hash);
    let (pt, _) = transport.open_for_response(&message.sealed, &aad)?;
    Ok(pt.as_bytes().to_vec())
}

fn open_answer(
    transport: &ServerTransportKey,
    sealed: &crate::server::transport::SealedMessage,
    aad: &[u8],
    kind: ResponseKind,
    response: &SealedResponse,
) -> Result<Vec<u8>> {
    if response.kind != kind {
        return Err(Error::Unseal);
    }
    let (_, key) = transport.open_for_response(sealed, aad)?;
    let answer_aad = SealedResponse::aad(response.kind, &response.key_id, &response.request_id);
    Ok(key.open(&answer_aad, &response.sealed)?.as_bytes().to_vec())
}

/// Opens the server's answer to a registration with the response key of `request` (derived
/// with the server's transport key, SPEC §6) and returns its plaintext: the
/// RegistrationResult encoding (type 0x02).
///
/// # Errors
/// [`Error::Unseal`].
pub fn open_registration_response(
    transport: &ServerTransportKey,
    request: &RegistrationRequest,
    response: &SealedResponse,
) -> Result<Vec<u8>> {
    let aad = RegistrationRequest::aad(&request.challenge, request.purpose, &request.n1);
    open_answer(
        transport,
        &request.sealed,
        &aad,
        ResponseKind::Registration,
        response,
    )
}

/// Opens the server's answer to a signing message with the message's response key (derived
/// with the server's transport key, SPEC §6) and returns its plaintext: the SigningAnswer
/// encoding (type 0x05).
///
/// # Errors
/// [`Error::Unseal`].
pub fn open_signing_response(
    transport: &ServerTransportKey,
    message: &SealedPartialSignature,
    response: &SealedResponse,
) -> Result<Vec<u8>> {
    let aad =
        SealedPartialSignature::aad(&message.key_id, &message.request_id, &message.request_hash);
    open_answer(
        transport,
        &message.sealed,
        &aad,
        ResponseKind::Signing,
        response,
    )
}

/// A stored answer for [`ActiveParts`]: the message hash, the summary (`None`: a
/// registration; `Some`: a signing outcome) and the sealed answer.
pub type StoredParts = ([u8; 32], Option<Outcome>, SealedResponse);

/// The session state of an active key record (SPEC §7), every part settable, for tests that
/// need records in states the protocol reaches only after many steps.
#[derive(Debug, Clone, Default)]
pub struct ActiveParts {
    /// Consecutive failures.
    pub failures: u32,
    /// The lock's end.
    pub locked_until: Option<u64>,
    /// SHA-256 of the previous OTP.
    pub otp_previous: Option<[u8; 32]>,
    /// The pending request and the hashes of the messages charged for it.
    pub pending: Option<(SigningRequest, Vec<[u8; 32]>)>,
    /// The charged messages whose outcome is not persisted: hash and request.
    pub unresolved: Vec<([u8; 32], SigningRequest)>,
    /// The last evaluated message's stored answer.
    pub last: Option<StoredParts>,
    /// The last completed message's (or the registration's) stored answer.
    pub completed: Option<StoredParts>,
}

fn stored(p: StoredParts) -> StoredAnswer {
    let (message_hash, summary, response) = p;
    StoredAnswer {
        message_hash,
        summary: summary.map_or(AnswerSummary::Registered, AnswerSummary::Signing),
        response,
    }
}

/// Replaces the session state of an active record by `parts` (the composite modulus, the
/// current OTP hash and the wrapped share stay). Returns `false` (and changes nothing) for a
/// destroyed record.
pub fn set_active_parts(record: &mut KeyRecord, parts: ActiveParts) -> bool {
    let Some(a) = record.active_mut() else {
        return false;
    };
    a.failures = parts.failures;
    a.locked_until = parts.locked_until;
    a.otp_previous = parts.otp_previous.map(OtpHash::from_bytes);
    a.pending = parts.pending.map(|(request, tried)| {
        let mut p = PendingRequest::new(request);
        p.tried = tried;
        p
    });
    a.unresolved = parts
        .unresolved
        .into_iter()
        .map(
            |(message_hash, request)| crate::server::record::Unresolved {
                message_hash,
                request,
            },
        )
        .collect();
    a.last = parts.last.map(stored);
    a.completed = parts.completed.map(stored);
    true
}

/// Destroys a record (SPEC §7) for `reason` at `at`, as the server does.
pub fn destroy_record(record: &mut KeyRecord, reason: DestroyReason, at: u64) {
    record.destroy(reason, at);
}

/// Loads a server share the way the server loads its own records after the KEK authenticated
/// them (`ServerShare::from_authenticated_bytes`: structural checks only), and exports it again.
/// For the fuzz targets: on any bytes it must not panic (the re-encoding need not equal the
/// input: the relations between the fields are vouched for by the KEK, not checked).
///
/// # Errors
/// [`Error::Decode`] naming the field.
pub fn load_authenticated_share(bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(
        crate::rsa::keygen::ServerShare::from_authenticated_bytes(bytes)?
            .to_bytes()
            .to_vec(),
    )
}

//! Entry points for the fuzz targets in `fuzz/` (STYLE.md rule 7). Not part of the API: hidden
//! from the docs, present only with the `hazmat` feature, and free to change at any time.

use zeroize::Zeroizing;

use crate::error::Result;
use crate::server::otp::{OTP_LEN, Otp};
use crate::wire::messages::{
    SealedPartialSignature, SigningAnswer, SigningRequest, decode_partial, encode_partial,
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
    Ok(
        crate::wire::messages::RegistrationResult::from_bytes(bytes)?
            .to_bytes()
            .to_vec(),
    )
}

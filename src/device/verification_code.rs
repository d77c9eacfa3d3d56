//! The verification code (SPEC §8): four digits shown on the device and at the relying party,
//! so that the user can check that both show the same signing request.
//!
//! `VC(digest)` = the last two bytes of SHA-256(digest) as a big-endian integer, mod 10000,
//! written as four digits with leading zeros. The digest is public; nothing here is secret.

use core::fmt;

use crate::rsa::hash::HashAlg;

/// A verification code: a number in `0..10000`, displayed as exactly four digits
/// (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerificationCode(u16);

impl VerificationCode {
    /// The code as a number in `0..10000`.
    pub fn value(self) -> u16 {
        self.0
    }
}

impl fmt::Display for VerificationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.0)
    }
}

/// The verification code of a digest (of any length) (SPEC §8).
///
/// The relying party shows `verification_code(digest)` next to the document; the device shows
/// [`DeviceRecord::verification_code`](crate::DeviceRecord::verification_code) of the signing
/// request before asking for the PIN. Pass the digest, not the message.
///
/// # Example
///
/// The known answers of SPEC §8:
///
/// ```
/// use split_rsa::{HashAlg, verification_code};
///
/// let vc = |message: &[u8]| verification_code(&HashAlg::Sha256.digest(message));
/// assert_eq!(vc(b"Hello World!").to_string(), "7712");
/// assert_eq!(vc(b"Go ahead, make my day.").to_string(), "7782");
/// assert_eq!(vc(b"You're gonna need a bigger boat.").to_string(), "1464");
/// assert_eq!(verification_code(&[0x1b, 0xbb]).value(), 4555);
/// ```
pub fn verification_code(digest: &[u8]) -> VerificationCode {
    let h = HashAlg::Sha256.hash_parts(&[digest]);
    let tail = h
        .as_bytes()
        .iter()
        .rev()
        .take(2)
        .rev()
        .fold(0u16, |acc, b| (acc << 8) | u16::from(*b));
    VerificationCode(tail % 10000)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The known answers of SPEC §8 (they match the Smart-ID RP API documentation).
    #[test]
    fn spec_known_answers() {
        let vc = |m: &[u8]| verification_code(&HashAlg::Sha256.digest(m)).to_string();
        assert_eq!(vc(b"Hello World!"), "7712");
        assert_eq!(vc(b"Go ahead, make my day."), "7782");
        assert_eq!(vc(b"You're gonna need a bigger boat."), "1464");
        assert_eq!(verification_code(&[0x1b, 0xbb]).to_string(), "4555");
        assert_eq!(verification_code(&[0x1b, 0xbb]).value(), 4555);
    }

    #[test]
    fn leading_zeros_are_kept() {
        assert_eq!(VerificationCode(7).to_string(), "0007");
        assert_eq!(VerificationCode(0).to_string(), "0000");
    }
}

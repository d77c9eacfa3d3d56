//! PINs and the PIN policy (SPEC §5).
//!
//! A [`Pin`] is a secret: its digits live in a fixed-size private buffer that is wiped on drop,
//! it cannot be cloned, and its `Debug` output shows only its purpose (not even its length).
//! The PIN is never stored (SPEC §5): it exists only between the user typing it and the
//! Argon2i derivation in [`crate::SealedShare`].
//!
//! # Policy (SPEC §5)
//!
//! - decimal digits `0`-`9` only (ASCII);
//! - PIN1 ([`KeyPurpose::Authentication`]): 4 to 12 digits; PIN2 ([`KeyPurpose::Signing`]):
//!   5 to 12 digits;
//! - by default ([`Pin::new`]) trivial PINs are refused: one repeated digit (`0000`,
//!   `99999`), and ascending or descending runs where each digit is the previous one plus one
//!   (`1234`, `56789`) or minus one (`4321`, `98765`). **Runs wrap around modulo 10**: `8901`,
//!   `90123`, `2109` and `10987` are runs too. They are as easy to type and to guess as
//!   `1234` (a keypad row read past its end), and refusing them costs the user only 20 more
//!   PINs per length;
//! - by default the most common PINs of published PIN-frequency studies are refused too
//!   ([`COMMON_PINS`], SPEC §5 "a short list of the most common PINs"): a thief's first
//!   guesses are exactly these, and the lockout (SPEC §7) allows only a handful.
//!
//! [`Pin::new_allow_trivial`] skips both rules for deployments that allow trivial PINs.
//!
//! Checking the policy reads every digit the same way (no early exit, no branch on a digit)
//! and compares the PIN with every listed PIN of its length in constant time: the only
//! things that leak through timing are the length, and the verdict, which the caller learns
//! anyway.

use core::fmt;

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq, ConstantTimeGreater};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{Error, PinError};

/// Which of an account's two split keys a PIN (and a key) belongs to (SPEC §3, §5).
///
/// PIN1 guards the [`Authentication`](KeyPurpose::Authentication) key, PIN2 the
/// [`Signing`](KeyPurpose::Signing) key. Each has its own shares, OTP and lockout counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyPurpose {
    /// The authentication key, guarded by PIN1 (4-12 digits). Encoded as tag 1.
    Authentication,
    /// The (qualified) signing key, guarded by PIN2 (5-12 digits). Encoded as tag 2.
    Signing,
}

impl KeyPurpose {
    /// The one-byte tag used in encodings (SPEC §9) and in the Argon2i associated data
    /// (SPEC §5): 1 for Authentication, 2 for Signing.
    pub const fn tag(self) -> u8 {
        match self {
            KeyPurpose::Authentication => 1,
            KeyPurpose::Signing => 2,
        }
    }

    /// The purpose with the given tag, or `None` for an unknown tag (decoders report that as
    /// [`DecodeErrorKind::UnknownTag`](crate::DecodeErrorKind::UnknownTag)).
    pub const fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(KeyPurpose::Authentication),
            2 => Some(KeyPurpose::Signing),
            _ => None,
        }
    }

    /// The smallest PIN length allowed for this purpose (SPEC §5): 4 for PIN1, 5 for PIN2.
    pub const fn min_pin_len(self) -> usize {
        match self {
            KeyPurpose::Authentication => 4,
            KeyPurpose::Signing => 5,
        }
    }

    /// The largest PIN length allowed for this purpose (SPEC §5): 12 for both.
    pub const fn max_pin_len(self) -> usize {
        MAX_PIN_LEN
    }
}

/// The longest PIN of any purpose (SPEC §5).
pub const MAX_PIN_LEN: usize = 12;

/// The most common PINs in published PIN-frequency data that the repeated-digit and run rules
/// do not already catch; [`Pin::new`] refuses them (SPEC §5). Written from the publications'
/// reported facts:
///
/// - **4 digits**: N. Berry, "PIN analysis", DataGenetics, September 2012, an analysis of
///   3.4 million four-digit passwords used as a proxy for PINs. Its 20 most frequent PINs
///   account for 26.83% of all (1234 alone for 10.7%); in frequency order they are 1234, 1111,
///   0000, 1212, 7777, 1004, 2000, 4444, 2222, 6969, 9999, 3333, 5555, 6666, 1122, 1313, 8888,
///   4321, 2001, 1010. Twelve of them are repeated digits or runs; the other eight are listed.
/// - **6 digits**: D. Wang, Q. Gu, X. Huang, P. Wang, "Understanding Human-Chosen PINs:
///   Characteristics, Distribution and Security", ACM AsiaCCS 2017 (six-digit PINs from
///   Chinese and English password leaks): its top-10 tables are led by 123456, 111111 and
///   123123, and the top-10 PINs outside the repetition, run and palindrome patterns are
///   keypad shapes (147258, 123654, 321654, 789456, 159753), "I love you" homophones
///   (520520, 520131) and two patternless ones from a single leak (not listed); and
///   DataGenetics (above) for six-digit passwords, where 696969, 159753 (an "X" over the
///   keypad) and 007007 stand out.
///
/// A user refused here picks another PIN; the list is short on purpose (SPEC §5), so that the
/// space left is not noticeably smaller.
pub(crate) const COMMON_PINS: &[&str] = &[
    // DataGenetics 2012, 4-digit top 20 (the rest are repeats or runs).
    "1212", "1004", "2000", "6969", "1122", "1313", "2001", "1010",
    // Wang et al. 2017, 6-digit top-10 tables; DataGenetics 2012, 6-digit.
    "123123", "147258", "123654", "321654", "789456", "159753", "520520", "520131", "696969",
    "007007",
];

/// A PIN that meets the SPEC §5 policy for its [`KeyPurpose`]. Secret.
///
/// Private fields, wiped on drop, no `Clone`, `Debug` prints only the purpose.
pub struct Pin {
    /// ASCII digits; bytes past `len` are zero.
    digits: [u8; MAX_PIN_LEN],
    /// Number of digits (4..=12). Public: bounded by the policy.
    len: u8,
    purpose: KeyPurpose,
}

impl Pin {
    /// Checks `digits` against the full SPEC §5 policy for `purpose` (digits only, length,
    /// no trivial PIN: no repeated digit, no run, none of the most common PINs of the
    /// DataGenetics 2012 and Wang et al. 2017 PIN-frequency studies) and keeps a wiping copy.
    ///
    /// Errors: [`Error::InvalidPin`] with [`PinError::NotDigits`], [`PinError::Length`] or
    /// [`PinError::Trivial`]. The caller's `&str` is not wiped by this function.
    ///
    /// # Example
    ///
    /// ```
    /// use split_rsa::{Error, KeyPurpose, Pin, PinError};
    ///
    /// let pin2 = Pin::new("58213", KeyPurpose::Signing)?;
    /// assert_eq!(pin2.purpose(), KeyPurpose::Signing);
    /// assert!(!format!("{pin2:?}").contains("58213")); // Debug shows no digit
    ///
    /// // PIN2 has 5 to 12 digits; PIN1 (authentication) 4 to 12.
    /// assert_eq!(
    ///     Pin::new("5821", KeyPurpose::Signing).err(),
    ///     Some(Error::InvalidPin(PinError::Length { min: 5, max: 12 }))
    /// );
    /// assert!(Pin::new("5821", KeyPurpose::Authentication).is_ok());
    /// // Digits only.
    /// assert_eq!(
    ///     Pin::new("5821a", KeyPurpose::Signing).err(),
    ///     Some(Error::InvalidPin(PinError::NotDigits))
    /// );
    /// // Trivial PINs (one repeated digit, ascending or descending runs, and the most common
    /// // PINs of published PIN-frequency studies) are refused ...
    /// for trivial in ["00000", "12345", "98765", "123123", "159753"] {
    ///     assert_eq!(
    ///         Pin::new(trivial, KeyPurpose::Signing).err(),
    ///         Some(Error::InvalidPin(PinError::Trivial))
    ///     );
    /// }
    /// // ... unless the deployment's policy allows them.
    /// assert!(Pin::new_allow_trivial("12345", KeyPurpose::Signing).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn new(digits: &str, purpose: KeyPurpose) -> Result<Pin, Error> {
        Self::build(digits, purpose, true)
    }

    /// Like [`Pin::new`] but accepts trivial PINs (repeated digits, runs, and the short list
    /// of the most common PINs), for deployments whose policy allows them. Digits-only and
    /// the length limits still apply.
    ///
    /// A device must unseal with the same policy it sealed with; otherwise a user whose PIN
    /// was accepted at enrolment could not enter it later.
    pub fn new_allow_trivial(digits: &str, purpose: KeyPurpose) -> Result<Pin, Error> {
        Self::build(digits, purpose, false)
    }

    /// The purpose this PIN was checked for.
    pub const fn purpose(&self) -> KeyPurpose {
        self.purpose
    }

    /// The PIN's ASCII digits, the Argon2i password input (SPEC §5).
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.digits.get(..usize::from(self.len)).unwrap_or(&[])
    }

    fn build(digits: &str, purpose: KeyPurpose, refuse_trivial: bool) -> Result<Pin, Error> {
        let bytes = digits.as_bytes();
        let len = bytes.len();
        // The length is public (the policy bounds it); checking it first is not a leak.
        if len < purpose.min_pin_len() || len > purpose.max_pin_len() {
            // Still refuse non-digits first if there are any, so the error says what is wrong
            // with the characters rather than only the count. Variable time is fine here:
            // a string of the wrong length is not a usable PIN.
            if !bytes.iter().all(u8::is_ascii_digit) {
                return Err(PinError::NotDigits.into());
            }
            return Err(PinError::Length {
                min: purpose.min_pin_len(),
                max: purpose.max_pin_len(),
            }
            .into());
        }

        let mut pin = Pin {
            digits: [0u8; MAX_PIN_LEN],
            len: len as u8,
            purpose,
        };
        for (d, b) in pin.digits.iter_mut().zip(bytes) {
            *d = *b;
        }
        let (all_digits, trivial) = classify(pin.as_bytes());
        if !bool::from(all_digits) {
            return Err(PinError::NotDigits.into());
        }
        if refuse_trivial && bool::from(trivial) {
            return Err(PinError::Trivial.into());
        }
        Ok(pin)
    }
}

/// Constant-time (in the digits' values) classification of a candidate PIN:
/// (every byte is an ASCII digit, the PIN is trivial). `trivial` is meaningful only when
/// `all_digits` is set and `pin` has at least two bytes.
fn classify(pin: &[u8]) -> (Choice, Choice) {
    let mut all_digits = Choice::from(1u8);
    let mut repeated = Choice::from(1u8);
    let mut ascending = Choice::from(1u8);
    let mut descending = Choice::from(1u8);
    let mut prev: u8 = 0;
    for (i, &b) in pin.iter().enumerate() {
        // b - '0' in 0..=9 <=> is a digit; wrapping keeps non-digits out of range.
        let v = b.wrapping_sub(b'0');
        all_digits &= !v.ct_gt(&9u8);
        // Reduce into 0..=9 without a branch so the run tests below stay well defined for
        // non-digits (their verdict is ignored then).
        let v = v & 0x0f;
        if i > 0 {
            // i is a public position, not a secret.
            repeated &= v.ct_eq(&prev);
            ascending &= v.ct_eq(&add_mod10(prev, 1));
            descending &= v.ct_eq(&add_mod10(prev, 9));
        }
        prev = v;
    }
    (
        all_digits,
        repeated | ascending | descending | is_common(pin),
    )
}

/// Whether `pin` is one of [`COMMON_PINS`]: compared with every listed PIN of the same
/// (public) length, each comparison in constant time, no early exit.
fn is_common(pin: &[u8]) -> Choice {
    let mut hit = Choice::from(0u8);
    for common in COMMON_PINS {
        let common = common.as_bytes();
        // Lengths are public; `[u8]::ct_eq` of equal lengths reads every byte.
        if common.len() == pin.len() {
            hit |= common.ct_eq(pin);
        }
    }
    hit
}

/// (a + b) mod 10 for a in 0..=15, b in 0..=9, without a branch or division.
fn add_mod10(a: u8, b: u8) -> u8 {
    let s = a.wrapping_add(b); // 0..=24
    let s = u8::conditional_select(&s, &s.wrapping_sub(10), s.ct_gt(&9u8)); // 0..=14
    u8::conditional_select(&s, &s.wrapping_sub(10), s.ct_gt(&9u8))
}

impl Zeroize for Pin {
    fn zeroize(&mut self) {
        self.digits.zeroize();
        self.len.zeroize();
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for Pin {}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pin")
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

//! SPEC §5 PIN policy: a table of accepted and refused PINs for both purposes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use split_rsa::{Error, KeyPurpose, Pin, PinError};
use zeroize::{Zeroize, ZeroizeOnDrop};

use KeyPurpose::{Authentication as Auth, Signing as Sign};

const LEN_AUTH: PinError = PinError::Length { min: 4, max: 12 };
const LEN_SIGN: PinError = PinError::Length { min: 5, max: 12 };

/// (PIN, purpose, expected verdict of `Pin::new`, of `Pin::new_allow_trivial`).
type Row = (
    &'static str,
    KeyPurpose,
    Result<(), PinError>,
    Result<(), PinError>,
);

fn table() -> Vec<Row> {
    use PinError::{NotDigits, Trivial};
    vec![
        // Accepted, PIN1: 4..=12 digits, not trivial.
        ("1357", Auth, Ok(()), Ok(())),
        ("2580", Auth, Ok(()), Ok(())),
        ("0011", Auth, Ok(()), Ok(())),
        ("1235", Auth, Ok(()), Ok(())), // run broken at the end
        ("2234", Auth, Ok(()), Ok(())), // run broken at the start
        ("1243", Auth, Ok(()), Ok(())),
        ("1213", Auth, Ok(()), Ok(())),
        ("000000000001", Auth, Ok(()), Ok(())),
        ("123456789013", Auth, Ok(()), Ok(())),
        ("135791357913", Auth, Ok(()), Ok(())),
        // Accepted, PIN2: 5..=12 digits.
        ("13579", Sign, Ok(()), Ok(())),
        ("12346", Sign, Ok(()), Ok(())),
        ("98764", Sign, Ok(()), Ok(())),
        ("246802468024", Sign, Ok(()), Ok(())),
        // Length, PIN1.
        ("", Auth, Err(LEN_AUTH), Err(LEN_AUTH)),
        ("135", Auth, Err(LEN_AUTH), Err(LEN_AUTH)),
        ("1357913579135", Auth, Err(LEN_AUTH), Err(LEN_AUTH)), // 13 digits
        // Length, PIN2: 4 digits are fine for PIN1, not for PIN2.
        ("1357", Sign, Err(LEN_SIGN), Err(LEN_SIGN)),
        ("1234", Sign, Err(LEN_SIGN), Err(LEN_SIGN)), // length is checked before triviality
        ("1357913579135", Sign, Err(LEN_SIGN), Err(LEN_SIGN)),
        // Not digits (any length: characters are reported first).
        ("12a4", Auth, Err(NotDigits), Err(NotDigits)),
        ("12 4", Auth, Err(NotDigits), Err(NotDigits)),
        ("12/4", Auth, Err(NotDigits), Err(NotDigits)), // '/' is just below '0'
        ("12:4", Auth, Err(NotDigits), Err(NotDigits)), // ':' is just above '9'
        ("-1357", Sign, Err(NotDigits), Err(NotDigits)),
        ("+13579", Sign, Err(NotDigits), Err(NotDigits)),
        ("13é5", Auth, Err(NotDigits), Err(NotDigits)), // 5 bytes of UTF-8
        (
            "\u{ff11}\u{ff12}\u{ff13}\u{ff15}",
            Auth,
            Err(NotDigits),
            Err(NotDigits),
        ), // full-width
        (
            "\u{0661}\u{0663}\u{0665}\u{0667}",
            Auth,
            Err(NotDigits),
            Err(NotDigits),
        ), // Arabic-Indic
        ("abc", Auth, Err(NotDigits), Err(NotDigits)),
        ("1357\0", Sign, Err(NotDigits), Err(NotDigits)),
        // Trivial: one repeated digit.
        ("0000", Auth, Err(Trivial), Ok(())),
        ("1111", Auth, Err(Trivial), Ok(())),
        ("999999999999", Auth, Err(Trivial), Ok(())),
        ("77777", Sign, Err(Trivial), Ok(())),
        // Trivial: ascending runs.
        ("1234", Auth, Err(Trivial), Ok(())),
        ("0123", Auth, Err(Trivial), Ok(())),
        ("6789", Auth, Err(Trivial), Ok(())),
        ("12345", Sign, Err(Trivial), Ok(())),
        ("456789", Sign, Err(Trivial), Ok(())),
        // Trivial: descending runs.
        ("4321", Auth, Err(Trivial), Ok(())),
        ("9876", Auth, Err(Trivial), Ok(())),
        ("54321", Sign, Err(Trivial), Ok(())),
        ("3210", Auth, Err(Trivial), Ok(())),
        // Trivial: runs wrap around modulo 10 (documented decision in src/device/pin.rs).
        ("8901", Auth, Err(Trivial), Ok(())),
        ("9012", Auth, Err(Trivial), Ok(())),
        ("90123", Sign, Err(Trivial), Ok(())),
        ("123456789012", Auth, Err(Trivial), Ok(())),
        ("2109", Auth, Err(Trivial), Ok(())),
        ("0987", Auth, Err(Trivial), Ok(())),
        ("10987", Sign, Err(Trivial), Ok(())),
        ("321098765432", Sign, Err(Trivial), Ok(())),
        // Trivial: common PINs (security review item 6; see the test below).
        ("1212", Auth, Err(Trivial), Ok(())),
        ("2001", Auth, Err(Trivial), Ok(())),
        ("123123", Auth, Err(Trivial), Ok(())),
        ("159753", Sign, Err(Trivial), Ok(())),
        // Near misses of common PINs are not refused.
        ("12121", Sign, Ok(()), Ok(())),
        ("1231234", Sign, Ok(()), Ok(())),
        ("0123123", Sign, Ok(()), Ok(())),
        ("2002", Auth, Ok(()), Ok(())),
    ]
}

#[test]
fn policy_table() {
    for (digits, purpose, strict, lax) in table() {
        let got = Pin::new(digits, purpose).map(|p| assert_eq!(p.purpose(), purpose));
        assert_eq!(
            got,
            strict.map_err(Error::InvalidPin),
            "Pin::new({digits:?}, {purpose:?})"
        );
        let got = Pin::new_allow_trivial(digits, purpose).map(|p| assert_eq!(p.purpose(), purpose));
        assert_eq!(
            got,
            lax.map_err(Error::InvalidPin),
            "new_allow_trivial({digits:?}, {purpose:?})"
        );
    }
}

/// DataGenetics, "PIN analysis" (N. Berry, 2012; 3.4 million four-digit PINs): the 20 most
/// frequent PINs, in frequency order, 26.83% of all.
const DATAGENETICS_TOP_20: [&str; 20] = [
    "1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444", "2222", "6969", "9999", "3333",
    "5555", "6666", "1122", "1313", "8888", "4321", "2001", "1010",
];

/// Six-digit PINs at the top of published frequency data: D. Wang, Q. Gu, X. Huang, P. Wang,
/// "Understanding Human-Chosen PINs: Characteristics, Distribution and Security", ACM
/// AsiaCCS 2017 (top-10 tables: 123456, 111111, 123123 lead; keypad shapes and "I love you"
/// homophones), and DataGenetics 2012 for six-digit passwords (696969, 159753, 007007).
const SIX_DIGIT_COMMON: [&str; 13] = [
    "123456", "111111", "123123", "147258", "123654", "321654", "789456", "159753", "520520",
    "520131", "696969", "007007", "654321",
];

/// Security review item 6 (SPEC §5 "a short list of the most common PINs"): every one of the
/// DataGenetics top 20 four-digit PINs is refused as PIN1, and the most common six-digit PINs
/// as PIN1 and PIN2, whether a repeat/run rule or the list catches them; a deployment that
/// allows trivial PINs still accepts them. The old policy accepted 1212, 1004, 2000, 6969,
/// 1122, 1313, 2001, 1010 and 123123, 147258, 123654, 321654, 789456, 159753, 520520,
/// 520131, 696969, 007007.
#[test]
fn common_pins_from_published_frequency_data_are_refused() {
    for digits in DATAGENETICS_TOP_20 {
        assert_eq!(
            Pin::new(digits, Auth).err(),
            Some(Error::InvalidPin(PinError::Trivial)),
            "PIN1 {digits}"
        );
        assert!(Pin::new_allow_trivial(digits, Auth).is_ok(), "{digits}");
    }
    for digits in SIX_DIGIT_COMMON {
        for purpose in [Auth, Sign] {
            assert_eq!(
                Pin::new(digits, purpose).err(),
                Some(Error::InvalidPin(PinError::Trivial)),
                "{purpose:?} {digits}"
            );
            assert!(Pin::new_allow_trivial(digits, purpose).is_ok(), "{digits}");
        }
    }
}

/// Exhaustive over all 4-digit PINs: exactly 10 repeated + 10 ascending + 10 descending
/// (runs wrap modulo 10) are trivial, plus the DataGenetics top-20 PINs that are neither, and
/// they are the ones the definition names.
#[test]
fn trivial_four_digit_pins_are_the_thirty_patterns_and_the_common_ones() {
    let mut trivial = Vec::new();
    for i in 0..10_000u32 {
        let s = format!("{i:04}");
        match Pin::new(&s, Auth) {
            Ok(_) => {}
            Err(Error::InvalidPin(PinError::Trivial)) => trivial.push(s),
            Err(e) => panic!("{s}: unexpected {e:?}"),
        }
    }
    let mut expected = Vec::new();
    for a in 0..10u32 {
        for step in [0, 1, 9] {
            expected.push(
                (0..4)
                    .map(|k| char::from(b'0' + ((a + k * step) % 10) as u8))
                    .collect::<String>(),
            );
        }
    }
    for common in DATAGENETICS_TOP_20 {
        if !expected.iter().any(|e| e == common) {
            expected.push(common.to_string());
        }
    }
    expected.sort();
    trivial.sort();
    assert_eq!(trivial, expected);
    assert_eq!(trivial.len(), 30 + 8);
}

#[test]
fn purpose_tags_and_lengths() {
    assert_eq!(Auth.tag(), 1);
    assert_eq!(Sign.tag(), 2);
    assert_eq!(KeyPurpose::from_tag(1), Some(Auth));
    assert_eq!(KeyPurpose::from_tag(2), Some(Sign));
    for t in [0u8, 3, 0x81, 0xff] {
        assert_eq!(KeyPurpose::from_tag(t), None);
    }
    assert_eq!((Auth.min_pin_len(), Auth.max_pin_len()), (4, 12));
    assert_eq!((Sign.min_pin_len(), Sign.max_pin_len()), (5, 12));
}

#[test]
fn debug_shows_no_digits() {
    for (digits, purpose) in [("1357", Auth), ("246802468024", Sign), ("0000", Auth)] {
        let pin = Pin::new_allow_trivial(digits, purpose).unwrap();
        let shown = format!("{pin:?} {pin:#?}");
        assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown}");
        assert!(shown.contains(&format!("{purpose:?}")));
    }
}

#[test]
fn pin_wipes() {
    fn is_wiping<T: Zeroize + ZeroizeOnDrop>() {}
    is_wiping::<Pin>();
    let mut pin = Pin::new("1357", Auth).unwrap();
    pin.zeroize();
    assert_eq!(pin.purpose(), Auth);
}

//! Decoder target: `RegistrationChallenge::from_bytes` (type 08, SPEC §3 step 0).
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::RegistrationChallenge;

fuzz_target!(|data: &[u8]| {
    match RegistrationChallenge::from_bytes(data).map(|v| v.to_bytes()) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

//! Decoder target: the plaintext of a sealed registration answer, `RegistrationResult` (type 02, SPEC §3 step 6), through the hidden `__fuzz` entry points.
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::__fuzz::roundtrip_registration_result;

fuzz_target!(|data: &[u8]| {
    match roundtrip_registration_result(data) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

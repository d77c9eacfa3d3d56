//! Decoder target: `RegistrationPayload::from_bytes`, the plaintext sealed inside the registration request (type 07, SPEC §3 step 4).
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::RegistrationPayload;

fuzz_target!(|data: &[u8]| {
    match RegistrationPayload::from_bytes(data).map(|v| v.to_bytes().to_vec()) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

//! Decoder target: `SealedResponse::from_bytes` (type 09, SPEC §6), a registration or signing answer sealed under the response key.
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::SealedResponse;

fuzz_target!(|data: &[u8]| {
    match SealedResponse::from_bytes(data).map(|v| v.to_bytes()) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

//! Decoder target: `SigningRequest::from_bytes` (SPEC §4 step 1).
//! Decoding never panics, and when it succeeds, encoding the value gives back exactly the
//! input (SPEC §9: one canonical encoding per value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::SigningRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = SigningRequest::from_bytes(data) {
        assert_eq!(
            v.to_bytes().as_slice(),
            data,
            "re-encoding differs from the input"
        );
    }
});

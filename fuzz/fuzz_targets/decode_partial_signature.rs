//! Decoder target: the plaintext inside a sealed partial signature (SPEC §4 step 4), through the hidden `__fuzz` entry points.
//! Decoding never panics, and when it succeeds, encoding the value gives back exactly the
//! input (SPEC §9: one canonical encoding per value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::__fuzz::{decode_partial_signature, encode_partial_signature};

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = decode_partial_signature(data) {
        assert_eq!(
            encode_partial_signature(&v.0, &v.1).as_slice(),
            data,
            "re-encoding differs from the input"
        );
    }
});

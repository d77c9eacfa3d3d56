//! Decoder target: the plaintext of a sealed partial signature (type 06, SPEC §4 step 4), through the hidden `__fuzz` entry points.
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::__fuzz::{decode_partial_signature, encode_partial_signature};

fuzz_target!(|data: &[u8]| {
    match decode_partial_signature(data).map(|(otp, y)| encode_partial_signature(&otp, &y).to_vec())
    {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

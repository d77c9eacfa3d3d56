//! Decoder target: `KeyRecord::from_bytes`, the server key record v2 (type 12, SPEC §7): purpose, n1 hash, pending request, charged hash, stored answers, KEK-wrapped share.
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::KeyRecord;

fuzz_target!(|data: &[u8]| {
    match KeyRecord::from_bytes(data).map(|v| v.to_bytes().to_vec()) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

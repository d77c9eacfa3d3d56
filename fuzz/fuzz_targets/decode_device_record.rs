//! Decoder target: `DeviceRecord::from_bytes` (type 11, SPEC §10), with and without a pending exchange.
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::DeviceRecord;

fuzz_target!(|data: &[u8]| {
    match DeviceRecord::from_bytes(data).map(|v| v.to_bytes().to_vec()) {
        Ok(again) => assert_eq!(again.as_slice(), data, "re-encoding differs from the input"),
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

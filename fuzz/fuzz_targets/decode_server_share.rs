//! Decoder target: `ServerShare::from_bytes`, the import of a server share with every consistency check (type 13, SPEC §7, §9).
//! Decoding never panics (every refusal is a typed `Error::Decode`), and when it succeeds,
//! encoding the decoded value gives back exactly the input (SPEC §9: one canonical encoding per
//! value). The same bytes also go through the structural-only load the server uses for shares
//! that authenticated under the KEK (`from_authenticated_bytes`): it must not panic either, and
//! whatever the full import accepts, it loads to the same encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::__fuzz::load_authenticated_share;
use split_rsa::ServerShare;

fuzz_target!(|data: &[u8]| {
    let loaded = load_authenticated_share(data);
    if let Err(e) = &loaded {
        assert!(matches!(e, split_rsa::Error::Decode(_)), "{e:?}");
    }
    match ServerShare::from_bytes(data).map(|v| v.to_bytes().to_vec()) {
        Ok(again) => {
            assert_eq!(again.as_slice(), data, "re-encoding differs from the input");
            assert_eq!(loaded.ok().as_deref(), Some(data), "the two loads disagree");
        }
        Err(split_rsa::Error::Decode(_)) => {}
        Err(e) => panic!("a refusal that is not a decode error: {e:?}"),
    }
});

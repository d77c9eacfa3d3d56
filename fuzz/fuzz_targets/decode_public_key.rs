//! Decoder target: the composite public key's imports (PKCS#1 `RSAPublicKey` and X.509
//! `SubjectPublicKeyInfo`, DER and PEM, and a raw modulus). The first byte picks the format.
//! Importing never panics; a DER import re-exports to exactly the input (DER is canonical), a
//! PEM import re-imports from its own export to the same key, and a modulus import keeps the
//! modulus (without leading zero bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::PublicKey;

fuzz_target!(|data: &[u8]| {
    let Some((&format, input)) = data.split_first() else {
        return;
    };
    match format % 5 {
        0 => {
            if let Ok(k) = PublicKey::from_pkcs1_der(input) {
                assert_eq!(k.to_pkcs1_der(), input);
                assert_eq!(
                    PublicKey::from_public_key_der(&k.to_public_key_der()).unwrap(),
                    k
                );
            }
        }
        1 => {
            if let Ok(k) = PublicKey::from_public_key_der(input) {
                assert_eq!(k.to_public_key_der(), input);
                assert_eq!(PublicKey::from_pkcs1_der(&k.to_pkcs1_der()).unwrap(), k);
            }
        }
        2 => {
            let Ok(s) = core::str::from_utf8(input) else {
                return;
            };
            if let Ok(k) = PublicKey::from_pkcs1_pem(s) {
                assert_eq!(PublicKey::from_pkcs1_pem(&k.to_pkcs1_pem()).unwrap(), k);
            }
        }
        3 => {
            let Ok(s) = core::str::from_utf8(input) else {
                return;
            };
            if let Ok(k) = PublicKey::from_public_key_pem(s) {
                assert_eq!(
                    PublicKey::from_public_key_pem(&k.to_public_key_pem()).unwrap(),
                    k
                );
            }
        }
        _ => {
            if let Ok(k) = PublicKey::from_modulus(input) {
                let start = input.iter().position(|b| *b != 0).unwrap_or(input.len());
                assert_eq!(k.modulus_bytes(), &input[start..]);
                assert_eq!(PublicKey::from_pkcs1_der(&k.to_pkcs1_der()).unwrap(), k);
            }
        }
    }
});

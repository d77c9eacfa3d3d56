//! Decoder target: the composite public key's imports through the `pkcs1`/`spki` traits
//! (PKCS#1 `RSAPublicKey` and X.509 `SubjectPublicKeyInfo`, DER and PEM), the exact-reason
//! path (`TryFrom<RsaPublicKeyRef>`) and a raw modulus. The first byte picks the format.
//! Importing never panics; a DER import re-exports to exactly the input (DER is canonical), a
//! PEM import re-imports from its own export to the same key, the trait decoder and the
//! exact-reason path agree, and a modulus import keeps the modulus (without leading zero
//! bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use split_rsa::PublicKey;
use split_rsa::pkcs1::der::Decode;
use split_rsa::pkcs1::{DecodeRsaPublicKey, EncodeRsaPublicKey, LineEnding, RsaPublicKeyRef};
use split_rsa::spki::{DecodePublicKey, EncodePublicKey};

fn pkcs1_der(k: &PublicKey) -> Vec<u8> {
    k.to_pkcs1_der().unwrap().as_bytes().to_vec()
}

fn spki_der(k: &PublicKey) -> Vec<u8> {
    k.to_public_key_der().unwrap().as_bytes().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&format, input)) = data.split_first() else {
        return;
    };
    match format % 5 {
        0 => {
            let imported = PublicKey::from_pkcs1_der(input);
            // The exact-reason path accepts exactly the same keys.
            let exact = RsaPublicKeyRef::from_der(input)
                .ok()
                .map(PublicKey::try_from);
            assert_eq!(imported.as_ref().ok(), exact.and_then(|r| r.ok()).as_ref());
            if let Ok(k) = imported {
                assert_eq!(pkcs1_der(&k), input);
                assert_eq!(PublicKey::from_public_key_der(&spki_der(&k)).unwrap(), k);
            }
        }
        1 => {
            if let Ok(k) = PublicKey::from_public_key_der(input) {
                assert_eq!(spki_der(&k), input);
                assert_eq!(PublicKey::from_pkcs1_der(&pkcs1_der(&k)).unwrap(), k);
            }
        }
        2 => {
            let Ok(s) = core::str::from_utf8(input) else {
                return;
            };
            if let Ok(k) = PublicKey::from_pkcs1_pem(s) {
                let pem = k.to_pkcs1_pem(LineEnding::LF).unwrap();
                assert_eq!(PublicKey::from_pkcs1_pem(&pem).unwrap(), k);
            }
        }
        3 => {
            let Ok(s) = core::str::from_utf8(input) else {
                return;
            };
            if let Ok(k) = PublicKey::from_public_key_pem(s) {
                let pem = k.to_public_key_pem(LineEnding::LF).unwrap();
                assert_eq!(PublicKey::from_public_key_pem(&pem).unwrap(), k);
            }
        }
        _ => {
            if let Ok(k) = PublicKey::from_modulus(input) {
                let start = input.iter().position(|b| *b != 0).unwrap_or(input.len());
                assert_eq!(k.modulus_bytes(), &input[start..]);
                assert_eq!(PublicKey::from_pkcs1_der(&pkcs1_der(&k)).unwrap(), k);
            }
        }
    }
});

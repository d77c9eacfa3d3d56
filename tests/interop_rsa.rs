//! Interoperability with an independent implementation, RustCrypto `rsa` 0.10, for all six
//! scheme × hash combinations (SPEC §1 (e), §4.1):
//!
//! 1. `rsa` signatures verify under our `verify`; tampered ones do not.
//! 2. Our encoders produce byte-for-byte the encoded message inside `rsa`'s signatures
//!    (`EM = s^e mod n`): PKCS#1 v1.5 is deterministic; for PSS we replay the salt `rsa` drew
//!    from a deterministic RNG.
//! 3. Signatures made from our encoders with the raw RSA primitive (`m^d mod n` by
//!    num-bigint) verify under `rsa` and under our `verify`.
//!
//! Keys (tests/data, see README there): OpenSSL-generated 3072-, 6142- and 6144-bit keys, and
//! a 2049-bit key (`modBits ≡ 1 mod 8`, where the PSS `emLen = k - 1`) built from two
//! OpenSSL primes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::integer_division
)]

use core::convert::Infallible;

use num_bigint::BigUint;
use rand_core::{TryCryptoRng, TryRng};
use rsa::BoxedUint;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{Pkcs1v15Sign, PrivateKey as RsaPrivateKey, Pss, PublicKey as RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};
use split_rsa::hazmat::padding;
use split_rsa::{Error, HashAlg, PublicKey, Scheme, verify};

/// A deterministic test RNG (SplitMix64) for the `rand_core` 0.10 traits that `rsa` 0.10
/// takes. Cloning it lets the test replay the bytes `rsa` draws.
#[derive(Clone)]
struct SplitMix(u64);

impl TryRng for SplitMix {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dest.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for SplitMix {}

fn data(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn boxed(x: &BigUint) -> BoxedUint {
    let b = x.to_bytes_be();
    BoxedUint::from_be_slice(&b, 8 * b.len() as u32).unwrap()
}

fn keys() -> Vec<RsaPrivateKey> {
    let mut keys = Vec::new();
    let pq = data("rsa2049_pq.txt");
    let mut it = pq
        .lines()
        .map(|l| BigUint::parse_bytes(l.split('=').nth(1).unwrap().as_bytes(), 16).unwrap());
    let (p, q) = (it.next().unwrap(), it.next().unwrap());
    keys.push(RsaPrivateKey::from_p_q(boxed(&p), boxed(&q), BoxedUint::from(65537u32)).unwrap());
    for name in ["rsa3072.pem", "rsa6142.pem", "rsa6144.pem"] {
        keys.push(RsaPrivateKey::from_pkcs8_pem(&data(name)).unwrap());
    }
    let bits: Vec<u64> = keys.iter().map(|k| big(k.n()).bits()).collect();
    assert_eq!(bits, [2049, 3072, 6142, 6144]);
    keys
}

fn ours(key: &RsaPrivateKey) -> PublicKey {
    PublicKey::from_modulus(&key.n_bytes()).unwrap()
}

fn big(x: &BoxedUint) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

fn be_bytes(x: &BigUint, k: usize) -> Vec<u8> {
    let b = x.to_bytes_be();
    assert!(b.len() <= k);
    let mut out = vec![0u8; k - b.len()];
    out.extend_from_slice(&b);
    out
}

const HASHES: [HashAlg; 3] = [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512];

fn all_schemes() -> Vec<Scheme> {
    HASHES
        .iter()
        .flat_map(|h| [Scheme::Pkcs1v15(*h), Scheme::Pss(*h)])
        .collect()
}

/// `rsa` signs `digest` under `scheme`; returns the signature and the PSS salt it drew.
fn rsa_sign(key: &RsaPrivateKey, scheme: Scheme, digest: &[u8], seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = SplitMix(seed);
    // `rsa` draws the PSS salt first: replay it from a clone of the RNG.
    let mut salt = vec![0u8; scheme.salt_len()];
    rng.clone().try_fill_bytes(&mut salt).unwrap();
    let sig = match scheme {
        Scheme::Pkcs1v15(HashAlg::Sha256) => {
            key.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha256>(), digest)
        }
        Scheme::Pkcs1v15(HashAlg::Sha384) => {
            key.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha384>(), digest)
        }
        Scheme::Pkcs1v15(HashAlg::Sha512) => {
            key.sign_with_rng(&mut rng, Pkcs1v15Sign::new::<Sha512>(), digest)
        }
        Scheme::Pss(HashAlg::Sha256) => key.sign_with_rng(&mut rng, Pss::<Sha256>::new(), digest),
        Scheme::Pss(HashAlg::Sha384) => key.sign_with_rng(&mut rng, Pss::<Sha384>::new(), digest),
        Scheme::Pss(HashAlg::Sha512) => key.sign_with_rng(&mut rng, Pss::<Sha512>::new(), digest),
    };
    (sig.unwrap(), salt)
}

/// `rsa` verifies under `scheme` (PSS: salt length hLen, `Pss::new`).
fn rsa_verify(key: &RsaPublicKey, scheme: Scheme, digest: &[u8], sig: &[u8]) -> rsa::Result<()> {
    match scheme {
        Scheme::Pkcs1v15(HashAlg::Sha256) => key.verify(Pkcs1v15Sign::new::<Sha256>(), digest, sig),
        Scheme::Pkcs1v15(HashAlg::Sha384) => key.verify(Pkcs1v15Sign::new::<Sha384>(), digest, sig),
        Scheme::Pkcs1v15(HashAlg::Sha512) => key.verify(Pkcs1v15Sign::new::<Sha512>(), digest, sig),
        Scheme::Pss(HashAlg::Sha256) => key.verify(Pss::<Sha256>::new(), digest, sig),
        Scheme::Pss(HashAlg::Sha384) => key.verify(Pss::<Sha384>::new(), digest, sig),
        Scheme::Pss(HashAlg::Sha512) => key.verify(Pss::<Sha512>::new(), digest, sig),
    }
}

#[test]
fn rsa_crate_signatures_verify_under_ours_and_match_our_encoding() {
    let mut checked = 0;
    for (i, key) in keys().iter().enumerate() {
        let pk = ours(key);
        let (n, e) = (big(key.n()), big(key.e()));
        for (j, scheme) in all_schemes().into_iter().enumerate() {
            let h = scheme.hash();
            let digest = h.digest(format!("message {i} {j}").as_bytes());
            let (sig, salt) = rsa_sign(key, scheme, &digest, (i * 10 + j) as u64);
            assert_eq!(sig.len(), pk.size());
            assert_eq!(
                verify(&pk, scheme, &digest, &sig),
                Ok(()),
                "{} bits {scheme:?}",
                pk.bits()
            );

            // Our encoder gives exactly the EM inside rsa's signature.
            let em_rsa = be_bytes(&BigUint::from_bytes_be(&sig).modpow(&e, &n), pk.size());
            let em_ours = padding::encode(scheme, &digest, &salt, pk.bits()).unwrap();
            assert_eq!(em_ours, em_rsa, "{} bits {scheme:?}", pk.bits());

            // Tampering, another digest, or the other scheme: rejected.
            let mut bad = sig.clone();
            bad[pk.size() / 2] ^= 0x10;
            assert_eq!(
                verify(&pk, scheme, &digest, &bad),
                Err(Error::InvalidSignature)
            );
            let other = h.digest(b"another message");
            assert_eq!(
                verify(&pk, scheme, &other, &sig),
                Err(Error::InvalidSignature)
            );
            let swapped = match scheme {
                Scheme::Pkcs1v15(h) => Scheme::Pss(h),
                Scheme::Pss(h) => Scheme::Pkcs1v15(h),
            };
            assert_eq!(
                verify(&pk, swapped, &digest, &sig),
                Err(Error::InvalidSignature)
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 6);
}

#[test]
fn signatures_from_our_encoders_verify_under_rsa_crate() {
    let mut checked = 0;
    for (i, key) in keys().iter().enumerate() {
        let pk = ours(key);
        let (n, d) = (big(key.n()), big(key.d()));
        // `rsa` 0.10 takes moduli up to 8192 bits by default (0.9 needed `new_with_max_size`
        // beyond 4096).
        let rsa_pub = RsaPublicKey::new(key.n().as_ref().clone(), key.e().clone()).unwrap();
        // With the `rsa` feature, the conversion from our key gives the same key.
        #[cfg(feature = "rsa")]
        {
            let converted = RsaPublicKey::try_from(&pk).unwrap();
            assert_eq!(
                (converted.n_bytes(), converted.e_bytes()),
                (rsa_pub.n_bytes(), rsa_pub.e_bytes())
            );
        }
        for (j, scheme) in all_schemes().into_iter().enumerate() {
            let h = scheme.hash();
            let digest = h.digest(format!("our message {i} {j}").as_bytes());
            let salt: Vec<u8> = (0..scheme.salt_len()).map(|b| (b * 7 + j) as u8).collect();
            let em = padding::encode(scheme, &digest, &salt, pk.bits()).unwrap();
            assert_eq!(em.len(), pk.size());
            let m = BigUint::from_bytes_be(&em);
            assert!(m < n);
            let sig = be_bytes(&m.modpow(&d, &n), pk.size());
            rsa_verify(&rsa_pub, scheme, &digest, &sig)
                .unwrap_or_else(|e| panic!("{} bits {scheme:?}: {e}", pk.bits()));
            assert_eq!(verify(&pk, scheme, &digest, &sig), Ok(()));
            checked += 1;
        }
    }
    assert_eq!(checked, 4 * 6);
}

#[test]
fn out_of_range_and_malformed_signatures() {
    let key = &keys()[1];
    let pk = ours(key);
    let scheme = Scheme::Pkcs1v15(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(b"x");
    let (sig, _) = rsa_sign(key, scheme, &digest, 1);
    // s + n has the same residue but is out of range (and one byte longer).
    let n = big(key.n());
    let s_plus_n = (BigUint::from_bytes_be(&sig) + &n).to_bytes_be();
    assert_eq!(
        verify(&pk, scheme, &digest, &s_plus_n),
        Err(Error::InvalidSignature)
    );
    // s = n, n - 1 and all-ones: k bytes but >= n, or garbage.
    assert_eq!(
        verify(&pk, scheme, &digest, pk.modulus_bytes()),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        verify(&pk, scheme, &digest, &vec![0xff; pk.size()]),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        verify(&pk, scheme, &digest, &be_bytes(&(&n - 1u32), pk.size())),
        Err(Error::InvalidSignature)
    );
    // Wrong lengths: a leading zero byte added or dropped.
    let mut long = vec![0u8];
    long.extend_from_slice(&sig);
    assert_eq!(
        verify(&pk, scheme, &digest, &long),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        verify(&pk, scheme, &digest, &sig[1..]),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        verify(&pk, scheme, &digest, &[]),
        Err(Error::InvalidSignature)
    );
    // Zero and one.
    assert_eq!(
        verify(&pk, scheme, &digest, &vec![0; pk.size()]),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        verify(
            &pk,
            scheme,
            &digest,
            &be_bytes(&BigUint::from(1u32), pk.size())
        ),
        Err(Error::InvalidSignature)
    );
    // A digest of the wrong length is a bad request, not a bad signature.
    assert!(matches!(
        verify(&pk, scheme, &digest[..31], &sig),
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        verify(&pk, Scheme::Pss(HashAlg::Sha512), &digest, &sig),
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(verify(&pk, scheme, &digest, &sig), Ok(()));
}

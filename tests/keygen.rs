//! Two-party key generation (SPEC §3) against num-bigint as the oracle.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::integer_division,
    clippy::panic
)] // test code: panics are failures

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, Zero};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{Modulus, Residue, Uint};
use split_rsa::hazmat::keygen::{
    composite_modulus_vartime, device_parts, payload_parts, private_exponent, reduce_mod_even,
    server_parts, split_exponent,
};
use split_rsa::{DeviceShare, Error, KeyError, KeySize, RegistrationPayload, ServerShare};
use zeroize::Zeroize;

const E: u32 = 65537;

fn big(u: &Uint) -> BigUint {
    BigUint::from_bytes_be(&u.to_be_bytes(u.nlimbs() * 8).0)
}

fn big_res<M>(m: &Modulus<M>, r: &Residue<M>) -> BigUint {
    big(&m.from_monty(r))
}

fn uint(b: &BigUint, nlimbs: usize) -> Uint {
    Uint::from_be_slice(&b.to_bytes_be(), nlimbs).unwrap()
}

/// A full key: device share, the payload bytes it produced, and the server share.
struct Key {
    device: DeviceShare,
    payload_bytes: Vec<u8>,
    d1_second: BigUint,
    server: ServerShare,
}

fn make_key(size: KeySize, seed: u64) -> Key {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let (device, payload) = DeviceShare::generate(&mut rng, size).unwrap();
    let payload_bytes = payload.to_bytes().to_vec();
    let d1_second = big(payload_parts(&payload).1);
    let server = ServerShare::generate(&mut rng, payload, size).unwrap();
    Key {
        device,
        payload_bytes,
        d1_second,
        server,
    }
}

fn key_2048() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| make_key(KeySize::BITS_2048, 2048))
}

fn key_3072() -> &'static Key {
    static K: OnceLock<Key> = OnceLock::new();
    K.get_or_init(|| make_key(KeySize::BITS_3072, 3072))
}

fn test_keys() -> &'static [Key] {
    static K: OnceLock<Vec<Key>> = OnceLock::new();
    K.get_or_init(|| {
        [512, 768, 1024, 512, 768, 1024]
            .iter()
            .enumerate()
            .map(|(i, &b)| make_key(KeySize::insecure_for_tests(b).unwrap(), i as u64))
            .collect()
    })
}

fn all_keys() -> Vec<&'static Key> {
    let mut v: Vec<&Key> = test_keys().iter().collect();
    v.push(key_2048());
    v.push(key_3072());
    v
}

fn is_probable_prime(n: &BigUint) -> bool {
    [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        .iter()
        .all(|&a| BigUint::from(a).modpow(&(n - 1u32), n).is_one())
}

/// The split holds: for random m, (m^d1' · m^d1'')^e = m (mod n1), i.e. m^d1' · m^d1'' = m^d1.
fn check_split(key: &Key, rng: &mut ChaCha20Rng, samples: usize) {
    let (n1m, d1p, d1p_bits) = device_parts(&key.device);
    let n1 = big(n1m.modulus());
    let size = key.device.key_size();
    assert_eq!(n1.bits() as usize, size.bits(), "|n1| exact");
    assert!(n1.is_odd());
    assert_eq!(d1p_bits, size.bits() + 128);
    assert_eq!(
        d1p.bits_precision(),
        size.bits() + 128,
        "d1' is a fixed-length bit string"
    );
    let d1p = big(d1p);
    assert!(d1p.bits() as usize <= d1p_bits);
    assert!(
        d1p.bits() as usize > size.bits(),
        "d1' is not reduced (overwhelmingly likely)"
    );
    let d1s = &key.d1_second;
    assert!(d1s < &n1);
    for _ in 0..samples {
        let mut bytes = vec![0u8; size.bytes()];
        rng.fill_bytes(&mut bytes);
        let m = BigUint::from_bytes_be(&bytes) % &n1;
        let s = (m.modpow(&d1p, &n1) * m.modpow(d1s, &n1)) % &n1;
        assert_eq!(
            s.modpow(&BigUint::from(E), &n1),
            m,
            "(m^d1' m^d1'')^e = m mod n1"
        );
    }
}

fn check_server(key: &Key) {
    let (n1m, d1s, p2m, q2m, dp, dq, qinv, n2m, n1_inv, nm) = server_parts(&key.server);
    let (n1, p2, q2, n2, n) = (
        big(n1m.modulus()),
        big(p2m.modulus()),
        big(q2m.modulus()),
        big(n2m.modulus()),
        big(nm.modulus()),
    );
    let size1 = key.server.n1_size();
    let size2 = key.server.n2_size();
    assert_eq!(
        n1,
        big(device_parts(&key.device).0.modulus()),
        "same n1 on both sides"
    );
    assert_eq!(&big(d1s), &key.d1_second);
    assert_eq!(&p2 * &q2, n2);
    assert_eq!(n2.bits() as usize, size2.bits(), "|n2| exact");
    assert_eq!(&n1 * &n2, n);
    assert_eq!(
        n.bits() as usize,
        size1.bits() + size2.bits(),
        "|n| = |n1| + |n2|"
    );
    assert!(n1.gcd(&n2).is_one());
    assert!(is_probable_prime(&p2) && is_probable_prime(&q2));
    let b = size2.prime_bits();
    assert_eq!(p2.bits() as usize, b);
    assert_eq!(q2.bits() as usize, b);
    let diff = if p2 > q2 { &p2 - &q2 } else { &q2 - &p2 };
    assert!(diff > BigUint::one() << (b - 100));
    let (dp, dq) = (big(dp), big(dq));
    assert!((&dp * E % (&p2 - 1u32)).is_one(), "e dp = 1 mod p2-1");
    assert!((&dq * E % (&q2 - 1u32)).is_one(), "e dq = 1 mod q2-1");
    assert!(dp < p2 && dq < q2);
    assert!(
        (big_res(p2m, qinv) * &q2 % &p2).is_one(),
        "qinv q2 = 1 mod p2"
    );
    assert!(
        (big_res(n2m, n1_inv) * &n1 % &n2).is_one(),
        "n1^-1 n1 = 1 mod n2"
    );
    // The public byte accessors agree.
    assert_eq!(BigUint::from_bytes_be(&key.server.n_be_bytes()), n);
    assert_eq!(
        key.server.n_be_bytes().len(),
        (size1.bits() + size2.bits()) / 8
    );
    assert_eq!(BigUint::from_bytes_be(&key.server.n2_be_bytes()), n2);
    assert_eq!(BigUint::from_bytes_be(&key.server.n1_be_bytes()), n1);
    assert_eq!(BigUint::from_bytes_be(&key.device.n1_be_bytes()), n1);
    // A CRT signature with the server key verifies mod n2 (the key is usable).
    let m = BigUint::from(0x1234_5678_9abc_def0u64) % &n2;
    let sp = m.modpow(&dp, &p2);
    let sq = m.modpow(&dq, &q2);
    let h = ((&sp + &p2 - (&sq % &p2)) * big_res(p2m, qinv)) % &p2;
    let s2 = sq + h * &q2;
    assert_eq!(s2.modpow(&BigUint::from(E), &n2), m);
}

#[test]
fn split_holds_for_test_sizes() {
    let mut rng = ChaCha20Rng::seed_from_u64(20);
    for key in test_keys() {
        check_split(key, &mut rng, 8);
    }
}

#[test]
fn split_holds_for_2048_and_3072() {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    check_split(key_2048(), &mut rng, 4);
    check_split(key_3072(), &mut rng, 4);
}

#[test]
fn server_parameters_are_correct() {
    for key in all_keys() {
        check_server(key);
    }
}

#[test]
fn full_signature_combines_to_an_rsa_signature() {
    // SPEC §4 step 5, by the oracle: s1 = m^d1' m^d1'' mod n1, s2 = m^d2 mod n2, Garner.
    let mut rng = ChaCha20Rng::seed_from_u64(22);
    for key in all_keys() {
        let (n1m, d1p, _) = device_parts(&key.device);
        let (_, _, p2m, q2m, dp, dq, _, n2m, n1_inv, nm) = server_parts(&key.server);
        let (n1, n2, n) = (big(n1m.modulus()), big(n2m.modulus()), big(nm.modulus()));
        let (p2, q2) = (big(p2m.modulus()), big(q2m.modulus()));
        let mut bytes = vec![0u8; n.bits() as usize / 8];
        rng.fill_bytes(&mut bytes);
        let m = BigUint::from_bytes_be(&bytes) % &n;
        let s1 = m.modpow(&big(d1p), &n1) * m.modpow(&key.d1_second, &n1) % &n1;
        // s2 by CRT with the oracle (q2 then p2, matching the stored qinv = q2^-1 mod p2).
        let d2 = {
            let l = (&p2 - 1u32).lcm(&(&q2 - 1u32));
            BigUint::from(E).modinv(&l).unwrap()
        };
        let s2 = m.modpow(&d2, &n2);
        assert_eq!(&s2 % (&p2 - 0u32), m.modpow(&big(dp), &p2));
        assert_eq!(&s2 % &q2, m.modpow(&big(dq), &q2));
        let h = ((&s2 + &n2 - (&s1 % &n2)) * big_res(n2m, n1_inv)) % &n2;
        let s = &s1 + &n1 * h;
        assert!(s < n);
        assert_eq!(s.modpow(&BigUint::from(E), &n), m, "s^e = m mod n");
    }
}

#[test]
fn payload_does_not_contain_d1_prime() {
    for key in all_keys() {
        let (_, d1p, bits) = device_parts(&key.device);
        let d1p_bytes = d1p.to_be_bytes(bits / 8).0;
        let payload = &key.payload_bytes;
        // No 8-byte window of d1' appears anywhere in the payload (and so not d1' itself).
        for w in d1p_bytes.windows(8) {
            assert!(
                !payload.windows(8).any(|p| p == w),
                "payload contains 8 bytes of d1'"
            );
        }
        // Nor in the low |n1| bits form (d1' mod 2^|n1|), nor reduced mod n1.
        let n1 = big(device_parts(&key.device).0.modulus());
        let red = (big(d1p) % &n1).to_bytes_be();
        assert!(!payload.windows(red.len()).any(|p| p == &red[..]));
    }
}

#[test]
fn payload_round_trip_and_malformed_inputs() {
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let size = KeySize::insecure_for_tests(512).unwrap();
    let (_device, payload) = DeviceShare::generate(&mut rng, size).unwrap();
    let bytes = payload.to_bytes();
    // SPEC §9 header "SRSA" 02 07 (format version 2, registration secret), then the size, n1 and d1''.
    assert_eq!(bytes.len(), 6 + 2 + 2 * 64);
    assert_eq!(&bytes[..6], b"SRSA\x02\x07");
    assert_eq!(&bytes[6..8], &512u16.to_be_bytes());
    let back = RegistrationPayload::from_bytes(&bytes).unwrap();
    assert_eq!(back.n1_be_bytes(), payload.n1_be_bytes());
    assert_eq!(big(payload_parts(&back).1), big(payload_parts(&payload).1));
    assert_eq!(back.key_size(), size);

    let decode_err = |b: &[u8]| match RegistrationPayload::from_bytes(b) {
        Err(Error::Decode(e)) => e,
        other => panic!("expected a decode error, got {other:?}"),
    };
    assert_eq!(decode_err(&bytes[..1]).field, "magic");
    assert_eq!(decode_err(&bytes[..7]).field, "size");
    assert_eq!(decode_err(&bytes[..bytes.len() - 1]).field, "d1''");
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(decode_err(&long).field, "end");
    let mut bad_size = bytes.to_vec();
    bad_size[6..8].copy_from_slice(&1000u16.to_be_bytes());
    assert_eq!(decode_err(&bad_size).field, "size");
    let mut even = bytes.to_vec();
    even[8 + 63] &= 0xfe;
    assert_eq!(decode_err(&even).field, "n1");
    let mut short_n1 = bytes.to_vec();
    short_n1[8] = 0;
    assert_eq!(decode_err(&short_n1).field, "n1");
    let mut big_d = bytes.to_vec();
    big_d[8 + 64..].copy_from_slice(&bytes[8..8 + 64]); // d1'' = n1
    assert_eq!(decode_err(&big_d).field, "d1''");
}

#[test]
fn keys_are_deterministic_for_a_seed() {
    let size = KeySize::insecure_for_tests(512).unwrap();
    let a = make_key(size, 99);
    let b = make_key(size, 99);
    let c = make_key(size, 100);
    assert_eq!(a.server.n_be_bytes(), b.server.n_be_bytes());
    assert_eq!(a.payload_bytes, b.payload_bytes);
    assert_ne!(a.server.n_be_bytes(), c.server.n_be_bytes());
}

#[test]
fn size_policy() {
    assert_eq!(KeySize::default(), KeySize::BITS_3072);
    assert_eq!(KeySize::BITS_2048.bits(), 2048);
    assert_eq!(KeySize::BITS_4096.prime_bits(), 2048);
    assert_eq!(KeySize::from_bits(3072), Some(KeySize::BITS_3072));
    assert_eq!(KeySize::from_bits(1024), None);
    assert_eq!(KeySize::from_bits(2047), None);
    assert!(
        KeySize::insecure_for_tests(1024)
            .unwrap()
            .is_insecure_test_size()
    );
    assert_eq!(KeySize::insecure_for_tests(2048), None);
    assert_eq!(KeySize::insecure_for_tests(600), None);
    assert!(!KeySize::BITS_2048.is_insecure_test_size());
    // A test-size n1 is refused by a server making a production-size n2.
    let mut rng = ChaCha20Rng::seed_from_u64(24);
    let (_d, payload) =
        DeviceShare::generate(&mut rng, KeySize::insecure_for_tests(512).unwrap()).unwrap();
    assert_eq!(
        ServerShare::generate(&mut rng, payload, KeySize::BITS_2048).unwrap_err(),
        Error::InvalidKey(KeyError::ModulusSize)
    );
}

#[test]
fn mixed_sizes() {
    let mut rng = ChaCha20Rng::seed_from_u64(25);
    let (device, payload) =
        DeviceShare::generate(&mut rng, KeySize::insecure_for_tests(768).unwrap()).unwrap();
    let d1_second = big(payload_parts(&payload).1);
    let server =
        ServerShare::generate(&mut rng, payload, KeySize::insecure_for_tests(512).unwrap())
            .unwrap();
    let key = Key {
        device,
        payload_bytes: vec![],
        d1_second,
        server,
    };
    check_server(&key);
    check_split(&key, &mut rng, 4);
}

/// Hex (lower and upper) and decimal forms of a secret, none of which may appear.
fn secret_forms(x: &BigUint) -> Vec<String> {
    vec![
        x.to_str_radix(16),
        x.to_str_radix(16).to_uppercase(),
        x.to_str_radix(10),
    ]
}

fn assert_no_secret(debug: &str, secrets: &[BigUint]) {
    for s in secrets {
        for f in secret_forms(s) {
            assert!(!debug.contains(&f), "Debug output contains a secret");
        }
    }
    // Stronger: no long run of hex digits at all.
    let mut run = 0;
    for c in debug.chars() {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        assert!(run < 16, "Debug output contains a long hex string: {debug}");
    }
    // Nor a byte-array dump (a long comma-separated list of numbers).
    assert!(debug.matches(',').count() < 16, "{debug}");
}

#[test]
fn debug_prints_no_secret() {
    let key = &test_keys()[0];
    let (_, d1p, _) = device_parts(&key.device);
    let dev = format!("{:?} {:#?}", key.device, key.device);
    assert!(dev.contains("DeviceShare"));
    assert_no_secret(&dev, &[big(d1p)]);

    let (_, d1s, p2, q2, dp, dq, qinv, n2m, n1_inv, _) = server_parts(&key.server);
    let srv = format!("{:?} {:#?}", key.server, key.server);
    assert!(srv.contains("ServerShare"));
    assert_no_secret(
        &srv,
        &[
            big(d1s),
            big(p2.modulus()),
            big(q2.modulus()),
            big(dp),
            big(dq),
            big_res(p2, qinv),
            big_res(n2m, n1_inv),
        ],
    );

    let mut rng = ChaCha20Rng::seed_from_u64(26);
    let (_d, payload) =
        DeviceShare::generate(&mut rng, KeySize::insecure_for_tests(512).unwrap()).unwrap();
    let pl = format!("{payload:?} {payload:#?}");
    assert!(pl.contains("RegistrationPayload"));
    assert_no_secret(&pl, &[big(payload_parts(&payload).1)]);
}

#[test]
fn shares_wipe() {
    let mut rng = ChaCha20Rng::seed_from_u64(27);
    let size = KeySize::insecure_for_tests(512).unwrap();
    let (mut device, mut payload) = DeviceShare::generate(&mut rng, size).unwrap();
    let payload_bytes = payload.to_bytes();
    let mut server = ServerShare::generate(
        &mut rng,
        RegistrationPayload::from_bytes(&payload_bytes).unwrap(),
        size,
    )
    .unwrap();
    assert!(!big(device_parts(&device).1).is_zero());
    device.zeroize();
    assert!(big(device_parts(&device).1).is_zero(), "d1' wiped");

    assert!(!big(payload_parts(&payload).1).is_zero());
    payload.zeroize();
    assert!(big(payload_parts(&payload).1).is_zero(), "d1'' wiped");

    server.zeroize();
    let (_, d1s, p2, _, dp, dq, qinv, n2, n1_inv, _) = server_parts(&server);
    assert!(big(d1s).is_zero());
    assert!(big(dp).is_zero());
    assert!(big(dq).is_zero());
    assert!(big_res(p2, qinv).is_zero());
    assert!(big_res(n2, n1_inv).is_zero());
    // The types wipe on drop (statically).
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<DeviceShare>();
    zeroize_on_drop::<RegistrationPayload>();
    zeroize_on_drop::<ServerShare>();
}

#[test]
fn step_functions_match_oracle() {
    let mut rng = ChaCha20Rng::seed_from_u64(28);
    // private_exponent on small known primes.
    let p = BigUint::from(0xffff_ffff_ffff_ffc5u64); // 2^64 - 59, prime
    let q = BigUint::from(0xffff_ffff_ffff_ff43u64); // 2^64 - 189, prime
    let (n, phi, d, ok) = private_exponent(&uint(&p, 1), &uint(&q, 1));
    assert!(bool::from(ok));
    assert_eq!(big(&n), &p * &q);
    let phib = (&p - 1u32) * (&q - 1u32);
    assert_eq!(big(&phi), phib);
    assert!((big(&d) * E % &phib).is_one());
    // reduce_mod_even and split_exponent with random even moduli.
    for w in [1usize, 2, 8, 16] {
        for _ in 0..20 {
            let mut mb = vec![0u8; w * 8];
            rng.fill_bytes(&mut mb);
            let mut m = BigUint::from_bytes_be(&mb);
            m.set_bit(0, false);
            if m.is_zero() {
                continue;
            }
            let mut xb = vec![0u8; w * 8 + 16];
            rng.fill_bytes(&mut xb);
            let x = BigUint::from_bytes_be(&xb);
            let r = reduce_mod_even(&uint(&x, w + 2), &uint(&m, w));
            assert_eq!(big(&r), &x % &m);
            let d1 = &x % &m;
            let mut yb = vec![0u8; w * 8 + 16];
            rng.fill_bytes(&mut yb);
            let y = BigUint::from_bytes_be(&yb);
            let s = split_exponent(&uint(&d1, w), &uint(&y, w + 2), &uint(&m, w));
            assert_eq!(big(&s), (&d1 + &m - (&y % &m)) % &m);
        }
    }
}

#[test]
fn composite_modulus_checks() {
    let key = &test_keys()[0];
    let n1 = device_parts(&key.device).0.modulus().clone();
    let n2 = server_parts(&key.server).7.modulus().clone();
    let n = composite_modulus_vartime(&n1, &n2, false).unwrap();
    assert_eq!(big(&n), big(&n1) * big(&n2));
    // Even, not coprime, short.
    let mut even = n2.clone();
    even.sub_u64_assign(1);
    assert_eq!(
        composite_modulus_vartime(&n1, &even, false).err(),
        Some(KeyError::EvenModulus)
    );
    assert_eq!(
        composite_modulus_vartime(&n1, &n1, false).err(),
        Some(KeyError::NotCoprime)
    );
    let three = uint(&BigUint::from(3u32 * 5 * 7), 1);
    let n1x3 = uint(&(big(&n1) * 3u32), n1.nlimbs() + 1);
    assert_eq!(
        composite_modulus_vartime(&n1x3, &three, false).err(),
        Some(KeyError::NotCoprime)
    );
    // 0b11 * 0b11 = 0b1001: 4 bits = 2 + 2; 0b101 * 0b101 = 25 (5 bits = 3 + 3 - 1).
    let five = uint(&BigUint::from(5u32), 1);
    let seven = uint(&BigUint::from(7u32), 1);
    assert_eq!(
        composite_modulus_vartime(&five, &seven, false).map(|n| big(&n)),
        Ok(35u32.into())
    );
    let u = uint(&BigUint::from(0b101u32), 1);
    let v = uint(&BigUint::from(0b1001u32), 1);
    // 5 * 9 = 45 = 0b101101: 6 bits < 3 + 4 = 7.
    assert_eq!(
        composite_modulus_vartime(&u, &v, false).err(),
        Some(KeyError::ModulusSize)
    );
    assert!(composite_modulus_vartime(&u, &v, true).is_ok());
}

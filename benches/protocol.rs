//! The protocol's three costs (SPEC §4; results in docs/benchmarks.md), each beside its
//! counterparts in the same run, for one 3072+3072 split key (6144-bit composite):
//!
//! - `protocol_device_3072`: the device's partial signature (SPEC §4 steps 2-3: EMSA-PSS
//!   encoding of the request for the 6144-bit modulus, `y = m^d1' mod n1` with the 3200-bit
//!   d1', `y` to bytes) beside our constant-time 3072-bit modexp (`Modulus::pow`, 3072-bit
//!   exponent) and OpenSSL's (`BN_mod_exp_mont_consttime`); and, for information, the whole
//!   `DeviceRecord::sign` (Argon2i unsealing with the fast test parameters, HPKE sealing).
//! - `protocol_server_3072+3072`: the server's completion arithmetic (SPEC §4 step 5, the
//!   `server_complete` steps: s1 with d1'' and its check, s2 by CRT with its check, Garner,
//!   the final check mod n) beside OpenSSL doing one constant-time 3072-bit modexp plus one
//!   RSA-3072 CRT signature (`RSA_private_encrypt`, no padding: blinding, CRT and OpenSSL's
//!   own fault check); and, for information, the whole `Server::complete` (HPKE opening, the
//!   key store's charge and compare-and-swap writes, OTP rotation).
//! - `protocol_verify_6144`: our `verify` of a 6144-bit signature (PSS and PKCS#1 v1.5,
//!   SHA-256) beside OpenSSL's RSA-6144 verification of the same signature under the same key
//!   (imported from our SubjectPublicKeyInfo DER; `EVP_PKEY_verify` on the digest), plus a
//!   raw `s^e mod n` of both (ours by the general `Modulus::pow_vartime`, OpenSSL's
//!   `RSA_public_decrypt` without padding).
//!
//! The key is generated once, outside the timing, from a seeded RNG (a second, independent
//! key of the same size for the full-protocol measurements, which need a registered device).
//! Every contender's result is checked before anything is timed.
//!
//! Run: `cargo bench --bench protocol -- --sample-size 10`. With `SPLIT_RSA_FORCE_PORTABLE=1`
//! our side uses the portable kernels instead of the BMI2/ADX assembly.

// Bench code: a panic is a failed setup; `missing_docs` for the items `criterion_group!` makes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use num_bigint::BigUint;
use openssl::bn::{BigNum, BigNumContext};
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::{Padding, Rsa};
use openssl::sign::RsaPssSaltlen;
use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use split_rsa::hazmat::arith::{Modulus, Uint};
use split_rsa::hazmat::{keygen, padding, signing};
use split_rsa::spki::EncodePublicKey;
use split_rsa::{
    Argon2Params, DeviceRegistration, DeviceShare, HashAlg, InMemoryKeyStore, KekId, KeyPurpose,
    KeySize, LocalKek, Pin, PublicKey, Scheme, Server, ServerPolicy, ServerShare,
    ServerTransportKey, verify,
};

/// Ring marker for the raw RSAVP1 measurement.
enum Composite {}

fn group_times(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
}

fn bench_protocol(c: &mut Criterion) {
    // `SPLIT_RSA_FORCE_PORTABLE=1`: our side runs the portable kernels (what a CPU without
    // BMI2/ADX gets) instead of the x86-64 assembly.
    if std::env::var_os("SPLIT_RSA_FORCE_PORTABLE").is_some() {
        split_rsa::hazmat::backend::force_portable(true);
    }
    eprintln!("backend: {}", split_rsa::hazmat::backend::active_backend());
    let mut rng = ChaCha20Rng::seed_from_u64(0x7072_6f74_6f63_6f6c);
    let size = KeySize::BITS_3072;

    // ---- The split key for the arithmetic (outside the timing).
    let t = Instant::now();
    let (device, payload) = DeviceShare::generate(&mut rng, size).expect("device key");
    let server = ServerShare::generate(&mut rng, payload, size).expect("server key");
    eprintln!("3072+3072 key generated in {:.1?}", t.elapsed());
    let n_bytes = server.n_be_bytes();
    let pk = PublicKey::from_modulus(&n_bytes).expect("public key");
    assert_eq!(pk.bits(), 6144);
    let (n1, d1p, d1p_bits) = keygen::device_parts(&device);
    assert_eq!(d1p_bits, 3200);
    let key = signing::completion_key(&server);

    let digest = HashAlg::Sha256.digest(b"split-rsa protocol benchmark");
    let mut salt = [0u8; 32];
    rng.fill_bytes(&mut salt);
    let pss = Scheme::Pss(HashAlg::Sha256);
    let pkcs1 = Scheme::Pkcs1v15(HashAlg::Sha256);

    // SPEC §4 steps 2-3: EM for the composite modulus, y = m^d1' mod n1, y as |n1|/8 bytes.
    let device_partial = |digest: &[u8], salt: &[u8]| {
        let em = padding::encode(pss, digest, salt, pk.bits()).expect("encode");
        let m = Uint::from_be_bytes(&em);
        let y = signing::device_exponentiate(n1, d1p, d1p_bits, &m);
        y.to_be_bytes(size.bytes()).0
    };
    let em = |scheme: Scheme, salt: &[u8]| {
        Uint::from_be_bytes(&padding::encode(scheme, &digest, salt, pk.bits()).expect("encode"))
    };

    // One signature per scheme through the two-party arithmetic, checked by our verify.
    let m_pss = em(pss, &salt);
    let y_pss = Uint::from_be_bytes(&device_partial(&digest, &salt));
    let sig_pss = signing::server_complete(&key, &y_pss, &m_pss)
        .expect("complete")
        .to_be_bytes(pk.size())
        .0
        .to_vec();
    let m_pkcs1 = em(pkcs1, &[]);
    let y_pkcs1 = signing::device_exponentiate(n1, d1p, d1p_bits, &m_pkcs1);
    let sig_pkcs1 = signing::server_complete(&key, &y_pkcs1, &m_pkcs1)
        .expect("complete")
        .to_be_bytes(pk.size())
        .0
        .to_vec();
    verify(&pk, pss, &digest, &sig_pss).expect("PSS signature verifies");
    verify(&pk, pkcs1, &digest, &sig_pkcs1).expect("PKCS#1 v1.5 signature verifies");

    // Our constant-time modexp at 3072 bits: modulus n1, a 3072-bit exponent (top bit set),
    // a base below n1; to_monty / from_monty inside the measurement (as in benches/modexp.rs).
    let n1_be = n1.modulus().to_be_bytes(size.bytes()).0.to_vec();
    let mut exp_be = vec![0u8; size.bytes()];
    rng.fill_bytes(&mut exp_be);
    exp_be[0] |= 0x80;
    let mut base_be = vec![0u8; size.bytes()];
    rng.fill_bytes(&mut base_be);
    base_be[0] &= 0x3f;
    let exp = Uint::from_be_slice(&exp_be, size.bits().div_ceil(64)).expect("fits");
    let base = Uint::from_be_slice(&base_be, size.bits().div_ceil(64)).expect("fits");
    let ours_modexp = |x: &Uint| n1.from_monty(&n1.pow(&n1.to_monty(x), &exp, 3072));
    // The same with an exponent as long as d1' (3200 bits): the device's exponentiation
    // without anything else, to show where the device's extra time over 3072 bits goes.
    let mut exp3200 = exp.resize(d1p.nlimbs());
    exp3200.set_bit(3199);
    let ours_modexp_3200 = |x: &Uint| n1.from_monty(&n1.pow(&n1.to_monty(x), &exp3200, 3200));

    // OpenSSL constant-time modexp with the same operands.
    let mut on = BigNum::from_slice(&n1_be).expect("bn");
    let mut oe = BigNum::from_slice(&exp_be).expect("bn");
    let mut ox = BigNum::from_slice(&base_be).expect("bn");
    on.set_const_time();
    oe.set_const_time();
    ox.set_const_time();
    let mut ctx = BigNumContext::new().expect("ctx");
    let mut out = BigNum::new().expect("bn");
    let want = BigUint::from_bytes_be(&base_be).modpow(
        &BigUint::from_bytes_be(&exp_be),
        &BigUint::from_bytes_be(&n1_be),
    );
    let (ours_be, _) = ours_modexp(&base).to_be_bytes(size.bytes());
    assert_eq!(BigUint::from_bytes_be(&ours_be), want);
    out.mod_exp(&ox, &oe, &on, &mut ctx).expect("mod_exp");
    assert_eq!(BigUint::from_bytes_be(&out.to_vec()), want);

    // OpenSSL RSA-3072 (its own key, e = 65537) for the CRT signature counterpart.
    let orsa3072 = Rsa::generate(3072).expect("openssl rsa 3072");
    let mut crt_in = vec![0u8; 384];
    crt_in[1..].copy_from_slice(&base_be[1..]);
    let mut crt_out = vec![0u8; 384];
    assert_eq!(
        orsa3072
            .private_encrypt(&crt_in, &mut crt_out, Padding::NONE)
            .expect("rsa"),
        384
    );

    // OpenSSL RSA-6144 public key: our composite key, imported from SPKI DER.
    let opk = PKey::public_key_from_der(pk.to_public_key_der().expect("SPKI").as_bytes())
        .expect("import SPKI");
    let orsa6144 = opk.rsa().expect("rsa key");
    assert_eq!(orsa6144.n().to_vec(), n_bytes);
    let mut ovctx = PkeyCtx::new(&opk).expect("ctx");
    let openssl_verify = |ctx: &mut PkeyCtx<Public>, scheme: Scheme, sig: &[u8]| -> bool {
        ctx.verify_init().expect("init");
        ctx.set_signature_md(Md::sha256()).expect("md");
        if let Scheme::Pss(_) = scheme {
            ctx.set_rsa_padding(Padding::PKCS1_PSS).expect("pad");
            ctx.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)
                .expect("saltlen");
        } else {
            ctx.set_rsa_padding(Padding::PKCS1).expect("pad");
        }
        ctx.verify(&digest, sig).unwrap_or(false)
    };
    assert!(openssl_verify(&mut ovctx, pss, &sig_pss));
    assert!(openssl_verify(&mut ovctx, pkcs1, &sig_pkcs1));
    let mut raw = vec![0u8; pk.size()];
    assert_eq!(
        orsa6144
            .public_decrypt(&sig_pss, &mut raw, Padding::NONE)
            .expect("raw"),
        pk.size()
    );
    // Raw RSAVP1, s^e mod n, by the general `Modulus::pow_vartime` between `to_monty` and
    // `from_monty` (Montgomery context built once): what `verify` used before it got its
    // dedicated path (src/rsa/verify.rs, `rsavp1_vartime`), kept for comparison.
    let nm = Modulus::<Composite>::new(Uint::from_be_bytes(&n_bytes)).expect("odd");
    let e = Uint::from_u64(65537, 1);
    let s_pss = Uint::from_be_slice(&sig_pss, nm.nlimbs()).expect("fits");
    let ours_rsavp1 = |s: &Uint| nm.from_monty(&nm.pow_vartime(&nm.to_monty(s), &e));
    assert_eq!(ours_rsavp1(&s_pss).to_be_bytes(pk.size()).0.to_vec(), raw);

    // ---- A second key, registered through the full protocol (for the information rows).
    let t = Instant::now();
    let proto_server = Server::new(
        ServerTransportKey::generate(&mut rng),
        InMemoryKeyStore::new(),
        LocalKek::generate(&mut rng, KekId(1)),
        ServerPolicy::default(),
        size,
    );
    let pin = Pin::new("50731", KeyPurpose::Signing).expect("pin");
    let challenge = proto_server.issue_challenge(&mut rng, 1_800_000_000);
    let (reg, request) = DeviceRegistration::start(
        &mut rng,
        &challenge,
        KeyPurpose::Signing,
        size,
        &proto_server.transport_public_key(),
    )
    .expect("start");
    let registered = proto_server
        .register(&mut rng, &request, 1_800_000_000)
        .expect("register");
    let answer = reg.open_response(&registered.response).expect("open");
    let mut record = reg
        .finish(
            &mut rng,
            answer,
            &pin,
            Argon2Params::insecure_fast_for_tests(),
        )
        .expect("finish");
    eprintln!("second key registered in {:.1?}", t.elapsed());
    let request = proto_server
        .create_request(
            &mut rng,
            record.key_id(),
            KeyPurpose::Signing,
            pss,
            &digest,
            1_800_000_001,
        )
        .expect("req");
    let partial = record.sign(&mut rng, &request, &pin).expect("sign");
    let answer = proto_server
        .complete(&mut rng, &partial, 1_800_000_001)
        .expect("complete");
    record.accept(&answer.response).expect("accept");

    // ---- Paired ratios: each pair runs both sides back to back, so load drift on a shared
    // machine hits both alike; the median of the per-pair ratios is printed (stderr) beside
    // criterion's separate medians.
    let report = |name: &str, pairs: usize, a: &mut dyn FnMut(), b: &mut dyn FnMut()| {
        let (r, ta, tb) = paired_ratio(pairs, a, b);
        eprintln!(
            "paired {name}: median ratio {r:.3} over {pairs} pairs (medians {ta:.2?} / {tb:.2?})"
        );
    };
    report(
        "device_partial_signature / ours_modexp_3072",
        41,
        &mut || drop(black_box(device_partial(&digest, &salt))),
        &mut || drop(black_box(ours_modexp(&base))),
    );
    report(
        "device_partial_signature / ours_modexp_3200bit_exponent",
        41,
        &mut || drop(black_box(device_partial(&digest, &salt))),
        &mut || drop(black_box(ours_modexp_3200(&base))),
    );
    report(
        "ours_modexp_3072 / openssl_ct_modexp_3072",
        41,
        &mut || drop(black_box(ours_modexp(&base))),
        &mut || out.mod_exp(&ox, &oe, &on, &mut ctx).expect("mod_exp"),
    );
    report(
        "server_complete / openssl_ct_modexp_plus_rsa3072_crt",
        41,
        &mut || drop(black_box(signing::server_complete(&key, &y_pss, &m_pss))),
        &mut || {
            out.mod_exp(&ox, &oe, &on, &mut ctx).expect("mod_exp");
            orsa3072
                .private_encrypt(&crt_in, &mut crt_out, Padding::NONE)
                .expect("rsa");
        },
    );
    report(
        "ours_verify_pss_sha256 / openssl_verify_pss_sha256",
        401,
        &mut || verify(&pk, pss, &digest, black_box(&sig_pss)).expect("ok"),
        &mut || assert!(openssl_verify(&mut ovctx, pss, black_box(&sig_pss))),
    );
    report(
        "ours_verify_pkcs1v15_sha256 / openssl_verify_pkcs1v15_sha256",
        401,
        &mut || verify(&pk, pkcs1, &digest, black_box(&sig_pkcs1)).expect("ok"),
        &mut || assert!(openssl_verify(&mut ovctx, pkcs1, black_box(&sig_pkcs1))),
    );

    // ---- (a) Device.
    let mut g = c.benchmark_group("protocol_device_3072");
    group_times(&mut g);
    g.bench_function("device_partial_signature", |b| {
        b.iter(|| device_partial(black_box(&digest), black_box(&salt)))
    });
    g.bench_function("ours_modexp_3072", |b| {
        b.iter(|| ours_modexp(black_box(&base)))
    });
    g.bench_function("ours_modexp_3200bit_exponent", |b| {
        b.iter(|| ours_modexp_3200(black_box(&base)))
    });
    g.bench_function("openssl_ct_modexp_3072", |b| {
        b.iter(|| {
            out.mod_exp(black_box(&ox), black_box(&oe), &on, &mut ctx)
                .expect("mod_exp")
        })
    });
    g.bench_function("full_DeviceRecord_sign", |b| {
        b.iter(|| {
            record
                .sign(&mut rng, black_box(&request), &pin)
                .expect("sign")
        })
    });
    g.finish();

    // ---- (b) Server.
    let mut g = c.benchmark_group("protocol_server_3072+3072");
    group_times(&mut g);
    g.bench_function("server_complete", |b| {
        b.iter(|| signing::server_complete(&key, black_box(&y_pss), black_box(&m_pss)))
    });
    g.bench_function("openssl_ct_modexp_plus_rsa3072_crt", |b| {
        b.iter(|| {
            out.mod_exp(black_box(&ox), black_box(&oe), &on, &mut ctx)
                .expect("mod_exp");
            orsa3072
                .private_encrypt(black_box(&crt_in), &mut crt_out, Padding::NONE)
                .expect("rsa")
        })
    });
    g.bench_function("openssl_rsa3072_crt_only", |b| {
        b.iter(|| {
            orsa3072
                .private_encrypt(black_box(&crt_in), &mut crt_out, Padding::NONE)
                .expect("rsa")
        })
    });
    // The full server call: each iteration needs a fresh partial signature under the current
    // OTP, made (and the answer accepted) outside the timed region.
    let mut now = 1_800_000_100u64;
    g.bench_function("full_Server_complete", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                now += 1;
                let req = proto_server
                    .create_request(
                        &mut rng,
                        record.key_id(),
                        KeyPurpose::Signing,
                        pss,
                        &digest,
                        now,
                    )
                    .expect("req");
                let partial = record.sign(&mut rng, &req, &pin).expect("sign");
                let t = Instant::now();
                let answer = proto_server
                    .complete(&mut rng, &partial, now)
                    .expect("complete");
                total += t.elapsed();
                record.accept(&answer.response).expect("accept");
            }
            total
        })
    });
    g.finish();

    // ---- (c) Verification.
    let mut g = c.benchmark_group("protocol_verify_6144");
    group_times(&mut g);
    g.bench_function("ours_verify_pss_sha256", |b| {
        b.iter(|| verify(&pk, pss, black_box(&digest), black_box(&sig_pss)).expect("ok"))
    });
    g.bench_function("openssl_verify_pss_sha256", |b| {
        b.iter(|| assert!(openssl_verify(&mut ovctx, pss, black_box(&sig_pss))))
    });
    g.bench_function("ours_verify_pkcs1v15_sha256", |b| {
        b.iter(|| verify(&pk, pkcs1, black_box(&digest), black_box(&sig_pkcs1)).expect("ok"))
    });
    g.bench_function("openssl_verify_pkcs1v15_sha256", |b| {
        b.iter(|| assert!(openssl_verify(&mut ovctx, pkcs1, black_box(&sig_pkcs1))))
    });
    g.bench_function("ours_rsavp1_pow_vartime", |b| {
        b.iter(|| ours_rsavp1(black_box(&s_pss)))
    });
    g.bench_function("openssl_rsavp1_raw", |b| {
        b.iter(|| {
            orsa6144
                .public_decrypt(black_box(&sig_pss), &mut raw, Padding::NONE)
                .expect("raw")
        })
    });
    g.finish();
}

/// Runs `a` then `b`, `pairs` times; returns the median of the per-pair ratios `t(a)/t(b)`
/// and the median time of each side.
fn paired_ratio(
    pairs: usize,
    a: &mut dyn FnMut(),
    b: &mut dyn FnMut(),
) -> (f64, Duration, Duration) {
    let (mut ratios, mut ta, mut tb) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..pairs {
        let t = Instant::now();
        a();
        let da = t.elapsed();
        let t = Instant::now();
        b();
        let db = t.elapsed();
        ratios.push(da.as_secs_f64() / db.as_secs_f64());
        ta.push(da);
        tb.push(db);
    }
    ratios.sort_by(f64::total_cmp);
    ta.sort();
    tb.sort();
    (ratios[pairs >> 1], ta[pairs >> 1], tb[pairs >> 1])
}

criterion_group!(benches, bench_protocol);
criterion_main!(benches);

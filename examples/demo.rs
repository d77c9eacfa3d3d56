//! The main demonstration: one device and one server, end to end.
//!
//! 1. The server starts with a transport key and an in-memory key store.
//! 2. The device registers two split keys with the server: an authentication key under PIN1
//!    and a signing key under PIN2 (3072-bit device half + 3072-bit server half = a 6144-bit
//!    composite RSA key each).
//! 3. The server asks for a signature (RSASSA-PSS, SHA-256) on a message; the device shows the
//!    verification code, "the user" enters PIN2, the device computes its partial signature, the
//!    server completes it. A wrong PIN is shown being refused and counted.
//! 4. The signature is verified in-process, and written with the public key and the message
//!    into a directory (first argument, default `demo-out/`) for OpenSSL to verify.
//!
//! Run: `cargo run --release --example demo [OUT_DIR]`

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand_core::UnwrapErr;
use split_rsa::{
    Argon2Params, DeviceRegistration, Error, HashAlg, InMemoryKeyStore, KeyPurpose, KeySize, Pin,
    Scheme, Server, ServerPolicy, ServerTransportKey, SigningRequest, verify,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "demo-out".into()));
    let mut rng = UnwrapErr(getrandom::SysRng);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    // The server: transport key (SPEC §6), key store and lockout policy (SPEC §7).
    let server = Server::new(
        ServerTransportKey::generate(&mut rng),
        InMemoryKeyStore::new(),
        ServerPolicy::default(),
        KeySize::BITS_3072,
    );

    // Registration of both keys (SPEC §3).
    let pin1 = Pin::new("3829", KeyPurpose::Authentication)?;
    let pin2 = Pin::new("58213", KeyPurpose::Signing)?;
    let mut devices = Vec::new();
    for (purpose, pin) in [
        (KeyPurpose::Authentication, &pin1),
        (KeyPurpose::Signing, &pin2),
    ] {
        let t = Instant::now();
        let (registration, request) = DeviceRegistration::start(
            &mut rng,
            purpose,
            KeySize::BITS_3072,
            &server.transport_public_key(),
        )?;
        let response = server.register(&mut rng, &request, now)?;
        let record = registration.finish(&mut rng, response, pin, Argon2Params::RECOMMENDED)?;
        println!(
            "registered {purpose:?} key {}: {}-bit composite public key, {:.2?}",
            hex(record.key_id()),
            record.public_key().bits(),
            t.elapsed()
        );
        devices.push(record);
    }
    let mut signing_key = devices.pop().ok_or("no signing key")?;

    // Signing (SPEC §4): the server creates the request for a relying party.
    let message = b"I, the undersigned, agree to the terms of contract no. 2026-11-21/42.\n";
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(message);
    let request = SigningRequest::new(&mut rng, *signing_key.key_id(), scheme, &digest)?;
    println!(
        "verification code shown on the device: {}",
        signing_key.verification_code(&request)
    );

    // A mistyped PIN: the device cannot tell, the server refuses and counts it (SPEC §5, §7).
    let typo = Pin::new("58231", KeyPurpose::Signing)?;
    let partial = signing_key.sign(&mut rng, &request, &typo)?;
    match server.complete(&mut rng, &request, &partial, now) {
        Err(Error::WrongPin { attempts_left, .. }) => {
            println!("wrong PIN2 refused by the server; {attempts_left} attempts left")
        }
        other => return Err(format!("a wrong PIN must be refused, got {other:?}").into()),
    }

    // The right PIN.
    let t = Instant::now();
    let partial = signing_key.sign(&mut rng, &request, &pin2)?;
    let device_time = t.elapsed();
    let t = Instant::now();
    let response = server.complete(&mut rng, &request, &partial, now)?;
    let server_time = t.elapsed();
    let signature = signing_key.accept(&request, &response)?;
    println!(
        "signed: device {device_time:.2?} (Argon2id unseal + 3072-bit exponentiation), server {server_time:.2?}"
    );

    // Anyone holding (n, e) verifies it like any RSA signature.
    verify(signing_key.public_key(), scheme, &digest, &signature)?;
    println!(
        "signature verified in-process ({} bytes, RSASSA-PSS SHA-256)",
        signature.len()
    );

    std::fs::create_dir_all(&out_dir)?;
    std::fs::write(
        out_dir.join("public.pem"),
        signing_key.public_key().to_public_key_pem(),
    )?;
    std::fs::write(out_dir.join("message.txt"), message)?;
    std::fs::write(out_dir.join("signature.bin"), &signature)?;
    let d = out_dir.display();
    println!("wrote {d}/public.pem, {d}/message.txt, {d}/signature.bin; verify with OpenSSL:");
    println!(
        "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
         -verify {d}/public.pem -signature {d}/signature.bin {d}/message.txt"
    );
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

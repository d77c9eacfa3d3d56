//! The main demonstration: one device and one server, end to end, on the embedded SQLite key
//! store.
//!
//! First run (an empty output directory):
//! 1. The server starts with a transport key, a key-encryption key and a SQLite key store
//!    (`server.db` in the output directory).
//! 2. The device registers two split keys: an authentication key under PIN1 and a signing key
//!    under PIN2 (3072-bit device half + 3072-bit server half = a 6144-bit RSA key each), after
//!    a registration challenge from the server (SPEC §3).
//!
//! Every run (the second one signs again with the keys the first one stored):
//! 3. The server creates a signing request (RSASSA-PSS, SHA-256); the device shows the
//!    verification code; a mistyped PIN is refused and counted by the server; the answer to the
//!    right PIN is "lost", the device restarts from its persisted record, resends, and gets the
//!    stored answer: nothing is charged twice, no clone is seen (SPEC §4, §10).
//! 4. The signature is verified in-process and written with the public key and the message
//!    for OpenSSL.
//!
//! The files `server-transport.key` and `server-kek.key` stand in for what a deployment keeps in
//! an HSM or a KMS; the `device-*.record` files stand in for the phone's storage.
//!
//! Run: `cargo run --release --example demo [OUT_DIR]` (default `demo-out/`).

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rand_core::{Rng, UnwrapErr};
use split_rsa::pkcs1::LineEnding;
use split_rsa::spki::EncodePublicKey;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, HashAlg, KekId, KeyPurpose, KeySize, LocalKek,
    Outcome, Pin, Scheme, Server, ServerPolicy, ServerTransportKey, SqliteKeyStore, verify,
};

type DemoServer = Server<SqliteKeyStore, LocalKek>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "demo-out".into()));
    std::fs::create_dir_all(&out)?;
    let mut rng = UnwrapErr(getrandom::SysRng);
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();

    // The server's long-term secrets: created once, loaded on every later run.
    let transport = match std::fs::read(out.join("server-transport.key")) {
        Ok(bytes) => ServerTransportKey::from_bytes(&bytes)?,
        Err(_) => {
            let key = ServerTransportKey::generate(&mut rng);
            write_secret(&out.join("server-transport.key"), key.to_bytes().as_slice())?;
            key
        }
    };
    let kek_bytes: [u8; 32] = match std::fs::read(out.join("server-kek.key")) {
        Ok(bytes) => bytes.as_slice().try_into()?,
        Err(_) => {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            write_secret(&out.join("server-kek.key"), &k)?;
            k
        }
    };
    let store = SqliteKeyStore::open(out.join("server.db"))?;
    let server: DemoServer = Server::new(
        transport,
        store,
        LocalKek::new(KekId(1), &kek_bytes),
        ServerPolicy::default(),
        KeySize::BITS_3072,
    );

    let pin1 = Pin::new("3829", KeyPurpose::Authentication)?;
    let pin2 = Pin::new("58213", KeyPurpose::Signing)?;
    let auth_path = out.join("device-authentication.record");
    let sign_path = out.join("device-signing.record");
    if sign_path.exists() && auth_path.exists() {
        println!("loading the keys a previous run registered (server.db, device-*.record)");
    } else {
        for (purpose, pin, path) in [
            (KeyPurpose::Authentication, &pin1, &auth_path),
            (KeyPurpose::Signing, &pin2, &sign_path),
        ] {
            let t = Instant::now();
            let record = register(&server, &mut rng, purpose, pin, now)?;
            write_secret(path, &record.to_bytes())?;
            println!(
                "registered the {purpose:?} key {}: {}-bit composite public key, {:.2?}",
                record.key_id(),
                record.public_key().bits(),
                t.elapsed()
            );
        }
    }
    let mut device = DeviceRecord::from_bytes(&std::fs::read(&sign_path)?)?;
    if device.pending_request().is_some() {
        // A previous run stopped mid-exchange: resolve it first (SPEC §10).
        let done = server.complete(&mut rng, &device.resend()?, now)?;
        match device.accept(&done.response)? {
            Outcome::Completed { signature } => println!(
                "resolved an exchange left pending: completed ({} bytes of signature)",
                signature.len()
            ),
            other => println!("resolved an exchange left pending: {other:?}"),
        }
        write_secret(&sign_path, &device.to_bytes())?;
    }

    // Signing (SPEC §4): the server creates the request for a relying party.
    let message = b"I, the undersigned, agree to the terms of contract no. 2026-12-01/42.\n";
    let scheme = Scheme::Pss(HashAlg::Sha256);
    let digest = HashAlg::Sha256.digest(message);
    let request = server.create_request(
        &mut rng,
        device.key_id(),
        KeyPurpose::Signing,
        scheme,
        &digest,
        now,
    )?;
    println!(
        "verification code shown on the device: {}",
        device.verification_code(&request)
    );

    // A mistyped PIN: the device cannot tell, the server refuses and counts it (SPEC §5, §7).
    let typo = Pin::new("58231", KeyPurpose::Signing)?;
    let attempt = device.sign(&mut rng, &request, &typo)?;
    write_secret(&sign_path, &device.to_bytes())?; // persist before sending (SPEC §10)
    let done = server.complete(&mut rng, &attempt, now)?;
    match device.accept(&done.response)? {
        Outcome::WrongPin { attempts_left, .. } => {
            println!("wrong PIN2 refused by the server; {attempts_left} attempts left")
        }
        other => return Err(format!("a wrong PIN must be refused, got {other:?}").into()),
    }
    write_secret(&sign_path, &device.to_bytes())?;

    // The right PIN; the answer is lost on the way and the phone restarts.
    let t = Instant::now();
    let attempt = device.sign(&mut rng, &request, &pin2)?;
    let device_time = t.elapsed();
    write_secret(&sign_path, &device.to_bytes())?;
    let t = Instant::now();
    let lost = server.complete(&mut rng, &attempt, now)?;
    let server_time = t.elapsed();
    drop((device, lost));
    let mut device = DeviceRecord::from_bytes(&std::fs::read(&sign_path)?)?;
    let done = server.complete(&mut rng, &device.resend()?, now)?;
    println!(
        "answer lost, phone restarted, message resent: answered from storage ({}), nothing charged",
        if done.resent { "resent" } else { "new" }
    );
    let Outcome::Completed { signature } = device.accept(&done.response)? else {
        return Err("the right PIN must complete".into());
    };
    write_secret(&sign_path, &device.to_bytes())?;
    println!(
        "signed: device {device_time:.2?} (Argon2i unseal + 3072-bit exponentiation), server {server_time:.2?}"
    );

    // Anyone holding (n, e) verifies it like any RSA signature.
    verify(device.public_key(), scheme, &digest, &signature)?;
    println!(
        "signature verified in-process ({} bytes, RSASSA-PSS SHA-256)",
        signature.len()
    );
    std::fs::write(
        out.join("public.pem"),
        device.public_key().to_public_key_pem(LineEnding::LF)?,
    )?;
    std::fs::write(out.join("message.txt"), message)?;
    std::fs::write(out.join("signature.bin"), &signature)?;
    let d = out.display();
    println!("wrote {d}/public.pem, {d}/message.txt, {d}/signature.bin; verify with OpenSSL:");
    println!(
        "openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
         -verify {d}/public.pem -signature {d}/signature.bin {d}/message.txt"
    );
    println!("run the demo again: it signs with the keys stored in {d}/server.db");
    Ok(())
}

/// Registration (SPEC §3): challenge, request, sealed answer, PIN seal.
fn register(
    server: &DemoServer,
    rng: &mut UnwrapErr<getrandom::SysRng>,
    purpose: KeyPurpose,
    pin: &Pin,
    now: u64,
) -> Result<DeviceRecord, split_rsa::Error> {
    let challenge = server.issue_challenge(rng, now);
    let (registration, request) = DeviceRegistration::start(
        rng,
        &challenge,
        purpose,
        KeySize::BITS_3072,
        &server.transport_public_key(),
    )?;
    let registered = server.register(rng, &request, now)?;
    let answer = registration.open_response(&registered.response)?;
    registration.finish(rng, answer, pin, Argon2Params::RECOMMENDED)
}

/// Writes a file readable by its owner only (the demo's stand-in for secure storage).
fn write_secret(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

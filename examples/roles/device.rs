//! The device role of the TCP examples: one signing key (PIN2), its [`DeviceRecord`] in a file
//! (the phone's storage), and one signature per run, following the integrator duties of
//! SPEC §10 (README, Usage):
//!
//! 1. No record file yet: register a signing key (SPEC §3) and persist the record.
//! 2. A record with a pending exchange (a previous run stopped between sending and accepting):
//!    resend the stored message byte for byte, accept the answer, persist.
//! 3. Ask for a signing request on the message (in a deployment the relying party asks the
//!    server; here the device asks on its behalf), check that it is for this key and this
//!    message, show the verification code (SPEC §8), sign with the PIN, **persist before
//!    sending**, send, accept, persist again.
//! 4. Verify the signature under the composite key, write it with the public key (PEM) and the
//!    message, and give the `openssl dgst -verify` command.
//!
//! A send that fails on the connection is retried once, on a new connection, with
//! [`DeviceRecord::resend`] (for a registration: the same request bytes): the server answers a
//! byte-identical resend from storage, so an answer lost on the way costs nothing.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use rand_core::UnwrapErr;
use split_rsa::pkcs1::LineEnding;
use split_rsa::spki::EncodePublicKey;
use split_rsa::{
    Argon2Params, DeviceRecord, DeviceRegistration, HashAlg, KeyId, KeyPurpose, KeySize, Outcome,
    Pin, PublicKey, RegistrationChallenge, Scheme, SealedResponse, SigningRequest,
    TransportPublicKey, verify,
};

use crate::framing::{CallError, Client, Kind, write_private_file};

/// The errors of a run, in words.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demonstration PIN2 (a real app asks the user).
pub const DEMO_PIN: &str = "58213";

/// What one run of the device does.
#[derive(Debug)]
pub struct DeviceConfig {
    /// The server (a loopback address).
    pub server: SocketAddr,
    /// The device record (created by the registration).
    pub record: PathBuf,
    /// Where the public key, the message and the signature are written.
    pub out_dir: PathBuf,
    /// PIN2, typed by the user.
    pub pin: String,
    /// The size of the device's half n1 for a new key (the server chooses n2).
    pub key_size: KeySize,
    /// The PIN seal's Argon2i cost for a new key.
    pub argon2: Argon2Params,
    /// The server's transport public key as shipped with the app (pinned). `None`: take the
    /// one the server sends at registration (trust on first use); the record keeps it.
    pub server_key: Option<TransportPublicKey>,
    /// Demonstration: the first answer to the signing message is thrown away as if the
    /// connection had broken before it arrived; the retry must get the same answer.
    pub lose_first_answer: bool,
    /// Demonstration: stop (as a crash would) after persisting the signing message, before
    /// sending it; the next run resolves the pending exchange first.
    pub stop_before_send: bool,
}

impl DeviceConfig {
    /// The defaults of the `device` example: 3072-bit n1, the recommended Argon2i cost, the
    /// demonstration PIN, record and outputs in `dir`.
    pub fn new(server: SocketAddr, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        Self {
            server,
            record: dir.join("device-signing.record"),
            out_dir: dir,
            pin: DEMO_PIN.into(),
            key_size: KeySize::BITS_3072,
            argon2: Argon2Params::RECOMMENDED,
            server_key: None,
            lose_first_answer: false,
            stop_before_send: false,
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// The signing key.
    pub key_id: KeyId,
    /// Whether this run registered the key.
    pub registered: bool,
    /// The server's answer to an exchange a previous run left pending, if there was one.
    pub resolved: Option<Outcome>,
    /// The verification code shown for this run's request.
    pub verification_code: String,
    /// Whether the signing message was sent a second time after a broken connection.
    pub retried: bool,
    /// With [`DeviceConfig::lose_first_answer`]: whether the answer to the resend was the
    /// lost answer, byte for byte (the server answered from storage).
    pub resend_answer_identical: Option<bool>,
    /// How the signing ended.
    pub result: Signing,
}

/// How a run's signing ended.
#[derive(Debug)]
pub enum Signing {
    /// The signature is complete and verified.
    Signed(Signed),
    /// The server refused (e.g. a wrong PIN, a locked key): its answer.
    Refused(Outcome),
    /// [`DeviceConfig::stop_before_send`]: the message is persisted and was not sent.
    StoppedBeforeSend,
}

/// A completed, verified signature and the files written for OpenSSL.
#[derive(Debug)]
pub struct Signed {
    /// The scheme (RSASSA-PSS with SHA-256 from the example server).
    pub scheme: Scheme,
    /// The signature, k bytes.
    pub signature: Vec<u8>,
    /// The composite public key.
    pub public_key: PublicKey,
    /// The arguments of `openssl` that verify the written files.
    pub openssl_args: Vec<String>,
}

/// One run of the device: register if needed, resolve a pending exchange, sign `message`.
///
/// # Errors
/// Connection errors (after the one retry), the server's refusals of malformed requests,
/// split-rsa errors, file errors. The record on disk is always one the device may restart
/// from: an error after the message was persisted leaves the exchange pending for the next
/// run.
pub fn run(config: &DeviceConfig, message: &[u8]) -> Result<Report, BoxError> {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let mut client = Client::new(config.server)?;
    let pin = Pin::new(&config.pin, KeyPurpose::Signing)?;
    std::fs::create_dir_all(&config.out_dir)?;

    let registered = match std::fs::read(&config.record) {
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            register(config, &mut client, &mut rng, &pin)?;
            true
        }
        Err(e) => return Err(e.into()),
    };
    let mut device = DeviceRecord::from_bytes(&std::fs::read(&config.record)?)?;
    if device.is_dead() {
        return Err(format!(
            "the key {} is dead (the server destroyed it or saw a clone); remove {} to register a new one",
            device.key_id(),
            config.record.display()
        )
        .into());
    }
    let key_id = *device.key_id();
    if !registered {
        println!(
            "device: key {key_id} loaded from {} ({}-bit composite public key)",
            config.record.display(),
            device.public_key().bits()
        );
    }

    // SPEC §10: a restarted device resolves a pending exchange before anything else.
    let mut resolved = None;
    if device.pending_request().is_some() {
        println!("device: a previous run left an exchange pending: resending it");
        let first = device.resend()?.to_bytes();
        let (answer, _) = send_once_more_on_failure(
            &mut client,
            Kind::Complete,
            &first,
            || Ok(device.resend()?.to_bytes()),
            false,
        )?;
        let outcome = device.accept(&SealedResponse::from_bytes(&answer)?)?;
        write_private_file(&config.record, &device.to_bytes())?;
        println!("device: the pending exchange ended: {}", describe(&outcome));
        resolved = Some(outcome);
        if device.is_dead() {
            return Err("the server answered that the key is dead".into());
        }
    }

    // SPEC §4 step 1, asked on the relying party's behalf.
    let mut body = key_id.as_bytes().to_vec();
    body.extend_from_slice(message);
    let request = SigningRequest::from_bytes(&client.call(Kind::SigningRequest, &body)?)?;
    if request.key_id() != &key_id || request.digest() != request.scheme().hash().digest(message) {
        return Err("the signing request is not for this key and this message".into());
    }
    let code = device.verification_code(&request);
    println!(
        "device: verification code {code}: the user compares it with the relying party's, then types PIN2"
    );

    // SPEC §4 steps 2-4; persist before sending (SPEC §10).
    let started = Instant::now();
    let partial = device.sign(&mut rng, &request, &pin)?;
    write_private_file(&config.record, &device.to_bytes())?;
    println!(
        "device: partial signature computed and persisted ({:.2?})",
        started.elapsed()
    );
    if config.stop_before_send {
        println!("device: stopping before sending (a simulated crash); the next run resends");
        return Ok(Report {
            key_id,
            registered,
            resolved,
            verification_code: code.to_string(),
            retried: false,
            resend_answer_identical: None,
            result: Signing::StoppedBeforeSend,
        });
    }
    let first = partial.to_bytes();
    let (answer, attempt) = send_once_more_on_failure(
        &mut client,
        Kind::Complete,
        &first,
        || Ok(device.resend()?.to_bytes()),
        config.lose_first_answer,
    )?;
    // SPEC §4 step 6; persist again (the one-time password rotated).
    let outcome = device.accept(&SealedResponse::from_bytes(&answer)?)?;
    write_private_file(&config.record, &device.to_bytes())?;
    let report = |result| Report {
        key_id,
        registered,
        resolved,
        verification_code: code.to_string(),
        retried: attempt.retried,
        resend_answer_identical: attempt.lost.as_ref().map(|lost| *lost == answer),
        result,
    };
    let Outcome::Completed { signature } = outcome else {
        println!("device: the server refused: {}", describe(&outcome));
        return Ok(report(Signing::Refused(outcome)));
    };

    // An ordinary RSA signature under the composite key.
    let scheme = request.scheme();
    verify(device.public_key(), scheme, request.digest(), &signature)?;
    let dir = &config.out_dir;
    std::fs::write(
        dir.join("public.pem"),
        device.public_key().to_public_key_pem(LineEnding::LF)?,
    )?;
    std::fs::write(dir.join("message.txt"), message)?;
    std::fs::write(dir.join("signature.bin"), &signature)?;
    let openssl_args = openssl_args(scheme, dir);
    println!(
        "device: signature verified ({} bytes, {scheme:?}); wrote public.pem, message.txt, signature.bin in {}",
        signature.len(),
        dir.display()
    );
    Ok(report(Signing::Signed(Signed {
        scheme,
        signature,
        public_key: device.public_key().clone(),
        openssl_args,
    })))
}

/// SPEC §3: challenge, request, sealed answer, PIN seal; persists the record.
fn register(
    config: &DeviceConfig,
    client: &mut Client,
    rng: &mut UnwrapErr<getrandom::SysRng>,
    pin: &Pin,
) -> Result<(), BoxError> {
    let sent = TransportPublicKey::from_bytes(&client.call(Kind::TransportKey, &[])?)?;
    let server_key = match &config.server_key {
        Some(pinned) if pinned.to_bytes() != sent.to_bytes() => {
            return Err("the server's transport key is not the pinned one".into());
        }
        Some(pinned) => *pinned,
        None => {
            println!(
                "device: no pinned transport key: trusting the one the server sent (first use)"
            );
            sent
        }
    };
    let challenge = RegistrationChallenge::from_bytes(&client.call(Kind::Challenge, &[])?)?;
    let started = Instant::now();
    let (registration, request) = DeviceRegistration::start(
        rng,
        &challenge,
        KeyPurpose::Signing,
        config.key_size,
        &server_key,
    )?;
    let (answer, _) = send_once_more_on_failure(
        client,
        Kind::Register,
        &request.to_bytes(),
        || Ok(registration.request().to_bytes()),
        false,
    )?;
    let answer = registration.open_response(&SealedResponse::from_bytes(&answer)?)?;
    let record = registration.finish(rng, answer, pin, config.argon2)?;
    write_private_file(&config.record, &record.to_bytes())?;
    println!(
        "device: registered the signing key {} ({}-bit composite public key, {:.2?}); record in {}",
        record.key_id(),
        record.public_key().bits(),
        started.elapsed(),
        config.record.display()
    );
    Ok(())
}

/// What happened to a send.
struct Attempt {
    retried: bool,
    /// The answer that was read and then thrown away (`lose_answer`).
    lost: Option<Vec<u8>>,
}

/// Sends `first`; on a broken connection (or, with `lose_answer`, after throwing the answer
/// away) sends `resend()` once on a new connection. A refusal is not retried.
fn send_once_more_on_failure(
    client: &mut Client,
    kind: Kind,
    first: &[u8],
    resend: impl FnOnce() -> Result<Vec<u8>, BoxError>,
    lose_answer: bool,
) -> Result<(Vec<u8>, Attempt), BoxError> {
    let mut lost = None;
    let result = match client.call(kind, first) {
        Ok(answer) if lose_answer => {
            println!(
                "device: (simulated) the connection breaks: the {}-byte answer is lost",
                answer.len()
            );
            lost = Some(answer);
            client.disconnect();
            Err(CallError::Io(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "simulated loss of the answer",
            )))
        }
        other => other,
    };
    match result {
        Ok(answer) => Ok((
            answer,
            Attempt {
                retried: false,
                lost,
            },
        )),
        Err(CallError::Io(e)) => {
            println!("device: {e}; sending the same bytes again on a new connection");
            let answer = client.call(kind, &resend()?)?;
            Ok((
                answer,
                Attempt {
                    retried: true,
                    lost,
                },
            ))
        }
        Err(refused) => Err(refused.into()),
    }
}

/// The `openssl` arguments that verify `signature.bin` on `message.txt` under `public.pem` in
/// `dir` (PSS: salt as long as the digest, MGF1 with the same hash, SPEC §4.1).
pub fn openssl_args(scheme: Scheme, dir: &std::path::Path) -> Vec<String> {
    let hash = match scheme.hash() {
        HashAlg::Sha256 => "-sha256",
        HashAlg::Sha384 => "-sha384",
        HashAlg::Sha512 => "-sha512",
    };
    let file = |name: &str| dir.join(name).display().to_string();
    let mut args = vec!["dgst".to_owned(), hash.to_owned()];
    if let Scheme::Pss(_) = scheme {
        for opt in ["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"] {
            args.extend(["-sigopt".to_owned(), opt.to_owned()]);
        }
    }
    args.extend([
        "-verify".to_owned(),
        file("public.pem"),
        "-signature".to_owned(),
        file("signature.bin"),
        file("message.txt"),
    ]);
    args
}

/// An outcome in words (a completed signature without its bytes).
fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Completed { signature } => format!("completed ({} bytes)", signature.len()),
        Outcome::WrongPin {
            attempts_left,
            locked_until,
        } => format!(
            "wrong PIN, {attempts_left} attempts left{}",
            if locked_until.is_some() {
                ", the key is locked"
            } else {
                ""
            }
        ),
        other => format!("{other:?}"),
    }
}

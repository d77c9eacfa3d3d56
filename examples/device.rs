//! A device (the phone's side of split-rsa) as its own process, talking to
//! `examples/server.rs` over a local TCP connection (loopback only).
//!
//! Each run signs one message with the device's signing key: it registers the key first if
//! its record file does not exist yet, resolves an exchange a previous run left pending,
//! shows the verification code, signs with PIN2, persists its record before sending and after
//! the answer, retries a broken send once with the same bytes, verifies the signature and
//! writes it with the public key for `openssl dgst -verify` (see `examples/roles/device.rs`).
//!
//! Run (with the server running):
//! `cargo run --release --example device -- [--port 7878] [--dir tcp-device] [--pin 58213]
//! [--server-key tcp-server/transport-public.key] [--n1-bits 3072] [--lose-answer]
//! [--stop-before-send] "message to sign"`;
//! `cargo run --release --example device -- --shutdown` stops the server.

#[path = "roles/device.rs"]
mod device_role;
#[path = "roles/framing.rs"]
#[allow(dead_code)] // shared with the server and the test, which use the serving side
mod framing;

use std::net::{Ipv4Addr, SocketAddr};

use split_rsa::{KeySize, TransportPublicKey};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut port: u16 = 7878;
    let mut dir = String::from("tcp-device");
    let mut pin = None;
    let mut server_key = None;
    let mut n1_bits = 3072;
    let mut shutdown = false;
    let mut lose_answer = false;
    let mut stop_before_send = false;
    let mut message = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--port" => port = value()?.parse()?,
            "--dir" => dir = value()?,
            "--pin" => pin = Some(value()?),
            "--server-key" => server_key = Some(value()?),
            "--n1-bits" => n1_bits = value()?.parse()?,
            "--shutdown" => shutdown = true,
            "--lose-answer" => lose_answer = true,
            "--stop-before-send" => stop_before_send = true,
            _ if !arg.starts_with("--") && message.is_none() => message = Some(arg),
            _ => {
                return Err(format!(
                    "unexpected argument {arg}; usage: device [--port P] [--dir DIR] [--pin PIN] \
                     [--server-key FILE] [--n1-bits 2048|3072|4096] [--lose-answer] \
                     [--stop-before-send] MESSAGE | device --shutdown"
                )
                .into());
            }
        }
    }
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if shutdown {
        framing::Client::new(addr)?.call(framing::Kind::Shutdown, &[])?;
        println!("device: the server at {addr} is stopping");
        return Ok(());
    }
    let message = message.ok_or("give the message to sign as an argument")?;
    let mut config = device_role::DeviceConfig::new(addr, dir);
    if let Some(pin) = pin {
        config.pin = pin;
    }
    if let Some(path) = server_key {
        config.server_key = Some(TransportPublicKey::from_bytes(&std::fs::read(path)?)?);
    }
    config.key_size = KeySize::from_bits(n1_bits).ok_or("--n1-bits: 2048, 3072 or 4096")?;
    config.lose_first_answer = lose_answer;
    config.stop_before_send = stop_before_send;
    let report = device_role::run(&config, message.as_bytes())?;
    println!(
        "device: key {}{}{}; verification code {}{}",
        report.key_id,
        if report.registered {
            ", registered in this run"
        } else {
            ""
        },
        match &report.resolved {
            Some(split_rsa::Outcome::Completed { .. }) => ", a pending exchange completed first",
            Some(_) => ", a pending exchange was refused first",
            None => "",
        },
        report.verification_code,
        match (report.retried, report.resend_answer_identical) {
            (true, Some(true)) => "; sent twice, the same answer both times",
            (true, _) => "; sent twice",
            (false, _) => "",
        }
    );
    match report.result {
        device_role::Signing::Signed(signed) => {
            println!(
                "device: {}-byte {:?} signature under the {}-bit key; verify it with OpenSSL:\n  openssl {}",
                signed.signature.len(),
                signed.scheme,
                signed.public_key.bits(),
                signed.openssl_args.join(" ")
            );
            Ok(())
        }
        device_role::Signing::StoppedBeforeSend => Ok(()),
        device_role::Signing::Refused(outcome) => {
            Err(format!("no signature: the server answered {outcome:?}").into())
        }
    }
}

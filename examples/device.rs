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
//! [--server-key tcp-server/transport-public.key] [--n1-bits 3072] "message to sign"`;
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
            _ if !arg.starts_with("--") && message.is_none() => message = Some(arg),
            _ => {
                return Err(format!(
                    "unexpected argument {arg}; usage: device [--port P] [--dir DIR] [--pin PIN] \
                     [--server-key FILE] [--n1-bits 2048|3072|4096] MESSAGE | device --shutdown"
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
    let report = device_role::run(&config, message.as_bytes())?;
    match report.result {
        device_role::Signing::Signed(_) => Ok(()),
        device_role::Signing::StoppedBeforeSend => Ok(()),
        device_role::Signing::Refused(outcome) => {
            Err(format!("no signature: the server answered {outcome:?}").into())
        }
    }
}

//! The server of split-rsa as its own process, serving devices over a local TCP connection
//! (loopback only; a deployment uses TLS). Companion of `examples/device.rs`.
//!
//! It keeps its keys in a SQLite key store in the data directory, with its transport key and
//! key-encryption key in files beside it (created on the first run), and serves the framing
//! of `examples/roles/framing.rs` (`kind ‖ u32 length ‖ bytes`): the transport public key,
//! registration challenges and registrations, signing requests on a relying party's behalf,
//! and sealed partial signatures. One thread per connection, one log line per request.
//!
//! Run: `cargo run --release --example server -- [--port 7878] [--data tcp-server]
//! [--max-requests N] [--n2-bits 3072]`; it stops after N requests, or when a device sends
//! the shutdown request (`cargo run --release --example device -- --shutdown`).

#[path = "roles/framing.rs"]
#[allow(dead_code)] // shared with the device and the test, which use the client side
mod framing;
#[path = "roles/server.rs"]
mod server_role;

use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;

use split_rsa::KeySize;

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut port: u16 = 7878;
    let mut data = PathBuf::from("tcp-server");
    let mut max_requests = None;
    let mut n2_bits = 3072;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => port = value()?.parse()?,
            "--data" => data = value()?.into(),
            "--max-requests" => max_requests = Some(value()?.parse()?),
            "--n2-bits" => n2_bits = value()?.parse()?,
            _ => {
                return Err(format!(
                    "unknown argument {flag}; usage: server [--port P] [--data DIR] \
                     [--max-requests N] [--n2-bits 2048|3072|4096]"
                )
                .into());
            }
        }
    }
    let n2_size = KeySize::from_bits(n2_bits).ok_or("--n2-bits: 2048, 3072 or 4096")?;
    let server = server_role::open(&data, n2_size)?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    println!(
        "server: listening on {} (data in {}, transport public key in {}/{}){}",
        listener.local_addr()?,
        data.display(),
        data.display(),
        server_role::TRANSPORT_PUBLIC_FILE,
        match max_requests {
            Some(n) => format!(", stops after {n} requests"),
            None => String::new(),
        }
    );
    let served = server_role::serve(listener, &server, max_requests, &|line| println!("{line}"))?;
    println!("server: stopped after {served} requests");
    Ok(())
}
